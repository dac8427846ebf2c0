"""Batch consumers on a real broker and database: a batch is applied in one transaction,
each event once (duplicates and redeliveries are no-ops), a malformed or always-failing
message is dead-lettered once with its cause while its neighbours are applied, and an
outage rewinds the batch instead of dead-lettering anything."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from sqlalchemy import Column, MetaData, String, Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from aduan_contracts import encode
from aduan_contracts.events import ReportAmended
from aduan_contracts.topics import TopicSpec
from aduan_kit.batching import subscribe_batches
from aduan_kit.db import make_engine
from aduan_kit.messaging import ensure_topics, messaging_tables
from aduan_kit.runtime import ServiceRuntime
from aduan_testing.helpers import eventually
from aduan_testing.kafka import read_topic
from aduan_testing.kitruntime import amended, runtime_on
from aduan_testing.plugin import Isolation

pytestmark = pytest.mark.integration

METADATA = MetaData()
OUTBOX, INBOX = messaging_tables(METADATA)
APPLIED = Table("applied", METADATA, Column("text", String(100), nullable=False))


@pytest_asyncio.fixture
async def runtime(isolated: Isolation) -> AsyncIterator[ServiceRuntime]:
    yield await runtime_on(isolated, "kitbatch", METADATA, OUTBOX, kafka_max_attempts=3)


async def test_batch_applies_once_and_isolates_poison(
    isolated: Isolation, runtime: ServiceRuntime
) -> None:
    spec = TopicSpec(f"kit.batch-{uuid.uuid4().hex[:6]}.v1", object, owner="kit", partitions=1)
    await ensure_topics(isolated.kafka, isolated.namespace, [spec])
    topic = spec.qualified(isolated.namespace)
    calls: dict[str, int] = {}

    async def apply(session: AsyncSession, event: ReportAmended) -> str:
        calls[event.text] = calls.get(event.text, 0) + 1
        if event.text == "always fails":
            raise RuntimeError("bug in handler")
        if event.text == "flaky" and calls["flaky"] == 1:
            raise ConnectionRefusedError("database restarting")
        await session.execute(APPLIED.insert().values(text=event.text))
        return event.text

    committed: list[list[str]] = []
    subscribe_batches(
        runtime,
        topic,
        model=ReportAmended,
        consumer="kit.batch",
        inbox=INBOX,
        outbox=OUTBOX,
        apply=apply,
        title="kit.batch",
        description="test",
        after_commit=committed.append,
    )

    first = amended("first")
    sent = [
        encode(first),
        encode(amended("second")),
        encode(first),  # the same event again: applied once
        b'{"not": "an event"}',
        encode(amended("always fails")),
        encode(amended("flaky")),
        encode(amended("last")),
    ]
    producer = AIOKafkaProducer(bootstrap_servers=isolated.kafka)
    await producer.start()
    try:
        for payload in sent:
            await producer.send_and_wait(topic, payload, key=b"k")
    finally:
        await producer.stop()

    async def applied() -> list[str]:
        async with runtime.sessions() as s:
            return list((await s.scalars(select(APPLIED.c.text))).all())

    await runtime.start()
    try:

        async def last_applied() -> bool:
            return "last" in await applied()

        await eventually(last_applied, "the last message applied", timeout=40)
        await asyncio.sleep(1)  # anything applied twice would show by now
        rows = await applied()
    finally:
        await runtime.stop()

    assert sorted(rows) == ["first", "flaky", "last", "second"]
    # "always fails" was tried max_attempts times (once in the batch, twice alone), and not
    # again after the outage rewound the batch; "flaky" met the outage once, then was
    # applied on the redelivery.
    assert calls["always fails"] == 3
    assert calls["flaky"] == 2
    dead = await read_topic(isolated.kafka, f"{topic}.dlq", timeout=3)
    causes = sorted(dict(r.headers)["dlq_error"].decode() for r in dead)  # type: ignore[attr-defined]
    assert len(causes) == 2, causes  # once each, though the batch was redelivered
    assert causes[0].startswith("RuntimeError: bug in handler")
    assert causes[1].startswith("ValidationError")
    assert {r.value for r in dead} == {sent[3], sent[4]}  # type: ignore[attr-defined]
    assert sum(len(c) for c in committed) == 4


async def test_batch_is_one_transaction(isolated: Isolation, runtime: ServiceRuntime) -> None:
    """Many messages waiting: they are applied in far fewer transactions than messages."""
    spec = TopicSpec(f"kit.batch1-{uuid.uuid4().hex[:6]}.v1", object, owner="kit", partitions=1)
    await ensure_topics(isolated.kafka, isolated.namespace, [spec])
    topic = spec.qualified(isolated.namespace)
    sessions: set[int] = set()

    async def apply(session: AsyncSession, event: ReportAmended) -> None:
        sessions.add(id(session))
        await session.execute(APPLIED.insert().values(text=event.text))

    subscribe_batches(
        runtime,
        topic,
        model=ReportAmended,
        consumer="kit.batch1",
        inbox=INBOX,
        apply=apply,
        title="kit.batch1",
        description="test",
    )
    producer = AIOKafkaProducer(bootstrap_servers=isolated.kafka, linger_ms=5)
    await producer.start()
    try:
        futures = [await producer.send(topic, encode(amended(f"m{i}"))) for i in range(300)]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()

    async def texts() -> list[str]:
        async with runtime.sessions() as s:
            return list((await s.scalars(select(APPLIED.c.text))).all())

    async def all_applied() -> bool:
        return len(await texts()) >= 300

    await runtime.start()
    try:
        await eventually(all_applied, "300 messages applied", timeout=40)
        await asyncio.sleep(0.5)
        got = await texts()
    finally:
        await runtime.stop()
    assert sorted(got) == sorted(f"m{i}" for i in range(300))
    assert len(sessions) <= 30, f"{len(sessions)} transactions for 300 messages"


async def paced_consumer(
    isolated: Isolation, name: str, pace_s: float, partitions: int = 1, **settings: Any
) -> tuple[ServiceRuntime, str, list[tuple[float, list[str]]]]:
    """A runtime (not started) with one batch consumer paced at `pace_s` on a new topic
    (one partition unless told); each committed batch is noted as (loop time, texts)."""
    runtime = await runtime_on(
        isolated, f"kit{name}", METADATA, OUTBOX, kafka_poll_pace_ms=int(pace_s * 1000), **settings
    )
    spec = TopicSpec(
        f"kit.{name}-{uuid.uuid4().hex[:6]}.v1", object, owner="kit", partitions=partitions
    )
    await ensure_topics(isolated.kafka, isolated.namespace, [spec])
    topic = spec.qualified(isolated.namespace)
    loop = asyncio.get_running_loop()
    committed: list[tuple[float, list[str]]] = []

    async def apply(session: AsyncSession, event: ReportAmended) -> str:
        await session.execute(APPLIED.insert().values(text=event.text))
        return event.text

    subscribe_batches(
        runtime,
        topic,
        model=ReportAmended,
        consumer=f"kit.{name}",
        inbox=INBOX,
        apply=apply,
        title=f"kit.{name}",
        description="test",
        after_commit=lambda texts: committed.append((loop.time(), texts)),
    )
    return runtime, topic, committed


async def steady_arrivals(
    isolated: Isolation,
    runtime: ServiceRuntime,
    topic: str,
    committed: list[tuple[float, list[str]]],
    count: int,
    gap_s: float,
    quiet_s: float,
    partition: int | None = None,
) -> tuple[dict[str, float], float]:
    """Start the runtime, let it apply a warm-up record and stay quiet for `quiet_s`, then
    send `count` records one by one `gap_s` apart and wait until all are applied (and a
    little more, so anything applied twice shows). Returns when each was sent (loop time)
    and how long the sending took; `committed` then holds only the steady records' batches."""
    loop = asyncio.get_running_loop()
    producer = AIOKafkaProducer(bootstrap_servers=isolated.kafka)
    sent_at: dict[str, float] = {}
    await producer.start()
    await runtime.start()
    try:
        # The group joined and the consumer quiet before the steady arrivals begin.
        await producer.send_and_wait(topic, encode(amended("warm-up")), partition=partition)

        async def warmed_up() -> bool:
            return bool(committed)

        await eventually(warmed_up, "the warm-up applied", timeout=40)
        await asyncio.sleep(quiet_s)
        committed.clear()
        started = loop.time()
        for i in range(count):
            sent_at[f"m{i}"] = loop.time()
            await producer.send_and_wait(topic, encode(amended(f"m{i}")), partition=partition)
            await asyncio.sleep(gap_s)
        sending_s = loop.time() - started

        async def all_applied() -> bool:
            return sum(len(texts) for _, texts in committed) >= count

        await eventually(all_applied, f"{count} records applied", timeout=40)
        await asyncio.sleep(0.5)  # anything applied twice would show by now
    finally:
        await producer.stop()
        await runtime.stop()
    applied = [text for _, texts in committed for text in texts]
    assert sorted(applied) == sorted(sent_at)
    return sent_at, sending_s


