"""Kafka subscribers: new reports open a case; commands move it through its lifecycle.

Each message is applied in one transaction that also claims the inbox and queues what
workflow announces (status changes, command replies) in the outbox, so a redelivered message
changes nothing and nothing is announced that was not committed.
"""

# No `from __future__ import annotations` here: faststream resolves handler annotations at
# registration, and the Annotated unions must stay real objects for it.

import math
import re
import time
from dataclasses import replace
from datetime import datetime
from typing import Any
from uuid import UUID

from aiokafka.admin import AIOKafkaAdminClient
from faststream.kafka import KafkaMessage
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from aduan_contracts.commands import (
    DispatchReport,
    MergeReport,
    SubmitFollowUp,
    WorkflowCommand,
)
from aduan_contracts.enums import Channel, ReportStatus
from aduan_contracts.envelope import utcnow
from aduan_contracts.events import (
    AutoRoute,
    CategoryPublished,
    CommandAccepted,
    CommandRefused,
    CommandReply,
    ReportAmended,
    ReportIntakeEvent,
    ReportStatusChanged,
    ReportSubmitted,
    SlaEvent,
)
from aduan_contracts.topics import (
    ALL_TOPICS,
    COMMAND_REPLIES,
    REPORT_INTAKE,
    SLA_EVENTS,
    STATUS_CHANGED,
    WORKFLOW_COMMANDS,
)
from aduan_contracts.values import GeoPoint
from aduan_kit.batching import subscribe_batches
from aduan_kit.catalogue import subscribe_catalogue
from aduan_kit.db import transaction
from aduan_kit.logging import get_logger
from aduan_kit.messaging import add_to_outbox, claim_inbox
from aduan_kit.runtime import ServiceRuntime
from aduan_workflow.clocks import move_clocks, nearest_deadline
from aduan_workflow.config import Settings
from aduan_workflow.domain.evidence import check_evidence
from aduan_workflow.domain.lifecycle import (
    SYSTEM_ACTOR,
    Refusal,
    Report,
    Transition,
    apply,
    check_merge_target,
    decide,
    follow_primary,
    opening,
)
from aduan_workflow.domain.routing import choose_route
from aduan_workflow.domain.sla import SlaPolicy
from aduan_workflow.tables import (
    CATALOGUE,
    INBOX,
    OUTBOX,
    REPORT_LOCATIONS,
    REPORTS,
    STATUS_HISTORY,
)

__all__ = ["COMMANDS_CONSUMER", "INTAKE_CONSUMER", "register_handlers"]

log = get_logger(__name__)

INTAKE_CONSUMER = "workflow.intake"
COMMANDS_CONSUMER = "workflow.commands"

_TOPIC_NAME = re.compile(r"^[A-Za-z0-9._-]{1,249}$")


def _row_to_report(row: Any) -> Report:
    return Report(
        id=row.id,
        receipt_code=row.receipt_code,
        channel=Channel(row.channel),
        status=ReportStatus(row.status),
        version=row.version,
        agency_id=row.agency_id,
        category=row.category,
        received_at=row.received_at,
        completed_at=row.completed_at,
        merged_into=row.merged_into,
        primary_status=ReportStatus(row.primary_status) if row.primary_status else None,
    )


async def load_report(session: AsyncSession, report_id: UUID, lock: bool = False) -> Report | None:
    stmt = select(REPORTS).where(REPORTS.c.id == report_id)
    if lock:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).first()
    return _row_to_report(row) if row is not None else None


class ReplyTopics:
    """Where a command's reply may go: the caller's `reply_to` topic when it exists and is
    not another contract's topic, else the shared replies topic.

    Topics are not auto-created, and the outbox relay sends rows strictly in order, so a
    reply queued for a missing topic would stall every later status change; hence the
    check against the broker's topic list (cached, refreshed at most once per second on a
    miss, and done before the transaction so no row lock waits on Kafka).
    """

    def __init__(self, bootstrap_servers: str, default: str, reserved: set[str]) -> None:
        self.default = default
        self._bootstrap = bootstrap_servers
        self._reserved = reserved
        self._known: set[str] = set()
        self._listed_at = -math.inf

    async def _list_topics(self) -> set[str]:
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap)
        await admin.start()
        try:
            return set(await admin.list_topics())
        finally:
            await admin.close()

    async def resolve(self, wanted: str) -> str:
        if not wanted:
            return self.default
        if not _TOPIC_NAME.match(wanted) or wanted in self._reserved or wanted.endswith(".dlq"):
            log.warning("reply_to names a topic that may not carry replies; using the default")
            return self.default
        if wanted not in self._known and time.monotonic() - self._listed_at >= 1.0:
            self._known = await self._list_topics()
            self._listed_at = time.monotonic()
        if wanted not in self._known:
            log.warning("reply_to names a topic that does not exist; using the default")
            return self.default
        return wanted


