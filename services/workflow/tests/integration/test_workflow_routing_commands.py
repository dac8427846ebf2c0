"""Routing commands from the gateway's category catalogue, on real Kafka and PostgreSQL:
applied once, in order, and only from an administrator."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from pydantic import BaseModel
from sqlalchemy import select

from aduan_contracts.commands import RemoveRoutingRule, SetRoutingRule
from aduan_contracts.enums import Role
from aduan_contracts.serialization import encode
from aduan_contracts.topics import ROUTING_COMMANDS
from aduan_contracts.values import Actor
from aduan_kit.runtime import ServiceRuntime
from aduan_testing.plugin import Isolation
from aduan_workflow.bootstrap import build
from aduan_workflow.config import Settings
from aduan_workflow.handlers import ROUTING_CONSUMER
from aduan_workflow.tables import INBOX, ROUTING_RULES

pytestmark = pytest.mark.integration

ADMIN = Actor(id="adm-1", role=Role.ADMINISTRATOR)


@pytest_asyncio.fixture
async def running(isolated: Isolation) -> AsyncIterator[tuple[ServiceRuntime, AIOKafkaProducer]]:
    settings = Settings(
        kafka_bootstrap_servers=isolated.kafka,
        database_url=isolated.database("workflow"),
        redis_url=isolated.redis_url,
        redis_prefix=isolated.redis_prefix,
        topic_namespace=isolated.namespace,
        environment="test",
    )
    _, runtime = build(settings)
    await runtime.start()
    producer = AIOKafkaProducer(bootstrap_servers=isolated.kafka)
    await producer.start()
    try:
        yield runtime, producer
    finally:
        await producer.stop()
        await runtime.stop()


async def test_routing_commands_applied_once_and_only_from_an_administrator(
    running: tuple[ServiceRuntime, AIOKafkaProducer],
) -> None:
    runtime, producer = running
    topic = runtime.topic(ROUTING_COMMANDS.name)

    async def send(command: BaseModel, category: str) -> None:
        await producer.send_and_wait(topic, encode(command), key=category.encode())

    async def rules() -> dict[str, str]:
        async with runtime.sessions() as session:
            rows = await session.execute(select(ROUTING_RULES))
            return {r.category: r.agency_id for r in rows}

    async def handled(count: int) -> None:
        deadline = time.monotonic() + 30
        while True:
            async with runtime.sessions() as session:
                seen = len(
                    (
                        await session.execute(
                            select(INBOX.c.event_id).where(INBOX.c.consumer == ROUTING_CONSUMER)
                        )
                    ).all()
                )
            if seen >= count:
                return
            assert time.monotonic() < deadline, f"{seen} of {count} routing commands handled"
            await asyncio.sleep(0.1)

    first = SetRoutingRule(actor=ADMIN, category="banjir", agency_id="dinas-sda")
    await send(first, "banjir")
    await send(SetRoutingRule(actor=ADMIN, category="sampah", agency_id="dlh"), "sampah")
    # A forged command from anyone but an administrator is claimed and never applied.
    officer = Actor(id="off-1", role=Role.AGENCY_OFFICER, agency_id="dlh")
    await send(SetRoutingRule(actor=officer, category="parkir", agency_id="dlh"), "parkir")
    await send(SetRoutingRule(actor=ADMIN, category="banjir", agency_id="dinas-pu"), "banjir")
    await send(RemoveRoutingRule(actor=ADMIN, category="sampah"), "sampah")
    await handled(5)
    assert await rules() == {"banjir": "dinas-pu"}

    # Redelivery of an old command changes nothing (the inbox remembers it).
    await send(first, "banjir")
    # A marker on the same key (so the same partition, after it): once the marker is
    # handled, the redelivered command has been too.
    await send(SetRoutingRule(actor=ADMIN, category="jalan", agency_id="dbm"), "banjir")
    await handled(6)
    assert await rules() == {"banjir": "dinas-pu", "jalan": "dbm"}
