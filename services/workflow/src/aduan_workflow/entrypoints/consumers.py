"""Workflow's Kafka wiring: which topic goes to which use case, and what it publishes.

- Intake events: one unit of work per poll (`aduan_kit.batching.subscribe_units`): one
  transaction, one inbox claim for the batch, `service.intake.open_reports` with the new
  events, one outbox statement, then the offset commit.
- Commands: one message at a time, because the reply goes to the topic in the message's
  `reply_to` header, and a batch use case is given the events only, not their headers
  (see docs/service-conventions.md). Each is still a unit of work of its own: inbox claim,
  the command, its status changes and its reply in one transaction.
- The category catalogue: `aduan_kit.catalogue` (no consumer group; the whole compacted
  topic at every start).
"""

# No `from __future__ import annotations` here: faststream resolves handler annotations at
# registration, and the Annotated unions must stay real objects for it.

from typing import Any

from faststream.kafka import KafkaMessage

from aduan_contracts.commands import WorkflowCommand
from aduan_contracts.events import (
    CommandReply,
    ReportIntakeEvent,
    ReportStatusChanged,
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
from aduan_kit.batching import Route, claim_pairs, subscribe_units
from aduan_kit.catalogue import subscribe_catalogue
from aduan_kit.logging import get_logger
from aduan_kit.runtime import ServiceRuntime
from aduan_kit.uow import UnitOfWork, unit_of_work
from aduan_workflow.adapters.postgres import PgUnit
from aduan_workflow.adapters.reply_topics import ReplyTopics
from aduan_workflow.adapters.tables import CATALOGUE, INBOX, OUTBOX
from aduan_workflow.config import Settings
from aduan_workflow.service import intake
from aduan_workflow.service.commands import handle_command
from aduan_workflow.service.recording import Rules

__all__ = ["COMMANDS_CONSUMER", "INTAKE_CONSUMER", "register"]

log = get_logger(__name__)

INTAKE_CONSUMER = "workflow.intake"
COMMANDS_CONSUMER = "workflow.commands"


def register(runtime: ServiceRuntime, settings: Settings) -> None:
    """Subscribers and (for the AsyncAPI document) publishers on `runtime.broker`."""
    broker = runtime.broker
    rules = Rules.from_settings(settings)
    replies_topic = runtime.topic(COMMAND_REPLIES.name)
    reply_topics = ReplyTopics(
        settings.kafka_bootstrap_servers,
        replies_topic,
        # Topics that carry other contracts: a reply must never be written into one of them.
        reserved={runtime.topic(spec.name) for spec in ALL_TOPICS} - {replies_topic},
    )

    broker.publisher(
        runtime.topic(STATUS_CHANGED.name),
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

    async def open_reports(uow: UnitOfWork, events: list[Any]) -> list[Any]:
        return await intake.open_reports(PgUnit(uow), rules, events)

    subscribe_units(
        runtime,
        [
            Route(
                runtime.topic(REPORT_INTAKE.name),
                ReportIntakeEvent,
                INTAKE_CONSUMER,
                apply_many=open_reports,
                wanted=intake.wanted,
            )
        ],
        inbox=INBOX,
        outbox=OUTBOX,
        title="workflow.on-report-intake",
        description="Opens a case (status received) for every new report; "
        "auto-dispatches it when a routing rule knows its category.",
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
        # Before the transaction, so no row lock waits on the broker's topic list.
        reply_topic = await reply_topics.resolve(msg.reply_to)
        async with unit_of_work(runtime.sessions, OUTBOX, runtime.topic) as uow:
            if not await claim_pairs(uow, INBOX, [(COMMANDS_CONSUMER, command.event_id)]):
                # Redelivery: its reply was queued with the first delivery.
                log.info("command already applied", event_id=str(command.event_id))
                return
            reply = await handle_command(PgUnit(uow), rules, command, reply_topic)
        log.info(
            "command handled",
            report_id=str(command.report_id),
            command=command.command_type,
            outcome=reply.event_type,
            code=getattr(reply, "code", None),
        )

    # The gateway's category catalogue -> workflow's copy (routing reads it per batch).
    subscribe_catalogue(
        runtime,
        CATALOGUE,
        title="workflow.on-category",
        description="Keeps workflow's copy of the category catalogue (the agency each "
        "active category routes to); no consumer group, the whole compacted topic at start.",
    )
