"""The read model's consumer side, set-based (issue 18): each poll's events of a topic are
written with one store call per table (`adapters.stores.ProjectionStore`; on PostgreSQL one
statement each, `adapters.projection_pg`), and the public events are built from the values
just written, in memory, instead of reading each report back.

Every public event is the one the per-event consumer published (same fields, same order,
same causation): the events of a batch are applied to the reports' state in memory one by
one, in order, and each is projected from the state right after it; only the final state
of each report is written. Where a report's older state is needed (a status change needs
its content, a key's arrival its reports) it is read once for the batch, with the rows
locked (`FOR UPDATE`), so a ticket-admin's moderation committing meanwhile is seen, as the
read after the write saw it before.

The use cases take a `ProjectionUnit` (the store, the outbox's `publish`, and the ORM
session for the rare steps: a reporter's message, an erasure); the entrypoint wraps the
kit's unit of work in `adapters.projection_pg.PgProjectionUnit`, the unit tests hand in
an in-memory fake.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any
from uuid import UUID

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
from aduan_gateway.adapters.readmodel import erase_identity, load_public
from aduan_gateway.adapters.stores import (
    ContentRow,
    OfficerReason,
    ProjectionStore,
    ProjectionUnit,
    ReportRow,
    StatusRow,
    TextsRow,
    TimelineRow,
)
from aduan_gateway.domain.model import TimelineRecord
from aduan_gateway.domain.projection import public_event, public_projection
from aduan_gateway.domain.redaction import scrub_erased
from aduan_gateway.domain.rows import (
    officer_reason,
    open_terms,
    opened_original,
    reporter_terms,
    row_record,
    text_columns,
    without_metadata,
)
from aduan_gateway.domain.steps import apply_step, step_extra
from aduan_gateway.domain.views import PublicReportView, officer_text, public_of
from aduan_gateway.service.conversation import erase_reporter_messages, record_reporter_message
from aduan_kit.keystore import key_bytes
from aduan_kit.logging import get_logger

__all__ = ["apply_contents", "apply_intake", "apply_keys", "apply_statuses", "lock_keys_on"]

log = get_logger(__name__)

PublicEvent = PublicReportPublished | PublicReportWithdrawn


async def lock_keys_on(unit: ProjectionUnit, exclusive: bool) -> None:
    """`readmodel.lock_keys` in the unit's transaction (same flag, same lock, once)."""
    await unit.store.lock_keys(exclusive)


async def _rescrub_reasons(store: ProjectionStore, terms: dict[UUID, tuple[str, ...]]) -> None:
    """Store the officer copy of these reports' timeline reasons, scrubbed with their
    reporter's values (`terms`), so officers' reads open no identity."""
    wanted = {rid: t for rid, t in terms.items() if t}
    if not wanted:
        return
    rows = await store.reasons(list(wanted))
    if rows:
        await store.set_officer_reasons(
            [
                OfficerReason(r.report_id, r.version, officer_reason(r.reason, wanted[r.report_id]))
                for r in rows
            ]
        )


def _project(
    row: ReportRow,
    timeline: dict[int, TimelineRecord],
    correlation_id: str,
    causation_id: str,
) -> PublicEvent | None:
    """What `load_public` + `public_event` gave for this state of the row."""
    return _project_with_view(row, timeline, correlation_id, causation_id)[0]


def _project_with_view(
    row: ReportRow,
    timeline: dict[int, TimelineRecord],
    correlation_id: str,
    causation_id: str,
) -> tuple[PublicEvent | None, PublicReportView | None]:
    """`_project` and the public view of this state of the row (what a public read built
    from it: `load_public_many` + `public_view`), made once."""
    record = row_record(row, tuple(timeline[v] for v in sorted(timeline)), public=True)
    return public_projection(record, correlation_id, causation_id)


def _projectable(row: ReportRow) -> bool:
    return bool(
        row["privacy"] == "public"
        and row["has_content"]
        and row["status"] is not None
        and row["received_at"] is not None
    )


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def _view_json(view: PublicReportView | None) -> str | None:
    """A public view as the public is answered with it (`PublicViews` answers it as stored)."""
    return None if view is None else view.model_dump_json(by_alias=True)


# --- content (report-intake) ----------------------------------------------------------------


def _texts(
    event: ReportSubmitted, state: tuple[bytes | None] | None
) -> tuple[str | None, str, Any, Any, bool, tuple[str, ...]]:
    """(title, text, officer, public, erased, the reporter's terms) as stored; `state` is
    the reporter's key row ((key,), key None when shredded) or None."""
    if event.reporter is None:
        officer = officer_text(event.title, event.text, ())
        return event.title, event.text, officer, public_of(officer), False, ()
    if state is None:
        # The key has not arrived: the reporter's values cannot be hidden yet (the key's
        # arrival computes both redactions).
        return event.title, event.text, None, None, False, ()
    key = state[0]
    if key is None:
        # Shredded (a replay after erasure): the event's text at the erased level.
        title = scrub_erased(event.title) if event.title else None
        body = scrub_erased(event.text)
        officer = officer_text(title, body, ())
        return title, body, officer, public_of(officer), True, ()
    terms = open_terms(event.reporter, key)
    title, body = opened_original(event.sealed_original, key) or (event.title, event.text)
    # The reporter's values hidden once; the public level is the officer level's plus
    # plates and house addresses (`public_of`).
    officer = officer_text(title, body, terms)
    return event.title, event.text, officer, public_of(officer), False, terms


