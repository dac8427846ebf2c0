"""HTTP routes: public pages (HTML) and the same data as JSON. Thin: parse, query, render."""

from __future__ import annotations

import contextlib
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import Row, or_, select

from aduan_contracts.enums import ReportStatus
from aduan_kit.runtime import ServiceRuntime
from aduan_portal.domain import PublicReport, PublicTimelineStep, pick_language
from aduan_portal.rendering import STATIC_DIR, render_index, render_not_found, render_report
from aduan_portal.tables import PUBLIC_REPORTS

__all__ = ["api_router"]

Lang = Annotated[str | None, Query(description="`en` for English; Indonesian otherwise")]


def _to_model(row: Row[Any]) -> PublicReport:
    return PublicReport(
        report_id=row.report_id,
        public_id=row.public_id,
        title=row.title,
        text=row.text,
        category=row.category,
        agency_id=row.agency_id,
        status=ReportStatus(row.status),
        status_label=row.status_label,
        channel=row.channel,
        area=row.area,
        month=row.month,
        confidentiality_label=row.confidentiality_label,
        timeline=tuple(PublicTimelineStep.model_validate(t) for t in row.timeline),
    )


def api_router(runtime: ServiceRuntime, page_size: int) -> APIRouter:
    router = APIRouter()
    css = (STATIC_DIR / "portal.css").read_text()

    async def list_reports(
        page: int, status: ReportStatus | None
    ) -> tuple[list[PublicReport], bool]:
        query = select(PUBLIC_REPORTS).where(PUBLIC_REPORTS.c.withdrawn.is_(False))
        if status is not None:
            query = query.where(PUBLIC_REPORTS.c.status == status.value)
        query = (
            query.order_by(PUBLIC_REPORTS.c.updated_at.desc(), PUBLIC_REPORTS.c.report_id)
            .offset((page - 1) * page_size)
            .limit(page_size + 1)  # one extra row tells whether there is a next page
        )
        async with runtime.sessions() as session:
            rows = (await session.execute(query)).all()
        return [_to_model(r) for r in rows[:page_size]], len(rows) > page_size

    async def find(public_id: str) -> PublicReport | None:
        # The gateway's public id, or the report id itself (links built from a report id).
        match = PUBLIC_REPORTS.c.public_id == public_id
        with contextlib.suppress(ValueError):
            match = or_(match, PUBLIC_REPORTS.c.report_id == uuid.UUID(public_id))
        query = (
            select(PUBLIC_REPORTS)
            .where(match, PUBLIC_REPORTS.c.withdrawn.is_(False))
            .order_by(PUBLIC_REPORTS.c.updated_at.desc())
            .limit(1)
        )
        async with runtime.sessions() as session:
            row = (await session.execute(query)).first()
        return _to_model(row) if row is not None else None

    @router.get("/", response_class=HTMLResponse, tags=["pages"])
    async def index(
        lang: Lang = None,
        page: Annotated[int, Query(ge=1, le=10_000)] = 1,
        status: ReportStatus | None = None,
    ) -> HTMLResponse:
        """List of public reports, newest first."""
        reports, has_next = await list_reports(page, status)
        language = pick_language(lang)
        return HTMLResponse(
            render_index(reports, language, page, has_next, status.value if status else None)
        )

    @router.get("/reports/{public_id}", response_class=HTMLResponse, tags=["pages"])
    async def report_page(public_id: str, request: Request, lang: Lang = None) -> HTMLResponse:
        """One public report: text, status, area, month, confidentiality label, timeline."""
        language = pick_language(lang)
        report = await find(public_id)
        if report is None:
            return HTMLResponse(render_not_found(language, request.url.path), status_code=404)
        return HTMLResponse(render_report(report, language))

    @router.get("/api/reports", tags=["api"])
    async def reports_json(
        page: Annotated[int, Query(ge=1, le=10_000)] = 1,
        status: ReportStatus | None = None,
    ) -> list[PublicReport]:
        """Public reports as JSON, newest first."""
        reports, _ = await list_reports(page, status)
        return reports

    @router.get("/api/reports/{public_id}", tags=["api"])
    async def report_json(public_id: str) -> PublicReport:
        """One public report as JSON."""
        report = await find(public_id)
        if report is None:
            raise HTTPException(status_code=404, detail="report not found")
        return report

    @router.get("/static/portal.css", include_in_schema=False)
    async def stylesheet() -> Response:
        """The portal's stylesheet."""
        return Response(
            css, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"}
        )

    return router
