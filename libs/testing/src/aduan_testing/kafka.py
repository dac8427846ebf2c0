"""Kafka in tests: reading what services published, and breaking a client the way a broker
cut under uvloop does (one helper each instead of a copy per suite)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer

__all__ = ["break_requests", "read_topic"]


async def read_topic(
    bootstrap: str,
    topic: str,
    *,
    want: int | None = None,
    timeout: float = 20.0,
    settle: float | None = None,
) -> list[Any]:
    """The records on `topic` from its beginning (aiokafka ConsumerRecords, in order per
    partition), read without a consumer group.

    Stops at whichever comes first: `want` records read; nothing new for `settle` seconds
    (to see everything sent so far, duplicates included); `timeout` seconds in all. With
    neither `want` nor `settle` it reads for the whole `timeout`, so that a record sent
    twice would be seen twice.
    """
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    got: list[Any] = []
    loop = asyncio.get_running_loop()
    try:
        deadline = loop.time() + timeout
        quiet_since = loop.time()
        while loop.time() < deadline and (want is None or len(got) < want):
            fetched = await consumer.getmany(timeout_ms=300)
            for records in fetched.values():
                got.extend(records)
            if fetched:
                quiet_since = loop.time()
            elif settle is not None and loop.time() - quiet_since >= settle:
                break
    finally:
        await consumer.stop()
    return got


def break_requests(monkeypatch: Any, client: Any, request: str) -> Callable[[], None]:
    """Make aiokafka `client`'s requests of kind `request` ("FetchRequest", "ProduceRequest")
    fail as a write to a connection a broker cut has closed fails under uvloop: with a
    `RuntimeError`, which aiokafka handles only as an `OSError`, so the loop sending them
    ends for good (seen in a full chaos run). Returns what mends the connection (the loop
    stays dead)."""
    send = client.send

    async def closed_transport(node_id: Any, req: Any, *args: Any, **kwargs: Any) -> Any:
        if type(req).__name__.startswith(request):
            raise RuntimeError(
                "unable to perform operation on <TCPTransport closed=True reading=False>; "
                "the handler is closed"
            )
        return await send(node_id, req, *args, **kwargs)

    monkeypatch.setattr(client, "send", closed_transport)
    return lambda: monkeypatch.setattr(client, "send", send)
