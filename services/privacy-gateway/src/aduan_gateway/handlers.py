"""Kafka subscribers: build the read model from intake and workflow events, and queue the
public projection of public reports in the same transaction (inbox -> state -> outbox)."""

from __future__ import annotations

import base64
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from aduan_contracts.commands import WorkflowCommand
from aduan_contracts.events import (
    CategoryPublished,
    PublicReportEvent,
    ReportAmended,
    ReporterErasureRequested,
    ReporterKeyEvent,
    ReporterKeyIssued,
    ReporterQuestionAsked,
    ReportIntakeEvent,
    ReportStatusChanged,
    ReportSubmitted,
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
from aduan_gateway.conversation import erase_reporter_messages, record_reporter_message
from aduan_gateway.domain.projection import public_event
from aduan_gateway.escalation import project_escalation
from aduan_gateway.readmodel import (
    READ_MODEL_WRITERS_LOCK,
    Written,
    apply_content,
    apply_status,
    delete_key,
    erase_identity,
    load_public,
    lock_keys,
    refresh_public_text,
    store_key,
)
from aduan_gateway.tables import INBOX, OUTBOX
from aduan_kit.batching import Route, subscribe_units
from aduan_kit.logging import get_logger
from aduan_kit.messaging import add_to_outbox
from aduan_kit.runtime import ServiceRuntime

__all__ = ["register_handlers"]

log = get_logger(__name__)


def register_handlers(runtime: ServiceRuntime) -> None:
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

    async def project(
        session: AsyncSession, report_id: UUID, correlation_id: str, causation_id: str
    ) -> None:
        # The stored public text: projecting opens no identity either.
        record = await load_public(session, report_id)
        if record is None:
            return
        event = public_event(record, correlation_id, causation_id)
        if event is not None:
            await add_to_outbox(session, OUTBOX, public_topic, event, key=report_id)

    async def project_if(
        session: AsyncSession, written: Written | bool, report_id: UUID, event: Any
    ) -> None:
        """Project after a write, unless what the write returned already shows the report
        cannot be projected (private or incomplete): then the read back is skipped."""
        if written is False or (isinstance(written, Written) and not written.projectable):
            return
        await project(session, report_id, event.correlation_id, str(event.event_id))

    async def on_intake(session: AsyncSession, event: ReportIntakeEvent) -> None:
        if isinstance(event, ReportAmended):
            # What the reporter wrote after filing: an answer to an officer's question, or
            # a message of their own; officers see it on the report's conversation.
            new = await record_reporter_message(session, event)
            log.info("reporter message stored", report_id=str(event.report_id), new=new)
            return
        assert isinstance(event, ReportSubmitted)
        written = await apply_content(session, event)
        if written is not None:
            await project_if(session, written, event.report_id, event)
        log.info("report content stored", report_id=str(event.report_id))

    async def on_status_changed(session: AsyncSession, event: ReportStatusChanged) -> None:
        written = await apply_status(session, event)
        await project_if(session, written, event.report_id, event)
        log.info(
            "report status stored",
            report_id=str(event.report_id),
            version=event.version,
            status=event.to_status.value,
        )

    async def on_reporter_key(session: AsyncSession, event: ReporterKeyEvent) -> None:
        # First: every report of this reporter committed before is seen below, and none is
        # written meanwhile (see `lock_keys`).
        await lock_keys(session, exclusive=True)
        if isinstance(event, ReporterKeyIssued):
            await store_key(session, event.key_id, base64.b64decode(event.key))
            # The key may come after the report: redact its public text now that the
            # reporter's name can be hidden, and project again.
            touched = await refresh_public_text(session, event.key_id)
        else:
            # Scrub the name from stored text first: it needs the key to open it.
            touched = await erase_identity(session, event.key_id)
            await erase_reporter_messages(session, touched)
            await delete_key(session, event.key_id)
            log.info("reporter key shredded", key_id=str(event.key_id), reports=len(touched))
        for report_id in touched:
            await project(session, report_id, event.correlation_id, str(event.event_id))

    async def on_sla(session: AsyncSession, event: SlaReminderDue | SlaBreached) -> None:
        new = await project_escalation(session, event)
        log.info(
            "sla escalation stored",
            report_id=str(event.report_id),
            kind=event.event_type,
            stage=event.stage.value,
            new=new,
        )

    def topic(name: str) -> str:
        return runtime.topic(name)

    # ONE consumer for the four topics (issue 18): per poll one transaction, one inbox claim
    # for every event and one offset commit (aduan_kit.batching.subscribe_units), so the
    # read-model writers' lock is taken once per poll instead of once per topic's batch.
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
                apply=on_reporter_key,
            ),
            Route(
                topic(REPORT_INTAKE.name), ReportIntakeEvent, "gateway.on_intake", apply=on_intake
            ),
            Route(
                topic(STATUS_CHANGED.name),
                ReportStatusChanged,
                "gateway.on_status_changed",
                apply=on_status_changed,
            ),
            Route(topic(SLA_EVENTS.name), SlaEvent, "gateway.on_sla", apply=on_sla),
        ],
        inbox=INBOX,
        outbox=OUTBOX,
        serialize_with=READ_MODEL_WRITERS_LOCK,
        title="gateway.read-model",
        description="The read model, one consumer for its topics: report content (public "
        "reports are projected, reporter messages kept for the conversation), lifecycle "
        "transitions, per-reporter keys (kept to open identities for administrators' audited "
        "reads and reporter self-service; a shredded key is deleted with every sealed copy) "
        "and SLA reminders and breaches, flagged up the unit line (the parent of the unit the "
        "report sits at, and the validator bureau for a breach).",
    )
