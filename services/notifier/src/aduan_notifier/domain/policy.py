"""Which lifecycle changes a reporter hears about, and under which template."""

from __future__ import annotations

from enum import StrEnum

from aduan_contracts.enums import ReportStatus

__all__ = ["Reach", "Template", "reach", "template_for"]


class Template(StrEnum):
    RECEIVED = "received"
    DISPATCHED = "dispatched"
    # A report routed as it was opened (workflow's auto-routing records `received` and
    # `dispatched` together): one message says both, not two in the same second.
    RECEIVED_DISPATCHED = "received_dispatched"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    FOLLOWUP_REJECTED = "followup_rejected"
    REJECTED = "rejected"
    MERGED = "merged"
    REOPENED = "reopened"
    SLA_APOLOGY = "sla_apology"  # a stage deadline passed (SlaBreached), where configured
    QUESTION = "question"  # an officer asks the reporter (ReporterQuestionAsked)
    # The reporter's SMS/WhatsApp reply was taken as the answer (ReportAmended.in_reply_to):
    # they should know it did not become a new complaint.
    ANSWER_RECEIVED = "answer_received"


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


def template_for_event(
    from_status: ReportStatus | None,
    to_status: ReportStatus,
    primary_status: ReportStatus | None = None,
) -> Template | None:
    """Like `template_for`, and a merged report follows its primary: when the primary moves
    on, workflow records `merged -> merged` with the primary's new status, and the merged
    reporter hears what the primary's reporter hears (SPEC: merged reporters stay informed)."""
    if from_status is ReportStatus.MERGED and to_status is ReportStatus.MERGED:
        # Re-pointing to a new primary (no news for the reporter) carries no usable status.
        if primary_status is None or primary_status is ReportStatus.MERGED:
            return None
        return template_for(None, primary_status)
    return template_for(from_status, to_status)


class Reach(StrEnum):
    """Whether a reporter can be told about a change now."""

    DELIVER = "deliver"
    WAIT_FOR_INTAKE = "wait_for_intake"  # staff-entered, and whether a contact was left is unknown
    UNREACHABLE = "unreachable"  # no contact left, or identity erased: record nothing


def reach(staff_entered: bool, recipient_known: bool, has_identity: bool, erased: bool) -> Reach:
    """Walk-in, letter and call-centre reporters are answered only if they left a contact;
    an erased reporter is never contacted again. Everyone else is answered on their channel
    even before intake's event arrived (the status event carries channel and receipt code)."""
    if erased:
        return Reach.UNREACHABLE
    if not staff_entered:
        return Reach.DELIVER
    if not recipient_known:
        return Reach.WAIT_FOR_INTAKE
    return Reach.DELIVER if has_identity else Reach.UNREACHABLE
