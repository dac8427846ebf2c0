"""Which lifecycle changes a reporter hears about, and under which template."""

from __future__ import annotations

from enum import StrEnum

from aduan_contracts.enums import ReportStatus

__all__ = ["Template", "template_for"]


class Template(StrEnum):
    RECEIVED = "received"
    DISPATCHED = "dispatched"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FOLLOWUP_REJECTED = "followup_rejected"
    REJECTED = "rejected"
    MERGED = "merged"
    REOPENED = "reopened"


_DIRECT = {
    ReportStatus.RECEIVED: Template.RECEIVED,
    ReportStatus.DISPATCHED: Template.DISPATCHED,
    ReportStatus.COMPLETED: Template.COMPLETED,
    ReportStatus.FOLLOWUP_REJECTED: Template.FOLLOWUP_REJECTED,
    ReportStatus.REJECTED: Template.REJECTED,
    ReportStatus.MERGED: Template.MERGED,
}


def template_for(from_status: ReportStatus | None, to_status: ReportStatus) -> Template | None:
    """The template for a transition, or None when it does not concern the reporter.

    Internal steps (coordination, awaiting validation, field verification) stay internal.
    `completed -> in_progress` is a reopening. `followup_rejected -> in_progress` (the agency
    resumes) is silent: the reporter was just told the agency would work on it again.
    """
    if to_status is ReportStatus.IN_PROGRESS:
        if from_status is ReportStatus.COMPLETED:
            return Template.REOPENED
        if from_status is ReportStatus.FOLLOWUP_REJECTED:
            return None
        return Template.IN_PROGRESS
    return _DIRECT.get(to_status)
