"""Workflow on real Kafka and PostgreSQL: intake opens cases exactly once, poison messages
leave through the DLQ without blocking, commands get replies through the outbox, and a
handler that fails once is really redelivered by the broker."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pydantic import BaseModel
from sqlalchemy import func, select

from aduan_contracts.commands import AcceptReport, DispatchReport
from aduan_contracts.enums import Channel, ReportStatus, Role
from aduan_contracts.events import (
    CommandAccepted,
    CommandRefused,
    ReportAmended,
    ReportStatusChanged,
    ReportSubmitted,
)
from aduan_contracts.serialization import decode, encode
from aduan_contracts.topics import (
    COMMAND_REPLIES,
    REPORT_INTAKE,
    STATUS_CHANGED,
    WORKFLOW_COMMANDS,
    TopicSpec,
)
from aduan_contracts.values import Actor
from aduan_kit.messaging import claim_inbox
from aduan_kit.runtime import ServiceRuntime
from aduan_testing.plugin import Isolation
from aduan_workflow import handlers as handlers_module
from aduan_workflow.bootstrap import build
from aduan_workflow.config import Settings
from aduan_workflow.tables import OUTBOX, REPORTS, ROUTING_RULES, STATUS_HISTORY

pytestmark = pytest.mark.integration

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
            parts = [TopicPartition(name, p) for p in range(spec.partitions)]
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


async def test_routing_rule_dispatches_on_intake(service: Service) -> None:
    async with service.runtime.sessions() as s, s.begin():
        await s.execute(ROUTING_RULES.insert().values(category="sampah", agency_id="dlh"))
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
    """The kit's NACK_ON_ERROR policy and dead-letter middleware on the real broker: an
    exception rolls the transaction back, the offset is not committed, Kafka hands the same
    message again, and the second delivery is applied once."""
    real_claim = claim_inbox
    calls: list[UUID] = []
    failing: set[UUID] = set()

    async def flaky_claim(session: Any, inbox: Any, consumer: str, event_id: UUID) -> bool:
        calls.append(event_id)
        if event_id in failing:
            failing.discard(event_id)
            raise ConnectionError("database went away for a moment")
        return await real_claim(session, inbox, consumer, event_id)

    monkeypatch.setattr(handlers_module, "claim_inbox", flaky_claim)
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
    """After `kafka_max_attempts` (3) deliveries the message goes to the DLQ with its error,
    the offset is committed, and the partition moves on."""
    real_claim = claim_inbox
    calls: list[UUID] = []
    doomed = submitted()

    async def broken_claim(session: Any, inbox: Any, consumer: str, event_id: UUID) -> bool:
        calls.append(event_id)
        if event_id == doomed.event_id:
            raise ConnectionError("still down")
        return await real_claim(session, inbox, consumer, event_id)

    monkeypatch.setattr(handlers_module, "claim_inbox", broken_claim)
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
    assert headers["dlq_error"] == "ConnectionError: still down"
    assert headers["dlq_attempts"] == "3"
    assert decode(REPORT_INTAKE, dead.value) == doomed
    assert calls == [doomed.event_id] * 3 + [after.event_id]


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
