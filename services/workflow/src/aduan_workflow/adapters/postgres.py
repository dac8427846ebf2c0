"""The stores on PostgreSQL: one set-based asyncpg statement per call, in the unit of
work's transaction.

Each SQL text is a constant, so asyncpg prepares it once per connection and reuses it (the
ORM's per-statement compilation was 13% of workflow's CPU, issue 18). A list of rows goes
as one array per column, `unnest`ed server-side: one round trip per table per batch.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
from pydantic import BaseModel

from aduan_contracts.enums import Channel, ReportStatus, SlaStage
from aduan_contracts.events import CategoryPublished
from aduan_contracts.topics import TopicSpec
from aduan_contracts.values import GeoPoint
from aduan_kit.uow import UnitOfWork
from aduan_workflow.adapters.stores import (
    CatalogueStore,
    Change,
    ClockStart,
    ClockStop,
    ClockStore,
    Deadline,
    HistoryRow,
    HistoryStore,
    ReportStore,
)
from aduan_workflow.domain.lifecycle import Report

__all__ = ["PgCatalogue", "PgClocks", "PgHistory", "PgReports", "PgUnit"]


_INSERT_REPORTS = (
    "INSERT INTO reports (id, receipt_code, channel, status, version, agency_id, category, "
    "received_at, updated_at) "
    "SELECT u.*, $9::timestamptz FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], "
    "$5::int[], $6::text[], $7::text[], $8::timestamptz[]) AS u "
    # The inbox stops the same event; this stops the same report arriving again under a new
    # event id (e.g. intake re-publishing after a crash).
    "ON CONFLICT (id) DO NOTHING RETURNING id"
)
_INSERT_LOCATIONS = (
    "INSERT INTO report_locations (report_id, lat, lon) "
    "SELECT * FROM unnest($1::uuid[], $2::float8[], $3::float8[]) "
    "ON CONFLICT (report_id) DO NOTHING"
)
_SELECT_REPORT = (
    "SELECT id, receipt_code, channel, status, version, agency_id, category, received_at, "
    "completed_at, merged_into, primary_status FROM reports WHERE id = $1"
)
_SELECT_REPORT_LOCKED = _SELECT_REPORT + " FOR UPDATE"
_SELECT_LOCATION = "SELECT lat, lon FROM report_locations WHERE report_id = $1"
_SELECT_FOLLOWERS = (
    "SELECT id, receipt_code, channel, status, version, agency_id, category, received_at, "
    "completed_at, merged_into, primary_status FROM reports "
    "WHERE merged_into = ANY($1::uuid[]) AND status = $2 ORDER BY id FOR UPDATE"
)
_UPDATE_REPORTS = (
    "UPDATE reports AS r SET status = u.status, version = u.version, agency_id = u.agency_id, "
    "category = u.category, completed_at = u.completed_at, merged_into = u.merged_into, "
    "primary_status = u.primary_status, updated_at = u.at "
    "FROM unnest($1::uuid[], $2::int[], $3::text[], $4::int[], $5::text[], $6::text[], "
    "$7::timestamptz[], $8::uuid[], $9::text[], $10::timestamptz[]) "
    "AS u(id, read_version, status, version, agency_id, category, completed_at, merged_into, "
    "primary_status, at) "
    # Optimistic concurrency: only a report still at the version the step was decided on.
    "WHERE r.id = u.id AND r.version = u.read_version RETURNING r.id"
)
_INSERT_HISTORY = (
    "INSERT INTO status_history (report_id, version, from_status, to_status, actor_id, "
    "actor_role, actor_agency, actor_display_name, reason, follow_up, occurred_at) "
    "SELECT report_id, version, from_status, to_status, actor_id, actor_role, actor_agency, "
    "actor_display_name, reason, follow_up::jsonb, occurred_at "
    "FROM unnest($1::uuid[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[], "
    "$7::text[], $8::text[], $9::text[], $10::text[], $11::timestamptz[]) WITH ORDINALITY "
    "AS u(report_id, version, from_status, to_status, actor_id, actor_role, actor_agency, "
    "actor_display_name, reason, follow_up, occurred_at, n) ORDER BY n"
)
_STOP_CLOCKS = (
    "UPDATE sla_clocks AS c SET closed_at = u.at "
    "FROM unnest($1::uuid[], $2::text[], $3::timestamptz[]) AS u(report_id, stage, at) "
    "WHERE c.report_id = u.report_id AND c.stage = u.stage AND c.closed_at IS NULL"
)
_START_CLOCKS = (
    "INSERT INTO sla_clocks (report_id, stage, category, agency_id, started_at, due_at, "
    "remind_at, closed_at) "
    "SELECT report_id, stage, category, agency_id, started_at, due_at, remind_at, closed_at "
    "FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], "
    "$6::timestamptz[], $7::timestamptz[], $8::timestamptz[]) WITH ORDINALITY "
    "AS u(report_id, stage, category, agency_id, started_at, due_at, remind_at, closed_at, n) "
    "ORDER BY n"
)
_REASSIGN_CLOCKS = (
    "UPDATE sla_clocks AS c SET agency_id = u.agency_id "
    "FROM unnest($1::uuid[], $2::text[]) AS u(report_id, agency_id) "
    "WHERE c.report_id = u.report_id AND c.closed_at IS NULL"
)
_NEAREST_CLOCKS = (
    "SELECT DISTINCT ON (report_id) report_id, stage, due_at FROM sla_clocks "
    "WHERE report_id = ANY($1::uuid[]) AND closed_at IS NULL "
    "ORDER BY report_id, due_at, stage"
)
_SELECT_CATEGORIES = "SELECT code, record FROM category_catalogue WHERE code = ANY($1::text[])"


def _uuid(value: Any) -> UUID | None:
    # asyncpg's own UUID type: turned into the standard one before it reaches an event.
    return UUID(bytes=value.bytes) if value is not None else None


def _report(row: asyncpg.Record) -> Report:
    report_id = _uuid(row["id"])
    assert report_id is not None
    return Report(
        id=report_id,
        receipt_code=row["receipt_code"],
        channel=Channel(row["channel"]),
        status=ReportStatus(row["status"]),
        version=row["version"],
        agency_id=row["agency_id"],
        category=row["category"],
        received_at=row["received_at"],
        completed_at=row["completed_at"],
        merged_into=_uuid(row["merged_into"]),
        primary_status=ReportStatus(row["primary_status"]) if row["primary_status"] else None,
    )


class _Store:
    """A table's statements in a unit of work. Pure writes (history, clocks, locations)
    are held by the unit of work and sent with the outbox rows in one statement
    (`UnitOfWork.write`); anything that reads goes through `_conn()`, which sends the
    held writes first."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow

    async def _conn(self) -> asyncpg.Connection:
        return await self._uow.connection()


