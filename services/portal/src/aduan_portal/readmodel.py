"""SQL over the portal's own read model: filtered lists, map points, downloads, statistics.

Every query excludes withdrawn rows (tombstones) and never selects `updated_at` into
anything shown: it is the exact time of the last change (SPEC privacy rule 6).
"""

from __future__ import annotations

import contextlib
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Row, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aduan_contracts.enums import ReportStatus
from aduan_portal.domain import Filters, PublicReport, PublicTimelineStep
from aduan_portal.domain.model import CoarsePoint
from aduan_portal.tables import PUBLIC_REPORTS as T

__all__ = ["ReadModel", "Stats"]

# A "me too" joins a report still being worked on; a finished one is not offered.
OPEN_STATUSES = (
    ReportStatus.RECEIVED,
    ReportStatus.COORDINATION,
    ReportStatus.DISPATCHED,
    ReportStatus.IN_PROGRESS,
    ReportStatus.AWAITING_VALIDATION,
    ReportStatus.FIELD_VERIFICATION,
    ReportStatus.FOLLOWUP_REJECTED,
)


def _metres(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine, mean Earth radius)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


EXPORT_MAX = 10_000  # rows per download; the page says so when a download is cut
MAP_MAX = 5_000


def _where(filters: Filters) -> ColumnElement[bool]:
    conditions: list[ColumnElement[bool]] = [T.c.withdrawn.is_(False)]
    if filters.category:
        conditions.append(T.c.category == filters.category)
    if filters.agency:
        conditions.append(T.c.agency_id == filters.agency)
    if filters.status:
        conditions.append(T.c.status == filters.status.value)
    if filters.area:
        conditions.append(T.c.area.icontains(filters.area, autoescape=True))
    if filters.area_code:
        conditions.append(
            (T.c.area_code == filters.area_code)
            | T.c.area_code.startswith(filters.area_code + ".", autoescape=True)
        )
    if filters.month_from:
        conditions.append(T.c.month >= filters.month_from)
    if filters.month_to:
        conditions.append(T.c.month <= filters.month_to)
    clause: ColumnElement[bool] = true()
    for condition in conditions:
        clause = clause & condition
    return clause


def to_model(row: Row[Any]) -> PublicReport:
    point = (
        CoarsePoint(lat=row.coarse_lat, lon=row.coarse_lon)
        if row.coarse_lat is not None and row.coarse_lon is not None
        else None
    )
    return PublicReport(
        report_id=row.report_id,
        public_id=row.public_id,
        title=row.title,
        text=row.text,
        category=row.category,
        agency_id=row.agency_id,
        status=ReportStatus(row.status),
        status_label=row.status_label,
        channel=row.channel,
        area=row.area,
        month=row.month,
        confidentiality_label=row.confidentiality_label,
        timeline=tuple(PublicTimelineStep.model_validate(t) for t in row.timeline),
        coarse_point=point,
    )


@dataclass(frozen=True)
class Stats:
    total: int
    completed: int
    median_completed_hours: float | None
    by_channel: list[tuple[str, int]]
    by_agency: list[tuple[str | None, int]]
    by_category: list[tuple[str | None, int]]
    by_month: list[tuple[str, int]]
    # Per kota/kabupaten (the first two levels of the area code; None: not resolved).
    by_area: list[tuple[str | None, int]] = field(default_factory=list)

    @property
    def share_completed(self) -> float | None:
        return self.completed / self.total if self.total else None


