"""Kafka subscribers: build the read model from intake and workflow events, and queue the
public projection of public reports in the same transaction (inbox -> state -> outbox)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any
from uuid import UUID

from aduan_contracts.commands import WorkflowCommand
from aduan_contracts.events import (
    CategoryPublished,
    PublicReportEvent,
    ReportAmended,
    ReporterErasureRequested,
    ReporterKeyEvent,
    ReporterKeyShredded,
    ReporterQuestionAsked,
    ReportIntakeEvent,
    ReportStatusChanged,
    SlaBreached,
    SlaEvent,
    SlaReminderDue,
)
from aduan_contracts.topics import (
    CATEGORIES,
    ERASURE_REQUESTS,
    PUBLIC_REPORTS,
    REPORT_INTAKE,
    REPORTER_KEYS,
    REPORTER_QUESTIONS,
    SLA_EVENTS,
    STATUS_CHANGED,
    WORKFLOW_COMMANDS,
)
from aduan_gateway.adapters.projection_pg import PgProjectionUnit
from aduan_gateway.adapters.readmodel import READ_MODEL_WRITERS_LOCK
from aduan_gateway.adapters.tables import INBOX, OUTBOX
from aduan_gateway.service import projector
from aduan_gateway.service.escalation import project_escalation
from aduan_kit.batching import Route, subscribe_units
from aduan_kit.logging import get_logger
from aduan_kit.runtime import ServiceRuntime
from aduan_kit.uow import UnitOfWork

__all__ = ["register_handlers"]

log = get_logger(__name__)


def _needs_session(event: object) -> bool:
    """The read model's steps that still use the ORM session (see `subscribe_units`)."""
    return isinstance(event, ReportAmended | ReporterKeyShredded | SlaBreached | SlaReminderDue)


