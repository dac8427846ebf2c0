"""HTTP routes for reading: the public surface, officers' and reporters' views, photos,
photo-access grants and the access log. Every officer read is in the access log, committed
before the response is sent (rule 7): nothing leaves unlogged (`accesslog` batches the
appends of concurrent requests into one transaction)."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter
from sqlalchemy.ext.asyncio import AsyncConnection

from aduan_contracts.enums import Privacy, ReportStatus, Role
from aduan_contracts.http_gateway import AccessLogEntry, GrantView
from aduan_contracts.values import PhotoRef, normalize_receipt_code
from aduan_gateway.adapters.accesslog import AccessLogUnavailable, Read
from aduan_gateway.adapters.identity import find_account
from aduan_gateway.adapters.publicviews import PublicViews
from aduan_gateway.adapters.readmodel import (
    ReportFilter,
    access_log_rows,
    get_key,
    list_reports,
    load_officer_row,
    load_officer_rows,
    load_public,
    load_report,
    officer_page_ids,
    queue_page_key,
)
from aduan_gateway.adapters.reportcache import MISS
from aduan_gateway.auth import CurrentUser, Principal, bearer_principal, scoped
from aduan_gateway.config import Settings
from aduan_gateway.domain.model import ReportRecord
from aduan_gateway.domain.views import (
    FULL_ACCESS_ROLES,
    OFFICER_ROLES,
    AgencyReportView,
    FullReportView,
    PublicReportView,
    ReporterReportView,
    follow_up_photos_allowed,
    photos_allowed,
    public_view,
    reporter_view,
    visible_to_officer,
)
from aduan_gateway.entrypoints.deps import (
    NOT_FOUND,
    AccessLogDep,
    BlobsDep,
    GrantsDep,
    OfficerReadDep,
    OfficerReadParts,
    PublicViewsDep,
    ReadSessionsDep,
    SessionsDep,
    SettingsDep,
    UnitTreeDep,
    forbidden,
    not_found,
    owns,
    require_role,
    unit_filter,
)
from aduan_gateway.photos import PREPARING, Derivatives, Size
from aduan_gateway.service.grants import create_grant, list_grants, revoke_grant
from aduan_gateway.service.officerviews import OfficerRead
from aduan_gateway.service.units import UnitTreeCache
from aduan_kit.blobs import BlobNotFound
from aduan_kit.crypto import open_identity
from aduan_kit.db import transaction
from aduan_kit.direct import DirectAnswer, DirectRoutes, bounded_int, query_ints, query_values
from aduan_kit.logging import get_logger

__all__ = [
    "NOT_FOUND",
    "AccessLogEntry",
    "AfterPhoto",
    "GrantView",
    "PublicReportPage",
    "access_log_unavailable",
    "api_router",
    "direct_officer_routes",
    "direct_public_routes",
]

log = get_logger(__name__)

ReportView = FullReportView | AgencyReportView | ReporterReportView


class PublicReportPage(BaseModel):
    """A page of public reports, newest first."""

    model_config = ConfigDict(frozen=True)

    items: tuple[PublicReportView, ...]
    limit: int
    offset: int


class ReportPage(BaseModel):
    """A page of reports within the caller's scope, newest first."""

    model_config = ConfigDict(frozen=True)

    items: tuple[ReportView, ...]
    limit: int
    offset: int


class GrantRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grantee: str = Field(min_length=1, max_length=128, description="user id of the officer")
    hours: int = Field(ge=1, le=24 * 30, description="how long the grant lasts")
    reason: str | None = Field(default=None, max_length=500)


class OpenPhotosRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(
        min_length=10,
        max_length=300,
        description="why the validator must see the citizen's photos (kept in the access log)",
    )
    hours: int = Field(default=1, ge=1, le=24, description="how long they stay open")


class ReporterIdentityView(BaseModel):
    """The reporter's identity, opened for an administrator (an audited read, rule 5)."""

    model_config = ConfigDict(frozen=True)

    report_id: UUID
    name: str | None
    contact: str | None
    handle: str | None


_REPORT_VIEW: TypeAdapter[ReportView] = TypeAdapter(ReportView)


def _json(view: ReportView) -> Response:
    """The view as FastAPI would encode it for `response_model=ReportView` (same adapter,
    by alias), without FastAPI first validating again the model the handler just built:
    that second pass was ~5 % of an officer read's CPU (issue 18). The route keeps its
    `response_model`, so the OpenAPI document is unchanged."""
    return Response(_REPORT_VIEW.dump_json(view, by_alias=True), media_type="application/json")


def _officer_page(reads: list[OfficerRead], limit: int, offset: int) -> bytes:
    """`ReportPage` of these views as `_page` encodes it, from each view's kept JSON (the
    officer views of unchanged rows are not encoded again: service/officerviews.py)."""
    return b'{"items":[%s],"limit":%d,"offset":%d}' % (
        b",".join(r.json for r in reads),
        limit,
        offset,
    )


