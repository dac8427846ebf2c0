"""The read model's projector (aduan_gateway.service.projector) on an in-memory store (no
I/O): what a poll's events store, in how many store calls, and what the public is told.
The PostgreSQL store behind the same Protocol (adapters/projection_pg.py) is covered by
the integration suite (tests/integration/test_gateway_projector.py) and end to end.

The fake follows the tables' rules: a report's content is written once (a second
submission for the same id changes nothing), its status only moves forward by version,
one timeline entry per (report, version), a key is stored once and a shredded one stays
shredded, and one call never holds the same report twice (PostgreSQL refuses an upsert
that touches a row twice). Rows handed out are copies: what the use case changes in
memory is stored only through a write."""

from __future__ import annotations

import base64
import json
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from aduan_contracts.enums import Channel, Privacy, ReportStatus, Role
from aduan_contracts.events import (
    PublicReportPublished,
    PublicReportWithdrawn,
    ReporterKeyIssued,
    ReportStatusChanged,
    ReportSubmitted,
)
from aduan_contracts.topics import PUBLIC_REPORTS, TopicSpec
from aduan_contracts.values import GeoPoint, Location
from aduan_gateway.adapters.stores import (
    ContentRow,
    OfficerReason,
    ProjectionStore,
    ReportRow,
    StatusRow,
    TextsRow,
    TimelineReason,
    TimelineRow,
    Timelines,
)
from aduan_gateway.domain.model import TimelineRecord
from aduan_gateway.domain.redaction import HIDDEN
from aduan_gateway.domain.steps import empty_row
from aduan_gateway.service.projector import apply_contents, apply_keys, apply_statuses
from aduan_kit.crypto import new_key, seal_identity
from aduan_testing.events import status_step

NAME = "Budi Santoso"
PHONE = "0812-3456-7890"
RECEIVED = datetime(2024, 5, 17, 9, 31, 12, tzinfo=UTC)
_JSON_COLUMNS = ("location", "photos", "sealed_identity", "sealed_original")
_CONTENT_COLUMNS = (
    "receipt_code",
    "channel",
    "privacy",
    "title",
    "text",
    "language",
    "category_hint",
    "location",
    "photos",
    "received_at",
    "reporter_key_id",
    "public_title",
    "public_text",
    "officer_title",
    "officer_text",
    "sealed_identity",
    "sealed_original",
)


def _record(entry: TimelineRow) -> TimelineRecord:
    """A timeline row as it reads back (times in UTC)."""
    return TimelineRecord(
        version=entry.version,
        status=ReportStatus(entry.status),
        occurred_at=entry.occurred_at.astimezone(UTC),
        actor_role=Role(entry.actor_role),
        agency_id=entry.agency_id,
        actor_agency=entry.actor_agency,
        actor_display_name=entry.actor_display_name,
        reason=entry.reason,
        follow_up_note=entry.follow_up.note if entry.follow_up else None,
        follow_up=entry.follow_up,
        extra=dict(entry.extra or {}),
    )


def _unique(ids: list[UUID]) -> None:
    assert len(ids) == len(set(ids)), "one call holds a report twice"


