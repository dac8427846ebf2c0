"""Officers' questions to reporters, remembered while open: the reporter's reply by SMS or
WhatsApp is then added to the report as the answer (`service.filing.Filer.file_or_answer`)
instead of filed as a new complaint."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from aduan_contracts.events import ReporterQuestionAsked
from aduan_intake.adapters.stores import QuestionStore
from aduan_kit.logging import get_logger

__all__ = ["Remembered", "log_remembered", "remember_questions"]

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Remembered:
    """A question whose row this batch wrote (reported once the batch committed)."""

    question_id: UUID
    report_id: UUID


async def remember_questions(
    store: QuestionStore, events: Sequence[ReporterQuestionAsked]
) -> list[Remembered]:
    # Idempotent by the question id as well as by the inbox.
    await store.remember_questions(
        [e.question_id for e in events],
        [e.report_id for e in events],
        [e.asked_at for e in events],
    )
    return [Remembered(e.question_id, e.report_id) for e in events]


def log_remembered(results: Sequence[Any]) -> None:
    """One line a question (officers ask a few a day), an operator follows one by its id.
    Logged after the commit, not in the transaction: a line that says a question is open
    must mean a reply arriving now is taken as its answer (a reply read before the commit
    would be filed as a new complaint, and the end-to-end test waits on this line)."""
    for r in results:
        if isinstance(r, Remembered):
            log.info(
                "open question remembered",
                question_id=str(r.question_id),
                report_id=str(r.report_id),
            )
