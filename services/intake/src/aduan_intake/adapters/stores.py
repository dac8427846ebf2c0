"""The stores intake's filing use cases talk to, as small Protocols, and the rows they take.

Every write takes whole columns (a group's rows for one table in one call): the PostgreSQL
implementation (`adapters.postgres`) sends each as one set-based statement, prepared once
per connection. The in-memory fakes of the unit tests implement the same Protocols.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from pydantic import BaseModel

__all__ = ["Earlier", "FilingStore", "KeyStore", "Outbox", "QuestionStore", "ReporterKey"]


@dataclass(frozen=True, slots=True)
class ReporterKey:
    key_id: UUID
    key: bytes
    issued: bool


@dataclass(frozen=True, slots=True)
class Earlier:
    """What an earlier delivery of a message was filed as."""

    report_id: UUID
    receipt_code: str
    fingerprint: bytes


class KeyStore(Protocol):
    async def add_keys(
        self, key_ids: Sequence[UUID], digests: Sequence[bytes | None], keys: Sequence[bytes]
    ) -> set[UUID]:
        """Store new keys; the ids stored (a contact digest that has a key is skipped; a
        None digest never conflicts)."""
        ...

    async def live_keys(self, digests: Sequence[bytes]) -> dict[bytes, ReporterKey]:
        """The contacts' keys that are not shredded, by digest."""
        ...


class FilingStore(KeyStore, Protocol):
    """What filing a group writes: the claims, the reporters' keys, each report's key."""

    async def claim(
        self,
        channels: Sequence[str],
        message_ids: Sequence[str],
        report_ids: Sequence[UUID],
        receipt_codes: Sequence[str],
        fingerprints: Sequence[bytes],
    ) -> set[UUID]:
        """Claim each (channel, message id) for its report; the report ids that won. A
        claim that conflicts with anything (the message, the report id, the receipt code
        already held) is skipped, not raised."""
        ...

    async def earlier(
        self, channels: Sequence[str], message_ids: Sequence[str]
    ) -> dict[tuple[str, str], Earlier]:
        """The stored filings of these messages, by (channel, message id)."""
        ...

    async def note_keys(self, report_ids: Sequence[UUID], key_ids: Sequence[UUID]) -> None:
        """Remember which key each report was sealed with (replies find reports by it)."""
        ...


class QuestionStore(Protocol):
    async def remember_questions(
        self, question_ids: Sequence[UUID], report_ids: Sequence[UUID], asked_at: Sequence[datetime]
    ) -> None:
        """Keep officers' open questions (idempotent by question id)."""
        ...


class Outbox(Protocol):
    """Where a use case queues its events (`aduan_kit.uow.UnitOfWork.publish`)."""

    def publish(self, topic: str, event: BaseModel, key: str | UUID | None) -> None: ...