class FakeProjection:
    """`ProjectionStore` in memory, following the tables' rules."""

    def __init__(self) -> None:
        self.reports: dict[UUID, ReportRow] = {}
        self.timeline: dict[tuple[UUID, int], TimelineRow] = {}
        # The officer copies of timeline reasons, by (report, version).
        self.officer_reasons: dict[tuple[UUID, int], str | None] = {}
        self.keys: dict[UUID, bytes | None] = {}
        # The public view each report's status was last written with.
        self.views: dict[UUID, str | None] = {}
        self.lock: str | None = None
        self.calls: Counter[str] = Counter()

    def take_calls(self) -> Counter[str]:
        """The store calls since the last time asked."""
        calls, self.calls = self.calls, Counter()
        return calls

    def _with_key(self, row: ReportRow) -> ReportRow:
        out = dict(row)
        kid = row["reporter_key_id"]
        out["reporter_key"] = self.keys.get(kid) if kid is not None else None
        return out

    def _timeline_of(self, report_id: UUID) -> dict[int, TimelineRecord]:
        return {v: _record(e) for (rid, v), e in self.timeline.items() if rid == report_id}

    async def lock_keys(self, exclusive: bool) -> None:
        self.calls["lock_keys"] += 1
        if self.lock != "exclusive":
            self.lock = "exclusive" if exclusive else "shared"

    async def key_states(self, key_ids: Collection[UUID]) -> dict[UUID, bytes | None]:
        self.calls["key_states"] += 1
        return {k: self.keys[k] for k in key_ids if k in self.keys}

    async def add_keys(self, keys: Mapping[UUID, bytes]) -> None:
        self.calls["add_keys"] += 1
        for key_id, key in keys.items():
            self.keys.setdefault(key_id, key)

    async def shred_keys(self, key_ids: Collection[UUID]) -> None:
        self.calls["shred_keys"] += 1
        for key_id in key_ids:
            self.keys[key_id] = None

    async def add_contents(self, rows: Sequence[ContentRow]) -> list[ReportRow]:
        self.calls["add_contents"] += 1
        _unique([r.report_id for r in rows])
        written = []
        for content in rows:
            row = self.reports.get(content.report_id)
            if row is not None and row["has_content"]:
                continue  # written once
            if row is None:
                row = self.reports[content.report_id] = empty_row(
                    content.report_id, content.channel, content.receipt_code
                )
            for column in _CONTENT_COLUMNS:
                value = getattr(content, column)
                row[column] = (
                    json.loads(value) if column in _JSON_COLUMNS and value is not None else value
                )
            row["has_content"] = True
            written.append(dict(row))
        return written

    async def locked_with_timelines(
        self, report_ids: Collection[UUID]
    ) -> tuple[dict[UUID, ReportRow], Timelines]:
        self.calls["locked_with_timelines"] += 1
        found = sorted(rid for rid in report_ids if rid in self.reports)
        return (
            {rid: self._with_key(self.reports[rid]) for rid in found},
            {rid: self._timeline_of(rid) for rid in found},
        )

    async def timelines(self, report_ids: Collection[UUID]) -> Timelines:
        self.calls["timelines"] += 1
        return {rid: self._timeline_of(rid) for rid in report_ids}

    async def set_statuses(self, rows: Sequence[StatusRow]) -> None:
        self.calls["set_statuses"] += 1
        _unique([r.report_id for r in rows])
        for status in rows:
            row = self.reports.get(status.report_id)
            if row is None:
                row = self.reports[status.report_id] = empty_row(
                    status.report_id, status.channel, status.receipt_code
                )
            elif row["status_version"] >= status.status_version:
                continue  # only forward
            row["status"] = status.status
            row["status_version"] = status.status_version
            row["category"] = status.category
            row["agency_id"] = status.agency_id
            row["due_at"] = status.due_at
            self.views[status.report_id] = status.public_view

    async def add_timeline(self, rows: Sequence[TimelineRow]) -> None:
        self.calls["add_timeline"] += 1
        for entry in rows:
            key = (entry.report_id, entry.version)
            if key not in self.timeline:
                self.timeline[key] = entry
                self.officer_reasons[key] = entry.officer_reason

    async def reports_of_keys(self, key_ids: Collection[UUID]) -> list[ReportRow]:
        self.calls["reports_of_keys"] += 1
        found = sorted(
            (r for r in self.reports.values() if r["reporter_key_id"] in key_ids),
            key=lambda r: (r["received_at"], r["report_id"]),
        )
        return [
            {
                **self._with_key(r),
                "key_row": r["reporter_key_id"] if r["reporter_key_id"] in self.keys else None,
            }
            for r in found
        ]

    async def set_texts(self, rows: Sequence[TextsRow]) -> None:
        self.calls["set_texts"] += 1
        for texts in rows:
            row = self.reports.get(texts.report_id)
            if row is not None:
                row["public_title"], row["public_text"] = texts.public_title, texts.public_text
                row["officer_title"], row["officer_text"] = texts.officer_title, texts.officer_text

    async def reasons(self, report_ids: Collection[UUID]) -> list[TimelineReason]:
        self.calls["reasons"] += 1
        return [
            TimelineReason(rid, version, entry.reason)
            for (rid, version), entry in self.timeline.items()
            if rid in report_ids and entry.reason is not None
        ]

    async def set_officer_reasons(self, rows: Sequence[OfficerReason]) -> None:
        self.calls["set_officer_reasons"] += 1
        for r in rows:
            if (r.report_id, r.version) in self.timeline:
                self.officer_reasons[r.report_id, r.version] = r.officer_reason


