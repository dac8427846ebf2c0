"""HTTP routes the portal and the officer console need beyond reading reports: "track my
report" by receipt code, suggested duplicates, moderation of public reports, the category
catalogue, and administrators' lists of users and agencies."""

from __future__ import annotations

import hashlib
import math
from datetime import timedelta
from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Body, HTTPException, Path, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert

import aduan_areas
from aduan_contracts.enums import Privacy, ReportStatus, Role
from aduan_contracts.http_gateway import (
    AccountView,
    AgencyView,
    AreaRouteView,
    AssignmentView,
    CategoryView,
    DuplicateView,
    NoteView,
    OfficerView,
)
from aduan_contracts.topics import CATEGORIES, PUBLIC_REPORTS
from aduan_contracts.values import Actor, GeoPoint, normalize_receipt_code
from aduan_gateway.adapters.accesslog import Read
from aduan_gateway.adapters.identity import (
    Account,
    IdentityError,
    find_account,
    list_agencies,
    list_agency_officers,
    list_users,
    set_active,
    set_unit,
)
from aduan_gateway.adapters.readmodel import (
    READ_MODEL_WRITERS_LOCK,
    duplicate_candidates,
    find_by_receipt,
    load_public,
    load_report,
    moderate,
)
from aduan_gateway.adapters.tables import ASSIGNMENTS, NOTES, OUTBOX, USERS
from aduan_gateway.auth import CurrentUser, Principal
from aduan_gateway.domain.model import ReportRecord
from aduan_gateway.domain.projection import public_event, public_id_of
from aduan_gateway.domain.redaction import coarse_area, coarse_month
from aduan_gateway.domain.views import (
    FULL_ACCESS_ROLES,
    OFFICER_ROLES,
    officer_texts,
    public_view,
    visible_to_officer,
)
from aduan_gateway.entrypoints.deps import (
    NOT_FOUND,
    AccessLogDep,
    RuntimeDep,
    SessionsDep,
    SettingsDep,
    UnitTreeDep,
    require_role,
    unit_filter,
)
from aduan_gateway.service.categories import (
    Category,
    CategoryError,
    area_route,
    get_category,
    list_categories,
    put_category,
    retire_category,
)
from aduan_gateway.service.conversation import open_question_count
from aduan_gateway.service.dashboard import dashboard
from aduan_kit.db import transaction
from aduan_kit.logging import correlation_id, get_logger
from aduan_kit.messaging import add_to_outbox
from aduan_kit.redaction import scrub_officer_text

__all__ = [
    "AccountView",
    "AgencyView",
    "CategoryView",
    "DuplicateView",
    "ModerationBody",
    "ModerationView",
    "OfficerView",
    "TrackView",
    "client_address",
    "console_router",
    "distance_m",
    "rank_duplicates",
    "report_scope",
    "throttle_lookup",
]

log = get_logger(__name__)

# SPEC Revision 2: a ticket-admin moderates the portal; administrators may too.
MODERATOR_ROLES = frozenset({Role.TICKET_ADMIN, Role.ADMINISTRATOR})

TRACK_NOT_FOUND = "no report with that receipt code"
DUPLICATE_WINDOW = timedelta(days=30)
DUPLICATE_RADIUS_M = 500.0
DUPLICATE_MAX = 10
# The fields a duplicate suggestion carries of each candidate, for the access log (rule 7).
_DUPLICATE_FIELDS = ("area", "category", "month", "received_at", "status", "title")


class TrackStep(BaseModel):
    model_config = ConfigDict(frozen=True)

    status: ReportStatus
    label: str
    month: str


class TrackView(BaseModel):
    """What a receipt code tells anyone who holds it: status and months only. A receipt
    code proves nothing about its holder, so no text, title, place, officer or exact time."""

    model_config = ConfigDict(frozen=True)

    receipt_code: str
    status: ReportStatus
    status_label: str
    status_label_en: str
    month: str
    public_id: str | None = Field(description="set only when the report is public")
    timeline: tuple[TrackStep, ...]
    open_questions: int = Field(
        default=0,
        description="officers' questions waiting for the reporter's answer; their text is "
        "only behind the link sent to the reporter (a receipt code proves nothing)",
    )


