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
        self._count("record")
        inserted = set()
        for d in deliveries:
            key = (d.status_event_id, d.channel)
            if key not in self.deliveries:
                self.deliveries[key] = d
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

    assert outcomes == ["recorded", "recorded", "recorded"]
    assert store.calls == {
        "lock_reports": 1,
        "recipients": 1,
        "park": 1,
        "keep_outcomes": 1,
        "record": 1,
    }
    assert [(d.report_id, d.template, d.channel) for d in store.deliveries.values()] == [
        (a, "received", "sms"),
        (b, "received", "web"),
        (a, "dispatched", "sms"),
    ]
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
