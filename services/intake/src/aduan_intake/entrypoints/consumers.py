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
from aduan_intake.adapters.postgres import PgQuestions
from aduan_intake.adapters.tables import INBOX, OUTBOX
from aduan_intake.service.erasure import erase_reporter
from aduan_intake.service.questions import Remembered, log_remembered, remember_questions
from aduan_kit.batching import Route, subscribe_units
from aduan_kit.runtime import ServiceRuntime
from aduan_kit.uow import UnitOfWork

__all__ = ["register_handlers"]


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
        return await erase_reporter(session, event, runtime.topic(REPORTER_KEYS.name))

    async def on_reporter_questions(
        uow: UnitOfWork, events: list[ReporterQuestionAsked]
    ) -> list[Remembered]:
        return await remember_questions(PgQuestions(await uow.connection()), events)

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
        after_commit=log_remembered,
        title="intake.consumer",
        description="Erasure requests (shreds the reporter's key so every sealed copy of "
        "their identity, the Kafka log included, becomes unreadable) and officers' questions "
        "(remembered while open, so the reporter's reply by SMS or WhatsApp is added to the "
        "report as the answer instead of filed as a new complaint).",
    )
