"""The use cases on in-memory stores (no I/O): what a batch of intake events and a command
store, in how many store calls, and what they announce. The PostgreSQL stores behind the
same Protocols are covered by the integration suite (tests/integration) and end to end.

The fakes follow the tables' rules: a report is inserted only once, a save only applies
to the version it was decided on, one running clock per stage, one history row per
version."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from pydantic import BaseModel

from aduan_contracts.commands import AcceptReport, DispatchReport, MergeReport
from aduan_contracts.enums import Channel, ReportStatus, Role, SlaStage
from aduan_contracts.events import (
    AreaRoute,
    CategoryPublished,
    CommandAccepted,
    CommandRefused,
    ReportAmended,
    ReportStatusChanged,
    ReportSubmitted,
)
from aduan_contracts.topics import STATUS_CHANGED, TopicSpec
from aduan_contracts.values import Actor, GeoPoint, Location
from aduan_workflow.adapters.stores import (
    CatalogueStore,
    Change,
    ClockStart,
    ClockStop,
    ClockStore,
    Deadline,
    HistoryRow,
    HistoryStore,
    ReportStore,
)
from aduan_workflow.config import Settings
from aduan_workflow.domain.lifecycle import Report, opening
from aduan_workflow.service.commands import handle_command
from aduan_workflow.service.intake import open_reports, wanted
from aduan_workflow.service.recording import Rules


@dataclass
class Clock:
    report_id: UUID
    stage: SlaStage
    agency_id: str | None
    started_at: datetime
    due_at: datetime
    remind_at: datetime
    closed_at: datetime | None = None


@dataclass
class Calls:
    counts: Counter[str] = field(default_factory=Counter)

    def __call__(self, name: str) -> None:
        self.counts[name] += 1


class FakeReports:
    def __init__(self, calls: Calls) -> None:
        self.rows: dict[UUID, Report] = {}
        self.points: dict[UUID, GeoPoint] = {}
        self.calls = calls

    async def add_new(self, reports: Sequence[Report], at: datetime) -> set[UUID]:
        self.calls("reports.add_new")
        added = set()
        for report in reports:
            if report.id not in self.rows:
                self.rows[report.id] = report
                added.add(report.id)
        return added

    async def add_locations(self, points: Sequence[tuple[UUID, GeoPoint]]) -> None:
        self.calls("reports.add_locations")
        for rid, point in points:
            self.points.setdefault(rid, point)

    async def get(self, report_id: UUID, *, lock: bool = False) -> Report | None:
        self.calls("reports.get")
        return self.rows.get(report_id)

    async def location(self, report_id: UUID) -> GeoPoint | None:
        return self.points.get(report_id)

    async def save(self, changes: Sequence[Change]) -> set[UUID]:
        self.calls("reports.save")
        assert len({c.after.id for c in changes}) == len(changes)
        saved = set()
        for change in changes:
            current = self.rows.get(change.after.id)
            if current is not None and current.version == change.read_version:
                self.rows[change.after.id] = change.after
                saved.add(change.after.id)
        return saved

    async def followers(self, primary_ids: Collection[UUID]) -> list[Report]:
        self.calls("reports.followers")
        return sorted(
            (
                r
                for r in self.rows.values()
                if r.merged_into in primary_ids and r.status is ReportStatus.MERGED
            ),
            key=lambda r: r.id,
        )


class FakeHistory:
    def __init__(self, calls: Calls) -> None:
        self.rows: list[HistoryRow] = []
        self.calls = calls

    async def append(self, rows: Sequence[HistoryRow]) -> None:
        self.calls("history.append")
        for row in rows:
            # The table's unique (report_id, version).
            assert all((r.report_id, r.version) != (row.report_id, row.version) for r in self.rows)
            self.rows.append(row)

    def of(self, report_id: UUID) -> list[HistoryRow]:
        return [r for r in self.rows if r.report_id == report_id]


class FakeClocks:
    def __init__(self, calls: Calls) -> None:
        self.rows: list[Clock] = []
        self.calls = calls

    def running(self, report_id: UUID) -> list[Clock]:
        return [c for c in self.rows if c.report_id == report_id and c.closed_at is None]

    async def stop(self, stops: Sequence[ClockStop]) -> None:
        self.calls("clocks.stop")
        for stop in stops:
            for clock in self.running(stop.report_id):
                if clock.stage is stop.stage:
                    clock.closed_at = stop.at

    async def start(self, clocks: Sequence[ClockStart]) -> None:
        self.calls("clocks.start")
        for c in clocks:
            # The partial unique index: one running clock per report and stage.
            assert all(r.stage is not c.stage for r in self.running(c.report_id))
            self.rows.append(
                Clock(
                    c.report_id,
                    c.stage,
                    c.agency_id,
                    c.started_at,
                    c.due_at,
                    c.remind_at,
                    c.closed_at,
                )
            )

    async def reassign(self, agencies: Sequence[tuple[UUID, str | None]]) -> None:
        self.calls("clocks.reassign")
        for rid, agency in agencies:
            for clock in self.running(rid):
                clock.agency_id = agency

    async def nearest(self, report_ids: Collection[UUID]) -> dict[UUID, Deadline]:
        self.calls("clocks.nearest")
        found = {}
        for rid in report_ids:
            running = sorted(self.running(rid), key=lambda c: (c.due_at, c.stage.value))
            if running:
                found[rid] = Deadline(running[0].stage, running[0].due_at)
        return found


class FakeCatalogue:
    def __init__(self, calls: Calls) -> None:
        self.records: dict[str, CategoryPublished] = {}
        self.calls = calls

    async def categories(self, codes: Collection[str]) -> dict[str, CategoryPublished]:
        self.calls("catalogue.categories")
        return {code: self.records[code] for code in codes if code in self.records}


@dataclass
class Published:
    topic: str
    event: Any
    key: UUID


class FakeUnit:
    def __init__(self) -> None:
        self.calls = Calls()
        self.fake_reports = FakeReports(self.calls)
        self.fake_history = FakeHistory(self.calls)
        self.fake_clocks = FakeClocks(self.calls)
        self.fake_catalogue = FakeCatalogue(self.calls)
        # As the Protocols, so mypy checks the fakes against them too.
        self.reports: ReportStore = self.fake_reports
        self.history: HistoryStore = self.fake_history
        self.clocks: ClockStore = self.fake_clocks
        self.catalogue: CatalogueStore = self.fake_catalogue
        self.published: list[Published] = []

    def publish(self, topic: TopicSpec | str, event: BaseModel, key: UUID) -> None:
        self.published.append(
            Published(topic.name if isinstance(topic, TopicSpec) else topic, event, key)
        )

    def events_of(self, report_id: UUID) -> list[Any]:
        return [p.event for p in self.published if p.key == report_id]

    def put(self, report: Report, **changes: Any) -> Report:
        """A report already stored (from an earlier unit of work)."""
        stored = replace(report, **changes)
        self.fake_reports.rows[stored.id] = stored
        return stored


S = ReportStatus
RULES = Rules.from_settings(Settings())
# A Monday, 15:00 in Jakarta.
MONDAY = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
TICKET_ADMIN = Actor(id="u-admin", role=Role.TICKET_ADMIN)
OFFICER = Actor(id="u-off", role=Role.AGENCY_OFFICER, agency_id="dinas-bm")


def submitted(**changes: Any) -> ReportSubmitted:
    values: dict[str, Any] = {
        "report_id": uuid4(),
        "receipt_code": "ADU-7K3M-Q9XZ",
        "channel": Channel.WHATSAPP,
        "channel_message_id": f"wamid.{uuid4().hex}",
        "text": "Jalan berlubang di depan sekolah",
        "category_hint": "jalan",
        "received_at": MONDAY,
    }
    values.update(changes)
    return ReportSubmitted(**values)


def category(
    code: str = "jalan", agency: str | None = "dinas-bm", routes: tuple[AreaRoute, ...] = ()
) -> CategoryPublished:
    return CategoryPublished(
        code=code,
        version=1,
        name_id=code,
        name_en=code,
        agency_id=agency,
        area_routes=routes,
        active=True,
        updated_at=MONDAY,
    )


def changes(unit: FakeUnit, report_id: UUID) -> list[ReportStatusChanged]:
    found = unit.events_of(report_id)
    assert all(isinstance(e, ReportStatusChanged) for e in found)
    return found


async def test_a_new_report_opens_with_a_triage_clock_in_working_days() -> None:
    unit = FakeUnit()
    event = submitted(category_hint=None)

    assert await open_reports(unit, RULES, [event]) == [event.report_id]

    [opened] = changes(unit, event.report_id)
    assert (opened.version, opened.from_status, opened.to_status) == (1, None, S.RECEIVED)
    assert opened.actor.role is Role.SYSTEM
    assert opened.causation_id == str(event.event_id)
    # Three working days after Monday: Thursday at the close of office hours (16:00 WIB).
    assert opened.sla_stage is SlaStage.TRIAGE
    assert opened.due_at == datetime(2026, 3, 5, 9, 0, tzinfo=UTC)
    [clock] = unit.fake_clocks.running(event.report_id)
    assert (clock.stage, clock.started_at, clock.due_at) == (
        SlaStage.TRIAGE,
        MONDAY,
        opened.due_at,
    )
    [row] = unit.fake_history.of(event.report_id)
    assert (row.version, row.to_status) == (1, S.RECEIVED)
    assert unit.fake_reports.rows[event.report_id].status is S.RECEIVED


async def test_a_batch_costs_one_call_per_store_whatever_its_size() -> None:
    """The point of the set-based use case: 50 reports, half of them routed, are as many
    store calls as one (PostgreSQL: one statement per table per batch)."""
    unit = FakeUnit()
    unit.fake_catalogue.records["jalan"] = category()
    events = [submitted(category_hint="jalan" if n % 2 else None) for n in range(50)]

    await open_reports(unit, RULES, events)

    assert dict(unit.calls.counts) == {
        "catalogue.categories": 1,
        "reports.add_new": 1,  # the routed ones already dispatched
        "reports.add_locations": 1,
        "history.append": 1,  # received and dispatched steps together
        "clocks.stop": 1,  # with nothing to stop: the triage clocks are written closed
        "clocks.start": 1,
        "clocks.reassign": 1,
        "clocks.nearest": 1,  # asked about no report: all opened here
    }
    assert len(unit.published) == 50 + 25


async def test_routed_reports_are_received_then_dispatched_with_the_rule() -> None:
    unit = FakeUnit()
    unit.fake_catalogue.records["jalan"] = category()
    event = submitted()

    await open_reports(unit, RULES, [event])

    opened, dispatched = changes(unit, event.report_id)
    assert (opened.to_status, dispatched.from_status, dispatched.to_status) == (
        S.RECEIVED,
        S.RECEIVED,
        S.DISPATCHED,
    )
    assert (dispatched.version, dispatched.agency_id) == (2, "dinas-bm")
    assert dispatched.route is not None
    assert (dispatched.route.rule, dispatched.route.category, dispatched.route.agency_id) == (
        "category",
        "jalan",
        "dinas-bm",
    )
    assert dispatched.reason == "auto-routed by the rule for category jalan"
    # Triage stopped at the dispatch; dispatch and follow-up clocks run from it, and the
    # event names the one due first, as the database would order them.
    clocks = unit.fake_clocks.rows
    triage = next(c for c in clocks if c.stage is SlaStage.TRIAGE)
    assert triage.closed_at == dispatched.occurred_at
    running = unit.fake_clocks.running(event.report_id)
    assert {c.stage for c in running} == {SlaStage.DISPATCH, SlaStage.FOLLOW_UP}
    assert all(c.agency_id == "dinas-bm" for c in running)
    first = min(running, key=lambda c: (c.due_at, c.stage.value))
    assert (dispatched.sla_stage, dispatched.due_at) == (first.stage, first.due_at)
    assert dispatched.due_at == RULES.policy.due(
        SlaStage.DISPATCH, "jalan", dispatched.occurred_at
    ).due_at.astimezone(UTC)
    assert [r.version for r in unit.fake_history.of(event.report_id)] == [1, 2]
    stored = unit.fake_reports.rows[event.report_id]
    assert (stored.status, stored.version, stored.agency_id) == (S.DISPATCHED, 2, "dinas-bm")


async def test_an_area_route_wins_only_when_intake_was_sure_of_the_area() -> None:
    unit = FakeUnit()
    unit.fake_catalogue.records["jalan"] = category(
        routes=(AreaRoute(area_code="31.71", agency_id="sudin-jakpus"),)
    )
    sure = submitted(
        location=Location(area_code="31.71.01.1001", area_how="code", area_confidence=0.9)
    )
    guessed = submitted(
        location=Location(area_code="31.71.01.1001", area_how="text", area_confidence=0.2)
    )

    await open_reports(unit, RULES, [sure, guessed])

    by_area = changes(unit, sure.report_id)[1]
    assert by_area.agency_id == "sudin-jakpus"
    assert by_area.route is not None and by_area.route.area_code == "31.71"
    assert by_area.reason == "auto-routed by the rule for category jalan in area 31.71"
    by_category = changes(unit, guessed.report_id)[1]
    assert by_category.agency_id == "dinas-bm"
    assert by_category.route is not None and by_category.route.rule == "category"


async def test_unknown_or_agencyless_categories_wait_in_triage() -> None:
    unit = FakeUnit()
    unit.fake_catalogue.records["lampu"] = category("lampu", agency=None)
    events = [submitted(category_hint="lampu"), submitted(category_hint="tak-dikenal")]

    await open_reports(unit, RULES, events)

    for event in events:
        assert [c.to_status for c in changes(unit, event.report_id)] == [S.RECEIVED]
    assert unit.calls.counts["catalogue.categories"] == 1
    assert "reports.save" not in unit.calls.counts


async def test_a_report_already_open_is_ignored_under_a_new_event_id() -> None:
    """Intake re-publishing after a crash: same report, new event id. Nothing is stored or
    announced twice, within a batch or across batches."""
    unit = FakeUnit()
    first = submitted(category_hint=None)
    again = first.model_copy(update={"event_id": uuid4()})

    assert await open_reports(unit, RULES, [first, again]) == [first.report_id]
    assert await open_reports(unit, RULES, [again]) == []

    assert len(changes(unit, first.report_id)) == 1
    assert len(unit.fake_history.of(first.report_id)) == 1


async def test_amendments_are_not_workflows_business() -> None:
    amended = ReportAmended(
        report_id=uuid4(),
        channel=Channel.WHATSAPP,
        channel_message_id="wamid.2",
        received_at=MONDAY,
        text="lagi",
    )
    assert not wanted(amended)
    unit = FakeUnit()
    assert await open_reports(unit, RULES, [amended]) == []
    assert unit.published == []


async def test_me_too_merges_into_the_chosen_report_and_otherwise_routes() -> None:
    unit = FakeUnit()
    unit.fake_catalogue.records["jalan"] = category()
    primary = unit.put(opening(submitted()), status=S.DISPATCHED, version=2, agency_id="dinas-bm")
    finished = unit.put(opening(submitted()), status=S.COMPLETED, version=5)
    me_too = submitted(follows=primary.id)
    too_late = submitted(follows=finished.id)
    plain = submitted()

    await open_reports(unit, RULES, [me_too, too_late, plain])

    opened, merged = changes(unit, me_too.report_id)
    assert (opened.to_status, merged.to_status) == (S.RECEIVED, S.MERGED)
    assert (merged.merged_into, merged.primary_status) == (primary.id, S.DISPATCHED)
    assert (merged.sla_stage, merged.due_at) == (None, None)  # a merged report has no clock
    assert unit.fake_clocks.running(me_too.report_id) == []
    # A completed report takes no merges: the new one is routed like any other.
    assert [c.to_status for c in changes(unit, too_late.report_id)] == [
        S.RECEIVED,
        S.DISPATCHED,
    ]
    assert [c.to_status for c in changes(unit, plain.report_id)] == [S.RECEIVED, S.DISPATCHED]


async def test_a_command_is_applied_and_answered_on_the_reply_topic() -> None:
    unit = FakeUnit()
    report = unit.put(opening(submitted()))
    unit.fake_clocks.rows.append(
        Clock(report.id, SlaStage.TRIAGE, None, MONDAY, MONDAY + timedelta(days=3), MONDAY)
    )
    command = DispatchReport(report_id=report.id, actor=TICKET_ADMIN, agency_id="dinas-bm")

    reply = await handle_command(unit, RULES, command, "ns.my-replies")

    assert isinstance(reply, CommandAccepted)
    assert (reply.status, reply.version) == (S.DISPATCHED, 2)
    [change, answer] = unit.published
    assert change.topic == STATUS_CHANGED.name
    assert isinstance(change.event, ReportStatusChanged)
    assert (answer.topic, answer.event) == ("ns.my-replies", reply)
    assert change.event.sla_stage is not None
    # Not opened in this unit of work: the nearest deadline was asked of the store.
    assert unit.calls.counts["clocks.nearest"] == 1
    assert unit.calls.counts["reports.followers"] == 1


async def test_a_refused_command_changes_nothing() -> None:
    unit = FakeUnit()
    report = unit.put(opening(submitted()))

    wrong = await handle_command(
        unit, RULES, AcceptReport(report_id=report.id, actor=OFFICER), "replies"
    )
    unknown = await handle_command(
        unit, RULES, AcceptReport(report_id=uuid4(), actor=OFFICER), "replies"
    )

    assert isinstance(wrong, CommandRefused) and wrong.code == "wrong_agency"
    assert isinstance(unknown, CommandRefused) and unknown.code == "not_found"
    assert [p.event for p in unit.published] == [wrong, unknown]
    assert unit.fake_reports.rows[report.id] == report
    assert unit.fake_history.rows == []


async def test_merged_reports_follow_their_primary() -> None:
    """A command on a primary moves every report merged into it too (its reporter hears
    the outcome), in the same unit of work, announced after the primary's own step."""
    unit = FakeUnit()
    primary = unit.put(opening(submitted()))
    duplicate = unit.put(opening(submitted()))
    merge = MergeReport(report_id=duplicate.id, actor=TICKET_ADMIN, primary_report_id=primary.id)
    assert isinstance(await handle_command(unit, RULES, merge, "replies"), CommandAccepted)
    unit.published.clear()

    dispatch = DispatchReport(report_id=primary.id, actor=TICKET_ADMIN, agency_id="dinas-bm")
    await handle_command(unit, RULES, dispatch, "replies")

    keys = [p.key for p in unit.published]
    assert keys == [primary.id, duplicate.id, primary.id]  # step, follower, reply
    followed = unit.published[1].event
    assert (followed.to_status, followed.version, followed.primary_status) == (
        S.MERGED,
        3,
        S.DISPATCHED,
    )
    assert followed.causation_id == str(dispatch.event_id)
    assert unit.fake_reports.rows[duplicate.id].primary_status is S.DISPATCHED
