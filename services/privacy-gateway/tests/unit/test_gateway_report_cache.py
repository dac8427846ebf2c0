"""The report cache's rules (adapters/reportcache.py) with a stand-in for its listening
connection: nothing kept or answered unless the notices are trusted, and nothing kept that
a read may have read before a change (the real notices: tests/integration, "public cache")."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any
from uuid import UUID, uuid4

import pytest
import pytest_asyncio
from prometheus_client import REGISTRY

from aduan_gateway.adapters.reportcache import CHANNEL, MISS, ReportCache


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


async def _started(harness: Harness, **kwargs: Any) -> ReportCache:
    cache = ReportCache(harness.connect, **kwargs)
    cache.start()
    assert await cache.wait_listening(2)
    return cache


async def test_nothing_is_kept_or_answered_before_the_notices_are_heard(harness: Harness) -> None:
    cache = ReportCache(harness.connect)
    rid = uuid4()
    cache.keep_public(cache.begin(), rid, b"{}")
    cache.keep_page(cache.begin(), 20, 0, b"page")
    assert cache.public(rid) is MISS and cache.page(20, 0) is None
    cache.start()
    assert await cache.wait_listening(2)
    # What was offered before listening is not there; what is read now is kept.
    assert cache.public(rid) is MISS
    began = cache.begin()
    cache.keep_public(began, rid, b'{"a":1}')
    cache.keep_public(began, other := uuid4(), None)  # "not public" is an answer too
    cache.keep_page(began, 20, 0, b"page")
    assert cache.public(rid) == b'{"a":1}' and cache.public(other) is None
    assert cache.page(20, 0) == b"page" and cache.page(20, 20) is None
    assert cache.hits == 3
    await cache.stop()
    assert cache.public(rid) is MISS and not cache.live


async def test_a_notice_evicts_its_reports_and_every_page(harness: Harness) -> None:
    cache = await _started(harness)
    conn = harness.connections[0]
    a, b = uuid4(), uuid4()
    began = cache.begin()
    cache.keep_public(began, a, b"a")
    cache.keep_public(began, b, b"b")
    cache.keep_page(began, 20, 0, b"page")
    conn.notify(a)
    assert cache.public(a) is MISS and cache.public(b) == b"b"
    assert cache.page(20, 0) is None
    # Several ids in one notice (a statement that touched many rows).
    c = uuid4()
    began = cache.begin()
    cache.keep_public(began, c, b"c")
    conn.notify(b, c)
    assert cache.public(b) is MISS and cache.public(c) is MISS
    await cache.stop()


async def test_a_read_that_began_before_a_notice_keeps_nothing_of_it(harness: Harness) -> None:
    """The race the positions are for: a read fetched the row, the change committed and
    its notice arrived, then the read offers what it fetched (the old view)."""
    cache = await _started(harness)
    conn = harness.connections[0]
    changed, untouched = uuid4(), uuid4()
    began = cache.begin()
    conn.notify(changed)
    cache.keep_public(began, changed, b"old")
    cache.keep_public(began, untouched, b"fine")
    cache.keep_page(began, 20, 0, b"old page")  # any notice: a page may have moved
    assert cache.public(changed) is MISS
    assert cache.public(untouched) == b"fine"
    assert cache.page(20, 0) is None
    # A read that began after the notice keeps what it read.
    began = cache.begin()
    cache.keep_public(began, changed, b"new")
    cache.keep_page(began, 20, 0, b"new page")
    assert cache.public(changed) == b"new" and cache.page(20, 0) == b"new page"
    # The process's own writers say so right after their commit (None: any report).
    began = cache.begin()
    cache.changed(None)
    cache.keep_public(began, untouched, b"stale")
    assert cache.public(changed) is MISS and cache.public(untouched) is MISS
    await cache.stop()


async def test_the_least_recently_read_leave_first(harness: Harness) -> None:
    cache = await _started(harness, max_public=2)
    a, b, c = uuid4(), uuid4(), uuid4()
    cache.keep_public(cache.begin(), a, b"a")
    cache.keep_public(cache.begin(), b, b"b")
    assert cache.public(a) == b"a"  # a is now the most recent
    cache.keep_public(cache.begin(), c, b"c")
    assert cache.public(b) is MISS
    assert cache.public(a) == b"a" and cache.public(c) == b"c"
    await cache.stop()


async def test_a_lost_connection_drops_everything_until_it_listens_again(
    harness: Harness,
) -> None:
    cache = await _started(harness)
    first = harness.connections[0]
    rid = uuid4()
    cache.keep_public(cache.begin(), rid, b"kept")
    began_before = cache.begin()
    harness.refuse = True  # the database is away for a moment
    first.lose()
    # From the loss on nothing is answered from memory or kept: notices may be missed.
    assert not cache.live
    assert cache.public(rid) is MISS
    cache.keep_public(cache.begin(), rid, b"while away")
    assert cache.public(rid) is MISS
    harness.refuse = False
    assert await cache.wait_listening(5)
    assert len(harness.connections) == 2 and first.terminated
    # Reads that began before it listened again keep nothing (they may have read a row
    # whose notice was missed); reads from now on are kept.
    cache.keep_public(began_before, rid, b"old")
    assert cache.public(rid) is MISS
    cache.keep_public(cache.begin(), rid, b"fresh")
    assert cache.public(rid) == b"fresh"
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

    cache = ReportCache(connect, check_s=0.05)
    cache.start()
    assert await cache.wait_listening(2)
    rid = uuid4()
    cache.keep_public(cache.begin(), rid, b"kept")
    for _ in range(100):
        if len(made) == 2 and cache.live:
            break
        await asyncio.sleep(0.05)
    assert made[0].terminated and len(made) == 2 and cache.live
    assert cache.public(rid) is MISS
    await cache.stop()


async def test_an_unreadable_notice_drops_everything(harness: Harness) -> None:
    cache = await _started(harness)
    rid = uuid4()
    began = cache.begin()
    cache.keep_public(began, rid, b"kept")
    harness.connections[0].notify(payload="not-an-id")
    assert cache.public(rid) is MISS
    cache.keep_public(began, rid, b"stale")
    assert cache.public(rid) is MISS
    await cache.stop()


@pytest.mark.parametrize("size", [0])
async def test_size_zero_turns_it_off(harness: Harness, size: int) -> None:
    cache = ReportCache(harness.connect, max_public=size, max_officer=size)
    cache.start()
    assert not await cache.wait_listening(0.1)
    assert harness.connections == []
    cache.keep_public(cache.begin(), rid := uuid4(), b"x")
    assert cache.public(rid) is MISS
    await cache.stop()


async def test_officer_rows_are_kept_and_evicted_with_their_report(harness: Harness) -> None:
    cache = await _started(harness, max_officer=2)
    conn = harness.connections[0]
    a, b, c = uuid4(), uuid4(), uuid4()
    began = cache.begin()
    cache.keep_officer_row(began, a, {"report_id": a})
    cache.keep_officer_row(began, b, None)  # no such report: a 404 too
    cache.keep_public(began, a, b"public a")
    assert cache.officer_row(a) == {"report_id": a} and cache.officer_row(b) is None
    conn.notify(a)
    # One notice: the report's public answer and its officer row both go.
    assert cache.officer_row(a) is MISS and cache.public(a) is MISS
    assert cache.officer_row(b) is None
    cache.keep_officer_row(cache.begin(), a, {"report_id": a})
    cache.keep_officer_row(cache.begin(), c, {"report_id": c})
    assert cache.officer_row(b) is MISS  # the least recently read of three, bound two
    # A read that began before the notice keeps nothing, as for public answers.
    began = cache.begin()
    conn.notify(c)
    cache.keep_officer_row(began, c, {"report_id": c, "stale": True})
    assert cache.officer_row(c) is MISS
    await cache.stop()


def _metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(f"aduan_gateway_report_cache_{name}", labels) or 0.0


async def test_queue_pages_are_kept_until_any_change(harness: Harness) -> None:
    """An officers' queue page of ids: any notice may move a report into or out of it,
    so any notice drops every page, and a read that began before one keeps nothing."""
    cache = await _started(harness, max_queue_pages=2)
    conn = harness.connections[0]
    ids = [uuid4(), uuid4()]
    dbm, due = (20, 0, None, "dbm", "newest"), (20, 0, None, "dbm", "due")
    hits, notices = _metric("hits_total", kept="queue_page"), _metric("notices_total")
    cache.keep_queue_page(cache.begin(), dbm, ids)
    assert cache.queue_page(dbm) == ids and cache.queue_page(due) is None
    assert cache.hits == 1
    conn.notify(uuid4())  # a report in no kept page: every page goes all the same
    # What an operator sizing it sees.
    assert _metric("hits_total", kept="queue_page") == hits + 1
    assert _metric("notices_total") == notices + 1
    assert cache.queue_page(dbm) is None
    began = cache.begin()
    conn.notify(uuid4())
    cache.keep_queue_page(began, dbm, ids)  # read before that change: not kept
    assert cache.queue_page(dbm) is None
    began = cache.begin()
    cache.changed(None)  # the process's own writer, after its commit
    cache.keep_queue_page(began, dbm, ids)
    assert cache.queue_page(dbm) is None
    # Bounded: a third page empties the two kept.
    for key in (dbm, due, (20, 20, None, "dbm", "newest")):
        cache.keep_queue_page(cache.begin(), key, ids)
    assert cache.queue_page(dbm) is None and cache.queue_page((20, 20, None, "dbm", "newest"))
    # Nothing kept while the notices are away.
    conn.lose()
    assert cache.queue_page((20, 20, None, "dbm", "newest")) is None
    cache.keep_queue_page(cache.begin(), dbm, ids)
    assert cache.queue_page(dbm) is None
    await cache.stop()


async def test_a_stop_right_after_a_loss_ends_the_listener(harness: Harness) -> None:
    """The listener's wait ends at the loss and the stop's cancellation comes in the same
    turn of the loop: the cancellation must end it (Python 3.11's `wait_for` returned
    the wait's result instead, and the loop, which has no other exit, ran on)."""
    cache = await _started(harness, check_s=3600)
    harness.connections[0].lose()
    await asyncio.wait_for(cache.stop(), 5)
    assert not cache.live


async def test_queue_pages_are_off_with_the_officer_rows(harness: Harness) -> None:
    cache = await _started(harness, max_officer=0)
    key = (20, 0, None, None, "newest")
    cache.keep_queue_page(cache.begin(), key, [uuid4()])
    assert cache.queue_page(key) is None
    await cache.stop()


async def test_forgetting_old_evictions_keeps_what_is_current(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("aduan_gateway.adapters.reportcache._MAX_EVICTED", 3)
    cache = await _started(harness)
    conn = harness.connections[0]
    kept = uuid4()
    cache.keep_public(cache.begin(), kept, b"kept")
    began = cache.begin()
    conn.notify(uuid4(), uuid4(), uuid4(), uuid4())  # one more than it remembers
    # What is kept stays (it is current); a read under way keeps nothing of any report,
    # since which reports changed during it is forgotten.
    assert cache.public(kept) == b"kept"
    cache.keep_public(began, other := uuid4(), b"other")
    assert cache.public(other) is MISS
    cache.keep_public(cache.begin(), other, b"other")
    assert cache.public(other) == b"other"
    await cache.stop()
