"""The stores the notifier's use cases talk to, as small Protocols, and the rows they take.

Every call takes or returns a whole batch: the PostgreSQL implementation
(`adapters.postgres`) sends each as one set-based statement; the unit tests' in-memory
fakes implement the same Protocols.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from aduan_contracts.events import ReportStatusChanged

__all__ = [
    "TOLD_WITH_RECEIPT",
    "IntakeStore",
    "KeyStore",
    "NewDelivery",
    "NewRecipient",
    "NoticeStore",
    "Recipient",
    "StatusStore",
]


@dataclass(frozen=True, slots=True)
class Recipient:
    """What intake told us about a report's reporter (the sealed identity stays in the
    database: the use cases only need to know whether there is one)."""

    report_id: UUID
    channel: str
    language: str
    receipt_code: str
    has_identity: bool
    erased: bool
    last_outcome: str | None


# Why a status change's delivery was recorded 'skipped' at once: the receipt, recorded with
# it, already says it (`Template.RECEIVED_DISPATCHED`).
TOLD_WITH_RECEIPT = "told with the receipt"


@dataclass(frozen=True, slots=True)
class NewDelivery:
    """A message to record as 'pending' once per (status_event_id, channel)."""

    report_id: UUID
    status_event_id: UUID
    channel: str
    template: str
    language: str
    receipt_code: str
    subject: str | None
    body: str
    # What a fallback transport re-renders with: the rejection reason, or on completion the
    # agency's outcome.
    reason: str | None
    status_changed_at: datetime
    # The status change whose message (recorded in the same call) already tells this one
    # (`Template.RECEIVED_DISPATCHED`): recorded 'skipped', never sent, when that message
    # is recorded by the same call; otherwise (it was recorded before, with its own words)
    # 'pending' like any other, so the reporter is told either way.
    told_with: UUID | None = None


class StatusStore(Protocol):
    """What the status-change use case reads and writes, one call per batch each."""

    async def lock_reports(self, report_ids: Sequence[UUID]) -> None:
        """Serialize with intake's handling of the same reports until commit (a parked
        status change must be seen by intake; docs/notifier.md, "The per-report lock");
        taken in sorted order."""

    async def recipients(self, report_ids: Sequence[UUID]) -> dict[UUID, Recipient]:
        """The known recipients among `report_ids`."""
        ...

    async def park(self, events: Sequence[ReportStatusChanged]) -> None:
        """Keep status changes until intake's event says whom to tell (once per event)."""

    async def keep_outcomes(self, outcomes: Mapping[UUID, str]) -> None:
        """Each report's latest agency outcome (told on completion)."""

    async def record(self, deliveries: Sequence[NewDelivery]) -> set[tuple[UUID, str]]:
        """Insert the deliveries not recorded yet, in order; returns the (status_event_id,
        channel) of those inserted now (a `told_with` one too, 'skipped' or not)."""
        ...


@dataclass(frozen=True, slots=True)
class NewRecipient:
    """How to answer a report's reporter, from intake's ReportSubmitted."""

    report_id: UUID
    channel: str
    language: str
    receipt_code: str
    key_id: UUID | None
    # The sealed identity as JSON text (opened only by the delivery worker), or None.
    sealed_identity: str | None
    erased: bool
    last_inbound_at: datetime | None


class IntakeStore(Protocol):
    """What storing a batch of recipients reads and writes, one call per batch each."""

    async def lock_reports(self, report_ids: Sequence[UUID]) -> None:
        """As `StatusStore.lock_reports`."""

    async def shredded(self, key_ids: Sequence[UUID]) -> set[UUID]:
        """The keys among `key_ids` that were shredded."""
        ...

    async def add_recipients(self, recipients: Sequence[NewRecipient]) -> None:
        """Store each recipient unless its report has one already."""

    async def resolve(
        self, report_ids: Sequence[UUID]
    ) -> tuple[list[UUID], list[ReportStatusChanged]]:
        """What waited for these reports' recipients, in one call: deliveries put back to
        wait (never attempted, due later) become due now, their report ids returned (one
        per delivery); and the status changes parked for them are removed and returned."""
        ...

    async def record(self, deliveries: Sequence[NewDelivery]) -> set[tuple[UUID, str]]:
        """As `StatusStore.record`."""
        ...


class KeyStore(Protocol):
    """What a batch of reporter-key events writes, one call per batch each."""

    async def add_keys(self, keys: Mapping[UUID, bytes]) -> None:
        """Store issued keys; a key already there (or its tombstone) is kept."""

    async def due_now_for_keys(self, key_ids: Sequence[UUID]) -> int:
        """Deliveries waiting for these keys become due now; returns how many."""
        ...

    async def shred(self, key_ids: Sequence[UUID]) -> list[UUID]:
        """Tombstone the keys and erase their reporters (sealed identities dropped);
        returns the reports erased."""
        ...

    async def skip_deliveries(self, report_ids: Sequence[UUID]) -> None:
        """Nothing still waiting for these reports goes out (erased reporters)."""


class NoticeStore(Protocol):
    """What the messages that are not status changes read and write, one call per batch."""

    async def recipients(self, report_ids: Sequence[UUID]) -> dict[UUID, Recipient]:
        """As `StatusStore.recipients`."""
        ...

    async def record(self, deliveries: Sequence[NewDelivery]) -> set[tuple[UUID, str]]:
        """As `StatusStore.record`."""
        ...

    async def touch_inbound(self, latest: Mapping[UUID, datetime]) -> None:
        """Each report's reporter wrote at this time: the chat window reopens (a later time
        already stored is kept)."""
