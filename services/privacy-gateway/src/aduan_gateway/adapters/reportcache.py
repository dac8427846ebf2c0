"""What a gateway process read of reports, kept in its memory (issue 18).

A citizen's read of a stored view (adapters/publicviews.py) was one prepared statement,
and that round trip (the socket writes, the protocol, the pool's checkout) was most of
the read's CPU: `bench.gateway_mix --kinds public-get` put asyncpg and SQLAlchemy at two
thirds of the gateway's samples; an officer's read spent a fifth of its CPU reading the
row its view is made from. What the public sees of a report, and the row an officer's
view is made from, change only when the report's row, its timeline, its escalations or
its reporter's key change, and PostgreSQL announces every such change (migration 0023: a
notice with the report ids on `aduan_reports_changed`, sent at commit to every listening
connection), so each process keeps what it read and throws a report out when its notice
arrives:

- The public answer for a report (its view's JSON, or "not public": private, hidden,
  rejected and unknown ids are all a 404), at most `max_public`, least recently read out
  first.
- The row an officer's view of a report is made from (`readmodel.load_officer_row`, None
  for an unknown id), at most `max_officer`. Who may read it is still decided on every
  read (the role, the scope, a photo grant asked each time: service/officerviews.py), and
  every read is still logged before it is given out.
- The citizens' unfiltered list pages, thrown out by any notice (a new, changed or hidden
  report can move every page).
- The ids of the officers' queue pages (one status or none, in one scope and order:
  `readmodel.queue_page_key`), thrown out by any notice likewise: the page's statement
  reads only `reports` and `escalations`, whose every change is announced. The views are
  still made per caller from the rows above, and every read is still logged.

Only while the notices can be trusted: the listening connection is checked every
`check_s`, and from the moment it is lost until it listens again nothing is kept or
answered from memory (a notice sent meanwhile would be missed); everything kept before is
dropped. A read that began before a notice for its report (or, for a page, before any
notice) does not keep what it read: it may have read the row before the change committed
(`begin` hands out the position reads compare against).

A change is thus seen by every process within one notice's delivery after its commit
(milliseconds; the process that made the change evicts at once, `changed`), as a read
that started just before the commit would have seen it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import Any, TypeVar
from uuid import UUID

import asyncpg
from prometheus_client import Counter, Gauge

from aduan_kit.logging import get_logger
from aduan_kit.tasks import cancel_and_wait

__all__ = ["CHANNEL", "MISS", "ReportCache"]

log = get_logger(__name__)

CHANNEL = "aduan_reports_changed"  # migration 0023
_V = TypeVar("_V")
# "Not in memory", as distinct from a kept None ("not public").
MISS: Any = object()
# Evictions remembered by report, for reads that began before them; beyond this many they
# are forgotten and reads under way keep nothing (only a lost fill; what is kept stays).
_MAX_EVICTED = 50_000
# For operators: 0 while the process answers every public read from the database.
LISTENING = Gauge(
    "aduan_gateway_report_cache_listening",
    "1 while this process's report cache hears the reports' change notices",
)
# For sizing it (ADUAN_GATEWAY_REPORT_CACHE_*): what was answered from memory, by kind,
# against the reads (the route latency histograms count them), and how often changes
# emptied the pages.
HITS = Counter(
    "aduan_gateway_report_cache_hits_total",
    "Reads answered from this process's memory, by what was kept",
    ["kept"],
)
NOTICES = Counter(
    "aduan_gateway_report_cache_notices_total",
    "Change notices this process heard (each empties every kept page)",
)
_PUBLIC_HIT = HITS.labels("public")
_OFFICER_HIT = HITS.labels("officer_row")
_PAGE_HIT = HITS.labels("public_page")
_QUEUE_HIT = HITS.labels("queue_page")


class ReportCache:
    def __init__(
        self,
        connect: Callable[[], Awaitable[asyncpg.Connection]],
        max_public: int = 10_000,
        max_officer: int = 4_096,
        max_pages: int = 64,
        check_s: float = 5.0,
        max_queue_pages: int = 1024,
    ) -> None:
        self._connect = connect
        self._max_public = max_public
        self._max_officer = max_officer
        self._max_pages = max_pages
        self._check_s = check_s
        self._public: OrderedDict[UUID, bytes | None] = OrderedDict()
        self._officer: OrderedDict[UUID, Any] = OrderedDict()
        self._pages: dict[tuple[int, int], bytes] = {}
        self._max_queue_pages = max_queue_pages
        self._queue_pages: dict[Hashable, list[UUID]] = {}
        # Positions: every notice (and every loss or gain of the connection) moves `_seq`;
        # `_evicted` holds the position of each report's last notice; reads that began
        # before `_floor` keep nothing.
        self._seq = 0
        self._floor = 0
        self._evicted: dict[UUID, int] = {}
        self.live = False
        self._task: asyncio.Task[None] | None = None
        self._listening = asyncio.Event()
        self.hits = 0
        self.notices = 0

    @property
    def enabled(self) -> bool:
        return self._max_public > 0 or self._max_officer > 0

    # --- reads ------------------------------------------------------------------------

    def begin(self) -> int:
        """The position to hand back with what a read found."""
        return self._seq

    def public(self, report_id: UUID) -> Any:
        """The kept public answer: the view's JSON, None (not public), or `MISS`."""
        return self._get(self._public, report_id, _PUBLIC_HIT)

    def keep_public(self, began: int, report_id: UUID, answer: bytes | None) -> None:
        self._keep(self._public, self._max_public, began, report_id, answer)

    def officer_row(self, report_id: UUID) -> Any:
        """The kept row of an officer's view: the row, None (no such report), or `MISS`."""
        return self._get(self._officer, report_id, _OFFICER_HIT)

    def keep_officer_row(self, began: int, report_id: UUID, row: Any) -> None:
        self._keep(self._officer, self._max_officer, began, report_id, row)

    def _get(self, kept: OrderedDict[UUID, Any], report_id: UUID, counted: Any) -> Any:
        if not self.live:
            return MISS
        found = kept.get(report_id, MISS)
        if found is not MISS:
            kept.move_to_end(report_id)
            self.hits += 1
            counted.inc()
        return found

    def _keep(
        self, kept: OrderedDict[UUID, Any], bound: int, began: int, report_id: UUID, value: Any
    ) -> None:
        if (
            not self.live
            or bound <= 0
            or began < self._floor
            or self._evicted.get(report_id, 0) > began
        ):
            return
        kept[report_id] = value
        kept.move_to_end(report_id)
        while len(kept) > bound:
            kept.popitem(last=False)

    def page(self, limit: int, offset: int) -> bytes | None:
        return self._page(self._pages, (limit, offset), _PAGE_HIT)

    def keep_page(self, began: int, limit: int, offset: int, body: bytes) -> None:
        self._keep_page(
            self._pages, self._max_pages, self._max_public > 0, began, (limit, offset), body
        )

    def queue_page(self, key: Hashable) -> list[UUID] | None:
        """The kept ids of an officers' queue page (`readmodel.queue_page_key`), or None."""
        return self._page(self._queue_pages, key, _QUEUE_HIT)

    def keep_queue_page(self, began: int, key: Hashable, ids: list[UUID]) -> None:
        # Off with the officer rows.
        self._keep_page(
            self._queue_pages, self._max_queue_pages, self._max_officer > 0, began, key, ids
        )

    def _page(self, pages: dict[Any, _V], key: Hashable, counted: Any) -> _V | None:
        if not self.live:
            return None
        found = pages.get(key)
        if found is not None:
            self.hits += 1
            counted.inc()
        return found

    def _keep_page(
        self, pages: dict[Any, _V], bound: int, on: bool, began: int, key: Hashable, value: _V
    ) -> None:
        # Only if no notice at all came since the read began: any change may move a report
        # into, out of or within any page. Bounded crudely: a full store is emptied.
        if not self.live or not on or began != self._seq:
            return
        if len(pages) >= bound:
            pages.clear()
        pages[key] = value

    # --- changes ----------------------------------------------------------------------

    def changed(self, report_ids: Iterable[UUID] | None) -> None:
        """These reports changed (None: any may have): out of memory, and reads under way
        keep nothing of them. Called by the notices, and by this process's own writers
        right after their commit (their notice comes a moment later)."""
        self._seq += 1
        self._pages.clear()
        self._queue_pages.clear()
        if report_ids is None:
            self._drop_all()
            return
        for report_id in report_ids:
            self._public.pop(report_id, None)
            self._officer.pop(report_id, None)
            self._evicted[report_id] = self._seq
        if len(self._evicted) > _MAX_EVICTED:
            # A few minutes of a busy city's changes: what is kept is current (every
            # eviction was applied); only reads under way lose their fill.
            self._evicted.clear()
            self._floor = self._seq

    def _drop_all(self) -> None:
        self._public.clear()
        self._officer.clear()
        self._pages.clear()
        self._queue_pages.clear()
        self._evicted.clear()
        self._floor = self._seq

    def _notice(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        self.notices += 1
        NOTICES.inc()
        try:
            ids = [UUID(part) for part in payload.split(",")]
        except ValueError:
            log.warning("unreadable reports-changed notice; everything kept dropped")
            self.changed(None)
            return
        self.changed(ids)

    def _set_live(self, live: bool) -> None:
        # Either way nothing read before now may be kept: on a loss, notices may be missed
        # from here; on a gain, they may have been missed until here.
        self._seq += 1
        self._drop_all()
        self.live = live
        LISTENING.set(1 if live else 0)
        if live:
            self._listening.set()
        else:
            self._listening.clear()

    # --- the listening connection ---------------------------------------------------------

    def _lost(self, lost: asyncio.Event) -> None:
        # At once, not when the listening task next runs: a read in between must not be
        # answered from memory.
        self._set_live(False)
        lost.set()

    def start(self) -> None:
        if self.enabled:
            self._task = asyncio.create_task(self._listen(), name="report-cache-notices")

    async def wait_listening(self, within_s: float) -> bool:
        """Whether the notices are trusted within `within_s` seconds (tests, start-up)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._listening.wait(), within_s)
        return self.live

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)
        self._set_live(False)

    async def _listen(self) -> None:
        backoff = 0.5
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await self._connect()
                lost = asyncio.Event()
                conn.add_termination_listener(lambda _c, lost=lost: self._lost(lost))
                await conn.add_listener(CHANNEL, self._notice)
                self._set_live(True)
                backoff = 0.5
                while not lost.is_set():
                    # `asyncio.timeout`, not `wait_for`: on Python 3.11 a `wait_for` whose
                    # wait had just ended returns instead of raising the task's
                    # cancellation, and this loop, which has no other way out, then kept
                    # `stop()` waiting forever (a loss right before a shutdown did it).
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self._check_s):
                            await lost.wait()
                    if not lost.is_set():
                        # A connection that hangs without closing counts as lost too.
                        async with asyncio.timeout(self._check_s):
                            await conn.fetchval("SELECT 1")
                log.warning("report cache stopped: its notices' connection was lost")
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("report cache stopped; retrying", error=type(exc).__name__)
            finally:
                self._set_live(False)
                if conn is not None:
                    conn.terminate()
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 5.0)