async def test_a_paced_consumer_gathers_steady_arrivals_into_few_transactions(
    isolated: Isolation,
) -> None:
    """Records arriving one by one (every 50 ms, as complaints do at 20/s): a consumer paced
    at 1 s takes what arrived meanwhile in one poll and one transaction, one a second
    instead of one per record, each applied once, and no record waits much longer than the
    pace (what arrived during a pace is in the next batch, not the one after it).
    (Unpaced it fails with ~80 transactions; taking only aiokafka's buffer after the pace,
    the burst's second record went alone and each batch came a pace late: 7 transactions.)"""
    pace_s = 1.0
    runtime, topic, committed = await paced_consumer(isolated, "pace", pace_s)
    sent_at, sending_s = await steady_arrivals(
        isolated, runtime, topic, committed, 80, 0.05, quiet_s=pace_s + 0.5
    )
    # One poll a pace while records keep coming, and the first one at once: whatever the
    # machine's speed (sending takes longer on a slow one).
    assert len(committed) <= sending_s / pace_s + 2, (
        f"{len(committed)} transactions in {sending_s:.1f} s"
    )
    waited = max(at - sent_at[text] for at, texts in committed for text in texts)
    assert waited < 1.5 * pace_s, f"a record waited {waited:.2f} s (pace {pace_s} s)"


