"""The read model's consumer side, set-based (issue 18): each poll's events of a topic are
written with one statement per table on the unit of work's asyncpg connection, and the
public events are built from the values just written, in memory, instead of reading each
report back.

Every public event is the one the per-event consumer published (same fields, same order,
same causation): the events of a batch are applied to the reports' state in memory one by
one, in order, and each is projected from the state right after it; only the final state
of each report is written. Where a report's older state is needed (a status change needs
its content, a key's arrival its reports) it is read once for the batch, with the rows
locked (`FOR UPDATE`), so a ticket-admin's moderation committing meanwhile is seen, as the
read after the write saw it before.

The SQL strings are constants: asyncpg prepares each once per connection.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

import asyncpg

from aduan_contracts.events import (
    PublicReportPublished,
    PublicReportWithdrawn,
    ReportAmended,
    ReporterKeyEvent,
    ReporterKeyIssued,
    ReportIntakeEvent,
    ReportStatusChanged,
    ReportSubmitted,
)
from aduan_contracts.topics import PUBLIC_REPORTS
from aduan_gateway.adapters.readmodel import (
    _KEYS_LOCK,
    _open_terms,
    _original,
    _record,
    _timeline_record,
    _without_metadata,
    erase_identity,
    load_public,
    officer_reason,
    reporter_terms,
    text_columns,
)
from aduan_gateway.domain.model import TimelineRecord
from aduan_gateway.domain.projection import public_event
from aduan_gateway.domain.redaction import scrub_erased
from aduan_gateway.domain.steps import apply_step, step_extra
from aduan_gateway.domain.views import officer_text, public_text
from aduan_gateway.service.conversation import erase_reporter_messages, record_reporter_message
from aduan_kit.keystore import add_keys, key_bytes, key_states, shred_keys
from aduan_kit.logging import get_logger
from aduan_kit.uow import UnitOfWork

__all__ = ["apply_contents", "apply_intake", "apply_keys", "apply_statuses", "lock_keys_on"]

log = get_logger(__name__)

PublicEvent = PublicReportPublished | PublicReportWithdrawn

# A report row as the projection needs it (every column `_record` reads). jsonb comes as
# text and is parsed here, whatever codecs the connection has.
_JSON_COLUMNS = ("location", "photos", "sealed_identity", "sealed_original")
_COLUMNS = (
    "{t}.report_id, {t}.receipt_code, {t}.channel, {t}.privacy, {t}.has_content, {t}.title, "
    "{t}.text, {t}.language, {t}.category, {t}.category_hint, {t}.agency_id, "
    "{t}.location::text AS location, {t}.photos::text AS photos, {t}.received_at, {t}.status, "
    "{t}.status_version, {t}.sealed_identity::text AS sealed_identity, {t}.reporter_key_id, "
    "{t}.public_title, {t}.public_text, {t}.officer_title, {t}.officer_text, "
    "{t}.sealed_original::text AS sealed_original, {t}.public_hidden, {t}.moderated_title, "
    "{t}.moderated_text, {t}.due_at"
)
_R = _COLUMNS.format(t="r")

_LOCK_SHARED = f"SELECT pg_advisory_xact_lock_shared({_KEYS_LOCK})"
_LOCK_EXCLUSIVE = f"SELECT pg_advisory_xact_lock({_KEYS_LOCK})"


# Content is written once: a second submission for the same id changes nothing (the WHERE).
_CONTENT_UPSERT = (
    "INSERT INTO reports AS r (report_id, receipt_code, channel, privacy, title, text, "
    "language, category_hint, location, photos, received_at, reporter_key_id, public_title, "
    "public_text, officer_title, officer_text, sealed_identity, sealed_original, has_content, "
    "updated_at) "
    "SELECT u.report_id, u.receipt_code, u.channel, u.privacy, u.title, u.text, u.language, "
    "u.category_hint, u.location::jsonb, u.photos::jsonb, u.received_at, u.reporter_key_id, "
    "u.public_title, u.public_text, u.officer_title, u.officer_text, u.sealed_identity::jsonb, "
    "u.sealed_original::jsonb, true, now() "
    "FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], "
    "$7::text[], $8::text[], $9::text[], $10::text[], $11::timestamptz[], $12::uuid[], "
    "$13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[]) "
    "AS u(report_id, receipt_code, channel, privacy, title, text, language, category_hint, "
    "location, photos, received_at, reporter_key_id, public_title, public_text, officer_title, "
    "officer_text, sealed_identity, sealed_original) "
    "ON CONFLICT (report_id) DO UPDATE SET receipt_code = EXCLUDED.receipt_code, "
    "channel = EXCLUDED.channel, privacy = EXCLUDED.privacy, title = EXCLUDED.title, "
    "text = EXCLUDED.text, language = EXCLUDED.language, "
    "category_hint = EXCLUDED.category_hint, location = EXCLUDED.location, "
    "photos = EXCLUDED.photos, received_at = EXCLUDED.received_at, "
    "reporter_key_id = EXCLUDED.reporter_key_id, public_title = EXCLUDED.public_title, "
    "public_text = EXCLUDED.public_text, officer_title = EXCLUDED.officer_title, "
    "officer_text = EXCLUDED.officer_text, sealed_identity = EXCLUDED.sealed_identity, "
    "sealed_original = EXCLUDED.sealed_original, has_content = true, "
    "updated_at = EXCLUDED.updated_at "
    "WHERE r.has_content = false "
    "RETURNING " + _R
)

# The reports a batch of status changes touches, locked: what is projected after the
# write is what the row holds then (a moderation that commits meanwhile waits, or is seen).
# Each report's timeline comes with it, as JSON (one round trip instead of two).
_TIMELINE_JSON = (
    "(SELECT json_agg(json_build_object('version', t.version, 'status', t.status, "
    "'agency_id', t.agency_id, 'actor_role', t.actor_role, 'actor_agency', t.actor_agency, "
    "'actor_display_name', t.actor_display_name, 'reason', t.reason, "
    "'follow_up_note', t.follow_up_note, 'follow_up', t.follow_up, 'extra', t.extra, "
    "'occurred_at', t.occurred_at)) FROM timeline t WHERE t.report_id = r.report_id)::text"
)
_LOAD_FOR_UPDATE = (
    "SELECT "  # noqa: S608 (constant fragments, no data)
    + _R
    + ", k.key AS reporter_key, "
    + _TIMELINE_JSON
    + " AS timeline FROM reports r "
    "LEFT JOIN reporter_keys k ON k.key_id = r.reporter_key_id "
    "WHERE r.report_id = ANY($1::uuid[]) ORDER BY r.report_id FOR UPDATE OF r"
)
_TIMELINES = (
    "SELECT report_id, version, status, agency_id, actor_role, actor_agency, "
    "actor_display_name, reason, follow_up_note, follow_up::text AS follow_up, "
    "extra::text AS extra, occurred_at FROM timeline WHERE report_id = ANY($1::uuid[]) "
    "ORDER BY report_id, version"
)
# The status moves only forward (by version): the status and content topics, and
# redeliveries, arrive in any order. One row per report (its batch's last step).
_STATUS_UPSERT = (
    "INSERT INTO reports AS r (report_id, channel, receipt_code, status, status_version, "
    "category, agency_id, due_at, updated_at) "
    "SELECT u.report_id, u.channel, u.receipt_code, u.status, u.status_version, u.category, "
    "u.agency_id, u.due_at, now() "
    "FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], "
    "$7::text[], $8::timestamptz[]) AS u(report_id, channel, receipt_code, status, "
    "status_version, category, agency_id, due_at) "
    "ON CONFLICT (report_id) DO UPDATE SET status = EXCLUDED.status, "
    "status_version = EXCLUDED.status_version, category = EXCLUDED.category, "
    "agency_id = EXCLUDED.agency_id, due_at = EXCLUDED.due_at, updated_at = EXCLUDED.updated_at "
    "WHERE r.status_version < EXCLUDED.status_version"
)
_TIMELINE_INSERT = (
    "INSERT INTO timeline (report_id, version, status, agency_id, actor_role, actor_agency, "
    "actor_display_name, reason, follow_up_note, follow_up, extra, occurred_at, "
    "officer_reason) "
    "SELECT u.report_id, u.version, u.status, u.agency_id, u.actor_role, u.actor_agency, "
    "u.actor_display_name, u.reason, u.follow_up_note, u.follow_up::jsonb, u.extra::jsonb, "
    "u.occurred_at, u.officer_reason "
    "FROM unnest($1::uuid[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[], "
    "$7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::timestamptz[], "
    "$13::text[]) "
    "AS u(report_id, version, status, agency_id, actor_role, actor_agency, "
    "actor_display_name, reason, follow_up_note, follow_up, extra, occurred_at, "
    "officer_reason) "
    "ON CONFLICT ON CONSTRAINT uq_timeline_report_version DO NOTHING"
)

_REPORTS_OF_KEYS = (
    "SELECT " + _R + ", k.key AS reporter_key, k.key_id AS key_row FROM reports r "  # noqa: S608
    "LEFT JOIN reporter_keys k ON k.key_id = r.reporter_key_id "
    "WHERE r.reporter_key_id = ANY($1::uuid[]) "
    "ORDER BY r.received_at, r.report_id FOR UPDATE OF r"
)
_SET_TEXTS = (
    "UPDATE reports AS r SET public_title = u.public_title, public_text = u.public_text, "
    "officer_title = u.officer_title, officer_text = u.officer_text "
    "FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[]) "
    "AS u(report_id, public_title, public_text, officer_title, officer_text) "
    "WHERE r.report_id = u.report_id"
)

# The officer copies of a report's timeline reasons, scrubbed again once the reporter's
# values are known (their content or key arrived after the entries).
_REASONS = (
    "SELECT report_id, version, reason FROM timeline "
    "WHERE report_id = ANY($1::uuid[]) AND reason IS NOT NULL"
)
_SET_REASONS = (
    "UPDATE timeline AS t SET officer_reason = u.officer_reason "
    "FROM unnest($1::uuid[], $2::int[], $3::text[]) AS u(report_id, version, officer_reason) "
    "WHERE t.report_id = u.report_id AND t.version = u.version"
)

_HELD = "aduan_gateway.keys_lock"


async def lock_keys_on(uow: UnitOfWork, exclusive: bool) -> None:
    """`readmodel.lock_keys` on the unit of work's connection (same flag, same lock)."""
    held = uow.info.get(_HELD)
    if held == "exclusive" or (held == "shared" and not exclusive):
        return
    conn = await uow.connection()
    await conn.execute(_LOCK_EXCLUSIVE if exclusive else _LOCK_SHARED)
    uow.info[_HELD] = "exclusive" if exclusive else "shared"


