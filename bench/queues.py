"""The console's queues at city scale: the gateway's read model filled with N reports (100,000
by default, about half a year of Jakarta's CRM) and each queue the console asks for, timed
through the gateway's own query code (`aduan_gateway.adapters.readmodel.list_reports`), first page
and a deep page, with the plan PostgreSQL chose.

    uv run --frozen python -m bench.queues [--reports 100000] [--keep]

It uses its own database (`aduan_bench_queues` on the PostgreSQL that
`deploy/scripts/infra.sh up` starts, or `--database-url`), dropped after unless `--keep`.
Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
from sqlalchemy import make_url, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from aduan_contracts.enums import ReportStatus
from aduan_gateway.adapters.readmodel import ReportFilter, list_reports
from aduan_kit.db import migrate

DEFAULT_URL = "postgresql+asyncpg://postgres:postgres@127.0.0.1:5432/aduan_bench_queues"
AGENCIES = ("dinas-bina-marga", "dinas-sda", "dinas-lingkungan-hidup", "satpol-pp", "dishub")
CATEGORIES = ("jalan-rusak", "banjir", "saluran", "parkir-liar", "sampah")
AREAS = ("Gambir", "Senen", "Menteng", "Cilincing", "Tebet", "Kebayoran Baru", "Cengkareng")
PAGE = 50

# Every report gets a timeline of 1-5 rows like the lifecycle writes (received, dispatched,
# in progress, awaiting validation, completed); its status and the running clock's deadline
# follow from how far it got (a completed report has no clock).
FILL = """
WITH r AS (
    SELECT g,
           md5(g::text)::uuid AS report_id,
           now() - (g * interval '150 seconds') AS received_at,
           1 + (g % 5) AS steps
    FROM generate_series(1, $1::int) AS g
)
INSERT INTO reports (
    report_id, receipt_code, channel, privacy, has_content, title, text, language, category,
    agency_id, location, received_at, status, status_version, public_title, public_text,
    officer_title, officer_text, due_at
)
SELECT report_id,
       'ADU-' || upper(substr(md5(g::text || 'r'), 1, 4)) || '-'
              || upper(substr(md5(g::text || 's'), 1, 4)),
       (ARRAY['web','sms','whatsapp','email','app','x'])[1 + g % 6],
       CASE WHEN g % 3 = 0 THEN 'public' ELSE 'private' END,
       true,
       'Laporan nomor ' || g,
       'Jalan berlubang dekat halte nomor ' || g || ', motor hampir jatuh.',
       'id',
       ($2::text[])[1 + g % 5],
       CASE WHEN steps > 1 THEN ($3::text[])[1 + (g / 5) % 5] END,
       jsonb_build_object('area', ($4::text[])[1 + g % 7]),
       received_at,
       (ARRAY['received','dispatched','in_progress','awaiting_validation','completed'])[steps],
       steps,
       'Laporan nomor ' || g,
       'Jalan berlubang dekat halte nomor ' || g || '.',
       'Laporan nomor ' || g,
       'Jalan berlubang dekat halte nomor ' || g || ', motor hampir jatuh.',
       CASE WHEN steps < 5 THEN received_at + steps * interval '2 days' END
FROM r
"""

TIMELINE = """
INSERT INTO timeline (report_id, version, status, agency_id, actor_role, occurred_at)
SELECT r.report_id, v.version,
       (ARRAY['received','dispatched','in_progress','awaiting_validation','completed'])[v.version],
       r.agency_id, 'system', r.received_at + v.version * interval '1 hour'
