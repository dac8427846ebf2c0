"""Workflow on real Kafka and PostgreSQL: intake opens cases exactly once, poison messages
leave through the DLQ without blocking, commands get replies through the outbox, and a
handler that fails once is really redelivered by the broker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pydantic import BaseModel
from sqlalchemy import func, select, text

from aduan_contracts.commands import (
    AcceptReport,
    DispatchReport,
    MergeReport,
    OrderFieldVerification,
    RecordFieldVerification,
    RejectFollowUp,
    ReopenReport,
    ResumeReport,
    SubmitFollowUp,
    ValidateFollowUp,
)
from aduan_contracts.enums import Channel, ReportStatus, Role, SlaStage
from aduan_contracts.events import (
    AutoRoute,
    CategoryPublished,
    CommandAccepted,
    CommandRefused,
    ReportAmended,
    ReportStatusChanged,
    ReportSubmitted,
    SlaBreached,
)
from aduan_contracts.serialization import decode, encode
from aduan_contracts.topics import (
    CATEGORIES,
    COMMAND_REPLIES,
    REPORT_INTAKE,
    SLA_EVENTS,
    STATUS_CHANGED,
    WORKFLOW_COMMANDS,
    TopicSpec,
)
from aduan_contracts.values import Actor, GeoPoint, Location, PhotoRef
from aduan_kit.runtime import ServiceRuntime
from aduan_testing.plugin import Isolation
from aduan_workflow.adapters.tables import OUTBOX, REPORTS, SLA_CLOCKS, STATUS_HISTORY
from aduan_workflow.bootstrap import build
from aduan_workflow.cli import routing_list
from aduan_workflow.config import Settings
from aduan_workflow.entrypoints.sla_scanner import SCANNER_LOCK_KEY, SlaScanner
from aduan_workflow.service import intake as intake_module

pytestmark = pytest.mark.integration

S = ReportStatus

TICKET_ADMIN = Actor(id="u-admin", role=Role.TICKET_ADMIN)


class Service:
    def __init__(self, iso: Isolation, app: Any, runtime: ServiceRuntime) -> None:
        self.iso = iso
        self.app = app
        self.runtime = runtime
        self.producer = AIOKafkaProducer(bootstrap_servers=iso.kafka, acks="all")

    def topic(self, name: str) -> str:
        return f"{self.iso.namespace}.{name}"

    async def send(
        self,
        topic: str,
        value: BaseModel | bytes,
        key: UUID | str,
        headers: dict[str, str] | None = None,
    ) -> None:
        await self.producer.send_and_wait(
            self.topic(topic),
            value=value if isinstance(value, bytes) else encode(value),
            key=str(key).encode(),
            headers=[(k, v.encode()) for k, v in (headers or {}).items()],
        )

    async def drained(self, spec: TopicSpec, within: float = 30.0) -> None:
        """Wait until the service committed every message of `topic` and relayed its
        outbox: after this, everything it will ever publish for them is on Kafka."""
        group = self.runtime.settings.consumer_group
        consumer = AIOKafkaConsumer(bootstrap_servers=self.iso.kafka)
        admin = AIOKafkaAdminClient(bootstrap_servers=self.iso.kafka)
        await consumer.start()
        await admin.start()
        try:
            name = self.topic(spec.name)
            # Test topics may have fewer partitions than production's (see `isolated`).
            [described] = await admin.describe_topics([name])
            parts = [TopicPartition(name, p["partition"]) for p in described["partitions"]]
            deadline = time.monotonic() + within
            while True:
                ends = await consumer.end_offsets(parts)
                committed = await admin.list_consumer_group_offsets(group, partitions=parts)
                done = all(
                    ends[tp] == 0 or (tp in committed and committed[tp].offset >= ends[tp])
                    for tp in parts
                )
                if done:
                    async with self.runtime.sessions() as s:
                        if not await s.scalar(select(func.count()).select_from(OUTBOX)):
                            return
                assert time.monotonic() < deadline, f"{name} not drained: {ends} {committed}"
                await asyncio.sleep(0.2)
        finally:
            await consumer.stop()
            await admin.close()

    async def read(
        self,
        topic: str,
        until: Callable[[list[ConsumerRecord[bytes, bytes]]], bool],
        within: float = 30.0,
        qualified: bool = False,
    ) -> list[ConsumerRecord[bytes, bytes]]:
        """Every record of `topic` from the start, once `until(records)` holds."""
        name = topic if qualified else self.topic(topic)
        consumer = AIOKafkaConsumer(
            name, bootstrap_servers=self.iso.kafka, group_id=None, auto_offset_reset="earliest"
        )
        await consumer.start()
        records: list[ConsumerRecord[bytes, bytes]] = []
        try:
            deadline = time.monotonic() + within
            while not until(records):
                assert time.monotonic() < deadline, f"timed out on {name}: {len(records)} records"
                batch = await consumer.getmany(timeout_ms=300)
                for got in batch.values():
                    records.extend(got)
            return records
        finally:
            await consumer.stop()

    async def status_changes(
        self, report_id: UUID, count: int = 1, within: float = 30.0
    ) -> list[ReportStatusChanged]:
        def mine(records: list[ConsumerRecord[bytes, bytes]]) -> list[ReportStatusChanged]:
            events = [decode(STATUS_CHANGED, r.value) for r in records]
            return [e for e in events if e.report_id == report_id]

        records = await self.read(STATUS_CHANGED.name, lambda rs: len(mine(rs)) >= count, within)
        return mine(records)


@pytest.fixture
async def service(isolated: Isolation) -> AsyncIterator[Service]:
    settings = Settings(
        kafka_bootstrap_servers=isolated.kafka,
        database_url=isolated.database("workflow"),
        redis_url=isolated.redis_url,
        redis_prefix=isolated.redis_prefix,
        topic_namespace=isolated.namespace,
        environment="test",
    )
    app, runtime = build(settings)
    svc = Service(isolated, app, runtime)
    await runtime.start()
    await svc.producer.start()
    try:
        yield svc
    finally:
        await svc.producer.stop()
        await runtime.stop()


def submitted(**changes: Any) -> ReportSubmitted:
    values: dict[str, Any] = {
        "report_id": uuid4(),
        "receipt_code": "ADU-7K3M-Q9XZ",
        "channel": Channel.WHATSAPP,
        "channel_message_id": f"wamid.{uuid4().hex}",
        "text": "Jalan berlubang di depan sekolah",
        "category_hint": "jalan",
        "received_at": datetime(2026, 3, 2, 8, 0, tzinfo=UTC),
    }
    values.update(changes)
    return ReportSubmitted(**values)


async def history_rows(svc: Service, report_id: UUID) -> list[Any]:
    async with svc.runtime.sessions() as s:
        return list(
            (
                await s.execute(
                    select(STATUS_HISTORY)
                    .where(STATUS_HISTORY.c.report_id == report_id)
                    .order_by(STATUS_HISTORY.c.version)
                )
            ).all()
        )


async def open_report(svc: Service, **changes: Any) -> ReportSubmitted:
    event = submitted(**changes)
    await svc.send(REPORT_INTAKE.name, event, key=event.report_id)
    await svc.status_changes(event.report_id)
    return event


async def test_a_submitted_report_is_received(service: Service) -> None:
    event = submitted()
    await service.send(REPORT_INTAKE.name, event, key=event.report_id)

    [change] = await service.status_changes(event.report_id)
    assert change.from_status is None
    assert change.to_status is ReportStatus.RECEIVED
    assert change.version == 1
    assert change.actor == Actor(id="system", role=Role.SYSTEM)
    assert change.receipt_code == event.receipt_code
    assert change.channel is Channel.WHATSAPP
    assert change.category == "jalan"
    assert change.correlation_id == event.correlation_id
    assert change.causation_id == str(event.event_id)

    async with service.runtime.sessions() as s:
        row = (await s.execute(select(REPORTS).where(REPORTS.c.id == event.report_id))).one()
    assert (row.status, row.version, row.receipt_code) == ("received", 1, event.receipt_code)

    transport = httpx.ASGITransport(app=service.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://workflow") as client:
        got = await client.get(f"/internal/reports/{event.report_id}")
        missing = await client.get(f"/internal/reports/{uuid4()}")
    assert got.status_code == 200
    body = got.json()
    assert body["status"] == "received"
    assert body["status_label"] == "Menunggu"
    assert body["version"] == 1
    assert body["agency_id"] is None
    assert [
        (h["version"], h["from_status"], h["to_status"], h["actor_role"]) for h in body["history"]
    ] == [(1, None, "received", "system")]
    assert missing.status_code == 404
    assert "unknown" in missing.json()["detail"]


async def test_the_same_event_twice_opens_one_case(service: Service) -> None:
    event = submitted()
    await service.send(REPORT_INTAKE.name, event, key=event.report_id)
    await service.send(REPORT_INTAKE.name, event, key=event.report_id)
    # Same report again under a new event id: the row guard, not the inbox, stops it.
    again = event.model_copy(update={"event_id": uuid4()})
    await service.send(REPORT_INTAKE.name, again, key=event.report_id)
    # An amendment adds content only: no status change.
    amended = ReportAmended(
        report_id=event.report_id,
        channel=Channel.WHATSAPP,
        channel_message_id="wamid.more",
        text="Tambahan: lubangnya makin besar",
        received_at=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
    )
    await service.send(REPORT_INTAKE.name, amended, key=event.report_id)
    await service.drained(REPORT_INTAKE)

    changes = await service.status_changes(event.report_id)
    assert len(changes) == 1
    assert len(await history_rows(service, event.report_id)) == 1


async def test_poison_message_is_dead_lettered_and_does_not_block(service: Service) -> None:
    poison_key = uuid4()
    await service.send(REPORT_INTAKE.name, b'{"nope":1}', key=poison_key)
    await service.send(REPORT_INTAKE.name, b"not json at all", key=poison_key)
    # Same key, so same partition: it is behind the poison messages.
    good = submitted(report_id=poison_key)
    await service.send(REPORT_INTAKE.name, good, key=poison_key)

    [change] = await service.status_changes(good.report_id)
    assert change.to_status is ReportStatus.RECEIVED

    dlq = await service.read(f"{REPORT_INTAKE.name}.dlq", lambda rs: len(rs) >= 2)
    assert [r.value for r in dlq] == [b'{"nope":1}', b"not json at all"]
    for record in dlq:
        headers = {k: v.decode() for k, v in record.headers}
        assert headers["dlq_error"]
        assert headers["dlq_source_topic"] == service.topic(REPORT_INTAKE.name)
        assert record.key == str(poison_key).encode()


async def dispatch(
    service: Service, report_id: UUID, reply_to: str | None, **extra: Any
) -> DispatchReport:
    cmd = DispatchReport(report_id=report_id, actor=TICKET_ADMIN, agency_id="dbm", **extra)
    headers = {"correlation_id": cmd.correlation_id}
    if reply_to:
        headers["reply_to"] = reply_to
    await service.send(WORKFLOW_COMMANDS.name, cmd, key=report_id, headers=headers)
    return cmd


async def replies(
    service: Service, topic: str, command_ids: set[UUID], within: float = 30.0
) -> list[CommandAccepted | CommandRefused]:
    def mine(records: list[ConsumerRecord[bytes, bytes]]) -> list[Any]:
        got = [decode(COMMAND_REPLIES, r.value) for r in records]
        return [g for g in got if g.command_id in command_ids]

    records = await service.read(
        topic, lambda rs: len(mine(rs)) >= len(command_ids), within, qualified=True
    )
    return mine(records)


async def create_topic(service: Service, name: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=service.iso.kafka)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()


async def test_dispatch_command_is_accepted_and_replied(service: Service) -> None:
    event = await open_report(service)
    # A gateway instance's own reply topic (topics are not auto-created: it makes its own).
    reply_topic = service.topic("gateway.replies.test")
    await create_topic(service, reply_topic)
    cmd = await dispatch(service, event.report_id, reply_topic, expected_version=1)

    [reply] = await replies(service, reply_topic, {cmd.event_id})
    assert isinstance(reply, CommandAccepted)
    assert (reply.status, reply.version, reply.report_id) == (
        ReportStatus.DISPATCHED,
        2,
        event.report_id,
    )
    assert reply.correlation_id == cmd.correlation_id

    changes = await service.status_changes(event.report_id, count=2)
    assert [c.to_status for c in changes] == [ReportStatus.RECEIVED, ReportStatus.DISPATCHED]
    assert changes[1].agency_id == "dbm"
    assert changes[1].actor == TICKET_ADMIN
    assert changes[1].causation_id == str(cmd.event_id)

    # A redelivered command changes nothing and is not answered twice.
    await service.send(
        WORKFLOW_COMMANDS.name,
        cmd,
        key=event.report_id,
        headers={"reply_to": reply_topic},
    )
    await service.drained(WORKFLOW_COMMANDS)
    assert len(await replies(service, reply_topic, {cmd.event_id})) == 1
    assert len(await history_rows(service, event.report_id)) == 2

    transport = httpx.ASGITransport(app=service.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://workflow") as client:
        body = (await client.get(f"/internal/reports/{event.report_id}")).json()
    assert (body["status"], body["status_label"], body["version"], body["agency_id"]) == (
        "dispatched",
        "Disposisi",
        2,
        "dbm",
    )


async def test_forbidden_command_is_refused_and_changes_nothing(service: Service) -> None:
    event = await open_report(service)
    accept = AcceptReport(report_id=event.report_id, actor=TICKET_ADMIN)
    stale = DispatchReport(
        report_id=event.report_id, actor=TICKET_ADMIN, agency_id="dbm", expected_version=7
    )
    unknown = AcceptReport(report_id=uuid4(), actor=TICKET_ADMIN)
    for cmd in (accept, stale, unknown):
        await service.send(WORKFLOW_COMMANDS.name, cmd, key=cmd.report_id)  # no reply_to

    got = await replies(
        service,
        service.topic(COMMAND_REPLIES.name),
        {accept.event_id, stale.event_id, unknown.event_id},
    )
    by_id = {r.command_id: r for r in got}
    assert all(isinstance(r, CommandRefused) for r in got)
    assert by_id[accept.event_id].code == "forbidden_role"  # type: ignore[union-attr]
    assert by_id[stale.event_id].code == "version_conflict"  # type: ignore[union-attr]
    assert by_id[unknown.event_id].code == "not_found"  # type: ignore[union-attr]

    await service.drained(WORKFLOW_COMMANDS)
    async with service.runtime.sessions() as s:
        row = (await s.execute(select(REPORTS).where(REPORTS.c.id == event.report_id))).one()
    assert (row.status, row.version) == ("received", 1)
    assert len(await history_rows(service, event.report_id)) == 1
    assert len(await service.status_changes(event.report_id)) == 1


async def publish_category(
    service: Service, code: str, version: int, agency: str | None, active: bool = True
) -> None:
    """What the gateway publishes when an administrator changes a category; returns once
    workflow's copy of the catalogue has it."""
    record = CategoryPublished(
        code=code,
        version=version,
        name_id=code,
        name_en=code,
        agency_id=agency,
        active=active,
        updated_at=datetime.now(UTC),
    )
    await service.send(CATEGORIES.name, record, key=code)
    url = service.runtime.settings.database_url
    wanted = (code, agency) if active and agency else None
    deadline = time.monotonic() + 30
    while True:
        routes = await routing_list(url)
        known = [r for r in routes if r[0] == code]
        if (wanted is None and not known) or (wanted is not None and known == [wanted]):
            return
        assert time.monotonic() < deadline, f"workflow never applied {code} v{version}"
        await asyncio.sleep(0.1)