async def apply_contents(
    unit: ProjectionUnit, events: Sequence[ReportSubmitted]
) -> list[PublicEvent]:
    """Store the content of new reports (one upsert for the batch) and publish the public
    event of each that was new and may be projected; returns what was published."""
    store = unit.store
    # One submission per report: a second copy in the batch would change nothing.
    firsts: dict[UUID, ReportSubmitted] = {}
    for event in events:
        firsts.setdefault(event.report_id, event)
    key_ids = {e.reporter.key_id for e in firsts.values() if e.reporter is not None}
    states: dict[UUID, tuple[bytes | None]] = {}
    if key_ids:
        # Shared: key arrivals and erasures (exclusive) see every report written before
        # them, and none is written meanwhile (`readmodel.lock_keys`).
        await store.lock_keys(exclusive=False)
        states = {k: (key,) for k, key in (await store.key_states(key_ids)).items()}
    contents: list[ContentRow] = []
    terms: dict[UUID, tuple[str, ...]] = {}
    for event in firsts.values():
        state = states.get(event.reporter.key_id) if event.reporter is not None else None
        title, body, officer, public, erased, terms[event.report_id] = _texts(event, state)
        photos = [p.model_dump(mode="json") for p in event.photos]
        contents.append(
            ContentRow(
                report_id=event.report_id,
                receipt_code=event.receipt_code,
                channel=event.channel.value,
                privacy=event.privacy.value,
                title=title,
                text=body,
                language=event.language,
                category_hint=event.category_hint,
                location=_json(event.location.model_dump(mode="json") if event.location else None),
                photos=json.dumps([without_metadata(p) for p in photos] if erased else photos),
                received_at=event.received_at,
                reporter_key_id=event.reporter.key_id if event.reporter else None,
                public_title=public.title if public is not None else None,
                public_text=public.text if public is not None else None,
                officer_title=officer.title if officer is not None else None,
                officer_text=officer.text if officer is not None else None,
                # A reporter erased before this copy arrived (a replay) gets no sealed
                # copies back (decided under the shared keys lock, so no erasure runs
                # meanwhile).
                sealed_identity=None
                if erased or event.reporter is None
                else event.reporter.model_dump_json(),
                sealed_original=None
                if erased or event.sealed_original is None
                else event.sealed_original.model_dump_json(),
            )
        )
    written = {r["report_id"]: r for r in await store.add_contents(contents)}
    # Steps that came before their content were stored with reasons scrubbed by pattern
    # only: now the reporter's values are known.
    await _rescrub_reasons(
        store, {rid: terms[rid] for rid, row in written.items() if row["status"] is not None}
    )
    projectable = [rid for rid, row in written.items() if _projectable(row)]
    timelines = await store.timelines(projectable)
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
            unit.publish(PUBLIC_REPORTS, out, key=event.report_id)
            published.append(out)
    log.info("report contents stored", events=len(events), new=len(written))
    return published


async def apply_intake(unit: ProjectionUnit, events: Sequence[ReportIntakeEvent]) -> list[Any]:
    """Submissions set-based; reporter messages (rare) one by one, in the batch's order
    (runs of submissions between them are written together)."""
    results: list[Any] = []
    run: list[ReportSubmitted] = []
    for event in events:
        if isinstance(event, ReportSubmitted):
            run.append(event)
            continue
        if run:
            results += await apply_contents(unit, run)
            run = []
        assert isinstance(event, ReportAmended)
        # What the reporter wrote after filing: an answer to an officer's question, or a
        # message of their own; officers see it on the report's conversation.
        new = await record_reporter_message(unit.session, event)
        log.info("reporter message stored", report_id=str(event.report_id), new=new)
        results.append(new)
    if run:
        results += await apply_contents(unit, run)
    return results


# --- status (status-changed) ----------------------------------------------------------------


