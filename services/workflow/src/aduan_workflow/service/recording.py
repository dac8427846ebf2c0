"""Storing steps of reports' lifecycles, a list at a time: the state, the history, the SLA
clocks and the `ReportStatusChanged` announcing each step. Every use case goes through
here, the intake batch (hundreds of steps per call) as well as a single command.

Each store gets one call per list (one set-based statement in PostgreSQL), so the cost per
step is the Python that builds its rows and its event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from uuid import UUID

from aduan_contracts.enums import ReportStatus, SlaStage
from aduan_contracts.events import AutoRoute, ReportStatusChanged
from aduan_contracts.topics import STATUS_CHANGED
from aduan_workflow.adapters.stores import (
    Change,
    ClockStart,
    ClockStop,
    Deadline,
    HistoryRow,
    Unit,
)
from aduan_workflow.config import Settings
from aduan_workflow.domain.lifecycle import (
    SYSTEM_ACTOR,
    Report,
    Transition,
    apply,
    follow_primary,
)
from aduan_workflow.domain.sla import SlaPolicy, clock_changes

__all__ = ["Clocks", "Move", "Rules", "Step", "move", "opened", "record"]

Clocks = dict[UUID, dict[SlaStage, Deadline]]
"""The running clocks of reports opened in this unit of work, known without asking the
database (all their clocks were started here)."""


@dataclass(frozen=True, slots=True)
class Rules:
    """What the deployment's settings decide for the use cases."""

    policy: SlaPolicy
    reopen_window: timedelta
    area_route_min_confidence: float
    evidence_max_distance_m: float

    @classmethod
    def from_settings(cls, settings: Settings) -> Rules:
        return cls(
            policy=settings.sla_policy(),
            reopen_window=settings.reopen_window,
            area_route_min_confidence=settings.area_route_min_confidence,
            evidence_max_distance_m=settings.evidence_max_distance_m,
        )


@dataclass(frozen=True, slots=True)
class Step:
    """`report` is the report *after* `transition`; `from_status` None for the opening;
    `route` the rule of an automatic dispatch (issue 19)."""

    report: Report
    transition: Transition
    from_status: ReportStatus | None
    correlation_id: str
    causation_id: str
    route: AutoRoute | None = None


@dataclass(frozen=True, slots=True)
class Move:
    """A decided transition of `report` (as read) to store."""

    report: Report
    transition: Transition
    correlation_id: str
    causation_id: str
    route: AutoRoute | None = None


def opened(report: Report, at: datetime) -> Transition:
    """The opening step of a new report (no status before it)."""
    return Transition(
        from_status=report.status,
        to_status=report.status,
        version=report.version,
        actor=SYSTEM_ACTOR,
        occurred_at=at,
        reason=None,
        agency_id=None,
        category=report.category,
        completed_at=None,
        merged_into=None,
    )


def _nearest(running: dict[SlaStage, Deadline]) -> Deadline | None:
    # The database's order (due_at, then stage) for the same answer either way.
    return min(running.values(), key=lambda d: (d.due_at, d.stage.value), default=None)


