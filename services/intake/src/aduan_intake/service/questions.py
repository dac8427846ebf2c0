"""Officers' questions to reporters, remembered while open: the reporter's reply by SMS or
WhatsApp is then added to the report as the answer (`service.filing.Filer.file_or_answer`)
instead of filed as a new complaint."""

from __future__ import annotations

from collections.abc import Sequence

from aduan_contracts.events import ReporterQuestionAsked
from aduan_intake.adapters.stores import QuestionStore
from aduan_kit.logging import get_logger

__all__ = ["remember_questions"]

log = get_logger(__name__)


async def remember_questions(
    store: QuestionStore, events: Sequence[ReporterQuestionAsked]
) -> list[None]:
    # Idempotent by the question id as well as by the inbox.
    await store.remember_questions(
        [e.question_id for e in events],
        [e.report_id for e in events],
        [e.asked_at for e in events],
    )
    # One line a question (officers ask a few a day): an operator follows one by its id.
    for e in events:
        log.info(
            "open question remembered", question_id=str(e.question_id), report_id=str(e.report_id)
        )
    return [None] * len(events)
