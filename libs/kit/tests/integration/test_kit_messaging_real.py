"""The exactly-once plumbing on a real broker and database: the relay publishes committed
outbox rows (and only those), a handler that fails is redelivered, a poison message goes to
the dead-letter topic with its cause without blocking the partition."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from sqlalchemy import MetaData, func, select, text

from aduan_contracts import encode
from aduan_contracts.events import ReportAmended
from aduan_contracts.topics import REPORT_INTAKE, TopicSpec
from aduan_kit.db import ensure_database, make_engine, make_sessionmaker, transaction
from aduan_kit.messaging import (
    OutboxRelay,
    add_to_outbox,
    claim_inbox,
    ensure_topics,
    make_broker,
    make_producer,
    messaging_tables,
)
from aduan_testing.kafka import read_topic
from aduan_testing.kitruntime import amended
from aduan_testing.plugin import Isolation

pytestmark = pytest.mark.integration

METADATA = MetaData()
OUTBOX, INBOX = messaging_tables(METADATA)


@pytest_asyncio.fixture
async def db(isolated: Isolation) -> AsyncIterator[object]:
    url = isolated.database("kit")
    await ensure_database(url)
    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(METADATA.create_all)
    yield make_sessionmaker(engine)
    await engine.dispose()


async def test_relay_publishes_committed_rows_only(isolated: Isolation, db: object) -> None:
    sessions = db
    topic = f"{isolated.namespace}.{REPORT_INTAKE.name}"
    committed = amended("committed")
    async with transaction(sessions) as s:  # type: ignore[arg-type]
        await add_to_outbox(s, OUTBOX, topic, committed, key=committed.report_id)
    with pytest.raises(RuntimeError):
        async with transaction(sessions) as s:  # type: ignore[arg-type]
            await add_to_outbox(s, OUTBOX, topic, amended("rolled back"), key="x")
            raise RuntimeError("handler failed after queuing")
    producer = make_producer(isolated.kafka, "kit-test")
    await producer.start()
    try:
        relay = OutboxRelay(sessions, OUTBOX, producer)  # type: ignore[arg-type]
        assert await relay.relay_once() == 1
        assert await relay.relay_once() == 0
    finally:
        await producer.stop()
    records = await read_topic(isolated.kafka, topic, want=1)
    assert [r.value for r in records] == [encode(committed)]  # type: ignore[attr-defined]
    assert records[0].key == str(committed.report_id).encode()  # type: ignore[attr-defined]
    async with sessions() as s:  # type: ignore[operator]
        assert await s.scalar(select(func.count()).select_from(OUTBOX)) == 0


async def test_failing_handler_is_redelivered_and_poison_is_dead_lettered(
    isolated: Isolation, db: object
) -> None:
    sessions = db
    spec = TopicSpec(f"kit.retry-{uuid.uuid4().hex[:6]}.v1", object, owner="kit", partitions=1)
    await ensure_topics(isolated.kafka, isolated.namespace, [spec])
    topic = spec.qualified(isolated.namespace)
    broker = make_broker(isolated.kafka, "kit-test", max_attempts=3, graceful_timeout=5)
    calls: dict[str, int] = {}
    applied: list[str] = []
    done = asyncio.Event()

    @broker.subscriber(topic, group_id=f"g-{uuid.uuid4().hex[:6]}", auto_offset_reset="earliest")
    async def handle(event: ReportAmended) -> None:
        calls[event.text] = calls.get(event.text, 0) + 1
        if event.text == "flaky" and calls["flaky"] == 1:
            raise ConnectionError("database blinked")
        if event.text == "always fails":
            raise RuntimeError("bug in handler")
        async with transaction(sessions) as s:  # type: ignore[arg-type]
            if await claim_inbox(s, INBOX, "kit-test", event.event_id):
                applied.append(event.text)
        if event.text == "last":
            done.set()

    producer = AIOKafkaProducer(bootstrap_servers=isolated.kafka)
    await producer.start()
    flaky = amended("flaky")
    try:
        for payload in (
            encode(flaky),
            encode(flaky),  # a duplicate delivery: applied once
            b'{"not": "an event"}',
            encode(amended("always fails")),
            encode(amended("last")),
        ):
            await producer.send_and_wait(topic, payload, key=b"k")
    finally:
        await producer.stop()

    await broker.start()
    try:
        await asyncio.wait_for(done.wait(), timeout=30)
    finally:
        await broker.stop()

    assert applied == ["flaky", "last"]
    assert calls["flaky"] == 3  # failed once, retried, then the duplicate was a no-op
    assert calls["always fails"] == 3  # max_attempts, then dead-lettered
    dead = await read_topic(isolated.kafka, f"{topic}.dlq", want=2)
    errors = sorted(dict(r.headers)["dlq_error"].decode() for r in dead)  # type: ignore[attr-defined]
    assert len(errors) == 2
    assert errors[0].startswith("RuntimeError: bug in handler")
    assert "ValidationError" in errors[1] or "validation" in errors[1].lower()


async def test_rows_for_an_unknown_topic_stay_and_do_not_hold_back_others(
    isolated: Isolation, db: object
) -> None:
    """Topics are not auto-created: a row for a topic the broker does not know stays in the
    outbox (counted, logged), while the rows of known topics behind it are published."""
    sessions = db
    known = f"{isolated.namespace}.{REPORT_INTAKE.name}"
    await ensure_topics(isolated.kafka, isolated.namespace, [REPORT_INTAKE])
    unknown = f"{isolated.namespace}.no-such-topic-{uuid.uuid4().hex[:6]}"
    stuck, after = amended("for a missing topic"), amended("behind it")
    async with transaction(sessions) as s:  # type: ignore[arg-type]
        await add_to_outbox(s, OUTBOX, unknown, stuck, key=stuck.report_id)
        await add_to_outbox(s, OUTBOX, known, after, key=after.report_id)
    producer = make_producer(isolated.kafka, "kit-test")
    await producer.start()
    try:
        relay = OutboxRelay(sessions, OUTBOX, producer)  # type: ignore[arg-type]
        assert await relay.relay_once() == 1
        assert await relay.relay_once() == 0
    finally:
        await producer.stop()
    records = await read_topic(isolated.kafka, known, want=1)
    assert [r.value for r in records] == [encode(after)]  # type: ignore[attr-defined]
    async with sessions() as s:  # type: ignore[operator]
        left = (await s.execute(select(OUTBOX.c.topic))).scalars().all()
    assert left == [unknown]


async def test_relays_on_one_outbox_take_turns_and_publish_each_row_once(
    isolated: Isolation, db: object
) -> None:
    """The relay tries its lock and takes its rows in one statement: while another
    replica holds the lock it takes nothing (and says it was busy, so it looks again
    soon); relays racing over one outbox publish every row once, in id order per key."""
    sessions = db
    topic = f"{isolated.namespace}.{REPORT_INTAKE.name}"
    await ensure_topics(isolated.kafka, isolated.namespace, [REPORT_INTAKE])
    keys = [str(uuid.uuid4()) for _ in range(4)]
    events = [amended(f"e{i:03d}") for i in range(120)]
    for chunk in range(0, len(events), 10):
        async with transaction(sessions) as s:  # type: ignore[arg-type]
            for n, event in enumerate(events[chunk : chunk + 10], start=chunk):
                await add_to_outbox(s, OUTBOX, topic, event, key=keys[n % len(keys)])
    producer = make_producer(isolated.kafka, "kit-test")
    await producer.start()
    try:
        relays = [
            OutboxRelay(sessions, OUTBOX, producer, batch_size=7)  # type: ignore[arg-type]
            for _ in range(3)
        ]
        # Another replica's pass holds the lock: nothing is taken, the relay knows why.
        async with transaction(sessions) as holder:  # type: ignore[arg-type]
            await holder.execute(text("SELECT pg_advisory_xact_lock(4242)"))
            assert await relays[0].relay_once() == 0
            assert relays[0]._lock_busy
        async with sessions() as s:  # type: ignore[operator]
            assert await s.scalar(select(func.count()).select_from(OUTBOX)) == len(events)

        async def drain(relay: OutboxRelay) -> int:
            sent = 0
            for _ in range(200):
                n = await relay.relay_once()
                sent += n
                if not n and not relay._lock_busy:
                    return sent
            return sent

        sent = await asyncio.gather(*(drain(r) for r in relays))
    finally:
        await producer.stop()
    assert sum(sent) == len(events), sent
    records = await read_topic(isolated.kafka, topic, want=len(events))
    values = [r.value for r in records]  # type: ignore[attr-defined]
    assert sorted(values) == sorted(encode(e) for e in events)  # each once
    for key in keys:  # per key, the order they were queued in
        mine = [r.value for r in records if r.key == key.encode()]  # type: ignore[attr-defined]
        assert mine == [encode(e) for n, e in enumerate(events) if keys[n % len(keys)] == key]