def _page(page: ReportPage) -> Response:
    """A page encoded once (see `_json`); the route keeps `response_model=ReportPage`."""
    return Response(page.model_dump_json(by_alias=True), media_type="application/json")


_JAKARTA = timezone(timedelta(hours=7))


def _jakarta_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=_JAKARTA)


def _filter(
    status_: ReportStatus | None,
    category: str | None,
    agency_id: str | None,
    area: str | None,
    q: str | None,
    privacy: Privacy | None = None,
) -> ReportFilter:
    return ReportFilter(
        status=status_,
        category=category,
        agency_id=agency_id,
        area=area,
        search=q,
        privacy=privacy,
    )


def _grant_view(grant: Any) -> GrantView:
    return GrantView(
        grant_id=grant.grant_id,
        report_id=grant.report_id,
        grantee=grant.grantee,
        granted_by=grant.granted_by,
        reason=grant.reason,
        created_at=grant.created_at,
        expires_at=grant.expires_at,
        revoked_at=grant.revoked_at,
        revoked_by=grant.revoked_by,
        active=grant.active(datetime.now(UTC)),
    )


_AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing, invalid or expired token"},
    403: {"description": "the role may not do this"},
    404: {"description": NOT_FOUND},
}


async def _derivatives(request: Request) -> Derivatives:
    derivatives: Derivatives = request.app.state.derivatives
    return derivatives


DerivativesDep = Annotated[Derivatives, Depends(_derivatives)]


class AfterPhoto(BaseModel):
    """An after-photo of a completed public report: blurred copies only."""

    model_config = ConfigDict(frozen=True)

    sha256: str
    ready: bool = Field(description="false while faces and plates are being blurred")
    failed: bool = Field(description="the photo could not be made safe to show")
    thumb_url: str
    large_url: str


def _after_photos(record: ReportRecord) -> tuple[PhotoRef, ...]:
    """The photos of the follow-up that completed the report (the last one): earlier,
    rejected follow-ups' photos never become public."""
    if record.status is not ReportStatus.COMPLETED:
        return ()
    for entry in reversed(record.timeline):
        if entry.follow_up is not None:
            return tuple(entry.follow_up.photos)
    return ()


async def _blurred(derivatives: Derivatives, sha256: str, size: Size, cache: str) -> Response:
    """The blurred copy, 202 while it is being prepared, 409 when it cannot be."""
    try:
        got = await derivatives.read(sha256, size)
    except BlobNotFound:
        return JSONResponse(
            status_code=status.HTTP_409_CONFLICT,
            content={"detail": "this photo could not be made safe to show"},
            headers={"Cache-Control": "no-store"},
        )
    if got is None:
        return JSONResponse(
            status_code=status.HTTP_202_ACCEPTED,
            content={"detail": PREPARING},
            headers={"Retry-After": "3", "Cache-Control": "no-store"},
        )
    data, media_type = got
    return Response(content=data, media_type=media_type, headers={"Cache-Control": cache})


def access_log_unavailable() -> JSONResponse:
    """The answer to a read that could not be logged: its data is withheld (rule 7), a
    retryable 503 (bootstrap's handler of AccessLogUnavailable; the direct routes)."""
    return JSONResponse(
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        content={"detail": "the access log is unavailable; nothing was returned"},
        headers={"Retry-After": "1"},
    )


# FastAPI's answers to `not_found()` (its HTTPException handler's JSON) and to an unlogged
# read, as the direct routes send them.
_NOT_FOUND_BODY = bytes(JSONResponse({"detail": NOT_FOUND}).body)
_UNLOGGED = access_log_unavailable()
_ACCESS_LOG_UNAVAILABLE_ANSWER = DirectAnswer(
    _UNLOGGED.status_code,
    bytes(_UNLOGGED.body),
    headers=tuple(
        (k, v) for k, v in _UNLOGGED.raw_headers if k not in (b"content-length", b"content-type")
    ),
)


def _canonical_id(raw: str | None) -> UUID | None:
    """A path's report id when written as FastAPI prints one (any case); other spellings
    FastAPI may still accept are left to it (the direct route declines)."""
    if raw is None or len(raw) != 36:
        return None
    try:
        report_id = UUID(raw)
    except ValueError:
        return None
    return report_id if str(report_id) == raw.lower() else None


_PAGE_BOUNDS = {"limit": (20, 1, 100), "offset": (0, 0, 100_000)}


