"""`/livez` tells a wedged process from a dependency outage: it answers 200 while the
consumers and the outbox relay run, 503 naming the part once a consumer's loop has ended
(faststream does not restart it, so only a restart of the process helps)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import MetaData

from aduan_contracts.events import ReportAmended
from aduan_contracts.topics import TopicSpec
from aduan_kit.db import ensure_database, make_engine
from aduan_kit.messaging import ensure_topics, messaging_tables
from aduan_kit.runtime import ServiceRuntime
from aduan_kit.settings import ServiceSettings
from aduan_testing.plugin import Isolation

pytestmark = pytest.mark.integration

METADATA = MetaData()
OUTBOX, INBOX = messaging_tables(METADATA)


@pytest_asyncio.fixture
async def started(isolated: Isolation) -> AsyncIterator[tuple[ServiceRuntime, str]]:
    url = isolated.database("kitlive")
    await ensure_database(url)
    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(METADATA.create_all)
    await engine.dispose()
    spec = TopicSpec(f"kit.live-{uuid.uuid4().hex[:6]}.v1", object, owner="kit", partitions=1)
    await ensure_topics(isolated.kafka, isolated.namespace, [spec])
    runtime = ServiceRuntime(
        ServiceSettings(
            service_name="kitlive",
            environment="test",
            kafka_bootstrap_servers=isolated.kafka,
            topic_namespace=isolated.namespace,
            database_url=url,
            redis_url=isolated.redis_url,
        ),
        migrations=None,
        outbox=OUTBOX,
    )
    topic = spec.qualified(isolated.namespace)

    @runtime.broker.subscriber(topic, group_id=f"g-{uuid.uuid4().hex[:6]}")
    async def handle(event: ReportAmended) -> None:
        return None

    await runtime.start()
    try:
        yield runtime, topic
    finally:
        await runtime.stop()


async def test_livez_fails_when_a_consumer_loop_ends(started: tuple[ServiceRuntime, str]) -> None:
    runtime, topic = started
    app = runtime.create_app()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://svc"
    ) as client:
        alive = await client.get("/livez")
        assert alive.status_code == 200, alive.text
        assert alive.json() == {"status": "alive", "dead": []}

        # The consumer's loop ends as if it had crashed.
        [subscriber] = runtime.broker.subscribers
        for task in subscriber.tasks:  # type: ignore[attr-defined]
            task.cancel()
        await asyncio.sleep(0.1)
        dead = await client.get("/livez")
        assert dead.status_code == 503
        assert dead.json()["dead"] == [f"consumer of {topic}"]


async def test_livez_fails_when_the_relay_ends(started: tuple[ServiceRuntime, str]) -> None:
    runtime, _ = started
    app = runtime.create_app()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://svc"
    ) as client:
        assert (await client.get("/livez")).status_code == 200
        assert runtime.relay is not None
        runtime.relay._task.cancel()  # type: ignore[union-attr]
        await asyncio.sleep(0.1)
        dead = await client.get("/livez")
        assert dead.status_code == 503
        assert dead.json()["dead"] == ["outbox relay"]
