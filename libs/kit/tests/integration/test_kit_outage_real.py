"""A dependency outage longer than the retry budget must not dead-letter valid messages
(found by `make chaos`: PostgreSQL stopped for 3 s sent accepted reports to the DLQ after
three quick attempts). On a real broker: a handler whose database refuses connections five
times (more than `max_attempts`) applies the message once the database is back, and
nothing reaches the dead-letter topic; a real bug is still dead-lettered."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from aduan_contracts import encode
from aduan_contracts.events import ReportAmended
from aduan_contracts.topics import TopicSpec
from aduan_kit.messaging import ensure_topics, make_broker
from aduan_testing.kitruntime import amended
from aduan_testing.plugin import Isolation

pytestmark = [pytest.mark.integration, pytest.mark.timeout(120)]


async def test_outage_retries_past_max_attempts_and_never_dead_letters(
    isolated: Isolation,
) -> None:
    spec = TopicSpec(f"kit.outage-{uuid.uuid4().hex[:6]}.v1", object, owner="kit", partitions=1)
    await ensure_topics(isolated.kafka, isolated.namespace, [spec])
    topic = spec.qualified(isolated.namespace)
    broker = make_broker(isolated.kafka, "kit-outage", max_attempts=3, graceful_timeout=5)
    calls: dict[str, int] = {}
    applied: list[str] = []
    done = asyncio.Event()

    @broker.subscriber(topic, group_id=f"g-{uuid.uuid4().hex[:6]}", auto_offset_reset="earliest")
    async def handle(event: ReportAmended) -> None:
        calls[event.text] = calls.get(event.text, 0) + 1
        if event.text == "during outage" and calls[event.text] <= 5:
            raise ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")
        if event.text == "bug":
            raise RuntimeError("bug in handler")
        applied.append(event.text)
        if event.text == "last":
            done.set()

    producer = AIOKafkaProducer(bootstrap_servers=isolated.kafka)
    await producer.start()
    try:
        for text in ("during outage", "bug", "last"):
            await producer.send_and_wait(topic, encode(amended(text)), key=b"k")
    finally:
        await producer.stop()

    await broker.start()
    try:
        await asyncio.wait_for(done.wait(), timeout=60)
    finally:
        await broker.stop()

    assert applied == ["during outage", "last"]
    assert calls["during outage"] == 6  # five refusals (more than max_attempts), then applied
    assert calls["bug"] == 3  # a real failure still has max_attempts, then the DLQ

    consumer = AIOKafkaConsumer(
        f"{topic}.dlq", bootstrap_servers=isolated.kafka, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        dead = []
        for _ in range(6):
            batch = await consumer.getmany(timeout_ms=500)
            dead += [r for records in batch.values() for r in records]
    finally:
        await consumer.stop()
    errors = [dict(r.headers)["dlq_error"].decode() for r in dead]
    assert len(errors) == 1, errors
    assert errors[0].startswith("RuntimeError: bug in handler")