class FakeUnit:
    def __init__(self) -> None:
        self.fake = FakeProjection()
        # As the Protocol, so mypy checks the fake against it too.
        self.store: ProjectionStore = self.fake
        self.published: list[tuple[str, Any, UUID]] = []

    @property
    def session(self) -> AsyncSession:
        raise AssertionError("the hot path must not use the ORM session")

    def publish(self, topic: TopicSpec | str, event: BaseModel, key: UUID) -> None:
        self.published.append((topic.name if isinstance(topic, TopicSpec) else topic, event, key))

    def events_of(self, report_id: UUID) -> list[Any]:
        return [event for _, event, key in self.published if key == report_id]

    def take(self) -> list[Any]:
        """What was published since the last call."""
        events = [event for _, event, _ in self.published]
        self.published.clear()
        return events


def _submitted(
    key_id: UUID | None = None,
    key: bytes | None = None,
    privacy: Privacy = Privacy.PUBLIC,
    **changes: Any,
) -> ReportSubmitted:
    sealed = (
        seal_identity({"name": NAME, "phone": "+6281234567890"}, key_id, key)
        if key_id is not None and key is not None
        else None
    )
    values: dict[str, Any] = {
        "report_id": uuid4(),
        "receipt_code": "ADU-AB12-CD34",
        "channel": Channel.WEB,
        "channel_message_id": f"web.{uuid4().hex}",
        "title": "Jalan rusak",
        "text": f"Nama saya {NAME}, jalan berlubang di depan pasar. Telepon {PHONE}.",
        "category_hint": "jalan",
        "location": Location(point=GeoPoint(lat=-6.1951, lon=106.8231), area="Menteng"),
        "privacy": privacy,
        "received_at": RECEIVED,
        "reporter": sealed,
    }
    values.update(changes)
    return ReportSubmitted(**values)


def _step(
    report: ReportSubmitted, version: int, to: ReportStatus, reason: str | None = None
) -> ReportStatusChanged:
    return status_step(report, version, to, RECEIVED + timedelta(hours=version), reason=reason)


def _issued(key_id: UUID, key: bytes) -> ReporterKeyIssued:
    return ReporterKeyIssued(key_id=key_id, key=base64.b64encode(key).decode())


def _scrubbed(text: str | None) -> bool:
    return text is not None and "Budi" not in text and "Santoso" not in text and "0812" not in text


async def test_a_public_submission_is_published_once_with_its_scrubbed_text() -> None:
    unit = FakeUnit()
    key_id, key = uuid4(), new_key()
    report = _submitted(key_id, key)
    await apply_keys(unit, [_issued(key_id, key)])
    # Workflow's first step came before the content: nothing to show yet.
    assert await apply_statuses(unit, [_step(report, 1, ReportStatus.RECEIVED)]) == []
    assert unit.take() == []

    published = await apply_contents(unit, [report])

    [event] = published
    assert unit.take() == [event]
    assert unit.published == []
    assert isinstance(event, PublicReportPublished)
    assert event.report_id == report.report_id
    assert event.causation_id == str(report.event_id)
    assert event.status is ReportStatus.RECEIVED
    assert _scrubbed(event.text) and HIDDEN in event.text
    assert event.text.startswith(f"Nama saya {HIDDEN}, jalan berlubang")
    assert event.title == "Jalan rusak"
    # What is stored is what was published; the officer copy is scrubbed too.
    row = unit.fake.reports[report.report_id]
    assert row["public_text"] == event.text
    assert _scrubbed(row["officer_text"])
    assert row["has_content"] and row["status"] == "received"


