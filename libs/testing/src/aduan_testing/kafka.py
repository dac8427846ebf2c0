"""Reading what services published, in tests (one helper instead of a copy per suite)."""

from __future__ import annotations

import asyncio
from typing import Any

from aiokafka import AIOKafkaConsumer

__all__ = ["read_topic"]


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
