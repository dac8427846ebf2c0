"""Intake's reports and the reporters' keys -> who can be answered, a whole batch at a time.

A ReportSubmitted stores how to answer the reporter (channel, language, receipt code, the
sealed identity unless its key was shredded meanwhile), makes due the deliveries that
waited for this recipient, and resolves the status changes parked until intake: recorded
when the reporter left a contact, dropped otherwise. A key issued makes due what waited for
it; a key shredded erases its reporters (identities dropped, nothing waiting goes out).
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from aduan_contracts.enums import Channel
from aduan_contracts.events import ReporterKeyEvent, ReporterKeyIssued, ReportSubmitted
from aduan_kit.keystore import key_bytes
from aduan_notifier.adapters.stores import IntakeStore, KeyStore, NewDelivery, NewRecipient
from aduan_notifier.domain import STAFF_CHANNELS, compose
from aduan_notifier.service.status_changes import delivery_of

__all__ = ["CHAT_WINDOW_CHANNELS", "handle_key_events", "handle_submitted"]

# Channels whose free-form replies are allowed only within 24 hours of the user's message.
CHAT_WINDOW_CHANNELS = frozenset({Channel.WHATSAPP, Channel.FACEBOOK, Channel.INSTAGRAM})


async def handle_submitted(
    store: IntakeStore, events: Sequence[ReportSubmitted], portal_base_url: str
) -> list[int]:
    """Store the batch's recipients and resolve what waited for them; returns, per event,
    how many deliveries it made due or recorded (the worker is woken when any did)."""
    if not events:
        return []
    # Only staff-entered reports park, so only they race with status changes.
    await store.lock_reports([e.report_id for e in events if e.channel in STAFF_CHANNELS])
    shredded = await store.shredded([e.reporter.key_id for e in events if e.reporter is not None])
    first: dict[UUID, ReportSubmitted] = {}
    rows: list[NewRecipient] = []
    for event in events:
        sealed = event.reporter
        erased = sealed is not None and sealed.key_id in shredded
        # Kept sealed: only the delivery worker opens it, in memory.
        identity = sealed.model_dump_json() if sealed is not None and not erased else None
        rows.append(
            NewRecipient(
                report_id=event.report_id,
                channel=event.channel.value,
                language=event.language,
                receipt_code=event.receipt_code,
                key_id=sealed.key_id if sealed is not None else None,
                sealed_identity=identity,
                erased=erased,
                last_inbound_at=(
                    event.received_at if event.channel in CHAT_WINDOW_CHANNELS else None
                ),
            )
        )
        first.setdefault(event.report_id, event)
    await store.add_recipients(rows)
    # Deliveries recorded before this event (the status change overtook it) wait for the
    # recipient: due now. Counted, so that the commit wakes the worker.
    counts: dict[UUID, int] = {}
    due, parked = await store.resolve(list(first))
    for report_id in due:
        counts[report_id] = counts.get(report_id, 0) + 1
    deliveries: list[NewDelivery] = []
    for status_event in sorted(parked, key=lambda e: (str(e.report_id), e.version)):
        submitted = first[status_event.report_id]
        if submitted.reporter is None or submitted.reporter.key_id in shredded:
            continue  # no contact left, or erased: dropped
        message = compose(status_event, submitted.language, portal_base_url)
        if message is None:
            continue
        deliveries.append(delivery_of(status_event, message))
    recorded = await store.record(deliveries)
    for delivery in deliveries:
        if (delivery.status_event_id, delivery.channel) in recorded:
            counts[delivery.report_id] = counts.get(delivery.report_id, 0) + 1
    results = []
    for event in events:
        # Each report's count once (on its first event in the batch).
        results.append(counts.pop(event.report_id, 0))
    return results


async def handle_key_events(store: KeyStore, events: Sequence[ReporterKeyEvent]) -> list[int]:
    """Store or shred the batch's keys; returns, per event, how many deliveries waiting for
    it became due (the sum is what matters: the worker is woken when any did)."""
    if not events:
        return []
    issued = {e.key_id: key_bytes(e) for e in events if isinstance(e, ReporterKeyIssued)}
    shredded = [e.key_id for e in events if not isinstance(e, ReporterKeyIssued)]
    # Issued before shredded: a key shredded in the same batch ends shredded either way (a
    # tombstone is never overwritten by an issue).
    await store.add_keys(issued)
    due = await store.due_now_for_keys(list(issued))
    erased = await store.shred(shredded)
    await store.skip_deliveries(erased)
    return [due] + [0] * (len(events) - 1)
