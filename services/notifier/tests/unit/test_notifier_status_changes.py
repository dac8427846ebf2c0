"""The status-change use case on an in-memory store: what a batch records, parks or drops,
with one store call per kind of write (no I/O)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

from aduan_contracts.enums import Channel, ReportStatus, Role
from aduan_contracts.events import ReportStatusChanged
from aduan_contracts.values import Actor, FollowUp
from aduan_notifier.adapters.stores import NewDelivery, Recipient
from aduan_notifier.service.status_changes import (
    concerns_reporter,
    handle_status_changes,
)

S = ReportStatus
BASE = "https://aduan.example.go.id/"
OFFICER = Actor(id="off-1", role=Role.AGENCY_OFFICER, agency_id="bina-marga")


@dataclass
class FakeStatusStore:
    """`StatusStore` in memory; counts the calls (one per batch each is the contract)."""

    known: dict[UUID, Recipient] = field(default_factory=dict)
    deliveries: dict[tuple[UUID, str], NewDelivery] = field(default_factory=dict)
    states: dict[tuple[UUID, str], str] = field(default_factory=dict)
    parked: dict[UUID, ReportStatusChanged] = field(default_factory=dict)
    locked: list[UUID] = field(default_factory=list)
    calls: dict[str, int] = field(default_factory=dict)

    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    async def lock_reports(self, report_ids: Sequence[UUID]) -> None:
        self._count("lock_reports")
        self.locked += report_ids

    async def recipients(self, report_ids: Sequence[UUID]) -> dict[UUID, Recipient]:
        self._count("recipients")
        return {r: self.known[r] for r in report_ids if r in self.known}

    async def park(self, events: Sequence[ReportStatusChanged]) -> None:
        self._count("park")
        for e in events:
            self.parked.setdefault(e.event_id, e)

    async def keep_outcomes(self, outcomes: Mapping[UUID, str]) -> None:
        self._count("keep_outcomes")
        for report_id, outcome in outcomes.items():
            if report_id in self.known:
                old = self.known[report_id]
                self.known[report_id] = Recipient(
                    old.report_id,
                    old.channel,
                    old.language,
                    old.receipt_code,
                    old.has_identity,
                    old.erased,
                    outcome,
                )

    async def record(self, deliveries: Sequence[NewDelivery]) -> set[tuple[UUID, str]]:
        """As the PostgreSQL store: the deliveries told with another come after the others,
        'skipped' when that other one was inserted by this call, else 'pending'."""
        self._count("record")
        inserted = set()
        for d in sorted(deliveries, key=lambda d: d.told_with is not None):
            key = (d.status_event_id, d.channel)
            if key not in self.deliveries:
                self.deliveries[key] = d
                told = d.told_with is not None and (d.told_with, d.channel) in inserted
                self.states[key] = "skipped" if told else "pending"
                inserted.add(key)
        return inserted


def change(
    report_id: UUID,
    from_status: ReportStatus | None,
    to_status: ReportStatus,
    channel: Channel = Channel.SMS,
    **kw: object,
) -> ReportStatusChanged:
    return ReportStatusChanged.model_validate(
        {
            "report_id": report_id,
            "receipt_code": "ADU-7K3M-9QXZ",
            "channel": channel,
            "version": 2,
            "from_status": from_status,
            "to_status": to_status,
            "actor": OFFICER,
            "occurred_at": datetime.now(UTC),
            **kw,
        }
    )


def recipient(
    report_id: UUID,
    channel: Channel = Channel.SMS,
    *,
    language: str = "en",
    has_identity: bool = True,
    erased: bool = False,
    last_outcome: str | None = None,
) -> Recipient:
    return Recipient(
        report_id, channel.value, language, "ADU-7K3M-9QXZ", has_identity, erased, last_outcome
    )


async def test_a_batch_records_each_message_once_with_one_call_per_store() -> None:
    store = FakeStatusStore()
    a, b = uuid.uuid4(), uuid.uuid4()
    store.known[b] = recipient(b, Channel.WEB, language="en")
    events = [
        change(a, None, S.RECEIVED),  # before intake: recorded from the event alone
        change(b, None, S.RECEIVED, Channel.WEB),
        change(a, S.RECEIVED, S.DISPATCHED),
    ]

    outcomes = await handle_status_changes(store, events, BASE)

    # a's dispatch came with its opening: its receipt says both (below).
    assert outcomes == ["recorded", "recorded", "told with the receipt"]
    assert store.calls == {
        "lock_reports": 1,
        "recipients": 1,
        "park": 1,
        "keep_outcomes": 1,
        "record": 1,
    }
    assert [(d.report_id, d.template, d.channel) for d in store.deliveries.values()] == [
        (a, "received_dispatched", "sms"),
        (b, "received", "web"),
        (a, "dispatched", "sms"),
    ]
    assert list(store.states.values()) == ["pending", "pending", "skipped"]
    # The reporter's language when intake told it; the default (Indonesian) before.
    assert store.deliveries[(events[1].event_id, "web")].language == "en"
    assert store.deliveries[(events[0].event_id, "sms")].language == "id"
    # Public channels never race with intake: nothing to lock.
    assert store.locked == []


async def test_the_same_change_again_is_already_recorded() -> None:
    store = FakeStatusStore()
    event = change(uuid.uuid4(), None, S.RECEIVED)
    assert await handle_status_changes(store, [event], BASE) == ["recorded"]
    assert await handle_status_changes(store, [event], BASE) == ["already recorded"]
    assert len(store.deliveries) == 1


async def test_staff_entered_reports_wait_for_intake_and_need_a_contact() -> None:
    store = FakeStatusStore()
    unknown, without, erased = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    store.known[without] = recipient(without, Channel.WALK_IN, has_identity=False)
    store.known[erased] = recipient(erased, Channel.WEB, erased=True)
    events = [
        change(unknown, None, S.RECEIVED, Channel.WALK_IN),
        change(without, None, S.RECEIVED, Channel.WALK_IN),
        change(erased, None, S.RECEIVED, Channel.WEB),
    ]

    outcomes = await handle_status_changes(store, events, BASE)

    assert outcomes == [
        "parked until intake",
        "unreachable: nothing recorded",
        "unreachable: nothing recorded",
    ]
    assert list(store.parked) == [events[0].event_id]
    assert store.deliveries == {}
    # Only the staff-entered reports are locked against intake's handling.
    assert sorted(store.locked, key=str) == sorted([unknown, without], key=str)


async def test_a_follow_up_earlier_in_the_batch_is_the_outcome_completion_tells() -> None:
    store = FakeStatusStore()
    rid = uuid.uuid4()
    store.known[rid] = recipient(rid, Channel.WEB, last_outcome="an older outcome")
    note = "Lubang jalan sudah ditambal pada 3 Desember."
    follow_up = FollowUp(follow_up_id=uuid.uuid4(), note=note, officer=OFFICER)
    submitted = change(rid, S.IN_PROGRESS, S.AWAITING_VALIDATION, Channel.WEB, follow_up=follow_up)
    completed = change(rid, S.AWAITING_VALIDATION, S.COMPLETED, Channel.WEB)
    assert concerns_reporter(submitted)  # no message, but the outcome is kept

    outcomes = await handle_status_changes(store, [submitted, completed], BASE)

    assert outcomes == ["outcome kept", "recorded"]
    assert store.known[rid].last_outcome == note
    [delivery] = store.deliveries.values()
    assert (delivery.template, delivery.reason) == ("completed", note)
    assert note in delivery.body


async def test_internal_steps_do_not_concern_the_reporter() -> None:
    assert not concerns_reporter(change(uuid.uuid4(), S.DISPATCHED, S.AWAITING_VALIDATION))
    assert concerns_reporter(change(uuid.uuid4(), None, S.RECEIVED))


async def test_an_empty_batch_touches_nothing() -> None:
    store = FakeStatusStore()
    assert await handle_status_changes(store, [], BASE) == []
    assert store.calls == {}


async def test_a_report_routed_as_it_was_opened_gets_one_message_saying_both() -> None:
    """Workflow records `received` and `dispatched` together for an auto-routed report:
    the reporter gets one SMS (receipt code, tracking link, "forwarded"), not two in the
    same second; the dispatch is recorded once, skipped, so a redelivery never sends it."""
    store = FakeStatusStore()
    rid = uuid.uuid4()
    store.known[rid] = recipient(rid, Channel.SMS, language="id")
    opened = change(rid, None, S.RECEIVED)
    routed = change(rid, S.RECEIVED, S.DISPATCHED)

    assert await handle_status_changes(store, [opened, routed], BASE) == [
        "recorded",
        "told with the receipt",
    ]
    receipt = store.deliveries[(opened.event_id, "sms")]
    assert receipt.template == "received_dispatched"
    assert receipt.body == (
        "Aduan: Laporan ADU-7K3M-9QXZ sudah kami terima dan diteruskan ke instansi yang "
        "berwenang. Pantau: https://aduan.example.go.id/track/ADU-7K3M-9QXZ"
    )
    dispatch = store.deliveries[(routed.event_id, "sms")]
    assert (dispatch.template, dispatch.told_with) == ("dispatched", opened.event_id)
    assert store.states == {
        (opened.event_id, "sms"): "pending",
        (routed.event_id, "sms"): "skipped",
    }

    # Redelivered (inbox bypassed): nothing new is recorded, nothing more is sent.
    assert await handle_status_changes(store, [opened, routed], BASE) == [
        "already recorded",
        "already recorded",
    ]


async def test_a_dispatch_after_a_receipt_already_recorded_is_said_on_its_own() -> None:
    """Only a receipt recorded with it tells a dispatch: a later dispatch (another batch),
    or one whose receipt was recorded before with its own words, gets its own message."""
    store = FakeStatusStore()
    rid = uuid.uuid4()
    opened = change(rid, None, S.RECEIVED)
    routed = change(rid, S.RECEIVED, S.DISPATCHED)
    assert await handle_status_changes(store, [opened], BASE) == ["recorded"]
    assert await handle_status_changes(store, [routed], BASE) == ["recorded"]
    assert [d.template for d in store.deliveries.values()] == ["received", "dispatched"]
    assert set(store.states.values()) == {"pending"}

    # Both in one batch again, but the receipt was recorded before (plain): the dispatch
    # is still said, on its own.
    other = FakeStatusStore()
    again = change(rid, S.RECEIVED, S.DISPATCHED)
    await handle_status_changes(other, [opened], BASE)
    assert await handle_status_changes(other, [opened, again], BASE) == [
        "already recorded",
        "recorded",
    ]
    assert other.deliveries[(opened.event_id, "sms")].template == "received"
    assert other.states[(again.event_id, "sms")] == "pending"


async def test_only_the_same_reports_dispatch_on_the_same_channel_is_folded() -> None:
    store = FakeStatusStore()
    a, b = uuid.uuid4(), uuid.uuid4()
    events = [change(a, None, S.RECEIVED), change(b, S.RECEIVED, S.DISPATCHED)]
    assert await handle_status_changes(store, events, BASE) == ["recorded", "recorded"]
    assert [d.template for d in store.deliveries.values()] == ["received", "dispatched"]
