"""Kafka subscribers: intake (how to answer), reporter keys, status changes (what to say).

Each claims its inbox in the transaction that applies the message. A status change that
concerns the reporter becomes one 'pending' row in `deliveries` per (status change,
channel); the delivery worker (`delivery.py`) sends it, and announces a delivery it gave
up on through the outbox.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import ColumnElement, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from aduan_contracts.enums import ANSWER_BY_REPLY_CHANNELS, Channel, SlaStage
from aduan_contracts.events import (
    NotificationFailed,
    ReportAmended,
    ReporterKeyEvent,
    ReporterKeyIssued,
    ReporterKeyShredded,
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
from aduan_kit.batching import subscribe_batches
from aduan_kit.logging import get_logger
from aduan_kit.runtime import ServiceRuntime
from aduan_notifier.domain import (
    STAFF_CHANNELS,
    Reach,
    Template,
    compose,
    normalize_language,
    reach,
    render,
    template_for_event,
)
from aduan_notifier.tables import (
    DELIVERIES,
    INBOX,
    OUTBOX,
    PENDING,
    RECIPIENTS,
)
from aduan_notifier.tables import (
    REPORTER_KEYS as KEYS,
)

__all__ = ["Notifier", "register_handlers"]

log = get_logger(__name__)
OUTCOME_LIMIT = 1000

# Channels whose free-form replies are allowed only within 24 hours of the user's message.
CHAT_WINDOW_CHANNELS = frozenset({Channel.WHATSAPP, Channel.FACEBOOK, Channel.INSTAGRAM})


# Advisory-lock space for "one transaction per report at a time" (the outbox relay's lock is
# a single 64-bit key, a separate space).
REPORT_LOCK_SPACE = 7201


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
    """The application service the subscribers call; tests may call it directly."""

    runtime: ServiceRuntime
    portal_base_url: str
    # Called after a commit that recorded deliveries, so the worker picks them up at once.
    wake: Callable[[], None] = lambda: None

    @property
    def notifications_topic(self) -> str:
        return self.runtime.topic(NOTIFICATIONS.name)

    # --- status changes ---------------------------------------------------------------------

    async def on_status_changed(self, session: AsyncSession, event: ReportStatusChanged) -> str:
        """Apply one status change; returns what happened (for the log)."""
        if needs_report_lock(event.channel):
            await lock_report(session, event.report_id)
        recipient = (
            await session.execute(
                select(RECIPIENTS).where(RECIPIENTS.c.report_id == event.report_id)
            )
        ).first()
        decision = reach(
            staff_entered=event.channel in STAFF_CHANNELS,
            recipient_known=recipient is not None,
            has_identity=recipient is not None and recipient.sealed_identity is not None,
            erased=recipient is not None and recipient.erased_at is not None,
        )
        if decision is Reach.WAIT_FOR_INTAKE:
            await session.execute(
                insert(PENDING)
                .values(
                    status_event_id=event.event_id,
                    report_id=event.report_id,
                    event=event.model_dump(mode="json"),
                )
                .on_conflict_do_nothing()
            )
            return "parked until intake"
        if decision is Reach.UNREACHABLE:
            return "unreachable: nothing recorded"
        outcome = recipient.last_outcome if recipient is not None else None
        if event.follow_up is not None and recipient is not None:
            # The agency's account of what it did, for the completion message.
            outcome = event.follow_up.note[:OUTCOME_LIMIT]
            await session.execute(
                update(RECIPIENTS)
                .where(RECIPIENTS.c.report_id == event.report_id)
                .values(last_outcome=outcome)
            )
        if template_for_event(event.from_status, event.to_status, event.primary_status) is None:
            return "outcome kept"
        language = recipient.language if recipient is not None else None
        recorded = await self._record(session, event, language, outcome)
        return "recorded" if recorded else "already recorded"

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


def register_handlers(
    runtime: ServiceRuntime,
    portal_base_url: str,
    wake: Callable[[], None] = lambda: None,
    sla_apology_stages: Collection[SlaStage] = (),
) -> Notifier:
    """Five batch subscribers (`aduan_kit.batching`): one transaction, one inbox claim and
    one offset commit per poll. Each wakes the delivery worker after a commit that recorded
    something."""
    notifier = Notifier(runtime, portal_base_url, wake)

    runtime.broker.publisher(
        notifier.notifications_topic,
        title="notifier.notifications",
        description="One NotificationFailed per delivery given up on (every route failed "
        "or the attempts ran out), keyed by report id, with the same event on the topic's "
        "dead letters (published by the outbox relay). A message sent is not announced: "
        "NotificationDelivered had no consumer and is no longer published.",
        schema=NotificationFailed,
    )

    def wake_if(recorded: Callable[[object], bool]) -> Callable[[list[object]], None]:
        def after_commit(results: list[object]) -> None:
            if any(recorded(r) for r in results):
                notifier.wake()

        return after_commit

    async def on_intake(session: AsyncSession, event: ReportIntakeEvent) -> int:
        if not isinstance(event, ReportSubmitted):
            # An amendment is the reporter writing again: it reopens a chat window, and an
            # answer to an officer's question by SMS/WhatsApp is acknowledged.
            return await notifier.on_report_amended(session, event)
        recorded = await notifier.on_report_submitted(session, event)
        log.info(
            "recipient stored",
            report_id=str(event.report_id),
            event_id=str(event.event_id),
            parked_recorded=recorded,
        )
        return recorded

    subscribe_batches(
        runtime,
        runtime.topic(REPORT_INTAKE.name),
        model=ReportIntakeEvent,
        consumer="notifier.on_intake",
        inbox=INBOX,
        apply=on_intake,
        outbox=OUTBOX,
        after_commit=wake_if(lambda recorded: bool(recorded)),
        title="notifier.on_intake",
        description="Keeps channel, language, receipt code and sealed identity per report.",
    )

    async def on_reporter_key(session: AsyncSession, event: ReporterKeyEvent) -> int:
        due = await notifier.on_reporter_key(session, event)
        log.info(
            "reporter key event applied", key_id=str(event.key_id), event_type=event.event_type
        )
        return due

    subscribe_batches(
        runtime,
        runtime.topic(REPORTER_KEYS.name),
        model=ReporterKeyEvent,
        consumer="notifier.on_reporter_key",
        inbox=INBOX,
        apply=on_reporter_key,
        outbox=OUTBOX,
        after_commit=wake_if(lambda due: bool(due)),
        title="notifier.on_reporter_key",
        description="Stores per-reporter keys; deletes them (and the sealed identities) when "
        "shredded.",
    )

    def concerns_reporter(event: ReportStatusChanged) -> bool:
        # Internal steps: nothing to tell, nothing to store, not even an inbox claim; a
        # follow-up is kept (its note is the outcome the completion message tells).
        template = template_for_event(event.from_status, event.to_status, event.primary_status)
        return template is not None or event.follow_up is not None

    async def on_status_changed(session: AsyncSession, event: ReportStatusChanged) -> str:
        outcome = await notifier.on_status_changed(session, event)
        log.info(
            "status change handled",
            report_id=str(event.report_id),
            event_id=str(event.event_id),
            to_status=event.to_status.value,
            outcome=outcome,
        )
        return outcome

    subscribe_batches(
        runtime,
        runtime.topic(STATUS_CHANGED.name),
        model=ReportStatusChanged,
        consumer="notifier.on_status_changed",
        inbox=INBOX,
        apply=on_status_changed,
        outbox=OUTBOX,
        wanted=concerns_reporter,
        after_commit=wake_if(lambda outcome: outcome == "recorded"),
        title="notifier.on_status_changed",
        description="Records the reporter's message for each status change that concerns them.",
    )

    apology_stages = frozenset(sla_apology_stages)

    def apology_due(event: SlaEvent) -> bool:
        # Reminders are for officers; unconfigured stages stay internal.
        return isinstance(event, SlaBreached) and event.stage in apology_stages

    async def on_sla_event(session: AsyncSession, event: SlaEvent) -> str:
        if not isinstance(event, SlaBreached):  # `apology_due` lets only breaches through
            return "not a breach"
        outcome = await notifier.on_sla_breached(session, event)
        log.info(
            "SLA breach handled",
            report_id=str(event.report_id),
            event_id=str(event.event_id),
            stage=event.stage.value,
            outcome=outcome,
        )
        return outcome

    subscribe_batches(
        runtime,
        runtime.topic(SLA_EVENTS.name),
        model=SlaEvent,
        consumer="notifier.on_sla_event",
        inbox=INBOX,
        apply=on_sla_event,
        outbox=OUTBOX,
        wanted=apology_due,
        after_commit=wake_if(lambda outcome: outcome == "recorded"),
        title="notifier.on_sla_event",
        description="Records an apology to the reporter when a configured SLA stage is breached.",
    )

    async def on_question(session: AsyncSession, event: ReporterQuestionAsked) -> str:
        outcome = await notifier.on_question_asked(session, event)
        log.info(
            "question to the reporter handled",
            report_id=str(event.report_id),
            event_id=str(event.event_id),
            outcome=outcome,
        )
        return outcome

    subscribe_batches(
        runtime,
        runtime.topic(REPORTER_QUESTIONS.name),
        model=ReporterQuestionAsked,
        consumer="notifier.on_question",
        inbox=INBOX,
        apply=on_question,
        outbox=OUTBOX,
        after_commit=wake_if(lambda outcome: outcome == "recorded"),
        title="notifier.on_question",
        description="Records an officer's question for delivery on the reporter's channel.",
    )

    return notifier