async def _rescrub_reasons(conn: asyncpg.Connection, terms: dict[UUID, tuple[str, ...]]) -> None:
    """Store the officer copy of these reports' timeline reasons, scrubbed with their
    reporter's values (`terms`), so officers' reads open no identity."""
    wanted = {rid: t for rid, t in terms.items() if t}
    if not wanted:
        return
    rows = await conn.fetch(_REASONS, list(wanted))
    if rows:
        await conn.execute(
            _SET_REASONS,
            [r["report_id"] for r in rows],
            [r["version"] for r in rows],
            [officer_reason(r["reason"], wanted[r["report_id"]]) for r in rows],
        )


def _row(record: asyncpg.Record) -> dict[str, Any]:
    row = dict(record)
    for column in _JSON_COLUMNS:
        if row[column] is not None:
            row[column] = json.loads(row[column])
    return row


async def _timelines(
    conn: asyncpg.Connection, report_ids: Sequence[UUID]
) -> dict[UUID, dict[int, TimelineRecord]]:
    out: dict[UUID, dict[int, TimelineRecord]] = {rid: {} for rid in report_ids}
    if not report_ids:
        return out
    for r in await conn.fetch(_TIMELINES, list(report_ids)):
        row = dict(r)
        for column in ("follow_up", "extra"):
            if row[column] is not None:
                row[column] = json.loads(row[column])
        out[row["report_id"]][row["version"]] = _timeline_record(row)
    return out


