"""The catalogue readers' copy (aduan_kit.catalogue) against real Kafka and PostgreSQL:
every replica reads the whole compacted topic at start (no consumer group), keeps only the
newest version of each category, stores it in its table, and a copy warmed from that table
alone (broker away) still knows every category, retired ones included."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from sqlalchemy import MetaData

from aduan_contracts.events import CategoryPublished
from aduan_contracts.serialization import encode
from aduan_contracts.topics import CATEGORIES
from aduan_kit.catalogue import Catalogue, catalogue_table, load_catalogue, subscribe_catalogue
from aduan_kit.db import ensure_database, make_engine, make_sessionmaker
from aduan_kit.messaging import ensure_topics, messaging_tables
from aduan_kit.runtime import ServiceRuntime
from aduan_kit.settings import ServiceSettings
from aduan_testing.plugin import Isolation

pytestmark = pytest.mark.integration

METADATA = MetaData()
OUTBOX, INBOX = messaging_tables(METADATA)
TABLE = catalogue_table(METADATA)


def record(code: str, version: int, active: bool = True, agency: str | None = "dbm") -> bytes:
    return encode(
        CategoryPublished(
            code=code,
            version=version,
            name_id=f"{code} v{version}",
            name_en=f"{code} v{version} (en)",
            agency_id=agency,
            active=active,
            updated_at=datetime.now(UTC),
        )
    )


async def until(check: Callable[[], bool], timeout_s: float = 30.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not check():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.1)


@pytest_asyncio.fixture
async def env(isolated: Isolation) -> AsyncIterator[tuple[Isolation, list[str]]]:
    await ensure_topics(isolated.kafka, isolated.namespace, [CATEGORIES])
    urls = []
    for name in ("kitcat1", "kitcat2"):
        url = isolated.database(name)
        await ensure_database(url)
        engine = make_engine(url)
        async with engine.begin() as conn:
            await conn.run_sync(METADATA.create_all)
        await engine.dispose()
        urls.append(url)
    yield isolated, urls


def reader(
    isolated: Isolation,
    url: str,
    catalogue: Catalogue,
    on_change: Callable[[Any, CategoryPublished], Awaitable[None]] | None = None,
    grace_s: float = 10.0,
) -> ServiceRuntime:
    runtime = ServiceRuntime(
        ServiceSettings(
            service_name="kitcat",
            environment="test",
            kafka_bootstrap_servers=isolated.kafka,
            topic_namespace=isolated.namespace,
            database_url=url,
            redis_url=isolated.redis_url,
            shutdown_grace_s=grace_s,
        ),
        migrations=None,
        outbox=OUTBOX,
    )
    subscribe_catalogue(
        runtime, TABLE, catalogue=catalogue, title="t", description="d", on_change=on_change
    )
    return runtime


async def test_every_replica_gets_the_whole_catalogue_and_keeps_a_copy(
    env: tuple[Isolation, list[str]],
) -> None:
    isolated, (url1, url2) = env
    topic = CATEGORIES.qualified(isolated.namespace)
    producer = AIOKafkaProducer(bootstrap_servers=isolated.kafka)
    await producer.start()
    try:
        # Published before any reader exists: a new reader still gets all of it.
        for value in (record("jalan", 1), record("banjir", 1), record("jalan", 2, active=False)):
            key = b"jalan" if b'"jalan"' in value else b"banjir"
            await producer.send_and_wait(topic, value, key=key)

        first, second = Catalogue(), Catalogue()
        one, two = reader(isolated, url1, first), reader(isolated, url2, second)
        await one.start()
        await two.start()
        try:
            for cat in (first, second):
                await until(lambda c=cat: len(c) == 2 and not c.get("jalan").active)  # type: ignore[union-attr]
                assert [c.code for c in cat.active()] == ["banjir"]
                assert cat.get("jalan").name_id == "jalan v2"  # type: ignore[union-attr]

            # A change reaches both replicas; an older version arriving late changes nothing.
            await producer.send_and_wait(topic, record("jalan", 3, agency="sda"), key=b"jalan")
            await producer.send_and_wait(topic, record("jalan", 1), key=b"jalan")
            await producer.send_and_wait(topic, record("pohon", 1, agency=None), key=b"pohon")
            for cat in (first, second):
                await until(lambda c=cat: c.get("pohon") is not None)
                jalan = cat.get("jalan")
                assert jalan is not None and jalan.version == 3 and jalan.active
                assert jalan.agency_id == "sda"
        finally:
            await two.stop()
            await one.stop()
    finally:
        await producer.stop()

    # With no broker at all, the table alone gives the same catalogue back.
    engine = make_engine(url1)
    try:
        async with make_sessionmaker(engine)() as session:
            warmed = Catalogue(await load_catalogue(session, TABLE))
    finally:
        await engine.dispose()
    assert sorted(c.code for c in warmed.all()) == ["banjir", "jalan", "pohon"]
    assert warmed.get("jalan").version == 3  # type: ignore[union-attr]


async def test_a_reader_waiting_out_a_database_outage_stops_when_asked(
    env: tuple[Isolation, list[str]],
) -> None:
    """The reader retries a category while the database is away (D9); a SIGTERM in that
    time must end the wait at once, not hold the service's shutdown for its whole grace
    period (a CI run once saw a service ignore SIGTERM for 30 s)."""
    isolated, (url1, _) = env
    topic = CATEGORIES.qualified(isolated.namespace)
    attempts = 0

    async def database_away(session: Any, published: CategoryPublished) -> None:
        nonlocal attempts
        attempts += 1
        raise ConnectionRefusedError("database away")

    catalogue = Catalogue()
    runtime = reader(isolated, url1, catalogue, on_change=database_away, grace_s=120.0)
    producer = AIOKafkaProducer(bootstrap_servers=isolated.kafka)
    await producer.start()
    try:
        await runtime.start()
        await producer.send_and_wait(topic, record("jalan", 1), key=b"jalan")
        await until(lambda: attempts >= 3)  # retrying, not dead-lettered or dropped
    finally:
        await producer.stop()
        loop = asyncio.get_running_loop()
        began = loop.time()
        await runtime.stop()
        stopped_after = loop.time() - began
    # Well under the 120 s grace; the retry waits themselves are at most 5 s.
    assert stopped_after < 30.0, f"stop took {stopped_after:.1f} s"
    # The record was not applied half-way: it is read again at the next start.
    assert catalogue.get("jalan") is None
