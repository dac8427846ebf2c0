"""SLA escalation up the unit line (issue 19, decisions D19).

Workflow runs the clocks on the working-day calendar and publishes `SlaReminderDue` (a
deadline is near) and `SlaBreached` (it passed), naming the unit the report sits at. The
gateway owns the units, so it projects who is flagged: the parent of that unit (a kelurahan's
kecamatan, a Suku Dinas's Dinas) for a reminder and again for a breach; the validator
bureau for every breach (it sees all reports anyway: its dashboard counts them). One row
per clock and kind (`escalations`' key): a redelivered or replayed event changes nothing,
on top of the inbox's once-only claim.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from aduan_contracts.events import SlaBreached, SlaReminderDue
from aduan_gateway.adapters.tables import ESCALATIONS, REPORTS
from aduan_gateway.service.units import UnitTree, load_tree

__all__ = ["escalation_note", "project_escalation"]


def escalation_note(kind: str, tree: UnitTree, from_unit: str | None, to_unit: str | None) -> str:
    """The timeline's human line; the console translates on the entry's `escalation`."""

    def name(unit_id: str | None) -> str:
        unit = tree.get(unit_id)
        return unit.name if unit is not None else (unit_id or "triage")

    where = name(from_unit)
    if kind == "breach":
        if to_unit is None:
            return f"overdue at {where}, flagged to the validator bureau"
        return f"overdue at {where}, flagged to {name(to_unit)} and the validator bureau"
    if to_unit is None:
        return f"nearly due at {where}"
    return f"nearly due at {where}, flagged to {name(to_unit)}"


async def project_escalation(
    session: AsyncSession, event: SlaReminderDue | SlaBreached, now: datetime | None = None
) -> bool:
    """Record the escalation; False when this clock's reminder (or breach) was already."""
    kind = "breach" if isinstance(event, SlaBreached) else "reminder"
    tree = await load_tree(session)
    row = (
        await session.execute(
            select(REPORTS.c.agency_id, REPORTS.c.status_version).where(
                REPORTS.c.report_id == event.report_id
            )
        )
    ).first()
    # The unit the clock ran at, as workflow saw it; the read model's when the event has
    # none (an older workflow).
    from_unit = event.agency_id or (row.agency_id if row is not None else None)
    unit = tree.get(from_unit)
    to_unit = unit.parent_id if unit is not None else None
    result = await session.execute(
        insert(ESCALATIONS)
        .values(
            report_id=event.report_id,
            kind=kind,
            stage=event.stage.value,
            due_at=event.due_at,
            from_unit=from_unit,
            to_unit=to_unit,
            after_version=row.status_version if row is not None else 0,
            note=escalation_note(kind, tree, from_unit, to_unit),
            at=now or datetime.now(UTC),
        )
        .on_conflict_do_nothing()
        .returning(ESCALATIONS.c.report_id)
    )
    return result.first() is not None