def _project(
    row: dict[str, Any],
    timeline: dict[int, TimelineRecord],
    correlation_id: str,
    causation_id: str,
) -> PublicEvent | None:
    """What `load_public` + `public_event` gave for this state of the row."""
    record = _record(row, tuple(timeline[v] for v in sorted(timeline)), public=True)
    return public_event(record, correlation_id, causation_id)


def _projectable(row: dict[str, Any]) -> bool:
    return bool(
        row["privacy"] == "public"
        and row["has_content"]
        and row["status"] is not None
        and row["received_at"] is not None
    )


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


# --- content (report-intake) ----------------------------------------------------------------


def _texts(
    event: ReportSubmitted, state: tuple[bytes | None] | None
) -> tuple[str | None, str, Any, Any, bool, tuple[str, ...]]:
    """(title, text, officer, public, erased, the reporter's terms) as stored; `state` is
    the reporter's key row ((key,), key None when shredded) or None."""
    if event.reporter is None:
        return (
            event.title,
            event.text,
            officer_text(event.title, event.text, ()),
            public_text(event.title, event.text, ()),
            False,
            (),
        )
    if state is None:
        # The key has not arrived: the reporter's values cannot be hidden yet (the key's
        # arrival computes both redactions).
        return event.title, event.text, None, None, False, ()
    key = state[0]
    if key is None:
        # Shredded (a replay after erasure): the event's text at the erased level.
        title = scrub_erased(event.title) if event.title else None
        body = scrub_erased(event.text)
        return title, body, officer_text(title, body, ()), public_text(title, body, ()), True, ()
    terms = _open_terms(event.reporter, key)
    title, body = _original(event.sealed_original, key) or (event.title, event.text)
    return (
        event.title,
        event.text,
        officer_text(title, body, terms),
        public_text(title, body, terms),
        False,
        terms,
    )