FROM reports r
CROSS JOIN LATERAL generate_series(1, r.status_version) AS v(version)
"""


async def fill(url: str, reports: int) -> None:
    await migrate(url, "aduan_gateway:migrations")
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        have = await conn.fetchval("SELECT count(*) FROM reports")
        if have == reports:
            return
        await conn.execute("TRUNCATE reports, timeline, report_search")
        started = time.perf_counter()
        await conn.execute(FILL, reports, list(CATEGORIES), list(AGENCIES), list(AREAS))
        await conn.execute(TIMELINE)
        await conn.execute("ANALYZE reports; ANALYZE timeline; ANALYZE report_search")
        print(f"filled {reports:,} reports in {time.perf_counter() - started:.1f} s")
    finally:
        await conn.close()


Query = Callable[[AsyncSession, int], Awaitable[Any]]


def queues() -> list[tuple[str, Query]]:
    agency = AGENCIES[0]
    cases: list[tuple[str, Query]] = [
        ("ticket-admin: all, newest", lambda s, o: list_reports(s, PAGE, o, ReportFilter())),
        (
            "ticket-admin: all, due first",
            lambda s, o: list_reports(s, PAGE, o, ReportFilter(), sort="due"),
        ),
        (
            "ticket-admin: status received",
            lambda s, o: list_reports(s, PAGE, o, ReportFilter(status=ReportStatus.RECEIVED)),
        ),
        (
            "agency officer: own queue, newest",
            lambda s, o: list_reports(s, PAGE, o, ReportFilter(), agency_id=agency),
        ),
        (
            "agency officer: own queue, due first",
            lambda s, o: list_reports(s, PAGE, o, ReportFilter(), agency_id=agency, sort="due"),
        ),
        (
            "agency officer: overdue",
            lambda s, o: list_reports(s, PAGE, o, ReportFilter(sla="overdue"), agency_id=agency),
        ),
        (
            "validator: awaiting validation",
            lambda s, o: list_reports(
                s, PAGE, o, ReportFilter(status=ReportStatus.AWAITING_VALIDATION), sort="due"
            ),
        ),
        (
            "category + area",
            lambda s, o: list_reports(
                s, PAGE, o, ReportFilter(category=CATEGORIES[1], area=AREAS[2])
            ),
        ),
        (
            "text search 'halte nomor 4242'",
            lambda s, o: list_reports(s, PAGE, o, ReportFilter(search="halte nomor 4242")),
        ),
        (
            "filed in one week",
            lambda s, o: list_reports(
                s,
                PAGE,
                o,
                ReportFilter(
                    received_from=datetime.now(UTC) - timedelta(days=60),
                    received_before=datetime.now(UTC) - timedelta(days=53),
                ),
            ),
        ),
    ]
    return cases


async def measure(url: str, deep_page: int, repeats: int) -> list[tuple[str, float, float, int]]:
    engine = create_async_engine(url, pool_size=1)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    out = []
    try:
        for name, query in queues():
            timings: dict[int, float] = {}
            rows = 0
            for offset in (0, deep_page * PAGE):
                samples = []
                for _ in range(repeats):
                    async with sessions() as session:
                        started = time.perf_counter()
                        found = await query(session, offset)
                        samples.append((time.perf_counter() - started) * 1000)
                    if offset == 0:
                        rows = len(found)
                timings[offset] = statistics.median(samples)
            out.append((name, timings[0], timings[deep_page * PAGE], rows))
        async with engine.connect() as conn:
            size = await conn.scalar(text("SELECT pg_total_relation_size('reports')"))
            print(f"reports table with indexes: {int(size or 0) / 2**20:.0f} MiB")
    finally:
        await engine.dispose()
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=100_000)
    parser.add_argument("--deep-page", type=int, default=100, help="page number for 'deep'")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--database-url", default=DEFAULT_URL)
    parser.add_argument("--keep", action="store_true", help="keep the filled database")
    args = parser.parse_args()
    await fill(args.database_url, args.reports)
    results = await measure(args.database_url, args.deep_page, args.repeats)
    print(f"\n{args.reports:,} reports, page of {PAGE}, median of {args.repeats} (ms)")
    print(f"{'queue':<40} {'page 1':>9} {f'page {args.deep_page}':>9} {'rows':>5}")
    for name, first, deep, rows in results:
        print(f"{name:<40} {first:>9.1f} {deep:>9.1f} {rows:>5}")
    if not args.keep:
        url = make_url(args.database_url)
        admin = url.set(drivername="postgresql", database="postgres")
        conn = await asyncpg.connect(admin.render_as_string(hide_password=False))
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
        finally:
            await conn.close()


if __name__ == "__main__":
    asyncio.run(main())
