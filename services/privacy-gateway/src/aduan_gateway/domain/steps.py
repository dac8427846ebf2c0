"""A workflow step applied to a report's read-model state in memory (issue 18): the
projection applies a poll's steps one by one, in order, to the rows it read once, builds
each public event from the state right after its step, and writes only the final state.

Pure: rows are the `reports` columns as a dict, timelines `{version: TimelineRecord}`.
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from aduan_contracts.enums import ReportStatus, Role
from aduan_contracts.events import ReportStatusChanged
from aduan_gateway.domain.model import TimelineRecord

__all__ = ["EXTRA_FIELDS", "apply_step", "empty_row", "new_row", "step_extra", "timeline_entry"]

# Fields workflow may add to ReportStatusChanged later (additive contract changes): read
# when present, so SLA badges and evidence show up without a gateway release.
EXTRA_FIELDS = ("due_at", "sla_stage", "field_result", "evidence", "route")


def step_extra(event: ReportStatusChanged) -> dict[str, Any] | None:
    """The step's additive fields, as stored in `timeline.extra` (None: none)."""
    dumped = event.model_dump(mode="json")
    extra = {k: dumped[k] for k in EXTRA_FIELDS if dumped.get(k) is not None}
    return extra or None


def new_row(event: ReportStatusChanged) -> dict[str, Any]:
    """A report row as a step creates it before its content arrived (the columns'
    defaults; the step's own values are applied by `apply_step`)."""
    return empty_row(event.report_id, event.channel.value, event.receipt_code)


def empty_row(report_id: Any, channel: str, receipt_code: str | None) -> dict[str, Any]:
    """A `reports` row with the columns' defaults: what a step or a store creates first."""
    return {
        "report_id": report_id,
        "receipt_code": receipt_code,
        "channel": channel,
        "privacy": "private",
        "has_content": False,
        "title": None,
        "text": None,
        "language": None,
        "category": None,
        "category_hint": None,
        "agency_id": None,
        "location": None,
        "photos": [],
        "received_at": None,
        "status": None,
        "status_version": 0,
        "sealed_identity": None,
        "reporter_key_id": None,
        "public_title": None,
        "public_text": None,
        "officer_title": None,
        "officer_text": None,
        "sealed_original": None,
        "public_hidden": False,
        "moderated_title": None,
        "moderated_text": None,
        "due_at": None,
    }


def timeline_entry(event: ReportStatusChanged) -> TimelineRecord:
    """The step's timeline entry as it reads back from the table (times in UTC)."""
    return TimelineRecord(
        version=event.version,
        status=ReportStatus(event.to_status.value),
        occurred_at=event.occurred_at.astimezone(UTC),
        actor_role=Role(event.actor.role.value),
        agency_id=event.agency_id,
        actor_agency=event.actor.agency_id,
        actor_display_name=event.actor.display_name,
        reason=event.reason,
        follow_up_note=event.follow_up.note if event.follow_up else None,
        follow_up=event.follow_up,
        extra=step_extra(event) or {},
    )


def apply_step(
    rows: dict[Any, dict[str, Any]],
    timelines: dict[Any, dict[int, TimelineRecord]],
    event: ReportStatusChanged,
) -> tuple[bool, bool]:
    """Apply one step to `rows` and `timelines` (changed in place); returns (the current
    status moved, the timeline gained an entry). The status moves only forward, by
    version: the status and content topics, and redeliveries, arrive in any order, so an
    older step only joins the timeline, and a step already there changes nothing."""
    rid = event.report_id
    row = rows.get(rid)
    moved = row is None or event.version > row["status_version"]
    if row is None:
        row = rows[rid] = new_row(event)
    if moved:
        row["status"] = event.to_status.value
        row["status_version"] = event.version
        # Workflow's events carry the report's category and agency after the step.
        row["category"] = event.category
        row["agency_id"] = event.agency_id
        row["due_at"] = event.due_at
    timeline = timelines.setdefault(rid, {})
    added = event.version not in timeline
    if added:
        timeline[event.version] = timeline_entry(event)
    return moved, added
