"""Consumers recover by themselves (issue: a full `make chaos` left 893 reports unapplied
after a 60 s broker cut, with the service answering 200 on /livez).

On a real broker and database:
- the broker cut off (the chaos runner's TCP proxy) for three session timeouts while
  messages flow: every consumer of the group (a batch one and two per-message ones, one of
  which publishes through the outbox) applies every message exactly once afterwards,
  without the service being restarted;
- a consumer whose client silently stopped fetching (its partitions paused, as a wedged
  client would leave them) is found and restarted in place, and catches up;
- one that stays stuck after that turns /livez into a 503 that names it;
- while a dependency is down, a consumer that waits is not judged stuck.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from prometheus_client import REGISTRY
from sqlalchemy import Column, MetaData, String, Table, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from aduan_contracts import encode
from aduan_contracts.events import ReportAmended
from aduan_contracts.topics import TopicSpec
from aduan_kit.batching import subscribe_batches
from aduan_kit.consumers import consumer_name
from aduan_kit.db import ensure_database, make_engine, transaction
from aduan_kit.messaging import (
    SESSION_TIMEOUT_MS,
    add_to_outbox,
    claim_inbox,
    ensure_topics,
    messaging_tables,
    send_loop_ended,
)
from aduan_kit.runtime import ServiceRuntime
from aduan_kit.settings import ServiceSettings
from aduan_testing.chaosinfra import ChaosBroker, TcpProxy
from aduan_testing.helpers import eventually
from aduan_testing.kafka import break_requests
from aduan_testing.kitruntime import amended
from aduan_testing.plugin import Isolation

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

METADATA = MetaData()
OUTBOX, INBOX = messaging_tables(METADATA)
APPLIED = Table(
    "applied",
    METADATA,
    Column("consumer", String(20), nullable=False),
    Column("text", String(100), nullable=False),
)


@dataclass
class Service:
    runtime: ServiceRuntime
    topics: dict[str, str]  # consumer -> the topic it reads
    engine: Any

    async def applied(self) -> dict[str, tuple[int, int]]:
        """Per consumer: rows applied, distinct texts applied."""
        async with self.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(
                        APPLIED.c.consumer,
                        func.count(),
                        func.count(func.distinct(APPLIED.c.text)),
                    ).group_by(APPLIED.c.consumer)
                )
            ).all()
        return {r[0]: (r[1], r[2]) for r in rows}

    def subscriber(self, consumer: str) -> Any:
        [found] = [
            s
            for s in self.runtime.broker.subscribers
            if self.topics[consumer] in getattr(s, "topic_names_for_subscribe", ())
        ]
        return found


async def start_service(
    isolated: Isolation, bootstrap: str, **settings: Any
) -> tuple[Service, Callable[[], Any]]:
    """A service with three consumers in one group, as workflow has: `batch` (batch
    consumer), `one` (per message) and `relay` (per message, publishes to `one`'s topic
    through the outbox)."""
    url = isolated.database("kitrecover")
    await ensure_database(url)
    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.run_sync(METADATA.create_all)
    tag = uuid.uuid4().hex[:6]
    specs = {
        name: TopicSpec(f"kit.recover-{name}-{tag}.v1", object, owner="kit", partitions=3)
        for name in ("batch", "one", "relay")
    }
    await ensure_topics(bootstrap, isolated.namespace, list(specs.values()))
    topics = {name: spec.qualified(isolated.namespace) for name, spec in specs.items()}
    runtime = ServiceRuntime(
        ServiceSettings(
            service_name=f"kitrecover-{tag}",
            environment="test",
            kafka_bootstrap_servers=bootstrap,
            topic_namespace=isolated.namespace,
            database_url=url,
            redis_url=isolated.redis_url,
            **settings,
        ),
        migrations=None,
        outbox=OUTBOX,
    )

    async def apply(session: AsyncSession, event: ReportAmended) -> None:
        await session.execute(APPLIED.insert().values(consumer="batch", text=event.text))

    subscribe_batches(
        runtime,
        topics["batch"],
        model=ReportAmended,
        consumer="batch",
        inbox=INBOX,
        outbox=OUTBOX,
        apply=apply,
        title="batch",
        description="batch",
    )

    group = runtime.settings.consumer_group

    @runtime.broker.subscriber(topics["one"], group_id=group, auto_offset_reset="earliest")
    async def one(event: ReportAmended) -> None:
        async with transaction(runtime.sessions) as session:
            if await claim_inbox(session, INBOX, "one", event.event_id):
                await session.execute(APPLIED.insert().values(consumer="one", text=event.text))

    @runtime.broker.subscriber(topics["relay"], group_id=group, auto_offset_reset="earliest")
    async def relay(event: ReportAmended) -> None:
        async with transaction(runtime.sessions) as session:
            if await claim_inbox(session, INBOX, "relay", event.event_id):
                await session.execute(APPLIED.insert().values(consumer="relay", text=event.text))
                await add_to_outbox(
                    session, OUTBOX, topics["one"], amended(f"via-{event.text}"), event.report_id
                )

    await runtime.start()

    async def stop() -> None:
        await runtime.stop()
        await engine.dispose()

    return Service(runtime, topics, engine), stop


async def produce(bootstrap: str, topics: list[str], n: int, per_s: float) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        enable_idempotence=True,
        request_timeout_ms=120_000,
    )
    await producer.start()
    try:
        for i in range(n):
            for topic in topics:
                await producer.send(topic, encode(amended(f"m{i}")), key=str(i).encode())
            await asyncio.sleep(1 / per_s)
        await producer.flush()
    finally:
        await producer.stop()


def counter(name: str, consumer: str) -> float:
    return REGISTRY.get_sample_value(name, {"consumer": consumer}) or 0.0


async def livez(runtime: ServiceRuntime) -> httpx.Response:
    app = runtime.create_app()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://svc"
    ) as client:
        return await client.get("/livez")


# --- a real broker cut -------------------------------------------------------------------


@pytest_asyncio.fixture
async def cut_broker() -> AsyncIterator[tuple[TcpProxy, str]]:
    """A broker of its own, reachable only through a proxy that can cut it off."""
    proxy = TcpProxy(0)
    broker = ChaosBroker(Path(tempfile.mkdtemp(prefix="aduan-cut-")), proxy.port)
    proxy.target_port = broker.port
    broker.format()
    await proxy.start()
    try:
        await broker.start()
        yield proxy, f"127.0.0.1:{proxy.port}"
    finally:
        broker.stop()
        await proxy.stop()


REJOIN_CUT_AFTER_S = float(os.environ.get("ADUAN_TEST_REJOIN_CUT_AFTER_S", "2"))


async def test_every_consumer_recovers_from_a_cut_longer_than_the_session(
    isolated: Isolation, cut_broker: tuple[TcpProxy, str]
) -> None:
    proxy, bootstrap = cut_broker
    # A short bound so that a wedged client is restarted in place within the test.
    service, stop = await start_service(
        isolated,
        bootstrap,
        kafka_stuck_after_s=float(os.environ.get("ADUAN_TEST_STUCK_AFTER_S", "10")),
        kafka_check_interval_s=2,
    )
    n = 600
    try:
        flowing = asyncio.create_task(
            produce(bootstrap, [service.topics["batch"], service.topics["relay"]], n, per_s=20)
        )
        await asyncio.sleep(5)  # messages are flowing and being committed
        proxy.cut()
        await asyncio.sleep(3 * SESSION_TIMEOUT_MS / 1000)  # every member's session expires
        proxy.restore()
        # Cut again while the members rejoin their group (the chaos run's double cut found
        # a JoinGroup cut off mid-flight leaving a consumer rejoining for minutes).
        await asyncio.sleep(REJOIN_CUT_AFTER_S)
        proxy.cut()
        await asyncio.sleep(3 * SESSION_TIMEOUT_MS / 1000)
        proxy.restore()
        await asyncio.wait_for(flowing, 180)

        want = {"batch": (n, n), "relay": (n, n), "one": (n, n)}

        async def all_applied() -> bool:
            return await service.applied() == want

        await eventually(all_applied, "every message applied once by every consumer", 150)
        await asyncio.sleep(3)  # late redeliveries would show up as a second row
        assert await service.applied() == want
        assert service.runtime.dead_parts() == []
        assert (await livez(service.runtime)).status_code == 200
    finally:
        await stop()


# --- a client that silently stopped fetching ---------------------------------------------


@pytest_asyncio.fixture
async def service(isolated: Isolation) -> AsyncIterator[Service]:
    svc, stop = await start_service(
        isolated, isolated.kafka, kafka_stuck_after_s=4, kafka_check_interval_s=1
    )
    try:
        yield svc
    finally:
        await stop()


async def assigned_client(subscriber: Any) -> Any:
    """`subscriber`'s Kafka client once it has partitions."""

    async def assigned() -> Any:
        consumer = subscriber.consumer
        return consumer if consumer is not None and consumer.assignment() else None

    return await eventually(assigned, "partitions assigned", 30)


