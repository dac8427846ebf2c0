"""The lifecycle state machine against SPEC's transition list, written out here on its own
so a mistake in the domain's table cannot also hide in the test."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

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
from aduan_contracts.events import CommandRefused, ReportSubmitted
from aduan_contracts.values import Actor, PhotoRef
from aduan_workflow.domain.lifecycle import (
    RULES,
    SYSTEM_ACTOR,
    Command,
    Refusal,
    Report,
    Transition,
    apply,
    check_merge_target,
    decide,
    follow_primary,
    opening,
)

S = ReportStatus
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WINDOW = timedelta(days=7)
AGENCY = "dbm"

TICKET_ADMIN = Actor(id="u-admin", role=Role.TICKET_ADMIN, display_name="Admin Tiket")
SYSTEM = Actor(id="system", role=Role.SYSTEM)
OFFICER = Actor(id="u-off", role=Role.AGENCY_OFFICER, agency_id=AGENCY, display_name="Budi")
OTHER_OFFICER = Actor(id="u-off2", role=Role.AGENCY_OFFICER, agency_id="dlh")
VALIDATOR = Actor(id="u-val", role=Role.VALIDATOR, display_name="Sari")
REPORTER = Actor(id="u-rep", role=Role.REPORTER)
ADMINISTRATOR = Actor(id="u-sys", role=Role.ADMINISTRATOR)
PUBLIC = Actor(id="anon", role=Role.PUBLIC)
ALL_ACTORS = (TICKET_ADMIN, SYSTEM, OFFICER, VALIDATOR, REPORTER, ADMINISTRATOR, PUBLIC)

PHOTO = PhotoRef(sha256="a" * 64, content_type="image/jpeg", size_bytes=1000)
PRIMARY_ID = UUID("00000000-0000-0000-0000-0000000000aa")


def command(kind: str, actor: Actor, report_id: UUID, **extra: Any) -> Command:
    """One valid command of each kind, as the gateway would send it."""
    confirmed = extra.pop("confirmed", True)
    base: dict[str, Any] = {"report_id": report_id, "actor": actor, **extra}
    match kind:
        case "DispatchReport":
            return DispatchReport(agency_id=AGENCY, category="jalan", note="ke DBM", **base)
        case "CoordinateReport":
            return CoordinateReport(note="cek dulu", **base)
        case "AcceptReport":
            return AcceptReport(**base)
        case "ReturnReport":
            return ReturnReport(reason="bukan wewenang", **base)
        case "SubmitFollowUp":
            return SubmitFollowUp(note="sudah ditambal", photos=(PHOTO,), **base)
        case "ResumeReport":
            return ResumeReport(**base)
        case "ValidateFollowUp":
            return ValidateFollowUp(note="ok", **base)
        case "RejectFollowUp":
            return RejectFollowUp(reason="foto tidak jelas", **base)
        case "OrderFieldVerification":
            return OrderFieldVerification(note="cek lokasi", **base)
        case "RecordFieldVerification":
            return RecordFieldVerification(confirmed=confirmed, result="sesuai", **base)
        case "RejectReport":
            return RejectReport(reason="spam iklan", **base)
        case "MergeReport":
            return MergeReport(primary_report_id=PRIMARY_ID, **base)
        case "ReopenReport":
            return ReopenReport(reason="lubang muncul lagi", **base)
    raise AssertionError(kind)


# SPEC "Report lifecycle", transition by transition: (from, command, actor, to).
SPEC_TRANSITIONS: list[tuple[ReportStatus, str, Actor, ReportStatus]] = [
    (S.RECEIVED, "CoordinateReport", TICKET_ADMIN, S.COORDINATION),
    (S.RECEIVED, "DispatchReport", TICKET_ADMIN, S.DISPATCHED),
    (S.RECEIVED, "DispatchReport", SYSTEM, S.DISPATCHED),
    (S.RECEIVED, "RejectReport", TICKET_ADMIN, S.REJECTED),
    (S.RECEIVED, "MergeReport", TICKET_ADMIN, S.MERGED),
    (S.RECEIVED, "MergeReport", SYSTEM, S.MERGED),  # a citizen's "me too" (Revision 2)
    (S.COORDINATION, "DispatchReport", TICKET_ADMIN, S.DISPATCHED),
    (S.COORDINATION, "DispatchReport", SYSTEM, S.DISPATCHED),
    (S.COORDINATION, "RejectReport", TICKET_ADMIN, S.REJECTED),
    (S.COORDINATION, "MergeReport", TICKET_ADMIN, S.MERGED),
    (S.COORDINATION, "MergeReport", SYSTEM, S.MERGED),
    (S.DISPATCHED, "AcceptReport", OFFICER, S.IN_PROGRESS),
    (S.DISPATCHED, "ReturnReport", OFFICER, S.COORDINATION),
    (S.IN_PROGRESS, "SubmitFollowUp", OFFICER, S.AWAITING_VALIDATION),
    (S.AWAITING_VALIDATION, "ValidateFollowUp", VALIDATOR, S.COMPLETED),
    (S.AWAITING_VALIDATION, "RejectFollowUp", VALIDATOR, S.FOLLOWUP_REJECTED),
    (S.AWAITING_VALIDATION, "OrderFieldVerification", VALIDATOR, S.FIELD_VERIFICATION),
    (S.FIELD_VERIFICATION, "RecordFieldVerification", VALIDATOR, S.COMPLETED),  # confirmed
    (S.FIELD_VERIFICATION, "RejectFollowUp", VALIDATOR, S.FOLLOWUP_REJECTED),
    (S.FOLLOWUP_REJECTED, "ResumeReport", OFFICER, S.IN_PROGRESS),
    (S.COMPLETED, "ReopenReport", REPORTER, S.IN_PROGRESS),
]
COMMAND_KINDS = sorted({kind for _, kind, _, _ in SPEC_TRANSITIONS})
ALLOWED_PAIRS = {(status, kind) for status, kind, _, _ in SPEC_TRANSITIONS}
FORBIDDEN_PAIRS = sorted(
    (status, kind)
    for status, kind in itertools.product(ReportStatus, COMMAND_KINDS)
    if (status, kind) not in ALLOWED_PAIRS
)
# Who legitimately sends each command (the first actor named for it in SPEC).
SENDER = {kind: actor for _, kind, actor, _ in reversed(SPEC_TRANSITIONS)}
# The roles SPEC allows per command; every other role must be refused.
ALLOWED_ROLES = {
    kind: {actor.role for _, k, actor, _ in SPEC_TRANSITIONS if k == kind} for kind in COMMAND_KINDS
}


def report_in(status: ReportStatus, **changes: Any) -> Report:
    values: dict[str, Any] = {
        "id": uuid4(),
        "receipt_code": "ADU-ABCD-EFGH",
        "channel": Channel.WHATSAPP,
        "status": status,
        "version": 4,
        "agency_id": AGENCY
        if status not in (S.RECEIVED, S.COORDINATION, S.REJECTED, S.MERGED)
        else None,
        "category": "jalan",
        "received_at": NOW - timedelta(days=3),
        "completed_at": NOW - timedelta(days=1) if status is S.COMPLETED else None,
    }
    values.update(changes)
    return Report(**values)


def test_tables_cover_every_status_and_command() -> None:
    assert len(COMMAND_KINDS) == 13
    touched = {s for s, _, _, _ in SPEC_TRANSITIONS} | {t for _, _, _, t in SPEC_TRANSITIONS}
    assert touched == set(ReportStatus)
    assert len(FORBIDDEN_PAIRS) == 10 * 13 - len(ALLOWED_PAIRS)


@pytest.mark.parametrize(
    ("status", "kind", "actor", "target"),
    SPEC_TRANSITIONS,
    ids=[f"{s}-{k}-{a.role}" for s, k, a, _ in SPEC_TRANSITIONS],
)
def test_every_allowed_transition(
    status: ReportStatus, kind: str, actor: Actor, target: ReportStatus
) -> None:
    report = report_in(status)
    cmd = command(kind, actor, report.id, expected_version=4)
    result = decide(report, cmd, NOW, WINDOW)
    assert isinstance(result, Transition), result
    assert result.from_status is status
    assert result.to_status is target
    assert result.version == 5
    assert result.actor == actor
    assert result.occurred_at == NOW
    after = apply(report, result)
    assert after.status is target
    assert after.version == 5


@pytest.mark.parametrize(
    ("status", "kind"), FORBIDDEN_PAIRS, ids=[f"{s}-{k}" for s, k in FORBIDDEN_PAIRS]
)
def test_every_forbidden_pair_is_refused(status: ReportStatus, kind: str) -> None:
    # The right role and agency, the right version: only the status is wrong.
    report = report_in(status, agency_id=AGENCY)
    cmd = command(kind, SENDER[kind], report.id, expected_version=4)
    result = decide(report, cmd, NOW, WINDOW)
    assert isinstance(result, Refusal), result
    assert result.code == "invalid_transition"
    assert f"in status {status}" in result.reason
    CommandRefused(command_id=uuid4(), report_id=report.id, code=result.code, reason=result.reason)


@given(
    status=st.sampled_from(list(ReportStatus)),
    kind=st.sampled_from(COMMAND_KINDS),
    actor=st.sampled_from(ALL_ACTORS),
    agency=st.sampled_from([None, AGENCY, "dlh"]),
    expected=st.one_of(st.none(), st.integers(min_value=1, max_value=8)),
    completed_days_ago=st.integers(min_value=0, max_value=30),
)
def test_any_command_is_decided_as_spec_says(
    status: ReportStatus,
    kind: str,
    actor: Actor,
    agency: str | None,
    expected: int | None,
    completed_days_ago: int,
) -> None:
    """Whatever arrives, the answer is a transition only when SPEC allows every part of it."""
    completed_at = NOW - timedelta(days=completed_days_ago) if status is S.COMPLETED else None
    report = report_in(status, agency_id=agency, completed_at=completed_at)
    cmd = command(kind, actor, report.id, expected_version=expected)
    result = decide(report, cmd, NOW, WINDOW)
    role_ok = actor.role in ALLOWED_ROLES[kind]
    agency_ok = actor.role is not Role.AGENCY_OFFICER or actor.agency_id == agency
    version_ok = expected in (None, 4)
    window_ok = kind != "ReopenReport" or completed_days_ago <= 7
    if role_ok and agency_ok and version_ok and (status, kind) in ALLOWED_PAIRS and window_ok:
        assert isinstance(result, Transition)
        assert result.version == 5
        # The table the docs' diagram is drawn from says where every command may lead.
        assert result.to_status in RULES[type(cmd)].targets
    else:
        assert isinstance(result, Refusal)
        assert len(result.reason) <= 500
        if not role_ok:
            assert result.code == "forbidden_role"
        elif not agency_ok:
            assert result.code == "wrong_agency"
        elif not version_ok:
            assert result.code == "version_conflict"
        elif (status, kind) not in ALLOWED_PAIRS:
            assert result.code == "invalid_transition"
        else:
            assert result.code == "reopen_window_closed"


@pytest.mark.parametrize("kind", COMMAND_KINDS)
def test_every_other_role_is_refused(kind: str) -> None:
    status = next(s for s, k, _, _ in SPEC_TRANSITIONS if k == kind)
    report = report_in(status)
    for actor in ALL_ACTORS:
        if actor.role in ALLOWED_ROLES[kind]:
            continue
        result = decide(report, command(kind, actor, report.id), NOW, WINDOW)
        assert isinstance(result, Refusal)
        assert result.code == "forbidden_role", (kind, actor.role)


def test_reasons_are_specific() -> None:
    dispatched = report_in(S.DISPATCHED)
    assert decide(dispatched, command("DispatchReport", OFFICER, dispatched.id), NOW, WINDOW) == (
        Refusal("forbidden_role", "only the ticket-admin or auto-routing may dispatch a report")
    )
    assert decide(
        dispatched, command("AcceptReport", OTHER_OFFICER, dispatched.id), NOW, WINDOW
    ) == Refusal("wrong_agency", "report is dispatched to agency dbm, not yours")
    in_progress = report_in(S.IN_PROGRESS)
    assert decide(
        in_progress, command("ValidateFollowUp", VALIDATOR, in_progress.id), NOW, WINDOW
    ) == Refusal("invalid_transition", "cannot validate a report in status in_progress")
    assert decide(
        in_progress,
        command("SubmitFollowUp", OFFICER, in_progress.id, expected_version=3),
        NOW,
        WINDOW,
    ) == Refusal("version_conflict", "version 3 expected, report is at 4")
    late = report_in(S.COMPLETED, completed_at=NOW - timedelta(days=8))
    assert decide(late, command("ReopenReport", REPORTER, late.id), NOW, WINDOW) == Refusal(
        "reopen_window_closed", "reopen window of 7 days has closed"
    )
    received = report_in(S.RECEIVED)
    assert decide(received, command("AcceptReport", OFFICER, received.id), NOW, WINDOW) == (
        Refusal("wrong_agency", "report is not dispatched to any agency")
    )
    homeless = Actor(id="x", role=Role.AGENCY_OFFICER)
    assert decide(dispatched, command("AcceptReport", homeless, dispatched.id), NOW, WINDOW) == (
        Refusal("wrong_agency", "an agency officer must belong to an agency")
    )


def test_reopen_on_the_last_day_of_the_window() -> None:
    edge = report_in(S.COMPLETED, completed_at=NOW - WINDOW)
    result = decide(edge, command("ReopenReport", REPORTER, edge.id), NOW, WINDOW)
    assert isinstance(result, Transition)
    assert result.completed_at is None
    assert result.reason == "lubang muncul lagi"


def test_dispatch_assigns_agency_and_category() -> None:
    report = report_in(S.RECEIVED, category=None)
    result = decide(report, command("DispatchReport", TICKET_ADMIN, report.id), NOW, WINDOW)
    assert isinstance(result, Transition)
    assert (result.agency_id, result.category, result.reason) == (AGENCY, "jalan", "ke DBM")
    keep = DispatchReport(report_id=report.id, actor=SYSTEM, agency_id="dlh")
    kept = decide(report_in(S.COORDINATION, category="sampah"), keep, NOW, WINDOW)
    assert isinstance(kept, Transition)
    assert (kept.agency_id, kept.category) == ("dlh", "sampah")


def test_return_releases_the_agency() -> None:
    report = report_in(S.DISPATCHED)
    result = decide(report, command("ReturnReport", OFFICER, report.id), NOW, WINDOW)
    assert isinstance(result, Transition)
    assert result.agency_id is None
    assert result.reason == "bukan wewenang"


def test_follow_up_carries_the_officer() -> None:
    report = report_in(S.IN_PROGRESS)
    cmd = command("SubmitFollowUp", OFFICER, report.id)
    result = decide(report, cmd, NOW, WINDOW)
    assert isinstance(result, Transition)
    assert result.follow_up is not None
    assert result.follow_up.follow_up_id == cmd.event_id
    assert result.follow_up.officer == OFFICER
    assert result.follow_up.note == "sudah ditambal"
    assert result.follow_up.photos == (PHOTO,)


def test_completion_time_and_field_result() -> None:
    report = report_in(S.AWAITING_VALIDATION)
    done = decide(report, command("ValidateFollowUp", VALIDATOR, report.id), NOW, WINDOW)
    assert isinstance(done, Transition)
    assert done.completed_at == NOW
    field = report_in(S.FIELD_VERIFICATION)
    refuted = decide(
        field,
        command("RecordFieldVerification", VALIDATOR, field.id, confirmed=False),
        NOW,
        WINDOW,
    )
    assert isinstance(refuted, Transition)
    assert refuted.to_status is S.FOLLOWUP_REJECTED
    assert refuted.completed_at is None
    assert refuted.field_result == "sesuai"


def test_merge_rules() -> None:
    report = report_in(S.RECEIVED)
    result = decide(report, command("MergeReport", TICKET_ADMIN, report.id), NOW, WINDOW)
    assert isinstance(result, Transition)
    assert result.merged_into == PRIMARY_ID
    itself = MergeReport(report_id=report.id, actor=TICKET_ADMIN, primary_report_id=report.id)
    assert decide(report, itself, NOW, WINDOW) == Refusal(
        "invalid", "a report cannot be merged into itself"
    )
    assert check_merge_target(report, None) == Refusal("invalid", "the primary report is unknown")
    merged = report_in(S.MERGED, id=PRIMARY_ID)
    refusal = check_merge_target(report, merged)
    assert refusal is not None
    assert refusal.code == "invalid"
    assert check_merge_target(report, report_in(S.IN_PROGRESS, id=PRIMARY_ID)) is None


def test_full_cycle_with_a_rejected_follow_up() -> None:
    report = report_in(S.RECEIVED, version=1)
    steps: list[tuple[str, Actor, dict[str, Any]]] = [
        ("CoordinateReport", TICKET_ADMIN, {}),
        ("DispatchReport", TICKET_ADMIN, {}),
        ("AcceptReport", OFFICER, {}),
        ("SubmitFollowUp", OFFICER, {}),
        ("OrderFieldVerification", VALIDATOR, {}),
        ("RecordFieldVerification", VALIDATOR, {"confirmed": False}),
        ("ResumeReport", OFFICER, {}),
        ("SubmitFollowUp", OFFICER, {}),
        ("ValidateFollowUp", VALIDATOR, {}),
    ]
    for kind, actor, extra in steps:
        expected = report.version
        result = decide(
            report, command(kind, actor, report.id, expected_version=expected, **extra), NOW, WINDOW
        )
        assert isinstance(result, Transition), (kind, result)
        report = apply(report, result)
    assert report.status is S.COMPLETED
    assert report.version == 10
    assert report.completed_at == NOW


def test_opening() -> None:
    event = ReportSubmitted(
        report_id=uuid4(),
        receipt_code="ADU-ABCD-EFGH",
        channel=Channel.SMS,
        channel_message_id="m1",
        text="jalan berlubang",
        category_hint="jalan",
        received_at=NOW,
    )
    report = opening(event)
    assert report == Report(
        id=event.report_id,
        receipt_code="ADU-ABCD-EFGH",
        channel=Channel.SMS,
        status=S.RECEIVED,
        version=1,
        agency_id=None,
        category="jalan",
        received_at=NOW,
    )


def test_the_rules_table_is_spec() -> None:
    """RULES (drawn in docs/workflow.md) has exactly SPEC's edges, no more, no fewer."""
    table = {
        (source, type_.__name__, target)
        for type_, rule in RULES.items()
        for source in rule.sources
        for target in rule.targets
    }
    assert table == {(s, k, t) for s, k, _, t in SPEC_TRANSITIONS} | {
        (S.FIELD_VERIFICATION, "RecordFieldVerification", S.FOLLOWUP_REJECTED)  # refuted
    }