async def test_published_on_the_public_topic_keyed_by_report() -> None:
    unit = FakeUnit()
    report = _submitted()  # anonymous: nothing to wait for
    await apply_statuses(unit, [_step(report, 1, ReportStatus.RECEIVED)])
    await apply_contents(unit, [report])
    [(topic, event, key)] = unit.published
    assert (topic, key) == (PUBLIC_REPORTS.name, report.report_id)
    assert isinstance(event, PublicReportPublished)
    # No identity to open: the phone number is still hidden.
    assert PHONE not in event.text and HIDDEN in event.text


async def test_a_private_report_is_never_published() -> None:
    unit = FakeUnit()
    key_id, key = uuid4(), new_key()
    report = _submitted(key_id, key, privacy=Privacy.PRIVATE)
    await apply_keys(unit, [_issued(key_id, key)])

    await apply_contents(unit, [report])
    await apply_statuses(
        unit, [_step(report, 1, ReportStatus.RECEIVED), _step(report, 2, ReportStatus.DISPATCHED)]
    )
    await apply_keys(unit, [_issued(key_id, key)])  # a redelivered key re-projects nothing

    assert unit.published == []
    row = unit.fake.reports[report.report_id]
    assert (row["privacy"], row["status"], row["status_version"]) == ("private", "dispatched", 2)
    assert _scrubbed(row["officer_text"])


async def test_a_status_change_republishes_with_the_new_status() -> None:
    unit = FakeUnit()
    report = _submitted()
    await apply_contents(unit, [report])
    assert unit.take() == []  # no status yet
    await apply_statuses(unit, [_step(report, 1, ReportStatus.RECEIVED)])
    [first] = unit.take()
    assert isinstance(first, PublicReportPublished) and first.status is ReportStatus.RECEIVED

    step = _step(report, 2, ReportStatus.DISPATCHED)
    await apply_statuses(unit, [step])

    [again] = unit.take()
    assert isinstance(again, PublicReportPublished)
    assert again.status is ReportStatus.DISPATCHED
    assert again.causation_id == str(step.event_id)
    assert again.text == first.text
    assert [t.status for t in again.timeline] == [ReportStatus.RECEIVED, ReportStatus.DISPATCHED]
    row = unit.fake.reports[report.report_id]
    assert (row["status"], row["status_version"], row["agency_id"]) == (
        "dispatched",
        2,
        "dinas-bina-marga",
    )


async def test_a_status_is_written_with_the_public_view_of_its_state() -> None:
    """The view stored with a status is the final state's (a batch of two steps writes
    the second's), the same the public event was made from; a rejection and a private
    report store none."""
    unit = FakeUnit()
    report = _submitted()
    await apply_contents(unit, [report])
    await apply_statuses(
        unit,
        [_step(report, 1, ReportStatus.RECEIVED), _step(report, 2, ReportStatus.DISPATCHED)],
    )
    *_, last = unit.take()
    assert isinstance(last, PublicReportPublished)
    stored = unit.fake.views[report.report_id]
    assert stored is not None
    view = json.loads(stored)
    assert view["status"] == "dispatched"
    assert [t["status"] for t in view["timeline"]] == ["received", "dispatched"]
    assert (view["title"], view["text"], view["month"]) == (last.title, last.text, last.month)

    await apply_statuses(unit, [_step(report, 3, ReportStatus.REJECTED, reason="spam")])
    assert unit.fake.views[report.report_id] is None

    private = _submitted(privacy=Privacy.PRIVATE)
    await apply_contents(unit, [private])
    await apply_statuses(unit, [_step(private, 1, ReportStatus.RECEIVED)])
    assert unit.fake.views[private.report_id] is None