async def wedge(subscriber: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """Leave `subscriber`'s Kafka client as a broken one would: member of the group,
    partitions assigned, fetching nothing, saying nothing.

    Pausing alone does not hold: a rebalance of the shared group (its members still
    joining) hands the partitions back unpaused. So this client's polls also give nothing;
    a member made to replace it polls as usual."""

    consumer = await assigned_client(subscriber)
    consumer.pause(*consumer.assignment())
    get_msg = type(subscriber).get_msg

    async def silent(self: Any, polled: Any) -> Any:
        if polled is consumer:
            await asyncio.sleep(0.1)
            return None
        return await get_msg(self, polled)

    monkeypatch.setattr(type(subscriber), "get_msg", silent)
    # The poll under way when the patch went in is the real one, and on a paused client it
    # does not return: a rebalance that hands the partitions back unpaused let it take a
    # record (seen in CI: one of the five applied while "wedged"). What this client brings
    # is dropped too; a member made to replace it consumes as usual.
    consume_one = type(subscriber).consume_one

    async def deaf(self: Any, msg: Any) -> Any:
        if self.consumer is consumer:
            return None
        return await consume_one(self, msg)

    monkeypatch.setattr(type(subscriber), "consume_one", deaf)
    return consumer


async def test_a_wedged_consumer_is_restarted_in_place_and_catches_up(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    sub = service.subscriber("one")
    name = consumer_name(sub)
    restarts = counter("aduan_consumer_restarts_total", name)
    wedged = await wedge(sub, monkeypatch)
    await produce(
        service.runtime.settings.kafka_bootstrap_servers, [service.topics["one"]], 20, 100
    )

    async def caught_up() -> bool:
        return (await service.applied()).get("one") == (20, 20)

    await eventually(caught_up, "the wedged consumer's messages applied", 60)
    assert sub.consumer is not wedged  # a new member took over
    assert counter("aduan_consumer_restarts_total", name) == restarts + 1

    async def cleared() -> bool:
        return REGISTRY.get_sample_value("aduan_consumer_stuck", {"consumer": name}) == 0

    await eventually(cleared, "the stuck gauge back to 0", 30)
    assert (await livez(service.runtime)).status_code == 200
    # The other consumers of the group were never touched.
    assert counter("aduan_consumer_restarts_total", consumer_name(service.subscriber("relay"))) == 0


async def test_a_consumer_whose_fetch_loop_died_is_restarted_in_place(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """aiokafka fetches, and sets a newly assigned partition's position, in one task per
    client; an error it does not expect ends that task for good. A full chaos run had
    uvloop's RuntimeError (writing to a connection a broker cut had closed) end it in
    workflow, and a rebalance then left the client with partitions and no positions: the
    watch took its unanswered position waits for an outage on every check and workflow
    consumed nothing for nine minutes. Here the same error ends the loop, the group
    rebalances (another member restarts), and the messages that arrive must still be
    applied, by a new client."""
    sub = service.subscriber("batch")
    name = consumer_name(sub)
    restarts = counter("aduan_consumer_restarts_total", name)

    consumer = await assigned_client(sub)
    mend = break_requests(monkeypatch, consumer._client, "FetchRequest")

    async def loop_ended() -> bool:
        return consumer._fetcher.error_future.done()

    await eventually(loop_ended, "the fetch loop ended", 30)
    mend()  # the connection is fine again; the loop is not
    other = service.subscriber("relay")
    await other.stop()
    await other.start()  # the group rebalances: the dead client's partitions need positions
    await produce(
        service.runtime.settings.kafka_bootstrap_servers, [service.topics["batch"]], 10, 100
    )

    async def caught_up() -> bool:
        return (await service.applied()).get("batch") == (10, 10)

    await eventually(caught_up, "the dead client's messages applied", 90)
    assert sub.consumer is not consumer  # a new member took over
    assert counter("aduan_consumer_restarts_total", name) == restarts + 1
    assert (await livez(service.runtime)).status_code == 200


async def test_a_relay_whose_producer_send_loop_died_fails_livez(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The producer's side of the same aiokafka failure: its send loop ends on the error it
    does not expect, and every later send is queued for nobody. The outbox would then fill
    while /livez said alive; it must say which part died, so the process is restarted."""
    relay = service.runtime.relay
    assert relay is not None
    producer = relay._producer
    break_requests(monkeypatch, producer.client, "ProduceRequest")
    assert send_loop_ended(producer) == ""
    assert (await livez(service.runtime)).status_code == 200
    # A message for the "relay" consumer: applying it puts a row in the outbox, and the
    # relay's pass sends it (what ends the loop here).
    await produce(
        service.runtime.settings.kafka_bootstrap_servers, [service.topics["relay"]], 1, 100
    )

    async def reported() -> httpx.Response | None:
        response = await livez(service.runtime)
        return response if response.status_code == 503 else None

    response = await eventually(reported, "/livez failing", 60)
    assert "outbox relay" in response.json()["dead"]
    assert send_loop_ended(producer) == "its send loop ended (RuntimeError)"


async def test_a_consumer_still_stuck_after_its_restart_fails_livez(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    sub = service.subscriber("batch")
    first = await wedge(sub, monkeypatch)

    async def polls_nothing(self: Any, consumer: Any) -> tuple[Any, ...]:
        await asyncio.sleep(0.1)
        return ()

    # Every member this subscriber makes from now on polls nothing, as a client in a bad
    # state would: restarting it in place cannot help.
    monkeypatch.setattr(type(sub), "get_msg", polls_nothing)
    await produce(
        service.runtime.settings.kafka_bootstrap_servers, [service.topics["batch"]], 5, 100
    )

    async def reported() -> httpx.Response | None:
        response = await livez(service.runtime)
        return response if response.status_code == 503 else None

    response = await eventually(reported, "/livez failing", 60)
    assert sub.consumer is not first  # it was restarted in place first
    [line] = response.json()["dead"]
    assert line.startswith(f"consumer {consumer_name(sub)} stuck: no progress on ")
    stuck = REGISTRY.get_sample_value("aduan_consumer_stuck", {"consumer": consumer_name(sub)})
    assert stuck == 1
    # A poll already in flight when get_msg was replaced may still hand over the records of
    # one fetch (a rebalance of the shared group can resume the paused partitions under it);
    # what matters is that the backlog was not drained.
    assert (await service.applied()).get("batch", (0, 0))[0] < 5


async def test_a_consumer_waiting_on_an_outage_is_not_judged(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    watch = service.runtime.consumer_watch
    down = True

    async def ready() -> bool:  # PostgreSQL (say) unreachable, as /health would say
        return not down

    watch._ready = ready
    sub = service.subscriber("one")
    wedged = await wedge(sub, monkeypatch)
    await produce(service.runtime.settings.kafka_bootstrap_servers, [service.topics["one"]], 5, 100)
    await asyncio.sleep(3 * watch.stuck_after_s)
    assert sub.consumer is wedged
    assert (await livez(service.runtime)).status_code == 200
    assert (await service.applied()).get("one") is None

    down = False  # back: the clock starts now, and the wedged client is then replaced

    async def caught_up() -> bool:
        return (await service.applied()).get("one") == (5, 5)

    await eventually(caught_up, "caught up after the outage", 60)


async def test_a_service_started_while_the_broker_is_cut_off_waits_for_it(
    isolated: Isolation,
) -> None:
    """A process (re)started during an outage waits for the broker instead of exiting."""
    proxy = TcpProxy(int(isolated.kafka.rsplit(":", 1)[1]))
    await proxy.start()
    proxy.cut()
    url = isolated.database("kitwait")
    await ensure_database(url)
    runtime = ServiceRuntime(
        ServiceSettings(
            service_name="kitwait",
            environment="test",
            kafka_bootstrap_servers=f"127.0.0.1:{proxy.port}",
            topic_namespace=isolated.namespace,
            database_url=url,
            redis_url=isolated.redis_url,
        ),
        migrations=None,
        outbox=OUTBOX,
    )
    starting = asyncio.create_task(runtime.start())
    try:
        await asyncio.sleep(8)
        assert not starting.done()  # still waiting, not failed
        proxy.restore()
        await asyncio.wait_for(starting, 90)
        assert runtime.started
    finally:
        if starting.done() and not starting.exception():
            await runtime.stop()
        else:
            starting.cancel()
        await proxy.stop()
