"""The notifier's Kafka wiring: ONE consumer (`aduan_kit.batching.subscribe_units`) for its
five topics, one unit of work per poll (one transaction, one inbox claim for the batch, one
outbox statement, then the offsets).

Each topic keeps its own route and inbox consumer name (the names the five consumers had
before, so what they claimed stays claimed). Per poll the routes run in the order below:
keys before intake (intake checks whether the reporter's key was shredded), intake before
status changes (a status change then finds the recipient stored in the same batch instead
of parking). Order across topics is not a guarantee the notifier relies on: a status change
that overtakes intake parks (staff-entered reports) or is recorded from the event alone.
"""

# No `from __future__ import annotations` here: faststream resolves handler annotations at
# registration, and the Annotated unions must stay real objects for it.

from collections.abc import Callable, Collection
from typing import Any

from aduan_contracts.enums import SlaStage
from aduan_contracts.events import (
    NotificationFailed,
    ReporterKeyEvent,
    ReporterQuestionAsked,
    ReportIntakeEvent,
    ReportStatusChanged,
    ReportSubmitted,
    SlaBreached,
    SlaEvent,
)
from aduan_contracts.topics import (
    NOTIFICATIONS,
    REPORT_INTAKE,
    REPORTER_KEYS,
    REPORTER_QUESTIONS,
    SLA_EVENTS,
    STATUS_CHANGED,
)
from aduan_kit.batching import Route, subscribe_units
from aduan_kit.logging import get_logger
from aduan_kit.runtime import ServiceRuntime
from aduan_kit.uow import UnitOfWork
from aduan_notifier.adapters.postgres import PgStore
from aduan_notifier.service.notices import (
    handle_amendments,
    handle_questions,
    handle_sla_breaches,
)
from aduan_notifier.service.recipients import handle_key_events, handle_submitted
from aduan_notifier.service.status_changes import (
    PARKED,
    RECORDED,
    TOLD_WITH_RECEIPT,
    concerns_reporter,
    handle_status_changes,
)
from aduan_notifier.tables import INBOX, OUTBOX

__all__ = ["CONSUMERS", "recorded_any", "register"]

log = get_logger(__name__)

# The inbox consumer name of each topic's route (unchanged from the five consumers before).
CONSUMERS = {
    REPORTER_KEYS.name: "notifier.on_reporter_key",
    REPORT_INTAKE.name: "notifier.on_intake",
    STATUS_CHANGED.name: "notifier.on_status_changed",
    SLA_EVENTS.name: "notifier.on_sla_event",
    REPORTER_QUESTIONS.name: "notifier.on_question",
}


def recorded_any(results: list[Any]) -> bool:
    """Whether a committed batch made a delivery due: the counts of intake and key events,
    the `RECORDED` outcomes of the others."""
    return any(r == RECORDED if isinstance(r, str) else bool(r) for r in results if r is not None)


def register(
    runtime: ServiceRuntime,
    portal_base_url: str,
    wake: Callable[[], None] = lambda: None,
    sla_apology_stages: Collection[SlaStage] = (),
) -> None:
    """The consumer and (for the AsyncAPI document) the publisher on `runtime.broker`. The
    delivery worker is woken (`wake`) after a batch commit that recorded something."""
    runtime.broker.publisher(
        runtime.topic(NOTIFICATIONS.name),
        title="notifier.notifications",
        description="One NotificationFailed per delivery given up on (every route failed "
        "or the attempts ran out), keyed by report id, with the same event on the topic's "
        "dead letters (published by the outbox relay). A message sent is not announced: "
        "NotificationDelivered had no consumer and is no longer published.",
        schema=NotificationFailed,
    )

    async def on_reporter_keys(uow: UnitOfWork, events: list[ReporterKeyEvent]) -> list[int]:
        due = await handle_key_events(PgStore(uow), events)
        log.info("reporter key events applied", events=len(events), due=sum(due))
        return due

    async def on_intake(uow: UnitOfWork, events: list[ReportIntakeEvent]) -> list[int]:
        # Reports first (set-based), then the reporters writing again, in order: an
        # amendment follows its report on the same partition, so it finds the recipient.
        submitted = [e for e in events if isinstance(e, ReportSubmitted)]
        results = await handle_submitted(PgStore(uow), submitted, portal_base_url)
        log.info("recipients stored", events=len(submitted), due_or_recorded=sum(results))
        # A chat window reopens; an answer to an officer's question by SMS or WhatsApp is
        # acknowledged.
        amended = [e for e in events if not isinstance(e, ReportSubmitted)]
        return results + await handle_amendments(PgStore(uow), amended, portal_base_url)

    async def on_status_changes(uow: UnitOfWork, events: list[ReportStatusChanged]) -> list[str]:
        outcomes = await handle_status_changes(PgStore(uow), events, portal_base_url)
        # One line a batch: what a report's messages became is in the delivery log.
        log.info(
            "status changes handled",
            events=len(events),
            recorded=outcomes.count(RECORDED),
            told_with_receipt=outcomes.count(TOLD_WITH_RECEIPT),
            parked=outcomes.count(PARKED),
        )
        return outcomes

    apology_stages = frozenset(sla_apology_stages)

    def apology_due(event: SlaEvent) -> bool:
        # Reminders are for officers; unconfigured stages stay internal.
        return isinstance(event, SlaBreached) and event.stage in apology_stages

    async def on_sla_breaches(uow: UnitOfWork, events: list[SlaEvent]) -> list[str]:
        # `apology_due` lets only breaches through.
        breaches = [e for e in events if isinstance(e, SlaBreached)]
        outcomes = await handle_sla_breaches(PgStore(uow), breaches, portal_base_url)
        log.info("SLA breaches handled", events=len(breaches), recorded=outcomes.count(RECORDED))
        return outcomes

    async def on_questions(uow: UnitOfWork, events: list[ReporterQuestionAsked]) -> list[str]:
        outcomes = await handle_questions(PgStore(uow), events, portal_base_url)
        log.info("questions handled", events=len(events), recorded=outcomes.count(RECORDED))
        return outcomes

    def topic(name: str) -> str:
        return runtime.topic(name)

    subscribe_units(
        runtime,
        [
            Route(
                topic(REPORTER_KEYS.name),
                ReporterKeyEvent,
                CONSUMERS[REPORTER_KEYS.name],
                apply_many=on_reporter_keys,
            ),
            Route(
                topic(REPORT_INTAKE.name),
                ReportIntakeEvent,
                CONSUMERS[REPORT_INTAKE.name],
                apply_many=on_intake,
            ),
            Route(
                topic(STATUS_CHANGED.name),
                ReportStatusChanged,
                CONSUMERS[STATUS_CHANGED.name],
                apply_many=on_status_changes,
                wanted=concerns_reporter,
            ),
            Route(
                topic(SLA_EVENTS.name),
                SlaEvent,
                CONSUMERS[SLA_EVENTS.name],
                apply_many=on_sla_breaches,
                wanted=apology_due,
            ),
            Route(
                topic(REPORTER_QUESTIONS.name),
                ReporterQuestionAsked,
                CONSUMERS[REPORTER_QUESTIONS.name],
                apply_many=on_questions,
            ),
        ],
        inbox=INBOX,
        outbox=OUTBOX,
        after_commit=lambda results: wake() if recorded_any(results) else None,
        title="notifier.consumer",
        description="Reporter keys (stored or shredded), intake (channel, language, receipt "
        "code and sealed identity per report), status changes (the reporter's message for "
        "each that concerns them), SLA breaches (an apology at a configured stage) and "
        "officers' questions (delivered on the reporter's channel).",
    )
