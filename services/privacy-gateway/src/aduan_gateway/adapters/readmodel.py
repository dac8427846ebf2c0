"""Reading and writing the gateway's tables (the read model and the access log)."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Collection, Hashable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import asyncpg
from sqlalchemy import (
    Select,
    and_,
    bindparam,
    exists,
    func,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from aduan_contracts.enums import Privacy, ReportStatus, Role
from aduan_contracts.values import (
    AREA_CODE_PATTERN,
)
from aduan_gateway.adapters.tables import (
    ACCESS_LOG,
    ASSIGNMENTS,
    ESCALATIONS,
    REPORT_SEARCH,
    REPORTER_KEYS,
    REPORTS,
    TIMELINE,
)
from aduan_gateway.domain.audit import AccessEntry, chain_hash, fields_json
from aduan_gateway.domain.model import EscalationRecord, ReportRecord
from aduan_gateway.domain.redaction import scrub_erased
from aduan_gateway.domain.rows import (
    moderated,
    officer_reason,
    reporter_terms,
    row_original,
    row_record,
    row_terms,
    text_columns,
    timeline_record,
    without_metadata,
)
from aduan_gateway.domain.views import officer_text, public_text
from aduan_kit.db import driver_connection

__all__ = [
    "ACCESS_LOG_LOCK",
    "SET_TEXTS",
    "Reader",
    "ReportFilter",
    "access_log_rows",
    "append_access_log",
    "append_after",
    "append_entries",
    "chain_end",
    "chain_entries",
    "duplicate_candidates",
    "erase_identity",
    "find_by_receipt",
    "get_key",
    "list_public",
    "list_reports",
    "load_officer_report",
    "load_officer_reports",
    "load_officer_row",
    "load_officer_rows",
    "load_public",
    "load_public_many",
    "load_report",
    "lock_keys",
    "moderate",
    "officer_page_ids",
    "officer_reason",
    "officer_record",
    "public_conditions",
    "public_page",
    "queue_page_key",
    "reporter_terms",
    "reports_of_key",
    "select_with_key",
    "text_columns",
    "verify_access_log",
]

# What the read functions take: a session, or (for routes that only read) a connection in
# autocommit mode, which skips the ORM session's bookkeeping on every request.
Reader = AsyncSession | AsyncConnection

# Serializes access-log appends so the hash chain stays linear across replicas.
ACCESS_LOG_LOCK = 727275
# Orders content writes (shared) against key arrivals and erasures (exclusive): see
# `lock_keys`.
_KEYS_LOCK = 727276
# Taken first by every batch of the three consumers (intake events, status changes, keys):
# they write the same report rows in different orders, and without it PostgreSQL broke the
# resulting deadlocks by failing whole batches (11 in a 3-minute bench run, each redone
# after a growing backoff). Taking turns costs little: each batch is milliseconds.
READ_MODEL_WRITERS_LOCK = 727277


_LOCK_KEYS = text("SELECT pg_advisory_xact_lock(:key)").bindparams(key=_KEYS_LOCK)
_LOCK_KEYS_SHARED = text("SELECT pg_advisory_xact_lock_shared(:key)").bindparams(key=_KEYS_LOCK)


async def lock_keys(session: AsyncSession, exclusive: bool) -> None:
    """Take the reporter-keys lock to the end of the transaction (once per transaction).

    The stored public text of a report depends on its reporter's key, and the report and the
    key arrive on different topics, in concurrent transactions. Without an order, a report
    written while its key arrives could be missed by both: the content writer sees no key
    (the text stays unpublishable), the key writer does not see the uncommitted report (it
    is never redacted), and an erasure could miss a report being written (its name and
    sealed identity would stay). Content writers take the lock shared (they run side by
    side); key arrivals and erasures take it exclusively, as their first statement, and
    then see every report committed before them. One lock rather than one per key: a batch
    holds it to its commit, so per-key locks taken in event order could deadlock.
    """
    held = session.info.get("aduan_gateway.keys_lock")
    if held == "exclusive" or (held == "shared" and not exclusive):
        return
    await session.execute(_LOCK_KEYS if exclusive else _LOCK_KEYS_SHARED)
    session.info["aduan_gateway.keys_lock"] = "exclusive" if exclusive else "shared"


def _public_select() -> Select[Any]:
    """Reports without their reporter's key: public reads use the stored public text and
    never open an identity."""
    return select(REPORTS)


def _select() -> Select[Any]:
    """Reports with the reporter's key when the gateway holds it (to hide the reporter's
    name in text; the key itself never leaves this module)."""
    return select(
        REPORTS,
        REPORTER_KEYS.c.key.label("reporter_key"),
        REPORTER_KEYS.c.key_id.label("key_row"),
    ).select_from(
        REPORTS.outerjoin(REPORTER_KEYS, REPORTER_KEYS.c.key_id == REPORTS.c.reporter_key_id)
    )


def select_with_key() -> Select[Any]:
    """Reports with their reporter's key joined, as `text_columns` takes them (for the
    migrations that compute the stored texts of existing rows)."""
    return _select()


# A report's timeline as a JSON array of its rows, ordered by version, selected with the
# report (one round trip instead of two). Built once.
_tl = TIMELINE.alias("tl")
_TIMELINE_OF = (
    select(func.jsonb_agg(aggregate_order_by(func.to_jsonb(literal_column("tl")), _tl.c.version)))
    .where(_tl.c.report_id == REPORTS.c.report_id)
    .scalar_subquery()
)
_LOAD_ONE = (
    _select()
    .add_columns(_TIMELINE_OF.label("timeline_rows"))
    .where(REPORTS.c.report_id == bindparam("report_id"))
)
_LOAD_ONE_FOR_UPDATE = _LOAD_ONE.with_for_update(of=REPORTS)
_LOAD_PUBLIC = (
    _public_select()
    .add_columns(_TIMELINE_OF.label("timeline_rows"))
    .where(REPORTS.c.report_id == bindparam("report_id"))
)


async def load_public(session: Reader, report_id: UUID) -> ReportRecord | None:
    """A report for public views and the public projection: its stored public text, no
    reporter key, no identity opened (a record without stored public text is pending)."""
    row = (await session.execute(_LOAD_PUBLIC, {"report_id": report_id})).mappings().first()
    if row is None:
        return None
    timeline = tuple(timeline_record(t) for t in row["timeline_rows"] or ())
    return row_record(row, timeline, public=True)


async def load_public_many(session: Reader, ids: Sequence[UUID]) -> dict[UUID, ReportRecord]:
    """Reports as `load_public` reads them, several in two statements."""
    query = _public_select().where(REPORTS.c.report_id.in_(ids))
    return {r.report_id: r for r in await _records(session, query, public=True)}


async def load_report(
    session: Reader, report_id: UUID, for_update: bool = False
) -> ReportRecord | None:
    query = _LOAD_ONE_FOR_UPDATE if for_update else _LOAD_ONE
    row = (await session.execute(query, {"report_id": report_id})).mappings().first()
    if row is None:
        return None
    timeline = tuple(timeline_record(t) for t in row["timeline_rows"] or ())
    record = row_record(row, timeline)
    found = await load_escalations(session, [report_id])
    return dataclasses.replace(record, escalations=found.get(report_id, ()))


# An officer's read of one report in one statement on the asyncpg connection (prepared
# once per connection): the row, its timeline and its escalations as JSON, and whether the
# reporter's key row exists (not the key: nothing is opened). Timeline reasons are the
# stored officer copies (scrubbed with the reporter's values when stored); a reason without
# one (the reporter's values not known yet) is scrubbed by pattern by the views, as before.
_LOAD_OFFICER = (
    "SELECT r.report_id, r.receipt_code, r.channel, r.privacy, r.has_content, r.title, "
    "r.text, r.category, r.category_hint, r.agency_id, r.location::text AS location, "
    "r.photos::text AS photos, r.received_at, r.status, r.status_version, "
    "r.sealed_identity::text AS sealed_identity, r.reporter_key_id, r.public_title, "
    "r.public_text, r.officer_title, r.officer_text, r.public_hidden, r.due_at, "
    "k.key_id AS key_row, "
    "(SELECT json_agg(json_build_object('version', t.version, 'status', t.status, "
    "'agency_id', t.agency_id, 'actor_role', t.actor_role, 'actor_agency', t.actor_agency, "
    "'actor_display_name', t.actor_display_name, "
    "'reason', COALESCE(t.officer_reason, t.reason), 'follow_up_note', t.follow_up_note, "
    "'follow_up', t.follow_up, 'extra', t.extra, 'occurred_at', t.occurred_at) "
    "ORDER BY t.version) FROM timeline t WHERE t.report_id = r.report_id)::text AS timeline, "
    "(SELECT json_agg(e ORDER BY e.at, e.kind DESC) FROM escalations e "
    "WHERE e.report_id = r.report_id)::text AS escalations "
    "FROM reports r LEFT JOIN reporter_keys k ON k.key_id = r.reporter_key_id "
    "WHERE r.report_id = $1"
)
# A page of them (officer lists): the same columns, for the ids a list query chose.
_LOAD_OFFICERS = _LOAD_OFFICER.replace("WHERE r.report_id = $1", "WHERE r.report_id = ANY($1)")


async def _driver(reader: Reader) -> asyncpg.Connection:
    if isinstance(reader, AsyncSession):
        return await driver_connection(reader)
    conn = (await reader.get_raw_connection()).driver_connection
    assert conn is not None
    return conn


async def load_officer_report(reader: Reader, report_id: UUID) -> ReportRecord | None:
    """A report as officer views read it, opening nothing: the stored officer text and
    reasons, no reporter terms (`load_report` opens the identity, for what an officer is
    about to write and the reporter's own view)."""
    found = await (await _driver(reader)).fetchrow(_LOAD_OFFICER, report_id)
    return None if found is None else officer_record(found)


async def load_officer_reports(reader: Reader, ids: Sequence[UUID]) -> list[ReportRecord]:
    """Reports as `load_officer_report` reads them, in the order of `ids` (one statement;
    an id no longer there is left out)."""
    return [officer_record(r) for r in await load_officer_rows(reader, ids)]


async def load_officer_row(reader: Reader, report_id: UUID) -> asyncpg.Record | None:
    """The row `load_officer_report` makes its record from (`officer_record`), as read:
    officer views are kept per row (service/officerviews.py)."""
    found: asyncpg.Record | None = await (await _driver(reader)).fetchrow(_LOAD_OFFICER, report_id)
    return found


async def load_officer_rows(reader: Reader, ids: Sequence[UUID]) -> list[asyncpg.Record]:
    """The rows of `load_officer_reports`, in the order of `ids` (one statement; an id no
    longer there is left out)."""
    if not ids:
        return []
    found = await (await _driver(reader)).fetch(_LOAD_OFFICERS, list(ids))
    by_id = {r["report_id"]: r for r in found}
    return [by_id[i] for i in ids if i in by_id]


def officer_record(found: asyncpg.Record) -> ReportRecord:
    """The record an officer view is made from, from a row of `load_officer_row(s)`."""
    row = dict(found)
    for column in ("location", "photos", "sealed_identity"):
        if row[column] is not None:
            row[column] = json.loads(row[column])
    timeline = tuple(timeline_record(t) for t in json.loads(row["timeline"] or "[]"))
    escalations = tuple(
        EscalationRecord(
            kind=e["kind"],
            stage=e["stage"],
            due_at=_utc(e["due_at"]),
            from_unit=e["from_unit"],
            to_unit=e["to_unit"],
            after_version=e["after_version"],
            note=e["note"],
            at=_utc(e["at"]),
        )
        for e in json.loads(row["escalations"] or "[]")
    )
    return row_record(row, timeline, escalations=escalations)


def _utc(value: str) -> datetime:
    return datetime.fromisoformat(value).astimezone(UTC)


async def load_escalations(
    session: Reader, report_ids: list[UUID]
) -> dict[UUID, tuple[EscalationRecord, ...]]:
    """The SLA escalations of these reports, oldest first (issue 19)."""
    if not report_ids:
        return {}
    rows = await session.execute(
        select(ESCALATIONS)
        .where(ESCALATIONS.c.report_id.in_(report_ids))
        .order_by(ESCALATIONS.c.at, ESCALATIONS.c.kind.desc())
    )
    out: dict[UUID, list[EscalationRecord]] = {}
    for r in rows:
        out.setdefault(r.report_id, []).append(
            EscalationRecord(
                kind=r.kind,
                stage=r.stage,
                due_at=r.due_at,
                from_unit=r.from_unit,
                to_unit=r.to_unit,
                after_version=r.after_version,
                note=r.note,
                at=r.at,
            )
        )
    return {k: tuple(v) for k, v in out.items()}


def escalated_clause(units: Collection[str] | None) -> Any:
    """Reports with an escalation of their current stay flagged to one of `units` (None:
    to anyone, the validator bureau's view: every escalation reaches it)."""
    cond = [
        ESCALATIONS.c.report_id == REPORTS.c.report_id,
        ESCALATIONS.c.from_unit == REPORTS.c.agency_id,
    ]
    if units is not None:
        cond.append(ESCALATIONS.c.to_unit.in_(sorted(units)))
    return exists().where(*cond)


@dataclass(frozen=True, slots=True)
class ReportFilter:
    """What a list may be narrowed by (all optional; combined with AND)."""

    status: ReportStatus | None = None
    category: str | None = None
    agency_id: str | None = None
    privacy: Privacy | None = None
    area: str | None = None
    search: str | None = None
    receipt_code: str | None = None  # canonical form (normalize_receipt_code)
    assignee: str | None = None  # a user id: the reports assigned to them
    # The running clock: "overdue" (deadline passed) or "due_soon" (within 24 hours).
    sla: str | None = None
    # Filed from / before (full-access roles only: agencies do not see filing times).
    received_from: datetime | None = None
    received_before: datetime | None = None
    # Any of several (Open311's comma-separated lists); None: no condition.
    statuses: tuple[ReportStatus, ...] | None = None
    categories: tuple[str, ...] | None = None
    # Issue 19: assigned to one of these units (a unit and its sub-units).
    units: frozenset[str] | None = None
    # Issue 19: open and escalated to one of these units; an empty set: to anyone.
    escalated_to: frozenset[str] | None = None


_AREA_CODE = re.compile(AREA_CODE_PATTERN)
# Statuses that have left the agency's hands for good (as the dashboard counts them).
CLOSED_STATUSES = (
    ReportStatus.COMPLETED.value,
    ReportStatus.REJECTED.value,
    ReportStatus.MERGED.value,
)


def _filtered(query: Select[Any], f: ReportFilter) -> Select[Any]:
    if f.status is not None:
        query = query.where(REPORTS.c.status == f.status.value)
    if f.statuses is not None:
        query = query.where(REPORTS.c.status.in_([s.value for s in f.statuses]))
    if f.categories is not None:
        query = query.where(
            func.coalesce(REPORTS.c.category, REPORTS.c.category_hint).in_(f.categories)
        )
    if f.category is not None:
        query = query.where(
            func.coalesce(REPORTS.c.category, REPORTS.c.category_hint) == f.category
        )
    if f.agency_id is not None:
        query = query.where(REPORTS.c.agency_id == f.agency_id)
    if f.units is not None:
        query = query.where(REPORTS.c.agency_id.in_(sorted(f.units)))
    if f.escalated_to is not None:
        query = query.where(
            REPORTS.c.status.not_in(CLOSED_STATUSES),
            escalated_clause(f.escalated_to or None),
        )
    if f.privacy is not None:
        query = query.where(REPORTS.c.privacy == f.privacy.value)
    if f.area is not None:
        if _AREA_CODE.fullmatch(f.area):
            # A Kemendagri code: the area and everything inside it ("31.71" is Jakarta
            # Pusat and each of its kecamatan and kelurahan), as intake resolved it.
            code = REPORTS.c.location["area_code"].astext
            query = query.where(or_(code == f.area, code.startswith(f.area + ".")))
        else:
            query = query.where(REPORTS.c.location["area"].astext == f.area)
    if f.receipt_code is not None:
        query = query.where(REPORTS.c.receipt_code == f.receipt_code)
    if f.sla == "overdue":
        query = query.where(REPORTS.c.due_at <= func.now())
    elif f.sla == "due_soon":
        query = query.where(
            REPORTS.c.due_at > func.now(), REPORTS.c.due_at <= func.now() + timedelta(hours=24)
        )
    if f.received_from is not None:
        query = query.where(REPORTS.c.received_at >= f.received_from)
    if f.received_before is not None:
        query = query.where(REPORTS.c.received_at < f.received_before)
    if f.assignee is not None:
        query = query.where(
            REPORTS.c.report_id.in_(
                select(ASSIGNMENTS.c.report_id).where(ASSIGNMENTS.c.assignee_id == f.assignee)
            )
        )
    if f.search:
        # Escaped so a caller's % and _ are literal: search is substring, not a pattern.
        needle = "%" + f.search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        # Over the officer text, as officers read it: a reporter's phone number, e-mail or
        # NIK finds nothing (neither before nor after their erasure). Read through
        # `report_search`, where the trigram indexes are (migration 0025).
        query = query.where(
            REPORTS.c.report_id.in_(
                select(REPORT_SEARCH.c.report_id).where(
                    or_(
                        REPORT_SEARCH.c.officer_text.ilike(needle, escape="\\"),
                        REPORT_SEARCH.c.officer_title.ilike(needle, escape="\\"),
                    )
                )
            )
        )
    return query


# The timelines of a page of reports, as JSON arrays ordered by version (the form
# `_TIMELINE_OF` gives for one report).
_TIMELINES_OF_PAGE = (
    select(
        _tl.c.report_id,
        func.jsonb_agg(aggregate_order_by(func.to_jsonb(literal_column("tl")), _tl.c.version)),
    )
    .where(_tl.c.report_id == func.any(bindparam("ids", type_=ARRAY(PgUUID(as_uuid=True)))))
    .group_by(_tl.c.report_id)
)


async def _records(session: Reader, query: Select[Any], public: bool = False) -> list[ReportRecord]:
    # The page first, then its timelines in one statement: a timeline selected with each
    # row would be built for every row an OFFSET skips too (page 100 of a 100,000-report
    # queue built 5,000 of them; bench/queues.py).
    rows = (await session.execute(query)).mappings().all()
    timelines: dict[Any, Any] = {}
    if rows:
        ids = [r["report_id"] for r in rows]
        # Rows unpack as (report_id, timeline); `.tuples()` is deprecated in SQLAlchemy 2.1.
        page = await session.execute(_TIMELINES_OF_PAGE, {"ids": ids})
        timelines = dict(page.all())
    escalations = {} if public or not rows else await load_escalations(session, ids)
    return [
        row_record(
            r,
            tuple(timeline_record(t) for t in timelines.get(r["report_id"]) or ()),
            public,
            escalations.get(r["report_id"], ()),
        )
        for r in rows
    ]


def _complete() -> tuple[Any, ...]:
    return (
        REPORTS.c.has_content.is_(True),
        REPORTS.c.status.is_not(None),
        REPORTS.c.received_at.is_not(None),
    )


async def list_public(
    session: Reader, limit: int, offset: int, f: ReportFilter | None = None
) -> list[ReportRecord]:
    """Public, complete, not rejected reports whose public text is known, newest first
    (with the stored public text; no identity is opened)."""
    query = public_page(_public_select(), limit, offset, f)
    return await _records(session, query, public=True)


def public_conditions() -> tuple[Any, ...]:
    """What makes a report one the public may see (`views.public_view` is None for every
    other: private, incomplete, rejected, hidden, or its public text not computable yet)."""
    return (
        REPORTS.c.privacy == Privacy.PUBLIC.value,
        *_complete(),
        REPORTS.c.status != ReportStatus.REJECTED.value,
        REPORTS.c.public_text.is_not(None),
        REPORTS.c.public_hidden.is_(False),
    )


def public_page(
    query: Select[Any], limit: int, offset: int, f: ReportFilter | None = None
) -> Select[Any]:
    """`query` narrowed to one page of public reports, newest first (`list_public`'s, and
    the stored public views' of adapters/publicviews.py)."""
    query = _filtered(query.where(*public_conditions()), f or ReportFilter(privacy=None))
    query = query.order_by(REPORTS.c.received_at.desc(), REPORTS.c.report_id)
    return query.limit(limit).offset(offset)


async def list_reports(
    session: Reader,
    limit: int,
    offset: int,
    f: ReportFilter,
    agency_id: str | frozenset[str] | None = None,
    reporter_key_id: UUID | None = None,
    sort: str = "newest",
    *,
    opened: bool = True,
) -> list[ReportRecord]:
    """Complete reports within a scope: an agency's (one unit, or a set of units: those
    assigned to them and those escalated to them, issue 19), a reporter's, or (neither)
    all; newest first, or by due date (`sort="due"`). `opened=False` for officer views:
    nothing is opened (the stored officer text and reasons, no reporter terms)."""
    if not opened:
        ids = await officer_page_ids(session, limit, offset, f, agency_id, sort)
        return await load_officer_reports(session, ids)
    query = await _scoped(session, _select(), f, agency_id, reporter_key_id, sort)
    return await _records(session, query.limit(limit).offset(offset))


async def officer_page_ids(
    session: Reader,
    limit: int,
    offset: int,
    f: ReportFilter,
    agency_id: str | frozenset[str] | None = None,
    sort: str = "newest",
) -> list[UUID]:
    """The ids of one page of `list_reports(..., opened=False)`, in order: officer lists
    choose the page's ids here and read the rows in one prepared statement with their
    timelines and escalations (`load_officer_rows`): three statements through SQLAlchemy
    and its row processing were most of a list's CPU (issue 18)."""
    if f == _queue_filter(f.status) and sort in _ORDER_SQL:
        return await _queue_page_ids(session, limit, offset, f.status, agency_id, sort)
    query = await _scoped(session, select(REPORTS.c.report_id), f, agency_id, None, sort)
    return list((await session.execute(query.limit(limit).offset(offset))).scalars().all())


def queue_page_key(
    limit: int,
    offset: int,
    f: ReportFilter,
    agency_id: str | frozenset[str] | None,
    sort: str,
) -> Hashable | None:
    """What names one page of a queue as the console asks for it (the ids
    `officer_page_ids` gives depend on nothing else, and on no table but `reports` and
    `escalations`), for keeping the ids in memory; None for any other filter."""
    if f != _queue_filter(f.status) or sort not in _ORDER_SQL:
        return None
    return (limit, offset, f.status, agency_id, sort)


def _queue_filter(status: ReportStatus | None) -> ReportFilter:
    """The filter of a queue as the console asks for it: by status, or nothing."""
    return _NO_FILTER if status is None else _STATUS_FILTERS[status]


_NO_FILTER = ReportFilter()
_STATUS_FILTERS = {s: ReportFilter(status=s) for s in ReportStatus}
# The queues as the console asks for them (a status, or none; newest or nearest deadline
# first; in the caller's scope) as constant statements on the driver: building, cache-keying
# and compiling them through SQLAlchemy was the largest part of an officer's list once its
# views were kept (issue 18). The same conditions and order as `_scoped` (a test compares
# both on the same rows); every other filter goes through `_scoped`.
# `_complete()` itself, compiled once (constants only), as publicviews does for its own.
_COMPLETE_SQL = str(
    and_(*_complete()).compile(
        dialect=postgresql.dialect(),  # type: ignore[no-untyped-call]
        compile_kwargs={"literal_binds": True},
    )
)
_ORDER_SQL = {
    "newest": "received_at DESC, report_id",
    "due": "due_at ASC NULLS LAST, received_at DESC, report_id",
}
# = select(report_id).where(escalated_clause(units)); the units as one array parameter.
_ESCALATED_IDS_SQL = (
    "SELECT r.report_id FROM reports r WHERE EXISTS (SELECT 1 FROM escalations e "
    "WHERE e.report_id = r.report_id AND e.from_unit = r.agency_id "
    "AND e.to_unit = ANY($1::text[]))"
)


def _queue_page_sql(by_status: bool, scope: str, sort: str) -> str:
    """The statement for one shape, its parameters in this order: limit, offset, the
    status (when `by_status`), then by `scope`: "all" nothing, "agency" one unit, "units"
    the units, "units+escalated" the units and the reports escalated to them."""
    where = [_COMPLETE_SQL]
    n = 2
    if by_status:
        n += 1
        where.append(f"status = ${n}")
    if scope == "agency":
        where.append(f"agency_id = ${n + 1}")
    elif scope == "units":
        where.append(f"agency_id = ANY(${n + 1}::text[])")
    elif scope == "units+escalated":
        where.append(f"(agency_id = ANY(${n + 1}::text[]) OR report_id = ANY(${n + 2}::uuid[]))")
    return (
        "SELECT report_id FROM reports WHERE "  # noqa: S608 - constants only
        + " AND ".join(where)
        + f" ORDER BY {_ORDER_SQL[sort]} LIMIT $1 OFFSET $2"
    )


_QUEUE_PAGE_SQL = {
    (by_status, scope, sort): _queue_page_sql(by_status, scope, sort)
    for by_status in (False, True)
    for scope in ("all", "agency", "units", "units+escalated")
    for sort in _ORDER_SQL
}


async def _queue_page_ids(
    reader: Reader,
    limit: int,
    offset: int,
    status: ReportStatus | None,
    agency_id: str | frozenset[str] | None,
    sort: str,
) -> list[UUID]:
    conn = await _driver(reader)
    args: list[Any] = [limit, offset]
    if status is not None:
        args.append(status.value)
    if agency_id is None:
        scope = "all"
    elif isinstance(agency_id, str):
        scope = "agency"
        args.append(agency_id)
    else:
        # As `_scoped`: the few escalated reports first, for the planner's sake.
        units = sorted(agency_id)
        escalated = [r[0] for r in await conn.fetch(_ESCALATED_IDS_SQL, units)]
        scope = "units+escalated" if escalated else "units"
        args.append(units)
        if escalated:
            args.append(escalated)
    sql = _QUEUE_PAGE_SQL[(status is not None, scope, sort)]
    return [r[0] for r in await conn.fetch(sql, *args)]


async def _scoped(
    session: Reader,
    base: Select[Any],
    f: ReportFilter,
    agency_id: str | frozenset[str] | None,
    reporter_key_id: UUID | None,
    sort: str,
) -> Select[Any]:
    """`base` narrowed to complete reports of the filter and scope, in the list's order."""
    query = _filtered(base.where(*_complete()), f)
    if isinstance(agency_id, str):
        query = query.where(REPORTS.c.agency_id == agency_id)
    elif agency_id is not None:
        # The few reports escalated to these units first, then one condition both of whose
        # arms an index answers (reports by agency, by id): an EXISTS inside the OR would
        # have the planner walk the whole queue (bench/queues.py's city-scale lists).
        escalated = (
            (await session.execute(select(REPORTS.c.report_id).where(escalated_clause(agency_id))))
            .scalars()
            .all()
        )
        scope = REPORTS.c.agency_id.in_(sorted(agency_id))
        query = query.where(or_(scope, REPORTS.c.report_id.in_(escalated)) if escalated else scope)
    if reporter_key_id is not None:
        query = query.where(REPORTS.c.reporter_key_id == reporter_key_id)
    if sort == "due":
        # Nearest deadline first (overdue ones at the top); reports with no running
        # clock after them, newest first.
        query = query.order_by(
            REPORTS.c.due_at.asc().nulls_last(), REPORTS.c.received_at.desc(), REPORTS.c.report_id
        )
    else:
        query = query.order_by(REPORTS.c.received_at.desc(), REPORTS.c.report_id)
    return query


async def find_by_receipt(session: AsyncSession, receipt_code: str) -> ReportRecord | None:
    """A complete report by receipt code, as `load_public` reads it (anonymous lookups:
    nothing is opened; the sealed identity is there for the caller's own proof check)."""
    query = _public_select().where(REPORTS.c.receipt_code == receipt_code, *_complete()).limit(1)
    found = await _records(session, query, public=True)
    return found[0] if found else None


async def duplicate_candidates(
    session: AsyncSession, record: ReportRecord, within: timedelta, scan: int = 500
) -> list[ReportRecord]:
    """Complete reports of the same category (or hint) received within `within` of
    `record`, not merged or rejected, not `record` itself; the caller ranks by distance."""
    category = record.shown_category
    if category is None or record.received_at is None:
        return []
    query = _select().where(
        *_complete(),
        REPORTS.c.report_id != record.report_id,
        func.coalesce(REPORTS.c.category, REPORTS.c.category_hint) == category,
        REPORTS.c.received_at >= record.received_at - within,
        REPORTS.c.received_at <= record.received_at + within,
        REPORTS.c.status.not_in((ReportStatus.MERGED.value, ReportStatus.REJECTED.value)),
    )
    query = query.order_by(REPORTS.c.received_at.desc(), REPORTS.c.report_id).limit(scan)
    return await _records(session, query)


async def get_key(session: Reader, key_id: UUID) -> bytes | None:
    key: bytes | None = await session.scalar(
        select(REPORTER_KEYS.c.key).where(REPORTER_KEYS.c.key_id == key_id)
    )
    return key


async def erase_identity(session: AsyncSession, key_id: UUID) -> list[UUID]:
    """Erase a reporter from every report of theirs, while the key can still open the
    identity: the stored title and text become the erased-level scrub of the text as typed
    (their values in any format, phones, e-mails, NIKs and plates hidden) for every role,
    the officer text (hence the search) and the public text follow, and the sealed copies
    of the identity and of the original text are dropped (the key id stays: it opens
    nothing, and keeps the pseudonym stable for officers). Returns the reports changed."""
    rows = (
        (await session.execute(_select().where(REPORTS.c.reporter_key_id == key_id)))
        .mappings()
        .all()
    )
    changed: list[UUID] = []
    for row in rows:
        terms = row_terms(row)
        values: dict[str, Any] = {
            "sealed_identity": None,
            "sealed_original": None,
            # Where the reporter stood and when (read from the photos' EXIF at intake) is
            # theirs too: no role sees it after erasure.
            "photos": [without_metadata(p) for p in row["photos"] or ()],
            "updated_at": func.now(),
        }
        if row["has_content"]:
            title, body = row_original(row)
            title = scrub_erased(title, terms) if title else None
            body = scrub_erased(body or "", terms)
            values["title"], values["text"] = title, body
            # No sealed identity is left, so nothing is pending.
            officer = officer_text(title, body, ())
            values["officer_title"], values["officer_text"] = officer.title, officer.text
            public = moderated(row) or public_text(title, body, terms)
            values["public_title"], values["public_text"] = public.title, public.text
        await session.execute(
            update(REPORTS).where(REPORTS.c.report_id == row["report_id"]).values(**values)
        )
        changed.append(row["report_id"])
    return changed


SET_TEXTS = (
    update(REPORTS)
    .where(REPORTS.c.report_id == bindparam("rid"))
    .values(
        public_title=bindparam("public_title"),
        public_text=bindparam("public_text"),
        officer_title=bindparam("officer_title"),
        officer_text=bindparam("officer_text"),
    )
)


async def moderate(
    session: AsyncSession,
    report_id: UUID,
    hidden: bool | None,
    title: str | None,
    text: str | None,
) -> bool:
    """A ticket-admin's moderation of a report's public face: hide or show it, and/or
    correct its public title and text (scrubbed by the public rule, so a correction cannot
    publish what the reporter's own text could not). False when there is no such report."""
    row = (
        (
            await session.execute(
                _select().where(REPORTS.c.report_id == report_id).with_for_update(of=REPORTS)
            )
        )
        .mappings()
        .first()
    )
    if row is None or not row["has_content"]:
        return False
    values: dict[str, Any] = {"updated_at": func.now()}
    if hidden is not None:
        values["public_hidden"] = hidden
    if text is not None:
        values["moderated_title"], values["moderated_text"] = title, text
        corrected = public_text(title, text, row_terms(row))
        values["public_title"], values["public_text"] = corrected.title, corrected.text
    await session.execute(update(REPORTS).where(REPORTS.c.report_id == report_id).values(**values))
    return True


async def reports_of_key(session: AsyncSession, key_id: UUID) -> list[UUID]:
    rows = await session.execute(
        select(REPORTS.c.report_id).where(REPORTS.c.reporter_key_id == key_id)
    )
    return list(rows.scalars())


# Built once: the access log is appended on every officer read.
# Constant statements on the transaction's asyncpg connection (prepared once per connection):
# the lock and the last hash are two statements on purpose, since a statement's snapshot is
# taken when it starts, so a hash read in the statement that waits for the lock could miss
# the row the previous holder committed meanwhile.
_LOCK_ACCESS_LOG = "SELECT pg_advisory_xact_lock($1)"
_LAST_HASH = "SELECT hash FROM access_log ORDER BY id DESC LIMIT 1"
# Ids are drawn in the ORDER BY's order, which is the chain's.
_INSERT_INTO = (
    "INSERT INTO access_log (at, subject, role, agency_id, report_id, fields, prev_hash, hash)"
    " SELECT u.at, u.subject, u.role, u.agency_id, u.report_id, u.fields::jsonb, u.prev_hash,"
    " u.hash FROM "
)
_ENTRIES = (
    "unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::uuid[],"
    " $6::text[], $7::text[], $8::text[])"
    " WITH ORDINALITY AS u(at, subject, role, agency_id, report_id, fields, prev_hash, hash, n)"
    " ORDER BY u.n"
)
_INSERT_ACCESS = _INSERT_INTO + _ENTRIES
# The same rows in ONE autocommit statement, linked to a hash the writer already knows
# (the end of its own last batch), without reading the chain's end: `uq_access_log_prev_hash`
# refuses them if that hash has a successor by now (another writer appended), and the
# writer then appends the long way, under the lock (`chain_entries`). The lock is taken in
# the statement too, so this never overtakes a writer that read the end under it.
_APPEND_LINKED = (
    f"WITH l AS MATERIALIZED (SELECT pg_advisory_xact_lock({int(ACCESS_LOG_LOCK)})) "
    + _INSERT_INTO
    + "l, "
    + _ENTRIES
)
PREV_HASH_UNIQUE = "uq_access_log_prev_hash"


async def append_entries(session: AsyncSession, entries: Sequence[AccessEntry]) -> list[str]:
    """Chain `entries`, in order, onto the access log in the session's transaction;
    returns their hashes (see `chain_entries`)."""
    if not entries:
        return []
    conn = await driver_connection(session)
    await conn.execute(_LOCK_ACCESS_LOG, ACCESS_LOG_LOCK)
    return await chain_entries(conn, entries)


async def chain_entries(conn: asyncpg.Connection, entries: Sequence[AccessEntry]) -> list[str]:
    """Chain `entries`, in order, onto the access log on `conn`, whose transaction holds
    the `ACCESS_LOG_LOCK` advisory lock; returns their hashes.

    The lock (held to the end of the transaction) keeps the chain linear across replicas:
    the last hash is read under it, so no two writers link to the same row. Rows get
    ascending ids in the order given, which is the chain's order. Two statements however
    many entries (issue 18: through SQLAlchemy this was about a fifth of an officer read's
    CPU; the batching writer takes the lock with its BEGIN, `aduan_kit.db.raw_transaction`).
    """
    if not entries:
        return []
    return await _insert_linked(conn, _INSERT_ACCESS, entries, await conn.fetchval(_LAST_HASH))


async def chain_end(conn: asyncpg.Connection) -> str | None:
    """The chain's last hash as committed now, read without the lock (None: no entry yet).
    Only for `append_after`, whose link is refused if the end has moved since."""
    end: str | None = await conn.fetchval(_LAST_HASH)
    return end


async def append_after(
    conn: asyncpg.Connection, entries: Sequence[AccessEntry], end: str
) -> list[str] | None:
    """Chain `entries` after `end`, a hash this writer knows was the chain's end, in one
    statement outside any transaction; their hashes, or None when `end` is not the end any
    more (nothing written: the caller appends with `chain_entries` under the lock). Never
    for an empty chain: two first entries would both link to nothing, and NULLs are not
    unique."""
    try:
        return await _insert_linked(conn, _APPEND_LINKED, entries, end)
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name != PREV_HASH_UNIQUE:
            raise
        return None


async def _insert_linked(
    conn: asyncpg.Connection, statement: str, entries: Sequence[AccessEntry], prev_hash: str | None
) -> list[str]:
    hashes: list[str] = []
    previous: list[str | None] = []
    for entry in entries:
        previous.append(prev_hash)
        prev_hash = chain_hash(prev_hash, entry)
        hashes.append(prev_hash)
    await conn.execute(
        statement,
        [e.at for e in entries],
        [e.subject for e in entries],
        [e.role for e in entries],
        [e.agency_id for e in entries],
        [e.report_id for e in entries],
        [fields_json(e.fields) for e in entries],
        previous,
        hashes,
    )
    return hashes


async def append_access_log(
    session: AsyncSession,
    subject: str,
    role: Role,
    agency_id: str | None,
    report_id: UUID,
    fields: tuple[str, ...],
) -> str:
    """Append one officer read to the hash-chained access log in the caller's transaction;
    returns the entry's hash. (Requests use `accesslog.AccessLog`, which batches.)"""
    entry = AccessEntry(
        at=datetime.now(UTC),
        subject=subject,
        role=role.value,
        agency_id=agency_id,
        report_id=report_id,
        fields=tuple(sorted(fields)),
    )
    return (await append_entries(session, [entry]))[0]


async def access_log_rows(
    session: AsyncSession,
    report_ids: list[UUID] | None = None,
    limit: int = 1000,
    *,
    subject: str | None = None,
    newest_first: bool = False,
    before_id: int | None = None,
) -> list[Any]:
    """Access log rows, oldest first (the chain's order) or newest first (what an
    administrator looking into a complaint wants), filtered in the database."""
    query = select(ACCESS_LOG).order_by(ACCESS_LOG.c.id.desc() if newest_first else ACCESS_LOG.c.id)
    if report_ids is not None:
        query = query.where(ACCESS_LOG.c.report_id.in_(report_ids))
    if subject is not None:
        query = query.where(ACCESS_LOG.c.subject == subject)
    if before_id is not None:
        query = query.where(ACCESS_LOG.c.id < before_id)
    return list((await session.execute(query.limit(limit))).mappings().all())


async def verify_access_log(session: AsyncSession) -> tuple[int, int | None]:
    """Walk the whole chain in order: (rows checked, id of the first bad row or None)."""
    checked = 0
    previous: str | None = None
    result = await session.stream(select(ACCESS_LOG).order_by(ACCESS_LOG.c.id))
    async for row in result.mappings():
        entry = AccessEntry(
            at=row["at"],
            subject=row["subject"],
            role=row["role"],
            agency_id=row["agency_id"],
            report_id=row["report_id"],
            fields=tuple(row["fields"]),
        )
        if row["prev_hash"] != previous or chain_hash(row["prev_hash"], entry) != row["hash"]:
            return checked, int(row["id"])
        previous = row["hash"]
        checked += 1
    return checked, None
