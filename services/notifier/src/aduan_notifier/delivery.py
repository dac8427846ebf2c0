"""The delivery worker: sends 'pending' deliveries, with retries, fallback and leases.

A pass claims due rows in one short transaction (`FOR UPDATE SKIP LOCKED`, so several
notifier replicas share the work): state 'sending', a lease, `attempts + 1`, and an attempt
row. Only then, outside any transaction, is the provider called. The outcome is written in a
second transaction fenced on (state 'sending', the attempt number we claimed): a worker
whose lease ran out and was overtaken cannot record a second outcome.

If the process dies between the two, the lease runs out and another pass claims the row
again, with the same idempotency key: the message is delivered at least once, and exactly
once wherever the provider honours the key (SMS gateway reference, push webhook, e-mail
Message-ID). See docs/notifier.md, "At the provider boundary".
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography.exceptions import InvalidTag
from prometheus_client import Counter, Histogram
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncSession

from aduan_contracts.enums import Channel
from aduan_contracts.events import NotificationDelivered, NotificationFailed
from aduan_contracts.topics import NOTIFICATIONS, dead_letter
from aduan_contracts.values import SealedIdentity
from aduan_kit.crypto import open_identity
from aduan_kit.db import transaction
from aduan_kit.logging import get_logger
from aduan_kit.messaging import add_to_outbox
from aduan_kit.runtime import ServiceRuntime
from aduan_notifier.adapters import Adapter, DeliveryFailure, Outgoing, Permanent, Transient
from aduan_notifier.config import Settings
from aduan_notifier.domain import (
    Contact,
    Message,
    Route,
    Template,
    Transport,
    backoff_seconds,
    family_of_transport,
    normalize_language,
    plan_routes,
    render,
)
from aduan_notifier.tables import DELIVERIES, DELIVERY_ATTEMPTS, OUTBOX, RECIPIENTS
from aduan_notifier.tables import REPORTER_KEYS as KEYS

__all__ = ["DeliveryWorker", "idempotency_key"]

log = get_logger(__name__)

SENT = Counter("aduan_notifier_sent_total", "Messages a provider accepted", ["channel"])
RETRIED = Counter(
    "aduan_notifier_retried_total", "Transient delivery failures scheduled again", ["channel"]
)
FAILED = Counter("aduan_notifier_failed_total", "Deliveries given up on", ["channel"])
SKIPPED = Counter(
    "aduan_notifier_skipped_total",
    "Deliveries with nobody to tell (erased, no contact)",
    ["reason"],
)
LATENCY = Histogram(
    "aduan_notifier_delivery_seconds",
    "From the status change to the provider accepting the message",
    ["channel"],
    buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300, 900, 1800, 3600, 4 * 3600, 24 * 3600),
)

_KEY_NAMESPACE = uuid.UUID("4b7c2f43-3d3e-4a55-9a43-5e1f3f0c6a11")


def idempotency_key(status_event_id: uuid.UUID, channel: str, transport: Transport) -> str:
    """Stable across attempts (and restarts) of one delivery on one transport."""
    return str(uuid.uuid5(_KEY_NAMESPACE, f"{status_event_id}:{channel}:{transport.value}"))


class _Wait(Exception):
    """The recipient or their key has not arrived yet: look again later, no attempt used."""


class _Skip(Exception):
    """Nobody to tell (erased, no contact): the delivery ends without a message."""


@dataclass(frozen=True, slots=True)
class _Recipient:
    contact: Contact
    last_inbound_at: datetime | None


class DeliveryWorker:
    """One per process; `start()` after the runtime started, `stop()` before it stops."""

    def __init__(
        self, runtime: ServiceRuntime, settings: Settings, adapters: dict[Transport, Adapter]
    ) -> None:
        self.runtime = runtime
        self.settings = settings
        self.adapters = adapters
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def configured(self) -> frozenset[Transport]:
        return frozenset(self.adapters)

    def wake(self) -> None:
        self._wake.set()

    # --- loop ---------------------------------------------------------------------------------

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="delivery-worker")

    async def stop(self) -> None:
        """Stop claiming; let in-flight sends finish within the grace period. Anything cut
        off keeps its lease and is taken over after it expires."""
        self._stopping = True
        self._wake.set()
        if self._task:
            try:
                await asyncio.wait_for(self._task, timeout=self.settings.shutdown_grace_s)
            except TimeoutError:
                self._task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._task
        for adapter in self.adapters.values():
            await adapter.close()

    async def _run(self) -> None:
        backoff = self.settings.delivery_poll_interval_s
        while not self._stopping:
            try:
                handled = await self.run_once()
                backoff = self.settings.delivery_poll_interval_s
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database away: keep going, rows stay pending
                log.warning("delivery pass failed; will retry", error=type(exc).__name__)
                handled = 0
                backoff = min(backoff * 2, 10.0)
            if handled < self.settings.delivery_batch_size:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=backoff)

    async def run_once(self) -> int:
        """Claim due deliveries and send them concurrently; returns how many were claimed."""
        claimed = await self._claim()
        if claimed:
            await asyncio.gather(*(self._deliver(row) for row in claimed))
        return len(claimed)

    # --- claiming -----------------------------------------------------------------------------

    async def _claim(self) -> Sequence[Row[Any]]:
        s = self.settings
        now = func.now()
        due = (
            select(DELIVERIES.c.id)
            .where(
                or_(
                    and_(DELIVERIES.c.state == "pending", DELIVERIES.c.next_attempt_at <= now),
                    and_(DELIVERIES.c.state == "sending", DELIVERIES.c.lease_until < now),
                )
            )
            .order_by(DELIVERIES.c.next_attempt_at, DELIVERIES.c.id)
            .limit(s.delivery_batch_size)
            .with_for_update(skip_locked=True)
        )
        async with transaction(self.runtime.sessions) as session:
            rows: Sequence[Row[Any]] = (
                await session.execute(
                    update(DELIVERIES)
                    .where(DELIVERIES.c.id.in_(due.scalar_subquery()))
                    .values(
                        state="sending",
                        attempts=DELIVERIES.c.attempts + 1,
                        lease_until=now + timedelta(seconds=s.delivery_lease_s),
                    )
                    .returning(DELIVERIES)
                )
            ).all()
            if not rows:
                return rows
            ids = [r.id for r in rows]
            # An attempt left open by a worker that died: the provider may have it.
            await session.execute(
                update(DELIVERY_ATTEMPTS)
                .where(
                    DELIVERY_ATTEMPTS.c.delivery_id.in_(ids),
                    DELIVERY_ATTEMPTS.c.outcome.is_(None),
                )
                .values(outcome="abandoned", finished_at=now, error="lease expired mid-attempt")
            )
            await session.execute(
                DELIVERY_ATTEMPTS.insert(),
                [{"delivery_id": r.id, "attempt": r.attempts} for r in rows],
            )
        return rows

    # --- one delivery -------------------------------------------------------------------------

    async def _deliver(self, row: Row[Any]) -> None:
        try:
            try:
                recipient = await self._recipient(row)
            except _Wait:
                await self._defer_unknown_recipient(row)
                return
            except _Skip as skip:
                await self._finish(row, "skipped", None, str(skip), outcome="skipped")
                SKIPPED.labels(str(skip)).inc()
                return
            channel = Channel(row.channel)
            routes = plan_routes(
                channel,
                recipient.contact,
                self.configured,
                recipient.last_inbound_at,
                datetime.now(UTC),
                whatsapp_template_available=row.template in self.settings.whatsapp_templates,
                meta_tag_available=self._meta_tags(),
            )
            if not routes:
                await self._finish(row, "skipped", None, "no usable route", outcome="skipped")
                SKIPPED.labels("no usable route").inc()
                return
            await self._send(row, routes[0])
        except Exception as exc:  # a bug or the database: the lease will hand it back
            log.error(
                "delivery crashed; lease will expire",
                delivery_id=row.id,
                attempt=row.attempts,
                error=type(exc).__name__,
            )
            if row.attempts >= self.settings.delivery_max_attempts:
                # Never loop forever on a row that always crashes: make it visible instead.
                with contextlib.suppress(Exception):
                    await self._fail(row, None, f"internal error: {type(exc).__name__}")

    def _meta_tags(self) -> frozenset[Transport]:
        tags = set()
        if self.settings.messenger_message_tag:
            tags.add(Transport.MESSENGER)
        if self.settings.instagram_message_tag:
            tags.add(Transport.INSTAGRAM)
        return frozenset(tags)

    async def _recipient(self, row: Row[Any]) -> _Recipient:
        async with self.runtime.sessions() as session:
            recipient = (
                await session.execute(
                    select(RECIPIENTS).where(RECIPIENTS.c.report_id == row.report_id)
                )
            ).first()
            if recipient is None:
                raise _Wait
            if recipient.erased_at is not None:
                raise _Skip("reporter erased")
            if recipient.sealed_identity is None:
                raise _Skip("no contact")
            sealed = SealedIdentity.model_validate(recipient.sealed_identity)
            key_row = (
                await session.execute(
                    select(KEYS.c.key, KEYS.c.shredded_at).where(KEYS.c.key_id == sealed.key_id)
                )
            ).first()
            if key_row is None:
                raise _Wait  # the key event has not arrived yet
            if key_row.key is None or key_row.shredded_at is not None:
                raise _Skip("reporter erased")
            last_inbound = await self._last_inbound(session, recipient, sealed.key_id)
        try:
            identity = open_identity(sealed, base64.b64decode(key_row.key))
        except InvalidTag:
            # Sealed under another key or altered: no retry can open it.
            raise _Skip("identity cannot be opened") from None
        contact = Contact.from_identity(identity)
        if contact.empty:
            raise _Skip("no contact")
        return _Recipient(contact, last_inbound)

    async def _last_inbound(
        self, session: AsyncSession, recipient: Row[Any], key_id: uuid.UUID
    ) -> datetime | None:
        """The reporter's latest message on this channel, over all their reports (one key
        per reporter), since any of them opens the 24-hour window."""
        latest: datetime | None = await session.scalar(
            select(func.max(RECIPIENTS.c.last_inbound_at)).where(
                RECIPIENTS.c.key_id == key_id, RECIPIENTS.c.channel == recipient.channel
            )
        )
        return latest or recipient.last_inbound_at

    def _message(self, row: Row[Any], transport: Transport) -> Message:
        return render(
            Template(row.template),
            Channel(row.channel),
            normalize_language(row.language),
            row.receipt_code,
            self.settings.portal_base_url,
            reason=row.reason,
            family=family_of_transport(transport),
        )

    async def _send(self, row: Row[Any], route: Route) -> None:
        """Send on the best usable route. Fallback happens in planning (a route that cannot
        carry the message now is never tried); a provider's 4xx is a fact operators must
        see (a bad token, a blocked number), so it fails the delivery instead of quietly
        rerouting it."""
        adapter = self.adapters[route.transport]
        out = Outgoing(
            route=route,
            message=self._message(row, route.transport),
            idempotency_key=idempotency_key(row.status_event_id, row.channel, route.transport),
            receipt_code=row.receipt_code,
            provider_template=self.settings.whatsapp_templates.get(row.template),
        )
        await self._note_transport(row, route.transport)
        try:
            provider_id = await adapter.send(out)
        except Transient as exc:
            await self._retry_or_fail(row, route.transport, exc)
            return
        except Permanent as exc:
            await self._fail(row, route.transport, exc.cause)
            return
        await self._sent(row, route.transport, provider_id)

    # --- outcomes -----------------------------------------------------------------------------

    def _fence(self, row: Row[Any]) -> Any:
        return and_(
            DELIVERIES.c.id == row.id,
            DELIVERIES.c.state == "sending",
            DELIVERIES.c.attempts == row.attempts,
        )

    async def _note_transport(self, row: Row[Any], transport: Transport) -> None:
        async with transaction(self.runtime.sessions) as session:
            await session.execute(
                update(DELIVERY_ATTEMPTS)
                .where(
                    DELIVERY_ATTEMPTS.c.delivery_id == row.id,
                    DELIVERY_ATTEMPTS.c.attempt == row.attempts,
                )
                .values(transport=transport.value)
            )

    async def _close_attempt(
        self, session: AsyncSession, row: Row[Any], outcome: str, error: str | None
    ) -> None:
        await session.execute(
            update(DELIVERY_ATTEMPTS)
            .where(
                DELIVERY_ATTEMPTS.c.delivery_id == row.id,
                DELIVERY_ATTEMPTS.c.attempt == row.attempts,
            )
            .values(outcome=outcome, error=error, finished_at=func.now())
        )

    async def _finish(
        self,
        row: Row[Any],
        state: str,
        transport: Transport | None,
        error: str | None,
        outcome: str,
    ) -> bool:
        async with transaction(self.runtime.sessions) as session:
            done = await session.execute(
                update(DELIVERIES)
                .where(self._fence(row))
                .values(
                    state=state,
                    transport=transport.value if transport else None,
                    last_error=error,
                    lease_until=None,
                    finished_at=func.now(),
                )
            )
            await self._close_attempt(session, row, outcome, error)
            return bool(done.rowcount)  # type: ignore[attr-defined]

    async def _sent(self, row: Row[Any], transport: Transport, provider_id: str | None) -> None:
        async with transaction(self.runtime.sessions) as session:
            done = await session.execute(
                update(DELIVERIES)
                .where(self._fence(row))
                .values(
                    state="sent",
                    transport=transport.value,
                    provider_message_id=provider_id,
                    last_error=None,
                    lease_until=None,
                    finished_at=func.now(),
                )
                .returning(DELIVERIES.c.finished_at)
            )
            finished = done.scalar()
            await self._close_attempt(session, row, "sent", None)
            if finished is None:
                log.warning("delivery was taken over; outcome not recorded", delivery_id=row.id)
                return
            await add_to_outbox(
                session,
                OUTBOX,
                self.runtime.topic(NOTIFICATIONS.name),
                NotificationDelivered(
                    report_id=row.report_id,
                    status_event_id=row.status_event_id,
                    channel=Channel(row.channel),
                    template=row.template,
                    attempts=row.attempts,
                    causation_id=str(row.status_event_id),
                ),
                key=row.report_id,
                headers={"transport": transport.value},
            )
        self.runtime.wake_relay()
        SENT.labels(transport.value).inc()
        if row.status_changed_at is not None:
            LATENCY.labels(transport.value).observe(
                max(0.0, (finished - row.status_changed_at).total_seconds())
            )
        log.info(
            "notification sent",
            delivery_id=row.id,
            report_id=str(row.report_id),
            transport=transport.value,
            attempts=row.attempts,
        )

    async def _retry_or_fail(
        self, row: Row[Any], transport: Transport, exc: DeliveryFailure
    ) -> None:
        s = self.settings
        if row.attempts >= s.delivery_max_attempts:
            await self._fail(row, transport, f"{exc.cause} (after {row.attempts} attempts)")
            return
        delay = backoff_seconds(row.attempts, s.retry_base_s, s.retry_cap_s, exc.retry_after_s)
        async with transaction(self.runtime.sessions) as session:
            await session.execute(
                update(DELIVERIES)
                .where(self._fence(row))
                .values(
                    state="pending",
                    transport=transport.value,
                    last_error=exc.cause,
                    lease_until=None,
                    next_attempt_at=func.now() + timedelta(seconds=delay),
                )
            )
            await self._close_attempt(session, row, "transient", exc.cause)
        RETRIED.labels(transport.value).inc()
        log.warning(
            "delivery failed; will retry",
            delivery_id=row.id,
            transport=transport.value,
            attempt=row.attempts,
            retry_in_s=round(delay, 2),
            error=exc.cause,
        )

    async def _fail(self, row: Row[Any], transport: Transport | None, cause: str) -> None:
        cause = cause[:1000]
        failed = NotificationFailed(
            report_id=row.report_id,
            status_event_id=row.status_event_id,
            channel=Channel(row.channel),
            template=row.template,
            attempts=row.attempts,
            error=cause,
            causation_id=str(row.status_event_id),
        )
        async with transaction(self.runtime.sessions) as session:
            done = await session.execute(
                update(DELIVERIES)
                .where(self._fence(row))
                .values(
                    state="failed",
                    transport=transport.value if transport else None,
                    last_error=cause,
                    lease_until=None,
                    finished_at=func.now(),
                )
            )
            await self._close_attempt(session, row, "permanent", cause)
            if not done.rowcount:  # type: ignore[attr-defined]
                return
            topic = self.runtime.topic(NOTIFICATIONS.name)
            await add_to_outbox(session, OUTBOX, topic, failed, key=row.report_id)
            # The dead letter keeps the failed message's facts and the cause in the same
            # headers the kit's consumer dead letters use, for the same operators' tooling.
            await add_to_outbox(
                session,
                OUTBOX,
                self.runtime.topic(dead_letter(NOTIFICATIONS).name),
                failed,
                key=row.report_id,
                headers={
                    "dlq_error": cause,
                    "dlq_source": "notifier.delivery",
                    "dlq_delivery_id": str(row.id),
                    "dlq_transport": transport.value if transport else "none",
                    "dlq_attempts": str(row.attempts),
                    "dlq_at": str(time.time()),
                },
            )
        self.runtime.wake_relay()
        FAILED.labels(transport.value if transport else "none").inc()
        log.error(
            "delivery failed for good",
            delivery_id=row.id,
            report_id=str(row.report_id),
            transport=transport.value if transport else None,
            attempts=row.attempts,
            error=cause,
        )

    async def _defer_unknown_recipient(self, row: Row[Any]) -> None:
        """Not an attempt: the message waits for intake's event or the reporter's key."""
        s = self.settings
        age = (datetime.now(UTC) - row.created_at).total_seconds()
        if age > s.recipient_wait_s:
            await self._finish(
                row, "failed", None, "recipient or key never arrived", outcome="permanent"
            )
            FAILED.labels("unknown").inc()
            return
        async with transaction(self.runtime.sessions) as session:
            await session.execute(
                update(DELIVERIES)
                .where(self._fence(row))
                .values(
                    state="pending",
                    attempts=DELIVERIES.c.attempts - 1,
                    lease_until=None,
                    next_attempt_at=func.now() + timedelta(seconds=s.recipient_poll_s),
                )
            )
            await session.execute(
                DELIVERY_ATTEMPTS.delete().where(
                    DELIVERY_ATTEMPTS.c.delivery_id == row.id,
                    DELIVERY_ATTEMPTS.c.attempt == row.attempts,
                )
            )
