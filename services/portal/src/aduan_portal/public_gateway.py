"""The public side's two calls to the privacy gateway's HTTP API (no login):
"track my report" (`GET /v1/public/track/{receipt_code}`), and the category and agency
names (`GET /v1/categories`, `GET /v1/public/agencies`) for the filters, list, report page
and statistics, which otherwise show codes. Server-side, with a short timeout: a slow or
absent gateway turns into a clear page, never a stack trace or a hanging request.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from aduan_kit.logging import get_logger

__all__ = [
    "RECEIPT_CODE",
    "AgencyName",
    "CategoryName",
    "PublicGateway",
    "PublicQuestion",
    "QuestionOutcome",
    "TrackOutcome",
    "TrackedReport",
    "TrackedStep",
]

log = get_logger(__name__)
# httpx logs every request URL at INFO; a track URL holds the reporter's receipt code,
# which must not end up in the logs.
logging.getLogger("httpx").setLevel(logging.WARNING)

# Receipt codes look like ADU-7K3M-9Q2P; anything outside this shape is refused before a
# request is made (it cannot be a code, and it keeps arbitrary input out of the URL path).
# The gateway accepts at most 32 characters.
RECEIPT_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{2,31}$")
_CATEGORY_TTL_S = 300.0


class _In(BaseModel):
    # Additive gateway fields are ignored rather than breaking the page.
    model_config = ConfigDict(extra="ignore", frozen=True)


class TrackedStep(_In):
    status: str
    label: str
    month: str


class TrackedReport(_In):
    """What the gateway says about a receipt code: status and months, nothing personal."""

    receipt_code: str
    status: str
    status_label: str
    status_label_en: str
    month: str
    public_id: str | None = None
    timeline: tuple[TrackedStep, ...] = ()
    open_questions: int = 0


class PublicQuestion(_In):
    """An officer's question as its reporter sees it (never who asked)."""

    question_id: str
    receipt_code: str
    text: str
    asked_on: str
    answered: bool
    can_answer: bool


class CategoryName(_In):
    code: str
    name_id: str
    name_en: str


class AgencyName(_In):
    agency_id: str
    name: str


_CATEGORIES = TypeAdapter(list[CategoryName])
_AGENCIES = TypeAdapter(list[AgencyName])


@dataclass(frozen=True)
class TrackOutcome:
    kind: Literal["found", "unknown", "limited", "unavailable"]
    report: TrackedReport | None = None


@dataclass(frozen=True)
class QuestionOutcome:
    kind: Literal["found", "unknown", "limited", "unavailable"]
    question: PublicQuestion | None = None


class PublicGateway:
    def __init__(
        self,
        base_url: str,
        timeout_s: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._timeout = timeout_s
        self._transport = transport  # tests put an in-process gateway here
        self._categories: tuple[float, dict[str, CategoryName]] | None = None
        self._agencies: tuple[float, dict[str, str]] | None = None

    async def _get(
        self, path: str, timeout_s: float | None = None, forwarded_for: str | None = None
    ) -> httpx.Response:
        timeout = timeout_s or self._timeout
        headers = {"Accept": "application/json"}
        if forwarded_for:
            headers["X-Forwarded-For"] = forwarded_for
        async with httpx.AsyncClient(
            base_url=self._base, timeout=timeout, transport=self._transport
        ) as client:
            return await client.get(path, headers=headers)

    async def track(self, receipt_code: str, forwarded_for: str | None = None) -> TrackOutcome:
        """`forwarded_for` is the citizen's X-Forwarded-For chain plus the address the
        portal saw: the gateway rate-limits per citizen (it trusts the portal as a proxy
        when configured to), not all citizens together as "the portal"."""
        try:
            response = await self._get(
                f"/v1/public/track/{quote(receipt_code, safe='')}", forwarded_for=forwarded_for
            )
        except httpx.HTTPError as exc:
            # The code is not logged: it is the reporter's key to their report's status.
            log.warning("gateway unreachable for track", error=type(exc).__name__)
            return TrackOutcome("unavailable")
        if response.status_code in (404, 422):  # 422: not a receipt code the gateway knows
            return TrackOutcome("unknown")
        if response.status_code == 429:
            return TrackOutcome("limited")
        if response.status_code != 200:
            log.warning("gateway refused track", status_code=response.status_code)
            return TrackOutcome("unavailable")
        try:
            return TrackOutcome("found", TrackedReport.model_validate_json(response.content))
        except ValidationError:
            log.warning("gateway track answer did not parse")
            return TrackOutcome("unavailable")

    async def question(self, question_id: str, forwarded_for: str | None = None) -> QuestionOutcome:
        """A question by the id in the link the reporter was sent (throttled per citizen
        by the gateway, like tracking)."""
        try:
            response = await self._get(
                f"/v1/public/questions/{quote(question_id, safe='')}", forwarded_for=forwarded_for
            )
        except httpx.HTTPError as exc:
            log.warning("gateway unreachable for a question", error=type(exc).__name__)
            return QuestionOutcome("unavailable")
        if response.status_code in (404, 422):
            return QuestionOutcome("unknown")
        if response.status_code == 429:
            return QuestionOutcome("limited")
        if response.status_code != 200:
            log.warning("gateway refused a question", status_code=response.status_code)
            return QuestionOutcome("unavailable")
        try:
            return QuestionOutcome("found", PublicQuestion.model_validate_json(response.content))
        except ValidationError:
            log.warning("gateway question answer did not parse")
            return QuestionOutcome("unavailable")

    async def category_names(self) -> dict[str, CategoryName]:
        """Names by code, cached for a few minutes; empty when the gateway cannot be asked
        (the filter form then shows the codes)."""
        now = time.monotonic()
        if self._categories and now - self._categories[0] < _CATEGORY_TTL_S:
            return self._categories[1]
        names: dict[str, CategoryName] = {}
        try:
            # Short: names are a nicety, the list must not wait for them.
            response = await self._get("/v1/categories", timeout_s=min(self._timeout, 1.5))
            if response.status_code == 200:
                names = {c.code: c for c in _CATEGORIES.validate_json(response.content)}
        except (httpx.HTTPError, ValidationError) as exc:
            log.info("category names unavailable", error=type(exc).__name__)
        # A failure is cached too (briefly) so a down gateway does not slow every page.
        self._categories = (now if names else now - _CATEGORY_TTL_S + 30, names)
        return names

    async def agency_names(self) -> dict[str, str]:
        """Agency names by code, cached like the category names; empty when the gateway
        cannot be asked (the pages then show the codes)."""
        now = time.monotonic()
        if self._agencies and now - self._agencies[0] < _CATEGORY_TTL_S:
            return self._agencies[1]
        names: dict[str, str] = {}
        try:
            response = await self._get("/v1/public/agencies", timeout_s=min(self._timeout, 1.5))
            if response.status_code == 200:
                names = {a.agency_id: a.name for a in _AGENCIES.validate_json(response.content)}
        except (httpx.HTTPError, ValidationError) as exc:
            log.info("agency names unavailable", error=type(exc).__name__)
        self._agencies = (now if names else now - _CATEGORY_TTL_S + 30, names)
        return names