async def apply_statuses(
    unit: ProjectionUnit, events: Sequence[ReportStatusChanged]
) -> list[PublicEvent]:
    """Record transitions (one status upsert and one timeline insert for the batch) and
    publish the public event after each one that changed something visible."""
    store = unit.store
    ids = sorted({e.report_id for e in events})
    rows, timelines = await store.locked_with_timelines(ids)
    moved_ids: dict[UUID, None] = {}
    added: list[TimelineRow] = []
    terms: dict[UUID, tuple[str, ...]] = {}
    published: list[PublicEvent] = []
    # Each report's public view at its latest projected state: stored with its status, so
    # a public read finds it made instead of building it from the row and the timeline and
    # writing it back (adapters/publicviews.py). The state only moves on an event that is
    # projected below, so the last view of a report is its final state's.
    views: dict[UUID, PublicReportView | None] = {}
    for event in events:
        rid = event.report_id
        moved, new_entry = apply_step(rows, timelines, event)
        row, timeline = rows[rid], timelines[rid]
        if moved:
            moved_ids[rid] = None
        if new_entry:
            if event.reason and rid not in terms:
                # Opened only for a step with a reason (a return, a rejection): rare.
                terms[rid] = reporter_terms(row)
            added.append(
                TimelineRow(
                    report_id=rid,
                    version=event.version,
                    status=event.to_status.value,
                    agency_id=event.agency_id,
                    actor_role=event.actor.role.value,
                    actor_agency=event.actor.agency_id,
                    actor_display_name=event.actor.display_name,
                    reason=event.reason,
                    follow_up=event.follow_up,
                    extra=step_extra(event),
                    occurred_at=event.occurred_at,
                    officer_reason=officer_reason(event.reason, terms.get(rid, ())),
                )
            )
        if not (moved or new_entry):
            continue  # nothing visible changed
        out, views[rid] = _project_with_view(
            row, timeline, event.correlation_id, str(event.event_id)
        )
        if out is not None:
            unit.publish(PUBLIC_REPORTS, out, key=rid)
            published.append(out)
    if moved_ids:
        await store.set_statuses(
            [
                StatusRow(
                    report_id=r["report_id"],
                    channel=r["channel"],
                    receipt_code=r["receipt_code"],
                    status=r["status"],
                    status_version=r["status_version"],
                    category=r["category"],
                    agency_id=r["agency_id"],
                    due_at=r["due_at"],
                    public_view=_view_json(views.get(r["report_id"])),
                )
                for r in (rows[rid] for rid in moved_ids)
            ]
        )
    if added:
        await store.add_timeline(added)
    log.info("report statuses stored", events=len(events), moved=len(moved_ids), added=len(added))
    return published


# --- reporter keys --------------------------------------------------------------------------


async def _keys_issued(
    unit: ProjectionUnit, events: Sequence[ReporterKeyIssued]
) -> list[PublicEvent]:
    """Store the keys (one statement); recompute the stored texts of their reporters'
    reports now that the reporter's values can be hidden (one statement), and project
    each report again, per event, as the per-event consumer did."""
    store = unit.store
    await store.add_keys({e.key_id: key_bytes(e) for e in events})
    key_ids = list(dict.fromkeys(e.key_id for e in events))
    by_key: dict[UUID, list[ReportRow]] = {k: [] for k in key_ids}
    rows = await store.reports_of_keys(key_ids)
    updates: list[TextsRow] = []
    for row in rows:
        by_key[row["reporter_key_id"]].append(row)
        if row["has_content"]:
            texts = text_columns(row)
            row.update(texts)
            updates.append(
                TextsRow(
                    report_id=row["report_id"],
                    public_title=texts["public_title"],
                    public_text=texts["public_text"],
                    officer_title=texts["officer_title"],
                    officer_text=texts["officer_text"],
                )
            )
    if updates:
        await store.set_texts(updates)
    await _rescrub_reasons(
        store, {r["report_id"]: reporter_terms(r) for r in rows if r["sealed_identity"]}
    )
    timelines = await store.timelines([r["report_id"] for r in rows if _projectable(r)])
    published: list[PublicEvent] = []
    for event in events:
        for row in by_key[event.key_id]:
            if row["report_id"] not in timelines:
                continue
            out = _project(
                row, timelines[row["report_id"]], event.correlation_id, str(event.event_id)
            )
            if out is not None:
                unit.publish(PUBLIC_REPORTS, out, key=row["report_id"])
                published.append(out)
    return published


async def _key_shredded(unit: ProjectionUnit, event: ReporterKeyEvent) -> list[PublicEvent]:
    """An erasure (rare): the reporter's reports scrubbed while the key can still open
    them, then the key destroyed, and each report projected again. The scrub of the
    reports and their messages, and the read back, still go through the ORM session."""
    store, session = unit.store, unit.session
    # The officer copies of their reasons first, while the key still opens the identity.
    rows = await store.reports_of_keys([event.key_id])
    await _rescrub_reasons(
        store, {r["report_id"]: reporter_terms(r) for r in rows if r["sealed_identity"]}
    )
    # Scrub the name from stored text first: it needs the key to open it.
    touched = await erase_identity(session, event.key_id)
    await erase_reporter_messages(session, touched)
    await store.shred_keys([event.key_id])
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
            unit.publish(PUBLIC_REPORTS, out, key=report_id)
            published.append(out)
    return published


async def apply_keys(unit: ProjectionUnit, events: Sequence[ReporterKeyEvent]) -> list[PublicEvent]:
    """Key arrivals set-based, erasures one by one, in the batch's order."""
    # First: every report of these reporters committed before is seen below, and none is
    # written meanwhile (see `readmodel.lock_keys`).
    await unit.store.lock_keys(exclusive=True)
    results: list[PublicEvent] = []
    for run in _runs(events):
        if isinstance(run[0], ReporterKeyIssued):
            results += await _keys_issued(unit, run)  # type: ignore[arg-type]
        else:
            for event in run:
                results += await _key_shredded(unit, event)
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
