"""The console's client for the privacy gateway's HTTP API (httpx, server-side).

The console never reads a database or a topic for officers: every page is what the gateway
answers for the signed-in officer's token. Responses are parsed with the gateway's own
response models (aduan_contracts.http_gateway, tolerant of fields the gateway adds later;
the console's names for them below), and the report views with the portal's models here
(not shared yet); refusals become `GatewayError` with
the gateway's reason kept verbatim so the console can show it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

import httpx
from pydantic import AliasChoices, BaseModel, ConfigDict, Field, TypeAdapter

from aduan_contracts.http_gateway import (
    AccessLogEntry,
    AccountView,
    ActionResult,
    AgencyView,
    AreaRouteView,
    AssignmentView,
    CategoryView,
    ConversationView,
    DuplicateView,
    GrantView,
    NoteView,
    OfficerView,
    TokenPair,
    UnitView,
)

__all__ = [
    "AccessLogEntry",
    "ActionResult",
    "AdminUser",
    "Agency",
    "Category",
    "Duplicate",
    "EvidenceCheck",
    "FollowUp",
    "GatewayClient",
    "GatewayError",
    "GatewayFailure",
    "GatewayUnauthorized",
    "GatewayUnavailable",
    "Grant",
    "Officer",
    "OfficerReport",
    "Photo",
    "ReportPage",
    "TimelineEntry",
    "TokenPair",
]

M = TypeVar("M", bound=BaseModel)

# The console's names for the shared response models (one definition: the contract's).
AdminUser = AccountView
Agency = AgencyView
AreaRoute = AreaRouteView
Assignment = AssignmentView
Category = CategoryView
Conversation = ConversationView
Duplicate = DuplicateView
Grant = GrantView
Note = NoteView
Officer = OfficerView
Unit = UnitView


class _In(BaseModel):
    """What the gateway sends; unknown fields are ignored so an additive gateway change
    does not break the console."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class Point(_In):
    lat: float
    lon: float


class Photo(_In):
    sha256: str
    content_type: str
    size_bytes: int
    taken_at: datetime | None = None
    point: Point | None = None


class EvidenceCheck(_In):
    photos_checked: int
    newer_than_report: bool | None = None
    within_distance: bool | None = None
    max_distance_m: float | None = None
    nearest_distance_m: float | None = None
    summary: str


class FollowUp(_In):
    follow_up_id: UUID
    confidentiality_label: str
    note: str
    officer_name: str | None = None
    officer_agency: str | None = None
    photos: tuple[Photo, ...] = ()
    photos_locked: bool = False
    evidence: EvidenceCheck | None = None


class Escalation(_In):
    """A report overdue at one unit, flagged up the line (issue 19): to the parent unit
    (`to_unit`; none = the validator bureau only) and the validator bureau, a reminder
    first, then a breach."""

    kind: str  # "reminder" | "breach"
    stage: str | None = None
    from_unit: str | None = None  # where it is overdue
    to_unit: str | None = None  # the parent unit it is flagged to
    month: str | None = None
    at: datetime | None = None  # full-access roles only


class TimelineEntry(_In):
    version: int
    status: str
    label: str
    month: str
    actor_role: str
    actor_agency: str | None = None
    actor_display_name: str | None = None
    reason: str | None = None
    follow_up: FollowUp | None = None
    due_at: datetime | None = None
    sla_stage: str | None = None
    # Full-access roles only:
    occurred_at: datetime | None = None
    field_result: str | None = None
    # Routing by place (issue 19): an escalation up the line when this entry is one (its
    # `reason` is the gateway's English; the console says it from `escalation`), and the
    # structured routing reason of a workflow's automatic dispatch (the gateway's `route`:
    # rule, category, area_code, agency_id), said in the console's language instead of
    # parsing workflow's English note back.
    escalation: Escalation | None = None
    routing_reason: dict[str, Any] | None = Field(
        default=None, validation_alias=AliasChoices("route", "routing_reason")
    )


class Location(_In):
    area: str | None = None
    address: str | None = None
    point: Point | None = None


class OfficerReport(_In):
    """An officer's view of a report: `access` is "full" (validator, ticket-admin,
    administrator) or "agency" (the assigned agency's officer: month, area, scrubbed text).
    Fields only one of the two carries default to None."""

    access: str
    report_id: UUID
    channel: str
    privacy: str
    confidentiality_label: str
    title: str | None = None
    text: str
    category: str | None = None
    agency_id: str | None = None
    status: str
    status_label: str
    status_version: int
    month: str
    reporter: str | None = None
    photos: tuple[Photo, ...] = ()
    photos_locked: bool = False
    timeline: tuple[TimelineEntry, ...] = ()
    area: str | None = None
    receipt_code: str | None = None
    received_at: datetime | None = None
    location: Location | None = None
    sla_stage: str | None = None
    due_at: datetime | None = None
    sla_badge: str | None = None
    # Routing by place (issue 19): the unit holding the report, and where it was flagged
    # overdue up the line (escalations to the parent unit and the validator bureau).
    unit_id: str | None = None
    escalations: tuple[Escalation, ...] = ()
    escalated_to_me: bool = False

    @property
    def latest_escalation(self) -> Escalation | None:
        """The escalation to show on a queue row: a breach over a reminder, the latest."""
        if not self.escalations:
            return None
        breaches = [e for e in self.escalations if e.kind == "breach"]
        return (breaches or list(self.escalations))[-1]

    @property
    def shown_area(self) -> str | None:
        return self.area or (self.location.area if self.location else None)

    @property
    def follow_ups(self) -> list[FollowUp]:
        return [t.follow_up for t in self.timeline if t.follow_up is not None]

    @property
    def latest_follow_up(self) -> FollowUp | None:
        follow_ups = self.follow_ups
        return follow_ups[-1] if follow_ups else None


