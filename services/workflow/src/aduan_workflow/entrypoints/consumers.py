"""Workflow's Kafka wiring: which topic goes to which use case, and what it publishes.

- Intake events: one unit of work per poll (`aduan_kit.batching.subscribe_units`): one
  transaction, one inbox claim for the batch, `service.intake.open_reports` with the new
  events, one outbox statement, then the offset commit.
- Commands: a route of the same consumer. Its `prepare` reads each command's `reply_to`
  header and resolves the reply topic against the broker's topic list before the batch's
  transaction opens (no row lock waits on Kafka); in the transaction the commands are
  applied in report order (a report's own commands keep their order; two replicas' batches
  lock reports in the same order, so they do not deadlock), each with its status changes
  and its reply.
- The category catalogue: `aduan_kit.catalogue` (no consumer group; the whole compacted
  topic at every start).
"""

# No `from __future__ import annotations` here: faststream resolves handler annotations at
# registration, and the Annotated unions must stay real objects for it.

from typing import Any

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
from aduan_kit.batching import Route, subscribe_units
from aduan_kit.catalogue import subscribe_catalogue
from aduan_kit.logging import get_logger
from aduan_kit.runtime import ServiceRuntime
from aduan_kit.uow import UnitOfWork
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

    async def reply_topics_of(
        deliveries: list[tuple[WorkflowCommand, dict[str, str]]],
    ) -> list[tuple[WorkflowCommand, str]]:
        return [
            (command, await reply_topics.resolve(headers.get("reply_to", "")))
            for command, headers in deliveries
        ]

    async def apply_commands(
        uow: UnitOfWork, commands: list[tuple[WorkflowCommand, str]]
    ) -> list[Any]:
        replies = []
        # Stable: a report's commands keep their order.
        for command, reply_topic in sorted(commands, key=lambda c: c[0].report_id):
            reply = await handle_command(PgUnit(uow), rules, command, reply_topic)
            replies.append(reply)
            log.info(
                "command handled",
                report_id=str(command.report_id),
                command=command.command_type,
                outcome=reply.event_type,
                code=getattr(reply, "code", None),
            )
        return replies

    subscribe_units(
        runtime,
        [
            Route(
                runtime.topic(REPORT_INTAKE.name),
                ReportIntakeEvent,
                INTAKE_CONSUMER,
                apply_many=open_reports,
                wanted=intake.wanted,
            ),
            Route(
                runtime.topic(WORKFLOW_COMMANDS.name),
                WorkflowCommand,
                COMMANDS_CONSUMER,
                apply_many=apply_commands,
                prepare=reply_topics_of,
            ),
        ],
        inbox=INBOX,
        outbox=OUTBOX,
        title="workflow.consumer",
        description="Opens a case (status received) for every new report and auto-dispatches "
        "it when a routing rule knows its category; applies officers' and reporters' commands "
        "and replies CommandAccepted/CommandRefused on the `reply_to` header's topic.",
    )

    # The gateway's category catalogue -> workflow's copy (routing reads it per batch).
    subscribe_catalogue(
        runtime,
        CATALOGUE,
        title="workflow.on-category",
        description="Keeps workflow's copy of the category catalogue (the agency each "
        "active category routes to); no consumer group, the whole compacted topic at start.",
    )
