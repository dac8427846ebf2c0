"""The conversation with a reporter, as stored by the gateway: officers' questions and what
the reporter wrote after filing (`ReportAmended`). The HTTP side is `api_questions`."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any
from uuid import UUID

from sqlalchemy import and_, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from aduan_contracts.events import ReportAmended
from aduan_gateway.adapters.tables import QUESTIONS, REPORTER_MESSAGES
from aduan_gateway.domain.redaction import scrub_erased

__all__ = [
    "erase_reporter_messages",
    "local_day",
    "open_question_count",
    "question_for_reporter",
    "record_reporter_message",
]

_JAKARTA = timezone(timedelta(hours=7))


def local_day(at: datetime) -> str:
    """The day in Jakarta, YYYY-MM-DD."""
    return at.astimezone(_JAKARTA).date().isoformat()


async def question_for_reporter(session: AsyncSession, question_id: UUID) -> dict[str, Any] | None:
    """A question as its reporter sees it from the link they were sent: the text, the day,
    answered or not, and the receipt code; never who asked. The question id is the
    capability (random, sent only to the reporter and shown only to officers)."""
    row = (
        await session.execute(
            select(
                QUESTIONS.c.question_id,
                QUESTIONS.c.report_id,
                QUESTIONS.c.text,
                QUESTIONS.c.asked_at,
                QUESTIONS.c.answered_at,
            ).where(QUESTIONS.c.question_id == question_id)
        )
    ).first()
    if row is None:
        return None
    return {
        "question_id": row.question_id,
        "report_id": row.report_id,
        "text": row.text,
        "asked_on": local_day(row.asked_at),
        "answered": row.answered_at is not None,
    }


async def open_question_count(session: AsyncSession, report_id: UUID) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(QUESTIONS)
            .where(QUESTIONS.c.report_id == report_id, QUESTIONS.c.answered_at.is_(None))
        )
        or 0
    )


async def record_reporter_message(session: AsyncSession, event: ReportAmended) -> bool:
    """Store what the reporter wrote after filing, once per event, and mark the question it
    answers: the one named (`in_reply_to`, an answer on the tracking page) when it is this
    report's and still open, else the oldest open question asked before the message (an
    e-mail reply carries no question id). Returns whether it was new."""
    question: UUID | None = None
    open_ = and_(QUESTIONS.c.report_id == event.report_id, QUESTIONS.c.answered_at.is_(None))
    if event.in_reply_to is not None:
        # An answer from the question's link. The question id is the capability: one that
        # is not this report's is not an answer from its reporter, and is dropped (a
        # receipt code alone must not let anyone write into the report).
        mine = await session.scalar(
            select(QUESTIONS.c.question_id).where(
                QUESTIONS.c.report_id == event.report_id,
                QUESTIONS.c.question_id == event.in_reply_to,
            )
        )
        if mine is None:
            return False
        question = await session.scalar(
            select(QUESTIONS.c.question_id).where(
                open_, QUESTIONS.c.question_id == event.in_reply_to
            )
        )
    else:
        question = await session.scalar(
            select(QUESTIONS.c.question_id)
            .where(open_, QUESTIONS.c.asked_at <= event.received_at)
            .order_by(QUESTIONS.c.asked_at, QUESTIONS.c.question_id)
            .limit(1)
        )
    inserted = (
        await session.execute(
            pg_insert(REPORTER_MESSAGES)
            .values(
                event_id=event.event_id,
                report_id=event.report_id,
                channel=event.channel.value,
                text=event.text,
                received_at=event.received_at,
                question_id=question,
            )
            .on_conflict_do_nothing(index_elements=[REPORTER_MESSAGES.c.event_id])
            .returning(REPORTER_MESSAGES.c.event_id)
        )
    ).first()
    if inserted is None:
        return False
    if question is not None:
        await session.execute(
            update(QUESTIONS)
            .where(QUESTIONS.c.question_id == question, QUESTIONS.c.answered_at.is_(None))
            .values(answered_at=event.received_at, answer_event_id=event.event_id)
        )
    return True


async def erase_reporter_messages(session: AsyncSession, report_ids: list[UUID]) -> None:
    """An erased reporter's messages keep only what the erased-level scrub leaves (their
    values in any format, phones, e-mails, NIKs and plates hidden), like the report's text."""
    if not report_ids:
        return
    rows = await session.execute(
        select(REPORTER_MESSAGES.c.event_id, REPORTER_MESSAGES.c.text).where(
            REPORTER_MESSAGES.c.report_id.in_(report_ids)
        )
    )
    for row in rows:
        await session.execute(
            update(REPORTER_MESSAGES)
            .where(REPORTER_MESSAGES.c.event_id == row.event_id)
            .values(text=scrub_erased(row.text))
        )