class PgReports(_Store):
    async def add_new(self, reports: Sequence[Report], at: datetime) -> set[UUID]:
        if not reports:
            return set()
        conn = await self._conn()
        rows = await conn.fetch(
            _INSERT_REPORTS,
            [r.id for r in reports],
            [r.receipt_code for r in reports],
            [r.channel.value for r in reports],
            [r.status.value for r in reports],
            [r.version for r in reports],
            [r.agency_id for r in reports],
            [r.category for r in reports],
            [r.received_at for r in reports],
            at,
        )
        return {_uuid(row["id"]) for row in rows}  # type: ignore[misc]

    async def add_locations(self, points: Sequence[tuple[UUID, GeoPoint]]) -> None:
        if not points:
            return
        await self._uow.write(
            "report_locations",
            _INSERT_LOCATIONS,
            [rid for rid, _ in points],
            [p.lat for _, p in points],
            [p.lon for _, p in points],
        )

    async def get(self, report_id: UUID, *, lock: bool = False) -> Report | None:
        conn = await self._conn()
        row = await conn.fetchrow(_SELECT_REPORT_LOCKED if lock else _SELECT_REPORT, report_id)
        return _report(row) if row is not None else None

    async def location(self, report_id: UUID) -> GeoPoint | None:
        conn = await self._conn()
        row = await conn.fetchrow(_SELECT_LOCATION, report_id)
        return GeoPoint(lat=row["lat"], lon=row["lon"]) if row is not None else None

    async def save(self, changes: Sequence[Change]) -> set[UUID]:
        if not changes:
            return set()
        conn = await self._conn()
        afters = [c.after for c in changes]
        rows = await conn.fetch(
            _UPDATE_REPORTS,
            [r.id for r in afters],
            [c.read_version for c in changes],
            [r.status.value for r in afters],
            [r.version for r in afters],
            [r.agency_id for r in afters],
            [r.category for r in afters],
            [r.completed_at for r in afters],
            [r.merged_into for r in afters],
            [r.primary_status.value if r.primary_status else None for r in afters],
            [c.at for c in changes],
        )
        return {_uuid(row["id"]) for row in rows}  # type: ignore[misc]

    async def followers(self, primary_ids: Collection[UUID]) -> list[Report]:
        if not primary_ids:
            return []
        conn = await self._conn()
        rows = await conn.fetch(_SELECT_FOLLOWERS, list(primary_ids), ReportStatus.MERGED.value)
        return [_report(row) for row in rows]


