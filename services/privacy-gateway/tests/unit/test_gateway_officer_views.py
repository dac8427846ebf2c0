"""Officer views kept per row (service/officerviews.py): a kept view is used only for the
very row, role and scope it was made for, with the grant asked on every read, and only
until its SLA badge could change. The rows here are plain tuples standing for what
`load_officer_rows` reads; `to_record` is the one step the real rows take first."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from aduan_contracts.enums import Privacy, ReportStatus, Role, SlaStage
from aduan_gateway.domain.model import ReportRecord, TimelineRecord
from aduan_gateway.domain.views import officer_view
from aduan_gateway.entrypoints.api import ReportPage, _json, _officer_page
from aduan_gateway.service.officerviews import OfficerRead, OfficerViews, returned_fields

from .test_gateway_views import SECRET, record


class Rows:
    """Rows as tuples (report id, a version) and the records they stand for."""

    def __init__(self) -> None:
        self.records: dict[tuple[Any, ...], ReportRecord] = {}
        self.made = 0

    def row(self, rec: ReportRecord, version: int = 1) -> tuple[Any, ...]:
        row = (rec.report_id, version)
        self.records[row] = rec
        return row

    def to_record(self, row: Any) -> ReportRecord:
        self.made += 1
        return self.records[tuple(row)]


class Grants:
    def __init__(self, held: bool = False) -> None:
        self.held = held
        self.asked: list[UUID] = []

    async def __call__(self, report_id: UUID) -> bool:
        self.asked.append(report_id)
        return self.held


def read(
    views: OfficerViews, row: Any, role: Role, scope: Any, grants: Grants | None = None
) -> OfficerRead | None:
    return asyncio.run(views.read(row, role, scope, grants or Grants()))


def test_a_second_read_of_the_same_row_uses_the_view_made_for_the_first() -> None:
    rows = Rows()
    views = OfficerViews(SECRET, rows.to_record)
    rec = record()
    row = rows.row(rec)
    first = read(views, row, Role.VALIDATOR, None)
    again = read(views, row, Role.VALIDATOR, None)
    assert first is not None and again is first
    assert (rows.made, views.built, views.kept) == (1, 1, 1)
    expected = officer_view(rec, Role.VALIDATOR, None, SECRET)
    assert expected is not None
    assert first.json == _json(expected).body
    assert first.fields == returned_fields(expected)


def test_each_role_and_scope_gets_its_own_view() -> None:
    rows = Rows()
    views = OfficerViews(SECRET, rows.to_record)
    row = rows.row(record(agency_id="dbm"))
    full = read(views, row, Role.VALIDATOR, None)
    agency = read(views, row, Role.AGENCY_OFFICER, "dbm")
    other = read(views, row, Role.AGENCY_OFFICER, "dsda")
    assert full is not None and agency is not None
    # The bureau's view carries the receipt code; the agency's never does (rule 6).
    assert json.loads(full.json)["receipt_code"] == "ADU-AB12-CD34"
    assert "receipt_code" not in json.loads(agency.json)
    assert other is None
    # And asked again, each still gets its own (the other agency still nothing).
    assert read(views, row, Role.AGENCY_OFFICER, "dsda") is None
    assert read(views, row, Role.AGENCY_OFFICER, "dbm") is agency
    assert read(views, row, Role.VALIDATOR, None) is full
    assert views.built == 2


def test_a_changed_row_is_a_new_view() -> None:
    rows = Rows()
    views = OfficerViews(SECRET, rows.to_record)
    rec = record()
    before = read(views, rows.row(rec, 1), Role.VALIDATOR, None)
    moved = replace(
        rec,
        status=ReportStatus.COORDINATION,
        status_version=3,
        timeline=(
            *rec.timeline,
            TimelineRecord(3, ReportStatus.COORDINATION, datetime.now(UTC), Role.AGENCY_OFFICER),
        ),
    )
    after = read(views, rows.row(moved, 2), Role.VALIDATOR, None)
    assert before is not None and after is not None
    assert json.loads(before.json)["status"] == "dispatched"
    assert json.loads(after.json)["status"] == "coordination"
    assert len(json.loads(after.json)["timeline"]) == 3


def test_the_photo_grant_is_asked_on_every_read_and_picks_the_view() -> None:
    rows = Rows()
    views = OfficerViews(SECRET, rows.to_record)
    # A private report's photos: only with a grant to this very person (rule 3).
    rec = record(agency_id="dbm", privacy=Privacy.PRIVATE)
    row = rows.row(rec)
    without, holder = Grants(held=False), Grants(held=True)
    locked = read(views, row, Role.AGENCY_OFFICER, "dbm", without)
    opened = read(views, row, Role.AGENCY_OFFICER, "dbm", holder)
    locked_again = read(views, row, Role.AGENCY_OFFICER, "dbm", without)
    assert locked is not None and opened is not None and locked_again is locked
    assert json.loads(locked.json)["photos"] == [] and json.loads(locked.json)["photos_locked"]
    assert len(json.loads(opened.json)["photos"]) == 1
    with_grant = officer_view(rec, Role.AGENCY_OFFICER, "dbm", SECRET, granted=True)
    assert with_grant is not None and opened.json == _json(with_grant).body
    assert without.asked == [rec.report_id, rec.report_id] and holder.asked == [rec.report_id]


def test_no_grant_is_asked_for_a_report_without_photos() -> None:
    rows = Rows()
    views = OfficerViews(SECRET, rows.to_record)
    grants = Grants(held=True)
    assert read(views, rows.row(record(photos=())), Role.VALIDATOR, None, grants) is not None
    assert grants.asked == []


def _due_in(seconds: float) -> ReportRecord:
    rec = record()
    due = datetime.now(UTC) + timedelta(seconds=seconds)
    last = replace(
        rec.timeline[-1], extra={"due_at": due.isoformat(), "sla_stage": SlaStage.FOLLOW_UP.value}
    )
    return replace(rec, timeline=(*rec.timeline[:-1], last))


def test_a_kept_view_is_not_used_past_the_moment_its_sla_badge_changes() -> None:
    rows = Rows()
    views = OfficerViews(SECRET, rows.to_record)
    row = rows.row(_due_in(0.3))
    first = read(views, row, Role.ADMINISTRATOR, None)
    assert first is not None and json.loads(first.json)["sla_badge"] == "due_soon"
    assert read(views, row, Role.ADMINISTRATOR, None) is first
    asyncio.run(asyncio.sleep(0.4))
    late = read(views, row, Role.ADMINISTRATOR, None)
    assert late is not None and late is not first
    assert json.loads(late.json)["sla_badge"] == "overdue"
    assert late.valid_until is None  # nothing is ahead of an overdue clock
    assert read(views, row, Role.ADMINISTRATOR, None) is late


def test_a_day_ahead_the_view_is_kept_until_the_deadline_comes_within_a_day() -> None:
    rows = Rows()
    views = OfficerViews(SECRET, rows.to_record)
    got = read(views, rows.row(_due_in(3 * 86400)), Role.ADMINISTRATOR, None)
    assert got is not None and json.loads(got.json)["sla_badge"] is None
    assert got.valid_until is not None
    assert timedelta(days=2) - timedelta(seconds=5) < got.valid_until - datetime.now(UTC)
    assert got.valid_until - datetime.now(UTC) <= timedelta(days=2)


def test_the_number_of_rows_kept_is_bounded() -> None:
    rows = Rows()
    views = OfficerViews(SECRET, rows.to_record, max_entries=2)
    a, b, c = (rows.row(record()) for _ in range(3))
    for row in (a, b, a, c):  # a read again: b is the least recently used
        read(views, row, Role.VALIDATOR, None)
    assert len(views) == 2
    read(views, a, Role.VALIDATOR, None)
    assert views.built == 3  # a still kept
    read(views, b, Role.VALIDATOR, None)
    assert views.built == 4  # b was dropped


@pytest.mark.parametrize(("role", "scope"), [(Role.VALIDATOR, None), (Role.AGENCY_OFFICER, "dbm")])
def test_the_kept_json_is_what_the_routes_answered_before(role: Role, scope: Any) -> None:
    rows = Rows()
    views = OfficerViews(SECRET, rows.to_record)
    made = [
        (record(agency_id="dbm", privacy=(Privacy.PUBLIC, Privacy.PRIVATE)[i % 2]), i == 1)
        for i in range(3)
    ]
    kept = [read(views, rows.row(rec), role, scope, Grants(held=held)) for rec, held in made]
    built = [officer_view(rec, role, scope, SECRET, granted=held) for rec, held in made]
    assert all(k is not None for k in kept) and all(b is not None for b in built)
    for k, b in zip(kept, built, strict=True):
        assert k is not None and b is not None
        assert k.json == _json(b).body and k.fields == returned_fields(b)
    page = ReportPage(items=tuple(b for b in built if b is not None), limit=20, offset=40)
    answered = _officer_page([k for k in kept if k is not None], 20, 40)
    assert answered == page.model_dump_json(by_alias=True).encode()
    assert (
        _officer_page([], 5, 0)
        == ReportPage(items=(), limit=5, offset=0).model_dump_json(by_alias=True).encode()
    )
