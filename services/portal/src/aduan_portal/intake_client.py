"""What a citizen writes on the portal enters through intake, like every channel: the portal
posts it to intake's web channel as any browser could (docs/decisions.md, "Citizens' writes
through intake"). Today that is the answer to an officer's question."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

import httpx

from aduan_kit.logging import get_logger

__all__ = ["AnswerOutcome", "IntakeClient"]

log = get_logger(__name__)

AnswerOutcome = Literal["sent", "duplicate", "unknown", "conflict", "limited", "unavailable"]


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