async def test_a_rejection_withdraws_the_report() -> None:
    unit = FakeUnit()
    report = _submitted()
    await apply_contents(unit, [report])
    await apply_statuses(unit, [_step(report, 1, ReportStatus.RECEIVED)])
    unit.take()

    await apply_statuses(unit, [_step(report, 2, ReportStatus.REJECTED, reason="spam")])

    [withdrawn] = unit.take()
    assert isinstance(withdrawn, PublicReportWithdrawn)
    assert withdrawn.report_id == report.report_id


async def test_the_status_only_moves_forward() -> None:
    """The topics arrive in any order: a late older step joins the timeline (and the public
    sees it there) but the status stays at the newer one."""
    unit = FakeUnit()
    report = _submitted()
    await apply_contents(unit, [report])
    await apply_statuses(unit, [_step(report, 3, ReportStatus.COMPLETED)])
    unit.take()

    await apply_statuses(unit, [_step(report, 2, ReportStatus.DISPATCHED)])

    row = unit.fake.reports[report.report_id]
    assert (row["status"], row["status_version"]) == ("completed", 3)
    [event] = unit.take()
    assert isinstance(event, PublicReportPublished)
    assert event.status is ReportStatus.COMPLETED
    assert sorted(v for rid, v in unit.fake.timeline if rid == report.report_id) == [2, 3]
    # The same step again (a redelivery under a new event id): nothing visible changes.
    await apply_statuses(unit, [_step(report, 2, ReportStatus.DISPATCHED)])
    assert unit.take() == []
    assert "set_statuses" in unit.fake.calls


async def test_duplicates_in_a_batch_are_applied_once() -> None:
    unit = FakeUnit()
    report = _submitted()
    # The same report under a new event id, with other text: the first copy wins.
    copy = report.model_copy(update={"event_id": uuid4(), "text": "Teks lain sama sekali."})
    await apply_statuses(unit, [_step(report, 1, ReportStatus.RECEIVED)])
    unit.take()

    published = await apply_contents(unit, [report, copy])

    [event] = published
    assert isinstance(event, PublicReportPublished)
    assert event.causation_id == str(report.event_id)
    assert unit.fake.reports[report.report_id]["text"] == report.text
    # A step twice in one batch: one timeline entry, one event.
    unit.take()
    step = _step(report, 2, ReportStatus.DISPATCHED)
    twice = step.model_copy(update={"event_id": uuid4()})
    await apply_statuses(unit, [step, twice])
    [moved] = unit.take()
    assert isinstance(moved, PublicReportPublished) and moved.causation_id == str(step.event_id)
    assert sorted(v for rid, v in unit.fake.timeline if rid == report.report_id) == [1, 2]


async def test_content_is_written_once_across_batches() -> None:
    unit = FakeUnit()
    report = _submitted()
    await apply_statuses(unit, [_step(report, 1, ReportStatus.RECEIVED)])
    await apply_contents(unit, [report])
    unit.take()

    later = report.model_copy(update={"event_id": uuid4(), "text": "Teks lain sama sekali."})
    assert await apply_contents(unit, [later]) == []

    assert unit.published == []
    assert unit.fake.reports[report.report_id]["text"] == report.text


