"""The report lifecycle (SPEC, "Report lifecycle") as a pure state machine.

`decide(report, command, now, reopen_window)` answers a command with either a `Transition`
(what changes, to be stored and announced) or a `Refusal` (a `CommandRefused` code and a
reason a person can act on). Nothing here does I/O: the handlers load the report, call
`decide`, and persist the answer.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal
from uuid import UUID

from aduan_contracts.actions import ACTIONS
from aduan_contracts.commands import (
    AcceptReport,
    CoordinateReport,
    DispatchReport,
    MergeReport,
    OrderFieldVerification,
    RecordFieldVerification,
    RejectFollowUp,
    RejectReport,
    ReopenReport,
    ResumeReport,
    ReturnReport,
    SubmitFollowUp,
    ValidateFollowUp,
)
from aduan_contracts.enums import Channel, ReportStatus, Role
from aduan_contracts.events import ReportSubmitted
from aduan_contracts.values import Actor, EvidenceCheck, FollowUp

__all__ = [
    "RULES",
    "SYSTEM_ACTOR",
    "Command",
    "Refusal",
    "RefusalCode",
    "Report",
    "Rule",
    "Transition",
    "apply",
    "check_merge_target",
    "decide",
    "follow_primary",
    "opening",
]

S = ReportStatus

Command = (
    DispatchReport
    | CoordinateReport
    | AcceptReport
    | ReturnReport
    | SubmitFollowUp
    | ResumeReport
    | ValidateFollowUp
    | RejectFollowUp
    | OrderFieldVerification
    | RecordFieldVerification
    | RejectReport
    | MergeReport
    | ReopenReport
)

RefusalCode = Literal[
    "forbidden_role",
    "wrong_agency",
    "invalid_transition",
    "version_conflict",
    "not_found",
    "invalid",
    "reopen_window_closed",
]

SYSTEM_ACTOR = Actor(id="system", role=Role.SYSTEM)
"""Who opens a report and who auto-routes it: never a person."""


@dataclass(frozen=True, slots=True)
class Report:
    """Workflow's own view of a report: status and assignment, no personal data at all."""

    id: UUID
    receipt_code: str
    channel: Channel
    status: ReportStatus
    version: int
    agency_id: str | None
    category: str | None
    received_at: datetime
    completed_at: datetime | None = None
    merged_into: UUID | None = None
    primary_status: ReportStatus | None = None
    """On a merged report: the status of the primary it follows."""


@dataclass(frozen=True, slots=True)
class Transition:
    """An accepted command. `agency_id`, `category`, `completed_at` and `merged_into` are the
    report's values *after* the transition (not deltas), so an event carrying them is
    self-sufficient for a read model."""

    from_status: ReportStatus
    to_status: ReportStatus
    version: int
    actor: Actor
    occurred_at: datetime
    reason: str | None
    agency_id: str | None
    category: str | None
    completed_at: datetime | None
    merged_into: UUID | None
    follow_up: FollowUp | None = None
    field_result: str | None = None
    primary_status: ReportStatus | None = None
    evidence: EvidenceCheck | None = None


@dataclass(frozen=True, slots=True)
class Refusal:
    """A refused command: nothing changes; `reason` is shown to the person who asked."""

    code: RefusalCode
    reason: str


@dataclass(frozen=True, slots=True)
class Rule:
    """Who may send a command, from which statuses, to which statuses it leads (the table the
    docs' diagram is generated from; a unit test checks `decide` never leaves it), and how
    the command reads in an error."""

    sources: frozenset[ReportStatus]
    targets: frozenset[ReportStatus]
    roles: frozenset[Role]
    agency_bound: bool
    verb: str
    who: str


# Built from the one action table in `aduan_contracts.actions` (also read by the gateway
# and the console): who may send each command, from which statuses to which.
RULES: dict[type[Command], Rule] = {
    spec.command: Rule(
        spec.sources, spec.targets, spec.deciders, spec.agency_bound, spec.verb, spec.who
    )
    for spec in ACTIONS
}


def opening(event: ReportSubmitted) -> Report:
    """The report as workflow first knows it: received, version 1, not yet assigned."""
    return Report(
        id=event.report_id,
        receipt_code=event.receipt_code,
        channel=event.channel,
        status=S.RECEIVED,
        version=1,
        agency_id=None,
        category=event.category_hint,
        received_at=event.received_at,
    )


def _format_window(window: timedelta) -> str:
    if window % timedelta(days=1) == timedelta(0):
        days = window.days
        return f"{days} day" if days == 1 else f"{days} days"
    hours = window / timedelta(hours=1)
    return f"{hours:g} hours"


def _check_access(report: Report, command: Command, rule: Rule) -> Refusal | None:
    actor = command.actor
    if actor.role not in rule.roles:
        return Refusal("forbidden_role", f"only {rule.who} may {rule.verb} a report")
    if rule.agency_bound:
        # An officer only acts on reports of their own agency (SPEC: "agency-officer of
        # that agency"); this is checked before the status so an officer of another agency
        # learns nothing about where the report stands.
        if actor.agency_id is None:
            return Refusal("wrong_agency", "an agency officer must belong to an agency")
        if report.agency_id is None:
            return Refusal("wrong_agency", "report is not dispatched to any agency")
        if actor.agency_id != report.agency_id:
            return Refusal(
                "wrong_agency", f"report is dispatched to agency {report.agency_id}, not yours"
            )
    return None