class ReportPage(_In):
    items: tuple[OfficerReport, ...]
    limit: int
    offset: int


class GatewayFailure(Exception):
    """Any answer other than success; `detail` is the gateway's reason, verbatim."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(f"gateway answered {status}")
        self.status = status
        self.detail = detail


class GatewayError(GatewayFailure):
    """The gateway refused (4xx) or failed (5xx): shown to the officer as a message."""


class GatewayUnauthorized(GatewayFailure):
    """401: the access token is missing, expired or revoked. Not a `GatewayError`, so that
    the pages' `except GatewayError` (show the reason) lets it through to the token refresh
    and the app's handler (sign in again) without re-raising it at every call."""


class GatewayUnavailable(GatewayError):
    """The gateway could not be reached or did not answer in time."""


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase or f"HTTP {response.status_code}"
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):
        # FastAPI's validation errors: "field: message" for each.
        parts = []
        for err in detail:
            if isinstance(err, dict):
                loc = [str(x) for x in err.get("loc", ()) if x not in ("body", "query", "path")]
                msg = str(err.get("msg", "invalid"))
                parts.append(f"{'.'.join(loc)}: {msg}" if loc else msg)
        if parts:
            return "; ".join(parts)
    return response.reason_phrase or f"HTTP {response.status_code}"


_LIST_CACHE: dict[type[Any], TypeAdapter[Any]] = {}


def _list_of(model: type[M], data: Any) -> list[M]:
    adapter = _LIST_CACHE.get(model)
    if adapter is None:
        adapter = _LIST_CACHE[model] = TypeAdapter(list[model])  # type: ignore[valid-type]
    result: list[M] = adapter.validate_python(data)
    return result


class GatewayClient:
    """One httpx client for the whole process (connection pooling); the token is passed per
    call, never stored here."""

    def __init__(
        self,
        base_url: str,
        timeout_s: float,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._timeout_s = timeout_s
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    def start(self) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self._base_url,
                timeout=self._timeout_s,
                transport=self._transport,
                follow_redirects=False,
            )

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    @property
    def client(self) -> httpx.AsyncClient:
        # Started by the app's lifespan; a test that starts only the runtime gets one here.
        if self._client is None:
            self.start()
        assert self._client is not None
        return self._client

    async def request(
        self,
        method: str,
        path: str,
        token: str | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        headers |= kwargs.pop("headers", None) or {}
        try:
            response = await self.client.request(method, path, headers=headers, **kwargs)
        except httpx.TimeoutException:
            raise GatewayUnavailable(504, "the privacy gateway did not answer in time") from None
        except httpx.TransportError:
            raise GatewayUnavailable(502, "the privacy gateway cannot be reached") from None
        if response.status_code == 401:
            raise GatewayUnauthorized(401, _detail(response))
        if response.status_code >= 500:
            raise GatewayUnavailable(response.status_code, _detail(response))
        if response.status_code >= 400:
            raise GatewayError(response.status_code, _detail(response))
        return response

    # --- sign-in (no token) ----------------------------------------------------------------

    async def login(
        self, username: str, password: str, forwarded_for: str | None = None
    ) -> TokenPair:
        """`forwarded_for`: the officer's X-Forwarded-For chain plus the address the portal
        saw, so the gateway's sign-in backoff waits that address, not the portal's."""
        headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
        r = await self.request(
            "POST",
            "/v1/auth/login",
            json={"username": username, "password": password},
            headers=headers,
        )
        return TokenPair.model_validate(r.json())

    async def refresh(self, refresh_token: str) -> TokenPair:
        r = await self.request("POST", "/v1/auth/refresh", json={"refresh_token": refresh_token})
        return TokenPair.model_validate(r.json())

    async def logout(self, refresh_token: str) -> None:
        await self.request("POST", "/v1/auth/logout", json={"refresh_token": refresh_token})

    async def categories(self) -> list[Category]:
        r = await self.request("GET", "/v1/categories")
        return _list_of(Category, r.json())

    # --- typed parsing helpers for the console (the token is the console's concern) --------

    @staticmethod
    def parse(model: type[M], response: httpx.Response) -> M:
        return model.model_validate(response.json())

    @staticmethod
    def parse_list(model: type[M], response: httpx.Response) -> list[M]:
        return _list_of(model, response.json())