class ReadModel:
    def __init__(self, sessions: Callable[[], async_sessionmaker[AsyncSession]]) -> None:
        # A getter: the runtime connects the database only when it starts, after routing.
        self._get_sessions = sessions

    def _sessions(self) -> AsyncSession:
        return self._get_sessions()()

    async def page(self, filters: Filters, page: int, size: int) -> tuple[list[PublicReport], int]:
        """One page of matching reports (newest change first) and the number matching."""
        where = _where(filters)
        query = (
            select(T)
            .where(where)
            .order_by(T.c.updated_at.desc(), T.c.report_id)
            .offset((page - 1) * size)
            .limit(size)
        )
        async with self._sessions() as session:
            total = await session.scalar(select(func.count()).select_from(T).where(where))
            rows = (await session.execute(query)).all()
        return [to_model(r) for r in rows], int(total or 0)

    async def find(self, public_id: str) -> PublicReport | None:
        # The gateway's public id, or the report id itself (links built from a report id).
        match = T.c.public_id == public_id
        with contextlib.suppress(ValueError):
            match = or_(match, T.c.report_id == uuid.UUID(public_id))
        query = (
            select(T)
            .where(match, T.c.withdrawn.is_(False))
            .order_by(T.c.updated_at.desc())
            .limit(1)
        )
        async with self._sessions() as session:
            row = (await session.execute(query)).first()
        return to_model(row) if row is not None else None

    async def nearby(
        self, category: str, lat: float, lon: float, radius_m: float = 1500, limit: int = 5
    ) -> list[tuple[PublicReport, float]]:
        """Open public reports of `category` whose coarse point (0.01 degree grid) lies
        within `radius_m` of a point, nearest first, with the distance: "already reported?"
        on the filing form. The distance is to the coarse point, so it is approximate."""
        span = radius_m / 111_000 + 0.01
        query = (
            select(T)
            .where(
                T.c.withdrawn.is_(False),
                T.c.category == category,
                T.c.status.in_([s.value for s in OPEN_STATUSES]),
                T.c.coarse_lat.between(lat - span, lat + span),
                T.c.coarse_lon.between(lon - span, lon + span),
            )
            .order_by(T.c.updated_at.desc())
            .limit(200)
        )
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        found = [(to_model(r), _metres(lat, lon, r.coarse_lat, r.coarse_lon)) for r in rows]
        return sorted((f for f in found if f[1] <= radius_m), key=lambda f: f[1])[:limit]

    async def choices(self) -> dict[str, list[str]]:
        """The values present, for the filter form's drop-downs."""
        out: dict[str, list[str]] = {}
        async with self._sessions() as session:
            for name, column in (("category", T.c.category), ("agency", T.c.agency_id)):
                query = (
                    select(column)
                    .where(T.c.withdrawn.is_(False), column.is_not(None))
                    .distinct()
                    .order_by(column)
                    .limit(500)
                )
                out[name] = [v for (v,) in (await session.execute(query)).all()]
        return out

    async def rows(self, filters: Filters, *, located_only: bool = False) -> list[dict[str, Any]]:
        """Matching reports as flat rows for the downloads and the map (coarse point only)."""
        where = _where(filters)
        if located_only:
            where = where & T.c.coarse_lat.is_not(None) & T.c.coarse_lon.is_not(None)
        query = (
            select(
                T.c.public_id,
                T.c.title,
                T.c.text,
                T.c.category,
                T.c.agency_id,
                T.c.status,
                T.c.status_label,
                T.c.channel,
                T.c.area,
                T.c.area_code,
                T.c.month,
                T.c.confidentiality_label,
                T.c.completed_hours,
                T.c.coarse_lat.label("lat"),
                T.c.coarse_lon.label("lon"),
            )
            .where(where)
            .order_by(T.c.month.desc(), T.c.public_id)
            .limit(MAP_MAX if located_only else EXPORT_MAX)
        )
        async with self._sessions() as session:
            result = await session.execute(query)
            return [dict(r._mapping) for r in result.all()]

    async def stats(self) -> Stats:
        live = T.c.withdrawn.is_(False)
        completed = T.c.status == ReportStatus.COMPLETED.value
        async with self._sessions() as session:
            totals = (
                await session.execute(
                    select(
                        func.count(),
                        func.count().filter(completed),
                        func.percentile_cont(0.5)
                        .within_group(T.c.completed_hours)
                        .filter(completed & T.c.completed_hours.is_not(None)),
                    )
                    .select_from(T)
                    .where(live)
                )
            ).one()

            async def grouped(column: Any) -> list[tuple[Any, int]]:
                n = func.count().label("n")
                query = (
                    select(column, n)
                    .select_from(T)
                    .where(live)
                    .group_by(column)
                    .order_by(n.desc(), column.asc().nulls_last())
                )
                return [(k, int(v)) for k, v in (await session.execute(query)).all()]

            by_channel = await grouped(T.c.channel)
            by_agency = await grouped(T.c.agency_id)
            by_category = await grouped(T.c.category)
            by_area = await grouped(func.substr(T.c.area_code, 1, 5))
            month_n = func.count().label("n")
            by_month = [
                (m, int(v))
                for m, v in (
                    await session.execute(
                        select(T.c.month, month_n)
                        .select_from(T)
                        .where(live)
                        .group_by(T.c.month)
                        .order_by(T.c.month)
                    )
                ).all()
            ]
        total, done, median = totals
        return Stats(
            total=int(total),
            completed=int(done),
            median_completed_hours=float(median) if median is not None else None,
            by_channel=by_channel,
            by_agency=by_agency,
            by_category=by_category,
            by_month=_fill_months(by_month),
            by_area=by_area,
        )


def _fill_months(counts: list[tuple[str, int]]) -> list[tuple[str, int]]:
    """Months without reports shown as 0, so the trend's spacing is honest."""
    if not counts:
        return []
    have = dict(counts)
    first, last = counts[0][0], counts[-1][0]
    year, month = int(first[:4]), int(first[5:])
    out: list[tuple[str, int]] = []
    while (key := f"{year:04d}-{month:02d}") <= last and len(out) < 600:
        out.append((key, have.get(key, 0)))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out
