""" "Ask the reporter" (SPEC Revision 2): an officer asks, the notifier delivers the question
on the reporter's own channel, the answer comes back onto the report.

Nobody needs the reporter's contact for it: the question leaves as `ReporterQuestionAsked`
(through the outbox, in the transaction that stores it) and the notifier, which alone opens
the identity, sends it. The reporter answers by replying to the e-mail (intake files a reply
quoting the receipt code as `ReportAmended`) or on the tracking page (intake's web channel,
with `in_reply_to`); the gateway's intake consumer stores the message and marks the
question answered (`record_reporter_message`).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID, uuid4

from fastapi import APIRouter, Body, HTTPException, Request, status
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select

from aduan_contracts.enums import ReportStatus, Role
from aduan_contracts.events import ReporterQuestionAsked
from aduan_contracts.http_gateway import ConversationEntry, ConversationView
from aduan_contracts.topics import REPORTER_QUESTIONS
from aduan_gateway.adapters.accesslog import Read
from aduan_gateway.adapters.readmodel import load_report
from aduan_gateway.adapters.tables import OUTBOX, QUESTIONS, REPORTER_MESSAGES
from aduan_gateway.auth import CurrentUser
from aduan_gateway.domain.model import ReportRecord
from aduan_gateway.domain.views import FULL_ACCESS_ROLES
from aduan_gateway.entrypoints.api_console import report_scope, throttle_lookup
from aduan_gateway.entrypoints.deps import (
    NOT_FOUND,
    AccessLogDep,
    RuntimeDep,
    SessionsDep,
    SettingsDep,
)
from aduan_gateway.service.conversation import local_day as _day
from aduan_gateway.service.conversation import open_question_count, question_for_reporter
from aduan_kit.db import transaction
from aduan_kit.logging import correlation_id, get_logger
from aduan_kit.messaging import add_to_outbox
from aduan_kit.redaction import scrub_officer_text

__all__ = [
    "MAX_OPEN_QUESTIONS",
    "ConversationEntry",
    "ConversationView",
    "QuestionRequest",
    "questions_router",
]

log = get_logger(__name__)

# A reporter is a citizen, not a help desk: a few open questions at a time, then wait.
MAX_OPEN_QUESTIONS = 3
# No one can be asked about a report that has left everyone's hands.
_CLOSED = (ReportStatus.REJECTED, ReportStatus.MERGED)
_FIELDS = ("conversation",)


class QuestionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(
        min_length=10,
        max_length=1000,
        description="the question, as the reporter will read it (no contact data needed)",
    )


class PublicQuestionView(BaseModel):
    """What the reporter sees of a question: never who asked."""

    model_config = ConfigDict(frozen=True)

    question_id: UUID
    receipt_code: str
    text: str
    asked_on: str
    answered: bool
    can_answer: bool


_WHY_NOT = {
    "no_contact": "the reporter left no contact (or was erased): nobody can be asked",
    "closed": "the report is closed (rejected or merged)",
    "too_many": f"{MAX_OPEN_QUESTIONS} questions are still unanswered; wait for an answer",
}


def _why_not_code(record: ReportRecord, open_count: int) -> str | None:
    """Why no question can be asked now, as a code clients put in their own words."""
    if record.sealed_identity is None:
        return "no_contact"
    if record.status in _CLOSED:
        return "closed"
    if open_count >= MAX_OPEN_QUESTIONS:
        return "too_many"
    return None


def _why_not(record: ReportRecord, open_count: int) -> str | None:
    code = _why_not_code(record, open_count)
    return _WHY_NOT[code] if code else None


def questions_router() -> APIRouter:
    router = APIRouter(tags=["questions"])
    errors: dict[int | str, dict[str, Any]] = {
        401: {"description": "missing, invalid or expired token"},
        403: {"description": "the role may not do this"},
        404: {"description": NOT_FOUND},
    }

    @router.get(
        "/v1/reports/{report_id}/questions", response_model=ConversationView, responses=errors
    )
    async def conversation(
        report_id: UUID, user: CurrentUser, sessions: SessionsDep, access_log: AccessLogDep
    ) -> ConversationView:
        """The conversation with the reporter, oldest first, for the officers who may open
        the report: questions asked, and what the reporter wrote back (scrubbed of their own
        values like the report's text). The read is in the access log."""
        record = await report_scope(sessions, user, report_id)
        full = user.role in FULL_ACCESS_ROLES
        async with sessions() as session:
            # Both reads from one snapshot: an answer is stored with its question's mark in
            # one transaction, and one committed between two READ COMMITTED statements
            # showed the message beside a question still unanswered.
            await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            questions = (
                await session.execute(select(QUESTIONS).where(QUESTIONS.c.report_id == report_id))
            ).all()
            messages = (
                await session.execute(
                    select(REPORTER_MESSAGES).where(REPORTER_MESSAGES.c.report_id == report_id)
                )
            ).all()
        open_count = sum(1 for q in questions if q.answered_at is None)
        entries = [
            ConversationEntry(
                kind="question",
                id=q.question_id,
                text=q.text,
                at=q.asked_at,
                on=_day(q.asked_at),
                asked_by_name=q.asked_by_name,
                asked_by_role=Role(q.asked_by_role),
                answered=q.answered_at is not None,
            )
            for q in questions
        ] + [
            ConversationEntry(
                kind="message",
                id=m.event_id,
                # Intake scrubbed the sender's values; the report's reporter may have given
                # others (a reply from another address quoting their own phone).
                text=scrub_officer_text(m.text, record.reporter_terms),
                # Agency crews get the day only: when a reporter writes is theirs.
                at=m.received_at if full else None,
                on=_day(m.received_at),
                channel=m.channel,
                question_id=m.question_id,
            )
            for m in messages
        ]
        # By time; an agency's view of a message has only its day: it goes after that
        # day's questions (an answer never comes before its question).
        entries.sort(key=lambda e: (e.on, e.at is None, e.at or datetime.min.replace(tzinfo=UTC)))
        await access_log.record(user.subject, user.role, user.agency_id, [Read(report_id, _FIELDS)])
        return ConversationView(
            can_ask=_why_not(record, open_count) is None,
            why_not=_why_not(record, open_count),
            why_not_code=_why_not_code(record, open_count),
            entries=tuple(entries),
        )

    @router.post(
        "/v1/reports/{report_id}/questions",
        response_model=ConversationEntry,
        status_code=status.HTTP_201_CREATED,
        responses={
            **errors,
            409: {"description": "nobody to ask, the report is closed, or too many open"},
        },
    )
    async def ask(
        report_id: UUID,
        body: Annotated[QuestionRequest, Body()],
        user: CurrentUser,
        sessions: SessionsDep,
        runtime: RuntimeDep,
    ) -> ConversationEntry:
        """Ask the reporter a question. The notifier delivers it on the reporter's own
        channel; the question is scrubbed like every officer text (an officer must not
        echo a phone number back), and it is stored and announced in one transaction."""
        record = await report_scope(sessions, user, report_id)
        text = scrub_officer_text(" ".join(body.text.split()), record.reporter_terms)
        question_id = uuid4()
        topic = runtime.topic(REPORTER_QUESTIONS.name)
        async with transaction(sessions) as session:
            # One asker at a time per report, so the open-question limit holds.
            await session.execute(
                select(func.pg_advisory_xact_lock(7301, func.hashtext(str(report_id))))
            )
            why_not = _why_not(record, await open_question_count(session, report_id))
            if why_not is not None:
                raise HTTPException(status_code=409, detail=why_not)
            row = (
                await session.execute(
                    QUESTIONS.insert()
                    .values(
                        question_id=question_id,
                        report_id=report_id,
                        asked_by=user.subject,
                        asked_by_name=user.name,
                        asked_by_role=user.role.value,
                        asked_by_agency=user.agency_id,
                        text=text,
                    )
                    .returning(QUESTIONS.c.asked_at)
                )
            ).one()
            event = ReporterQuestionAsked(
                report_id=report_id,
                question_id=question_id,
                text=text,
                asked_at=row.asked_at,
                **({"correlation_id": cid} if (cid := correlation_id.get()) else {}),
            )
            await add_to_outbox(session, OUTBOX, topic, event, key=report_id)
        log.info("question to the reporter recorded", report_id=str(report_id))
        return ConversationEntry(
            kind="question",
            id=question_id,
            text=text,
            at=row.asked_at,
            on=_day(row.asked_at),
            asked_by_name=user.name,
            asked_by_role=user.role,
            answered=False,
        )

    @router.get(
        "/v1/public/questions/{question_id}",
        response_model=PublicQuestionView,
        responses={404: {"description": "no such question"}, 429: {"description": "too many"}},
        tags=["public"],
    )
    async def public_question(
        question_id: UUID,
        request: Request,
        sessions: SessionsDep,
        settings: SettingsDep,
        runtime: RuntimeDep,
    ) -> PublicQuestionView:
        """A question as its reporter reads it from the link in their message: the text, the
        day, whether it was answered, and the receipt code (to answer with). Throttled like
        tracking: the id is the capability."""
        await throttle_lookup(request, settings, runtime)
        async with sessions() as session:
            found = await question_for_reporter(session, question_id)
            record = None if found is None else await load_report(session, found["report_id"])
        if found is None or record is None or record.receipt_code is None:
            raise HTTPException(status_code=404, detail="no such question")
        return PublicQuestionView(
            question_id=found["question_id"],
            receipt_code=record.receipt_code,
            text=found["text"],
            asked_on=found["asked_on"],
            answered=found["answered"],
            can_answer=not found["answered"] and record.status not in _CLOSED,
        )

    return router