def category_view(c: Category) -> CategoryView:
    return CategoryView(
        code=c.code,
        name_id=c.name_id,
        name_en=c.name_en,
        agency_id=c.agency_id,
        description_id=c.description_id,
        description_en=c.description_en,
        keywords=c.keywords,
        group=c.group,
        active=c.active,
        area_routes=tuple(
            AreaRouteView(area_code=r.area_code, agency_id=r.agency_id, unit_id=r.agency_id)
            for r in c.area_routes
        ),
        version=c.version,
    )


class CategoryBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name_id: str = Field(min_length=1, max_length=200)
    name_en: str = Field(min_length=1, max_length=200)
    agency_id: str | None = Field(default=None, min_length=1, max_length=64)
    description_id: str = Field(default="", max_length=2000)
    description_en: str = Field(default="", max_length=2000)
    keywords: list[Annotated[str, Field(max_length=100)]] = Field(default=[], max_length=50)
    group: str | None = Field(default=None, min_length=1, max_length=100)
    active: bool = True
    area_routes: list[AreaRouteView] | None = Field(
        default=None,
        max_length=500,
        description="all of the category's routes by place; absent: keep the current ones",
    )


class ActiveBody(BaseModel):
    """Any of: (de)activate, move to a unit, make (not) the unit's head (issue 19)."""

    model_config = ConfigDict(extra="forbid")

    active: bool | None = None
    unit_id: str | None = Field(default=None, min_length=1, max_length=64)
    unit_head: bool | None = None


class ModerationBody(BaseModel):
    """A ticket-admin's moderation of a public report: hide it from (or show it again on)
    every public surface, and/or correct its public title and text. The correction is
    scrubbed by the same public rule as the reporter's text."""

    model_config = ConfigDict(extra="forbid")

    hidden: bool | None = None
    title: str | None = Field(default=None, max_length=300)
    text: str | None = Field(default=None, min_length=1, max_length=10000)


class ModerationView(BaseModel):
    report_id: UUID
    hidden: bool
    public_title: str | None
    public_text: str | None


class NoteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=3, max_length=4000, description="the note (officers only)")


_NOTES_FIELDS = ("notes",)
_ASSIGNEE_FIELDS = ("assignee",)


class AssigneeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assignee: str | None = Field(
        default=None,
        max_length=128,
        description="user id of an active officer of the report's agency; null: nobody",
    )


class StageFigureView(BaseModel):
    stage: str
    measured: int = Field(description="steps with a deadline that ended in the period")
    on_time: int
    median_hours: float | None


class UnitFigureView(BaseModel):
    unit_id: str
    name: str
    open: int
    overdue: int


class EscalationCounts(BaseModel):
    """Open reports escalated to the covered units (the city: to anyone; every breach
    reaches the validator bureau)."""

    reminders: int
    breaches: int


class DashboardView(BaseModel):
    """Aggregates only: private reports are counted, never shown; months and durations,
    never a report's exact time."""

    agency_id: str | None
    open_by_status: dict[str, int]
    overdue: int
    completed_by_month: list[tuple[str, int]]
    stages: list[StageFigureView]
    unit_id: str | None = Field(default=None, description="the unit asked (issue 19)")
    units: list[str] | None = Field(default=None, description="units covered; null: the city")
    area: str | None = Field(default=None, description="the area code asked")
    by_unit: list[UnitFigureView] = Field(default_factory=list)
    escalations: EscalationCounts = Field(
        default_factory=lambda: EscalationCounts(reminders=0, breaches=0)
    )


# What listing a report's officers reads of the report, for the access log (rule 7).
_OFFICERS_FIELDS = ("agency_id",)


def client_address(request: Request, trusted: tuple[str, ...]) -> str:
    """The caller's address; behind a trusted proxy (the portal) the nearest untrusted hop
    of X-Forwarded-For, so one citizen's guessing does not lock out everyone else."""
    peer = request.client.host if request.client is not None else "unknown"
    if peer in trusted:
        forwarded = request.headers.get("x-forwarded-for", "")
        for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
            if hop not in trusted:
                return hop
    return peer