async def apply_contents(uow: UnitOfWork, events: Sequence[ReportSubmitted]) -> list[PublicEvent]:
    """Store the content of new reports (one upsert for the batch) and publish the public
    event of each that was new and may be projected; returns what was published."""
    # One submission per report: a second copy in the batch would change nothing.
    firsts: dict[UUID, ReportSubmitted] = {}
    for event in events:
        firsts.setdefault(event.report_id, event)
    conn = await uow.connection()
    key_ids = {e.reporter.key_id for e in firsts.values() if e.reporter is not None}
    states: dict[UUID, tuple[bytes | None]] = {}
    if key_ids:
        # Shared: key arrivals and erasures (exclusive) see every report written before
        # them, and none is written meanwhile (`readmodel.lock_keys`).
        await lock_keys_on(uow, exclusive=False)
        states = {k: (key,) for k, key in (await key_states(conn, key_ids)).items()}
    cols: list[list[Any]] = [[] for _ in range(18)]
    terms: dict[UUID, tuple[str, ...]] = {}
    for event in firsts.values():
        state = states.get(event.reporter.key_id) if event.reporter is not None else None
        title, body, officer, public, erased, terms[event.report_id] = _texts(event, state)
        photos = [p.model_dump(mode="json") for p in event.photos]
        values = (
            event.report_id,
            event.receipt_code,
            event.channel.value,
            event.privacy.value,
            title,
            body,
            event.language,
            event.category_hint,
            _json(event.location.model_dump(mode="json") if event.location else None),
            json.dumps([_without_metadata(p) for p in photos] if erased else photos),
            event.received_at,
            event.reporter.key_id if event.reporter else None,
            public.title if public is not None else None,
            public.text if public is not None else None,
            officer.title if officer is not None else None,
            officer.text if officer is not None else None,
            # A reporter erased before this copy arrived (a replay) gets no sealed copies
            # back (decided under the shared keys lock, so no erasure runs meanwhile).
            None if erased or event.reporter is None else event.reporter.model_dump_json(),
            None
            if erased or event.sealed_original is None
            else event.sealed_original.model_dump_json(),
        )
        for column, value in zip(cols, values, strict=True):
            column.append(value)
    written = {r["report_id"]: _row(r) for r in await conn.fetch(_CONTENT_UPSERT, *cols)}
    # Steps that came before their content were stored with reasons scrubbed by pattern
    # only: now the reporter's values are known.
    await _rescrub_reasons(
        conn, {rid: terms[rid] for rid, row in written.items() if row["status"] is not None}
    )
    projectable = [rid for rid, row in written.items() if _projectable(row)]
    timelines = await _timelines(conn, projectable)
    published: list[PublicEvent] = []
    for event in events:
        if event.report_id not in timelines or firsts[event.report_id] is not event:
            continue
        out = _project(
            written[event.report_id],
            timelines[event.report_id],
            event.correlation_id,
            str(event.event_id),
        )
        if out is not None:
            uow.publish(PUBLIC_REPORTS, out, key=event.report_id)
            published.append(out)
    log.info("report contents stored", events=len(events), new=len(written))
    return published