class PgHistory(_Store):
    async def append(self, rows: Sequence[HistoryRow]) -> None:
        if not rows:
            return
        await self._uow.write(
            "status_history",
            _INSERT_HISTORY,
            [r.report_id for r in rows],
            [r.version for r in rows],
            [r.from_status.value if r.from_status else None for r in rows],
            [r.to_status.value for r in rows],
            [r.actor.id for r in rows],
            [r.actor.role.value for r in rows],
            [r.actor.agency_id for r in rows],
            [r.actor.display_name for r in rows],
            [r.reason for r in rows],
            [r.follow_up.model_dump_json() if r.follow_up else None for r in rows],
            [r.occurred_at for r in rows],
        )


class PgClocks(_Store):
    async def stop(self, stops: Sequence[ClockStop]) -> None:
        if not stops:
            return
        await self._uow.write(
            "sla_clocks",
            _STOP_CLOCKS,
            [s.report_id for s in stops],
            [s.stage.value for s in stops],
            [s.at for s in stops],
        )

    async def start(self, clocks: Sequence[ClockStart]) -> None:
        if not clocks:
            return
        await self._uow.write(
            "sla_clocks",
            _START_CLOCKS,
            [c.report_id for c in clocks],
            [c.stage.value for c in clocks],
            [c.category for c in clocks],
            [c.agency_id for c in clocks],
            [c.started_at for c in clocks],
            [c.due_at for c in clocks],
            [c.remind_at for c in clocks],
            [c.closed_at for c in clocks],
        )

    async def reassign(self, agencies: Sequence[tuple[UUID, str | None]]) -> None:
        if not agencies:
            return
        await self._uow.write(
            "sla_clocks", _REASSIGN_CLOCKS, [rid for rid, _ in agencies], [a for _, a in agencies]
        )

    async def nearest(self, report_ids: Collection[UUID]) -> dict[UUID, Deadline]:
        if not report_ids:
            return {}
        conn = await self._conn()
        rows = await conn.fetch(_NEAREST_CLOCKS, list(report_ids))
        return {
            _uuid(row["report_id"]): Deadline(SlaStage(row["stage"]), row["due_at"])  # type: ignore[misc]
            for row in rows
        }


class PgCatalogue(_Store):
    async def categories(self, codes: Collection[str]) -> dict[str, CategoryPublished]:
        if not codes:
            return {}
        conn = await self._conn()
        rows = await conn.fetch(_SELECT_CATEGORIES, list(codes))
        found: dict[str, CategoryPublished] = {}
        for row in rows:
            record = row["record"]
            # jsonb arrives as text (SQLAlchemy's codec on the connection, or asyncpg's own).
            found[row["code"]] = (
                CategoryPublished.model_validate_json(record)
                if isinstance(record, str | bytes)
                else CategoryPublished.model_validate(record)
            )
        return found


class PgUnit:
    """The stores of one kit unit of work, and its outbox."""

    def __init__(self, uow: UnitOfWork) -> None:
        self._uow = uow
        # Typed as the Protocols: mypy checks each implementation against its Protocol.
        self.reports: ReportStore = PgReports(uow)
        self.history: HistoryStore = PgHistory(uow)
        self.clocks: ClockStore = PgClocks(uow)
        self.catalogue: CatalogueStore = PgCatalogue(uow)

    def publish(self, topic: TopicSpec | str, event: BaseModel, key: UUID) -> None:
        self._uow.publish(topic, event, key=key)
