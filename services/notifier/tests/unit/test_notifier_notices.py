"""Apologies, questions and answer acknowledgements on an in-memory store: on the channel
intake told us about, once per key, only to a known reporter with a contact (no I/O)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from uuid import UUID

from aduan_contracts.enums import Channel, SlaStage
from aduan_contracts.events import ReportAmended, ReporterQuestionAsked, SlaBreached
from aduan_notifier.adapters.stores import NewDelivery, Recipient
from aduan_notifier.service.notices import (
    handle_amendments,
    handle_questions,
    handle_sla_breaches,
)

BASE = "https://aduan.example.go.id/"
CODE = "ADU-7K3M-Q9XZ"


@dataclass
class FakeNoticeStore:
    known: dict[UUID, Recipient] = field(default_factory=dict)
    deliveries: dict[tuple[UUID, str], NewDelivery] = field(default_factory=dict)
    inbound: dict[UUID, datetime] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)

    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    async def recipients(self, report_ids: Sequence[UUID]) -> dict[UUID, Recipient]:
        self._count("recipients")
        return {r: self.known[r] for r in report_ids if r in self.known}

    async def record(self, deliveries: Sequence[NewDelivery]) -> set[tuple[UUID, str]]:
        self._count("record")
        inserted = set()
        for d in deliveries:
            if (d.status_event_id, d.channel) not in self.deliveries:
                self.deliveries[(d.status_event_id, d.channel)] = d
                inserted.add((d.status_event_id, d.channel))
        return inserted

    async def touch_inbound(self, latest: Mapping[UUID, datetime]) -> None:
        self._count("touch_inbound")
        for rid, at in latest.items():
            self.inbound[rid] = max(self.inbound.get(rid, at), at)


def recipient(
    rid: UUID, channel: Channel, *, contact: bool = True, erased: bool = False
) -> Recipient:
    return Recipient(rid, channel.value, "en", CODE, contact, erased, None)


def amended(rid: UUID, channel: Channel, *, reply: bool, at: datetime) -> ReportAmended:
    return ReportAmended.model_validate(
        {
            "report_id": rid,
            "channel": channel,
            "channel_message_id": uuid.uuid4().hex,
            "text": "Masih gelap di gang kami",
            "received_at": at,
            "in_reply_to": uuid.uuid4() if reply else None,
        }
    )


async def test_apologies_go_to_known_reporters_with_a_contact_once_each() -> None:
    store = FakeNoticeStore()
    told, silent, erased, unknown = (uuid.uuid4() for _ in range(4))
    store.known[told] = recipient(told, Channel.SMS)
    store.known[silent] = recipient(silent, Channel.WALK_IN, contact=False)
    store.known[erased] = recipient(erased, Channel.WEB, erased=True)
    events = [
        SlaBreached(report_id=rid, stage=SlaStage.FOLLOW_UP, due_at=datetime.now(UTC))
        for rid in (told, silent, erased, unknown)
    ]

    outcomes = await handle_sla_breaches(store, events, BASE)

    assert outcomes == ["recorded", "no contact", "no known reporter", "no known reporter"]
    [delivery] = store.deliveries.values()
    assert (delivery.report_id, delivery.channel, delivery.template) == (told, "sms", "sla_apology")
    assert store.calls == {"recipients": 1, "record": 1}
    assert await handle_sla_breaches(store, events[:1], BASE) == ["already recorded"]


async def test_a_question_is_keyed_by_its_id_and_carries_its_text() -> None:
    store = FakeNoticeStore()
    rid = uuid.uuid4()
    store.known[rid] = recipient(rid, Channel.WEB)
    question = ReporterQuestionAsked(
        report_id=rid,
        question_id=uuid.uuid4(),
        text="Di depan rumah nomor berapa?",
        asked_at=datetime.now(UTC),
    )

    assert await handle_questions(store, [question], BASE) == ["recorded"]

    delivery = store.deliveries[(question.question_id, "web")]
    assert delivery.reason == question.text and delivery.template == "question"


async def test_an_answer_by_sms_is_acknowledged_and_a_chat_message_reopens_the_window() -> None:
    store = FakeNoticeStore()
    sms, chat = uuid.uuid4(), uuid.uuid4()
    store.known[sms] = recipient(sms, Channel.SMS)
    store.known[chat] = recipient(chat, Channel.WHATSAPP)
    now = datetime.now(UTC)
    events = [
        amended(sms, Channel.SMS, reply=True, at=now),
        amended(chat, Channel.WHATSAPP, reply=False, at=now),
        amended(chat, Channel.WHATSAPP, reply=False, at=now - timedelta(minutes=5)),
        amended(sms, Channel.SMS, reply=False, at=now),  # not an answer: nothing to say
    ]

    assert await handle_amendments(store, events, BASE) == [1, 0, 0, 0]

    [delivery] = store.deliveries.values()
    assert (delivery.report_id, delivery.template) == (sms, "answer_received")
    assert store.inbound == {chat: now}  # the latest message of the batch; SMS has no window