def distance_m(a: GeoPoint, b: GeoPoint) -> float:
    """Great-circle distance (haversine, mean Earth radius)."""
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    dlat, dlon = lat2 - lat1, math.radians(b.lon - a.lon)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


def _point(record: ReportRecord) -> GeoPoint | None:
    return record.location.point if record.location is not None else None


def rank_duplicates(record: ReportRecord, candidates: list[ReportRecord]) -> list[DuplicateView]:
    here = _point(record)
    ranked: list[tuple[float, DuplicateView]] = []
    for c in candidates:
        there = _point(c)
        dist = distance_m(here, there) if here is not None and there is not None else None
        if dist is not None and dist > DUPLICATE_RADIUS_M:
            continue
        assert c.status is not None and c.received_at is not None  # complete
        view = DuplicateView(
            report_id=c.report_id,
            # The officer title: the reporter's own values hidden (SPEC Revision 2).
            title=officer_texts(c).title,
            category=c.shown_category,
            status=c.status,
            status_label=c.status.label_id,
            month=coarse_month(c.received_at),
            area=coarse_area(c.location),
            distance_m=round(dist, 1) if dist is not None else None,
            received_at=c.received_at,
        )
        # Nearest first; candidates without a point after every measured one.
        ranked.append((dist if dist is not None else math.inf, view))
    ranked.sort(key=lambda pair: (pair[0], -pair[1].received_at.timestamp()))
    return [view for _, view in ranked[:DUPLICATE_MAX]]


def _account_view(account: Account) -> AccountView:
    return AccountView(
        user_id=account.user_id,
        username=account.username,
        display_name=account.display_name,
        role=account.role,
        agency_id=account.agency_id,
        active=account.active,
        unit_id=account.agency_id,
        unit_head=account.unit_head,
    )


_AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing, invalid or expired token"},
    403: {"description": "the role may not do this"},
}


async def throttle_lookup(request: Request, settings: Any, runtime: Any) -> None:
    """At most `track_per_minute` public lookups (receipt codes, question links) per client
    address a minute: codes and links must not be guessable by trying."""
    address = client_address(request, settings.trusted_proxies)
    # Hashed: the limiter needs to tell addresses apart, not to store them.
    bucket = hashlib.sha256(address.encode()).hexdigest()[:32]
    key = f"{settings.redis_prefix}track:{bucket}"
    count = await runtime.redis.incr(key)
    if count == 1:
        await runtime.redis.expire(key, 60)
    if count > settings.track_per_minute:
        raise HTTPException(
            status_code=status.HTTP_429_TOO_MANY_REQUESTS,
            detail="too many lookups from this address; wait a minute",
            headers={"Retry-After": "60"},
        )


async def report_scope(sessions: Any, user: Principal, report_id: UUID) -> ReportRecord:
    """The report, when this officer may open it (notes, assignment, officers, questions)."""
    require_role(user, OFFICER_ROLES, "read or work on a report")
    async with sessions() as session:
        record = await load_report(session, report_id)
    # The same scope as the report itself (another agency's report: 404, not 403).
    if (
        record is None
        or not record.complete
        or not visible_to_officer(record, user.role, user.scope)
    ):
        raise HTTPException(status_code=404, detail=NOT_FOUND)
    return record


