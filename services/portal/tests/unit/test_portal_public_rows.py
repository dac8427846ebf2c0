"""The public read model's use case on an in-memory store: a batch of events ends where
applying them one by one would (newer only; a withdrawal wins a tie; a later copy of the
same publication changes nothing), with one store call a batch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from aduan_contracts.enums import Channel, ReportStatus
from aduan_contracts.events import PublicReportPublished, PublicReportWithdrawn
from aduan_portal.service.public_reports import PublicRow, apply_public_events

T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


class MemoryRows:
    """The store's rule, on a dict: what the PostgreSQL upsert does."""

    def __init__(self) -> None:
        self.rows: dict[UUID, PublicRow] = {}
        self.calls = 0

    async def write_if_newer(self, rows: list[PublicRow]) -> set[UUID]:
        self.calls += 1
        assert len({r.report_id for r in rows}) == len(rows), "one row per report a call"
        written = set()
        for row in rows:
            held = self.rows.get(row.report_id)
            if (
                held is None
                or held.updated_at < row.updated_at
                or (row.withdrawn and held.updated_at <= row.updated_at)
            ):
                self.rows[row.report_id] = row
                written.add(row.report_id)
        return written


def published(report: UUID, at: datetime, title: str = "Jalan rusak") -> PublicReportPublished:
    return PublicReportPublished(
        report_id=report,
        public_id=f"P-{str(report)[:8]}",
        title=title,
        text="Lubang besar di jalan.",
        category="jalan-rusak",
        agency_id="dinas-bina-marga",
        status=ReportStatus.DISPATCHED,
        status_label="Diteruskan",
        channel=Channel.WEB,
        area="Gambir",
        month="2026-12",
        confidentiality_label="",
        timeline=[],
        occurred_at=at,
    )


def withdrawn(report: UUID, at: datetime) -> PublicReportWithdrawn:
    return PublicReportWithdrawn(report_id=report, public_id=f"P-{str(report)[:8]}", occurred_at=at)


async def one_by_one(events: list) -> dict[UUID, PublicRow]:  # type: ignore[type-arg]
    store = MemoryRows()
    for event in events:
        await apply_public_events(store, [event])
    return store.rows


@pytest.mark.parametrize(
    "case",
    ["newer wins", "older after newer", "tie: withdrawal wins", "tie: first copy kept"],
)
async def test_a_batch_ends_where_one_by_one_would(case: str) -> None:
    r = uuid4()
    events = {
        "newer wins": [published(r, T0, "old"), published(r, T0 + timedelta(minutes=1), "new")],
        "older after newer": [
            published(r, T0 + timedelta(minutes=1), "new"),
            published(r, T0, "old"),
        ],
        "tie: withdrawal wins": [published(r, T0), withdrawn(r, T0), published(r, T0, "again")],
        "tie: first copy kept": [published(r, T0, "first"), published(r, T0, "second")],
    }[case]
    store = MemoryRows()
    written, stale = await apply_public_events(store, events)
    assert store.calls == 1
    assert written == 1 and stale == len(events) - 1
    assert store.rows == await one_by_one(events)


async def test_a_withdrawal_keeps_no_content_and_old_events_stay_out() -> None:
    r, other = uuid4(), uuid4()
    store = MemoryRows()
    await apply_public_events(store, [published(r, T0), published(other, T0)])
    await apply_public_events(store, [withdrawn(r, T0 + timedelta(hours=1))])
    # A replay of the old publication does not bring the report back.
    written, stale = await apply_public_events(store, [published(r, T0)])
    assert (written, stale) == (0, 1)
    row = store.rows[r]
    assert row.withdrawn and row.text == "" and row.title is None and row.area is None
    assert store.rows[other].title == "Jalan rusak"