async def apply_intake(uow: UnitOfWork, events: Sequence[ReportIntakeEvent]) -> list[Any]:
    """Submissions set-based; reporter messages (rare) one by one, in the batch's order
    (runs of submissions between them are written together)."""
    results: list[Any] = []
    run: list[ReportSubmitted] = []
    for event in events:
        if isinstance(event, ReportSubmitted):
            run.append(event)
            continue
        if run:
            results += await apply_contents(uow, run)
            run = []
        assert isinstance(event, ReportAmended)
        # What the reporter wrote after filing: an answer to an officer's question, or a
        # message of their own; officers see it on the report's conversation.
        new = await record_reporter_message(uow.session, event)
        log.info("reporter message stored", report_id=str(event.report_id), new=new)
        results.append(new)
    if run:
        results += await apply_contents(uow, run)
    return results


# --- status (status-changed) ----------------------------------------------------------------


async def apply_statuses(
    uow: UnitOfWork, events: Sequence[ReportStatusChanged]
) -> list[PublicEvent]:
    """Record transitions (one status upsert and one timeline insert for the batch) and
    publish the public event after each one that changed something visible."""
    conn = await uow.connection()
    ids = sorted({e.report_id for e in events})
    rows: dict[UUID, dict[str, Any]] = {}
    timelines: dict[UUID, dict[int, TimelineRecord]] = {}
    for found in await conn.fetch(_LOAD_FOR_UPDATE, ids):
        row = rows[found["report_id"]] = _row(found)
        entries = (_timeline_record(t) for t in json.loads(row.pop("timeline") or "[]"))
        timelines[row["report_id"]] = {t.version: t for t in entries}
    moved_ids: dict[UUID, None] = {}
    added: list[ReportStatusChanged] = []
    reasons: list[str | None] = []
    terms: dict[UUID, tuple[str, ...]] = {}
    published: list[PublicEvent] = []
    for event in events:
        rid = event.report_id
        moved, new_entry = apply_step(rows, timelines, event)
        row, timeline = rows[rid], timelines[rid]
        if moved:
            moved_ids[rid] = None
        if new_entry:
            added.append(event)
            if event.reason and rid not in terms:
                # Opened only for a step with a reason (a return, a rejection): rare.
                terms[rid] = reporter_terms(row)
            reasons.append(officer_reason(event.reason, terms.get(rid, ())))
        if not (moved or new_entry):
            continue  # nothing visible changed
        out = _project(row, timeline, event.correlation_id, str(event.event_id))
        if out is not None:
            uow.publish(PUBLIC_REPORTS, out, key=rid)
            published.append(out)
    if moved_ids:
        moved_rows = [rows[rid] for rid in moved_ids]
        await conn.execute(
            _STATUS_UPSERT,
            [r["report_id"] for r in moved_rows],
            [r["channel"] for r in moved_rows],
            [r["receipt_code"] for r in moved_rows],
            [r["status"] for r in moved_rows],
            [r["status_version"] for r in moved_rows],
            [r["category"] for r in moved_rows],
            [r["agency_id"] for r in moved_rows],
            [r["due_at"] for r in moved_rows],
        )
    if added:
        await conn.execute(
            _TIMELINE_INSERT,
            [e.report_id for e in added],
            [e.version for e in added],
            [e.to_status.value for e in added],
            [e.agency_id for e in added],
            [e.actor.role.value for e in added],
            [e.actor.agency_id for e in added],
            [e.actor.display_name for e in added],
            [e.reason for e in added],
            [e.follow_up.note if e.follow_up else None for e in added],
            [e.follow_up.model_dump_json() if e.follow_up else None for e in added],
            [_json(step_extra(e)) for e in added],
            [e.occurred_at for e in added],
            reasons,
        )
    log.info("report statuses stored", events=len(events), moved=len(moved_ids), added=len(added))
    return published


