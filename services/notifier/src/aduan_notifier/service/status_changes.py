"""Status changes -> the reporter's messages, a whole batch at a time.

For each status change that concerns the reporter (`wanted`): a staff-entered report whose
intake event has not arrived yet parks it (intake resolves it); an unreachable reporter
gets nothing; a follow-up's note becomes the report's outcome (told on completion); and
the message, composed for the event's own channel in the reporter's language, is recorded
'pending' once per (status change, channel). The delivery worker sends it after commit.

The batch is applied as it would be one event after another (a follow-up earlier in the
batch is the outcome a later completion tells), with one store call per kind of write.

A report routed as it was opened has `received` and `dispatched` recorded together by
workflow, so both arrive in one batch: the reporter gets one message saying both
(`Template.RECEIVED_DISPATCHED`, with the receipt's tracking link), and the dispatch's
delivery is recorded 'skipped' ("told with the receipt"), so a redelivery of it is still
recorded once and never sent. Two SMS a second apart said less than one, and cost the city
twice (and, at 100/s, a provider call and a delivery claim each).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from uuid import UUID

from aduan_contracts.events import ReportStatusChanged
from aduan_notifier.adapters.stores import (
    TOLD_WITH_RECEIPT,
    NewDelivery,
    Recipient,
    StatusStore,
)
from aduan_notifier.domain import (
    STAFF_CHANNELS,
    Message,
    Reach,
    Template,
    compose,
    normalize_language,
    reach,
    render,
    template_for_event,
)

__all__ = [
    "OUTCOME_LIMIT",
    "PARKED",
    "RECORDED",
    "TOLD_WITH_RECEIPT",
    "concerns_reporter",
    "delivery_of",
    "handle_status_changes",
]

OUTCOME_LIMIT = 1000

RECORDED = "recorded"
ALREADY_RECORDED = "already recorded"
PARKED = "parked until intake"
UNREACHABLE = "unreachable: nothing recorded"
OUTCOME_KEPT = "outcome kept"


def concerns_reporter(event: ReportStatusChanged) -> bool:
    """Internal steps: nothing to tell, nothing to store, not even an inbox claim; a
    follow-up is kept (its note is the outcome the completion message tells)."""
    template = template_for_event(event.from_status, event.to_status, event.primary_status)
    return template is not None or event.follow_up is not None


def delivery_of(
    event: ReportStatusChanged, message: Message, outcome: str | None = None
) -> NewDelivery:
    """The row recording `message` about `event`: what a fallback transport re-renders
    with is the event's reason, or on completion the agency's `outcome`."""
    return NewDelivery(
        report_id=event.report_id,
        status_event_id=event.event_id,
        channel=event.channel.value,
        template=message.template.value,
        language=message.language,
        receipt_code=event.receipt_code,
        subject=message.subject,
        body=message.body,
        reason=event.reason if message.template is not Template.COMPLETED else outcome,
        status_changed_at=event.occurred_at,
    )


async def handle_status_changes(
    store: StatusStore, events: Sequence[ReportStatusChanged], portal_base_url: str
) -> list[str]:
    """Apply a batch of status changes; returns what happened to each, in order
    (`RECORDED` for each message recorded now: the worker is woken for those)."""
    if not events:
        return []
    # Only a staff-entered report's status change can park, so only those race with intake.
    await store.lock_reports([e.report_id for e in events if e.channel in STAFF_CHANNELS])
    known = await store.recipients([e.report_id for e in events])
    outcomes: dict[UUID, str] = {}
    parked: list[ReportStatusChanged] = []
    planned: list[tuple[int, NewDelivery]] = []
    # A receipt planned in this batch, by (report, channel): its place in `planned`.
    receipts: dict[tuple[UUID, str], int] = {}
    results: list[str] = []
    for i, event in enumerate(events):
        recipient: Recipient | None = known.get(event.report_id)
        decision = reach(
            staff_entered=event.channel in STAFF_CHANNELS,
            recipient_known=recipient is not None,
            has_identity=recipient is not None and recipient.has_identity,
            erased=recipient is not None and recipient.erased,
        )
        if decision is Reach.WAIT_FOR_INTAKE:
            parked.append(event)
            results.append(PARKED)
            continue
        if decision is Reach.UNREACHABLE:
            results.append(UNREACHABLE)
            continue
        outcome = None
        if recipient is not None:
            outcome = outcomes.get(event.report_id, recipient.last_outcome)
            if event.follow_up is not None:
                # The agency's account of what it did, for the completion message.
                outcome = event.follow_up.note[:OUTCOME_LIMIT]
                outcomes[event.report_id] = outcome
        message = compose(
            event, recipient.language if recipient is not None else None, portal_base_url, outcome
        )
        if message is None:
            results.append(OUTCOME_KEPT)
            continue
        results.append(ALREADY_RECORDED)  # until the store says it inserted it
        delivery = delivery_of(event, message, outcome)
        where = (event.report_id, event.channel.value)
        if message.template is Template.RECEIVED:
            receipts[where] = len(planned)
        elif message.template is Template.DISPATCHED and where in receipts:
            # Routed as it was opened: the receipt says both (once per report).
            at = receipts.pop(where)
            j, receipt = planned[at]
            both = render(
                Template.RECEIVED_DISPATCHED,
                event.channel,
                normalize_language(receipt.language),
                receipt.receipt_code,
                portal_base_url,
            )
            planned[at] = (
                j,
                replace(
                    receipt,
                    template=both.template.value,
                    subject=both.subject,
                    body=both.body,
                ),
            )
            delivery = replace(delivery, told_with=receipt.status_event_id)
        planned.append((i, delivery))
    await store.park(parked)
    await store.keep_outcomes(outcomes)
    inserted = await store.record([d for _, d in planned])
    now_recorded = set(inserted)  # `inserted` is used up below (a key answers once)
    for i, delivery in planned:
        key = (delivery.status_event_id, delivery.channel)
        if key not in inserted:
            continue
        inserted.discard(key)
        # Skipped by the store when its receipt was recorded by the same call (else pending).
        skipped = (
            delivery.told_with is not None
            and (delivery.told_with, delivery.channel) in now_recorded
        )
        results[i] = TOLD_WITH_RECEIPT if skipped else RECORDED
    return results
