"""Officer views kept per report row as read (issue 18, the read target).

An officer's list of 20 built, for every request, 20 records from their rows, 20 pydantic
views with their timelines, the access log's field names and the JSON: about nine tenths
of the list's own CPU (`bench/gateway_mix.py --kinds list`), for the same rows whenever
nothing changed, since officers refresh the same queues all day.

An officer view is a function of exactly these: the report's row as `load_officer_rows`
reads it (every column, its timeline and escalations as JSON, whether the reporter's key
row exists), the reader's role and scope, whether they hold a photo grant for it, the
pseudonym secret, and the clock (the SLA badge only). So a view is kept under the row
itself, compared whole (`tuple(row)`, not a hash of it: a changed row, any column, is a
different key, with no collision to reason about), with the role and the scope; the grant
is looked up for every read as before and picks one of the two views an entry can hold.
It is not an invalidation scheme: nothing needs to be told of a change, since every read
still reads the row. The clock: an entry is used only until the SLA badge could next
change (the running deadline minus `DUE_SOON`, then the deadline itself).

Per process, bounded (least recently used out first: 2,048 rows and views, ~15-20 KB
each, so at most ~40 MB); a second worker keeps its own.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pydantic import BaseModel, TypeAdapter

from aduan_contracts.enums import Role
from aduan_gateway.domain.model import ReportRecord
from aduan_gateway.domain.views import (
    DUE_SOON,
    OfficerReportView,
    Scope,
    officer_view,
    sla_state,
    visible_to_officer,
)

__all__ = ["OfficerRead", "OfficerViews", "returned_fields"]

# The routes' `response_model` encodes officer views through this union (by alias).
_OFFICER_VIEW: TypeAdapter[OfficerReportView] = TypeAdapter(OfficerReportView)


def returned_fields(view: BaseModel) -> tuple[str, ...]:
    """Names of the fields a view actually carried, for the access log (rule 7): those
    neither None nor empty, and of the location the parts that are set. Read off the
    view's attributes: dumping the whole view (its timeline too) for the names was a tenth
    of an officer list's CPU (issue 18)."""
    fields: list[str] = []
    for name in type(view).model_fields:
        value = getattr(view, name)
        if value is None or (isinstance(value, str | tuple | list) and not value):
            continue
        if name == "location" and isinstance(value, BaseModel):
            fields += [
                f"location.{k}" for k in type(value).model_fields if getattr(value, k) is not None
            ]
        else:
            fields.append(name)
    return tuple(sorted(fields))


@dataclass(frozen=True, slots=True)
class OfficerRead:
    """One officer view as kept: its JSON (as the route's `response_model` encodes it, by
    alias) and what the access log records of it. Not the view object itself: its nested
    models were most of an entry's memory, and the routes answer the bytes."""

    report_id: UUID
    fields: tuple[str, ...]
    json: bytes
    # When the SLA badge may next change (None: it cannot any more).
    valid_until: datetime | None


@dataclass(slots=True)
class _Entry:
    record: ReportRecord
    visible: bool
    needs_grant: bool  # the report has photos: whether the reader holds a grant matters
    reads: dict[bool, OfficerRead] = field(default_factory=dict)  # by grant held


def _valid_until(record: ReportRecord, role: Role, now: datetime) -> datetime | None:
    """The next moment the SLA badge of `record` for `role` changes: `due_soon` at the
    deadline less `DUE_SOON`, `overdue` at the deadline (None: neither is ahead)."""
    _, due, _ = sla_state(record, now, role=role)
    if due is None:
        return None
    ahead = [t for t in (due - DUE_SOON, due) if t > now]
    return min(ahead) if ahead else None


class OfficerViews:
    """Officer views of rows, kept per (row, role, scope) and grant (see the module)."""

    def __init__(
        self,
        pseudonym_secret: str,
        to_record: Callable[[Any], ReportRecord],
        max_entries: int = 2048,
    ) -> None:
        self._secret = pseudonym_secret
        self._to_record = to_record
        self._max = max_entries
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        # Counted for tests and measurements.
        self.built = 0
        self.kept = 0

    def __len__(self) -> int:
        return len(self._entries)

    async def read(
        self,
        row: Any,
        role: Role,
        scope: Scope,
        granted: Callable[[UUID], Awaitable[bool]],
    ) -> OfficerRead | None:
        """The officer view of `row` for `role` within `scope`; None when they may not see
        it. `granted(report_id)` answers whether the reader holds a photo grant; it is
        asked only for a report with photos, as before."""
        key = (role, scope, tuple(row))
        entry = self._entries.get(key)
        if entry is None:
            record = self._to_record(row)
            visible = visible_to_officer(record, role, scope) and record.status is not None
            entry = _Entry(record, visible, bool(record.all_photos))
            self._entries[key] = entry
            if len(self._entries) > self._max:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(key)
        if not entry.visible:
            return None
        record = entry.record
        holds = entry.needs_grant and await granted(record.report_id)
        now = datetime.now(UTC)
        read = entry.reads.get(holds)
        if read is not None and (read.valid_until is None or now < read.valid_until):
            self.kept += 1
            return read
        view = officer_view(record, role, scope, self._secret, granted=holds)
        if view is None:  # not reached: visibility was checked above
            return None
        self.built += 1
        read = OfficerRead(
            record.report_id,
            returned_fields(view),
            _OFFICER_VIEW.dump_json(view, by_alias=True),
            _valid_until(record, role, now),
        )
        entry.reads[holds] = read
        return read
