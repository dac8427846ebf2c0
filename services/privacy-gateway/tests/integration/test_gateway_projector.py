"""The set-based projection (aduan_gateway.service.projector) against a real PostgreSQL: the public
events it builds in memory are the ones reading each report back gave (`load_public` +
`public_event`), event by event inside one batch, and nothing it publishes or stores for
the public holds the reporter's identity."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest
import pytest_asyncio
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import aduan_gateway.domain.rows
from aduan_contracts.enums import Channel, Privacy, ReportStatus
from aduan_contracts.events import (
    PublicReportPublished,
    PublicReportWithdrawn,
    ReporterKeyIssued,
    ReporterKeyShredded,
    ReportStatusChanged,
    ReportSubmitted,
)
from aduan_contracts.values import GeoPoint, Location
from aduan_gateway.adapters.projection_pg import PgProjectionUnit
from aduan_gateway.adapters.readmodel import (
    ReportFilter,
    list_reports,
    load_officer_report,
    load_public,
    load_report,
)
from aduan_gateway.adapters.tables import OUTBOX
from aduan_gateway.domain.projection import public_event
from aduan_gateway.domain.redaction import HIDDEN
from aduan_gateway.service.projector import apply_contents, apply_keys, apply_statuses
from aduan_kit.crypto import new_key, seal_identity
from aduan_kit.db import ensure_database, make_engine, make_sessionmaker, migrate
from aduan_kit.uow import UnitOfWork
from aduan_testing.events import status_step
from aduan_testing.plugin import Isolation

pytestmark = pytest.mark.integration

NAME = "Budi Santoso"
CONTACT = "budi@contoh.id"
RECEIVED = datetime(2024, 5, 17, 9, 31, 12, tzinfo=UTC)
JAKARTA = ZoneInfo("Asia/Jakarta")
Public = PublicReportPublished | PublicReportWithdrawn
# What differs between two builds of the same public event: its own id and time.
_OWN = {"event_id", "occurred_at"}


@pytest_asyncio.fixture
async def sessions(isolated: Isolation) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    url = isolated.database("gwproj")
    await ensure_database(url)
    await migrate(url, "aduan_gateway:migrations")
    engine = make_engine(url, pool_size=2)
    try:
        yield make_sessionmaker(engine)
    finally:
        await engine.dispose()


def _submitted(
    key_id: UUID | None, key: bytes | None, privacy: Privacy = Privacy.PUBLIC
) -> ReportSubmitted:
    sealed = (
        seal_identity({"name": NAME, "contact": CONTACT}, key_id, key)
        if key_id is not None and key is not None
        else None
    )
    return ReportSubmitted(
        report_id=uuid4(),
        receipt_code="ADU-AB12-CD34",
        channel=Channel.WEB,
        channel_message_id=f"web.{uuid4().hex}",
        # An anonymous reporter's name cannot be known, so only a keyed one's is typed.
        text=f"Nama saya {NAME}, jalan berlubang di depan rumah. Hubungi {CONTACT}."
        if sealed is not None
        else f"Jalan berlubang di depan rumah. Hubungi {CONTACT}.",
        title=f"Laporan {NAME}" if sealed is not None else "Laporan",
        category_hint="jalan",
        location=Location(point=GeoPoint(lat=-6.1951, lon=106.8231), area="Menteng"),
        privacy=privacy,
        received_at=RECEIVED,
        reporter=sealed,
    )


def _step(
    report: ReportSubmitted,
    version: int,
    to: ReportStatus,
    agency: str | None = "dinas-bina-marga",
) -> ReportStatusChanged:
    # In another offset than UTC: the month and hours must come out as read back.
    at = (RECEIVED + timedelta(days=version * 20)).astimezone(JAKARTA)
    return status_step(report, version, to, at, agency_id=agency)


def _issued(key_id: UUID, key: bytes) -> ReporterKeyIssued:
    return ReporterKeyIssued(key_id=key_id, key=base64.b64encode(key).decode())


async def _batch(
    sessions: async_sessionmaker[AsyncSession], apply: Any, events: Sequence[Any]
) -> list[Public]:
    """One poll's unit of work: the use case, then flush and commit."""
    async with sessions() as session, session.begin():
        uow = UnitOfWork(session, OUTBOX)
        published: list[Public] = await apply(PgProjectionUnit(uow), list(events))
        await uow.flush()
    return published


