"""The unit of work and one consumer for several topics, on a real broker and database.

- A raw asyncpg statement sent through `uow.connection()` belongs to the session's
  transaction: it rolls back with it, even when it is the first statement sent.
- `uow.publish` rows reach the outbox in one statement, in call order, only on commit.
- A raw unit of work (no ORM session) is one transaction all the same: rolled back whole on
  error, its outbox rows written and the relay woken only once it committed; its advisory
  lock makes writers take turns; a connection the server killed is not handed out again;
  its statements are planned once per connection, not on every call.
- `subscribe_units`: one consumer reads two topics; each route's use case gets only its
  topic's new events, in order; a redelivered or repeated event is not handed over again;
  a failing event is dead-lettered with its cause while the rest of its batch is applied.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy import Column, MetaData, String, Table, select, text

from aduan_contracts import encode
from aduan_contracts.events import ReportAmended
from aduan_contracts.topics import TopicSpec
from aduan_kit.batching import Route, subscribe_units
from aduan_kit.db import (
    KEPT_PLANS,
    make_engine,
    make_sessionmaker,
    pooled_connection,
    raw_transaction,
)
from aduan_kit.messaging import ensure_topics, messaging_tables
from aduan_kit.runtime import ServiceRuntime
from aduan_kit.uow import UnitOfWork, raw_unit_of_work, unit_of_work
from aduan_testing.helpers import eventually
from aduan_testing.kafka import read_topic
from aduan_testing.kitruntime import amended, runtime_on
from aduan_testing.plugin import Isolation

pytestmark = pytest.mark.integration

METADATA = MetaData()
OUTBOX, INBOX = messaging_tables(METADATA)
APPLIED = Table(
    "applied",
    METADATA,
    Column("route", String(10), nullable=False),
    Column("text", String(100), nullable=False),
)


@pytest_asyncio.fixture
async def runtime(isolated: Isolation) -> AsyncIterator[ServiceRuntime]:
    yield await runtime_on(isolated, "kitunits", METADATA, OUTBOX, kafka_max_attempts=2)


async def _texts(runtime: ServiceRuntime) -> list[tuple[str, str]]:
    async with runtime.sessions() as s:
        rows = await s.execute(select(APPLIED.c.route, APPLIED.c.text))
        return [(r.route, r.text) for r in rows]


async def test_raw_statements_and_outbox_rows_follow_the_transaction(
    isolated: Isolation, runtime: ServiceRuntime
) -> None:
    await runtime.start()
    try:
        # Rolled back: the raw INSERT is the FIRST statement of the transaction (SQLAlchemy
        # would not have sent BEGIN yet) and the publish was queued.
        with pytest.raises(RuntimeError, match="boom"):
            async with unit_of_work(runtime.sessions, OUTBOX) as uow:
                conn = await uow.connection()
                await conn.execute("INSERT INTO applied (route, text) VALUES ('raw', 'gone')")
                uow.publish("kit.t", amended("never"), key="k")
                raise RuntimeError("boom")
        # Committed: three events in call order, one statement.
        events = [amended(f"e{i}") for i in range(3)]
        async with unit_of_work(runtime.sessions, OUTBOX) as uow:
            conn = await uow.connection()
            await conn.execute("INSERT INTO applied (route, text) VALUES ('raw', 'kept')")
            for event in events:
                uow.publish("kit.t", event, key=event.report_id)
            assert uow.pending == 3
        async with runtime.sessions() as s:
            # "kit.t" is no topic of the broker's: the relay holds its rows back.
            payloads = list((await s.scalars(select(OUTBOX.c.payload))).all())
    finally:
        await runtime.stop()
    assert await _texts(runtime) == [("raw", "kept")]
    assert sorted(payloads) == sorted(encode(e) for e in events)


async def test_outbox_rows_in_call_order(isolated: Isolation, runtime: ServiceRuntime) -> None:
    """Without a running relay, the rows stay: they are in call order with their headers."""
    events = [amended(f"e{i}") for i in range(5)]
    engine = make_engine(runtime.settings.database_url)
    sessions = make_sessionmaker(engine)
    try:
        async with unit_of_work(sessions, OUTBOX) as uow:
            for event in events:
                uow.publish("kit.t", event, key=event.report_id, headers={"x": "1"})
        async with sessions() as s:
            rows = (await s.execute(select(OUTBOX).order_by(OUTBOX.c.id))).all()
    finally:
        await engine.dispose()
    assert [r.payload for r in rows] == [encode(e) for e in events]
    assert [r.key for r in rows] == [str(e.report_id).encode() for e in events]
    assert rows[0].headers == {
        "x": "1",
        "correlation_id": events[0].correlation_id,
        "event_type": "ReportAmended",
    }


async def test_raw_unit_of_work_is_one_transaction(
    isolated: Isolation, runtime: ServiceRuntime
) -> None:
    engine = make_engine(runtime.settings.database_url, pool_size=2)
    sessions = make_sessionmaker(engine)
    woken: list[int] = []
    try:
        with pytest.raises(RuntimeError, match="boom"):
            async with raw_unit_of_work(engine, OUTBOX, wake=lambda: woken.append(1)) as uow:
                conn = await uow.connection()
                await conn.execute("INSERT INTO applied (route, text) VALUES ('raw', 'gone')")
                uow.publish("kit.t", amended("never"), key="k")
                raise RuntimeError("boom")
        assert woken == []  # rolled back: nothing for the relay
        with pytest.raises(RuntimeError, match="raw transaction"):
            async with raw_unit_of_work(engine, OUTBOX) as uow:
                uow.session  # noqa: B018 - a use case that needs a session is told so
        event = amended("kept")
        async with raw_unit_of_work(engine, OUTBOX, wake=lambda: woken.append(1)) as uow:
            conn = await uow.connection()
            await conn.execute("INSERT INTO applied (route, text) VALUES ('raw', 'kept')")
            uow.publish("kit.t", event, key=event.report_id)
            assert woken == []  # not before the commit
        assert woken == [1]
        async with sessions() as s:
            payloads = list((await s.scalars(select(OUTBOX.c.payload))).all())
            texts = (await s.execute(select(APPLIED.c.route, APPLIED.c.text))).all()
        assert [tuple(t) for t in texts] == [("raw", "kept")]
        assert payloads == [encode(event)]

        # The lock goes with the BEGIN: a second writer waits for the first's commit.
        order: list[str] = []

        async def writer(name: str, hold_s: float) -> None:
            async with raw_unit_of_work(engine, None, lock=7101) as uow:
                order.append(f"{name} in")
                await asyncio.sleep(hold_s)
                await (await uow.connection()).execute("SELECT 1")
                order.append(f"{name} out")

        first = asyncio.create_task(writer("a", 0.4))
        await asyncio.sleep(0.1)
        started = time.monotonic()
        await writer("b", 0)
        await first
        assert order == ["a in", "a out", "b in", "b out"]
        assert time.monotonic() - started > 0.2

        # A connection the server ended is never handed out again.
        async with raw_unit_of_work(engine, None) as uow:
            killed = (await uow.connection()).get_server_pid()
        async with sessions() as s:
            await s.execute(text("SELECT pg_terminate_backend(:p)"), {"p": killed})
        await asyncio.sleep(0.3)
        for _ in range(4):
            async with raw_unit_of_work(engine, None) as uow:
                conn = await uow.connection()
                assert conn.get_server_pid() != killed
                assert await conn.fetchval("SELECT 5") == 5
    finally:
        await engine.dispose()


# A set-based statement as the consumers' use cases send them: an array parameter whose
# length changes from batch to batch.
_BY_TEXTS = "SELECT route, text FROM applied WHERE text = ANY($1::text[]) ORDER BY text"


async def _prepared(conn: asyncpg.Connection) -> asyncpg.Record:
    """`_BY_TEXTS` as prepared on this connection: its name, and the generic and custom
    plans PostgreSQL used for it so far."""
    row = await conn.fetchrow(
        "SELECT name, generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = $1",
        _BY_TEXTS,
    )
    assert row is not None
    return row


async def _plans(conn: asyncpg.Connection) -> tuple[int, int]:
    """(generic, custom) plans PostgreSQL used so far for `_BY_TEXTS` on this connection."""
    row = await _prepared(conn)
    return row["generic_plans"], row["custom_plans"]


async def test_a_unit_of_works_statements_are_planned_once_not_per_call(
    isolated: Isolation, runtime: ServiceRuntime
) -> None:
    """Issue 18, seventeenth step: PostgreSQL planned such a statement again on every call
    (an unknown array looks costlier than the call's short one), which cost as much as
    running it. In a unit of work the kept plan is used, and the answers are the same."""
    engine = make_engine(runtime.settings.database_url, pool_size=1)
    # Indexed and large enough that an index probe per element is the plan, as on the
    # services' tables; each call asks for one to three of them, as a poll's batch does.
    texts = [f"t{i}" for i in range(2000)]
    asked = [texts[i : i + 1 + i % 3] for i in range(0, 24, 3)]
    try:
        async with raw_unit_of_work(engine, None) as uow:
            conn = await uow.connection()
            await conn.execute(
                "INSERT INTO applied (route, text) SELECT 'r', t FROM unnest($1::text[]) AS t",
                texts,
            )
            await conn.execute("CREATE INDEX ix_applied_text ON applied (text)")
        async with pooled_connection(engine) as conn:
            await conn.execute("ANALYZE applied")
        # The same statement outside a unit of work (the server's default), for contrast:
        # planned for each call's values, every time.
        async with raw_transaction(engine) as conn:
            for some in asked:
                found = await conn.fetch(_BY_TEXTS, some)
                assert [r["text"] for r in found] == sorted(some)
            before = await _plans(conn)
            assert before == (0, len(asked))
        async with raw_unit_of_work(engine, None) as uow:
            conn = await uow.connection()
            for some in asked:
                found = await conn.fetch(_BY_TEXTS, some)
                assert [r["text"] for r in found] == sorted(some)
            generic, custom = await _plans(conn)
            # The same pooled connection (a pool of one), so the counts go on from there.
            assert (generic, custom) == (len(asked), len(asked))
        # LOCAL: the next user of the connection has the server's default again.
        async with pooled_connection(engine) as conn:
            assert await conn.fetchval("SHOW plan_cache_mode") == "auto"
    finally:
        await engine.dispose()


async def test_an_engines_server_settings_hold_on_each_of_its_connections(
    isolated: Isolation, runtime: ServiceRuntime
) -> None:
    """`make_engine(server_settings=KEPT_PLANS)` (the notifier's delivery worker, whose
    statements run outside any transaction): every connection it opens has them, on the
    first statement and after reuse; an engine without them keeps the server's defaults."""
    kept = make_engine(runtime.settings.database_url, pool_size=2, server_settings=KEPT_PLANS)
    plain = make_engine(runtime.settings.database_url, pool_size=1)
    show = "SELECT current_setting('plan_cache_mode'), current_setting('enable_seqscan')"
    try:
        for _ in range(2):
            async with pooled_connection(kept) as a, pooled_connection(kept) as b:
                for conn in (a, b):
                    assert tuple(await conn.fetchrow(show)) == ("force_generic_plan", "off")
        async with pooled_connection(plain) as conn:
            assert tuple(await conn.fetchrow(show)) == ("auto", "on")
    finally:
        await kept.dispose()
        await plain.dispose()


async def test_a_plan_kept_from_an_empty_table_still_uses_the_index(
    isolated: Isolation, runtime: ServiceRuntime
) -> None:
    """A service's first poll after a start may find its tables empty: the kept plan made
    then must not be a sequential scan that every later call repeats on the grown table."""
    engine = make_engine(runtime.settings.database_url, pool_size=1)
    try:
        async with pooled_connection(engine) as conn:
            await conn.execute("CREATE INDEX ix_applied_text ON applied (text)")
        async with raw_unit_of_work(engine, None) as uow:
            conn = await uow.connection()
            assert await conn.fetch(_BY_TEXTS, ["t1"]) == []  # planned here: table empty
            await conn.execute(
                "INSERT INTO applied (route, text)"
                " SELECT 'r', 't' || n FROM generate_series(1, 5000) AS n"
            )
        async with raw_unit_of_work(engine, None) as uow:
            conn = await uow.connection()
            found = await conn.fetch(_BY_TEXTS, ["t7", "t4001"])
            assert [r["text"] for r in found] == ["t4001", "t7"]
            name = (await _prepared(conn))["name"]
            # The kept plan, as this and every later call of the statement runs it.
            plan = "\n".join(
                r[0] for r in await conn.fetch(f"EXPLAIN EXECUTE {name}('{{t7,t4001}}')")
            )
            assert "ix_applied_text" in plan and "Seq Scan" not in plan, plan
    finally:
        await engine.dispose()


async def test_held_writes_go_out_with_the_outbox_rows_and_before_any_read(
    isolated: Isolation, runtime: ServiceRuntime
) -> None:
    """`uow.write` holds a write until the next statement or the flush and sends the held
    ones (and the outbox rows) as one statement: nothing is lost or reordered by it."""
    insert = "INSERT INTO applied (route, text) SELECT $1, t FROM unnest($2::text[]) AS t"
    engine = make_engine(runtime.settings.database_url, pool_size=2)
    sessions = make_sessionmaker(engine)
    try:
        event = amended("with the writes")
        async with raw_unit_of_work(engine, OUTBOX) as uow:
            await uow.write("applied", insert, "a", ["one", "two"])
            # A second write to the same table: the first goes out before it, so the
            # UPDATE sees its rows (sibling CTEs would share one snapshot).
            await uow.write(
                "applied", "UPDATE applied SET text = text || '!' WHERE route = $1", "a"
            )
            await uow.write("outbox", "DELETE FROM outbox WHERE topic = $1", "none")
            conn = await uow.connection()  # a read: the held writes go out first
            assert await conn.fetchval("SELECT count(*) FROM applied WHERE text LIKE '%!'") == 2
            await uow.write("applied", insert, "b", ["three"])
            uow.publish("kit.t", event, key=event.report_id)
        with pytest.raises(RuntimeError, match="boom"):
            async with raw_unit_of_work(engine, OUTBOX) as uow:
                await uow.write("applied", insert, "c", ["never"])
                await uow.connection()  # sent, then rolled back with the transaction
                await uow.write("applied", insert, "c", ["never either"])
                raise RuntimeError("boom")
        async with sessions() as s:
            texts = sorted(
                tuple(r) for r in await s.execute(select(APPLIED.c.route, APPLIED.c.text))
            )
            payloads = list((await s.scalars(select(OUTBOX.c.payload))).all())
        assert texts == [("a", "one!"), ("a", "two!"), ("b", "three")]
        assert payloads == [encode(event)]
    finally:
        await engine.dispose()


async def test_one_consumer_for_two_topics(isolated: Isolation, runtime: ServiceRuntime) -> None:
    specs = [
        TopicSpec(f"kit.units-{name}-{uuid.uuid4().hex[:6]}.v1", object, owner="kit", partitions=1)
        for name in ("a", "b")
    ]
    await ensure_topics(isolated.kafka, isolated.namespace, specs)
    topic_a, topic_b = (spec.qualified(isolated.namespace) for spec in specs)
    handed: dict[str, list[str]] = {"a": [], "b": []}

    def use_case(name: str):  # type: ignore[no-untyped-def]
        async def apply_many(uow: UnitOfWork, events: list[ReportAmended]) -> list[str]:
            handed[name] += [e.text for e in events]
            if any(e.text == "poison" for e in events):
                raise RuntimeError("bug in use case")
            conn = await uow.connection()
            await conn.execute(
                "INSERT INTO applied (route, text) SELECT $1, t FROM unnest($2::text[]) AS t",
                name,
                [e.text for e in events],
            )
            return [e.text for e in events]

        return apply_many

    committed: list[list[str]] = []
    subscribe_units(
        runtime,
        [
            Route(topic_a, ReportAmended, "kit.units.a", apply_many=use_case("a")),
            Route(topic_b, ReportAmended, "kit.units.b", apply_many=use_case("b")),
        ],
        inbox=INBOX,
        outbox=OUTBOX,
        title="kit.units",
        description="test",
        after_commit=committed.append,
    )
    repeated = amended("a-repeated")
    to_a = [amended("a1"), repeated, amended("a2"), repeated, amended("poison"), amended("a3")]
    to_b = [amended("b1"), amended("b2")]
    producer = AIOKafkaProducer(bootstrap_servers=isolated.kafka, linger_ms=20)
    await producer.start()
    try:
        futures = [await producer.send(topic_a, encode(e), key=b"k") for e in to_a]
        futures += [await producer.send(topic_b, encode(e), key=b"k") for e in to_b]
        await asyncio.gather(*futures)
    finally:
        await producer.stop()

    await runtime.start()
    try:

        async def all_applied() -> bool:
            return len(await _texts(runtime)) >= 6

        await eventually(all_applied, "both topics applied", timeout=40)
        await asyncio.sleep(1)  # anything applied twice would show by now
        rows = await _texts(runtime)

        # Offsets are committed in the background (kafka_commit_interval_ms), but they are
        # committed: a restarted consumer does not start over from the beginning.
        admin = AIOKafkaAdminClient(bootstrap_servers=isolated.kafka)
        await admin.start()
        try:

            async def offsets_committed() -> bool:
                got = await admin.list_consumer_group_offsets(runtime.settings.consumer_group)
                return {tp.topic: meta.offset for tp, meta in got.items()} == {
                    topic_a: len(to_a),
                    topic_b: len(to_b),
                }

            await eventually(offsets_committed, "offsets committed", timeout=10)
        finally:
            await admin.close()
    finally:
        await runtime.stop()

    assert sorted(t for r, t in rows if r == "a") == ["a-repeated", "a1", "a2", "a3"]
    assert sorted(t for r, t in rows if r == "b") == ["b1", "b2"]
    # The use case never saw an event of the other topic, nor the repeated event twice in
    # a batch that committed.
    assert set(handed["a"]) <= {"a1", "a-repeated", "a2", "poison", "a3"}
    assert set(handed["b"]) == {"b1", "b2"}
    # The poison event: max_attempts (2) tries in all, its batch's counted as the first
    # (a redelivered batch may add one more), never applied.
    assert 2 <= handed["a"].count("poison") <= 3
    dead = await read_topic(isolated.kafka, f"{topic_a}.dlq", want=1, timeout=10)
    assert [dict(r.headers)["dlq_attempts"] for r in dead] == [b"2"]
    assert sorted(t for batch in committed for t in batch) == sorted(t for _, t in rows)


async def test_a_batch_gets_a_session_only_when_an_event_needs_one(
    isolated: Isolation, runtime: ServiceRuntime
) -> None:
    """`orm_session` as a predicate: a batch holding an event it is true for gets a unit of
    work with a session; the others are raw transactions (no session to use)."""
    spec = TopicSpec(f"kit.units-s-{uuid.uuid4().hex[:6]}.v1", object, owner="kit", partitions=1)
    await ensure_topics(isolated.kafka, isolated.namespace, [spec])
    topic = spec.qualified(isolated.namespace)
    seen: dict[str, bool] = {}

    async def apply_many(uow: UnitOfWork, events: list[ReportAmended]) -> list[str]:
        try:
            uow.session  # noqa: B018 - whether this unit of work has one
            has_session = True
        except RuntimeError:
            has_session = False
        for e in events:
            seen[e.text] = has_session
        conn = await uow.connection()
        await conn.execute(
            "INSERT INTO applied (route, text) SELECT 's', t FROM unnest($1::text[]) AS t",
            [e.text for e in events],
        )
        return [e.text for e in events]

    subscribe_units(
        runtime,
        [Route(topic, ReportAmended, "kit.units.s", apply_many=apply_many)],
        inbox=INBOX,
        title="kit.units.s",
        description="test",
        orm_session=lambda e: e.text.startswith("orm"),
    )
    await runtime.start()
    try:
        producer = AIOKafkaProducer(bootstrap_servers=isolated.kafka)
        await producer.start()
        try:
            for text_ in ("plain-1", "orm-1", "plain-2"):
                await producer.send_and_wait(topic, encode(amended(text_)), key=b"k")

                async def applied(t: str = text_) -> bool:
                    return t in seen

                await eventually(applied, f"{text_} applied", timeout=30)
        finally:
            await producer.stop()
    finally:
        await runtime.stop()
    assert seen == {"plain-1": False, "orm-1": True, "plain-2": False}
