"""HTTP routes: the public portal's reads and officers' reads, each through its view."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, HTTPException, Query, Request, status
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aduan_gateway.auth import CurrentUser
from aduan_gateway.config import Settings
from aduan_gateway.domain.views import (
    OFFICER_ROLES,
    OfficerReportView,
    PublicReportView,
    officer_view,
    public_view,
)
from aduan_gateway.readmodel import append_access_log, list_public, load_report
from aduan_kit.db import transaction
from aduan_kit.logging import get_logger

__all__ = ["NOT_FOUND", "PublicReportPage", "api_router"]

log = get_logger(__name__)

# One body for "private", "not yet complete", "other agency" and "does not exist": a caller
# must not learn that a report exists from the answer (SPEC rule 4).
NOT_FOUND = "report not found"


class PublicReportPage(BaseModel):
    """A page of public reports, newest first."""

    model_config = ConfigDict(frozen=True)

    items: tuple[PublicReportView, ...]
    limit: int
    offset: int


def _sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    sessions: async_sessionmaker[AsyncSession] = request.app.state.runtime.sessions
    return sessions


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SessionsDep = Annotated[async_sessionmaker[AsyncSession], Depends(_sessions)]
SettingsDep = Annotated[Settings, Depends(_settings)]


def _not_found() -> HTTPException:
    return HTTPException(status_code=status.HTTP_404_NOT_FOUND, detail=NOT_FOUND)


def returned_fields(view: OfficerReportView) -> tuple[str, ...]:
    """Names of the fields a view actually carried, for the access log (rule 7)."""
    fields: list[str] = []
    for name, value in view.model_dump().items():
        if value in (None, (), [], ""):
            continue
        if name == "location" and isinstance(value, dict):
            fields += [f"location.{k}" for k, v in value.items() if v is not None]
        else:
            fields.append(name)
    return tuple(sorted(fields))


def api_router() -> APIRouter:
    router = APIRouter()

    @router.get("/v1/public/reports", response_model=PublicReportPage, tags=["public"])
    async def list_public_reports(
        sessions: SessionsDep,
        limit: Annotated[int, Query(ge=1, le=100)] = 20,
        offset: Annotated[int, Query(ge=0, le=100_000)] = 0,
    ) -> PublicReportPage:
        """List public reports (redacted), newest first."""
        async with sessions() as session:
            records = await list_public(session, limit, offset)
        views = [v for v in (public_view(r) for r in records) if v is not None]
        return PublicReportPage(items=tuple(views), limit=limit, offset=offset)

    @router.get(
        "/v1/public/reports/{report_id}",
        response_model=PublicReportView,
        responses={404: {"description": NOT_FOUND}},
        tags=["public"],
    )
    async def get_public_report(report_id: UUID, sessions: SessionsDep) -> PublicReportView:
        """Read one public report (redacted); private and unknown reports are both 404."""
        async with sessions() as session:
            record = await load_report(session, report_id)
        view = public_view(record) if record is not None else None
        if view is None:
            raise _not_found()
        return view

    @router.get(
        "/v1/reports/{report_id}",
        response_model=OfficerReportView,
        responses={
            401: {"description": "missing, invalid or expired token"},
            403: {"description": "role may not read officer views"},
            404: {"description": NOT_FOUND},
        },
        tags=["officers"],
    )
    async def get_report(
        report_id: UUID, user: CurrentUser, sessions: SessionsDep, settings: SettingsDep
    ) -> OfficerReportView:
        """Read one report as an officer; what is shown depends on the role (audited)."""
        if user.role not in OFFICER_ROLES:
            raise HTTPException(
                status_code=status.HTTP_403_FORBIDDEN, detail="role may not read officer views"
            )
        # The read and its access-log entry commit together: no data leaves unlogged.
        async with transaction(sessions) as session:
            record = await load_report(session, report_id)
            view = (
                officer_view(record, user.role, user.agency_id, settings.pseudonym_secret)
                if record is not None
                else None
            )
            if view is None:
                raise _not_found()
            await append_access_log(
                session,
                user.subject,
                user.role,
                user.agency_id,
                report_id,
                returned_fields(view),
            )
        log.info("officer read", report_id=str(report_id), role=user.role.value)
        return view

    return router
