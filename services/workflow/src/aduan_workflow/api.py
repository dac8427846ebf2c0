"""HTTP routes: an internal read of a report's lifecycle for operators and tests.

Workflow holds no personal data, but this is still internal: it is not routed through the
privacy gateway, so deployments must keep `/internal` off the public network.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from aduan_contracts.enums import ReportStatus, Role
from aduan_kit.runtime import ServiceRuntime
from aduan_workflow.handlers import load_report
from aduan_workflow.tables import STATUS_HISTORY

__all__ = ["HistoryEntry", "ReportLifecycleView", "api_router"]


class HistoryEntry(BaseModel):
    """One step of a report's lifecycle."""

    model_config = ConfigDict(frozen=True)

    version: int
    from_status: ReportStatus | None
    to_status: ReportStatus
    actor_role: Role
    occurred_at: datetime


class ReportLifecycleView(BaseModel):
    """Where a report stands and how it got there (no personal data: workflow has none)."""

    model_config = ConfigDict(frozen=True)

    report_id: UUID
    receipt_code: str
    status: ReportStatus
    status_label: str
    version: int
    agency_id: str | None
    history: list[HistoryEntry]


def api_router(runtime: ServiceRuntime) -> APIRouter:
    router = APIRouter(prefix="/internal", tags=["internal"])

    @router.get("/reports/{report_id}", response_model=ReportLifecycleView)
    async def get_report(report_id: UUID) -> ReportLifecycleView:
        """A report's status, Indonesian label, version, agency and status history."""
        async with runtime.sessions() as session:
            report = await load_report(session, report_id)
            if report is None:
                raise HTTPException(status_code=404, detail=f"report {report_id} is unknown")
            rows = (
                await session.execute(
                    select(STATUS_HISTORY)
                    .where(STATUS_HISTORY.c.report_id == report_id)
                    .order_by(STATUS_HISTORY.c.version)
                )
            ).all()
        return ReportLifecycleView(
            report_id=report.id,
            receipt_code=report.receipt_code,
            status=report.status,
            status_label=report.status.label_id,
            version=report.version,
            agency_id=report.agency_id,
            history=[
                HistoryEntry(
                    version=row.version,
                    from_status=ReportStatus(row.from_status) if row.from_status else None,
                    to_status=ReportStatus(row.to_status),
                    actor_role=Role(row.actor_role),
                    occurred_at=row.occurred_at,
                )
                for row in rows
            ],
        )

    return router
