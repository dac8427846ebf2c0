"""HTTP routes: an internal read of a report's lifecycle for operators and tests.

Workflow holds no personal data, but this is still internal: it is not routed through the
privacy gateway, so deployments must keep `/internal` off the public network.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict
from sqlalchemy import select

from aduan_contracts.enums import ReportStatus, Role, SlaStage
from aduan_contracts.envelope import utcnow
from aduan_kit.runtime import ServiceRuntime
from aduan_workflow.adapters.tables import REPORTS, SLA_CLOCKS, STATUS_HISTORY

__all__ = ["HistoryEntry", "ReportLifecycleView", "SlaClockView", "router"]


class HistoryEntry(BaseModel):
    """One step of a report's lifecycle."""

    model_config = ConfigDict(frozen=True)

    version: int
    from_status: ReportStatus | None
    to_status: ReportStatus
    actor_id: str
    actor_role: Role
    actor_agency: str | None
    actor_display_name: str | None
    reason: str | None
    occurred_at: datetime


class SlaClockView(BaseModel):
    """One stage clock: running (`closed_at` None) or stopped; reminded/breached when fired."""

    model_config = ConfigDict(frozen=True)

    stage: SlaStage
    started_at: datetime
    due_at: datetime
    remind_at: datetime
    reminded_at: datetime | None
    breached_at: datetime | None
    closed_at: datetime | None
    overdue: bool


class ReportLifecycleView(BaseModel):
    """Where a report stands and how it got there (no personal data: workflow has none)."""

    model_config = ConfigDict(frozen=True)

    report_id: UUID
    receipt_code: str
    status: ReportStatus
    status_label: str
    version: int
    agency_id: str | None
    merged_into: UUID | None
    primary_status: ReportStatus | None
    sla_stage: SlaStage | None
    due_at: datetime | None
    sla: list[SlaClockView]
    history: list[HistoryEntry]


router = APIRouter(prefix="/internal", tags=["internal"])


@router.get("/reports/{report_id}", response_model=ReportLifecycleView)
async def get_report(report_id: UUID, request: Request) -> ReportLifecycleView:
    """A report's status, label, version, agency, SLA clocks and status history."""
    runtime: ServiceRuntime = request.app.state.runtime
    async with runtime.sessions() as session:
        report = (await session.execute(select(REPORTS).where(REPORTS.c.id == report_id))).first()
        if report is None:
            raise HTTPException(status_code=404, detail=f"report {report_id} is unknown")
        rows = (
            await session.execute(
                select(STATUS_HISTORY)
                .where(STATUS_HISTORY.c.report_id == report_id)
                .order_by(STATUS_HISTORY.c.version)
            )
        ).all()
        clocks = (
            await session.execute(
                select(SLA_CLOCKS)
                .where(SLA_CLOCKS.c.report_id == report_id)
                .order_by(SLA_CLOCKS.c.started_at, SLA_CLOCKS.c.id)
            )
        ).all()
    now = utcnow()
    sla = [
        SlaClockView(
            stage=SlaStage(c.stage),
            started_at=c.started_at,
            due_at=c.due_at,
            remind_at=c.remind_at,
            reminded_at=c.reminded_at,
            breached_at=c.breached_at,
            closed_at=c.closed_at,
            overdue=c.closed_at is None and c.due_at <= now,
        )
        for c in clocks
    ]
    running = sorted((c for c in sla if c.closed_at is None), key=lambda c: c.due_at)
    return ReportLifecycleView(
        report_id=report.id,
        receipt_code=report.receipt_code,
        status=ReportStatus(report.status),
        status_label=ReportStatus(report.status).label_id,
        version=report.version,
        agency_id=report.agency_id,
        merged_into=report.merged_into,
        primary_status=ReportStatus(report.primary_status) if report.primary_status else None,
        sla_stage=running[0].stage if running else None,
        due_at=running[0].due_at if running else None,
        sla=sla,
        history=[
            HistoryEntry(
                version=row.version,
                from_status=ReportStatus(row.from_status) if row.from_status else None,
                to_status=ReportStatus(row.to_status),
                actor_id=row.actor_id,
                actor_role=Role(row.actor_role),
                actor_agency=row.actor_agency,
                actor_display_name=row.actor_display_name,
                reason=row.reason,
                occurred_at=row.occurred_at,
            )
            for row in rows
        ],
    )
