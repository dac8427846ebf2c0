"""Public views stored as the JSON the public is answered with (issue 18).

A citizen's list of 20 reports built 20 records and their timelines from rows, 20 pydantic
views, and encoded them, for every request: the public list and report were more than half
of the read mix and most of its gateway CPU (`bench/gateway_mix.py`). A report's public view
is a function of its row and its timeline only, so it is stored on the row once made
(`reports.public_view`) and answered as stored while neither changes:

- The projector stores the view it made with each status it writes (the view the portal's
  event is made from, of the state written: adapters/projection_pg.py, migration 0024), so
  a report's view is usually there before anyone reads it.
- A read takes the stored JSON when its format is this code's (`VIEW_FORMAT`); otherwise
  (another writer changed the row, an older step joined its timeline, a new format) it
  builds the view as before, answers with it, and offers it to `ViewFills`, which stores a
  batch of them in one transaction, off the request's path.
- The database empties the stored view whenever the row or its timeline changes (triggers,
  migration 0020), whoever changes it: the projector, moderation, an erasure, a migration.
  A timeline change gives its report a new row version too, unless the same transaction
  already wrote the row (migration 0021: the projector's status upsert comes first).
- A fill stores a view only if the row is still the version the view was built from
  (`xmin`, read with it): a view built before a change committed is never stored after it.
  Rows a writer holds are skipped, not waited for (it is changing them anyway).

Which reports the public sees is still decided by each query's conditions (`public_page`,
`public_conditions`) on the row's current columns, so a hidden or rejected report vanishes
at once whatever is stored.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from sqlalchemy import and_, case, literal_column, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.elements import Label

from aduan_contracts.enums import ReportStatus
from aduan_gateway.adapters.readmodel import (
    ReportFilter,
    load_public_many,
    public_conditions,
    public_page,
)
from aduan_gateway.adapters.reportcache import MISS, ReportCache
from aduan_gateway.adapters.tables import REPORTS
from aduan_gateway.domain.views import PublicReportView, public_view
from aduan_kit.db import raw_transaction
from aduan_kit.logging import get_logger
from aduan_kit.tasks import cancel_and_wait

__all__ = ["VIEW_FORMAT", "PublicViews", "ViewFills", "page_json"]

log = get_logger(__name__)

# Bump when `public_view` gives other values for the same row without its schema changing
# (a label, the coarse area or month rule): every stored view of another format is rebuilt
# on its next read. The schema and the status labels are in the fingerprint already.
VIEW_REVISION = "1"
VIEW_FORMAT = hashlib.sha256(
    json.dumps(
        [
            VIEW_REVISION,
            PublicReportView.model_json_schema(by_alias=True),
            {s.value: s.label_id for s in ReportStatus},
        ],
        sort_keys=True,
    ).encode()
).hexdigest()[:16]

# Fills waiting beyond this are dropped (the view is built again on a later read): a cache
# must not grow without bound while the database is slow.
MAX_QUEUED = 5000
MAX_BATCH = 500

_PUBLIC_SQL = str(
    and_(*public_conditions()).compile(
        dialect=postgresql.dialect(),  # type: ignore[no-untyped-call]
        compile_kwargs={"literal_binds": True},
    )
)
_STORED = case(
    (REPORTS.c.public_view_format == VIEW_FORMAT, REPORTS.c.public_view), else_=None
).label("view")
_STAMP: Label[str] = literal_column("reports.xmin::text").label("stamp")
# The conditions are the compiled `public_conditions` (constants only, no input).
_ONE = (
    "SELECT CASE WHEN public_view_format = $2 THEN public_view END AS view, "  # noqa: S608
    "xmin::text AS stamp FROM reports WHERE report_id = $1 AND " + _PUBLIC_SQL
)
# The unfiltered page (the citizens' default list, a third of the read mix) as one
# prepared statement: building, cache-keying and running the filtered form through
# SQLAlchemy was most of a list's CPU once the views were stored. Same conditions, same
# order as `public_page`.
_PAGE = (
    "SELECT report_id, CASE WHEN public_view_format = $3 THEN public_view END AS view, "  # noqa: S608
    "xmin::text AS stamp FROM reports WHERE " + _PUBLIC_SQL + " "
    "ORDER BY received_at DESC, report_id LIMIT $1 OFFSET $2"
)
_UNFILTERED = ReportFilter()
# Rows a writer holds are skipped (SKIP LOCKED): the fill never waits, so it can neither
# slow a consumer nor deadlock with one; the row version is checked on the locked row.
_FILL = (
    "WITH u AS (SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[]) "
    "AS u(report_id, view, stamp)), "
    "ok AS (SELECT r.report_id FROM reports r JOIN u ON u.report_id = r.report_id "
    "WHERE r.xmin::text = u.stamp FOR UPDATE OF r SKIP LOCKED) "
    "UPDATE reports r SET public_view = u.view, public_view_format = $4 FROM u "
    "WHERE r.report_id = u.report_id AND r.report_id IN (SELECT report_id FROM ok)"
)


def page_json(items: Sequence[bytes], limit: int, offset: int) -> bytes:
    """A `PublicReportPage` as `model_dump_json` writes it, from its items' JSON."""
    return b'{"items":[' + b",".join(items) + b'],"limit":%d,"offset":%d}' % (limit, offset)


