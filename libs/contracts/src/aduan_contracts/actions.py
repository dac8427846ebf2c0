"""Who may do which report action, written once.

Workflow decides with it (`aduan_workflow.domain.lifecycle.RULES` is built from this
table), the gateway checks the caller's role with it before forwarding a command
(`aduan_gateway.entrypoints.api_actions`), and the officer console shows each action's form to the
role that may send it (`aduan_portal.console.report`). Before, the same facts were written
three times and could drift apart.

Each action: its name (the gateway's path segment under `/v1/reports/{id}/`, and the
console's action name), the command it becomes, the people who may send it, whether the
system may too (auto-routing, a citizen's "me too"), the statuses it leads from and to,
whether it is bound to the report's agency (the check itself stays in workflow), whether
the actor loses the report afterwards (a return: the console then goes back to the queue),
and how it reads in a refusal.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    WorkflowCommand,
)
from aduan_contracts.enums import ReportStatus, Role

__all__ = [
    "ACTIONS",
    "ActionSpec",
    "action",
    "action_for",
    "actions_for_role",
    "available_actions",
]

S = ReportStatus
_TRIAGE = frozenset({S.RECEIVED, S.COORDINATION})
_AGENCY = "an officer of the assigned agency"


@dataclass(frozen=True, slots=True)
class ActionSpec:
    name: str
    command: type[WorkflowCommand]
    roles: frozenset[Role]
    sources: frozenset[ReportStatus]
    targets: frozenset[ReportStatus]
    verb: str
    who: str
    system: bool = False
    agency_bound: bool = False
    hands_over: bool = False

    @property
    def deciders(self) -> frozenset[Role]:
        """Every role workflow accepts the command from (people, and the system)."""
        return self.roles | {Role.SYSTEM} if self.system else self.roles

    @property
    def role(self) -> Role:
        """The one role of people that sends it (every action has exactly one)."""
        [only] = self.roles
        return only


def _a(
    name: str,
    command: type[WorkflowCommand],
    role: Role,
    sources: set[ReportStatus] | frozenset[ReportStatus],
    targets: set[ReportStatus],
    verb: str,
    who: str,
    **flags: bool,
) -> ActionSpec:
    return ActionSpec(
        name, command, frozenset({role}), frozenset(sources), frozenset(targets), verb, who, **flags
    )


ACTIONS: tuple[ActionSpec, ...] = (
    _a(
        "dispatch",
        DispatchReport,
        Role.TICKET_ADMIN,
        _TRIAGE,
        {S.DISPATCHED},
        "dispatch",
        "the ticket-admin or auto-routing",
        system=True,  # auto-routing by category
    ),
    _a(
        "coordinate",
        CoordinateReport,
        Role.TICKET_ADMIN,
        {S.RECEIVED},
        {S.COORDINATION},
        "send to coordination",
        "the ticket-admin",
    ),
    _a(
        "reject",
        RejectReport,
        Role.TICKET_ADMIN,
        _TRIAGE,
        {S.REJECTED},
        "reject",
        "the ticket-admin",
    ),
    _a(
        "merge",
        MergeReport,
        Role.TICKET_ADMIN,
        _TRIAGE,
        {S.MERGED},
        "merge",
        "the ticket-admin",
        system=True,  # a citizen's "me too" joins the report they chose
    ),
    _a(
        "accept",
        AcceptReport,
        Role.AGENCY_OFFICER,
        {S.DISPATCHED},
        {S.IN_PROGRESS},
        "accept",
        _AGENCY,
        agency_bound=True,
    ),
    _a(
        "return",
        ReturnReport,
        Role.AGENCY_OFFICER,
        {S.DISPATCHED},
        {S.COORDINATION},
        "return",
        _AGENCY,
        agency_bound=True,
        # "Not ours": the agency no longer holds the report and may not open it.
        hands_over=True,
    ),
    _a(
        "follow-ups",
        SubmitFollowUp,
        Role.AGENCY_OFFICER,
        {S.IN_PROGRESS},
        {S.AWAITING_VALIDATION},
        "submit a follow-up for",
        _AGENCY,
        agency_bound=True,
    ),
    _a(
        "resume",
        ResumeReport,
        Role.AGENCY_OFFICER,
        {S.FOLLOWUP_REJECTED},
        {S.IN_PROGRESS},
        "resume",
        _AGENCY,
        agency_bound=True,
    ),
    _a(
        "validate",
        ValidateFollowUp,
        Role.VALIDATOR,
        {S.AWAITING_VALIDATION},
        {S.COMPLETED},
        "validate",
        "the validator",
    ),
    _a(
        "reject-follow-up",
        RejectFollowUp,
        Role.VALIDATOR,
        {S.AWAITING_VALIDATION, S.FIELD_VERIFICATION},
        {S.FOLLOWUP_REJECTED},
        "reject the follow-up of",
        "the validator",
    ),
    _a(
        "field-verification",
        OrderFieldVerification,
        Role.VALIDATOR,
        {S.AWAITING_VALIDATION},
        {S.FIELD_VERIFICATION},
        "order a field verification for",
        "the validator",
    ),
    _a(
        "field-verification/result",
        RecordFieldVerification,
        Role.VALIDATOR,
        {S.FIELD_VERIFICATION},
        {S.COMPLETED, S.FOLLOWUP_REJECTED},
        "record a field verification for",
        "the validator",
    ),
    _a(
        "reopen",
        ReopenReport,
        Role.REPORTER,
        {S.COMPLETED},
        {S.IN_PROGRESS},
        "reopen",
        "the reporter",
    ),
)

_BY_NAME = {a.name: a for a in ACTIONS}
_BY_COMMAND = {a.command: a for a in ACTIONS}


def action(name: str) -> ActionSpec:
    """The action by its name (the gateway's path segment); KeyError when unknown."""
    return _BY_NAME[name]


def action_for(command: type[WorkflowCommand]) -> ActionSpec:
    return _BY_COMMAND[command]


def actions_for_role(role: Role | str) -> tuple[ActionSpec, ...]:
    """What people with `role` may do to a report (in the table's order); the role may be
    given by its value ("ticket-admin"), as the console's session holds it."""
    role = Role(role)
    return tuple(a for a in ACTIONS if role in a.roles)


def available_actions(role: Role | str, status: ReportStatus | str) -> tuple[ActionSpec, ...]:
    """What people with `role` may do to a report in `status` (in the table's order): the
    forms a console shows. Workflow still has the last word (agency, version, reopen
    window); this only says which actions can apply at all."""
    status = ReportStatus(status)
    return tuple(a for a in actions_for_role(role) if status in a.sources)
