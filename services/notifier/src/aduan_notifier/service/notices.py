"""Messages that are not status changes, a whole batch at a time: an apology for a missed
SLA stage, an officer's question, and the acknowledgement of a reporter's answer by SMS or
WhatsApp. They carry no channel: each goes on the channel intake told us about, in the
reporter's language, once per key (the breach event, the question, the answering message),
and only to a known reporter who left a contact and was not erased.

A reporter writing again on a chat channel also reopens its 24-hour window.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from aduan_contracts.enums import ANSWER_BY_REPLY_CHANNELS, Channel
from aduan_contracts.events import ReportAmended, ReporterQuestionAsked, SlaBreached
from aduan_notifier.adapters.stores import NewDelivery, NoticeStore
from aduan_notifier.domain import Template, normalize_language, render
from aduan_notifier.service.recipients import CHAT_WINDOW_CHANNELS
from aduan_notifier.service.status_changes import ALREADY_RECORDED, RECORDED

__all__ = [
    "NO_CONTACT",
    "NO_KNOWN_REPORTER",
    "Notice",
    "handle_amendments",
    "handle_questions",
    "handle_sla_breaches",
    "tell_reporters",
]

NO_KNOWN_REPORTER = "no known reporter"
NO_CONTACT = "no contact"


@dataclass(frozen=True, slots=True)
class Notice:
    """One message for a report's reporter, recorded once per `key`."""

    report_id: UUID
    key: UUID
    template: Template
    at: datetime
    # E-mail shows it (the question's text); a fallback transport re-renders with it.
    reason: str | None = None


async def tell_reporters(
    store: NoticeStore, notices: Sequence[Notice], portal_base_url: str
) -> list[str]:
    """Record the notices for their known reporters; returns what became of each."""
    if not notices:
        return []
    known = await store.recipients([n.report_id for n in notices])
    results: list[str] = []
    planned: list[tuple[int, NewDelivery]] = []
    for i, notice in enumerate(notices):
        recipient = known.get(notice.report_id)
        if recipient is None or recipient.erased:
            results.append(NO_KNOWN_REPORTER)
            continue
        if not recipient.has_identity:
            results.append(NO_CONTACT)
            continue
        channel = Channel(recipient.channel)
        message = render(
            notice.template,
            channel,
            normalize_language(recipient.language),
            recipient.receipt_code,
            portal_base_url,
            reason=notice.reason,
            # A question's delivery is keyed by the question id: it makes the answer link.
            question_id=notice.key if notice.template is Template.QUESTION else None,
        )
        results.append(ALREADY_RECORDED)  # until the store says it inserted it
        planned.append(
            (
                i,
                NewDelivery(
                    report_id=notice.report_id,
                    status_event_id=notice.key,
                    channel=channel.value,
                    template=message.template.value,
                    language=message.language,
                    receipt_code=recipient.receipt_code,
                    subject=message.subject,
                    body=message.body,
                    reason=notice.reason,
                    status_changed_at=notice.at,
                ),
            )
        )
    inserted = await store.record([d for _, d in planned])
    for i, delivery in planned:
        if (delivery.status_event_id, delivery.channel) in inserted:
            results[i] = RECORDED
            inserted.discard((delivery.status_event_id, delivery.channel))
    return results


async def handle_sla_breaches(
    store: NoticeStore, events: Sequence[SlaBreached], portal_base_url: str
) -> list[str]:
    """An apology for a missed deadline, once per breach event (the caller lets through
    only the configured stages)."""
    notices = [Notice(e.report_id, e.event_id, Template.SLA_APOLOGY, e.occurred_at) for e in events]
    return await tell_reporters(store, notices, portal_base_url)


async def handle_questions(
    store: NoticeStore, events: Sequence[ReporterQuestionAsked], portal_base_url: str
) -> list[str]:
    """An officer's question, once per question; its text rides in `reason`."""
    notices = [
        Notice(e.report_id, e.question_id, Template.QUESTION, e.asked_at, reason=e.text)
        for e in events
    ]
    return await tell_reporters(store, notices, portal_base_url)


async def handle_amendments(
    store: NoticeStore, events: Sequence[ReportAmended], portal_base_url: str
) -> list[int]:
    """A reporter wrote again: an answer by SMS or WhatsApp to an officer's question is
    acknowledged (once per message), so the reporter knows it reached the report and was
    not filed as a new complaint; on a chat channel the 24-hour window reopens. Returns,
    per event, how many messages were recorded."""
    if not events:
        return []
    answers = [
        (i, Notice(e.report_id, e.event_id, Template.ANSWER_RECEIVED, e.received_at))
        for i, e in enumerate(events)
        if e.in_reply_to is not None and e.channel in ANSWER_BY_REPLY_CHANNELS
    ]
    told = await tell_reporters(store, [n for _, n in answers], portal_base_url)
    counts = [0] * len(events)
    for (i, _), outcome in zip(answers, told, strict=True):
        counts[i] = int(outcome == RECORDED)
    latest: dict[UUID, datetime] = {}
    for e in events:
        if e.channel in CHAT_WINDOW_CHANNELS:
            latest[e.report_id] = max(latest.get(e.report_id, e.received_at), e.received_at)
    await store.touch_inbound(latest)
    return counts
