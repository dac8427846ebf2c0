"""Use cases of the events that are not status changes, one event at a time on the unit
of work's session: intake (how to answer the reporter, and the status changes parked until
then), reporter keys (stored, or shredded: the reporter erased), SLA breaches (an apology)
and officers' questions.

They are rare next to status changes (`service.status_changes`, set-based per batch), so
they keep the row-at-a-time SQLAlchemy statements. Each message recorded is one 'pending'
row in `deliveries` per (event, channel); the delivery worker (`delivery.py`) sends it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import ColumnElement, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from aduan_contracts.enums import ANSWER_BY_REPLY_CHANNELS, Channel
from aduan_contracts.events import (
    ReportAmended,
    ReporterKeyIssued,
    ReporterKeyShredded,
    ReporterQuestionAsked,
    ReportStatusChanged,
    ReportSubmitted,
    SlaBreached,
)
from aduan_kit.logging import get_logger
from aduan_notifier.adapters.postgres import REPORT_LOCK_SPACE
from aduan_notifier.domain import (
    STAFF_CHANNELS,
    Template,
    compose,
    normalize_language,
    render,
)
from aduan_notifier.tables import DELIVERIES, PENDING, RECIPIENTS
from aduan_notifier.tables import REPORTER_KEYS as KEYS

__all__ = ["CHAT_WINDOW_CHANNELS", "Notifier", "lock_report"]

log = get_logger(__name__)

# Channels whose free-form replies are allowed only within 24 hours of the user's message.
CHAT_WINDOW_CHANNELS = frozenset({Channel.WHATSAPP, Channel.FACEBOOK, Channel.INSTAGRAM})


# Locks this transaction already holds (in `session.info`): a batch with several events of
# one report asks PostgreSQL once.
_HELD = "aduan_notifier_report_locks"


async def lock_report(session: AsyncSession, report_id: UUID) -> None:
    """Serialize this transaction with any other touching the same report's recipient.

    A status change that finds no recipient parks itself; intake, storing the recipient,
    resolves what is parked. The two arrive on different topics, so different consumers
    (or replicas) run them at once: each would miss the other's uncommitted row and the
    message would stay parked forever. Held until commit (the whole batch, for a batch
    consumer).

    Two batches can take the locks of the same reports in opposite orders (an intake batch
    A, B and a status batch B, A): PostgreSQL then aborts one with a deadlock (40P01), which
    the kit treats as transient: that batch is rolled back, rewound and applied again once
    the other committed (`test_notifier_lock_order.py`). Only staff-entered reports park,
    so only they take the lock (see `needs_report_lock`), which keeps this rare."""
    held: set[UUID] = session.info.setdefault(_HELD, set())
    if report_id in held:
        return
    await session.execute(
        text("SELECT pg_advisory_xact_lock(:space, hashtext(:report))"),
        {"space": REPORT_LOCK_SPACE, "report": str(report_id)},
    )
    held.add(report_id)


def needs_report_lock(channel: Channel) -> bool:
    """Only a staff-entered report's status change can park (`Reach.WAIT_FOR_INTAKE`), and
    intake's event and the status events of a report carry the same channel: for every
    other report there is nothing parked to race with, and no lock to take."""
    return channel in STAFF_CHANNELS


async def due_now(session: AsyncSession, which: ColumnElement[bool]) -> int:
    """Deliveries put back to wait for their recipient or its key (never attempted, due
    only after `RECIPIENT_POLL_S`) that the event being applied lets go: due now. Returns
    how many, so that the commit wakes the worker."""
    found = await session.execute(
        update(DELIVERIES)
        .where(
            which,
            DELIVERIES.c.state == "pending",
            DELIVERIES.c.attempts == 0,
            DELIVERIES.c.next_attempt_at > func.now(),
        )
        .values(next_attempt_at=func.now())
        .returning(DELIVERIES.c.id)
    )
    return len(found.all())


@dataclass(frozen=True)
class Notifier:
    """The per-event use cases the consumer's routes call; tests may call them directly."""

    portal_base_url: str

    # --- status changes ---------------------------------------------------------------------

    async def _record(
        self,
        session: AsyncSession,
        event: ReportStatusChanged,
        language: str | None,
        outcome: str | None = None,
    ) -> bool:
        """Record the message once per (status change, channel) as 'pending'; the delivery
        worker sends it after this transaction committed, and announces the outcome."""
        message = compose(event, language, self.portal_base_url, outcome)
        if message is None:
            return False
        inserted = (
            await session.execute(
                insert(DELIVERIES)
                .values(
                    report_id=event.report_id,
                    status_event_id=event.event_id,
                    channel=event.channel.value,
                    template=message.template.value,
                    language=message.language,
                    receipt_code=event.receipt_code,
                    subject=message.subject,
                    body=message.body,
                    # What a fallback transport re-renders with: the rejection reason, or
                    # on completion the agency's outcome.
                    reason=event.reason if message.template is not Template.COMPLETED else outcome,
                    status_changed_at=event.occurred_at,
                    state="pending",
                    attempts=0,
                )
                .on_conflict_do_nothing(index_elements=["status_event_id", "channel"])
                .returning(DELIVERIES.c.id)
            )
        ).first()
        return inserted is not None

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

    async def on_report_submitted(self, session: AsyncSession, event: ReportSubmitted) -> int:
        """Remember how to answer the reporter; resolve parked status changes and what
        waits for the recipient. Returns how many deliveries became due (the worker is
        woken when any did)."""
        if needs_report_lock(event.channel):
            await lock_report(session, event.report_id)
        sealed = event.reporter
        erased = False
        if sealed is not None:
            shredded = await session.scalar(
                select(KEYS.c.shredded_at).where(KEYS.c.key_id == sealed.key_id)
            )
            erased = shredded is not None
        await session.execute(
            insert(RECIPIENTS)
            .values(
                report_id=event.report_id,
                channel=event.channel.value,
                language=event.language,
                receipt_code=event.receipt_code,
                key_id=sealed.key_id if sealed is not None else None,
                # Kept sealed: opening it is the channel adapters' job, not this skeleton's.
                sealed_identity=sealed.model_dump(mode="json")
                if sealed is not None and not erased
                else None,
                erased_at=func.now() if erased else None,
                last_inbound_at=(
                    event.received_at if event.channel in CHAT_WINDOW_CHANNELS else None
                ),
            )
            .on_conflict_do_nothing()
        )
        # A delivery recorded before this event (the status change overtook it) waits for
        # the recipient; it is due now. Counted as recorded, so the commit wakes the worker.
        waiting = await due_now(session, DELIVERIES.c.report_id == event.report_id)
        parked = (
            await session.execute(
                delete(PENDING).where(PENDING.c.report_id == event.report_id).returning(PENDING)
            )
        ).all()
        recorded = waiting
        if sealed is not None and not erased:
            events = sorted(
                (ReportStatusChanged.model_validate(row.event) for row in parked),
                key=lambda e: e.version,
            )
            for status_event in events:
                recorded += await self._record(session, status_event, event.language)
        return recorded

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

    # --- reporter keys -----------------------------------------------------------------------

    async def on_reporter_key(
        self, session: AsyncSession, event: ReporterKeyIssued | ReporterKeyShredded
    ) -> int:
        """Store or shred a key; returns how many deliveries waiting for it became due."""
        if isinstance(event, ReporterKeyIssued):
            # A tombstone (shredded) row wins: a replayed "issued" must not revive a key.
            await session.execute(
                insert(KEYS).values(key_id=event.key_id, key=event.key).on_conflict_do_nothing()
            )
            return await due_now(
                session,
                DELIVERIES.c.report_id.in_(
                    select(RECIPIENTS.c.report_id).where(RECIPIENTS.c.key_id == event.key_id)
                ),
            )
        await session.execute(
            insert(KEYS)
            .values(key_id=event.key_id, key=None, shredded_at=func.now())
            .on_conflict_do_update(
                index_elements=[KEYS.c.key_id],
                set_={"key": None, "shredded_at": func.now()},
            )
        )
        # The sealed copies are unreadable now anyway; dropping them and marking the
        # reporter erased also stops every future message to them.
        erased = (
            (
                await session.execute(
                    update(RECIPIENTS)
                    .where(RECIPIENTS.c.key_id == event.key_id)
                    .values(sealed_identity=None, erased_at=func.now())
                    .returning(RECIPIENTS.c.report_id)
                )
            )
            .scalars()
            .all()
        )
        if erased:
            # Nothing still waiting goes out; a message already handed to a provider
            # cannot be called back.
            await session.execute(
                update(DELIVERIES)
                .where(
                    DELIVERIES.c.report_id.in_(erased),
                    DELIVERIES.c.state.in_(("pending", "sending")),
                )
                .values(
                    state="skipped",
                    last_error="reporter erased",
                    finished_at=func.now(),
                    lease_until=None,
                )
            )
        return 0