def test_a_merged_report_follows_its_primary() -> None:
    primary = report_in(S.AWAITING_VALIDATION, id=PRIMARY_ID, version=6)
    follower = report_in(
        S.MERGED, version=3, merged_into=PRIMARY_ID, primary_status=S.AWAITING_VALIDATION
    )
    step = decide(primary, command("ValidateFollowUp", VALIDATOR, primary.id), NOW, WINDOW)
    assert isinstance(step, Transition)
    followed = follow_primary(follower, apply(primary, step), step)
    assert (followed.from_status, followed.to_status, followed.version) == (S.MERGED, S.MERGED, 4)
    assert followed.primary_status is S.COMPLETED
    assert followed.merged_into == PRIMARY_ID
    assert followed.actor == SYSTEM_ACTOR
    assert followed.reason == "ok"  # the validator's note on the primary
    after = apply(follower, followed)
    assert (after.status, after.primary_status, after.version) == (S.MERGED, S.COMPLETED, 4)


def test_followers_of_a_report_merged_away_follow_the_new_primary() -> None:
    new_primary = uuid4()
    middle = report_in(S.RECEIVED, id=PRIMARY_ID)
    follower = report_in(S.MERGED, merged_into=PRIMARY_ID, primary_status=S.RECEIVED)
    merge = MergeReport(report_id=middle.id, actor=TICKET_ADMIN, primary_report_id=new_primary)
    step = decide(middle, merge, NOW, WINDOW)
    assert isinstance(step, Transition)
    # The handler stamps the new primary's status on the merge (it reads that report).
    merged_middle = apply(middle, replace(step, primary_status=S.IN_PROGRESS))
    followed = follow_primary(follower, merged_middle, step)
    assert followed.merged_into == new_primary
    assert followed.primary_status is S.IN_PROGRESS
