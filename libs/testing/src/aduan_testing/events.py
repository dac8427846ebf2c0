"""Builders of the events tests feed consumers, so each test names only what it is about."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aduan_contracts.enums import ReportStatus, Role
from aduan_contracts.events import ReportStatusChanged, ReportSubmitted
from aduan_contracts.values import Actor

__all__ = ["status_step"]


def status_step(
    report: ReportSubmitted,
    version: int,
    to: ReportStatus,
    occurred_at: datetime,
    **changes: Any,
) -> ReportStatusChanged:
    """Workflow's step `version` of `report` to `to`, by the system, in the road category
    and Bina Marga's hands unless `changes` say otherwise."""
    values: dict[str, Any] = {
        "report_id": report.report_id,
        "receipt_code": report.receipt_code,
        "channel": report.channel,
        "version": version,
        "from_status": None,
        "to_status": to,
        "actor": Actor(id="workflow", role=Role.SYSTEM),
        "category": "jalan",
        "agency_id": "dinas-bina-marga",
        "occurred_at": occurred_at,
    }
    values.update(changes)
    return ReportStatusChanged(**values)