def direct_public_routes(direct: DirectRoutes, views: Callable[[], PublicViews | None]) -> None:
    """The citizens' two reads, answered before FastAPI's layers (aduan_kit.direct: a
    third of a public read's CPU) with the same answers as the routes below, which stay
    declared and take every request these decline: a filtered list, a malformed id or
    limit, a gateway not started yet."""

    @direct.get("/v1/public/reports")
    async def public_list(scope: Any, _: str | None) -> DirectAnswer | None:
        page, store = query_ints(scope, _PAGE_BOUNDS), views()
        if page is None or store is None:
            return None
        return DirectAnswer(200, await store.page(page["limit"], page["offset"]))

    @direct.get("/v1/public/reports/{report_id}")
    async def public_report(_: Any, raw_id: str | None) -> DirectAnswer | None:
        report_id, store = _canonical_id(raw_id), views()
        if report_id is None or store is None:
            return None
        body = await store.report(report_id)
        return DirectAnswer(404, _NOT_FOUND_BODY) if body is None else DirectAnswer(200, body)


async def _officer_read(parts: OfficerReadParts, user: Principal, report_id: UUID) -> bytes | None:
    """An officer's view of one report as JSON, its fields logged before it is given out;
    None when the report is unknown or outside the caller's scope (both a 404).
    Raises `AccessLogUnavailable` when the read could not be logged (nothing is given)."""
    kept = parts.rows
    row = kept.officer_row(report_id)
    if row is MISS:
        began = kept.begin()
        async with parts.sessions() as session:
            # Opens nothing: officer views read the stored officer text and reasons.
            row = await load_officer_row(session, report_id)
        kept.keep_officer_row(began, report_id, row)
    if row is None:
        return None
    # Who may read it is decided here, every read (role, scope, a photo grant asked).
    granted = parts.grants.holder_on(parts.sessions, user.subject)
    read = await parts.views.read(row, user.role, user.scope, granted)
    if read is None:
        return None
    await parts.access_log.record(
        user.subject, user.role, user.agency_id, [Read(report_id, read.fields)]
    )
    log.info("officer read", report_id=str(report_id), role=user.role.value)
    return read.json


async def _officer_list(
    parts: OfficerReadParts,
    user: Principal,
    limit: int,
    offset: int,
    f: ReportFilter,
    sort: Literal["newest", "due"],
) -> bytes:
    """A page of officer views in the caller's scope (an officer role, with an agency if an
    agency officer) as `ReportPage` JSON, each read logged before it is given out.
    Raises `AccessLogUnavailable` when the page could not be logged (nothing is given)."""
    # An agency officer's unit (a head's: and every sub-unit), and what was escalated to
    # them; the full-access roles are not scoped.
    scope = user.scope if user.role is Role.AGENCY_OFFICER else None
    kept = parts.rows
    reads: list[OfficerRead] = []
    async with contextlib.AsyncExitStack() as stack:
        # One connection for the whole list, opened only if something is not in memory.
        opened: list[AsyncConnection] = []

        async def connection() -> AsyncConnection:
            if not opened:
                opened.append(await stack.enter_async_context(parts.sessions()))
            return opened[0]

        @contextlib.asynccontextmanager
        async def shared() -> AsyncIterator[AsyncConnection]:
            yield await connection()

        # A queue's page of ids and its rows, from memory while nothing changed since they
        # were read (adapters/reportcache.py).
        key = queue_page_key(limit, offset, f, scope, sort)
        ids = kept.queue_page(key) if key is not None else None
        if ids is None:
            began = kept.begin()
            ids = await officer_page_ids(
                await connection(), limit, offset, f, agency_id=scope, sort=sort
            )
            if key is not None:
                kept.keep_queue_page(began, key, ids)
        rows = {i: kept.officer_row(i) for i in ids}
        missing = [i for i in ids if rows[i] is MISS]
        if missing:
            began = kept.begin()
            for row in await load_officer_rows(await connection(), missing):
                rows[row["report_id"]] = row
                kept.keep_officer_row(began, row["report_id"], row)
        # A photo grant: Redis first, the list's connection when Redis does not know.
        granted = parts.grants.holder_on(shared, user.subject)
        for report_id in ids:
            # A report gone between the two statements is left out, as before.
            if (row := rows.get(report_id, MISS)) is MISS or row is None:
                continue
            read = await parts.views.read(row, user.role, user.scope, granted)
            if read is not None:
                reads.append(read)
    # Logged (committed) before the page is returned; one batch for the whole page.
    await parts.access_log.record(
        user.subject, user.role, user.agency_id, [Read(r.report_id, r.fields) for r in reads]
    )
    return _officer_page(reads, limit, offset)


_LIST_PARAMS = frozenset({"limit", "offset", "status", "sort"})
_STATUSES = {s.value: s for s in ReportStatus}