# --- reporter keys --------------------------------------------------------------------------


async def _keys_issued(uow: UnitOfWork, events: Sequence[ReporterKeyIssued]) -> list[PublicEvent]:
    """Store the keys (one statement); recompute the stored texts of their reporters'
    reports now that the reporter's values can be hidden (one statement), and project
    each report again, per event, as the per-event consumer did."""
    conn = await uow.connection()
    await add_keys(conn, {e.key_id: key_bytes(e) for e in events})
    key_ids = list(dict.fromkeys(e.key_id for e in events))
    by_key: dict[UUID, list[dict[str, Any]]] = {k: [] for k in key_ids}
    rows = [_row(r) for r in await conn.fetch(_REPORTS_OF_KEYS, key_ids)]
    updates: list[dict[str, Any]] = []
    for row in rows:
        by_key[row["reporter_key_id"]].append(row)
        if row["has_content"]:
            texts = text_columns(row)
            row.update(texts)
            updates.append({"report_id": row["report_id"], **texts})
    if updates:
        await conn.execute(
            _SET_TEXTS,
            [u["report_id"] for u in updates],
            [u["public_title"] for u in updates],
            [u["public_text"] for u in updates],
            [u["officer_title"] for u in updates],
            [u["officer_text"] for u in updates],
        )
    await _rescrub_reasons(
        conn, {r["report_id"]: reporter_terms(r) for r in rows if r["sealed_identity"]}
    )
    timelines = await _timelines(conn, [r["report_id"] for r in rows if _projectable(r)])
    published: list[PublicEvent] = []
    for event in events:
        for row in by_key[event.key_id]:
            if row["report_id"] not in timelines:
                continue
            out = _project(
                row, timelines[row["report_id"]], event.correlation_id, str(event.event_id)
            )
            if out is not None:
                uow.publish(PUBLIC_REPORTS, out, key=row["report_id"])
                published.append(out)
    return published


async def _key_shredded(uow: UnitOfWork, event: ReporterKeyEvent) -> list[PublicEvent]:
    """An erasure (rare): the reporter's reports scrubbed while the key can still open
    them, then the key destroyed, and each report projected again."""
    session = uow.session
    # The officer copies of their reasons first, while the key still opens the identity.
    conn = await uow.connection()
    rows = [_row(r) for r in await conn.fetch(_REPORTS_OF_KEYS, [event.key_id])]
    await _rescrub_reasons(
        conn, {r["report_id"]: reporter_terms(r) for r in rows if r["sealed_identity"]}
    )
    # Scrub the name from stored text first: it needs the key to open it.
    touched = await erase_identity(session, event.key_id)
    await erase_reporter_messages(session, touched)
    await shred_keys(conn, [event.key_id])
    log.info("reporter key shredded", key_id=str(event.key_id), reports=len(touched))
    published: list[PublicEvent] = []
    for report_id in touched:
        record = await load_public(session, report_id)
        out = (
            public_event(record, event.correlation_id, str(event.event_id))
            if record is not None
            else None
        )
        if out is not None:
            uow.publish(PUBLIC_REPORTS, out, key=report_id)
            published.append(out)
    return published


async def apply_keys(uow: UnitOfWork, events: Sequence[ReporterKeyEvent]) -> list[PublicEvent]:
    """Key arrivals set-based, erasures one by one, in the batch's order."""
    # First: every report of these reporters committed before is seen below, and none is
    # written meanwhile (see `readmodel.lock_keys`).
    await lock_keys_on(uow, exclusive=True)
    results: list[PublicEvent] = []
    for run in _runs(events):
        if isinstance(run[0], ReporterKeyIssued):
            results += await _keys_issued(uow, run)  # type: ignore[arg-type]
        else:
            for event in run:
                results += await _key_shredded(uow, event)
    return results


def _runs(events: Iterable[ReporterKeyEvent]) -> list[list[ReporterKeyEvent]]:
    """Consecutive events of the same kind, in order."""
    runs: list[list[ReporterKeyEvent]] = []
    for event in events:
        if runs and type(runs[-1][0]) is type(event):
            runs[-1].append(event)
        else:
            runs.append([event])
    return runs
