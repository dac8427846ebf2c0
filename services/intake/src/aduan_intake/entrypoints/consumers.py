"""Intake's Kafka side: the publishers it documents (the outbox relay does the sending) and
its one consumer (`aduan_kit.batching.subscribe_units`, one unit of work per poll) for
erasure requests and officers' questions from the privacy gateway."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from aduan_contracts.events import (
    ReporterErasureRequested,
    ReporterKeyIssued,
    ReporterKeyShredded,
    ReporterQuestionAsked,
    ReportSubmitted,
)
from aduan_contracts.topics import (
    ERASURE_REQUESTS,
    REPORT_INTAKE,
    REPORTER_KEYS,
    REPORTER_QUESTIONS,
)
from aduan_intake.adapters.keyring import shred_key
from aduan_intake.adapters.tables import INBOX, OUTBOX
from aduan_kit.batching import Route, subscribe_units
from aduan_kit.logging import get_logger
from aduan_kit.runtime import ServiceRuntime
from aduan_kit.uow import UnitOfWork

__all__ = ["register_handlers"]

log = get_logger(__name__)

_REMEMBER_QUESTIONS = (
    "INSERT INTO open_questions (question_id, report_id, asked_at)"
    " SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::timestamptz[])"
    " ON CONFLICT (question_id) DO NOTHING"
)


def register_handlers(runtime: ServiceRuntime) -> None:
    broker = runtime.broker
    broker.publisher(
        runtime.topic(REPORT_INTAKE.name),
        title="intake.report-submitted",
        description="A complaint normalized from any channel, keyed by report id; the "
        "reporter's identity is sealed with their key.",
        schema=ReportSubmitted,
    )
    broker.publisher(
        runtime.topic(REPORTER_KEYS.name),
        title="intake.reporter-key-issued",
        description="A new per-reporter data key (compacted topic, keyed by key id; "
        "readable only by the gateway and the notifier).",
        schema=ReporterKeyIssued,
    )
    broker.publisher(
        runtime.topic(REPORTER_KEYS.name),
        title="intake.reporter-key-shredded",
        description="A reporter key was destroyed after an erasure request; every holder "
        "deletes its copy (keyed by key id).",
        schema=ReporterKeyShredded,
    )

    async def on_erasure_requested(session: AsyncSession, event: ReporterErasureRequested) -> bool:
        known = await shred_key(
            session,
            event.key_id,
            runtime.topic(REPORTER_KEYS.name),
            correlation_id=event.correlation_id,
            causation_id=str(event.event_id),
        )
        if known:
            log.info("reporter key shredded", key_id=str(event.key_id))
        else:
            log.warning("erasure for a key intake never issued", key_id=str(event.key_id))
        return known

    async def on_reporter_questions(
        uow: UnitOfWork, events: list[ReporterQuestionAsked]
    ) -> list[None]:
        # Idempotent by the question id as well as by the inbox.
        conn = await uow.connection()
        await conn.execute(
            _REMEMBER_QUESTIONS,
            [e.question_id for e in events],
            [e.report_id for e in events],
            [e.asked_at for e in events],
        )
        # One line a question (officers ask a few a day): an operator follows one by its id.
        for e in events:
            log.info(
                "open question remembered",
                question_id=str(e.question_id),
                report_id=str(e.report_id),
            )
        return [None] * len(events)

    subscribe_units(
        runtime,
        [
            # The inbox consumer name the erasure subscriber had: what it claimed stays claimed.
            Route(
                runtime.topic(ERASURE_REQUESTS.name),
                ReporterErasureRequested,
                "intake.on_erasure",
                apply=on_erasure_requested,
            ),
            Route(
                runtime.topic(REPORTER_QUESTIONS.name),
                ReporterQuestionAsked,
                "intake.on_question",
                apply_many=on_reporter_questions,
            ),
        ],
        inbox=INBOX,
        outbox=OUTBOX,
        title="intake.consumer",
        description="Erasure requests (shreds the reporter's key so every sealed copy of "
        "their identity, the Kafka log included, becomes unreadable) and officers' questions "
        "(remembered while open, so the reporter's reply by SMS or WhatsApp is added to the "
        "report as the answer instead of filed as a new complaint).",
    )