def direct_officer_routes(
    direct: DirectRoutes,
    parts: Callable[[], OfficerReadParts | None],
    settings: Settings,
    units: UnitTreeCache,
) -> None:
    """An officer's read of one report (a third of the read load) and the console's
    queues, answered before FastAPI's layers with their routes' own answers: only for a
    plain officer token, a well-formed id, the queue's own parameters; a reporter, a
    missing or bad token, a role that may not read, an OIDC provider's token, any other
    filter go to the routes."""

    async def officer(scope: Any) -> Principal | None:
        header = next((v for k, v in scope["headers"] if k == b"authorization"), None)
        principal = bearer_principal(settings, header)
        if principal is None or principal.role not in OFFICER_ROLES:
            return None
        if principal.role is Role.AGENCY_OFFICER and principal.agency_id is None:
            return None  # the route answers an empty page; too rare to repeat here
        return await scoped(units, principal)

    @direct.get("/v1/reports")
    async def officer_list(scope: Any, _: str | None) -> DirectAnswer | None:
        """The console's queues as it asks for them: a page, one status at most, newest
        or nearest deadline first; any other filter goes to the route."""
        given, have = query_values(scope, _LIST_PARAMS), parts()
        if given is None or have is None:
            return None
        limit = bounded_int(given.get("limit"), 20, 1, 100)
        offset = bounded_int(given.get("offset"), 0, 0, 100_000)
        raw_status = given.get("status")
        wanted = _STATUSES.get(raw_status) if raw_status is not None else None
        sort = given.get("sort", "newest")
        if limit is None or offset is None or (raw_status is not None and wanted is None):
            return None
        if sort not in ("newest", "due"):
            return None
        user = await officer(scope)
        if user is None:
            return None
        f = _filter(wanted, None, None, None, None)
        order: Literal["newest", "due"] = "due" if sort == "due" else "newest"
        try:
            body = await _officer_list(have, user, limit, offset, f, order)
        except AccessLogUnavailable:
            return _ACCESS_LOG_UNAVAILABLE_ANSWER
        return DirectAnswer(200, body)

    @direct.get("/v1/reports/{report_id}")
    async def officer_report(scope: Any, raw_id: str | None) -> DirectAnswer | None:
        report_id, have = _canonical_id(raw_id), parts()
        if report_id is None or have is None:
            return None
        user = await officer(scope)
        if user is None:
            return None
        try:
            body = await _officer_read(have, user, report_id)
        except AccessLogUnavailable:
            return _ACCESS_LOG_UNAVAILABLE_ANSWER
        return DirectAnswer(404, _NOT_FOUND_BODY) if body is None else DirectAnswer(200, body)