async def test_a_paced_consumer_is_not_held_up_by_a_quiet_partition(
    isolated: Isolation,
) -> None:
    """Records arriving every 20 ms on one partition of two, the other quiet (workflow's
    commands beside its busy intake topic): paced at 300 ms, no record waits much longer
    than the pace. aiokafka fetches a broker's other partitions alone once buffered records
    are 100 ms old; a quiet partition's fetch then waits out `fetch_max_wait_ms` at the
    broker (3 s here), and the busy partition, taken meanwhile, waits behind it (before
    `kafka_prefetch_backoff_ms`: a record waited 3.17 s, the median 1.66 s; `bench.run` at
    160/s read an end-to-end p99 of 1.2 s with the services' 1-s wait)."""
    pace_s = 0.3
    runtime, topic, committed = await paced_consumer(
        isolated, "quiet", pace_s, partitions=2, kafka_fetch_max_wait_ms=3000
    )
    sent_at, _ = await steady_arrivals(
        isolated, runtime, topic, committed, 150, 0.02, quiet_s=0.0, partition=0
    )
    waits = sorted(at - sent_at[text] for at, texts in committed for text in texts)
    assert waits[-1] < pace_s + 0.7, (
        f"a record waited {waits[-1]:.2f} s (pace {pace_s} s; median {waits[75]:.2f} s)"
    )


