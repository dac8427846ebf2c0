"""The one action table (`aduan_contracts.actions`) on its own: complete and valid. How
workflow, the gateway and the console read it is checked in tests/contract/test_actions.py."""

from __future__ import annotations

import inspect
import re
import typing

import pytest

from aduan_contracts import commands
from aduan_contracts.actions import (
    ACTIONS,
    action,
    action_for,
    actions_for_role,
    available_actions,
)
from aduan_contracts.enums import ReportStatus, Role

S = ReportStatus
PEOPLE = {Role.TICKET_ADMIN, Role.AGENCY_OFFICER, Role.VALIDATOR, Role.REPORTER}


def _report_commands() -> set[type]:
    """Every report command class in `aduan_contracts.commands` (the routing commands are
    not report actions: they change a category's agency, not a report)."""
    return {
        c
        for _, c in inspect.getmembers(commands, inspect.isclass)
        if issubclass(c, commands._Command) and c is not commands._Command
    }


def test_every_command_class_has_exactly_one_entry() -> None:
    union = typing.get_args(typing.get_args(commands.WorkflowCommand)[0])
    assert set(union) == _report_commands()
    listed = [a.command for a in ACTIONS]
    assert sorted(c.__name__ for c in listed) == sorted(c.__name__ for c in _report_commands())
    assert len(set(listed)) == len(listed)


def test_names_are_unique_gateway_path_segments() -> None:
    names = [a.name for a in ACTIONS]
    assert len(set(names)) == len(names)
    for name in names:
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*(/[a-z]+(-[a-z]+)*)?", name), name
        assert action(name).name == name


def test_roles_are_valid_and_people() -> None:
    for a in ACTIONS:
        assert all(isinstance(r, Role) for r in a.roles), a.name
        # One role of people per action; the system is a flag, never a listed role.
        assert len(a.roles) == 1 and a.role in PEOPLE, a.name
        assert a.deciders == (a.roles | {Role.SYSTEM} if a.system else a.roles)
    assert {a.name for a in ACTIONS if a.system} == {"dispatch", "merge"}


def test_statuses_are_valid() -> None:
    for a in ACTIONS:
        assert a.sources and a.targets, a.name
        assert all(isinstance(s, ReportStatus) for s in a.sources | a.targets), a.name
        # Only its primary moves a merged report; nothing leaves a rejected one; a completed
        # one only by its reporter's reopening.
        assert not a.sources & {S.MERGED, S.REJECTED}, a.name
        assert S.COMPLETED not in a.sources or a.name == "reopen"
        assert a.sources.isdisjoint(a.targets), a.name
    reachable = {S.RECEIVED} | {t for a in ACTIONS for t in a.targets}
    assert reachable == set(ReportStatus)


def test_flags() -> None:
    # Agency-bound (the check stays in workflow): exactly the agency officer's actions.
    assert {a.name for a in ACTIONS if a.agency_bound} == {
        a.name for a in actions_for_role(Role.AGENCY_OFFICER)
    }
    # A return hands the report back: the agency may not open it afterwards.
    assert {a.name for a in ACTIONS if a.hands_over} == {"return"}


def test_lookups() -> None:
    for a in ACTIONS:
        assert action(a.name) is a and action_for(a.command) is a
    with pytest.raises(KeyError):
        action("nope")
    assert actions_for_role("reporter") == actions_for_role(Role.REPORTER)
    assert [a.name for a in actions_for_role(Role.REPORTER)] == ["reopen"]
    assert actions_for_role(Role.ADMINISTRATOR) == ()
    assert actions_for_role(Role.SYSTEM) == ()
    by_role = [a for r in PEOPLE for a in actions_for_role(r)]
    assert sorted(a.name for a in by_role) == sorted(a.name for a in ACTIONS)


# What each role may do in each status: the forms the console shows (any pair not listed
# offers nothing).
AVAILABLE = {
    (Role.TICKET_ADMIN, S.RECEIVED): ["dispatch", "coordinate", "reject", "merge"],
    (Role.TICKET_ADMIN, S.COORDINATION): ["dispatch", "reject", "merge"],
    (Role.AGENCY_OFFICER, S.DISPATCHED): ["accept", "return"],
    (Role.AGENCY_OFFICER, S.IN_PROGRESS): ["follow-ups"],
    (Role.AGENCY_OFFICER, S.FOLLOWUP_REJECTED): ["resume"],
    (Role.VALIDATOR, S.AWAITING_VALIDATION): ["validate", "reject-follow-up", "field-verification"],
    (Role.VALIDATOR, S.FIELD_VERIFICATION): ["reject-follow-up", "field-verification/result"],
    (Role.REPORTER, S.COMPLETED): ["reopen"],
}


@pytest.mark.parametrize("role", list(Role))
def test_available_actions(role: Role) -> None:
    for status in ReportStatus:
        names = [a.name for a in available_actions(role, status)]
        assert names == AVAILABLE.get((role, status), []), (role, status)
        assert available_actions(role.value, status.value) == available_actions(role, status)