def console_router() -> APIRouter:
    router = APIRouter()

    # --- track my report (public) -------------------------------------------------------

    @router.get(
        "/v1/public/track/{receipt_code}",
        response_model=TrackView,
        responses={
            404: {"description": TRACK_NOT_FOUND},
            429: {"description": "too many lookups from this address"},
        },
        tags=["public"],
    )
    async def track(
        receipt_code: Annotated[str, Path(max_length=32)],
        request: Request,
        sessions: SessionsDep,
        settings: SettingsDep,
        runtime: RuntimeDep,
    ) -> TrackView:
        """Status of a report by its receipt code: status and months, nothing private."""
        await throttle_lookup(request, settings, runtime)
        async with sessions() as session:
            code = normalize_receipt_code(receipt_code)
            record = None if code is None else await find_by_receipt(session, code)
            open_questions = (
                0 if record is None else await open_question_count(session, record.report_id)
            )
        if record is None:
            raise HTTPException(status_code=404, detail=TRACK_NOT_FOUND)
        assert record.status is not None and record.received_at is not None  # complete
        public = public_view(record)
        return TrackView(
            receipt_code=record.receipt_code or receipt_code,
            status=record.status,
            status_label=record.status.label_id,
            status_label_en=record.status.label_en,
            month=coarse_month(record.received_at),
            public_id=public_id_of(record.report_id) if public is not None else None,
            timeline=tuple(
                TrackStep(
                    status=t.status, label=t.status.label_id, month=coarse_month(t.occurred_at)
                )
                for t in record.timeline
            ),
            open_questions=open_questions,
        )

    # --- suggested duplicates -----------------------------------------------------------

    @router.get(
        "/v1/reports/{report_id}/duplicates",
        response_model=list[DuplicateView],
        responses={**_AUTH_ERRORS, 404: {"description": NOT_FOUND}},
        tags=["reports"],
    )
    async def duplicates(
        report_id: UUID, user: CurrentUser, sessions: SessionsDep, access_log: AccessLogDep
    ) -> list[DuplicateView]:
        """Possible duplicates: same category, received within 30 days, within 500 m when
        both have a point, not merged or rejected; nearest first, at most 10 (audited)."""
        require_role(user, FULL_ACCESS_ROLES, "look for duplicates")
        async with sessions() as session:
            record = await load_report(session, report_id)
            if record is None or not visible_to_officer(record, user.role, user.scope):
                raise HTTPException(status_code=404, detail=NOT_FOUND)
            found = rank_duplicates(
                record, await duplicate_candidates(session, record, DUPLICATE_WINDOW)
            )
        await access_log.record(
            user.subject,
            user.role,
            user.agency_id,
            [Read(view.report_id, _DUPLICATE_FIELDS) for view in found],
        )
        return found

    # --- moderation (SPEC Revision 2) ---------------------------------------------------

    @router.post(
        "/v1/reports/{report_id}/moderation",
        response_model=ModerationView,
        responses={
            **_AUTH_ERRORS,
            404: {"description": NOT_FOUND},
            409: {"description": "not a public report"},
            422: {"description": "nothing to do, or a title without a text"},
        },
        tags=["reports"],
    )
    async def moderate_report(
        report_id: UUID,
        body: Annotated[ModerationBody, Body()],
        user: CurrentUser,
        sessions: SessionsDep,
        runtime: RuntimeDep,
        access_log: AccessLogDep,
        request: Request,
    ) -> ModerationView:
        """Hide a public report from the portal (or show it again), or correct its public
        title and text (ticket-admins, administrators). Audited in the access log; the
        portal is told through the public topic (withdrawn, or published again)."""
        require_role(user, MODERATOR_ROLES, "moderate public reports")
        if body.hidden is None and body.text is None:
            raise HTTPException(status_code=422, detail="give `hidden`, or a corrected `text`")
        if body.title is not None and body.text is None:
            raise HTTPException(
                status_code=422, detail="a corrected title comes with the corrected text"
            )
        async with sessions() as session:
            before = await load_public(session, report_id)
        if before is None or not before.has_content:
            raise HTTPException(status_code=404, detail=NOT_FOUND)
        if before.privacy is not Privacy.PUBLIC:
            raise HTTPException(status_code=409, detail="only a public report has a public face")
        # Written to the access log (committed) before anything changes: a moderation that
        # cannot be audited does not happen (503).
        fields = []
        if body.hidden is not None:
            fields.append("moderation:hidden" if body.hidden else "moderation:shown")
        if body.text is not None:
            fields.append("moderation:corrected")
        await access_log.record(
            user.subject, user.role, user.agency_id, [Read(report_id, tuple(fields))]
        )
        topic = runtime.topic(PUBLIC_REPORTS.name)
        async with transaction(sessions) as session:
            # Taking turns with the read model's consumers (which recompute the public text
            # when a key or an erasure arrives), so neither overwrites the other.
            await session.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": READ_MODEL_WRITERS_LOCK}
            )
            if not await moderate(session, report_id, body.hidden, body.title, body.text):
                raise HTTPException(status_code=404, detail=NOT_FOUND)
            after = await load_public(session, report_id)
            assert after is not None
            event = public_event(after, correlation_id.get() or str(uuid4()))
            if event is not None:
                await add_to_outbox(session, OUTBOX, topic, event, key=report_id)
        # This process's report cache at once (the database's notice tells every process,
        # this one a moment later): the ticket-admin who hid it sees it gone.
        if (cache := request.app.state.gateway.report_cache) is not None:
            cache.changed([report_id])
        log.info("public report moderated", report_id=str(report_id), fields=fields)
        return ModerationView(
            report_id=report_id,
            hidden=after.public_hidden,
            public_title=after.public_text.title if after.public_text else None,
            public_text=after.public_text.text if after.public_text else None,
        )

    # --- categories -----------------------------------------------------------------------

    @router.get("/v1/categories", response_model=list[CategoryView], tags=["categories"])
    async def categories(sessions: SessionsDep) -> list[CategoryView]:
        """The category catalogue, retired categories included (`active` false): public.
        Services read it from the topic gateway.categories.v1; this is for people."""
        async with sessions() as session:
            found = await list_categories(session)
        return [category_view(c) for c in found]

    @router.put(
        "/v1/admin/categories/{code}",
        response_model=CategoryView,
        responses={**_AUTH_ERRORS, 422: {"description": "bad code or unknown agency"}},
        tags=["administration"],
    )
    async def upsert_category(
        code: Annotated[str, Path(max_length=100)],
        body: Annotated[CategoryBody, Body()],
        user: CurrentUser,
        sessions: SessionsDep,
        runtime: RuntimeDep,
    ) -> CategoryView:
        """Create or change a category (`active` false retires it, true brings it back);
        the new state is published to every reader, a new agency routes new reports."""
        require_role(user, {Role.ADMINISTRATOR}, "manage categories")
        try:
            routes = (
                None
                if body.area_routes is None
                else tuple(area_route(r.area_code, r.agency_id) for r in body.area_routes)
            )
            async with transaction(sessions) as session:
                if routes is None:
                    # A client that does not know area routes keeps them (old console forms).
                    current = await get_category(session, code, lock=True)
                    routes = current.area_routes if current is not None else ()
                category = Category(
                    code,
                    body.name_id,
                    body.name_en,
                    body.agency_id,
                    description_id=body.description_id,
                    description_en=body.description_en,
                    keywords=tuple(body.keywords),
                    group=body.group,
                    active=body.active,
                    area_routes=routes,
                )
                stored = await put_category(
                    session, runtime.topic(CATEGORIES.name), _actor(user), category
                )
                if stored is None:
                    stored = await get_category(session, code)
        except CategoryError as exc:
            raise HTTPException(status_code=exc.status, detail=exc.reason) from None
        assert stored is not None
        log.info("category saved", category=code, version=stored.version)
        return category_view(stored)

    @router.delete(
        "/v1/admin/categories/{code}",
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        responses={**_AUTH_ERRORS, 404: {"description": "no such category"}},
        tags=["administration"],
    )
    async def remove_category(
        code: Annotated[str, Path(max_length=100)],
        user: CurrentUser,
        sessions: SessionsDep,
        runtime: RuntimeDep,
    ) -> Response:
        """Retire a category: new reports are refused in it (and no longer auto-routed),
        old reports keep its name. Categories are never deleted; a PUT with `active` true
        brings it back."""
        require_role(user, {Role.ADMINISTRATOR}, "manage categories")
        async with transaction(sessions) as session:
            known = await retire_category(
                session, runtime.topic(CATEGORIES.name), _actor(user), code
            )
        if not known:
            raise HTTPException(status_code=404, detail="no such category")
        log.info("category retired", category=code)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    # --- users and agencies -------------------------------------------------------------

    @router.get(
        "/v1/admin/users",
        response_model=list[AccountView],
        responses=_AUTH_ERRORS,
        tags=["administration"],
    )
    async def users(user: CurrentUser, sessions: SessionsDep) -> list[AccountView]:
        """Every staff account (never a password hash)."""
        require_role(user, {Role.ADMINISTRATOR}, "manage users")
        async with sessions() as session:
            return [_account_view(a) for a in await list_users(session)]

    @router.patch(
        "/v1/admin/users/{user_id}",
        response_model=AccountView,
        responses={**_AUTH_ERRORS, 404: {"description": "no such user"}},
        tags=["administration"],
    )
    async def set_user_active(
        user_id: Annotated[str, Path(max_length=128)],
        body: ActiveBody,
        user: CurrentUser,
        sessions: SessionsDep,
    ) -> AccountView:
        """Deactivate (no login, no refresh; sessions revoked) or reactivate an account;
        move an agency officer to another unit (`unit_id`) or make them its head
        (`unit_head`): both revoke their sessions, the next token carries the new scope."""
        require_role(user, {Role.ADMINISTRATOR}, "manage users")
        fields = body.model_fields_set
        if not fields:
            raise HTTPException(
                status_code=422, detail="nothing to change: active, unit_id or unit_head"
            )
        if user_id == user.subject and body.active is False:
            # The last administrator locking themselves out needs a database to undo.
            raise HTTPException(status_code=409, detail="you cannot deactivate yourself")
        if "active" in fields and body.active is None:
            raise HTTPException(status_code=422, detail="active: true or false")
        try:
            async with transaction(sessions) as session:
                account = None
                if "unit_id" in fields or "unit_head" in fields:
                    account = await set_unit(
                        session,
                        user_id,
                        **({"unit_id": body.unit_id} if "unit_id" in fields else {}),
                        unit_head=body.unit_head,
                    )
                    if account is None:
                        raise HTTPException(status_code=404, detail="no such user")
                if body.active is not None:
                    account = await set_active(session, user_id, body.active)
        except IdentityError as exc:
            raise HTTPException(status_code=exc.status, detail=exc.reason) from None
        if account is None:
            raise HTTPException(status_code=404, detail="no such user")
        log.info(
            "account changed",
            user_id=user_id,
            active=body.active,
            unit=body.unit_id,
            unit_head=body.unit_head,
        )
        return _account_view(account)

    @router.get("/v1/public/agencies", response_model=list[AgencyView], tags=["public"])
    async def public_agencies(sessions: SessionsDep) -> list[AgencyView]:
        """Agency (OPD) codes and names, public: which agency handles a report is public
        information, and the portal shows its name instead of a code. Nothing else about
        an agency (officers, accounts) is public."""
        async with sessions() as session:
            return [AgencyView(agency_id=a, name=n) for a, n in await list_agencies(session)]

    @router.get(
        "/v1/reports/{report_id}/officers",
        response_model=list[OfficerView],
        responses={**_AUTH_ERRORS, 404: {"description": NOT_FOUND}},
        tags=["photo grants"],
    )
    async def report_officers(
        report_id: UUID, user: CurrentUser, sessions: SessionsDep, access_log: AccessLogDep
    ) -> list[OfficerView]:
        """The active officers of the agency the report is dispatched to (empty when it is
        with none), so a validator picks a grantee by name instead of typing a user id.
        Validators and administrators, and an agency officer on their own agency's report
        (colleagues to assign it to); the read is in the access log."""
        require_role(
            user,
            {Role.VALIDATOR, Role.ADMINISTRATOR, Role.AGENCY_OFFICER},
            "list a report's officers",
        )
        record = await report_scope(sessions, user, report_id)
        async with sessions() as session:
            officers = (
                await list_agency_officers(session, record.agency_id)
                if record.agency_id is not None
                else []
            )
        await access_log.record(
            user.subject, user.role, user.agency_id, [Read(report_id, _OFFICERS_FIELDS)]
        )
        return [
            OfficerView(user_id=o.user_id, username=o.username, display_name=o.display_name)
            for o in officers
        ]

    @router.get(
        "/v1/reports/{report_id}/notes",
        response_model=list[NoteView],
        responses={**_AUTH_ERRORS, 404: {"description": NOT_FOUND}},
        tags=["notes"],
    )
    async def notes(
        report_id: UUID, user: CurrentUser, sessions: SessionsDep, access_log: AccessLogDep
    ) -> list[NoteView]:
        """The report's internal notes, oldest first, for the officers who may open the
        report; the read is in the access log like any read of the report."""
        await report_scope(sessions, user, report_id)
        async with sessions() as session:
            rows = await session.execute(
                select(NOTES)
                .where(NOTES.c.report_id == report_id)
                .order_by(NOTES.c.created_at, NOTES.c.note_id)
            )
            found = [NoteView.model_validate(dict(r._mapping)) for r in rows]
        await access_log.record(
            user.subject, user.role, user.agency_id, [Read(report_id, _NOTES_FIELDS)]
        )
        return found

    @router.post(
        "/v1/reports/{report_id}/notes",
        response_model=NoteView,
        status_code=status.HTTP_201_CREATED,
        responses={**_AUTH_ERRORS, 404: {"description": NOT_FOUND}},
        tags=["notes"],
    )
    async def add_note(
        report_id: UUID, body: NoteRequest, user: CurrentUser, sessions: SessionsDep
    ) -> NoteView:
        """Write an internal note. The reporter's own values and the usual patterns are
        scrubbed as in the officer text: a note copied from a call must not carry the
        reporter's phone to every officer who opens the report."""
        record = await report_scope(sessions, user, report_id)
        note = scrub_officer_text(" ".join(body.text.split()), record.reporter_terms)
        async with transaction(sessions) as session:
            row = (
                await session.execute(
                    NOTES.insert()
                    .values(
                        note_id=uuid4(),
                        report_id=report_id,
                        author_id=user.subject,
                        author_name=user.name,
                        author_role=user.role.value,
                        author_agency=user.agency_id,
                        text=note,
                    )
                    .returning(*NOTES.c)
                )
            ).one()
        log.info("internal note added", report_id=str(report_id))
        return NoteView.model_validate(dict(row._mapping))

    async def _assignment(session: Any, report_id: UUID) -> AssignmentView:
        row = (
            await session.execute(
                select(ASSIGNMENTS, USERS.c.display_name, USERS.c.username)
                .select_from(
                    ASSIGNMENTS.outerjoin(USERS, USERS.c.user_id == ASSIGNMENTS.c.assignee_id)
                )
                .where(ASSIGNMENTS.c.report_id == report_id)
            )
        ).first()
        if row is None:
            return AssignmentView(
                report_id=report_id,
                assignee_id=None,
                assignee_name=None,
                assigned_by=None,
                assigned_at=None,
            )
        return AssignmentView(
            report_id=report_id,
            assignee_id=row.assignee_id,
            assignee_name=row.display_name or row.username,
            assigned_by=row.assigned_by,
            assigned_at=row.assigned_at,
        )

    @router.get(
        "/v1/reports/{report_id}/assignee",
        response_model=AssignmentView,
        responses={**_AUTH_ERRORS, 404: {"description": NOT_FOUND}},
        tags=["assignment"],
    )
    async def assignee(
        report_id: UUID, user: CurrentUser, sessions: SessionsDep, access_log: AccessLogDep
    ) -> AssignmentView:
        """Who in the agency works on the report (any officer who may open it)."""
        await report_scope(sessions, user, report_id)
        async with sessions() as session:
            found = await _assignment(session, report_id)
        await access_log.record(
            user.subject, user.role, user.agency_id, [Read(report_id, _ASSIGNEE_FIELDS)]
        )
        return found

    @router.put(
        "/v1/reports/{report_id}/assignee",
        response_model=AssignmentView,
        responses={**_AUTH_ERRORS, 404: {"description": NOT_FOUND}},
        tags=["assignment"],
    )
    async def assign(
        report_id: UUID, body: AssigneeRequest, user: CurrentUser, sessions: SessionsDep
    ) -> AssignmentView:
        """An officer of the report's agency assigns it to a colleague (or themselves), or
        clears the assignment. Only active officers of that agency can be assignees."""
        record = await report_scope(sessions, user, report_id)
        require_role(user, {Role.AGENCY_OFFICER}, "assign a report within an agency")
        if user.agency_id != record.agency_id:
            # A unit head (or a parent unit flagged by an escalation) reads the report;
            # working on it stays with the unit it is assigned to (issue 19, D19).
            raise HTTPException(403, "only the report's own unit assigns its officers")
        async with transaction(sessions) as session:
            if body.assignee is None:
                await session.execute(
                    ASSIGNMENTS.delete().where(ASSIGNMENTS.c.report_id == report_id)
                )
            else:
                target = await find_account(session, body.assignee)
                if (
                    target is None
                    or not target.active
                    or target.role is not Role.AGENCY_OFFICER
                    or target.agency_id != record.agency_id
                ):
                    raise HTTPException(
                        422, "assignee is not an active officer of the report's agency"
                    )
                stmt = pg_insert(ASSIGNMENTS).values(
                    report_id=report_id, assignee_id=target.user_id, assigned_by=user.subject
                )
                await session.execute(
                    stmt.on_conflict_do_update(
                        index_elements=[ASSIGNMENTS.c.report_id],
                        set_={
                            "assignee_id": stmt.excluded.assignee_id,
                            "assigned_by": stmt.excluded.assigned_by,
                            "assigned_at": func.now(),
                        },
                    )
                )
            found = await _assignment(session, report_id)
        log.info("report assigned", report_id=str(report_id), cleared=body.assignee is None)
        return found

    @router.get(
        "/v1/stats/dashboard",
        response_model=DashboardView,
        responses=_AUTH_ERRORS,
        tags=["dashboard"],
    )
    async def agency_dashboard(
        user: CurrentUser,
        sessions: SessionsDep,
        tree: UnitTreeDep,
        agency_id: Annotated[str | None, Query(max_length=64)] = None,
        months: Annotated[int, Query(ge=1, le=36)] = 12,
        unit: Annotated[
            str | None,
            Query(max_length=64, description="a unit and its sub-units (issue 19)"),
        ] = None,
        area: Annotated[
            str | None,
            Query(max_length=20, description="a Kemendagri area code: it and all inside it"),
        ] = None,
    ) -> DashboardView:
        """An agency's figures: open reports by status, overdue, completed per month, and
        per stage the median time and the share done on time; per unit open and overdue,
        and open reports escalated to the units covered. Agency officers get their own
        scope (their unit; a unit head's, with its sub-units) or a unit inside it;
        full-access roles any unit's (with its sub-units), any agency's, or the city's."""
        require_role(user, OFFICER_ROLES, "read the dashboard")
        code: str | None = None
        if area is not None:
            code = aduan_areas.normalize_code(area)
            if code is None or aduan_areas.get(code) is None:
                raise HTTPException(status_code=422, detail="area: not a Kemendagri area code")
        units = unit_filter(user, tree, unit)
        if user.role is Role.AGENCY_OFFICER:
            if user.agency_id is None:
                raise HTTPException(status_code=403, detail="an officer without an agency")
            if units is None:
                units, unit = user.scope, user.agency_id
            agency_id = None
        elif units is not None:
            agency_id = None
        async with sessions() as session:
            found = await dashboard(session, agency_id, months, units=units, area=code)
        return DashboardView(
            agency_id=found.agency_id if units is None else unit,
            open_by_status=found.open_by_status,
            overdue=found.overdue,
            completed_by_month=found.completed_by_month,
            stages=[StageFigureView.model_validate(s, from_attributes=True) for s in found.stages],
            unit_id=unit if units is not None else agency_id,
            units=found.units,
            area=found.area,
            by_unit=[
                UnitFigureView(
                    unit_id=u.unit_id,
                    name=tree.units[u.unit_id].name if u.unit_id in tree.units else u.unit_id,
                    open=u.open,
                    overdue=u.overdue,
                )
                for u in found.by_unit
            ],
            escalations=EscalationCounts(**found.escalations),
        )

    @router.get(
        "/v1/admin/agencies",
        response_model=list[AgencyView],
        responses=_AUTH_ERRORS,
        tags=["administration"],
    )
    async def agencies(user: CurrentUser, sessions: SessionsDep) -> list[AgencyView]:
        """Every agency (OPD). Any staff role: a ticket-admin picks one to dispatch to."""
        require_role(user, OFFICER_ROLES, "list agencies")
        async with sessions() as session:
            return [AgencyView(agency_id=a, name=n) for a, n in await list_agencies(session)]

    return router


def _actor(user: Principal) -> Actor:
    return Actor(id=user.subject, role=user.role, agency_id=user.agency_id, display_name=user.name)