async def test_a_paced_consumer_does_not_pace_a_backlog(isolated: Isolation) -> None:
    """A backlog (a replay, the queue after an outage) is drained poll after poll: a poll
    that comes back full says more records wait, so the pace (meant to gather records that
    trickle in) holds nothing back. 100 records waiting, 10 a poll, paced at 1 s: paced,
    the last batch would come 9 s after the first (it did before full polls went on)."""
    pace_s = 1.0
    runtime, topic, committed = await paced_consumer(
        isolated, "backlog", pace_s, kafka_batch_max_records=10
    )
    producer = AIOKafkaProducer(bootstrap_servers=isolated.kafka, linger_ms=5)
    await producer.start()
    try:
        futures = [await producer.send(topic, encode(amended(f"m{i}"))) for i in range(100)]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()
    await runtime.start()
    try:

        async def all_applied() -> bool:
            return sum(len(texts) for _, texts in committed) >= 100

        await eventually(all_applied, "100 records applied", timeout=90)
        await asyncio.sleep(0.5)  # anything applied twice would show by now
    finally:
        await runtime.stop()
    applied = [text for _, texts in committed for text in texts]
    assert sorted(applied) == sorted(f"m{i}" for i in range(100))
    assert max(len(texts) for _, texts in committed) <= 10
    took = committed[-1][0] - committed[0][0]
    assert took < 3 * pace_s, f"{len(committed)} batches over {took:.1f} s (pace {pace_s} s)"


@pytest.mark.parametrize("serialized", [True, False])
async def test_serialized_consumers_take_turns_instead_of_deadlocking(
    isolated: Isolation, runtime: ServiceRuntime, serialized: bool
) -> None:
    """Two consumers (two topics) write the same two rows in opposite orders, and a barrier
    makes their transactions overlap. Without `serialize_with` PostgreSQL breaks the
    deadlock by failing one batch, which is rewound and applied again (both still applied
    once); with it they take turns and nothing is redone."""
    specs = [
        TopicSpec(f"kit.turn{n}-{uuid.uuid4().hex[:6]}.v1", object, owner="kit", partitions=1)
        for n in (1, 2)
    ]
    await ensure_topics(isolated.kafka, isolated.namespace, specs)
    topics = [spec.qualified(isolated.namespace) for spec in specs]
    calls: dict[str, int] = {}
    barrier = asyncio.Barrier(2)
    engine = make_engine(runtime.settings.database_url)
    async with engine.begin() as conn:
        await conn.execute(APPLIED.insert().values([{"text": "row-a"}, {"text": "row-b"}]))
    await engine.dispose()

    def writer(first: str, second: str) -> Any:
        async def apply(session: AsyncSession, event: ReportAmended) -> None:
            calls[event.text] = calls.get(event.text, 0) + 1
            await session.execute(
                APPLIED.update().where(APPLIED.c.text == first).values(text=first)
            )
            # Long enough for the other consumer to join its group and get its message; with
            # the lock the second never arrives, and the first goes on after the timeout.
            with contextlib.suppress(TimeoutError, asyncio.BrokenBarrierError):
                await asyncio.wait_for(barrier.wait(), timeout=8)
            await session.execute(
                APPLIED.update().where(APPLIED.c.text == second).values(text=second)
            )

        return apply

    for topic, (first, second) in zip(
        topics, [("row-a", "row-b"), ("row-b", "row-a")], strict=True
    ):
        subscribe_batches(
            runtime,
            topic,
            model=ReportAmended,
            consumer=f"kit.{topic}",
            inbox=INBOX,
            apply=writer(first, second),
            title=topic,
            description="test",
            serialize_with=4711 if serialized else None,
        )
    producer = AIOKafkaProducer(bootstrap_servers=isolated.kafka)
    await producer.start()
    try:
        for topic, text in zip(topics, ["one", "two"], strict=True):
            await producer.send_and_wait(topic, encode(amended(text)))
    finally:
        await producer.stop()

    async def both_applied() -> bool:
        async with runtime.sessions() as s:
            claimed = await s.scalar(
                select(func.count()).select_from(INBOX).where(INBOX.c.consumer.like("kit.%"))
            )
        return claimed == 2

    await runtime.start()
    try:
        await eventually(both_applied, "both events applied", timeout=40)
    finally:
        await runtime.stop()
    if serialized:
        assert calls == {"one": 1, "two": 1}
    else:  # the proof the test bites: one of them was redone after the deadlock
        assert sorted(calls.values()) == [1, 2], calls
