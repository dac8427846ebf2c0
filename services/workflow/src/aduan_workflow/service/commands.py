"""An officer's or reporter's command: decided on the locked report, stored, announced,
and answered (CommandAccepted/CommandRefused) in the same unit of work."""

from __future__ import annotations

from dataclasses import replace

from aduan_contracts.commands import MergeReport, SubmitFollowUp, WorkflowCommand
from aduan_contracts.envelope import utcnow
from aduan_contracts.events import CommandAccepted, CommandRefused
from aduan_workflow.adapters.stores import Unit
from aduan_workflow.domain.evidence import check_evidence
from aduan_workflow.domain.lifecycle import (
    Refusal,
    Report,
    Transition,
    check_merge_target,
    decide,
)
from aduan_workflow.service.recording import Move, Rules, move

__all__ = ["handle_command"]


async def handle_command(
    unit: Unit, rules: Rules, command: WorkflowCommand, reply_topic: str
) -> CommandAccepted | CommandRefused:
    """Apply `command` and queue its reply to `reply_topic` (a qualified topic name)."""
    reply = await _execute(unit, rules, command)
    unit.publish(reply_topic, reply, key=command.report_id)
    return reply


async def _with_evidence(unit: Unit, rules: Rules, report: Report, step: Transition) -> Transition:
    """Attach the evidence check of the TL's photos (informs the validator only)."""
    if step.follow_up is None:
        return step
    point = await unit.reports.location(report.id)
    evidence = check_evidence(
        step.follow_up.photos, report.received_at, point, rules.evidence_max_distance_m
    )
    if evidence is None:
        return step
    follow_up = step.follow_up.model_copy(update={"evidence": evidence})
    return replace(step, follow_up=follow_up, evidence=evidence)


async def _execute(
    unit: Unit, rules: Rules, command: WorkflowCommand
) -> CommandAccepted | CommandRefused:
    def refused(refusal: Refusal) -> CommandRefused:
        return CommandRefused(
            command_id=command.event_id,
            report_id=command.report_id,
            code=refusal.code,
            reason=refusal.reason,
            correlation_id=command.correlation_id,
            causation_id=str(command.event_id),
        )

    report = await unit.reports.get(command.report_id, lock=True)
    if report is None:
        return refused(Refusal("not_found", f"report {command.report_id} is unknown"))
    step = decide(report, command, utcnow(), rules.reopen_window)
    if isinstance(step, Transition) and isinstance(command, MergeReport):
        # Locked, so the primary cannot change status between our read of it and our
        # commit: the merged report would miss that change's fan-out.
        primary = await unit.reports.get(command.primary_report_id, lock=True)
        if problem := check_merge_target(report, primary):
            step = problem
        elif primary is not None:
            step = replace(step, primary_status=primary.status)
    if isinstance(step, Transition) and isinstance(command, SubmitFollowUp):
        step = await _with_evidence(unit, rules, report, step)
    if isinstance(step, Refusal):
        return refused(step)
    moved = await move(
        unit, rules, [Move(report, step, command.correlation_id, str(command.event_id))]
    )
    after = moved.get(report.id)
    if after is None:
        # Unreachable while the row is locked FOR UPDATE; kept as the last guard.
        return refused(Refusal("version_conflict", "the report changed meanwhile; retry"))
    return CommandAccepted(
        command_id=command.event_id,
        report_id=after.id,
        status=after.status,
        version=after.version,
        correlation_id=command.correlation_id,
        causation_id=str(command.event_id),
    )