async def test_routing_rule_dispatches_on_intake(service: Service) -> None:
    await publish_category(service, "sampah", 1, "dlh")
    event = submitted(category_hint="sampah")
    await service.send(REPORT_INTAKE.name, event, key=event.report_id)

    changes = await service.status_changes(event.report_id, count=2)
    assert [(c.version, c.to_status, c.actor.role) for c in changes] == [
        (1, ReportStatus.RECEIVED, Role.SYSTEM),
        (2, ReportStatus.DISPATCHED, Role.SYSTEM),
    ]
    assert changes[1].agency_id == "dlh"


async def test_a_handler_that_fails_once_is_redelivered(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The kit's batch consumer, NACK_ON_ERROR policy and middleware on the real broker: an
    outage rolls the batch's transaction back, no offset is committed, Kafka hands the same
    messages again, and the second delivery is applied once, in order."""
    real_opening = intake_module.opening
    calls: list[UUID] = []
    failing: set[UUID] = set()

    def flaky_opening(event: Any) -> Any:
        calls.append(event.event_id)
        if event.event_id in failing:
            failing.discard(event.event_id)
            raise ConnectionRefusedError("database went away for a moment")
        return real_opening(event)

    monkeypatch.setattr(intake_module, "opening", flaky_opening)
    first = submitted()
    behind = [submitted() for _ in range(3)]
    failing.add(first.event_id)
    # One partition, so the three behind it are already fetched when the first one fails:
    # the seek back must also throw those away, or they would overtake it.
    for event in (first, *behind):
        await service.producer.send_and_wait(
            service.topic(REPORT_INTAKE.name),
            value=encode(event),
            key=str(event.report_id).encode(),
            partition=0,
        )

    [change] = await service.status_changes(first.report_id)
    assert change.to_status is ReportStatus.RECEIVED
    await service.drained(REPORT_INTAKE)
    order = [first.event_id, first.event_id, *(e.event_id for e in behind)]
    assert calls == order  # failed once, redelivered once, and nothing overtook it
    for event in (first, *behind):
        assert len(await history_rows(service, event.report_id)) == 1
    dlq = await service.read(f"{REPORT_INTAKE.name}.dlq", lambda rs: True, within=2)
    assert dlq == []


async def test_a_handler_that_keeps_failing_is_dead_lettered(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After `kafka_max_attempts` (3) tries (the first in its batch, then alone) the message
    goes to the DLQ with its error, the message behind it is applied, and the partition
    moves on."""
    real_opening = intake_module.opening
    calls: list[UUID] = []
    doomed = submitted()

    def broken_opening(event: Any) -> Any:
        calls.append(event.event_id)
        if event.event_id == doomed.event_id:
            raise RuntimeError("bug in the handler")
        return real_opening(event)

    monkeypatch.setattr(intake_module, "opening", broken_opening)
    after = submitted()
    for event in (doomed, after):
        await service.producer.send_and_wait(
            service.topic(REPORT_INTAKE.name),
            value=encode(event),
            key=str(event.report_id).encode(),
            partition=0,
        )
    await service.status_changes(after.report_id)
    [dead] = await service.read(f"{REPORT_INTAKE.name}.dlq", lambda rs: len(rs) >= 1)
    headers = {k: v.decode() for k, v in dead.headers}
    assert headers["dlq_error"] == "RuntimeError: bug in the handler"
    assert headers["dlq_attempts"] == "3"
    assert decode(REPORT_INTAKE, dead.value) == doomed
    # Three tries alone; when `doomed` and `after` came in one poll, the set-based batch
    # tried it once more first (a failing batch of several cannot tell which event failed,
    # so that try is not counted as an attempt).
    assert calls.count(doomed.event_id) in (3, 4)
    assert calls[-1] == after.event_id and calls.count(after.event_id) == 1


async def test_reply_to_a_missing_topic_falls_back_and_does_not_stall(service: Service) -> None:
    """A reply queued for a topic that does not exist would block the in-order outbox relay
    (and with it every status change); it goes to the shared replies topic instead."""
    event = await open_report(service)
    cmd = await dispatch(service, event.report_id, service.topic("no.such.topic"))
    hijack = await dispatch(
        service, event.report_id, service.topic(STATUS_CHANGED.name), expected_version=2
    )
    got = await replies(
        service, service.topic(COMMAND_REPLIES.name), {cmd.event_id, hijack.event_id}
    )
    assert {r.event_type for r in got} == {"CommandAccepted", "CommandRefused"}
    changes = await service.status_changes(event.report_id, count=2)
    assert [c.to_status for c in changes] == [ReportStatus.RECEIVED, ReportStatus.DISPATCHED]
    later = await open_report(service)  # the relay still flows
    assert later.report_id != event.report_id


# --- the lifecycle over Kafka ----------------------------------------------------------------

OFFICER = Actor(id="u-off", role=Role.AGENCY_OFFICER, agency_id="dbm", display_name="Budi S.")
VALIDATOR = Actor(id="u-val", role=Role.VALIDATOR, display_name="Sari W.")
REPORTER = Actor(id="u-rep", role=Role.REPORTER)
SPOT = GeoPoint(lat=-6.1862, lon=106.8341)


async def command_and_reply(
    service: Service, cmd: Any, within: float = 30.0
) -> CommandAccepted | CommandRefused:
    await service.send(WORKFLOW_COMMANDS.name, cmd, key=cmd.report_id)
    [reply] = await replies(service, service.topic(COMMAND_REPLIES.name), {cmd.event_id}, within)
    return reply


async def test_full_cycle_over_kafka_with_history(service: Service) -> None:
    """received -> dispatched -> in_progress -> awaiting_validation -> followup_rejected ->
    in_progress -> awaiting_validation -> field_verification -> completed, each step a command
    on Kafka answered on the replies topic, each recorded with who, what and when."""
    event = await open_report(service, location=Location(point=SPOT, area="Gambir"))
    rid = event.report_id
    after_photo = PhotoRef(
        sha256="c" * 64,
        content_type="image/jpeg",
        size_bytes=2048,
        taken_at=event.received_at + timedelta(days=1),
        point=GeoPoint(lat=SPOT.lat + 0.0003, lon=SPOT.lon),  # about 33 m away
    )
    old_photo = after_photo.model_copy(
        update={
            "taken_at": event.received_at - timedelta(days=40),
            "point": GeoPoint(lat=-6.3, lon=106.8),  # about 12.6 km south
        }
    )
    steps: list[Any] = [
        DispatchReport(report_id=rid, actor=TICKET_ADMIN, agency_id="dbm", note="ke Bina Marga"),
        AcceptReport(report_id=rid, actor=OFFICER),
        SubmitFollowUp(report_id=rid, actor=OFFICER, note="sudah ditambal", photos=(old_photo,)),
        RejectFollowUp(report_id=rid, actor=VALIDATOR, reason="foto lama dan bukan lokasinya"),
        ResumeReport(report_id=rid, actor=OFFICER),
        SubmitFollowUp(report_id=rid, actor=OFFICER, note="ditambal ulang", photos=(after_photo,)),
        OrderFieldVerification(report_id=rid, actor=VALIDATOR, note="cek ke lokasi"),
        RecordFieldVerification(
            report_id=rid, actor=VALIDATOR, confirmed=True, result="lubang sudah tertutup"
        ),
    ]
    for version, cmd in enumerate(steps, start=2):
        cmd = cmd.model_copy(update={"expected_version": version - 1})
        reply = await command_and_reply(service, cmd)
        assert isinstance(reply, CommandAccepted), reply
        assert reply.version == version

    changes = await service.status_changes(rid, count=len(steps) + 1)
    assert [(c.version, c.from_status, c.to_status) for c in changes] == [
        (1, None, S.RECEIVED),
        (2, S.RECEIVED, S.DISPATCHED),
        (3, S.DISPATCHED, S.IN_PROGRESS),
        (4, S.IN_PROGRESS, S.AWAITING_VALIDATION),
        (5, S.AWAITING_VALIDATION, S.FOLLOWUP_REJECTED),
        (6, S.FOLLOWUP_REJECTED, S.IN_PROGRESS),
        (7, S.IN_PROGRESS, S.AWAITING_VALIDATION),
        (8, S.AWAITING_VALIDATION, S.FIELD_VERIFICATION),
        (9, S.FIELD_VERIFICATION, S.COMPLETED),
    ]
    # The evidence check informs the validator: the first TL's photo fails, the second passes.
    first_tl, second_tl = changes[3], changes[6]
    assert first_tl.evidence is not None and first_tl.follow_up is not None
    assert (first_tl.evidence.newer_than_report, first_tl.evidence.within_distance) == (
        False,
        False,
    )
    assert first_tl.follow_up.evidence == first_tl.evidence
    assert first_tl.follow_up.officer.display_name == "Budi S."
    assert second_tl.evidence is not None
    assert (second_tl.evidence.newer_than_report, second_tl.evidence.within_distance) == (
        True,
        True,
    )
    assert second_tl.evidence.nearest_distance_m == pytest.approx(33.4, abs=1)
    assert changes[8].field_result == "lubang sudah tertutup"
    # SLA badges ride on the events: the nearest running deadline, none once completed.
    assert (changes[0].sla_stage, changes[1].sla_stage) == (SlaStage.TRIAGE, SlaStage.DISPATCH)
    assert changes[2].sla_stage is SlaStage.FOLLOW_UP
    # Accepting keeps the follow-up clock that started at the dispatch (LAPOR!: 5 working
    # days of dispatch), so the badge's deadline is the dispatch's follow-up deadline.
    async with service.runtime.sessions() as s:
        follow_up_due = await s.scalar(
            select(SLA_CLOCKS.c.due_at)
            .where(SLA_CLOCKS.c.report_id == rid, SLA_CLOCKS.c.stage == "follow_up")
            .order_by(SLA_CLOCKS.c.id)
            .limit(1)
        )
    assert changes[2].due_at == follow_up_due
    assert changes[3].sla_stage is SlaStage.VALIDATION
    assert (changes[8].sla_stage, changes[8].due_at) == (None, None)

    transport = httpx.ASGITransport(app=service.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://workflow") as client:
        body = (await client.get(f"/internal/reports/{rid}")).json()
    assert (body["status"], body["status_label"], body["version"]) == ("completed", "Selesai", 9)
    history = [
        (h["version"], h["to_status"], h["actor_role"], h["actor_display_name"], h["reason"])
        for h in body["history"]
    ]
    assert history == [
        (1, "received", "system", None, None),
        (2, "dispatched", "ticket-admin", None, "ke Bina Marga"),
        (3, "in_progress", "agency-officer", "Budi S.", None),
        (4, "awaiting_validation", "agency-officer", "Budi S.", None),
        (5, "followup_rejected", "validator", "Sari W.", "foto lama dan bukan lokasinya"),
        (6, "in_progress", "agency-officer", "Budi S.", None),
        (7, "awaiting_validation", "agency-officer", "Budi S.", None),
        (8, "field_verification", "validator", "Sari W.", "cek ke lokasi"),
        (9, "completed", "validator", "Sari W.", "lubang sudah tertutup"),
    ]
    officers = [h for h in body["history"] if h["actor_role"] == "agency-officer"]
    assert {h["actor_agency"] for h in officers} == {"dbm"}
    # Every stage clock ran and stopped: triage, dispatch, follow-up (twice), validation (twice).
    stages = [(c["stage"], c["closed_at"] is not None) for c in body["sla"]]
    assert sorted(stages) == sorted(
        [
            ("triage", True),
            ("dispatch", True),
            ("follow_up", True),
            ("follow_up", True),
            ("validation", True),
            ("validation", True),
        ]
    )
    assert (body["sla_stage"], body["due_at"]) == (None, None)
    # The precise point is never served.
    assert str(SPOT.lat) not in str(body)


async def test_conflicting_commands_one_wins_the_other_is_refused(service: Service) -> None:
    event = await open_report(service)
    rid = event.report_id
    for cmd in (
        DispatchReport(report_id=rid, actor=TICKET_ADMIN, agency_id="dbm"),
        AcceptReport(report_id=rid, actor=OFFICER),
        SubmitFollowUp(report_id=rid, actor=OFFICER, note="sudah ditambal"),
    ):
        assert isinstance(await command_and_reply(service, cmd), CommandAccepted)

    # Two validators decide at the same moment on the version both saw (4).
    validate = ValidateFollowUp(report_id=rid, actor=VALIDATOR, expected_version=4)
    reject = RejectFollowUp(
        report_id=rid, actor=VALIDATOR, reason="foto kurang jelas", expected_version=4
    )
    # And two who did not say which version they saw.
    order = OrderFieldVerification(report_id=rid, actor=VALIDATOR)
    validate_again = ValidateFollowUp(report_id=rid, actor=VALIDATOR)
    await asyncio.gather(
        *(
            service.send(WORKFLOW_COMMANDS.name, cmd, key=rid)
            for cmd in (validate, reject, order, validate_again)
        )
    )
    ids = {validate.event_id, reject.event_id, order.event_id, validate_again.event_id}
    answers = await replies(service, service.topic(COMMAND_REPLIES.name), ids)
    got = {r.command_id: r for r in answers}
    assert len(got) == 4
    versioned = [got[validate.event_id], got[reject.event_id]]
    winners = [r for r in versioned if isinstance(r, CommandAccepted)]
    losers = [r for r in versioned if isinstance(r, CommandRefused)]
    assert len(winners) == 1 and len(losers) == 1
    assert losers[0].code == "version_conflict"
    assert losers[0].reason == "version 4 expected, report is at 5"
    # Whichever won, the report left awaiting_validation, so neither unversioned command fits
    # unless the rejection won (then both are still invalid: followup_rejected accepts neither).
    for late in (got[order.event_id], got[validate_again.event_id]):
        assert isinstance(late, CommandRefused)
        assert late.code == "invalid_transition"
        assert "cannot" in late.reason
    await service.drained(WORKFLOW_COMMANDS)
    rows = await history_rows(service, rid)
    assert [r.version for r in rows] == [1, 2, 3, 4, 5]
    assert rows[-1].to_status == winners[0].status.value


async def test_merged_reporters_are_told_the_primary_outcome(service: Service) -> None:
    primary = await open_report(service)
    dupes = [await open_report(service) for _ in range(2)]
    for dupe in dupes:
        merge = MergeReport(
            report_id=dupe.report_id, actor=TICKET_ADMIN, primary_report_id=primary.report_id
        )
        reply = await command_and_reply(service, merge)
        assert isinstance(reply, CommandAccepted) and reply.status is S.MERGED
    into_merged = MergeReport(
        report_id=primary.report_id, actor=TICKET_ADMIN, primary_report_id=dupes[0].report_id
    )
    refused = await command_and_reply(service, into_merged)
    assert isinstance(refused, CommandRefused) and refused.code == "invalid"

    dispatch_cmd = DispatchReport(report_id=primary.report_id, actor=TICKET_ADMIN, agency_id="dbm")
    assert isinstance(await command_and_reply(service, dispatch_cmd), CommandAccepted)
    for dupe in dupes:
        changes = await service.status_changes(dupe.report_id, count=3)
        assert [(c.version, c.from_status, c.to_status, c.primary_status) for c in changes] == [
            (1, None, S.RECEIVED, None),
            (2, S.RECEIVED, S.MERGED, S.RECEIVED),
            (3, S.MERGED, S.MERGED, S.DISPATCHED),
        ]
        assert changes[2].merged_into == primary.report_id
        assert changes[2].causation_id == str(dispatch_cmd.event_id)
        assert changes[2].actor.role is Role.SYSTEM
        # A merged report has no clock of its own: its primary's clocks run.
        assert changes[1].sla_stage is None and changes[2].sla_stage is None
    # A command on a merged report is refused; only the primary moves it.
    stray = AcceptReport(report_id=dupes[1].report_id, actor=OFFICER)
    late = await command_and_reply(service, stray)
    assert isinstance(late, CommandRefused)

    transport = httpx.ASGITransport(app=service.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://workflow") as client:
        body = (await client.get(f"/internal/reports/{dupes[0].report_id}")).json()
    assert (body["status"], body["primary_status"], body["merged_into"]) == (
        "merged",
        "dispatched",
        str(primary.report_id),
    )


async def sla_events(service: Service, count: int, within: float = 30.0) -> list[Any]:
    records = await service.read(SLA_EVENTS.name, lambda rs: len(rs) >= count, within)
    return [decode(SLA_EVENTS, r.value) for r in records]


async def test_sla_reminders_and_breaches_fire_once(service: Service) -> None:
    """Triage: 3 working days from a Friday-evening receipt is Wednesday 16:00 WIB, the
    reminder Wednesday 08:00 WIB. The scanner fires each once, and a stopped clock never."""
    wib = ZoneInfo("Asia/Jakarta")
    friday = datetime(2026, 7, 3, 20, 0, tzinfo=wib)
    slow = await open_report(service, received_at=friday)
    quick = await open_report(service, received_at=friday)
    transport = httpx.ASGITransport(app=service.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://workflow") as client:
        body = (await client.get(f"/internal/reports/{slow.report_id}")).json()
    [clock] = body["sla"]
    assert clock["stage"] == "triage"
    assert datetime.fromisoformat(clock["due_at"]) == datetime(2026, 7, 8, 16, 0, tzinfo=wib)
    assert datetime.fromisoformat(clock["remind_at"]) == datetime(2026, 7, 8, 8, 0, tzinfo=wib)
    assert datetime.fromisoformat(body["due_at"]) == datetime(2026, 7, 8, 16, 0, tzinfo=wib)
    [opened] = await service.status_changes(slow.report_id)
    assert opened.sla_stage is SlaStage.TRIAGE
    assert opened.due_at == datetime(2026, 7, 8, 16, 0, tzinfo=wib)

    # `quick` is triaged in time: its clock stops and must never fire.
    dispatch_cmd = DispatchReport(report_id=quick.report_id, actor=TICKET_ADMIN, agency_id="dbm")
    assert isinstance(await command_and_reply(service, dispatch_cmd), CommandAccepted)

    scanner = service.app.state.sla_scanner

    def at(day: int, hour: int) -> datetime:
        return datetime(2026, 7, day, hour, 0, tzinfo=wib)

    assert await scanner.scan_once(at(7, 15)) == (0, 0)  # Tuesday: nothing due yet
    assert await scanner.scan_once(at(8, 9)) == (1, 0)  # Wednesday morning: reminder
    assert await scanner.scan_once(at(8, 10)) == (0, 0)  # ... once
    assert await scanner.scan_once(at(8, 17)) == (0, 1)  # after 16:00: breach
    assert await scanner.scan_once(at(9, 9)) == (0, 0)  # ... once
    events = await sla_events(service, 2)
    assert [(type(e).__name__, e.report_id, e.stage) for e in events] == [
        ("SlaReminderDue", slow.report_id, SlaStage.TRIAGE),
        ("SlaBreached", slow.report_id, SlaStage.TRIAGE),
    ]
    assert all(e.due_at == at(8, 16) for e in events)
    assert events[0].event_id != events[1].event_id

    # The dispatched report's running clocks (dispatch: 2 days, follow-up: 5, started when
    # the command ran) are untouched by the scans above; once overdue they breach too, with
    # the agency on them.
    assert await scanner.scan_once(datetime(2027, 2, 1, tzinfo=UTC)) == (0, 2)
    # (Three partitions: only one report's events are in order relative to each other.)
    later = [e for e in await sla_events(service, 4) if e.report_id == quick.report_id]
    assert {(type(e).__name__, e.stage, e.agency_id) for e in later} == {
        ("SlaBreached", SlaStage.DISPATCH, "dbm"),
        ("SlaBreached", SlaStage.FOLLOW_UP, "dbm"),
    }
    assert len(later) == 2


async def test_only_one_replica_scans_at_a_time(service: Service) -> None:
    event = await open_report(service, received_at=datetime(2026, 7, 3, 12, 0, tzinfo=UTC))
    scanner = service.app.state.sla_scanner
    async with service.runtime.sessions() as other, other.begin():
        # Another replica in the middle of its scan holds the lock.
        await other.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": SCANNER_LOCK_KEY})
        assert await scanner.scan_once(datetime(2027, 2, 1, tzinfo=UTC)) is None
    assert await scanner.scan_once(datetime(2027, 2, 1, tzinfo=UTC)) == (0, 1)
    [breach] = await sla_events(service, 1)
    assert breach.report_id == event.report_id


async def test_the_running_service_scans_periodically(service: Service) -> None:
    """The scanner the app's lifespan starts: a report received long ago breaches by itself."""
    event = await open_report(service, received_at=datetime(2026, 3, 2, 8, 0, tzinfo=UTC))
    scanner = SlaScanner(
        lambda: service.runtime.sessions,
        service.topic(SLA_EVENTS.name),
        interval_s=0.2,
        batch=10,
    )
    scanner.start()
    try:
        [breach] = await sla_events(service, 1)
    finally:
        await scanner.stop()
    assert isinstance(breach, SlaBreached)
    assert (breach.report_id, breach.stage) == (event.report_id, SlaStage.TRIAGE)


async def test_routing_follows_the_catalogue(service: Service) -> None:
    """A category's agency routes new reports; a change of agency routes the next ones to
    the new agency; a retired category (or one without an agency) routes nothing."""
    url = service.runtime.settings.database_url
    await publish_category(service, "drainase", 1, "sda")
    await publish_category(service, "drainase", 2, "dsda")  # the agency changed
    assert ("drainase", "dsda") in await routing_list(url)
    event = submitted(category_hint="drainase")
    await service.send(REPORT_INTAKE.name, event, key=event.report_id)
    changes = await service.status_changes(event.report_id, count=2)
    assert (changes[1].to_status, changes[1].agency_id) == (S.DISPATCHED, "dsda")
    assert "auto-routed" in (changes[1].reason or "")
    # The rule, structured (issue 19): tools need not read the words.
    assert changes[1].route == AutoRoute(
        rule="category", category="drainase", area_code=None, agency_id="dsda"
    )
    assert changes[0].route is None

    await publish_category(service, "drainase", 3, "dsda", active=False)  # retired
    assert all(code != "drainase" for code, _ in await routing_list(url))
    plain = submitted(category_hint="drainase")
    await service.send(REPORT_INTAKE.name, plain, key=plain.report_id)
    await service.drained(REPORT_INTAKE)
    assert [c.to_status for c in await service.status_changes(plain.report_id)] == [S.RECEIVED]


async def test_reopen_within_the_window_and_poison_commands(service: Service) -> None:
    """The reporter reopens a completed report (window: 7 days by default) and the follow-up
    clock starts again; a malformed command goes to the commands' DLQ without blocking."""
    event = await open_report(service)
    rid = event.report_id
    for cmd in (
        DispatchReport(report_id=rid, actor=TICKET_ADMIN, agency_id="dbm"),
        AcceptReport(report_id=rid, actor=OFFICER),
        SubmitFollowUp(report_id=rid, actor=OFFICER, note="sudah ditambal"),
        ValidateFollowUp(report_id=rid, actor=VALIDATOR),
    ):
        assert isinstance(await command_and_reply(service, cmd), CommandAccepted)
    stranger = ReopenReport(report_id=rid, actor=OFFICER, reason="bukan saya pelapornya")
    refused = await command_and_reply(service, stranger)
    assert isinstance(refused, CommandRefused) and refused.code == "forbidden_role"

    await service.send(WORKFLOW_COMMANDS.name, b'{"command_type": "ReopenReport"}', key=rid)
    reopen = ReopenReport(report_id=rid, actor=REPORTER, reason="lubangnya muncul lagi")
    reply = await command_and_reply(service, reopen)  # behind the poison, same partition
    assert isinstance(reply, CommandAccepted)
    assert (reply.status, reply.version) == (S.IN_PROGRESS, 6)
    [dead] = await service.read(f"{WORKFLOW_COMMANDS.name}.dlq", lambda rs: len(rs) >= 1)
    assert dead.value == b'{"command_type": "ReopenReport"}'
    assert dict(dead.headers)["dlq_error"].startswith(b"ValidationError")

    changes = await service.status_changes(rid, count=6)
    assert (changes[5].from_status, changes[5].to_status) == (S.COMPLETED, S.IN_PROGRESS)
    assert changes[5].reason == "lubangnya muncul lagi"
    assert changes[5].sla_stage is SlaStage.FOLLOW_UP
    assert changes[5].due_at is not None and changes[5].due_at > changes[5].occurred_at


async def test_a_backlog_is_opened_set_based_on_postgresql(service: Service) -> None:
    """Many reports in few polls (the asyncpg stores' statements on real PostgreSQL): every
    new report opened once, a routed one stored dispatched with its triage clock closed at
    the dispatch and its two steps announced in order with their deadlines; a report sent
    again under a new event id, in the same backlog, is not opened twice."""
    await publish_category(service, "trotoar", 1, "dbm")
    events = [
        submitted(
            category_hint="trotoar" if n % 2 else None,
            location=Location(point=GeoPoint(lat=-6.2, lon=106.8)) if n % 3 else None,
        )
        for n in range(30)
    ]
    again = events[1].model_copy(update={"event_id": uuid4()})
    for event in [*events, again]:
        # Not awaited one by one: the service finds a backlog and takes it in few polls.
        await service.producer.send(
            service.topic(REPORT_INTAKE.name),
            value=encode(event),
            key=str(event.report_id).encode(),
        )
    await service.producer.flush()
    await service.drained(REPORT_INTAKE)

    policy = Settings().sla_policy()  # the fixture's: default targets and calendar
    records = await service.read(STATUS_CHANGED.name, lambda rs: len(rs) >= 45)
    changes: dict[UUID, list[ReportStatusChanged]] = {}
    for record in records:
        change = decode(STATUS_CHANGED, record.value)
        changes.setdefault(change.report_id, []).append(change)
    async with service.runtime.sessions() as s:
        reports = {r.id: r for r in (await s.execute(select(REPORTS))).all()}
        clocks = (await s.execute(select(SLA_CLOCKS).order_by(SLA_CLOCKS.c.id))).all()
        points = await s.scalar(text("SELECT count(*) FROM report_locations"))
    assert points == sum(1 for n in range(30) if n % 3)
    for n, event in enumerate(events):
        got = changes[event.report_id]
        opened = got[0]
        assert (opened.version, opened.to_status, opened.sla_stage) == (1, S.RECEIVED, "triage")
        triage = policy.due(SlaStage.TRIAGE, event.category_hint, event.received_at)
        assert opened.due_at == triage.due_at
        mine = [c for c in clocks if c.report_id == event.report_id]
        row = reports[event.report_id]
        if n % 2 == 0:
            assert len(got) == 1
            assert (row.status, row.version, row.agency_id) == ("received", 1, None)
            assert [(c.stage, c.closed_at) for c in mine] == [("triage", None)]
            continue
        assert len(got) == 2  # events[1] too, though sent twice
        dispatched = got[1]
        assert (dispatched.version, dispatched.to_status, dispatched.agency_id) == (
            2,
            S.DISPATCHED,
            "dbm",
        )
        assert (row.status, row.version, row.agency_id) == ("dispatched", 2, "dbm")
        assert [c.stage for c in mine] == ["triage", "dispatch", "follow_up"]
        assert mine[0].closed_at == dispatched.occurred_at
        running = sorted(mine[1:], key=lambda c: (c.due_at, c.stage))
        assert all(c.closed_at is None and c.agency_id == "dbm" for c in running)
        assert (dispatched.sla_stage, dispatched.due_at) == (running[0].stage, running[0].due_at)
        history = await history_rows(service, event.report_id)
        assert [(h.version, h.to_status) for h in history] == [(1, "received"), (2, "dispatched")]