class ViewFills:
    """Stores built views in batches, off the requests' path (one writer task a process)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._queue: dict[UUID, tuple[str, str]] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.stored = 0

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="public-view-fills")

    async def stop(self) -> None:
        task, self._task = self._task, None
        await cancel_and_wait(task)

    def offer(self, report_id: UUID, view: str, stamp: str) -> None:
        if self._task is None or len(self._queue) >= MAX_QUEUED:
            return
        self._queue[report_id] = (view, stamp)
        self._wake.set()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch = dict(list(self._queue.items())[:MAX_BATCH])
                for key in batch:
                    del self._queue[key]
                await self.store(batch)

    async def store(self, batch: dict[UUID, tuple[str, str]]) -> int:
        """Store these views (report -> (view, row version it was built from)); how many
        were stored: a row no longer at that version, or held by a writer, is not."""
        ids = sorted(batch)
        try:
            # Asynchronous commit: a fill lost in a crash is built again by the next read.
            # Marked as a fill: it changes nothing the public sees, so the reports'
            # triggers announce no change to the public caches (migration 0023).
            async with raw_transaction(
                self._engine,
                setup="SET LOCAL synchronous_commit TO off; SET LOCAL aduan.view_fill TO on",
            ) as conn:
                status = await conn.execute(
                    _FILL,
                    ids,
                    [batch[i][0] for i in ids],
                    [batch[i][1] for i in ids],
                    VIEW_FORMAT,
                )
        except Exception as exc:  # a cache: the views are built again on a later read
            log.warning("public views not stored", views=len(ids), error=type(exc).__name__)
            return 0
        stored = int(status.rsplit(" ", 1)[-1])
        self.stored += stored
        return stored


class PublicViews:
    """The public list and report, answered from this process's memory where it holds them
    (`ReportCache`), else from the stored views where they are current."""

    def __init__(
        self,
        connect: Callable[[], AsyncConnection],
        fills: ViewFills,
        cache: ReportCache,
    ) -> None:
        self._connect = connect
        self.fills = fills
        self.cache = cache

    async def report(self, report_id: UUID) -> bytes | None:
        """One public report's view as JSON; None when the public may not see it."""
        cache = self.cache
        kept = cache.public(report_id)
        if kept is not MISS:
            return kept  # type: ignore[no-any-return]
        began = cache.begin()
        answer = await self._report(report_id)
        cache.keep_public(began, report_id, answer)
        return answer

    async def _report(self, report_id: UUID) -> bytes | None:
        async with self._connect() as conn:
            driver = (await conn.get_raw_connection()).driver_connection
            assert driver is not None
            row = await driver.fetchrow(_ONE, report_id, VIEW_FORMAT)
            if row is None:
                return None
            if row["view"] is not None:
                return row["view"].encode()  # type: ignore[no-any-return]
            built = await self._build(conn, {report_id: row["stamp"]})
        return built.get(report_id)

    async def page(self, limit: int, offset: int, f: ReportFilter | None = None) -> bytes:
        """A page of public reports, newest first, as `PublicReportPage` JSON."""
        if not (f is None or f == _UNFILTERED):
            return await self._page(limit, offset, f)
        cache = self.cache
        kept = cache.page(limit, offset)
        if kept is not None:
            return kept
        began = cache.begin()
        body = await self._page(limit, offset, f)
        cache.keep_page(began, limit, offset, body)
        return body

    async def _page(self, limit: int, offset: int, f: ReportFilter | None) -> bytes:
        async with self._connect() as conn:
            if f is None or f == _UNFILTERED:
                driver = (await conn.get_raw_connection()).driver_connection
                assert driver is not None
                rows = await driver.fetch(_PAGE, limit, offset, VIEW_FORMAT)
            else:
                query = public_page(select(REPORTS.c.report_id, _STORED, _STAMP), limit, offset, f)
                rows = (await conn.execute(query)).all()
            missing = {r[0]: r[2] for r in rows if r[1] is None}
            built = await self._build(conn, missing) if missing else {}
        items: list[bytes] = []
        for report_id, view, _ in rows:
            if view is not None:
                items.append(view.encode())
            elif (body := built.get(report_id)) is not None:
                items.append(body)
        return page_json(items, limit, offset)

    async def _build(self, conn: AsyncConnection, stamps: dict[UUID, Any]) -> dict[UUID, bytes]:
        """The views of these reports built from their rows (as before this cache), each
        offered for storing with the row version read before it was built."""
        out: dict[UUID, bytes] = {}
        for report_id, record in (await load_public_many(conn, list(stamps))).items():
            view = public_view(record)
            if view is None:
                continue
            body = view.model_dump_json(by_alias=True)
            self.fills.offer(report_id, body, stamps[report_id])
            out[report_id] = body.encode()
        return out
