"""Intake's Kafka side: the publishers it documents (the outbox relay does the sending) and
its subscribers: erasure requests and officers' questions from the privacy gateway."""

from __future__ import annotations

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
from aduan_intake.filing import Filer
from aduan_intake.keyring import shred_key
from aduan_intake.tables import INBOX
from aduan_kit.db import transaction
from aduan_kit.logging import get_logger
from aduan_kit.messaging import claim_inbox
from aduan_kit.runtime import ServiceRuntime

__all__ = ["register_handlers"]

log = get_logger(__name__)


def register_handlers(runtime: ServiceRuntime, filer: Filer) -> None:
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

    @broker.subscriber(
        runtime.topic(ERASURE_REQUESTS.name),
        group_id=runtime.settings.consumer_group,
        auto_offset_reset="earliest",
        title="intake.on-erasure-requested",
        description="Shreds the reporter's key so every sealed copy of their identity, the "
        "Kafka log included, becomes unreadable.",
    )
    async def on_erasure_requested(event: ReporterErasureRequested) -> None:
        async with transaction(runtime.sessions) as session:
            if not await claim_inbox(session, INBOX, "intake.on_erasure", event.event_id):
                return
            known = await shred_key(
                session,
                event.key_id,
                runtime.topic(REPORTER_KEYS.name),
                correlation_id=event.correlation_id,
                causation_id=str(event.event_id),
            )
        if known:
            runtime.wake_relay()
            log.info("reporter key shredded", key_id=str(event.key_id))
        else:
            log.warning("erasure for a key intake never issued", key_id=str(event.key_id))

    @broker.subscriber(
        runtime.topic(REPORTER_QUESTIONS.name),
        group_id=runtime.settings.consumer_group,
        auto_offset_reset="earliest",
        title="intake.on-reporter-question",
        description="Remembers an officer's open question, so the reporter's reply by SMS or "
        "WhatsApp is added to the report as the answer instead of filed as a new complaint.",
    )
    async def on_reporter_question(event: ReporterQuestionAsked) -> None:
        # Idempotent by the question id: no inbox claim needed.
        await filer.question_asked(event.question_id, event.report_id, event.asked_at)
        log.info(
            "open question remembered",
            question_id=str(event.question_id),
            report_id=str(event.report_id),
        )
