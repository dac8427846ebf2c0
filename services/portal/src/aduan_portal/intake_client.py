"""What a citizen writes on the portal enters through intake, like every channel: the portal
posts it to intake's web channel as any browser could (docs/decisions.md, "Citizens' writes
through intake"). Today that is the answer to an officer's question."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from uuid import UUID

import httpx

from aduan_kit.logging import get_logger

__all__ = ["AnswerOutcome", "FileOutcome", "IntakeClient", "Photo"]

log = get_logger(__name__)

AnswerOutcome = Literal["sent", "duplicate", "unknown", "conflict", "limited", "unavailable"]


@dataclass(frozen=True)
class Photo:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class FileOutcome:
    """What intake said about a complaint posted from the portal's form. `field` and
    `reason` name what intake refused (its words, for the portal to put in the reporter's
    language); `status` is intake's HTTP status."""

    kind: Literal["filed", "duplicate", "invalid", "conflict", "limited", "unavailable"]
    status: int = 0
    receipt_code: str | None = None
    field: str | None = None
    error: str | None = None
    reason: str | None = None


class IntakeClient:
    def __init__(
        self, base_url: str, timeout_s: float, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._base = base_url.rstrip("/")
        self._timeout = timeout_s
        self._transport = transport  # tests put an in-process intake here

    async def answer(
        self,
        receipt_code: str,
        question_id: UUID,
        submission_id: UUID,
        text: str,
        forwarded_for: str | None = None,
    ) -> AnswerOutcome:
        """Post the answer; `submission_id` (one per form) makes a resend file once."""
        headers = {"Accept": "application/json"}
        if forwarded_for:
            headers["X-Forwarded-For"] = forwarded_for
        try:
            async with httpx.AsyncClient(
                base_url=self._base, timeout=self._timeout, transport=self._transport
            ) as client:
                response = await client.post(
                    "/v1/channels/web/answers",
                    json={
                        "receipt_code": receipt_code,
                        "question_id": str(question_id),
                        "submission_id": str(submission_id),
                        "text": text,
                    },
                    headers=headers,
                )
        except httpx.HTTPError as exc:
            log.warning("intake unreachable for an answer", error=type(exc).__name__)
            return "unavailable"
        outcome: dict[int, AnswerOutcome] = {
            201: "sent",
            200: "duplicate",
            404: "unknown",
            409: "conflict",
            429: "limited",
        }
        found = outcome.get(response.status_code)
        if found is None:
            # The body may quote the answer: only the status is logged.
            log.warning("intake refused an answer", status_code=response.status_code)
            return "unavailable"
        return found

    async def file(
        self, fields: dict[str, str], photos: list[Photo], forwarded_for: str | None = None
    ) -> FileOutcome:
        """Post a complaint to intake's web channel as the citizen's browser would
        (multipart, with the form's `submission_id`: a resend files once)."""
        headers = {"Accept": "application/json"}
        if forwarded_for:
            headers["X-Forwarded-For"] = forwarded_for
        files = [("photos", (p.filename, p.data, p.content_type)) for p in photos]
        try:
            async with httpx.AsyncClient(
                base_url=self._base, timeout=self._timeout * 4, transport=self._transport
            ) as client:
                response = await client.post(
                    "/v1/channels/web",
                    data=fields,
                    # Always multipart, as the browser's form: intake takes both.
                    files=files or [("photos", ("", b"", "application/octet-stream"))],
                    headers=headers,
                )
        except httpx.HTTPError as exc:
            log.warning("intake unreachable for a complaint", error=type(exc).__name__)
            return FileOutcome("unavailable")
        status = response.status_code
        try:
            body = response.json()
        except ValueError:
            body = {}
        if not isinstance(body, dict):
            body = {}
        if status in (200, 201):
            kind: Literal["filed", "duplicate"] = "duplicate" if status == 200 else "filed"
            return FileOutcome(kind, status, receipt_code=str(body.get("receipt_code")))
        if status == 422 and "field" in body:
            return FileOutcome(
                "invalid", status, field=str(body["field"]), reason=str(body.get("reason"))
            )
        if status == 409:
            return FileOutcome("conflict", status)
        if status == 429:
            return FileOutcome("limited", status)
        if status in (400, 413, 415, 422):
            return FileOutcome(
                "invalid",
                status,
                field="photos"
                if body.get("error") in ("invalid_photo", "invalid_form") or status in (413, 415)
                else None,
                error=str(body.get("error")),
                reason=str(body.get("reason")),
            )
        log.warning("intake refused a complaint", status_code=status)
        return FileOutcome("unavailable", status)