def decide(
    report: Report, command: Command, now: datetime, reopen_window: timedelta
) -> Transition | Refusal:
    """Check role, agency, expected version and current status; return what happens."""
    rule = RULES[type(command)]
    if refusal := _check_access(report, command, rule):
        return refusal
    # The version comes before the status: a stale client is better told "someone else
    # moved the report on" than "cannot do X in status Y" about a status it never saw.
    if command.expected_version is not None and command.expected_version != report.version:
        return Refusal(
            "version_conflict",
            f"version {command.expected_version} expected, report is at {report.version}",
        )
    if report.status not in rule.sources:
        return Refusal(
            "invalid_transition", f"cannot {rule.verb} a report in status {report.status}"
        )

    def to(
        status: ReportStatus,
        reason: str | None,
        *,
        agency_id: str | None = report.agency_id,
        category: str | None = report.category,
        completed_at: datetime | None = report.completed_at,
        merged_into: UUID | None = report.merged_into,
        follow_up: FollowUp | None = None,
        field_result: str | None = None,
        primary_status: ReportStatus | None = report.primary_status,
    ) -> Transition:
        return Transition(
            from_status=report.status,
            to_status=status,
            version=report.version + 1,
            actor=command.actor,
            occurred_at=now,
            reason=reason,
            agency_id=agency_id,
            category=category,
            completed_at=completed_at,
            merged_into=merged_into,
            follow_up=follow_up,
            field_result=field_result,
            primary_status=primary_status,
        )

    match command:
        case DispatchReport():
            return to(
                S.DISPATCHED,
                command.note,
                agency_id=command.agency_id,
                category=command.category or report.category,
            )
        case CoordinateReport():
            return to(S.COORDINATION, command.note)
        case RejectReport():
            return to(S.REJECTED, command.reason)
        case MergeReport():
            if command.primary_report_id == report.id:
                return Refusal("invalid", "a report cannot be merged into itself")
            return to(S.MERGED, None, merged_into=command.primary_report_id)
        case AcceptReport():
            return to(S.IN_PROGRESS, None)
        case ReturnReport():
            # "Bukan wewenang": the agency gives it back, so it no longer holds the report
            # (and its officers stop seeing it) until the ticket-admin dispatches again.
            return to(S.COORDINATION, command.reason, agency_id=None)
        case SubmitFollowUp():
            follow_up = FollowUp(
                # The command id doubles as the TL's id: stable across redeliveries.
                follow_up_id=command.event_id,
                note=command.note,
                photos=command.photos,
                officer=command.actor,
            )
            return to(S.AWAITING_VALIDATION, None, follow_up=follow_up)
        case ResumeReport():
            return to(S.IN_PROGRESS, None)
        case ValidateFollowUp():
            return to(S.COMPLETED, command.note, completed_at=now)
        case RejectFollowUp():
            return to(S.FOLLOWUP_REJECTED, command.reason)
        case OrderFieldVerification():
            return to(S.FIELD_VERIFICATION, command.note)
        case RecordFieldVerification():
            if command.confirmed:
                return to(
                    S.COMPLETED, command.result, completed_at=now, field_result=command.result
                )
            return to(S.FOLLOWUP_REJECTED, command.result, field_result=command.result)
        case ReopenReport():
            if report.completed_at is None or now - report.completed_at > reopen_window:
                return Refusal(
                    "reopen_window_closed",
                    f"reopen window of {_format_window(reopen_window)} has closed",
                )
            return to(S.IN_PROGRESS, command.reason, completed_at=None)
    raise AssertionError(f"unhandled command {type(command).__name__}")  # pragma: no cover


def check_merge_target(report: Report, primary: Report | None) -> Refusal | None:
    """A duplicate may only follow a report that exists and is itself the surviving one."""
    if primary is None:
        return Refusal("invalid", "the primary report is unknown")
    if primary.id == report.id:
        return Refusal("invalid", "a report cannot be merged into itself")
    if primary.status in (S.MERGED, S.REJECTED):
        return Refusal(
            "invalid", f"cannot merge into a report in status {primary.status}; pick its primary"
        )
    return None


def follow_primary(follower: Report, primary: Report, step: Transition) -> Transition:
    """What a merged report records when its primary takes `step` (`primary` is the primary
    *after* it): it stays merged, its version moves on, and `primary_status` tells its
    reporter the outcome. When the primary is itself merged away, the follower follows the
    new primary directly, so there are never chains to walk."""
    if primary.status is S.MERGED and primary.merged_into is not None:
        merged_into, primary_status = primary.merged_into, primary.primary_status
    else:
        merged_into, primary_status = primary.id, primary.status
    return Transition(
        from_status=follower.status,
        to_status=follower.status,
        version=follower.version + 1,
        actor=SYSTEM_ACTOR,
        occurred_at=step.occurred_at,
        reason=step.reason,
        agency_id=follower.agency_id,
        category=follower.category,
        completed_at=follower.completed_at,
        merged_into=merged_into,
        follow_up=step.follow_up,
        field_result=step.field_result,
        primary_status=primary_status,
        evidence=step.evidence,
    )


def apply(report: Report, transition: Transition) -> Report:
    """The report after `transition`."""
    return replace(
        report,
        status=transition.to_status,
        version=transition.version,
        agency_id=transition.agency_id,
        category=transition.category,
        completed_at=transition.completed_at,
        merged_into=transition.merged_into,
        primary_status=transition.primary_status,
    )
