"""The public cache's rules (adapters/publiccache.py) with a stand-in for its listening
connection: nothing kept or answered unless the notices are trusted, and nothing kept that
a read may have read before a change (the real notices: tests/integration, "public cache")."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any
from uuid import UUID, uuid4

import pytest
import pytest_asyncio

from aduan_gateway.adapters.publiccache import CHANNEL, MISS, PublicCache


class FakeListen:
    """What the cache uses of an asyncpg connection, driven by the test."""

    def __init__(self) -> None:
        self.on_notice: Callable[..., None] | None = None
        self.on_lost: list[Callable[[Any], None]] = []
        self.terminated = False
        self.pings = 0

    def add_termination_listener(self, callback: Callable[[Any], None]) -> None:
        self.on_lost.append(callback)

    async def add_listener(self, channel: str, callback: Callable[..., None]) -> None:
        assert channel == CHANNEL
        self.on_notice = callback

    async def fetchval(self, _: str) -> int:
        self.pings += 1
        return 1

    def terminate(self) -> None:
        self.terminated = True

    def notify(self, *report_ids: UUID, payload: str | None = None) -> None:
        assert self.on_notice is not None
        text = payload if payload is not None else ",".join(str(r) for r in report_ids)
        self.on_notice(self, 4242, CHANNEL, text)

    def lose(self) -> None:
        for callback in self.on_lost:
            callback(self)


class Harness:
    def __init__(self) -> None:
        self.connections: list[FakeListen] = []
        self.refuse = False

    async def connect(self) -> Any:
        if self.refuse:
            raise ConnectionRefusedError
        conn = FakeListen()
        self.connections.append(conn)
        return conn


@pytest_asyncio.fixture
async def harness() -> AsyncIterator[Harness]:
    yield Harness()


async def _started(harness: Harness, **kwargs: Any) -> PublicCache:
    cache = PublicCache(harness.connect, **kwargs)
    cache.start()
    assert await cache.wait_listening(2)
    return cache


async def test_nothing_is_kept_or_answered_before_the_notices_are_heard(harness: Harness) -> None:
    cache = PublicCache(harness.connect)
    rid = uuid4()
    cache.keep_report(cache.begin(), rid, b"{}")
    cache.keep_page(cache.begin(), 20, 0, b"page")
    assert cache.report(rid) is MISS and cache.page(20, 0) is None
    cache.start()
    assert await cache.wait_listening(2)
    # What was offered before listening is not there; what is read now is kept.
    assert cache.report(rid) is MISS
    began = cache.begin()
    cache.keep_report(began, rid, b'{"a":1}')
    cache.keep_report(began, other := uuid4(), None)  # "not public" is an answer too
    cache.keep_page(began, 20, 0, b"page")
    assert cache.report(rid) == b'{"a":1}' and cache.report(other) is None
    assert cache.page(20, 0) == b"page" and cache.page(20, 20) is None
    assert cache.hits == 3
    await cache.stop()
    assert cache.report(rid) is MISS and not cache.live


async def test_a_notice_evicts_its_reports_and_every_page(harness: Harness) -> None:
    cache = await _started(harness)
    conn = harness.connections[0]
    a, b = uuid4(), uuid4()
    began = cache.begin()
    cache.keep_report(began, a, b"a")
    cache.keep_report(began, b, b"b")
    cache.keep_page(began, 20, 0, b"page")
    conn.notify(a)
    assert cache.report(a) is MISS and cache.report(b) == b"b"
    assert cache.page(20, 0) is None
    # Several ids in one notice (a statement that touched many rows).
    c = uuid4()
    began = cache.begin()
    cache.keep_report(began, c, b"c")
    conn.notify(b, c)
    assert cache.report(b) is MISS and cache.report(c) is MISS
    await cache.stop()


async def test_a_read_that_began_before_a_notice_keeps_nothing_of_it(harness: Harness) -> None:
    """The race the positions are for: a read fetched the row, the change committed and
    its notice arrived, then the read offers what it fetched (the old view)."""
    cache = await _started(harness)
    conn = harness.connections[0]
    changed, untouched = uuid4(), uuid4()
    began = cache.begin()
    conn.notify(changed)
    cache.keep_report(began, changed, b"old")
    cache.keep_report(began, untouched, b"fine")
    cache.keep_page(began, 20, 0, b"old page")  # any notice: a page may have moved
    assert cache.report(changed) is MISS
    assert cache.report(untouched) == b"fine"
    assert cache.page(20, 0) is None
    # A read that began after the notice keeps what it read.
    began = cache.begin()
    cache.keep_report(began, changed, b"new")
    cache.keep_page(began, 20, 0, b"new page")
    assert cache.report(changed) == b"new" and cache.page(20, 0) == b"new page"
    # The process's own writers say so right after their commit (None: any report).
    began = cache.begin()
    cache.changed(None)
    cache.keep_report(began, untouched, b"stale")
    assert cache.report(changed) is MISS and cache.report(untouched) is MISS
    await cache.stop()


async def test_the_least_recently_read_leave_first(harness: Harness) -> None:
    cache = await _started(harness, max_reports=2)
    a, b, c = uuid4(), uuid4(), uuid4()
    cache.keep_report(cache.begin(), a, b"a")
    cache.keep_report(cache.begin(), b, b"b")
    assert cache.report(a) == b"a"  # a is now the most recent
    cache.keep_report(cache.begin(), c, b"c")
    assert cache.report(b) is MISS
    assert cache.report(a) == b"a" and cache.report(c) == b"c"
    await cache.stop()


async def test_a_lost_connection_drops_everything_until_it_listens_again(
    harness: Harness,
) -> None:
    cache = await _started(harness)
    first = harness.connections[0]
    rid = uuid4()
    cache.keep_report(cache.begin(), rid, b"kept")
    began_before = cache.begin()
    harness.refuse = True  # the database is away for a moment
    first.lose()
    # From the loss on nothing is answered from memory or kept: notices may be missed.
    assert not cache.live
    assert cache.report(rid) is MISS
    cache.keep_report(cache.begin(), rid, b"while away")
    assert cache.report(rid) is MISS
    harness.refuse = False
    assert await cache.wait_listening(5)
    assert len(harness.connections) == 2 and first.terminated
    # Reads that began before it listened again keep nothing (they may have read a row
    # whose notice was missed); reads from now on are kept.
    cache.keep_report(began_before, rid, b"old")
    assert cache.report(rid) is MISS
    cache.keep_report(cache.begin(), rid, b"fresh")
    assert cache.report(rid) == b"fresh"
    await cache.stop()


async def test_a_connection_that_hangs_counts_as_lost(harness: Harness) -> None:
    class Hanging(FakeListen):
        async def fetchval(self, _: str) -> int:
            await asyncio.sleep(3600)
            return 1

    made: list[FakeListen] = []

    async def connect() -> Any:
        conn = Hanging() if not made else FakeListen()
        made.append(conn)
        return conn

    cache = PublicCache(connect, check_s=0.05)
    cache.start()
    assert await cache.wait_listening(2)
    rid = uuid4()
    cache.keep_report(cache.begin(), rid, b"kept")
    for _ in range(100):
        if len(made) == 2 and cache.live:
            break
        await asyncio.sleep(0.05)
    assert made[0].terminated and len(made) == 2 and cache.live
    assert cache.report(rid) is MISS
    await cache.stop()


async def test_an_unreadable_notice_drops_everything(harness: Harness) -> None:
    cache = await _started(harness)
    rid = uuid4()
    began = cache.begin()
    cache.keep_report(began, rid, b"kept")
    harness.connections[0].notify(payload="not-an-id")
    assert cache.report(rid) is MISS
    cache.keep_report(began, rid, b"stale")
    assert cache.report(rid) is MISS
    await cache.stop()


@pytest.mark.parametrize("size", [0])
async def test_size_zero_turns_it_off(harness: Harness, size: int) -> None:
    cache = PublicCache(harness.connect, max_reports=size)
    cache.start()
    assert not await cache.wait_listening(0.1)
    assert harness.connections == []
    cache.keep_report(cache.begin(), rid := uuid4(), b"x")
    assert cache.report(rid) is MISS
    await cache.stop()
