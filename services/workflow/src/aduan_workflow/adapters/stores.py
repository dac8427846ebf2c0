"""The stores workflow's use cases talk to, as small Protocols, and the rows they take.

Every write takes a *list*: a use case hands a whole batch's rows for one table to one
call, and the PostgreSQL implementation (`adapters.postgres`) sends it as one set-based
statement. The in-memory fakes of the unit tests implement the same Protocols.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from uuid import UUID

from pydantic import BaseModel

from aduan_contracts.enums import ReportStatus, SlaStage
from aduan_contracts.events import CategoryPublished
from aduan_contracts.topics import TopicSpec
from aduan_contracts.values import Actor, FollowUp, GeoPoint
from aduan_workflow.domain.lifecycle import Report

__all__ = [
    "CatalogueStore",
    "Change",
    "ClockStart",
    "ClockStop",
    "ClockStore",
    "Deadline",
    "HistoryRow",
    "HistoryStore",
    "ReportStore",
    "Unit",
]


@dataclass(frozen=True, slots=True)
class Deadline:
    """A running clock's stage and due time (the nearest one is announced with a step)."""

    stage: SlaStage
    due_at: datetime


@dataclass(frozen=True, slots=True)
class Change:
    """A report's new state, stored only if it is still at `read_version` (optimistic)."""

    read_version: int
    after: Report
    at: datetime


@dataclass(frozen=True, slots=True)
class HistoryRow:
    """One step of a report's history (append-only, one per version)."""

    report_id: UUID
    version: int
    from_status: ReportStatus | None
    to_status: ReportStatus
    actor: Actor
    reason: str | None
    follow_up: FollowUp | None
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class ClockStart:
    report_id: UUID
    stage: SlaStage
    category: str | None
    agency_id: str | None
    started_at: datetime
    due_at: datetime
    remind_at: datetime
    # Set when the clock stopped within the same unit of work (triage of an auto-routed
    # report): written once, already closed.
    closed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ClockStop:
    report_id: UUID
    stage: SlaStage
    at: datetime


class ReportStore(Protocol):
    async def add_new(self, reports: Sequence[Report], at: datetime) -> set[UUID]:
        """Insert the reports not stored yet (status, version and agency as given: a report
        routed in the same unit of work is stored dispatched); the ids actually inserted."""
        ...

    async def add_locations(self, points: Sequence[tuple[UUID, GeoPoint]]) -> None: ...

    async def get(self, report_id: UUID, *, lock: bool = False) -> Report | None:
        """`lock`: held until the unit of work ends (FOR UPDATE)."""
        ...

    async def location(self, report_id: UUID) -> GeoPoint | None: ...

    async def save(self, changes: Sequence[Change]) -> set[UUID]:
        """Store each change whose report is still at its read version (one per report);
        the ids stored."""
        ...

    async def followers(self, primary_ids: Collection[UUID]) -> list[Report]:
        """The merged reports following any of `primary_ids`, locked, by id."""
        ...


class HistoryStore(Protocol):
    async def append(self, rows: Sequence[HistoryRow]) -> None: ...


class ClockStore(Protocol):
    async def stop(self, stops: Sequence[ClockStop]) -> None:
        """Close the running clock of each (report, stage)."""
        ...

    async def start(self, clocks: Sequence[ClockStart]) -> None: ...

    async def reassign(self, agencies: Sequence[tuple[UUID, str | None]]) -> None:
        """The running clocks of each report now name this agency."""
        ...

    async def nearest(self, report_ids: Collection[UUID]) -> dict[UUID, Deadline]:
        """Each report's running clock due first (none: not in the answer)."""
        ...


class CatalogueStore(Protocol):
    async def categories(self, codes: Collection[str]) -> dict[str, CategoryPublished]:
        """Workflow's copy of these categories (unknown codes: not in the answer)."""
        ...


class Unit(Protocol):
    """What a use case is given: the stores, all in one transaction, and the outbox."""

    reports: ReportStore
    history: HistoryStore
    clocks: ClockStore
    catalogue: CatalogueStore

    def publish(self, topic: TopicSpec | str, event: BaseModel, key: UUID) -> None:
        """Queue `event` to be published if and when the unit of work commits."""
        ...
