"""Data-subject requests (UU 27/2022): a reporter's export of their data and of who read
it, and erasure of their identity everywhere (crypto-shredding, rule 9)."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from aduan_contracts.enums import ReportStatus, Role
from aduan_contracts.events import ReporterErasureRequested
from aduan_contracts.topics import ERASURE_REQUESTS
from aduan_contracts.values import Actor
from aduan_gateway.adapters.readmodel import (
    ReportFilter,
    access_log_rows,
    get_key,
    list_reports,
    load_report,
)
from aduan_gateway.adapters.tables import OUTBOX, RATINGS
from aduan_gateway.auth import CurrentUser, Principal
from aduan_gateway.domain.views import (
    OFFICER_ROLES,
    ReporterReportView,
    reporter_view,
    visible_to_officer,
)
from aduan_gateway.entrypoints.deps import (
    RuntimeDep,
    SessionsDep,
    forbidden,
    not_found,
    owns,
    require_role,
)
from aduan_kit.crypto import open_identity
from aduan_kit.db import transaction
from aduan_kit.logging import correlation_id, get_logger
from aduan_kit.messaging import add_to_outbox
from aduan_kit.redaction import scrub_officer_text
from aduan_kit.runtime import ServiceRuntime

__all__ = ["reporter_router"]

log = get_logger(__name__)


class IdentityExport(BaseModel):
    model_config = ConfigDict(frozen=True)
    name: str | None
    contact: str | None
    handle: str | None


class AccessRecord(BaseModel):
    """One read of the reporter's report by an officer."""

    model_config = ConfigDict(frozen=True)
    at: datetime
    report_id: UUID
    reader: str
    role: str
    agency_id: str | None
    fields: tuple[str, ...]


class DataExport(BaseModel):
    """Everything the gateway holds about the reporter, and who read it."""

    model_config = ConfigDict(frozen=True)
    generated_at: datetime
    identity: IdentityExport | None
    reports: tuple[ReporterReportView, ...]
    accesses: tuple[AccessRecord, ...]


class ErasureAccepted(BaseModel):
    model_config = ConfigDict(frozen=True)
    status: str = "accepted"
    detail: str


class AdminErasureBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    report_id: UUID


def _reporter_key(user: Principal) -> UUID:
    if user.role is not Role.REPORTER or user.reporter_key_id is None:
        forbidden("reporter self-service only (sign in with receipt code and contact)")
    return user.reporter_key_id


async def _request_erasure(runtime: ServiceRuntime, key_id: UUID, by: Principal) -> None:
    cid = correlation_id.get()
    event = ReporterErasureRequested(
        key_id=key_id,
        requested_by=Actor(id=by.subject, role=by.role, agency_id=by.agency_id),
        **({"correlation_id": cid} if cid else {}),
    )
    async with transaction(runtime.sessions) as session:
        await add_to_outbox(
            session, OUTBOX, runtime.topic(ERASURE_REQUESTS.name), event, key=key_id
        )


_ERASURE_DETAIL = (
    "erasure requested: the reporter's key is shredded by intake, after which the identity "
    "cannot be opened anywhere, the event log included; reports stay for statistics"
)


