"""Steps applied to a report's read-model state in memory (domain/steps.py), no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID, uuid4

from aduan_contracts.enums import Channel, ReportStatus, Role
from aduan_contracts.events import ReportStatusChanged
from aduan_contracts.values import Actor
from aduan_gateway.domain.model import TimelineRecord
from aduan_gateway.domain.steps import apply_step, new_row, step_extra

AT = datetime(2024, 5, 31, 20, 0, tzinfo=timezone(timedelta(hours=7)))


def _step(rid: UUID, version: int, to: ReportStatus, agency: str | None = "dbm") -> Any:
    return ReportStatusChanged(
        report_id=rid,
        receipt_code="ADU-AB12-CD34",
        channel=Channel.WEB,
        version=version,
        from_status=None,
        to_status=to,
        actor=Actor(id="workflow", role=Role.SYSTEM),
        category="jalan",
        agency_id=agency,
        occurred_at=AT + timedelta(hours=version),
    )


def test_steps_in_order_move_the_status_and_fill_the_timeline() -> None:
    rid = uuid4()
    rows: dict[Any, dict[str, Any]] = {}
    timelines: dict[Any, dict[int, TimelineRecord]] = {}
    assert apply_step(rows, timelines, _step(rid, 1, ReportStatus.RECEIVED, None)) == (True, True)
    # A new row: a status before its content, private and without content until it comes.
    assert rows[rid]["privacy"] == "private" and rows[rid]["has_content"] is False
    assert apply_step(rows, timelines, _step(rid, 2, ReportStatus.DISPATCHED)) == (True, True)
    row = rows[rid]
    assert (row["status"], row["status_version"], row["agency_id"], row["category"]) == (
        "dispatched",
        2,
        "dbm",
        "jalan",
    )
    assert sorted(timelines[rid]) == [1, 2]


def test_an_older_step_joins_the_timeline_and_a_repeated_one_changes_nothing() -> None:
    rid = uuid4()
    rows = {rid: {**new_row(_step(rid, 1, ReportStatus.RECEIVED)), "status_version": 0}}
    timelines: dict[Any, dict[int, TimelineRecord]] = {}
    assert apply_step(rows, timelines, _step(rid, 3, ReportStatus.COMPLETED)) == (True, True)
    # Late: the timeline gains it, the status stays at the newer step.
    assert apply_step(rows, timelines, _step(rid, 2, ReportStatus.DISPATCHED)) == (False, True)
    assert rows[rid]["status"] == "completed" and rows[rid]["status_version"] == 3
    # The same version again (a redelivery under a new event id): nothing visible changes.
    assert apply_step(rows, timelines, _step(rid, 3, ReportStatus.COMPLETED)) == (False, False)
    assert [timelines[rid][v].status for v in sorted(timelines[rid])] == [
        ReportStatus.DISPATCHED,
        ReportStatus.COMPLETED,
    ]


def test_the_entry_reads_as_it_comes_back_from_the_table() -> None:
    rid = uuid4()
    timelines: dict[Any, dict[int, TimelineRecord]] = {}
    step = _step(rid, 1, ReportStatus.RECEIVED).model_copy(
        update={"due_at": datetime(2024, 6, 3, tzinfo=UTC)}
    )
    apply_step({}, timelines, step)
    entry = timelines[rid][1]
    # In UTC, as asyncpg returns timestamptz: a month is derived from it (31 May 21:00
    # in Jakarta is 31 May 14:00 UTC).
    assert entry.occurred_at == datetime(2024, 5, 31, 14, 0, tzinfo=UTC)
    assert entry.occurred_at.tzinfo is UTC
    assert entry.extra == {"due_at": "2024-06-03T00:00:00Z"} == step_extra(step)
    assert step_extra(_step(rid, 1, ReportStatus.RECEIVED)) is None