def api_router() -> APIRouter:
    router = APIRouter()

    # --- public -------------------------------------------------------------------------

    @router.get("/v1/public/reports", response_model=PublicReportPage, tags=["public"])
    async def list_public_reports(
        views: PublicViewsDep,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
        status_: Annotated[ReportStatus | None, Query(alias="status")] = None,
        category: Annotated[str | None, Query(max_length=100)] = None,
        agency_id: Annotated[str | None, Query(max_length=64)] = None,
        area: Annotated[str | None, Query(max_length=200)] = None,
    ) -> Response:
        """List public reports (redacted), newest first."""
        # The stored views (adapters/publicviews.py): the citizens' list is a third of the
        # read mix, and building its 20 views was most of a read's CPU (issue 18).
        f = _filter(status_, category, agency_id, area, None)
        return Response(await views.page(limit, offset, f), media_type="application/json")

    @router.get(
        "/v1/public/reports/{report_id}",
        response_model=PublicReportView,
        responses={404: {"description": NOT_FOUND}},
        tags=["public"],
    )
    async def get_public_report(report_id: UUID, views: PublicViewsDep) -> Response:
        """Read one public report (redacted); private and unknown reports are both 404."""
        body = await views.report(report_id)
        if body is None:
            not_found()
        return Response(body, media_type="application/json")

    @router.get(
        "/v1/public/reports/{report_id}/after-photos",
        response_model=list[AfterPhoto],
        responses={404: {"description": NOT_FOUND}},
        tags=["public"],
    )
    async def list_after_photos(
        report_id: UUID, sessions: ReadSessionsDep, derivatives: DerivativesDep
    ) -> list[AfterPhoto]:
        """The after-photos of a completed public report (its accepted follow-up's), as the
        public may see them: blurred copies only; `ready` is false while being prepared.
        Empty for a report that is not completed; 404 for private and unknown ones."""
        async with sessions() as session:
            record = await load_public(session, report_id)
        if record is None or public_view(record) is None:
            not_found()
        out: list[AfterPhoto] = []
        for photo in _after_photos(record):
            manifest = await derivatives.get(photo.sha256)
            base = f"/v1/public/reports/{report_id}/photos/{photo.sha256}"
            out.append(
                AfterPhoto(
                    sha256=photo.sha256,
                    ready=manifest is not None and manifest.status == "ready",
                    failed=manifest is not None and manifest.status != "ready",
                    thumb_url=f"{base}?size=thumb",
                    large_url=f"{base}?size=large",
                )
            )
        return out

    @router.get(
        "/v1/public/reports/{report_id}/photos/{sha256}",
        response_class=Response,
        responses={
            200: {"content": {"image/webp": {}, "image/jpeg": {}}},
            202: {"description": "being prepared (faces and plates are being blurred)"},
            404: {"description": NOT_FOUND},
            409: {"description": "the photo could not be made safe to show"},
        },
        tags=["public"],
    )
    async def get_public_photo(
        report_id: UUID,
        sha256: Annotated[str, Path(pattern=r"^[0-9a-f]{64}$")],
        sessions: ReadSessionsDep,
        derivatives: DerivativesDep,
        size: Annotated[Size, Query(description="`thumb` (480 px), `large` (1280 px), `full`")] = (
            "large"
        ),
    ) -> Response:
        """An after-photo of a completed public report, faces and plates blurred; never an
        original, never a citizen's photo (SPEC Revision 2: the public sees the after-photo
        once completed)."""
        async with sessions() as session:
            record = await load_public(session, report_id)
        if record is None or public_view(record) is None:
            not_found()
        if not any(p.sha256 == sha256 for p in _after_photos(record)):
            not_found("photo not found")
        # Short: a report hidden by moderation should stop being served soon from caches.
        return await _blurred(derivatives, sha256, size, "public, max-age=300")

    # --- officers and reporters ---------------------------------------------------------

    @router.get("/v1/reports", response_model=ReportPage, responses=_AUTH_ERRORS, tags=["reports"])
    async def list_my_reports(
        user: CurrentUser,
        tree: UnitTreeDep,
        parts: OfficerReadDep,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
        status_: Annotated[ReportStatus | None, Query(alias="status")] = None,
        category: Annotated[str | None, Query(max_length=100)] = None,
        agency_id: Annotated[str | None, Query(max_length=64)] = None,
        area: Annotated[str | None, Query(max_length=200)] = None,
        privacy: Privacy | None = None,
        q: Annotated[str | None, Query(max_length=200, description="text search")] = None,
        receipt_code: Annotated[
            str | None,
            Query(
                max_length=40,
                description="the code the reporter got (`ADU-XXXX-XXXX`; case, spaces and "
                "O/0, I/L/1 as read aloud are forgiven)",
            ),
        ] = None,
        assignee: Annotated[
            str | None,
            Query(
                max_length=128,
                description="reports assigned to this officer (a user id, or `me`)",
            ),
        ] = None,
        sort: Annotated[
            Literal["newest", "due"],
            Query(description="`newest` first (default) or nearest `due` date first"),
        ] = "newest",
        sla: Annotated[
            Literal["overdue", "due_soon"] | None,
            Query(description="the running deadline has passed, or passes within 24 hours"),
        ] = None,
        unit: Annotated[
            str | None,
            Query(
                max_length=64,
                description="assigned to this unit or one below it; an agency officer only "
                "within their scope (issue 19)",
            ),
        ] = None,
        escalated: Annotated[
            bool,
            Query(
                description="only open reports whose SLA escalation was flagged to the "
                "caller's units (with `unit`: to that unit or one below it); full-access "
                "roles: every open escalated report"
            ),
        ] = False,
        received_from: Annotated[
            date | None,
            Query(description="filed on or after this day (Jakarta); full-access roles only"),
        ] = None,
        received_to: Annotated[
            date | None,
            Query(description="filed on or before this day (Jakarta); full-access roles only"),
        ] = None,
    ) -> Response:
        """List and search reports within the caller's scope: an agency officer their
        agency's, a reporter their own, validators and admins all (each read audited)."""
        f = _filter(status_, category, agency_id, area, q, privacy)
        if unit is not None or escalated:
            units = unit_filter(user, tree, unit)
            if escalated:
                # Escalated to these units (or, with no unit asked, to the caller's own
                # units; full-access roles: to anyone, every breach reaches the bureau).
                to: frozenset[str] = (
                    units
                    if units is not None
                    else (user.scope if user.role is Role.AGENCY_OFFICER else frozenset())
                )
                f = dataclasses.replace(f, escalated_to=to)
            else:
                f = dataclasses.replace(f, units=units)
        if receipt_code is not None:
            code = normalize_receipt_code(receipt_code)
            if code is None:
                raise HTTPException(
                    status.HTTP_422_UNPROCESSABLE_CONTENT,
                    "receipt_code is not a receipt code (ADU-XXXX-XXXX, Crockford base32)",
                )
            f = dataclasses.replace(f, receipt_code=code)
        if assignee is not None:
            f = dataclasses.replace(f, assignee=user.subject if assignee == "me" else assignee)
        if sla is not None:
            f = dataclasses.replace(f, sla=sla)
        if received_from is not None or received_to is not None:
            # Agency officers see a report's month, never its filing day (SPEC rule 6).
            if user.role not in FULL_ACCESS_ROLES:
                forbidden("filtering by filing date is for ticket-admins, validators and admins")
            f = dataclasses.replace(
                f,
                received_from=_jakarta_midnight(received_from) if received_from else None,
                received_before=_jakarta_midnight(received_to + timedelta(days=1))
                if received_to
                else None,
            )
        if user.role is Role.REPORTER:
            if user.reporter_key_id is None:
                forbidden("reporter token without a reporter key")
            async with parts.sessions() as session:
                records = await list_reports(
                    session, limit, offset, f, reporter_key_id=user.reporter_key_id
                )
            items: list[ReportView] = [
                v for v in (reporter_view(r) for r in records) if v is not None
            ]
            return _page(ReportPage(items=tuple(items), limit=limit, offset=offset))
        require_role(user, OFFICER_ROLES, "list reports")
        if user.role is Role.AGENCY_OFFICER and user.agency_id is None:
            return _page(ReportPage(items=(), limit=limit, offset=offset))
        # Searching free text of reports an agency may only see scrubbed would let it probe
        # for hidden words (a phone number, a name): full-access roles only.
        if q and user.role not in FULL_ACCESS_ROLES:
            forbidden("text search is for validators and administrators")
        # Agency officers never see receipt codes (the reporter's proof of ownership):
        # looking reports up by one would tell them which report a code belongs to.
        if f.receipt_code is not None and user.role is Role.AGENCY_OFFICER:
            forbidden("looking up by receipt code is for ticket-admins, validators and admins")
        body = await _officer_list(parts, user, limit, offset, f, sort)
        return Response(body, media_type="application/json")

    @router.get(
        "/v1/reports/{report_id}",
        response_model=ReportView,
        responses=_AUTH_ERRORS,
        tags=["reports"],
    )
    async def get_report(report_id: UUID, user: CurrentUser, parts: OfficerReadDep) -> Response:
        """One report with its timeline; what is shown depends on the role (audited)."""
        if user.role is Role.REPORTER:
            async with parts.sessions() as session:
                record = await load_report(session, report_id)
            mine = reporter_view(record) if record is not None and owns(user, record) else None
            if mine is None:
                not_found()
            return _json(mine)
        require_role(user, OFFICER_ROLES, "read officer views")
        body = await _officer_read(parts, user, report_id)
        if body is None:
            not_found()
        return Response(body, media_type="application/json")

    @router.get(
        "/v1/reports/{report_id}/photos/{sha256}",
        responses={
            **_AUTH_ERRORS,
            200: {"content": {"image/jpeg": {}, "image/webp": {}}},
            202: {"description": "being prepared (faces and plates are being blurred)"},
            409: {"description": "the photo could not be made safe to show"},
        },
        response_class=Response,
        tags=["reports"],
    )
    async def get_photo(
        report_id: UUID,
        sha256: Annotated[str, Path(pattern=r"^[0-9a-f]{64}$")],
        user: CurrentUser,
        sessions: ReadSessionsDep,
        grants: GrantsDep,
        access_log: AccessLogDep,
        blobs: BlobsDep,
        derivatives: DerivativesDep,
        size: Annotated[
            Size,
            Query(description="`full` (blurred, JPEG), `large` (1280 px) or `thumb` (480 px)"),
        ] = "full",
        original: Annotated[
            bool,
            Query(
                description="the unblurred original: only a validator who opened this "
                "report's photos (POST .../photos/open, audited)"
            ),
        ] = False,
    ) -> Response:
        """One photo of a report (or of its follow-ups) when the caller may see it: always
        the copy with faces and plates blurred (issue 20), unless a validator who opened
        the report's photos asks for the original (a separate access-log entry)."""
        granted = False
        async with sessions() as session:
            record = await load_report(session, report_id)
            if record is None:
                not_found()
            photo = next((p for p in record.all_photos if p.sha256 == sha256), None)
            if photo is None:
                not_found("photo not found")
            if user.role is Role.REPORTER:
                if not owns(user, record):
                    not_found()
            else:
                require_role(user, OFFICER_ROLES, "see photos")
                if not visible_to_officer(record, user.role, user.scope):
                    not_found()
                granted = await grants.allowed(session, report_id, user.subject)
                # A follow-up's photo: the uploading agency and validators see it (SPEC
                # Revision 2); a citizen's photo: rule 3.
                uploaders = [
                    t.follow_up.officer.agency_id
                    for t in record.timeline
                    if t.follow_up is not None
                    and any(p.sha256 == sha256 for p in t.follow_up.photos)
                ]
                if not photos_allowed(record, user.role, user.scope, granted) and not any(
                    follow_up_photos_allowed(record, user.role, user.scope, granted, a)
                    for a in uploaders
                ):
                    forbidden("photos of this report are locked; a validator may grant access")
        if original:
            # A validator's own grant exists only through the audited "open photos" action
            # (grants go to agency officers, never to oneself).
            if user.role is not Role.VALIDATOR or not granted:
                forbidden(
                    "the original (unblurred) photo is opened only by a validator, through "
                    "the audited 'open photos' action"
                )
            await access_log.record(
                user.subject,
                user.role,
                user.agency_id,
                [Read(report_id, (f"photo.original:{sha256}",))],
            )
            try:
                data = await blobs.get(sha256)
            except BlobNotFound:
                not_found("photo not stored")
            return Response(
                content=data,
                media_type=photo.content_type,
                headers={"Cache-Control": "private, no-store"},
            )
        if user.role is not Role.REPORTER:
            await access_log.record(
                user.subject, user.role, user.agency_id, [Read(report_id, (f"photo:{sha256}",))]
            )
        return await _blurred(derivatives, sha256, size, "private, no-store")

    @router.get(
        "/v1/reports/{report_id}/reporter-identity",
        response_model=ReporterIdentityView,
        responses={**_AUTH_ERRORS, 410: {"description": "identity erased"}},
        tags=["administration"],
    )
    async def reveal_identity(
        report_id: UUID,
        user: CurrentUser,
        sessions: ReadSessionsDep,
        access_log: AccessLogDep,
        reason: Annotated[
            str,
            Query(
                min_length=10,
                max_length=300,
                description="why the identity is needed (SPEC Revision 2); kept in the "
                "access log entry, which the reporter's data export also lists",
            ),
        ],
    ) -> ReporterIdentityView:
        """Open the reporter's identity for an administrator, with a reason; the read and
        its reason are in the access log (the only way any officer role sees identity)."""
        require_role(user, {Role.ADMINISTRATOR}, "open a reporter's identity")
        async with sessions() as session:
            record = await load_report(session, report_id)
            if record is None or not record.has_content:
                not_found()
            key = (
                await get_key(session, record.sealed_identity.key_id)
                if record.sealed_identity is not None
                else None
            )
            if record.sealed_identity is None or key is None:
                raise HTTPException(
                    status_code=status.HTTP_410_GONE,
                    detail="no identity: none was given, or it was erased",
                )
            identity = open_identity(record.sealed_identity, key)
        await access_log.record(
            user.subject,
            user.role,
            user.agency_id,
            [
                Read(
                    report_id,
                    (
                        "reporter.contact",
                        "reporter.handle",
                        "reporter.name",
                        # In the hash chain with the rest: a reason cannot be edited later.
                        f"reason:{' '.join(reason.split())}",
                    ),
                )
            ],
        )
        log.info("reporter identity opened", report_id=str(report_id))
        return ReporterIdentityView(
            report_id=report_id,
            name=identity.get("name"),
            contact=identity.get("contact"),
            handle=identity.get("handle"),
        )

    # --- photo grants (rule 3) ----------------------------------------------------------

    async def _granting(sessions: SessionsDep, user: Principal, report_id: UUID) -> ReportRecord:
        require_role(user, {Role.VALIDATOR}, "manage photo access")
        async with sessions() as session:
            record = await load_report(session, report_id)
        if record is None or not record.complete:
            not_found()
        return record

    @router.post(
        "/v1/reports/{report_id}/photo-grants",
        response_model=GrantView,
        status_code=status.HTTP_201_CREATED,
        responses=_AUTH_ERRORS,
        tags=["photo grants"],
    )
    async def grant_photo_access(
        report_id: UUID,
        body: GrantRequest,
        user: CurrentUser,
        sessions: SessionsDep,
        settings: SettingsDep,
        grants: GrantsDep,
    ) -> GrantView:
        """A validator lets a named officer see this report's photos until a deadline.

        Only an existing, active agency officer of the agency the report is assigned to
        (SPEC Revision 2), and never the validator themselves: a grant to an id nobody
        has, or to oneself, was accepted before and is refused with the reason now."""
        record = await _granting(sessions, user, report_id)
        if body.hours > settings.max_grant_hours:
            raise HTTPException(
                status_code=422,
                detail=f"a grant lasts at most {settings.max_grant_hours} hours",
            )
        if body.grantee == user.subject:
            raise HTTPException(422, "no self-grants: a grant is for an officer of the agency")
        async with sessions() as session:
            grantee = await find_account(session, body.grantee)
        if grantee is None:
            raise HTTPException(422, "grantee is not a user")
        if not grantee.active:
            raise HTTPException(422, "grantee's account is deactivated")
        if grantee.role is not Role.AGENCY_OFFICER:
            raise HTTPException(422, "grants are for agency officers")
        if record.agency_id is None or grantee.agency_id != record.agency_id:
            raise HTTPException(
                422, "grantee is not an officer of the agency the report is assigned to"
            )
        async with transaction(sessions) as session:
            grant = await create_grant(
                session,
                report_id,
                body.grantee,
                user.subject,
                datetime.now(UTC) + timedelta(hours=body.hours),
                body.reason,
            )
        await grants.remember(report_id, grant.grantee, grant.expires_at)
        log.info("photo access granted", report_id=str(report_id), grant_id=str(grant.grant_id))
        return _grant_view(grant)

    @router.get(
        "/v1/reports/{report_id}/photo-grants",
        response_model=list[GrantView],
        responses=_AUTH_ERRORS,
        tags=["photo grants"],
    )
    async def list_photo_grants(
        report_id: UUID, user: CurrentUser, sessions: SessionsDep
    ) -> list[GrantView]:
        """Every grant of this report, active or not (the record of who was let in)."""
        if user.role is not Role.ADMINISTRATOR:
            await _granting(sessions, user, report_id)
        async with sessions() as session:
            return [_grant_view(g) for g in await list_grants(session, report_id)]

    @router.post(
        "/v1/reports/{report_id}/photos/open",
        response_model=GrantView,
        status_code=status.HTTP_201_CREATED,
        responses=_AUTH_ERRORS,
        tags=["photo grants"],
    )
    async def open_photos(
        report_id: UUID,
        body: OpenPhotosRequest,
        user: CurrentUser,
        sessions: SessionsDep,
        grants: GrantsDep,
        access_log: AccessLogDep,
    ) -> GrantView:
        """A validator opens a private report's citizen photos for themselves: an explicit
        action with a reason, for at most a day, listed with the grants and written to the
        access log (SPEC Revision 2: no self-grants through the grant form)."""
        await _granting(sessions, user, report_id)
        reason = " ".join(body.reason.split())
        async with transaction(sessions) as session:
            grant = await create_grant(
                session,
                report_id,
                user.subject,
                user.subject,
                datetime.now(UTC) + timedelta(hours=body.hours),
                f"opened by the validator: {reason}",
            )
        await grants.remember(report_id, grant.grantee, grant.expires_at)
        # In the hash chain: the reason cannot be edited later.
        await access_log.record(
            user.subject,
            user.role,
            user.agency_id,
            [Read(report_id, ("photos.open", f"reason:{reason}"))],
        )
        log.info("photos opened by a validator", report_id=str(report_id))
        return _grant_view(grant)

    @router.delete(
        "/v1/reports/{report_id}/photo-grants/{grant_id}",
        response_model=GrantView,
        responses=_AUTH_ERRORS,
        tags=["photo grants"],
    )
    async def revoke_photo_access(
        report_id: UUID,
        grant_id: UUID,
        user: CurrentUser,
        sessions: SessionsDep,
        grants: GrantsDep,
    ) -> GrantView:
        """Revoke a grant at once (the cache entry goes with it)."""
        await _granting(sessions, user, report_id)
        async with transaction(sessions) as session:
            grant = await revoke_grant(session, report_id, grant_id, user.subject)
            if grant is None:
                not_found("no active grant with that id")
            # Forgotten before the commit too: if Redis cannot be reached, the revoke fails
            # as a whole instead of leaving a cached grant the database no longer has.
            await grants.forget(report_id, grant.grantee)
        async with sessions() as session:
            # And after it: a read between the two may have refilled the cache.
            await grants.refresh_after_revoke(session, report_id, grant.grantee)
        log.info("photo access revoked", report_id=str(report_id), grant_id=str(grant_id))
        return _grant_view(grant)

    # --- audit --------------------------------------------------------------------------

    @router.get(
        "/v1/audit/access-log",
        response_model=list[AccessLogEntry],
        responses=_AUTH_ERRORS,
        tags=["administration"],
    )
    async def read_access_log(
        user: CurrentUser,
        sessions: SessionsDep,
        report_id: UUID | None = None,
        subject: Annotated[
            str | None, Query(max_length=128, description="who read: a staff user id")
        ] = None,
        newest_first: bool = False,
        before_id: Annotated[
            int | None, Query(ge=1, description="entries older than this id (paging)")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[AccessLogEntry]:
        """The access log (who read what, when, which fields): administrators only. Oldest
        first (the hash chain's order) unless `newest_first`."""
        require_role(user, {Role.ADMINISTRATOR}, "read the access log")
        async with sessions() as session:
            rows = await access_log_rows(
                session,
                [report_id] if report_id is not None else None,
                limit,
                subject=subject,
                newest_first=newest_first,
                before_id=before_id,
            )
        return [
            AccessLogEntry(
                id=r["id"],
                at=r["at"],
                subject=r["subject"],
                role=r["role"],
                agency_id=r["agency_id"],
                report_id=r["report_id"],
                fields=tuple(r["fields"]),
                hash=r["hash"],
            )
            for r in rows
        ]

    return router