class Recorder:
    """Writes a step of a report's history, moves its SLA clocks, queues its
    `ReportStatusChanged`, and has every report merged into it follow it."""

    def __init__(self, runtime: ServiceRuntime, policy: SlaPolicy) -> None:
        self.status_topic = runtime.topic(STATUS_CHANGED.name)
        self.policy = policy

    async def record(
        self,
        session: AsyncSession,
        report: Report,
        step: Transition,
        from_status: ReportStatus | None,
        correlation_id: str,
        causation_id: str,
        route: AutoRoute | None = None,
    ) -> None:
        """`report` is the report *after* `step`; `from_status` is None for the opening;
        `route` the rule of an automatic dispatch (issue 19)."""
        # Append-only: status_history is only ever inserted into.
        await session.execute(
            STATUS_HISTORY.insert().values(
                report_id=report.id,
                version=report.version,
                from_status=from_status.value if from_status else None,
                to_status=report.status.value,
                actor_id=step.actor.id,
                actor_role=step.actor.role.value,
                actor_agency=step.actor.agency_id,
                actor_display_name=step.actor.display_name,
                reason=step.reason,
                follow_up=step.follow_up.model_dump(mode="json") if step.follow_up else None,
                occurred_at=step.occurred_at,
            )
        )
        started = await move_clocks(
            session,
            self.policy,
            report.id,
            from_status,
            report.status,
            # The triage clock runs from when the citizen filed, not when we got to it.
            report.received_at if from_status is None else step.occurred_at,
            report.category,
            report.agency_id,
        )
        if from_status is None:
            # A new case has no other clock: its nearest deadline is one just started
            # (a query fewer per report, on the hottest path).
            deadline = min(started, key=lambda d: (d.due_at, d.stage.value), default=None)
        else:
            deadline = await nearest_deadline(session, report.id)
        event = ReportStatusChanged(
            occurred_at=step.occurred_at,
            correlation_id=correlation_id,
            causation_id=causation_id,
            report_id=report.id,
            receipt_code=report.receipt_code,
            channel=report.channel,
            version=report.version,
            from_status=from_status,
            to_status=report.status,
            actor=step.actor,
            reason=step.reason[:2000] if step.reason else None,
            category=report.category,
            agency_id=report.agency_id,
            merged_into=report.merged_into,
            follow_up=step.follow_up,
            field_result=step.field_result,
            evidence=step.evidence,
            primary_status=report.primary_status if report.status is ReportStatus.MERGED else None,
            sla_stage=deadline.stage if deadline else None,
            due_at=deadline.due_at if deadline else None,
            route=route,
        )
        await add_to_outbox(session, OUTBOX, self.status_topic, event, key=report.id)

    async def open(
        self, session: AsyncSession, report: Report, at: datetime, cid: str, cause: str
    ) -> None:
        opened = Transition(
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
        await self.record(session, report, opened, None, cid, cause)

    async def transition(
        self,
        session: AsyncSession,
        report: Report,
        step: Transition,
        correlation_id: str,
        causation_id: str,
        route: AutoRoute | None = None,
    ) -> Report | None:
        """Store `step`; None when the report moved on meanwhile (optimistic check)."""
        after = apply(report, step)
        updated = await session.execute(
            REPORTS.update()
            .where(REPORTS.c.id == report.id, REPORTS.c.version == report.version)
            .values(
                status=after.status.value,
                version=after.version,
                agency_id=after.agency_id,
                category=after.category,
                completed_at=after.completed_at,
                merged_into=after.merged_into,
                primary_status=after.primary_status.value if after.primary_status else None,
                updated_at=step.occurred_at,
            )
            .returning(REPORTS.c.id)
        )
        if updated.first() is None:
            return None
        await self.record(
            session, after, step, step.from_status, correlation_id, causation_id, route
        )
        await self.fan_out(session, after, step, correlation_id, causation_id)
        return after

    async def fan_out(
        self,
        session: AsyncSession,
        primary: Report,
        step: Transition,
        correlation_id: str,
        causation_id: str,
    ) -> None:
        """Every report merged into `primary` records the primary's new status, so its
        reporter is told too (SPEC: "every merged reporter is told what happens")."""
        rows = (
            await session.execute(
                select(REPORTS)
                .where(
                    REPORTS.c.merged_into == primary.id,
                    REPORTS.c.status == ReportStatus.MERGED.value,
                )
                .order_by(REPORTS.c.id)
                .with_for_update()
            )
        ).all()
        for row in rows:
            follower = _row_to_report(row)
            await self.transition(
                session,
                follower,
                follow_primary(follower, primary, step),
                correlation_id,
                causation_id,
            )


def register_handlers(runtime: ServiceRuntime, settings: Settings) -> None:
    """Subscribers and (for the AsyncAPI document) publishers on `runtime.broker`."""
    broker = runtime.broker
    recorder = Recorder(runtime, settings.sla_policy())
    replies_topic = runtime.topic(COMMAND_REPLIES.name)
    reply_topics = ReplyTopics(
        settings.kafka_bootstrap_servers,
        replies_topic,
        # Topics that carry other contracts: a reply must never be written into one of them.
        reserved={runtime.topic(spec.name) for spec in ALL_TOPICS} - {replies_topic},
    )

    broker.publisher(
        recorder.status_topic,
        title="workflow.status-changed",
        description=STATUS_CHANGED.description,
        schema=ReportStatusChanged,
    )
    broker.publisher(
        replies_topic,
        title="workflow.command-replies",
        description=COMMAND_REPLIES.description
        + " Sent to the command's `reply_to` header topic when given, else here.",
        schema=CommandReply,
    )
    broker.publisher(
        runtime.topic(SLA_EVENTS.name),
        title="workflow.sla-events",
        description=SLA_EVENTS.description
        + " Emitted once per clock by the SLA scanner (one replica at a time).",
        schema=SlaEvent,
    )

    async def auto_route(session: AsyncSession, report: Report, event: ReportSubmitted) -> None:
        """Dispatch at once when the report's category is active in the catalogue and routes
        somewhere (SPEC: auto-routing): the most specific area route holding the report's
        area (issue 19), else the category's agency; otherwise it waits in the
        ticket-admin's triage queue, where the ticket-admin may also dispatch it elsewhere
        (their override)."""
        if report.category is None:
            return
        record = await session.scalar(
            select(CATALOGUE.c.record).where(CATALOGUE.c.code == report.category)
        )
        category = CategoryPublished.model_validate(record) if record is not None else None
        route = choose_route(category, event.location, settings.area_route_min_confidence)
        if route is None:
            return
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
        step = decide(report, command, utcnow(), settings.reopen_window)
        if isinstance(step, Transition):
            await recorder.transition(
                session, report, step, event.correlation_id, str(event.event_id), route=rule
            )
        if route.area_code is not None:
            log.info(
                "auto-routed by area",
                report_id=str(report.id),
                area=route.area_code,
                agency=route.agency_id,
            )

    async def follow(session: AsyncSession, report: Report, event: ReportSubmitted) -> bool:
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
        step = decide(report, command, utcnow(), settings.reopen_window)
        if not isinstance(step, Transition):
            return False
        primary = await load_report(session, event.follows, lock=True)
        if check_merge_target(report, primary) is not None or primary is None:
            log.info("me-too target cannot take merges", report_id=str(report.id))
            return False
        if primary.status is ReportStatus.COMPLETED:
            return False
        step = replace(step, primary_status=primary.status)
        await recorder.transition(session, report, step, event.correlation_id, str(event.event_id))
        log.info("me-too merged", report_id=str(report.id), primary=str(primary.id))
        return True

    async def on_report_intake(session: AsyncSession, event: ReportIntakeEvent) -> None:
        if isinstance(event, ReportAmended):
            # Amendments add content only, which workflow does not hold.
            return
        report = opening(event)
        now = utcnow()
        inserted = await session.execute(
            insert(REPORTS)
            .values(
                id=report.id,
                receipt_code=report.receipt_code,
                channel=report.channel.value,
                status=report.status.value,
                version=report.version,
                agency_id=None,
                category=report.category,
                received_at=report.received_at,
                updated_at=now,
            )
            # The inbox stops the same event; this stops the same report arriving
            # again under a new event id (e.g. intake re-publishing after a crash).
            .on_conflict_do_nothing(index_elements=[REPORTS.c.id])
            .returning(REPORTS.c.id)
        )
        if inserted.first() is None:
            log.warning(
                "report already open; event ignored",
                report_id=str(report.id),
                event_id=str(event.event_id),
            )
            return
        if event.location is not None and event.location.point is not None:
            await session.execute(
                insert(REPORT_LOCATIONS)
                .values(
                    report_id=report.id,
                    lat=event.location.point.lat,
                    lon=event.location.point.lon,
                )
                .on_conflict_do_nothing(index_elements=[REPORT_LOCATIONS.c.report_id])
            )
        await recorder.open(session, report, now, event.correlation_id, str(event.event_id))
        if event.follows is not None and await follow(session, report, event):
            return
        await auto_route(session, report, event)
        log.info("report opened", report_id=str(report.id), event_id=str(event.event_id))

    # In batches: one transaction, inbox claim and offset commit per poll (aduan_kit.batching).
    subscribe_batches(
        runtime,
        runtime.topic(REPORT_INTAKE.name),
        model=ReportIntakeEvent,
        consumer=INTAKE_CONSUMER,
        inbox=INBOX,
        outbox=OUTBOX,
        apply=on_report_intake,
        title="workflow.on-report-intake",
        description="Opens a case (status received) for every new report; "
        "auto-dispatches it when a routing rule knows its category.",
    )

    async def with_evidence(session: AsyncSession, report: Report, step: Transition) -> Transition:
        """Attach the evidence check of the TL's photos (informs the validator only)."""
        if step.follow_up is None:
            return step
        location = (
            await session.execute(
                select(REPORT_LOCATIONS).where(REPORT_LOCATIONS.c.report_id == report.id)
            )
        ).first()
        point = GeoPoint(lat=location.lat, lon=location.lon) if location is not None else None
        evidence = check_evidence(
            step.follow_up.photos, report.received_at, point, settings.evidence_max_distance_m
        )
        if evidence is None:
            return step
        follow_up = step.follow_up.model_copy(update={"evidence": evidence})
        return replace(step, follow_up=follow_up, evidence=evidence)

    async def execute(
        session: AsyncSession, command: WorkflowCommand
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

        report = await load_report(session, command.report_id, lock=True)
        if report is None:
            return refused(Refusal("not_found", f"report {command.report_id} is unknown"))
        step = decide(report, command, utcnow(), settings.reopen_window)
        if isinstance(step, Transition) and isinstance(command, MergeReport):
            # Locked, so the primary cannot change status between our read of it and our
            # commit: the merged report would miss that change's fan-out.
            primary = await load_report(session, command.primary_report_id, lock=True)
            if problem := check_merge_target(report, primary):
                step = problem
            elif primary is not None:
                step = replace(step, primary_status=primary.status)
        if isinstance(step, Transition) and isinstance(command, SubmitFollowUp):
            step = await with_evidence(session, report, step)
        if isinstance(step, Refusal):
            return refused(step)
        after = await recorder.transition(
            session, report, step, command.correlation_id, str(command.event_id)
        )
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

    @broker.subscriber(
        runtime.topic(WORKFLOW_COMMANDS.name),
        group_id=settings.consumer_group,
        auto_offset_reset="earliest",
        # The reply goes through the outbox (same transaction as the change); faststream's
        # own reply would be sent before the commit, and once more per redelivery.
        no_reply=True,
        title="workflow.on-command",
        description="Applies an officer's or reporter's command and replies "
        "CommandAccepted/CommandRefused on the `reply_to` topic.",
    )
    async def on_workflow_command(command: WorkflowCommand, msg: KafkaMessage) -> None:
        reply_topic = await reply_topics.resolve(msg.reply_to)
        async with transaction(runtime.sessions) as session:
            if not await claim_inbox(session, INBOX, COMMANDS_CONSUMER, command.event_id):
                # Redelivery: its reply was queued with the first delivery.
                log.info("command already applied", event_id=str(command.event_id))
                return
            reply = await execute(session, command)
            await add_to_outbox(session, OUTBOX, reply_topic, reply, key=command.report_id)
        log.info(
            "command handled",
            report_id=str(command.report_id),
            command=command.command_type,
            outcome=reply.event_type,
            code=getattr(reply, "code", None),
        )
        runtime.wake_relay()

    # The gateway's category catalogue -> workflow's copy (routing reads it per report).
    subscribe_catalogue(
        runtime,
        CATALOGUE,
        title="workflow.on-category",
        description="Keeps workflow's copy of the category catalogue (the agency each "
        "active category routes to); no consumer group, the whole compacted topic at start.",
    )
