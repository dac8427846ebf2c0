"""New reports open cases, a batch at a time (the hot path: every complaint passes here).

`open_reports(unit, rules, events)` takes one poll's new intake events and stores them
with one statement per table for the whole batch. The catalogue is read once for the
categories present and each report's route decided first, so a routed report is inserted
already dispatched (a report already open is skipped: `add_new` returns only the ids it
inserted), and its two steps, received then dispatched, go into the history, the SLA
clocks (its triage clock written once, already closed) and the outbox together, in that
order.

A citizen's "me too" (`follows`, rare) is merged one report at a time after that, since it
locks and reads another report; when it cannot be merged, the report is routed then like
any other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from uuid import UUID

from aduan_contracts.commands import DispatchReport, MergeReport
from aduan_contracts.enums import ReportStatus
from aduan_contracts.envelope import utcnow
from aduan_contracts.events import AutoRoute, ReportIntakeEvent, ReportSubmitted
from aduan_kit.logging import get_logger
from aduan_workflow.adapters.stores import Unit
from aduan_workflow.domain.lifecycle import (
    SYSTEM_ACTOR,
    Report,
    Transition,
    apply,
    check_merge_target,
    decide,
    opening,
)
from aduan_workflow.domain.routing import choose_route
from aduan_workflow.service.recording import Clocks, Move, Rules, Step, move, opened, record

__all__ = ["auto_route", "follow", "open_reports", "plan_routes", "wanted"]

log = get_logger(__name__)


def wanted(event: ReportIntakeEvent) -> bool:
    """Amendments add content only, which workflow does not hold: not even claimed."""
    return isinstance(event, ReportSubmitted)


async def open_reports(unit: Unit, rules: Rules, events: Sequence[ReportIntakeEvent]) -> list[UUID]:
    """Open a case (status received) for each new report, and dispatch it at once when a
    rule routes its category (or merge it into the report it follows). The ids opened."""
    now = utcnow()
    fresh: dict[UUID, tuple[ReportSubmitted, Report]] = {}
    for event in events:
        if not isinstance(event, ReportSubmitted):
            continue
        report = opening(event)
        if report.id in fresh:
            # The same report twice in one batch under two event ids: the first opens it.
            log.warning(
                "report already open; event ignored",
                report_id=str(report.id),
                event_id=str(event.event_id),
            )
            continue
        fresh[report.id] = (event, report)
    if not fresh:
        return []
    # Routed before anything is written: a routed report is stored dispatched at once, and
    # its two steps (received, then dispatched) are recorded together, one statement per
    # table for the whole batch.
    routes = await plan_routes(
        unit, rules, [(e, r) for e, r in fresh.values() if e.follows is None]
    )
    stored = await unit.reports.add_new(
        [
            apply(report, routes[report.id].transition) if report.id in routes else report
            for _, report in fresh.values()
        ],
        now,
    )
    todo = []
    for event, report in fresh.values():
        if report.id in stored:
            todo.append((event, report))
        else:
            # The inbox stops the same event; this the same report under a new event id
            # (e.g. intake re-publishing after a crash).
            log.warning(
                "report already open; event ignored",
                report_id=str(report.id),
                event_id=str(event.event_id),
            )
    await unit.reports.add_locations(
        [
            (report.id, event.location.point)
            for event, report in todo
            if event.location is not None and event.location.point is not None
        ]
    )
    steps = []
    for event, report in todo:
        steps.append(
            Step(report, opened(report, now), None, event.correlation_id, str(event.event_id))
        )
        if (routed := routes.get(report.id)) is not None:
            step = routed.transition
            steps.append(
                Step(
                    apply(report, step),
                    step,
                    step.from_status,
                    routed.correlation_id,
                    routed.causation_id,
                    routed.route,
                )
            )
    known: Clocks = {}
    await record(unit, rules, steps, known)
    for event, report in todo:
        if event.follows is not None and not await follow(unit, rules, report, event, known):
            await auto_route(unit, rules, [(event, report)], known)
    log.info("reports opened", count=len(todo), routed=len(steps) - len(todo))
    return [report.id for _, report in todo]


async def auto_route(
    unit: Unit,
    rules: Rules,
    reports: Sequence[tuple[ReportSubmitted, Report]],
    known: Clocks,
) -> None:
    """Dispatch reports already stored (as opened) that a rule routes (`plan_routes`)."""
    routes = await plan_routes(unit, rules, reports)
    # Opened in this unit of work: nothing can have been merged into them yet.
    await move(unit, rules, list(routes.values()), known, fan_out=False)


async def plan_routes(
    unit: Unit, rules: Rules, reports: Sequence[tuple[ReportSubmitted, Report]]
) -> dict[UUID, Move]:
    """Dispatch at once each report whose category is active in the catalogue and routes
    somewhere (SPEC: auto-routing): the most specific area route holding the report's area
    (issue 19), else the category's agency; otherwise it waits in the ticket-admin's triage
    queue, where the ticket-admin may also dispatch it elsewhere (their override).
    `reports` are as opened (status received). The dispatches decided, by report id; the
    catalogue is read once for the categories present."""
    categorised = [(e, r) for e, r in reports if r.category is not None]
    if not categorised:
        return {}
    catalogue = await unit.catalogue.categories({r.category for _, r in categorised if r.category})
    now = utcnow()
    moves: dict[UUID, Move] = {}
    for event, report in categorised:
        assert report.category is not None
        route = choose_route(
            catalogue.get(report.category), event.location, rules.area_route_min_confidence
        )
        if route is None:
            continue
        if route.area_code is None:
            note = f"auto-routed by the rule for category {report.category}"
        else:
            # The words for people; tools read the step's structured `route` (issue 19).
            note = (
                f"auto-routed by the rule for category {report.category} in area {route.area_code}"
            )
        rule = AutoRoute(
            rule="category" if route.area_code is None else "area",
            category=report.category,
            area_code=route.area_code,
            agency_id=route.agency_id,
        )
        command = DispatchReport(
            report_id=report.id,
            actor=SYSTEM_ACTOR,
            agency_id=route.agency_id,
            note=note,
            correlation_id=event.correlation_id,
        )
        step = decide(report, command, now, rules.reopen_window)
        if isinstance(step, Transition):
            moves[report.id] = Move(report, step, event.correlation_id, str(event.event_id), rule)
    return moves


async def follow(
    unit: Unit, rules: Rules, report: Report, event: ReportSubmitted, known: Clocks
) -> bool:
    """A citizen's "me too": merge the new report into the public report they chose at
    once, so they hear what its reporter hears. Not when that report is unknown, merged,
    rejected or already completed (nothing more would be said): the new report is then
    triaged like any other. Returns whether it was merged."""
    assert event.follows is not None
    command = MergeReport(
        report_id=report.id,
        actor=SYSTEM_ACTOR,
        primary_report_id=event.follows,
        correlation_id=event.correlation_id,
    )
    step = decide(report, command, utcnow(), rules.reopen_window)
    if not isinstance(step, Transition):
        return False
    primary = await unit.reports.get(event.follows, lock=True)
    if check_merge_target(report, primary) is not None or primary is None:
        log.info("me-too target cannot take merges", report_id=str(report.id))
        return False
    if primary.status is ReportStatus.COMPLETED:
        return False
    step = replace(step, primary_status=primary.status)
    await move(unit, rules, [Move(report, step, event.correlation_id, str(event.event_id))], known)
    log.info("me-too merged", report_id=str(report.id), primary=str(primary.id))
    return True