async def test_a_key_arriving_late_projects_that_reporters_reports_only() -> None:
    unit = FakeUnit()
    key_id, key = uuid4(), new_key()
    other_id, other_key = uuid4(), new_key()
    theirs = [_submitted(key_id, key), _submitted(key_id, key)]
    someone_else = _submitted(other_id, other_key)
    await apply_keys(unit, [_issued(other_id, other_key)])
    await apply_contents(unit, [*theirs, someone_else])
    await apply_statuses(
        unit, [_step(r, 1, ReportStatus.RECEIVED) for r in [*theirs, someone_else]]
    )
    # Without their key the reporter's name cannot be hidden: nothing of theirs is shown.
    assert [e.report_id for e in unit.take()] == [someone_else.report_id]
    for report in theirs:
        row = unit.fake.reports[report.report_id]
        assert row["public_text"] is None and row["officer_text"] is None

    issued = _issued(key_id, key)
    published = await apply_keys(unit, [issued])

    assert {e.report_id for e in published} == {r.report_id for r in theirs}
    assert len(published) == 2
    for event in published:
        assert isinstance(event, PublicReportPublished)
        assert event.causation_id == str(issued.event_id)
        assert _scrubbed(event.text) and event.text.startswith(f"Nama saya {HIDDEN}")
        row = unit.fake.reports[event.report_id]
        assert row["public_text"] == event.text and _scrubbed(row["officer_text"])
    assert unit.fake.lock == "exclusive"


async def test_a_reason_quoting_the_reporter_is_scrubbed_for_officers_once_known() -> None:
    """A step's reason may quote the reporter. Before their content arrives only patterns
    are hidden; the content's arrival (with the key) scrubs the officer copy again."""
    unit = FakeUnit()
    key_id, key = uuid4(), new_key()
    report = _submitted(key_id, key)
    await apply_keys(unit, [_issued(key_id, key)])
    reason = f"Dikembalikan: {NAME} minta dihubungi"
    await apply_statuses(unit, [_step(report, 1, ReportStatus.FOLLOWUP_REJECTED, reason=reason)])
    assert "Santoso" in (unit.fake.officer_reasons[report.report_id, 1] or "")

    await apply_contents(unit, [report])

    officer = unit.fake.officer_reasons[report.report_id, 1]
    assert officer is not None and "Budi" not in officer and "Santoso" not in officer
    # The reporter's own copy of the timeline keeps the reason as given.
    assert unit.fake.timeline[report.report_id, 1].reason == reason
    # Later steps with a reason are scrubbed as they are written.
    await apply_statuses(unit, [_step(report, 2, ReportStatus.FOLLOWUP_REJECTED, reason=reason)])
    later = unit.fake.officer_reasons[report.report_id, 2]
    assert later is not None and "Santoso" not in later


async def test_a_batch_costs_one_call_per_table_whatever_its_size() -> None:
    """The point of the set-based projector: 50 reports are as many store calls as one
    (PostgreSQL: one statement per table per poll)."""

    async def costs(n: int) -> tuple[Counter[str], Counter[str], Counter[str]]:
        unit = FakeUnit()
        keys = [(uuid4(), new_key()) for _ in range(n)]
        reports = [_submitted(k, b) for k, b in keys]
        steps = [
            _step(r, v, s)
            for r in reports
            for v, s in ((1, ReportStatus.RECEIVED), (2, ReportStatus.DISPATCHED))
        ]
        await apply_keys(unit, [_issued(k, b) for k, b in keys])
        after_keys = unit.fake.take_calls()
        await apply_contents(unit, reports)
        after_contents = unit.fake.take_calls()
        await apply_statuses(unit, steps)
        # Every step of a public report is published (2 each), once it is complete.
        assert len(unit.published) == 2 * n
        assert len(unit.fake.timeline) == 2 * n
        assert all(r["status"] == "dispatched" for r in unit.fake.reports.values())
        return after_keys, after_contents, unit.fake.take_calls()

    one, fifty = await costs(1), await costs(50)
    assert fifty == one
    keys, contents, statuses = fifty
    assert dict(keys) == {
        "lock_keys": 1,
        "add_keys": 1,
        "reports_of_keys": 1,
        "timelines": 1,
    }
    assert dict(contents) == {
        "lock_keys": 1,
        "key_states": 1,
        "add_contents": 1,
        "timelines": 1,
    }
    assert dict(statuses) == {
        "locked_with_timelines": 1,
        "set_statuses": 1,
        "add_timeline": 1,
    }