def reporter_router() -> APIRouter:
    router = APIRouter(tags=["reporters"])

    @router.get("/v1/reporter/export", response_model=DataExport)
    async def export_my_data(user: CurrentUser, sessions: SessionsDep) -> DataExport:
        """The reporter's identity, reports and every officer read of them."""
        key_id = _reporter_key(user)
        async with sessions() as session:
            records = await list_reports(session, 1000, 0, ReportFilter(), reporter_key_id=key_id)
            key = await get_key(session, key_id)
            rows = await access_log_rows(session, [r.report_id for r in records], 10_000)
        identity = None
        sealed = next((r.sealed_identity for r in records if r.sealed_identity), None)
        if sealed is not None and key is not None:
            opened = open_identity(sealed, key)
            identity = IdentityExport(
                name=opened.get("name"), contact=opened.get("contact"), handle=opened.get("handle")
            )
        log.info("data-subject export", reports=len(records), accesses=len(rows))
        return DataExport(
            generated_at=datetime.now(UTC),
            identity=identity,
            reports=tuple(v for v in (reporter_view(r) for r in records) if v is not None),
            accesses=tuple(
                AccessRecord(
                    at=r["at"],
                    report_id=r["report_id"],
                    reader=r["subject"],
                    role=r["role"],
                    agency_id=r["agency_id"],
                    fields=tuple(r["fields"]),
                )
                for r in rows
            ),
        )

    @router.post(
        "/v1/reporter/erasure",
        response_model=ErasureAccepted,
        status_code=status.HTTP_202_ACCEPTED,
    )
    async def erase_me(user: CurrentUser, runtime: RuntimeDep) -> ErasureAccepted:
        """Erase the reporter's identity everywhere (reports stay, anonymous)."""
        key_id = _reporter_key(user)
        await _request_erasure(runtime, key_id, user)
        log.info("erasure requested by reporter", key_id=str(key_id))
        return ErasureAccepted(detail=_ERASURE_DETAIL)

    @router.post(
        "/v1/admin/erasure",
        response_model=ErasureAccepted,
        status_code=status.HTTP_202_ACCEPTED,
        tags=["administration"],
    )
    async def erase_reporter_of(
        body: AdminErasureBody, user: CurrentUser, runtime: RuntimeDep, sessions: SessionsDep
    ) -> ErasureAccepted:
        """Erase the identity of a report's reporter on their behalf (administrators)."""
        require_role(user, {Role.ADMINISTRATOR}, "request erasures")
        async with sessions() as session:
            record = await load_report(session, body.report_id)
        if record is None or not record.has_content:
            not_found()
        if record.reporter_key_id is None:
            raise HTTPException(status_code=409, detail="the report has no reporter identity")
        await _request_erasure(runtime, record.reporter_key_id, user)
        log.info("erasure requested by administrator", report_id=str(body.report_id))
        return ErasureAccepted(detail=_ERASURE_DETAIL)

    # --- the reporter's rating of the result ----------------------------------------------

    @router.put(
        "/v1/reports/{report_id}/rating",
        response_model=RatingView,
        responses={
            403: {"description": "only the report's reporter rates it"},
            404: {"description": "not the caller's report"},
            409: {"description": "the report is not completed"},
        },
    )
    async def rate(
        report_id: UUID, body: RatingBody, user: CurrentUser, sessions: SessionsDep
    ) -> RatingView:
        """The reporter rates the result of their completed report, 1 to 5 with an optional
        comment (scrubbed of their own values like everything they write); rating again
        replaces it."""
        require_role(user, {Role.REPORTER}, "rate reports")
        async with sessions() as session:
            record = await load_report(session, report_id)
        if record is None or not record.complete or not owns(user, record):
            not_found()
        if record.status is not ReportStatus.COMPLETED:
            raise HTTPException(status_code=409, detail="only a completed report can be rated")
        comment = " ".join((body.comment or "").split())
        values = {
            "score": body.score,
            "comment": scrub_officer_text(comment, record.reporter_terms) if comment else None,
            "rated_at": func.now(),
        }
        async with transaction(sessions) as session:
            row = (
                await session.execute(
                    pg_insert(RATINGS)
                    .values(report_id=report_id, **values)
                    .on_conflict_do_update(index_elements=[RATINGS.c.report_id], set_=values)
                    .returning(*RATINGS.c)
                )
            ).one()
        log.info("report rated", report_id=str(report_id), score=body.score)
        return RatingView.model_validate(dict(row._mapping))

    @router.get(
        "/v1/reports/{report_id}/rating",
        response_model=RatingView,
        responses={404: {"description": "not rated, or not a report the caller may open"}},
    )
    async def rating(report_id: UUID, user: CurrentUser, sessions: SessionsDep) -> RatingView:
        """The rating, for its reporter and for the officers who may open the report."""
        async with sessions() as session:
            record = await load_report(session, report_id)
            row = (
                await session.execute(select(RATINGS).where(RATINGS.c.report_id == report_id))
            ).first()
        allowed = (
            record is not None
            and record.complete
            and (
                owns(user, record)
                or (
                    user.role in OFFICER_ROLES and visible_to_officer(record, user.role, user.scope)
                )
            )
        )
        if not allowed or row is None:
            not_found()
        return RatingView.model_validate(dict(row._mapping))

    return router


class RatingBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    score: int = Field(ge=1, le=5, description="1 (bad) to 5 (very good)")
    comment: str | None = Field(default=None, max_length=1000)


class RatingView(BaseModel):
    model_config = ConfigDict(frozen=True)

    report_id: UUID
    score: int
    comment: str | None
    rated_at: datetime
