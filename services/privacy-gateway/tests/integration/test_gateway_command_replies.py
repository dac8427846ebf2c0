"""The command bus's replies client on a real broker: it survives the aiokafka failure a
full chaos run found (a fetch loop ended for good by uvloop's RuntimeError on a closed
connection), so officers' actions do not time out until the gateway is restarted."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import MetaData

from aduan_contracts import encode
from aduan_contracts.events import CommandAccepted
from aduan_contracts.topics import COMMAND_REPLIES
from aduan_gateway.adapters.tables import OUTBOX
from aduan_gateway.service.commands import CommandBus
from aduan_kit.messaging import ensure_topics
from aduan_testing.helpers import eventually
from aduan_testing.kafka import break_requests
from aduan_testing.kitruntime import runtime_on
from aduan_testing.plugin import Isolation

pytestmark = pytest.mark.integration


def accepted(command_id: uuid.UUID) -> CommandAccepted:
    return CommandAccepted(
        command_id=command_id, report_id=uuid.uuid4(), status="dispatched", version=2
    )


async def test_replies_are_read_after_the_clients_fetch_loop_died(
    isolated: Isolation, monkeypatch: pytest.MonkeyPatch
) -> None:
    await ensure_topics(isolated.kafka, isolated.namespace, [COMMAND_REPLIES])
    runtime = await runtime_on(isolated, "gwbus", MetaData(), OUTBOX)
    bus = CommandBus(runtime, timeout_s=5)
    await bus.start()
    producer = AIOKafkaProducer(bootstrap_servers=isolated.kafka)
    await producer.start()
    loop = asyncio.get_running_loop()
    try:
        consumer = bus._consumer
        assert consumer is not None
        # A reply sent as the loop dies, before the client is replaced (it is, within the
        # replies reader's next half-second poll), must not be skipped: the new client goes
        # on from the old one's position, not from the end.
        first, second = uuid.uuid4(), uuid.uuid4()
        futures = {c: loop.create_future() for c in (first, second)}
        bus._pending.update(futures)
        break_requests(monkeypatch, consumer._client, "FetchRequest")
        await producer.send_and_wait(bus.replies_topic, encode(accepted(first)))

        async def replaced() -> bool:
            return bus._consumer is not consumer

        await eventually(replaced, "the replies client replaced", 30)
        await producer.send_and_wait(bus.replies_topic, encode(accepted(second)))
        got = await asyncio.wait_for(asyncio.gather(*futures.values()), 30)
        assert [r.command_id for r in got] == [first, second]
        assert consumer._closed  # the dead client was closed
    finally:
        await producer.stop()
        await bus.stop()
