"""Agency units (issue 19, D19) without I/O: the tree, scopes, what an officer of a unit may
read, and how an SLA escalation shows on a report."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from aduan_contracts.enums import Channel, Privacy, ReportStatus, Role
from aduan_gateway.auth import Principal
from aduan_gateway.domain.model import EscalationRecord, ReportRecord, TimelineRecord
from aduan_gateway.domain.views import (
    AgencyReportView,
    FullReportView,
    officer_view,
    photos_allowed,
    visible_to_officer,
)
from aduan_gateway.service.escalation import escalation_note
from aduan_gateway.service.units import Unit, UnitError, UnitTree, check_parent, clean_area_codes

SECRET = "pseudonym-secret-for-unit-tests-0123456789"
AT = datetime(2026, 11, 3, 9, 0, tzinfo=UTC)

TREE = UnitTree.of(
    [
        Unit("dbm", "Dinas Bina Marga", "dinas", None, ("31",)),
        Unit("sudin-jp", "Sudin Jakarta Pusat", "suku-dinas", "dbm", ("31.71",)),
        Unit("sudin-js", "Sudin Jakarta Selatan", "suku-dinas", "dbm", ("31.74",)),
        Unit("kec-g", "Kecamatan Gambir", "kecamatan", None, ("31.71.01",)),
        Unit("kel-g", "Kelurahan Gambir", "kelurahan", "kec-g", ("31.71.01.1001",)),
        Unit("kel-pu", "Kelurahan Petojo Utara", "kelurahan", "kec-g", ("31.71.01.1003",)),
    ]
)


def test_subtree_ancestors_and_tree_order() -> None:
    assert TREE.subtree("dbm") == {"dbm", "sudin-jp", "sudin-js"}
    assert TREE.subtree("kel-g") == {"kel-g"}
    # A unit the tree does not know (a token's agency without a row) scopes to itself.
    assert TREE.subtree("ghost") == {"ghost"}
    assert TREE.ancestors("kel-pu") == ["kec-g"]
    assert TREE.path("sudin-js") == ["dbm", "sudin-js"]
    assert [u.unit_id for u in TREE.ordered()] == [
        "dbm",
        "sudin-jp",
        "sudin-js",
        "kec-g",
        "kel-g",
        "kel-pu",
    ]


def test_scope_own_unit_a_heads_subtree_and_nothing_for_other_roles() -> None:
    assert TREE.scope(Role.AGENCY_OFFICER, "kec-g", unit_head=False) == {"kec-g"}
    assert TREE.scope(Role.AGENCY_OFFICER, "kec-g", unit_head=True) == {
        "kec-g",
        "kel-g",
        "kel-pu",
    }
    assert TREE.scope(Role.AGENCY_OFFICER, None, unit_head=True) == frozenset()
    # Full-access roles are not scoped by units (they see all; views decide).
    assert TREE.scope(Role.VALIDATOR, None, unit_head=False) == frozenset()
    principal = Principal(subject="u", role=Role.AGENCY_OFFICER, agency_id="kel-g")
    assert principal.scope == {"kel-g"}  # before the per-request resolution
    assert principal.model_copy(update={"units": frozenset({"a", "b"})}).scope == {"a", "b"}


def test_a_parent_that_would_make_a_cycle_is_refused() -> None:
    check_parent(TREE, "kel-g", "kel-pu")  # a sibling may become a parent
    check_parent(TREE, "kel-g", None)
    for unit, parent in (("dbm", "sudin-jp"), ("kec-g", "kec-g"), ("kec-g", "kel-pu")):
        with pytest.raises(UnitError, match="cycle"):
            check_parent(TREE, unit, parent)
    with pytest.raises(UnitError, match="no such unit"):
        check_parent(TREE, "kel-g", "nope")


def test_area_codes_are_kemendagri_codes_stored_dotted() -> None:
    assert clean_area_codes(["3171", "31.71.01", "31.71"]) == ("31.71", "31.71.01")
    with pytest.raises(UnitError, match="area_codes"):
        clean_area_codes(["99.99"])
    with pytest.raises(UnitError, match="area_codes"):
        clean_area_codes(["Gambir"])


def record(agency: str, *escalations: EscalationRecord) -> ReportRecord:
    return ReportRecord(
        report_id=uuid4(),
        channel=Channel.WEB,
        privacy=Privacy.PUBLIC,
        has_content=True,
        title="Jalan berlubang",
        text="Lubang besar.",
        category="jalan-rusak",
        agency_id=agency,
        received_at=AT,
        status=ReportStatus.DISPATCHED,
        status_version=2,
        timeline=(
            TimelineRecord(1, ReportStatus.RECEIVED, AT, Role.SYSTEM),
            TimelineRecord(2, ReportStatus.DISPATCHED, AT, Role.TICKET_ADMIN, agency_id=agency),
        ),
        escalations=escalations,
    )


def escalation(
    kind: str, from_unit: str, to_unit: str | None, at: datetime = AT
) -> EscalationRecord:
    return EscalationRecord(
        kind=kind,
        stage="dispatch",
        due_at=AT,
        from_unit=from_unit,
        to_unit=to_unit,
        after_version=2,
        note=escalation_note(kind, TREE, from_unit, to_unit),
        at=at,
    )


def test_an_officer_of_one_kelurahan_never_sees_a_siblings_report() -> None:
    ours, sibling = record("kel-g"), record("kel-pu")
    kel_g = frozenset({"kel-g"})
    camat = TREE.scope(Role.AGENCY_OFFICER, "kec-g", unit_head=True)
    assert visible_to_officer(ours, Role.AGENCY_OFFICER, kel_g)
    assert not visible_to_officer(sibling, Role.AGENCY_OFFICER, kel_g)
    assert officer_view(sibling, Role.AGENCY_OFFICER, kel_g, SECRET) is None
    # The head of their kecamatan sees both; the kecamatan's other officers neither.
    assert visible_to_officer(sibling, Role.AGENCY_OFFICER, camat)
    assert not visible_to_officer(sibling, Role.AGENCY_OFFICER, frozenset({"kec-g"}))
    # Nobody without a unit; a plain agency id still works (one unit).
    assert not visible_to_officer(ours, Role.AGENCY_OFFICER, frozenset())
    assert visible_to_officer(ours, Role.AGENCY_OFFICER, "kel-g")
    assert visible_to_officer(ours, Role.VALIDATOR, None)


def test_an_escalation_opens_the_report_to_the_parent_unit_not_its_photos() -> None:
    breached = record("kel-g", escalation("reminder", "kel-g", "kec-g"))
    kec = frozenset({"kec-g"})
    assert visible_to_officer(breached, Role.AGENCY_OFFICER, kec)
    # Photos stay with the assigned unit's line (and grants).
    assert not photos_allowed(breached, Role.AGENCY_OFFICER, kec, granted=False)
    assert photos_allowed(breached, Role.AGENCY_OFFICER, frozenset({"kel-g"}), granted=False)
    # A sibling is not flagged anything.
    assert not visible_to_officer(breached, Role.AGENCY_OFFICER, frozenset({"kel-pu"}))
    # Re-dispatched elsewhere: the old stay's escalations no longer open it.
    moved = replace(breached, agency_id="kel-pu")
    assert not visible_to_officer(moved, Role.AGENCY_OFFICER, kec)
    assert moved.current_escalations == ()


def test_escalations_on_the_report_and_in_its_timeline() -> None:
    later = datetime(2026, 11, 5, 9, 0, tzinfo=UTC)
    rec = record(
        "kel-g",
        escalation("reminder", "kel-g", "kec-g"),
        escalation("breach", "kel-g", "kec-g", later),
    )
    view = officer_view(rec, Role.AGENCY_OFFICER, frozenset({"kec-g"}), SECRET)
    assert isinstance(view, AgencyReportView)
    assert view.unit_id == "kel-g" and view.escalated_to_me
    assert [(e.kind, e.to_unit, e.month, e.at) for e in view.escalations] == [
        ("reminder", "kec-g", "2026-11", None),
        ("breach", "kec-g", "2026-11", None),
    ]
    # After the step that was current when flagged, in the order flagged.
    assert [(t.version, t.escalation.kind if t.escalation else None) for t in view.timeline] == [
        (1, None),
        (2, None),
        (2, "reminder"),
        (2, "breach"),
    ]
    breach = view.timeline[-1]
    assert breach.status is ReportStatus.DISPATCHED and breach.actor_role is Role.SYSTEM
    assert breach.reason == (
        "overdue at Kelurahan Gambir, flagged to Kecamatan Gambir and the validator bureau"
    )
    # The kelurahan itself sees them too, but is not "flagged" (it is the one overdue).
    own = officer_view(rec, Role.AGENCY_OFFICER, frozenset({"kel-g"}), SECRET)
    assert own is not None and not own.escalated_to_me and len(own.escalations) == 2
    # The validator bureau: exact times, and flagged by the breach.
    full = officer_view(rec, Role.VALIDATOR, None, SECRET)
    assert isinstance(full, FullReportView) and full.escalated_to_me
    assert [e.at for e in full.escalations] == [AT, later]
    assert [t.occurred_at for t in full.timeline if t.escalation] == [AT, later]


def test_escalation_notes_name_the_units() -> None:
    assert escalation_note("reminder", TREE, "kel-g", "kec-g") == (
        "nearly due at Kelurahan Gambir, flagged to Kecamatan Gambir"
    )
    assert escalation_note("breach", TREE, "kec-g", None) == (
        "overdue at Kecamatan Gambir, flagged to the validator bureau"
    )
    assert escalation_note("reminder", TREE, None, None) == "nearly due at triage"
