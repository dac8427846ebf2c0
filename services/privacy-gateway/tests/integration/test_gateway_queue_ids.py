"""The officers' queues as the console asks for them (no filter or one status; newest or
nearest deadline first; every kind of scope) run as constant statements on the driver
(`officer_page_ids`, issue 18). They must choose the very pages the general query through
SQLAlchemy (`_scoped`, which every other filter still takes) chooses: same rows, same order,
same paging, escalations to a unit included, incomplete reports left out."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from aduan_contracts.enums import ReportStatus
from aduan_gateway.adapters import readmodel
from aduan_gateway.adapters.readmodel import ReportFilter, officer_page_ids
from aduan_gateway.adapters.tables import ESCALATIONS, REPORTS

pytestmark = pytest.mark.integration

UNITS = ("dbm", "sudin-jp", "kel-g", "kel-pu", "dsda")
STATUSES = (
    ReportStatus.DISPATCHED,
    ReportStatus.IN_PROGRESS,
    ReportStatus.COMPLETED,
    ReportStatus.REJECTED,
)
T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


async def _seed(engine: AsyncEngine) -> list[UUID]:
    """300 reports over five units and four statuses; some with the same filing time (the
    order's tie-break), some without a deadline, some incomplete; a few escalated."""
    rng = random.Random(18)
    rows = []
    for i in range(300):
        complete = i % 23 != 0
        rows.append(
            {
                "report_id": uuid4(),
                "channel": "web",
                "has_content": complete,
                "status": rng.choice(STATUSES).value if i % 31 != 0 else None,
                "agency_id": rng.choice(UNITS) if i % 17 != 0 else None,
                # Pairs share a filing time and a deadline: only the id breaks the tie.
                "received_at": T0 + timedelta(minutes=i // 2) if i % 29 != 0 else None,
                "due_at": T0 + timedelta(hours=(i // 2 * 37) % 144 - 48) if i // 2 % 5 else None,
            }
        )
    escalations = []
    for row in rng.sample(rows, 40):
        if row["agency_id"] is None:
            continue
        escalations.append(
            {
                "report_id": row["report_id"],
                "kind": "breach",
                "stage": "dispatch",
                "due_at": T0,
                # Flagged from the unit holding it (what counts), or from one it left.
                "from_unit": row["agency_id"] if rng.random() < 0.8 else "kel-x",
                "to_unit": rng.choice(("kec-g", "dbm", "sudin-jp")),
                "after_version": 1,
                "note": "overdue",
                "at": T0,
            }
        )
    async with engine.begin() as conn:
        await conn.execute(insert(REPORTS), rows)
        await conn.execute(insert(ESCALATIONS), escalations)
    return [r["report_id"] for r in rows]


async def _general(
    engine: AsyncEngine,
    limit: int,
    offset: int,
    f: ReportFilter,
    scope: str | frozenset[str] | None,
    sort: str,
) -> list[UUID]:
    async with engine.connect() as conn:
        query = await readmodel._scoped(conn, select(REPORTS.c.report_id), f, scope, None, sort)
        return list((await conn.execute(query.limit(limit).offset(offset))).scalars().all())


async def test_the_console_queues_choose_the_pages_the_general_query_chooses(
    engine: AsyncEngine,
) -> None:
    await _seed(engine)
    scopes: list[str | frozenset[str] | None] = [
        None,
        "kel-g",
        frozenset({"kel-g"}),
        frozenset({"dbm", "sudin-jp"}),  # a head's units, with escalations to them
        frozenset({"kec-g"}),  # a unit holding nothing, only escalated to
        frozenset({"nobody"}),
    ]
    filters = [ReportFilter(), *(ReportFilter(status=s) for s in STATUSES)]
    compared = nonempty = 0
    for scope in scopes:
        for f in filters:
            for sort in ("newest", "due"):
                for limit, offset in ((20, 0), (20, 20), (7, 3), (100, 0)):
                    async with engine.connect() as conn:
                        got = await officer_page_ids(conn, limit, offset, f, scope, sort)
                    want = await _general(engine, limit, offset, f, scope, sort)
                    assert got == want, (scope, f, sort, limit, offset)
                    compared += 1
                    nonempty += bool(want)
    assert compared == 6 * 5 * 2 * 4
    # Not a comparison of empty pages: most shapes have rows, the escalated-only one too.
    assert nonempty > compared * 0.6
    async with engine.connect() as conn:
        escalated_only = await officer_page_ids(conn, 100, 0, ReportFilter(), frozenset({"kec-g"}))
    assert escalated_only


async def test_other_filters_still_take_the_general_query(engine: AsyncEngine) -> None:
    """A filter beyond a status (an assignee, a category...) is not one of the constant
    shapes: the general query answers it, with its own conditions."""
    ids = await _seed(engine)
    async with engine.begin() as conn:
        await conn.execute(
            REPORTS.update().where(REPORTS.c.report_id.in_(ids[:50])).values(category="jalan-rusak")
        )
    f = ReportFilter(category="jalan-rusak")
    async with engine.connect() as conn:
        got = await officer_page_ids(conn, 100, 0, f, None)
    assert got == await _general(engine, 100, 0, f, None, "newest")
    assert got and set(got) <= set(ids[:50])