async def record(
    unit: Unit, rules: Rules, steps: Sequence[Step], known: Clocks | None = None
) -> None:
    """History, clocks and the announcement of each step, in order. `known` holds the
    clocks of reports opened in this unit of work and is kept up to date (a new report's
    clocks are added to it); such a report may take several steps in one call (opened,
    then dispatched: a clock started and stopped within the call is written once, closed).
    Any other report takes at most one step per call."""
    known = {} if known is None else known
    opened_here = set(known) | {s.report.id for s in steps if s.from_status is None}
    others = [s.report.id for s in steps if s.report.id not in opened_here]
    assert len(set(others)) == len(others), "one step per report not opened here"
    history: list[HistoryRow] = []
    stops: list[ClockStop] = []
    starts: list[ClockStart] = []
    # Clocks started in this call and still running: (report, stage) -> index in `starts`.
    pending: dict[tuple[UUID, SlaStage], int] = {}
    reassigned: list[tuple[UUID, str | None]] = []
    deadlines: list[Deadline | None] = []
    for s in steps:
        report, step = s.report, s.transition
        # Append-only: status_history is only ever inserted into.
        history.append(
            HistoryRow(
                report_id=report.id,
                version=report.version,
                from_status=s.from_status,
                to_status=report.status,
                actor=step.actor,
                reason=step.reason,
                follow_up=step.follow_up,
                occurred_at=step.occurred_at,
            )
        )
        # Stop the clocks of stages the report left, start those of stages it entered. The
        # triage clock runs from when the citizen filed, not when we got to it.
        at = report.received_at if s.from_status is None else step.occurred_at
        stopped, started = clock_changes(s.from_status, report.status)
        if s.from_status is None:
            known[report.id] = {}
        running = known.get(report.id)
        for stage in sorted(stopped):
            index = pending.pop((report.id, stage), None)
            if index is None:
                stops.append(ClockStop(report.id, stage, at))
            else:
                starts[index] = replace(starts[index], closed_at=at)
            if running is not None:
                running.pop(stage, None)
        for stage in sorted(started):
            due = rules.policy.due(stage, report.category, at)
            pending[(report.id, stage)] = len(starts)
            starts.append(
                ClockStart(
                    report_id=report.id,
                    stage=stage,
                    category=report.category,
                    agency_id=report.agency_id,
                    started_at=at,
                    due_at=due.due_at,
                    remind_at=due.remind_at,
                )
            )
            if running is not None:
                # As the database gives it back (UTC), so events read the same either way.
                running[stage] = Deadline(stage, due.due_at.astimezone(UTC))
        if not started and report.status is not s.from_status:
            # The running clocks stay, but the agency on them follows the report.
            reassigned.append((report.id, report.agency_id))
            for (rid, _), index in pending.items():
                if rid == report.id:
                    starts[index] = replace(starts[index], agency_id=report.agency_id)
        deadlines.append(_nearest(running) if running is not None else None)
    await unit.history.append(history)
    await unit.clocks.stop(stops)
    await unit.clocks.start(starts)
    await unit.clocks.reassign(reassigned)
    asked = await unit.clocks.nearest([s.report.id for s in steps if s.report.id not in known])
    for s, deadline in zip(steps, deadlines, strict=True):
        report, step = s.report, s.transition
        if report.id not in known:
            deadline = asked.get(report.id)
        unit.publish(
            STATUS_CHANGED,
            ReportStatusChanged(
                occurred_at=step.occurred_at,
                correlation_id=s.correlation_id,
                causation_id=s.causation_id,
                report_id=report.id,
                receipt_code=report.receipt_code,
                channel=report.channel,
                version=report.version,
                from_status=s.from_status,
                to_status=report.status,
                actor=step.actor,
                reason=step.reason[:2000] if step.reason else None,
                category=report.category,
                agency_id=report.agency_id,
                merged_into=report.merged_into,
                follow_up=step.follow_up,
                field_result=step.field_result,
                evidence=step.evidence,
                primary_status=report.primary_status
                if report.status is ReportStatus.MERGED
                else None,
                sla_stage=deadline.stage if deadline else None,
                due_at=deadline.due_at if deadline else None,
                route=s.route,
            ),
            key=report.id,
        )


async def move(
    unit: Unit,
    rules: Rules,
    moves: Sequence[Move],
    known: Clocks | None = None,
    *,
    fan_out: bool = True,
) -> dict[UUID, Report]:
    """Store each decided transition (one per report) whose report did not move on
    meanwhile (optimistic check), record it, and have the reports merged into each moved
    report follow it. The reports after their moves, by id (a report that moved on
    meanwhile is missing). `fan_out=False`: the caller knows none has followers."""
    afters = {m.report.id: apply(m.report, m.transition) for m in moves}
    saved = await unit.reports.save(
        [Change(m.report.version, afters[m.report.id], m.transition.occurred_at) for m in moves]
    )
    done = [m for m in moves if m.report.id in saved]
    await record(
        unit,
        rules,
        [
            Step(
                afters[m.report.id],
                m.transition,
                m.transition.from_status,
                m.correlation_id,
                m.causation_id,
                m.route,
            )
            for m in done
        ],
        known,
    )
    if fan_out and done:
        await _fan_out(unit, rules, {afters[m.report.id].id: m for m in done}, afters, known)
    return {rid: afters[rid] for rid in saved}


async def _fan_out(
    unit: Unit,
    rules: Rules,
    moved: dict[UUID, Move],
    afters: dict[UUID, Report],
    known: Clocks | None,
) -> None:
    """Every report merged into a moved report records that report's new status, so its
    reporter is told too (SPEC: "every merged reporter is told what happens")."""
    followers = await unit.reports.followers(list(moved))
    if not followers:
        return
    moves = []
    for follower in followers:
        assert follower.merged_into is not None
        primary = moved[follower.merged_into]
        moves.append(
            Move(
                follower,
                follow_primary(follower, afters[follower.merged_into], primary.transition),
                primary.correlation_id,
                primary.causation_id,
            )
        )
    await move(unit, rules, moves, known)