async def _read_back(
    sessions: async_sessionmaker[AsyncSession], report_id: UUID, after: Public
) -> Public | None:
    """What the per-event consumer published: the row read back, projected."""
    async with sessions() as session:
        record = await load_public(session, report_id)
    assert record is not None
    return public_event(record, after.correlation_id, after.causation_id)


def _same(built: Public, read: Public | None) -> None:
    assert read is not None
    assert built.model_dump(exclude=_OWN) == read.model_dump(exclude=_OWN)


def _no_identity(event: Public) -> None:
    dumped = event.model_dump_json()
    assert "Budi" not in dumped and "Santoso" not in dumped and CONTACT not in dumped


async def test_events_built_in_memory_are_the_read_back_ones(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    key_a, key_b = (uuid4(), new_key()), (uuid4(), new_key())
    keyed = _submitted(*key_a)
    anonymous = _submitted(None, None)
    private = _submitted(*key_a, privacy=Privacy.PRIVATE)
    late_key = _submitted(*key_b)

    assert await _batch(sessions, apply_keys, [_issued(*key_a)]) == []
    # Content alone publishes nothing (no status yet); a second copy changes nothing.
    again = keyed.model_copy(update={"event_id": uuid4(), "title": "other"})
    assert (
        await _batch(sessions, apply_contents, [keyed, anonymous, private, late_key, again]) == []
    )

    # Three steps of one report in one batch, one older step arriving after a newer one,
    # a redelivered step under a new id, a status whose content has not arrived.
    no_content = _submitted(None, None)
    steps = [
        _step(keyed, 1, ReportStatus.RECEIVED),
        _step(anonymous, 2, ReportStatus.COORDINATION),
        _step(keyed, 2, ReportStatus.COORDINATION),
        _step(private, 1, ReportStatus.RECEIVED),
        _step(anonymous, 1, ReportStatus.RECEIVED),
        _step(late_key, 1, ReportStatus.RECEIVED),
        _step(no_content, 1, ReportStatus.RECEIVED),
        _step(keyed, 3, ReportStatus.COMPLETED),
    ]
    redelivered = steps[2].model_copy(update={"event_id": uuid4()})
    published = await _batch(sessions, apply_statuses, [*steps, redelivered])
    # One per step that changed a public, complete report whose text is known: not the
    # private one, not the one whose key has not arrived, not the one without content,
    # not the redelivery.
    assert [(e.report_id, type(e)) for e in published] == [
        (keyed.report_id, PublicReportPublished),
        (anonymous.report_id, PublicReportPublished),
        (keyed.report_id, PublicReportPublished),
        (anonymous.report_id, PublicReportPublished),
        (keyed.report_id, PublicReportPublished),
    ]
    first, _, second, older, last = published
    assert isinstance(first, PublicReportPublished) and isinstance(last, PublicReportPublished)
    assert isinstance(second, PublicReportPublished) and isinstance(older, PublicReportPublished)
    # Each is the report's state right after its own step, in order.
    assert [t.status for t in first.timeline] == [ReportStatus.RECEIVED]
    assert [t.status for t in second.timeline] == [ReportStatus.RECEIVED, ReportStatus.COORDINATION]
    assert last.status is ReportStatus.COMPLETED
    assert (last.category, last.agency_id, last.area) == ("jalan", "dinas-bina-marga", "Menteng")
    assert last.text.startswith(f"Nama saya {HIDDEN}, jalan berlubang")
    assert last.completed_hours == 60 * 24.0
    # The older step joins the timeline, the status stays at the newer one.
    assert [t.status for t in older.timeline] == [ReportStatus.RECEIVED, ReportStatus.COORDINATION]
    assert first.causation_id == str(steps[0].event_id)
    # The last of each report is exactly what reading the row back gives.
    _same(last, await _read_back(sessions, keyed.report_id, last))
    _same(older, await _read_back(sessions, anonymous.report_id, older))
    for event in published:
        _no_identity(event)

    # The late key: its report's texts are computed now, and it is published, redacted.
    arrived = await _batch(sessions, apply_keys, [_issued(*key_b)])
    assert [e.report_id for e in arrived] == [late_key.report_id]
    _same(arrived[0], await _read_back(sessions, late_key.report_id, arrived[0]))
    _no_identity(arrived[0])

    # A ticket-admin hid the report meanwhile: the next step withdraws it.
    async with sessions() as session, session.begin():
        await session.execute(
            text("UPDATE reports SET public_hidden = true WHERE report_id = :r"),
            {"r": anonymous.report_id},
        )
    hidden = await _batch(sessions, apply_statuses, [_step(anonymous, 3, ReportStatus.DISPATCHED)])
    assert [type(e) for e in hidden] == [PublicReportWithdrawn]
    _same(hidden[0], await _read_back(sessions, anonymous.report_id, hidden[0]))

    # The stored public and officer texts of the keyed reports hold no identity.
    async with sessions() as session:
        rows = (
            await session.execute(
                text(
                    "SELECT public_title, public_text, officer_title, officer_text "
                    "FROM reports WHERE report_id = ANY(:ids)"
                ),
                {"ids": [keyed.report_id, late_key.report_id, private.report_id]},
            )
        ).all()
    assert len(rows) == 3
    for row in rows:
        for value in row:
            assert value is not None and "Budi" not in value and CONTACT not in value

    # Erasure still goes through (one by one) and re-projects from the scrubbed row.
    erased = await _batch(sessions, apply_keys, [ReporterKeyShredded(key_id=key_a[0])])
    assert [e.report_id for e in erased] == [keyed.report_id]
    _same(erased[0], await _read_back(sessions, keyed.report_id, erased[0]))


async def test_reasons_are_stored_scrubbed_and_officer_reads_open_nothing(
    sessions: async_sessionmaker[AsyncSession], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reason quoting the reporter, stored before their content and key arrived: hidden
    by pattern at first (their name is not known yet), by name once the key arrives; an
    officer's read (`load_officer_report`) then opens no identity and shows no name."""
    key_id, key = uuid4(), new_key()
    report = _submitted(key_id, key)
    quoting = _step(report, 2, ReportStatus.REJECTED).model_copy(
        update={"reason": f"Pelapor {NAME} ({CONTACT}) menarik laporannya."}
    )
    # Steps first (the intake topic lagging), then the content, then the key.
    await _batch(sessions, apply_statuses, [_step(report, 1, ReportStatus.RECEIVED), quoting])

    async def stored() -> str:
        async with sessions() as session:
            value = (
                await session.execute(
                    text(
                        "SELECT officer_reason FROM timeline WHERE report_id = :r AND version = 2"
                    ),
                    {"r": report.report_id},
                )
            ).scalar_one()
        assert isinstance(value, str)
        return value

    assert CONTACT not in await stored()  # by pattern
    await _batch(sessions, apply_contents, [report])
    await _batch(sessions, apply_keys, [_issued(key_id, key)])
    scrubbed = await stored()
    assert "Budi" not in scrubbed and "Santoso" not in scrubbed and CONTACT not in scrubbed
    assert HIDDEN in scrubbed and scrubbed.endswith("menarik laporannya.")

    def refuse(*_: Any, **__: Any) -> None:
        raise RuntimeError("an officer's read opened a sealed identity")

    monkeypatch.setattr(aduan_gateway.domain.rows, "open_identity", refuse)
    monkeypatch.setattr(aduan_gateway.domain.rows, "open_content", refuse)
    async with sessions() as session:
        record = await load_officer_report(session, report.report_id)
    assert record is not None and record.reporter_terms == ()
    assert [t.reason for t in record.timeline] == [None, scrubbed]
    assert not record.identity_pending and record.officer_text is not None
    assert "Budi" not in (record.officer_text.text or "")
    # The patch bites: the read that opens the identity fails.
    async with sessions() as session:
        with pytest.raises(RuntimeError, match="opened a sealed identity"):
            await load_report(session, report.report_id)


async def test_the_migration_stores_the_officer_reasons_of_existing_steps(
    isolated: Isolation,
) -> None:
    """Revision 0019 fills the officer copy of every reason there is: by the reporter's
    values where the key is held, by pattern where it is not; none where no reason."""
    url = isolated.database("gwreason")
    await migrate(url, "aduan_gateway:migrations", "0018")
    key_id, key = uuid4(), new_key()
    keyed, pending = uuid4(), uuid4()
    sealed = seal_identity({"name": NAME, "contact": CONTACT}, key_id, key).model_dump_json()
    engine = make_engine(url, pool_size=1)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text("INSERT INTO reporter_keys (key_id, key) VALUES (:k, :key)"),
                {"k": key_id, "key": key},
            )
            for rid, kid in ((keyed, key_id), (pending, uuid4())):
                await conn.execute(
                    text(
                        "INSERT INTO reports (report_id, channel, privacy, has_content, "
                        "sealed_identity, reporter_key_id) "
                        "VALUES (:r, 'web', 'public', true, CAST(:s AS jsonb), :k)"
                    ),
                    {"r": rid, "s": sealed, "k": kid},
                )
                for version, reason in ((1, None), (2, f"Kata {NAME}: hubungi {CONTACT}")):
                    await conn.execute(
                        text(
                            "INSERT INTO timeline (report_id, version, status, actor_role, "
                            "reason, occurred_at) VALUES (:r, :v, 'received', 'system', :why, "
                            "now())"
                        ),
                        {"r": rid, "v": version, "why": reason},
                    )
        await migrate(url, "aduan_gateway:migrations")
        async with engine.connect() as conn:
            got = {
                (r.report_id, r.version): r.officer_reason
                for r in await conn.execute(
                    text("SELECT report_id, version, officer_reason FROM timeline")
                )
            }
    finally:
        await engine.dispose()
    assert got[(keyed, 1)] is None and got[(pending, 1)] is None
    assert got[(keyed, 2)] == f"Kata {HIDDEN}: hubungi {HIDDEN}"
    # The key never arrived: the name cannot be known, the contact is hidden by pattern.
    assert got[(pending, 2)] == f"Kata {NAME}: hubungi {HIDDEN}"


async def _searched(sessions: async_sessionmaker[AsyncSession], needle: str) -> list[UUID]:
    async with sessions() as session:
        found = await list_reports(session, 50, 0, ReportFilter(search=needle))
    return [r.report_id for r in found]


async def _search_rows(sessions: async_sessionmaker[AsyncSession]) -> dict[UUID, tuple[Any, ...]]:
    """report_id -> (officer title, officer text, the row version's xmin)."""
    async with sessions() as session:
        rows = await session.execute(
            text("SELECT report_id, officer_title, officer_text, xmin::text FROM report_search")
        )
    return {r[0]: tuple(r[1:]) for r in rows.all()}


async def test_the_search_follows_the_officer_text_and_a_status_change_leaves_it_alone(
    isolated: Isolation,
) -> None:
    """Revision 0025: the trigram-indexed copy of the officer text is filled from the
    existing reports, then kept equal to every report's officer title and text whoever
    writes them (content, the key's arrival), and never rewritten by a status change."""
    url = isolated.database("gwsearch")
    await migrate(url, "aduan_gateway:migrations", "0024")
    older = uuid4()
    engine = make_engine(url, pool_size=2)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO reports (report_id, channel, privacy, has_content, status, "
                    "status_version, received_at, officer_title, officer_text) VALUES (:r, "
                    "'web', 'public', true, 'received', 1, now(), "
                    "'Pohon tumbang', 'Pohon tumbang menutup jalan di Kemang')"
                ),
                {"r": older},
            )
        await migrate(url, "aduan_gateway:migrations")
        sessions = make_sessionmaker(engine)
        assert await _searched(sessions, "menutup jalan") == [older]

        key_id, key = uuid4(), new_key()
        report = _submitted(key_id, key)
        await _batch(sessions, apply_contents, [report])
        # The reporter's key has not arrived: no officer text yet, nothing to search.
        assert report.report_id not in await _search_rows(sessions)
        await _batch(sessions, apply_keys, [_issued(key_id, key)])
        async with sessions() as session:
            officer = await session.execute(
                text("SELECT officer_title, officer_text FROM reports WHERE report_id = :r"),
                {"r": report.report_id},
            )
            title, body = officer.one()
        written = await _search_rows(sessions)
        assert written[report.report_id][:2] == (title, body)
        assert HIDDEN in body and NAME not in body

        await _batch(
            sessions,
            apply_statuses,
            [_step(report, 1, ReportStatus.RECEIVED), _step(report, 2, ReportStatus.DISPATCHED)],
        )
        # The report's row has a new version; its search row is the very same version.
        assert await _search_rows(sessions) == written
        assert await _searched(sessions, "jalan berlubang") == [report.report_id]
        assert await _searched(sessions, "Budi") == []  # the reporter's name is not there
    finally:
        await engine.dispose()
