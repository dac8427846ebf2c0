"""The intake and reporter-key use cases on an in-memory store: recipients stored once,
parked status changes resolved or dropped, keys issued and shredded, one store call per
kind of write per batch (no I/O)."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from uuid import UUID

from aduan_contracts.enums import Channel, ReportStatus, Role
from aduan_contracts.events import (
    ReporterKeyIssued,
    ReporterKeyShredded,
    ReportStatusChanged,
    ReportSubmitted,
)
from aduan_kit.crypto import new_key, seal_identity
from aduan_notifier.adapters.stores import NewDelivery, NewRecipient
from aduan_notifier.service.recipients import handle_key_events, handle_submitted

BASE = "https://aduan.example.go.id/"


@dataclass
class FakeStore:
    """`IntakeStore` and `KeyStore` in memory; counts the calls."""

    recipients: dict[UUID, NewRecipient] = field(default_factory=dict)
    keys: dict[UUID, bytes | None] = field(default_factory=dict)
    waiting: list[UUID] = field(default_factory=list)  # report ids of put-back deliveries
    parked: list[ReportStatusChanged] = field(default_factory=list)
    deliveries: dict[tuple[UUID, str], NewDelivery] = field(default_factory=dict)
    skipped: list[UUID] = field(default_factory=list)
    erased: list[UUID] = field(default_factory=list)
    calls: dict[str, int] = field(default_factory=dict)

    def _count(self, name: str) -> None:
        self.calls[name] = self.calls.get(name, 0) + 1

    async def lock_reports(self, report_ids: Sequence[UUID]) -> None:
        self._count("lock_reports")

    async def shredded(self, key_ids: Sequence[UUID]) -> set[UUID]:
        self._count("shredded")
        return {k for k in key_ids if k in self.keys and self.keys[k] is None}

    async def add_recipients(self, recipients: Sequence[NewRecipient]) -> None:
        self._count("add_recipients")
        for r in recipients:
            self.recipients.setdefault(r.report_id, r)

    async def resolve(
        self, report_ids: Sequence[UUID]
    ) -> tuple[list[UUID], list[ReportStatusChanged]]:
        self._count("resolve")
        due = [r for r in self.waiting if r in report_ids]
        self.waiting = [r for r in self.waiting if r not in report_ids]
        found = [e for e in self.parked if e.report_id in report_ids]
        self.parked = [e for e in self.parked if e.report_id not in report_ids]
        return due, found

    async def record(self, deliveries: Sequence[NewDelivery]) -> set[tuple[UUID, str]]:
        self._count("record")
        inserted = set()
        for d in deliveries:
            if (d.status_event_id, d.channel) not in self.deliveries:
                self.deliveries[(d.status_event_id, d.channel)] = d
                inserted.add((d.status_event_id, d.channel))
        return inserted

    async def add_keys(self, keys: Mapping[UUID, bytes]) -> None:
        self._count("add_keys")
        for k, v in keys.items():
            self.keys.setdefault(k, v)

    async def due_now_for_keys(self, key_ids: Sequence[UUID]) -> int:
        self._count("due_now_for_keys")
        reports = {r.report_id for r in self.recipients.values() if r.key_id in key_ids}
        due = [r for r in self.waiting if r in reports]
        self.waiting = [r for r in self.waiting if r not in reports]
        return len(due)

    async def shred(self, key_ids: Sequence[UUID]) -> list[UUID]:
        self._count("shred")
        for k in key_ids:
            self.keys[k] = None
        erased = [r.report_id for r in self.recipients.values() if r.key_id in key_ids]
        self.erased += erased
        return erased

    async def skip_deliveries(self, report_ids: Sequence[UUID]) -> None:
        self._count("skip_deliveries")
        self.skipped += report_ids


def submitted(
    rid: UUID, channel: Channel, key_id: UUID | None = None, contact: str | None = None
) -> ReportSubmitted:
    reporter = None
    if key_id is not None:
        reporter = seal_identity(
            {"name": None, "contact": contact, "handle": None}, key_id, new_key()
        )
    return ReportSubmitted(
        report_id=rid,
        receipt_code="ADU-7K3M-Q9XZ",
        channel=channel,
        channel_message_id=uuid.uuid4().hex,
        text="Sampah menumpuk",
        received_at=datetime.now(UTC),
        language="en",
        reporter=reporter,
    )


def received(rid: UUID, channel: Channel = Channel.WALK_IN) -> ReportStatusChanged:
    return ReportStatusChanged.model_validate(
        {
            "report_id": rid,
            "receipt_code": "ADU-7K3M-Q9XZ",
            "channel": channel,
            "version": 1,
            "from_status": None,
            "to_status": ReportStatus.RECEIVED,
            "actor": {"id": "workflow", "role": Role.SYSTEM},
        }
    )


async def test_reports_store_recipients_and_resolve_what_waited_in_one_call_each() -> None:
    store = FakeStore()
    key_id = uuid.uuid4()
    with_contact, without, web = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    store.parked = [received(with_contact), received(without)]
    store.waiting = [web]  # its status change overtook intake
    events = [
        submitted(with_contact, Channel.WALK_IN, key_id, "081244445555"),
        submitted(without, Channel.WALK_IN),
        submitted(web, Channel.WEB, key_id, "siti@example.org"),
    ]

    counts = await handle_submitted(store, events, BASE)

    assert counts == [1, 0, 1]  # the parked change recorded; the waiting delivery due
    assert set(store.recipients) == {with_contact, without, web}
    assert store.recipients[without].sealed_identity is None
    assert store.parked == []  # resolved: recorded, or dropped (no contact left)
    [delivery] = store.deliveries.values()
    assert (delivery.report_id, delivery.template, delivery.language) == (
        with_contact,
        "received",
        "en",
    )
    assert all(n == 1 for n in store.calls.values()), store.calls


async def test_a_report_whose_key_was_shredded_is_stored_erased_and_told_nothing() -> None:
    store = FakeStore()
    key_id, rid = uuid.uuid4(), uuid.uuid4()
    store.keys[key_id] = None  # tombstone
    store.parked = [received(rid)]

    counts = await handle_submitted(store, [submitted(rid, Channel.WALK_IN, key_id, "0812")], BASE)

    assert counts == [0]
    assert store.recipients[rid].erased and store.recipients[rid].sealed_identity is None
    assert store.deliveries == {} and store.parked == []


async def test_keys_issued_make_due_and_shredded_erase_with_a_tombstone_that_wins() -> None:
    store = FakeStore()
    key_id, rid = uuid.uuid4(), uuid.uuid4()
    await handle_submitted(store, [submitted(rid, Channel.WEB, key_id, "siti@example.org")], BASE)
    store.waiting = [rid]
    key = base64.b64encode(new_key()).decode()

    assert await handle_key_events(store, [ReporterKeyIssued(key_id=key_id, key=key)]) == [1]
    assert store.keys[key_id] == base64.b64decode(key)  # stored as the key's bytes

    shred = ReporterKeyShredded(key_id=key_id)
    replayed = ReporterKeyIssued(key_id=key_id, key=key)
    assert await handle_key_events(store, [shred, replayed]) == [0, 0]
    assert store.keys[key_id] is None  # a replayed issue does not revive it
    assert store.erased == [rid] and store.skipped == [rid]