def register_handlers(
    runtime: ServiceRuntime,
    *,
    read_model: bool = True,
    changed: Callable[[Iterable[UUID] | None], None] | None = None,
) -> None:
    """The gateway's publishers (for the AsyncAPI document) and, with `read_model`, the read
    model's consumer (off in the HTTP workers that only answer: see `bootstrap.create_app`).
    `changed` is told, right after each poll's commit, which reports it may have changed
    (None: any), so this process's report cache is never behind its own writes."""
    broker = runtime.broker
    public_topic = runtime.topic(PUBLIC_REPORTS.name)

    # Declared for the AsyncAPI document only: the outbox relay does the sending.
    broker.publisher(
        public_topic,
        title="gateway.public-reports",
        description="Redacted public views of PUBLIC reports (never private ones), keyed by "
        "report id; PublicReportWithdrawn when a report is rejected.",
        schema=PublicReportEvent,
    )

    broker.publisher(
        runtime.topic(ERASURE_REQUESTS.name),
        title="gateway.erasure-requested",
        description="A reporter (or an administrator for them) asked for their identity to be "
        "erased; intake shreds the key. Keyed by key id.",
        schema=ReporterErasureRequested,
    )
    broker.publisher(
        runtime.topic(WORKFLOW_COMMANDS.name),
        title="gateway.workflow-commands",
        description="Officer and reporter actions for workflow, keyed by report id, with a "
        "`reply_to` header naming the replies topic this gateway reads (no consumer group).",
        schema=WorkflowCommand,
    )
    broker.publisher(
        runtime.topic(CATEGORIES.name),
        title="gateway.categories",
        description="The category catalogue administrators manage: each change publishes the "
        "category's full state (compacted, keyed by code; retired ones stay, inactive); "
        "every category again at each gateway start.",
        schema=CategoryPublished,
    )
    broker.publisher(
        runtime.topic(REPORTER_QUESTIONS.name),
        title="gateway.reporter-questions",
        description="An officer's question to a report's reporter (\"ask the reporter\"), "
        "keyed by report id; the notifier delivers it on the reporter's channel.",
        schema=ReporterQuestionAsked,
    )

    async def on_sla(uow: UnitOfWork, events: list[SlaReminderDue | SlaBreached]) -> list[bool]:
        _touch(events)
        results = []
        for event in events:
            new = await project_escalation(uow.session, event)
            log.info(
                "sla escalation stored",
                report_id=str(event.report_id),
                kind=event.event_type,
                stage=event.stage.value,
                new=new,
            )
            results.append(new)
        return results

    def topic(name: str) -> str:
        return runtime.topic(name)

    # The reports a poll touched: its events' and the public events it published (a key's
    # arrival can make a report public), or every report after an erasure (its reports
    # are found by key). A rolled-back poll's ids stay for the next: a spare eviction.
    touched: set[UUID] = set()
    touched_all = False

    def _touch(items: Iterable[Any]) -> None:
        nonlocal touched_all
        for item in items:
            if isinstance(item, ReporterKeyShredded):
                touched_all = True
            elif (report_id := getattr(item, "report_id", None)) is not None:
                touched.add(report_id)

    def after_commit(_: list[Any]) -> None:
        nonlocal touched_all
        if changed is not None and (touched or touched_all):
            changed(None if touched_all else set(touched))
        touched.clear()
        touched_all = False

    # The projector's use cases get the kit's unit of work wrapped in their store.
    async def apply_keys(uow: UnitOfWork, events: list[ReporterKeyEvent]) -> list[Any]:
        _touch(events)
        results = await projector.apply_keys(PgProjectionUnit(uow), events)
        _touch(results)
        return results

    async def apply_intake(uow: UnitOfWork, events: list[ReportIntakeEvent]) -> list[Any]:
        _touch(events)
        results = await projector.apply_intake(PgProjectionUnit(uow), events)
        _touch(results)
        return results

    async def apply_statuses(uow: UnitOfWork, events: list[ReportStatusChanged]) -> list[Any]:
        _touch(events)
        results = await projector.apply_statuses(PgProjectionUnit(uow), events)
        _touch(results)
        return results

    if not read_model:
        return
    # ONE consumer for the four topics (issue 18): per poll one transaction, one inbox claim
    # for every event and one offset commit (aduan_kit.batching.subscribe_units), so the
    # read-model writers' lock is taken once per poll instead of once per topic's batch.
    # Each topic's events are applied set-based (aduan_gateway.service.projector): one statement
    # per table per poll, public events built in memory from what was written.
    # The inbox consumer names are the ones the per-topic subscribers used, so events they
    # already applied stay applied once. Keys come first: a report whose key arrives in
    # the same poll is projected once, already redacted (the key's refresh of earlier
    # reports still runs). Dead letters go through the outbox; a commit that queued outbox
    # rows wakes the relay itself (aduan_kit.messaging).
    subscribe_units(
        runtime,
        [
            Route(
                topic(REPORTER_KEYS.name),
                ReporterKeyEvent,
                "gateway.on_reporter_key",
                apply_many=apply_keys,
            ),
            Route(
                topic(REPORT_INTAKE.name),
                ReportIntakeEvent,
                "gateway.on_intake",
                apply_many=apply_intake,
            ),
            Route(
                topic(STATUS_CHANGED.name),
                ReportStatusChanged,
                "gateway.on_status_changed",
                apply_many=apply_statuses,
            ),
            Route(topic(SLA_EVENTS.name), SlaEvent, "gateway.on_sla", apply_many=on_sla),
        ],
        inbox=INBOX,
        outbox=OUTBOX,
        after_commit=after_commit,
        serialize_with=READ_MODEL_WRITERS_LOCK,
        # A reporter's message, an erasure and an SLA escalation (rare) still use
        # `uow.session` (the ORM): a batch holding one gets a session; the hot path
        # (submissions, keys issued, status changes) takes raw transactions.
        orm_session=_needs_session,
        title="gateway.read-model",
        description="The read model, one consumer for its topics: report content (public "
        "reports are projected, reporter messages kept for the conversation), lifecycle "
        "transitions, per-reporter keys (kept to open identities for administrators' audited "
        "reads and reporter self-service; a shredded key is deleted with every sealed copy) "
        "and SLA reminders and breaches, flagged up the unit line (the parent of the unit the "
        "report sits at, and the validator bureau for a breach).",
    )
