"""Use cases of the rare events, one event at a time on the unit of work's session: a
reporter writing again (a chat window reopens; an answer by SMS/WhatsApp acknowledged), SLA
breaches (an apology) and officers' questions.

They are rare next to status changes, reports and keys (`service.status_changes`,
`service.recipients`: set-based per batch), so they keep row-at-a-time SQLAlchemy
statements. Each message recorded is one 'pending'
row in `deliveries` per (event, channel); the delivery worker (`entrypoints/delivery.py`) sends it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from aduan_contracts.enums import ANSWER_BY_REPLY_CHANNELS, Channel
from aduan_contracts.events import (
    ReportAmended,
    ReporterQuestionAsked,
    SlaBreached,
)
from aduan_kit.logging import get_logger
from aduan_notifier.domain import (
    Template,
    normalize_language,
    render,
)
from aduan_notifier.service.recipients import CHAT_WINDOW_CHANNELS
from aduan_notifier.tables import DELIVERIES, RECIPIENTS

__all__ = ["Notifier"]

log = get_logger(__name__)


@dataclass(frozen=True)
class Notifier:
    """The per-event use cases the consumer's routes call; tests may call them directly."""

    portal_base_url: str

    # --- status changes ---------------------------------------------------------------------

    # --- SLA breaches ------------------------------------------------------------------------

    async def on_sla_breached(self, session: AsyncSession, event: SlaBreached) -> str:
        """An apology for a missed deadline, once per breach event, on the reporter's channel.
        The breach carries no channel: it comes from what intake told us about the report."""
        return await self._tell_recipient(
            session, event.report_id, event.event_id, Template.SLA_APOLOGY, event.occurred_at
        )

    # --- questions to the reporter -------------------------------------------------------

    async def on_question_asked(self, session: AsyncSession, event: ReporterQuestionAsked) -> str:
        """An officer's question, once per question, on the reporter's channel; the
        question rides in `reason` (e-mail only shows it) and its id keys the delivery
        and makes the answer link."""
        return await self._tell_recipient(
            session,
            event.report_id,
            event.question_id,
            Template.QUESTION,
            event.asked_at,
            reason=event.text,
        )

    async def _tell_recipient(
        self,
        session: AsyncSession,
        report_id: UUID,
        key: UUID,
        template: Template,
        at: datetime,
        reason: str | None = None,
    ) -> str:
        """Record a message that is not a status change (it carries no channel) for the
        report's known reporter, once per `key`, on the channel intake told us about."""
        recipient = (
            await session.execute(select(RECIPIENTS).where(RECIPIENTS.c.report_id == report_id))
        ).first()
        if recipient is None or recipient.erased_at is not None:
            return "no known reporter"
        if recipient.sealed_identity is None:
            return "no contact"
        channel = Channel(recipient.channel)
        message = render(
            template,
            channel,
            normalize_language(recipient.language),
            recipient.receipt_code,
            self.portal_base_url,
            reason=reason,
            question_id=key if template is Template.QUESTION else None,
        )
        inserted = (
            await session.execute(
                insert(DELIVERIES)
                .values(
                    report_id=report_id,
                    status_event_id=key,
                    channel=channel.value,
                    template=message.template.value,
                    language=message.language,
                    receipt_code=recipient.receipt_code,
                    subject=message.subject,
                    body=message.body,
                    reason=reason,
                    status_changed_at=at,
                    state="pending",
                    attempts=0,
                )
                .on_conflict_do_nothing(index_elements=["status_event_id", "channel"])
                .returning(DELIVERIES.c.id)
            )
        ).first()
        return "recorded" if inserted is not None else "already recorded"

    # --- intake ------------------------------------------------------------------------------

    async def on_report_amended(self, session: AsyncSession, event: ReportAmended) -> int:
        """A reporter wrote again: on a chat channel the 24-hour window reopens; an answer
        by SMS or WhatsApp to an officer's question is acknowledged (once per message), so
        the reporter knows it reached the report and was not filed as a new complaint.
        Returns how many messages were recorded."""
        recorded = 0
        if event.in_reply_to is not None and event.channel in ANSWER_BY_REPLY_CHANNELS:
            outcome = await self._tell_recipient(
                session,
                event.report_id,
                event.event_id,
                Template.ANSWER_RECEIVED,
                event.received_at,
            )
            recorded = int(outcome == "recorded")
        if event.channel not in CHAT_WINDOW_CHANNELS:
            return recorded
        await session.execute(
            update(RECIPIENTS)
            .where(RECIPIENTS.c.report_id == event.report_id)
            .values(
                last_inbound_at=func.greatest(
                    func.coalesce(RECIPIENTS.c.last_inbound_at, event.received_at),
                    event.received_at,
                )
            )
        )
        return recorded
