"""The public read model on PostgreSQL: one set-based upsert per batch (asyncpg, prepared)."""

from __future__ import annotations

import json
from uuid import UUID

import asyncpg

from aduan_portal.service.public_reports import PublicRow

__all__ = ["PostgresPublicRows"]

# The newer-only rule of service.public_reports, in the statement: a publication replaces
# a strictly older row, a withdrawal one at most as new.
_UPSERT = """
INSERT INTO public_reports (
    report_id, public_id, title, text, category, agency_id, status, status_label, channel,
    area, area_code, month, confidentiality_label, timeline, withdrawn, updated_at,
    completed_hours, coarse_lat, coarse_lon)
SELECT u.report_id, u.public_id, u.title, u.text, u.category, u.agency_id, u.status,
       u.status_label, u.channel, u.area, u.area_code, u.month, u.confidentiality_label,
       u.timeline::jsonb, u.withdrawn, u.updated_at, u.completed_hours, u.coarse_lat,
       u.coarse_lon
FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
            $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[],
            $13::text[], $14::text[], $15::bool[], $16::timestamptz[], $17::float8[],
            $18::float8[], $19::float8[])
     AS u(report_id, public_id, title, text, category, agency_id, status, status_label,
          channel, area, area_code, month, confidentiality_label, timeline, withdrawn,
          updated_at, completed_hours, coarse_lat, coarse_lon)
ON CONFLICT (report_id) DO UPDATE SET
    public_id = EXCLUDED.public_id, title = EXCLUDED.title, text = EXCLUDED.text,
    category = EXCLUDED.category, agency_id = EXCLUDED.agency_id, status = EXCLUDED.status,
    status_label = EXCLUDED.status_label, channel = EXCLUDED.channel, area = EXCLUDED.area,
    area_code = EXCLUDED.area_code, month = EXCLUDED.month,
    confidentiality_label = EXCLUDED.confidentiality_label, timeline = EXCLUDED.timeline,
    withdrawn = EXCLUDED.withdrawn, updated_at = EXCLUDED.updated_at,
    completed_hours = EXCLUDED.completed_hours, coarse_lat = EXCLUDED.coarse_lat,
    coarse_lon = EXCLUDED.coarse_lon
WHERE public_reports.updated_at < EXCLUDED.updated_at
   OR (EXCLUDED.withdrawn AND public_reports.updated_at <= EXCLUDED.updated_at)
RETURNING report_id
"""


class PostgresPublicRows:
    """`PublicRowStore` on the unit of work's asyncpg connection."""

    def __init__(self, conn: asyncpg.Connection) -> None:
        self._conn = conn

    async def write_if_newer(self, rows: list[PublicRow]) -> set[UUID]:
        if not rows:
            return set()
        written = await self._conn.fetch(
            _UPSERT,
            [r.report_id for r in rows],
            [r.public_id for r in rows],
            [r.title for r in rows],
            [r.text for r in rows],
            [r.category for r in rows],
            [r.agency_id for r in rows],
            [r.status for r in rows],
            [r.status_label for r in rows],
            [r.channel for r in rows],
            [r.area for r in rows],
            [r.area_code for r in rows],
            [r.month for r in rows],
            [r.confidentiality_label for r in rows],
            [json.dumps(r.timeline) for r in rows],
            [r.withdrawn for r in rows],
            [r.updated_at for r in rows],
            [r.completed_hours for r in rows],
            [r.coarse_lat for r in rows],
            [r.coarse_lon for r in rows],
        )
        return {r["report_id"] for r in written}
