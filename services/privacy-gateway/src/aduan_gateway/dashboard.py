"""An agency's dashboard (issue 14): aggregates over the read model, never a report.

Counts only: private reports are in the numbers like any other, and nothing identifies a
report, a reporter or an exact time (months and durations). Computed in PostgreSQL with
one statement per figure over the agency's reports (indexes: reports by agency, the
timeline by report and version); at 100k reports a figure reads one agency's slice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

__all__ = ["Dashboard", "StageFigure", "dashboard"]

# Statuses that have left the agency's hands for good.
CLOSED = ("completed", "rejected", "merged")


@dataclass(frozen=True, slots=True)
class StageFigure:
    stage: str
    measured: int  # steps with a deadline that ended
    on_time: int
    median_hours: float | None


@dataclass(frozen=True, slots=True)
class Dashboard:
    agency_id: str | None  # None: the whole city (full-access roles)
    open_by_status: dict[str, int]
    overdue: int
    completed_by_month: list[tuple[str, int]]  # ("2026-11", n), oldest first
    stages: list[StageFigure]


# Every statement is scoped the same way: one agency (:agency), or the city (NULL).
_OPEN = """
SELECT r.status, count(*) AS n FROM reports r
WHERE r.has_content AND r.status IS NOT NULL AND r.status <> ALL(:closed)
  AND (CAST(:agency AS text) IS NULL OR r.agency_id = :agency)
GROUP BY r.status
"""

# The latest step carries the deadline of the clock that runs now (workflow sends it on
# every transition).
_OVERDUE = """
SELECT count(*) FROM reports r
JOIN timeline t ON t.report_id = r.report_id AND t.version = r.status_version
WHERE r.has_content AND r.status <> ALL(:closed)
  AND (CAST(:agency AS text) IS NULL OR r.agency_id = :agency)
  AND (t.extra ->> 'due_at') IS NOT NULL AND (t.extra ->> 'due_at')::timestamptz < now()
"""

_COMPLETED = """
SELECT to_char(date_trunc('month', t.occurred_at AT TIME ZONE 'Asia/Jakarta'), 'YYYY-MM')
         AS m,
       count(DISTINCT t.report_id) AS n
FROM timeline t JOIN reports r ON r.report_id = t.report_id
WHERE t.status = 'completed' AND (CAST(:agency AS text) IS NULL OR r.agency_id = :agency)
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
  WHERE (CAST(:agency AS text) IS NULL OR r.agency_id = :agency)
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


async def dashboard(session: AsyncSession, agency_id: str | None, months: int = 12) -> Dashboard:
    params: dict[str, Any] = {"agency": agency_id, "closed": list(CLOSED), "months": months}
    open_rows = (await session.execute(text(_OPEN), params)).all()
    overdue = int((await session.execute(text(_OVERDUE), params)).scalar_one())
    completed = (await session.execute(text(_COMPLETED), params)).all()
    stages = (await session.execute(text(_STAGES), params)).all()
    return Dashboard(
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
