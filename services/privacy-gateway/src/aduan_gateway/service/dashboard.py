"""An agency's dashboard (issue 14): aggregates over the read model, never a report.

Counts only: private reports are in the numbers like any other, and nothing identifies a
report, a reporter or an exact time (months and durations). Computed in PostgreSQL with
one statement per figure over the agency's reports (indexes: reports by agency, the
timeline by report and version); at 100k reports a figure reads one agency's slice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["Dashboard", "StageFigure", "UnitFigure", "dashboard"]

# Statuses that have left the agency's hands for good.
CLOSED = ("completed", "rejected", "merged")


@dataclass(frozen=True, slots=True)
class StageFigure:
    stage: str
    measured: int  # steps with a deadline that ended
    on_time: int
    median_hours: float | None


@dataclass(frozen=True, slots=True)
class UnitFigure:
    unit_id: str
    open: int
    overdue: int


@dataclass(frozen=True, slots=True)
class Dashboard:
    agency_id: str | None  # None: the whole city (full-access roles)
    open_by_status: dict[str, int]
    overdue: int
    completed_by_month: list[tuple[str, int]]  # ("2026-11", n), oldest first
    stages: list[StageFigure]
    # Issue 19: the units covered (None: the city), the area prefix, open and overdue per
    # unit, and open reports escalated to the covered units (the city: all of them).
    units: list[str] | None = None
    area: str | None = None
    by_unit: list[UnitFigure] = field(default_factory=list)
    escalations: dict[str, int] = field(default_factory=dict)


# Every statement is scoped the same way: a set of units (:units; one agency, or a unit
# and its sub-units), or the city (NULL); and optionally an area (a Kemendagri code: it and
# everything inside it).
_SCOPE = """(CAST(:units AS text[]) IS NULL OR r.agency_id = ANY(CAST(:units AS text[])))
  AND (CAST(:area AS text) IS NULL OR (r.location ->> 'area_code') = :area
       OR (r.location ->> 'area_code') LIKE :area_like)"""
_OPEN = """
SELECT r.status, count(*) AS n FROM reports r
WHERE r.has_content AND r.status IS NOT NULL AND r.status <> ALL(:closed)
  AND {scope}
GROUP BY r.status
"""

# The latest step carries the deadline of the clock that runs now (workflow sends it on
# every transition).
_OVERDUE = """
SELECT count(*) FROM reports r
JOIN timeline t ON t.report_id = r.report_id AND t.version = r.status_version
WHERE r.has_content AND r.status <> ALL(:closed)
  AND {scope}
  AND (t.extra ->> 'due_at') IS NOT NULL AND (t.extra ->> 'due_at')::timestamptz < now()
"""

_COMPLETED = """
SELECT to_char(date_trunc('month', t.occurred_at AT TIME ZONE 'Asia/Jakarta'), 'YYYY-MM')
         AS m,
       count(DISTINCT t.report_id) AS n
FROM timeline t JOIN reports r ON r.report_id = t.report_id
WHERE t.status = 'completed' AND {scope}
  AND t.occurred_at >= date_trunc('month', now()) - make_interval(months => :months - 1)
GROUP BY 1 ORDER BY 1
"""

# Each step with a deadline, and when the next step came: time in the stage, and whether
# it ended before its deadline.
_STAGES = """
WITH steps AS (
  SELECT t.extra ->> 'sla_stage' AS stage,
         (t.extra ->> 'due_at')::timestamptz AS due,
         t.occurred_at AS started,
         lead(t.occurred_at) OVER (PARTITION BY t.report_id ORDER BY t.version) AS ended
  FROM timeline t JOIN reports r ON r.report_id = t.report_id
  WHERE {scope}
    AND t.occurred_at >= now() - make_interval(months => :months)
)
SELECT stage,
       count(*) AS measured,
       count(*) FILTER (WHERE ended <= due) AS on_time,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM ended - started))
         AS median_s
FROM steps WHERE stage IS NOT NULL AND due IS NOT NULL AND ended IS NOT NULL
GROUP BY stage ORDER BY stage
"""


_BY_UNIT = """
SELECT r.agency_id AS unit_id, count(*) AS open,
       count(*) FILTER (WHERE r.due_at < now()) AS overdue
FROM reports r
WHERE r.has_content AND r.status IS NOT NULL AND r.status <> ALL(:closed)
  AND r.agency_id IS NOT NULL AND {scope}
GROUP BY r.agency_id ORDER BY r.agency_id
"""

# Open reports with an escalation of their current stay (from the unit they sit at now)
# flagged to the covered units; the city (the validator bureau): every such report.
_ESCALATED = """
SELECT e.kind, count(DISTINCT e.report_id) AS n
FROM escalations e JOIN reports r ON r.report_id = e.report_id
  AND e.from_unit IS NOT DISTINCT FROM r.agency_id
WHERE r.has_content AND r.status <> ALL(:closed)
  AND (CAST(:units AS text[]) IS NULL OR e.to_unit = ANY(CAST(:units AS text[])))
  AND (CAST(:area AS text) IS NULL OR (r.location ->> 'area_code') = :area
       OR (r.location ->> 'area_code') LIKE :area_like)
GROUP BY e.kind
"""


def _sql(template: str) -> Any:
    return text(template.replace("{scope}", _SCOPE))


async def dashboard(
    session: AsyncSession,
    agency_id: str | None,
    months: int = 12,
    units: frozenset[str] | None = None,
    area: str | None = None,
) -> Dashboard:
    """Figures for one agency (`agency_id`), a set of units (`units`: a unit and its
    sub-units), or the city (neither); optionally within an area code."""
    scope = sorted(units) if units is not None else [agency_id] if agency_id is not None else None
    params: dict[str, Any] = {
        "units": scope,
        "area": area,
        "area_like": f"{area}.%" if area is not None else None,
        "closed": list(CLOSED),
        "months": months,
    }
    open_rows = (await session.execute(_sql(_OPEN), params)).all()
    overdue = int((await session.execute(_sql(_OVERDUE), params)).scalar_one())
    completed = (await session.execute(_sql(_COMPLETED), params)).all()
    stages = (await session.execute(_sql(_STAGES), params)).all()
    by_unit = (await session.execute(_sql(_BY_UNIT), params)).all()
    # Rows unpack as (kind, count); `.tuples()` is deprecated in SQLAlchemy 2.1.
    escalated: dict[str, int] = dict((await session.execute(text(_ESCALATED), params)).all())
    return Dashboard(
        units=scope,
        area=area,
        by_unit=[UnitFigure(r.unit_id, int(r.open), int(r.overdue)) for r in by_unit],
        escalations={
            "reminders": int(escalated.get("reminder", 0)),
            "breaches": int(escalated.get("breach", 0)),
        },
        agency_id=agency_id,
        open_by_status={r.status: int(r.n) for r in open_rows},
        overdue=overdue,
        completed_by_month=[(r.m, int(r.n)) for r in completed],
        stages=[
            StageFigure(
                stage=r.stage,
                measured=int(r.measured),
                on_time=int(r.on_time),
                median_hours=round(float(r.median_s) / 3600, 1) if r.median_s is not None else None,
            )
            for r in stages
        ],
    )
