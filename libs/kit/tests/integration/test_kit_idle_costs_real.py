"""The two idle-cost savings found by profiling (docs/performance.md, "Profiling notes"):
a commit that queued outbox rows wakes the relay at once (so its poll can be slow), and a
pooled connection is checked only after an idle spell, yet a dead one is still replaced."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from unittest.mock import MagicMock

import asyncpg
import pytest
from sqlalchemy import MetaData, make_url, text
from sqlalchemy.exc import DBAPIError

from aduan_contracts import encode
from aduan_contracts.events import ReportAmended
from aduan_contracts.topics import TopicSpec
from aduan_kit import db as kit_db
from aduan_kit.db import ensure_database, make_engine, make_sessionmaker, transaction
from aduan_kit.messaging import OUTBOX_WAKE, add_to_outbox, ensure_topics, messaging_tables
from aduan_testing.kafka import read_topic
from aduan_testing.kitruntime import runtime_on
from aduan_testing.plugin import Isolation

pytestmark = pytest.mark.integration

METADATA = MetaData()
OUTBOX, _INBOX = messaging_tables(METADATA)


def amended() -> ReportAmended:
    return ReportAmended(
        report_id=uuid.uuid4(),
        channel="email",
        channel_message_id=uuid.uuid4().hex,
        text="more detail",
        received_at=datetime.now(UTC),
    )


async def test_only_commits_that_queued_outbox_rows_wake_the_relay(isolated: Isolation) -> None:
    url = isolated.database("wake")
    await ensure_database(url)
    engine = make_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(METADATA.create_all)
        wake = MagicMock()
        sessions = make_sessionmaker(engine)
        sessions.configure(info={OUTBOX_WAKE: wake})
        event = amended()

        async with transaction(sessions) as s:  # no outbox row: nothing to relay
            await s.execute(text("SELECT 1"))
        assert wake.call_count == 0

        with pytest.raises(RuntimeError):
            async with transaction(sessions) as s:
                await add_to_outbox(s, OUTBOX, "t", event, key=event.report_id)
                raise RuntimeError("rolled back after queuing")
        assert wake.call_count == 0

        async with transaction(sessions) as s:
            await add_to_outbox(s, OUTBOX, "t", event, key=event.report_id)
            assert wake.call_count == 0  # not before the commit
        assert wake.call_count == 1

        async with sessions() as s:  # the same session, a second transaction, no rows
            async with s.begin():
                await add_to_outbox(s, OUTBOX, "t", event, key=event.report_id)
            async with s.begin():
                await s.execute(text("SELECT 1"))
        assert wake.call_count == 2
    finally:
        await engine.dispose()


async def _terminate(url: str, pid: int) -> None:
    admin = make_url(url).set(drivername="postgresql")
    conn = await asyncpg.connect(admin.render_as_string(hide_password=False))
    try:
        await conn.execute("SELECT pg_terminate_backend($1)", pid)
    finally:
        await conn.close()


async def test_a_dead_pooled_connection_is_replaced(
    isolated: Isolation, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = isolated.database("ping")
    await ensure_database(url)
    engine = make_engine(url, pool_size=1)
    try:
        async with engine.connect() as conn:
            first = await conn.scalar(text("SELECT pg_backend_pid()"))
        assert isinstance(first, int)

        # Idle longer than the threshold: checked on checkout, replaced, nothing fails.
        monkeypatch.setattr(kit_db, "PING_AFTER_IDLE_S", 0.2)
        await _terminate(url, first)
        await asyncio.sleep(0.3)
        async with engine.connect() as conn:
            second = await conn.scalar(text("SELECT pg_backend_pid()"))
        assert second != first

        # Used a moment ago, so not pinged; but the server ended it and asyncpg saw the
        # socket close: the checkout replaces it (and every connection pooled before it)
        # without a round trip, and nothing fails. (A connection whose loss the driver has
        # not seen yet, a silent network cut, still fails its first statement with a
        # transient error the callers retry: tests/unit/test_kit_transient_errors.py.)
        monkeypatch.setattr(kit_db, "PING_AFTER_IDLE_S", 60.0)
        await _terminate(url, second)
        await asyncio.sleep(0.1)
        async with engine.connect() as conn:
            third = await conn.scalar(text("SELECT pg_backend_pid()"))
        assert third not in (first, second)
    finally:
        await engine.dispose()


async def test_database_errors_do_not_carry_statement_parameters(isolated: Isolation) -> None:
    """A failing statement's message (logged by the consumers and the dead-letter headers)
    names the statement but not its values, which may be a complaint's text or a phone."""
    url = isolated.database("kithide")
    await ensure_database(url)
    engine = make_engine(url)
    secret = "Budi Santoso 0812-3456-7890"
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (id int PRIMARY KEY, note text)"))
            await conn.execute(text("INSERT INTO t VALUES (1, 'x')"))
        with pytest.raises(DBAPIError) as caught:
            async with engine.begin() as conn:
                await conn.execute(
                    text("INSERT INTO t VALUES (:id, :note)"), {"id": 1, "note": secret}
                )
        assert "duplicate key" in str(caught.value)  # the cause is still there
        assert secret not in str(caught.value)
        assert "hidden" in str(caught.value)  # SQLAlchemy's placeholder for the values
    finally:
        await engine.dispose()


async def test_a_commit_on_the_runtimes_sessions_wakes_its_relay(isolated: Isolation) -> None:
    """What the services' request handlers rely on (an officer's command, a category saved,
    an erasure asked for): a record queued with `add_to_outbox` in a transaction on
    `runtime.sessions` is on its topic at once, not at the relay's next poll, with no
    `wake_relay()` call of their own."""
    spec = TopicSpec(f"kit.wake-{uuid.uuid4().hex[:6]}.v1", object, owner="kit", partitions=1)
    await ensure_topics(isolated.kafka, isolated.namespace, [spec])
    topic = spec.qualified(isolated.namespace)
    runtime = await runtime_on(
        isolated, "kitwake", METADATA, OUTBOX, outbox_poll_interval_s=30.0, kafka_max_attempts=2
    )
    await runtime.start()
    try:
        # The relay's first pass (at start) has run and it now sleeps its 30-s poll.
        await asyncio.sleep(1.0)
        event = amended()
        queued = time.monotonic()
        async with transaction(runtime.sessions) as s:
            await add_to_outbox(s, OUTBOX, topic, event, key=event.report_id)
        [record] = await read_topic(isolated.kafka, topic, want=1, timeout=15.0)
        took = time.monotonic() - queued
    finally:
        await runtime.stop()
    assert record.value == encode(event)
    assert took < 5.0, f"the record left after {took:.1f} s: the commit did not wake the relay"
