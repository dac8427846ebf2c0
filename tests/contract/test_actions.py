"""The one action table (`aduan_contracts.actions`) is complete and is what workflow decides
with and what the gateway checks: who may do which report action is written once."""

from __future__ import annotations

import typing

from aduan_contracts.actions import ACTIONS, action, action_for, actions_for_role
from aduan_contracts.commands import WorkflowCommand
from aduan_contracts.enums import ReportStatus, Role
from aduan_gateway.bootstrap import build as build_gateway
from aduan_gateway.config import Settings as GatewaySettings
from aduan_workflow.domain.lifecycle import RULES

PEOPLE = {Role.TICKET_ADMIN, Role.AGENCY_OFFICER, Role.VALIDATOR, Role.REPORTER}


def _commands() -> set[type]:
    union = typing.get_args(WorkflowCommand)[0]
    return set(typing.get_args(union))


def test_every_command_has_exactly_one_action() -> None:
    assert {a.command for a in ACTIONS} == _commands()
    assert len({a.command for a in ACTIONS}) == len(ACTIONS)
    assert len({a.name for a in ACTIONS}) == len(ACTIONS)


def test_roles_and_statuses_are_valid() -> None:
    for a in ACTIONS:
        assert len(a.roles) == 1 and a.role in PEOPLE, a.name
        assert a.sources and a.targets, a.name
        assert all(isinstance(s, ReportStatus) for s in a.sources | a.targets)
        assert a.sources.isdisjoint(a.targets) or a.name == "field-verification/result"
        assert action(a.name) is a and action_for(a.command) is a
    assert [a.name for a in actions_for_role(Role.REPORTER)] == ["reopen"]
    # Only the system's two moves: auto-routing and a citizen's "me too".
    assert {a.name for a in ACTIONS if a.system} == {"dispatch", "merge"}
    # A return hands the report back: the agency may not open it afterwards.
    assert {a.name for a in ACTIONS if a.hands_over} == {"return"}


def test_workflow_decides_with_the_table() -> None:
    assert set(RULES) == {a.command for a in ACTIONS}
    for a in ACTIONS:
        rule = RULES[a.command]
        assert (rule.sources, rule.targets, rule.roles) == (a.sources, a.targets, a.deciders)
        assert rule.agency_bound == a.agency_bound


def test_the_gateway_has_one_route_per_action() -> None:
    app, _ = build_gateway(GatewaySettings(topic_namespace="", environment="development"))
    paths = app.openapi()["paths"]
    prefix = "/v1/reports/{report_id}/"
    posted = {
        p.removeprefix(prefix) for p, ops in paths.items() if p.startswith(prefix) and "post" in ops
    }
    assert {a.name for a in ACTIONS} <= posted


def test_the_console_shows_each_action_to_the_tables_role() -> None:
    from aduan_portal.console.report import ACTIONS as CONSOLE_ACTIONS

    for name, shown in CONSOLE_ACTIONS.items():
        spec = action(shown.gateway_path)
        assert shown.role == spec.role.value, name
        assert shown.hands_over == spec.hands_over, name
    # Every people's action but the reporter's (the portal's tracking page) and the
    # follow-up (its own multipart form) has a console form.
    wanted = {a.name for a in ACTIONS if a.role is not Role.REPORTER} - {"follow-ups"}
    assert {a.gateway_path for a in CONSOLE_ACTIONS.values()} == wanted
