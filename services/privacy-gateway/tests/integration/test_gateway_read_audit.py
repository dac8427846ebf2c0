"""Group-committed access log and batched projection, on real Kafka, PostgreSQL and Redis:
concurrent officer reads each end up in one intact hash chain before their data is
returned, a read whose entry cannot be written returns no data, and the batch consumers
apply, skip and project exactly as the per-message ones did."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID, uuid4

import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from pydantic import BaseModel
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from aduan_contracts.enums import Channel, Privacy, ReportStatus, Role
from aduan_contracts.events import (
    ReporterKeyIssued,
    ReporterKeyShredded,
    ReportStatusChanged,
    ReportSubmitted,
)
from aduan_contracts.serialization import encode
from aduan_contracts.topics import REPORT_INTAKE, REPORTER_KEYS, STATUS_CHANGED
from aduan_contracts.values import Actor, GeoPoint, Location
from aduan_gateway.adapters.accesslog import CONTENDED_BATCHES, AccessLog, Read
from aduan_gateway.adapters.readmodel import verify_access_log
from aduan_gateway.adapters.reportcache import MISS
from aduan_gateway.adapters.tables import ACCESS_LOG, INBOX, OUTBOX, REPORTS, TIMELINE
from aduan_gateway.auth import issue_access_token
from aduan_gateway.bootstrap import build
from aduan_gateway.config import Settings
from aduan_gateway.domain.audit import AccessEntry, chain_hash
from aduan_kit.crypto import new_key, seal_identity
from aduan_kit.db import make_engine, make_sessionmaker
from aduan_kit.runtime import ServiceRuntime
from aduan_testing.helpers import eventually
from aduan_testing.plugin import Isolation

pytestmark = pytest.mark.integration

T = TypeVar("T")
RECEIVED = datetime(2024, 5, 17, 9, 31, 12, tzinfo=UTC)
SYSTEM = Actor(id="workflow", role=Role.SYSTEM)


class Gw:
    def __init__(
        self,
        iso: Isolation,
        app: Any,
        runtime: ServiceRuntime,
        client: httpx.AsyncClient,
        producer: AIOKafkaProducer,
        settings: Settings,
    ) -> None:
        self.iso, self.app, self.runtime, self.client = iso, app, runtime, client
        self.producer, self.settings = producer, settings

    async def send(self, topic: str, event: BaseModel, key: UUID) -> None:
        await self.producer.send_and_wait(
            f"{self.iso.namespace}.{topic}", encode(event), key=str(key).encode()
        )

    def token(self, role: Role, subject: str, agency: str | None = None) -> dict[str, str]:
        token = issue_access_token(self.settings.jwt_secret, subject, role, agency_id=agency)
        return {"Authorization": f"Bearer {token}"}


@pytest_asyncio.fixture
async def gw(isolated: Isolation) -> AsyncIterator[Gw]:
    settings = Settings(
        kafka_bootstrap_servers=isolated.kafka,
        database_url=isolated.database("gateway"),
        redis_url=isolated.redis_url,
        redis_prefix=isolated.redis_prefix,
        topic_namespace=isolated.namespace,
        environment="test",
    )
    app, runtime = build(settings)
    await app.state.gateway.start()
    producer = AIOKafkaProducer(bootstrap_servers=isolated.kafka)
    await producer.start()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            yield Gw(isolated, app, runtime, client, producer, settings)
    finally:
        await producer.stop()
        await app.state.gateway.stop()


async def seed_reports(gw: Gw, n: int) -> list[UUID]:
    """Complete reports straight into the read model (the read path is under test here)."""
    ids = [uuid4() for _ in range(n)]
    async with gw.runtime.sessions() as session, session.begin():
        for i, rid in enumerate(ids):
            await session.execute(
                REPORTS.insert().values(
                    report_id=rid,
                    receipt_code=f"ADU-{i:04d}",
                    channel="web",
                    privacy="private" if i % 2 else "public",
                    has_content=True,
                    title=f"Jalan rusak {i}",
                    text="Jalan berlubang di depan pasar",
                    received_at=RECEIVED + timedelta(minutes=i),
                    status="dispatched",
                    status_version=2,
                    agency_id="dbm",
                )
            )
            await session.execute(
                TIMELINE.insert().values(
                    report_id=rid,
                    version=1,
                    status="received",
                    actor_role="system",
                    occurred_at=RECEIVED,
                )
            )
    return ids


async def log_rows(gw: Gw) -> list[Any]:
    async with gw.runtime.sessions() as session:
        return list(
            (await session.execute(select(ACCESS_LOG).order_by(ACCESS_LOG.c.id))).mappings().all()
        )


async def test_parallel_officer_reads_are_each_logged_in_one_intact_chain(gw: Gw) -> None:
    ids = await seed_reports(gw, 12)
    officers = [
        (Role.VALIDATOR, "val-a", None),
        (Role.TICKET_ADMIN, "adm-b", None),
        (Role.AGENCY_OFFICER, "off-c", "dbm"),
    ]
    calls = []
    for i in range(60):
        role, subject, agency = officers[i % 3]
        path = f"/v1/reports/{ids[i % len(ids)]}" if i % 4 else "/v1/reports?limit=5"
        calls.append((subject, path, gw.token(role, subject, agency)))

    async def read(subject: str, path: str, headers: dict[str, str]) -> tuple[str, list[str]]:
        r = await gw.client.get(path, headers=headers)
        assert r.status_code == 200, r.text
        body = r.json()
        items = body.get("items", [body])
        return subject, [item["report_id"] for item in items]

    results = await asyncio.gather(*(read(*c) for c in calls))

    # Every report each response carried is one entry of that reader, no more, no less.
    expected = sorted((s, rid) for s, rids in results for rid in rids)
    rows = await log_rows(gw)
    assert sorted((r["subject"], str(r["report_id"])) for r in rows) == expected
    assert len(rows) == sum(len(rids) for _, rids in results) > 60
    # One chain: each row links to the one before it, and the whole walk verifies.
    assert rows[0]["prev_hash"] is None
    for before, after in itertools.pairwise(rows):
        assert after["prev_hash"] == before["hash"]
    async with gw.runtime.sessions() as session:
        assert await verify_access_log(session) == (len(rows), None)
    # The recorded hash is the hash of what is stored (nothing rewritten after the fact).
    last = rows[-1]
    entry = AccessEntry(
        last["at"],
        last["subject"],
        last["role"],
        last["agency_id"],
        last["report_id"],
        tuple(last["fields"]),
    )
    assert last["hash"] == chain_hash(last["prev_hash"], entry)


async def test_concurrent_appends_share_one_transaction(gw: Gw) -> None:
    """Group commit: requests that queue while the writer is busy are written together
    (one timestamp per transaction), each gets its own hashes back, in chain order."""
    access_log: AccessLog = gw.app.state.gateway.access_log
    reports = [uuid4() for _ in range(50)]
    hashes = await asyncio.gather(
        *(
            access_log.record(f"officer-{i}", Role.VALIDATOR, None, [Read(rid, ("text",))])
            for i, rid in enumerate(reports)
        )
    )
    rows = await log_rows(gw)
    assert len(rows) == 50
    assert len({r["at"] for r in rows}) == 1  # one batch, one transaction
    assert [r["hash"] for r in rows] == [h[0] for h in hashes]  # queue order is chain order
    assert [r["subject"] for r in rows] == [f"officer-{i}" for i in range(50)]
    async with gw.runtime.sessions() as session:
        assert await verify_access_log(session) == (50, None)


async def test_two_replicas_writing_at_once_keep_one_chain(gw: Gw) -> None:
    """Each replica has its own writer; the advisory lock and the last hash read under it
    keep their batches from forking the chain."""
    engine = make_engine(gw.settings.database_url)
    other = AccessLog(make_sessionmaker(engine))
    other.start()
    mine: AccessLog = gw.app.state.gateway.access_log
    try:

        async def burst(log: AccessLog, who: str) -> None:
            for i in range(15):
                await asyncio.gather(
                    *(
                        log.record(f"{who}-{i}-{j}", Role.VALIDATOR, None, [Read(uuid4(), ("t",))])
                        for j in range(4)
                    )
                )

        await asyncio.gather(burst(mine, "a"), burst(other, "b"))
    finally:
        await other.stop()
        await engine.dispose()
    rows = await log_rows(gw)
    assert len(rows) == 120
    assert {r["subject"][0] for r in rows} == {"a", "b"}
    async with gw.runtime.sessions() as session:
        assert await verify_access_log(session) == (120, None)


async def test_a_writer_links_to_the_real_end_after_another_replica_appended(gw: Gw) -> None:
    """A writer's next batch links to the chain's end as it is now (read, or under the
    lock), not to the last hash it wrote itself: another replica may have appended in
    between."""
    mine: AccessLog = gw.app.state.gateway.access_log
    engine = make_engine(gw.settings.database_url)
    other = AccessLog(make_sessionmaker(engine))
    other.start()
    try:
        await mine.record("a-1", Role.VALIDATOR, None, [Read(uuid4(), ("t",))])
        await mine.record("a-2", Role.VALIDATOR, None, [Read(uuid4(), ("t",))])
        await other.record("b-1", Role.VALIDATOR, None, [Read(uuid4(), ("t",))])
        await mine.record("a-3", Role.VALIDATOR, None, [Read(uuid4(), ("t",)), Read(uuid4(), ())])
    finally:
        await other.stop()
        await engine.dispose()
    rows = await log_rows(gw)
    assert [r["subject"] for r in rows] == ["a-1", "a-2", "b-1", "a-3", "a-3"]
    assert all(rows[i]["prev_hash"] == rows[i - 1]["hash"] for i in range(1, len(rows)))
    async with gw.runtime.sessions() as session:
        assert await verify_access_log(session) == (5, None)
    # a-1 found the chain empty and appended under the lock; a-2 linked to a-1 in one
    # statement; b-1 (nothing known at its start) read the end and linked to it; a-3's
    # link to a-2 was refused (b-1 follows it), so it read the end and linked to b-1.
    assert mine.batches == {"linked": 2, "locked": 1} and mine.refused == 1
    assert other.batches == {"linked": 1, "locked": 0} and other.refused == 0
    # While another writer is seen appending, a batch reads the end before linking: the
    # other's next entry costs this writer no refused statement.
    other = AccessLog(make_sessionmaker(engine := make_engine(gw.settings.database_url)))
    other.start()
    try:
        await other.record("b-2", Role.VALIDATOR, None, [Read(uuid4(), ("t",))])
        await mine.record("a-4", Role.VALIDATOR, None, [Read(uuid4(), ("t",))])
    finally:
        await other.stop()
        await engine.dispose()
    assert mine.batches == {"linked": 3, "locked": 1} and mine.refused == 1
    # Then it trusts its own last hash again (one statement a batch).
    for i in range(CONTENDED_BATCHES):
        await mine.record(f"a-{5 + i}", Role.VALIDATOR, None, [Read(uuid4(), ("t",))])
    assert mine.batches == {"linked": 3 + CONTENDED_BATCHES, "locked": 1}
    assert mine.refused == 1
    rows = await log_rows(gw)
    assert [r["subject"] for r in rows[:7]] == ["a-1", "a-2", "b-1", "a-3", "a-3", "b-2", "a-4"]
    async with gw.runtime.sessions() as session:
        assert await verify_access_log(session) == (len(rows), None)
    # The database itself refuses a second successor of an entry (a fork).
    async with gw.runtime.sessions() as session:
        with pytest.raises(IntegrityError, match="uq_access_log_prev_hash"):
            await session.execute(
                ACCESS_LOG.insert().values(
                    at=rows[0]["at"],
                    subject="fork",
                    role="validator",
                    report_id=uuid4(),
                    fields=[],
                    prev_hash=rows[0]["hash"],
                    hash="f" * 64,
                )
            )


async def test_a_read_that_cannot_be_logged_returns_no_data(gw: Gw) -> None:
    (report_id,) = await seed_reports(gw, 1)
    headers = gw.token(Role.VALIDATOR, "val-a")
    ok = await gw.client.get(f"/v1/reports/{report_id}", headers=headers)
    assert ok.status_code == 200

    # The access log cannot be written (its table is out of reach for a moment).
    async with gw.runtime.sessions() as session, session.begin():
        await session.execute(text("ALTER TABLE access_log RENAME TO access_log_away"))
    try:
        failed = await gw.client.get(f"/v1/reports/{report_id}", headers=headers)
        page = await gw.client.get("/v1/reports", headers=headers)
    finally:
        async with gw.runtime.sessions() as session, session.begin():
            await session.execute(text("ALTER TABLE access_log_away RENAME TO access_log"))
    for r in (failed, page):
        assert r.status_code == 503
        assert r.json() == {"detail": "the access log is unavailable; nothing was returned"}
        assert "Jalan" not in r.text and str(report_id) not in r.text

    # The writer carries on once the table is back; the chain has no gap or fork.
    again = await gw.client.get(f"/v1/reports/{report_id}", headers=headers)
    assert again.status_code == 200
    rows = await log_rows(gw)
    assert len(rows) == 2
    assert rows[1]["prev_hash"] == rows[0]["hash"]
    async with gw.runtime.sessions() as session:
        assert await verify_access_log(session) == (2, None)


def _submitted(privacy: Privacy, key_id: UUID, key: bytes) -> ReportSubmitted:
    return ReportSubmitted(
        report_id=uuid4(),
        receipt_code="ADU-AB12-CD34",
        channel=Channel.WHATSAPP,
        channel_message_id=f"wamid.{uuid4().hex}",
        text="Jalan berlubang, hubungi Budi Santoso",
        title="Jalan berlubang",
        category_hint="jalan",
        location=Location(point=GeoPoint(lat=-6.1951, lon=106.8231), area="Menteng"),
        privacy=privacy,
        received_at=RECEIVED,
        reporter=seal_identity({"name": "Budi Santoso"}, key_id, key),
    )


def _status(report: ReportSubmitted, version: int, to: ReportStatus) -> ReportStatusChanged:
    return ReportStatusChanged(
        report_id=report.report_id,
        receipt_code=report.receipt_code,
        channel=report.channel,
        version=version,
        from_status=None if version == 1 else ReportStatus.RECEIVED,
        to_status=to,
        actor=SYSTEM,
        agency_id="dbm" if version > 1 else None,
    )


async def test_batched_consumers_apply_once_and_project_public_reports_only(gw: Gw) -> None:
    key_id, key = uuid4(), new_key()
    issued = ReporterKeyIssued(key_id=key_id, key=base64.b64encode(key).decode())
    await gw.send(REPORTER_KEYS.name, issued, key_id)
    public = _submitted(Privacy.PUBLIC, key_id, key)
    private = _submitted(Privacy.PRIVATE, key_id, key)
    # Several events of one report in a row (one poll, one transaction), one of them twice.
    steps = [
        _status(public, 1, ReportStatus.RECEIVED),
        _status(public, 2, ReportStatus.DISPATCHED),
    ]
    for event in (public, private):
        await gw.send(REPORT_INTAKE.name, event, event.report_id)
    for event in [*steps, steps[1], _status(private, 1, ReportStatus.RECEIVED)]:
        await gw.send(STATUS_CHANGED.name, event, event.report_id)

    async def settled() -> list[Any] | None:
        async with gw.runtime.sessions() as session:
            rows = (
                await session.execute(
                    select(TIMELINE.c.report_id, TIMELINE.c.version).order_by(
                        TIMELINE.c.report_id, TIMELINE.c.version
                    )
                )
            ).all()
            outbox_left = await session.scalar(select(func.count()).select_from(OUTBOX))
        return list(rows) if len(rows) == 3 and outbox_left == 0 else None

    timeline = await eventually(settled, "the timeline settled")
    assert sorted((r.report_id, r.version) for r in timeline) == sorted(
        [(public.report_id, 1), (public.report_id, 2), (private.report_id, 1)]
    )
    async with gw.runtime.sessions() as session:
        claimed = (
            await session.execute(select(INBOX.c.consumer, func.count()).group_by(INBOX.c.consumer))
        ).all()
        row = (
            (await session.execute(select(REPORTS).where(REPORTS.c.report_id == public.report_id)))
            .mappings()
            .one()
        )
    # The per-message consumers' names, so ids they claimed before stay claimed.
    assert dict(claimed) == {
        "gateway.on_reporter_key": 1,
        "gateway.on_intake": 2,
        "gateway.on_status_changed": 3,  # three events; the copy sent twice counts once
    }
    assert row["status"] == "dispatched" and row["status_version"] == 2
    assert row["sealed_identity"] is not None

    # The public view hides the reporter's name (the key arrived first).
    r = await gw.client.get(f"/v1/public/reports/{public.report_id}")
    assert r.status_code == 200
    assert "Budi" not in r.text
    assert [t["status"] for t in r.json()["timeline"]] == ["received", "dispatched"]
    assert (await gw.client.get(f"/v1/public/reports/{private.report_id}")).status_code == 404


async def test_a_replayed_submission_after_erasure_gets_no_identity_back(gw: Gw) -> None:
    key_id, key = uuid4(), new_key()
    await gw.send(
        REPORTER_KEYS.name,
        ReporterKeyIssued(key_id=key_id, key=base64.b64encode(key).decode()),
        key_id,
    )
    await gw.send(REPORTER_KEYS.name, ReporterKeyShredded(key_id=key_id), key_id)
    # The submission arrives after the erasure (a replay of the intake topic).
    report = _submitted(Privacy.PUBLIC, key_id, key)

    async def shredded() -> bool:
        async with gw.runtime.sessions() as session:
            return bool(
                await session.scalar(
                    select(func.count())
                    .select_from(INBOX)
                    .where(INBOX.c.consumer == "gateway.on_reporter_key")
                )
                == 2
            )

    await eventually(shredded, "the key shredded")
    await gw.send(REPORT_INTAKE.name, report, report.report_id)

    async def stored() -> Any:
        async with gw.runtime.sessions() as session:
            return (
                (
                    await session.execute(
                        select(REPORTS).where(REPORTS.c.report_id == report.report_id)
                    )
                )
                .mappings()
                .first()
            )

    row = await eventually(stored, "the report stored")
    assert row["has_content"] is True
    assert row["sealed_identity"] is None  # the erased identity does not come back
    assert row["reporter_key_id"] == key_id


async def both_paths(
    gw: Gw, path: str, headers: dict[str, str]
) -> tuple[httpx.Response, bool, list[int]]:
    """The request sent with the direct routes (aduan_kit.direct) on, then off: both
    answers must be the same (status, bytes, headers but the correlation id). Returns the
    answer, whether a direct route took it, and how many access-log entries each wrote."""
    direct = gw.runtime.direct
    logged = [len(await log_rows(gw))]
    before = direct.answered
    fast = await gw.client.get(path, headers=headers)
    took = direct.answered > before
    logged.append(len(await log_rows(gw)))
    direct.enabled = False
    try:
        slow = await gw.client.get(path, headers=headers)
    finally:
        direct.enabled = True
    logged.append(len(await log_rows(gw)))
    assert (fast.status_code, fast.content) == (slow.status_code, slow.content), path
    assert [h for h in fast.headers.items() if h[0] != "x-correlation-id"] == [
        h for h in slow.headers.items() if h[0] != "x-correlation-id"
    ], path
    return fast, took, [logged[1] - logged[0], logged[2] - logged[1]]


async def test_direct_officer_reads_answer_and_log_as_fastapi_does(gw: Gw) -> None:
    """`GET /v1/reports/{id}` answered before FastAPI's layers (aduan_kit.direct) gives the
    route's own answer for every caller, logs each read it answers once, and leaves to the
    route what it does not take (reporters, missing or bad tokens, roles that may not
    read)."""
    ours, other = await seed_reports(gw, 2)
    async with gw.runtime.sessions() as session, session.begin():
        await session.execute(
            REPORTS.update().where(REPORTS.c.report_id == other).values(agency_id="dsda")
        )
    direct = gw.runtime.direct
    validator = gw.token(Role.VALIDATOR, "val-d")
    officer = gw.token(Role.AGENCY_OFFICER, "off-d", "dbm")
    expired = issue_access_token(gw.settings.jwt_secret, "val-d", Role.VALIDATOR, ttl_s=-10)
    cases: list[tuple[str, dict[str, str], bool]] = [
        (f"/v1/reports/{ours}", validator, True),
        (f"/v1/reports/{str(ours).upper()}", validator, True),
        (f"/v1/reports/{ours}", officer, True),
        (f"/v1/reports/{other}", officer, True),  # another unit's: 404, as unknown
        (f"/v1/reports/{uuid4()}", validator, True),
        (
            f"/v1/reports/{ours}",
            {"Authorization": f"bearer  {validator['Authorization'][7:]} "},
            True,
        ),
        (f"/v1/reports/{ours}", {}, False),  # 401 missing token
        (f"/v1/reports/{ours}", {"Authorization": "Bearer nonsense"}, False),
        (f"/v1/reports/{ours}", {"Authorization": f"Bearer {expired}"}, False),
        (f"/v1/reports/{ours}", {"Authorization": "Basic dXNlcjpwdw=="}, False),
        (f"/v1/reports/{ours}", gw.token(Role.REPORTER, "rep-d"), False),
        (f"/v1/reports/{ours}", gw.token(Role.SYSTEM, "sys-d"), False),  # 403
        ("/v1/reports/not-a-uuid", validator, False),
    ]
    for path, headers, taken in cases:
        answer, took, logged = await both_paths(gw, path, headers)
        assert took == taken, (path, headers)
        # Each answer with data was logged once, whichever path gave it.
        assert logged == [1 if answer.status_code == 200 else 0] * 2, path
    assert (await gw.client.get(f"/v1/reports/{ours}", headers=officer)).status_code == 200
    assert (await gw.client.get(f"/v1/reports/{other}", headers=officer)).status_code == 404

    # A read that cannot be logged: the same 503 (Retry-After included), no data.
    async with gw.runtime.sessions() as session, session.begin():
        await session.execute(text("ALTER TABLE access_log RENAME TO access_log_away"))
    try:
        before = direct.answered
        fast = await gw.client.get(f"/v1/reports/{ours}", headers=validator)
        assert direct.answered == before + 1
        direct.enabled = False
        slow = await gw.client.get(f"/v1/reports/{ours}", headers=validator)
        direct.enabled = True
    finally:
        async with gw.runtime.sessions() as session, session.begin():
            await session.execute(text("ALTER TABLE access_log_away RENAME TO access_log"))
    assert fast.status_code == slow.status_code == 503
    assert fast.content == slow.content and fast.headers["retry-after"] == "1"
    assert [h for h in fast.headers.items() if h[0] != "x-correlation-id"] == [
        h for h in slow.headers.items() if h[0] != "x-correlation-id"
    ]
    async with gw.runtime.sessions() as session:
        assert (await verify_access_log(session))[1] is None


async def test_direct_officer_lists_answer_and_log_as_fastapi_does(gw: Gw) -> None:
    """The console's queues (`GET /v1/reports`: a page, one status, newest or nearest
    deadline first) answered directly give the route's pages and log each listed report
    once; every other filter, and callers the route treats apart, go to the route."""
    ids = await seed_reports(gw, 9)
    async with gw.runtime.sessions() as session, session.begin():
        for i, rid in enumerate(ids):
            await session.execute(
                REPORTS.update()
                .where(REPORTS.c.report_id == rid)
                .values(
                    agency_id="dsda" if i % 3 == 0 else "dbm",
                    status="in_progress" if i % 2 else "dispatched",
                    due_at=RECEIVED + timedelta(days=9 - i),
                )
            )
    validator = gw.token(Role.VALIDATOR, "val-l")
    officer = gw.token(Role.AGENCY_OFFICER, "off-l", "dbm")
    admin = gw.token(Role.TICKET_ADMIN, "tix-l")
    taken = [
        ("/v1/reports", validator),
        ("/v1/reports?limit=3", validator),
        ("/v1/reports?limit=3&offset=3", validator),
        ("/v1/reports?status=in_progress", validator),
        ("/v1/reports?sort=due&limit=4", validator),
        ("/v1/reports?sort=newest&status=dispatched", admin),
        ("/v1/reports", officer),
        ("/v1/reports?sort=due", officer),
        ("/v1/reports?status=in_progress&sort=due&limit=2&offset=1", officer),
        ("/v1/reports?status=completed", officer),  # an empty page
    ]
    declined = [
        ("/v1/reports?status=nonsense", validator),  # 422
        ("/v1/reports?sort=oldest", validator),  # 422
        ("/v1/reports?limit=0", validator),  # 422
        ("/v1/reports?limit=3&limit=4", validator),
        ("/v1/reports?unit=dbm", officer),
        ("/v1/reports?escalated=true", officer),
        ("/v1/reports?q=jalan", validator),
        ("/v1/reports?q=jalan", officer),  # 403
        ("/v1/reports", {}),  # 401
        ("/v1/reports", gw.token(Role.AGENCY_OFFICER, "off-none")),  # no agency: empty
        ("/v1/reports", gw.token(Role.SYSTEM, "sys-l")),  # 403
    ]
    for path, headers in taken + declined:
        answer, took, logged = await both_paths(gw, path, headers)
        assert took == ((path, headers) in taken), path
        listed = len(answer.json()["items"]) if answer.status_code == 200 else 0
        assert logged == [listed, listed], path
    # What the officer's queue holds: their agency's reports only, nearest deadline first.
    page = (await gw.client.get("/v1/reports?sort=due", headers=officer)).json()["items"]
    ours = [rid for i, rid in enumerate(ids) if i % 3 != 0]
    assert [i["report_id"] for i in page] == [str(r) for r in reversed(ours)]
    async with gw.runtime.sessions() as session:
        assert (await verify_access_log(session))[1] is None


# --- officer reads from the report cache (issue 18: adapters/reportcache.py) -------------


async def _changed_by_hand(gw: Gw, statement: str, *args: Any) -> None:
    """A change behind the gateway's back, then the database's notice of it heard."""
    cache = gw.app.state.gateway.report_cache
    heard = cache.notices
    async with gw.runtime.engine.connect() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        await driver.execute(statement, *args)

    async def noticed() -> bool:
        return bool(cache.notices > heard)

    await eventually(noticed, "the change's notice heard")


def _photo(sha256: str) -> str:
    return json.dumps(
        {
            "sha256": sha256,
            "content_type": "image/jpeg",
            "size_bytes": 100,
            "taken_at": None,
            "point": None,
        }
    )


async def _grant_by_hand(gw: Gw, report_id: UUID, grantee: str, granted_by: str) -> UUID:
    """A photo grant written straight to the table: no report changes, nothing announced,
    and Redis does not know it (the read must ask the database)."""
    grant = uuid4()
    async with gw.runtime.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO photo_grants (grant_id, report_id, grantee, granted_by, expires_at) "
                "VALUES (:g, :r, :grantee, :by, now() + interval '1 hour')"
            ),
            {"g": grant, "r": report_id, "grantee": grantee, "by": granted_by},
        )
    return grant


async def _revoke_by_hand(gw: Gw, grant: UUID, report_id: UUID, grantee: str) -> None:
    async with gw.runtime.engine.begin() as conn:
        await conn.execute(
            text("UPDATE photo_grants SET revoked_at = now() WHERE grant_id = :g"), {"g": grant}
        )
    await gw.app.state.gateway.grants().forget(report_id, grantee)


async def test_officer_reads_from_memory_follow_every_change_and_are_each_logged(
    gw: Gw,
) -> None:
    cache = gw.app.state.gateway.report_cache
    assert await cache.wait_listening(10)
    other, private = await seed_reports(gw, 2)
    # The seeding's own notices come in after it: one more change, heard, and they are
    # behind us (notices arrive in commit order), so the first read below is kept.
    await _changed_by_hand(gw, "UPDATE reports SET title = title WHERE report_id = $1", other)
    validator = gw.token(Role.VALIDATOR, "val-m")
    dbm = gw.token(Role.AGENCY_OFFICER, "dbm-m", "dbm")
    url = f"/v1/reports/{private}"

    first = await gw.client.get(url, headers=validator)
    hits = cache.hits
    again = await gw.client.get(url, headers=validator)
    assert again.status_code == 200 and again.content == first.content
    assert cache.hits == hits + 1
    # Every read is logged before it is given out, from memory or not.
    logged = [r for r in await log_rows(gw) if r["subject"] == "val-m"]
    assert [r["report_id"] for r in logged] == [private, private]

    # Moved to another agency by hand: the old agency's officer loses it at the notice.
    assert (await gw.client.get(url, headers=dbm)).status_code == 200
    await _changed_by_hand(
        gw, "UPDATE reports SET agency_id = 'dsda' WHERE report_id = $1", private
    )
    assert (await gw.client.get(url, headers=dbm)).status_code == 404
    listed = (await gw.client.get("/v1/reports?limit=100", headers=dbm)).json()["items"]
    assert str(private) not in {i["report_id"] for i in listed}
    await _changed_by_hand(gw, "UPDATE reports SET agency_id = 'dbm' WHERE report_id = $1", private)
    assert (await gw.client.get(url, headers=dbm)).status_code == 200

    # An escalation (its own table) shows at its notice.
    await _changed_by_hand(
        gw,
        "INSERT INTO escalations (report_id, kind, stage, due_at, from_unit, to_unit, "
        "after_version, note, at) VALUES ($1, 'breach', 'follow_up', now(), 'dbm', "
        "'validators', 2, 'overdue at dbm', now())",
        private,
    )
    escalations = (await gw.client.get(url, headers=validator)).json()["escalations"]
    assert [e["kind"] for e in escalations] == ["breach"]

    # Photos of a private report: the grant is asked on every read, not kept with the row.
    await _changed_by_hand(
        gw,
        "UPDATE reports SET photos = jsonb_build_array($2::jsonb) WHERE report_id = $1",
        private,
        _photo("e" * 64),
    )
    assert (await gw.client.get(url, headers=dbm)).json()["photos_locked"] is True
    grant = await _grant_by_hand(gw, private, "dbm-m", "val-m")
    hits = cache.hits
    opened = (await gw.client.get(url, headers=dbm)).json()
    assert cache.hits == hits + 1  # the row from memory, the grant asked
    assert opened["photos_locked"] is False and [p["sha256"] for p in opened["photos"]] == [
        "e" * 64
    ]
    await _revoke_by_hand(gw, grant, private, "dbm-m")
    assert (await gw.client.get(url, headers=dbm)).json()["photos_locked"] is True


async def test_officer_queues_from_memory_follow_every_change_and_are_each_logged(
    gw: Gw,
) -> None:
    """A queue's page of ids is kept until any change is announced: a report that enters,
    leaves or moves in a queue shows at the next read, and every page read is logged."""
    cache = gw.app.state.gateway.report_cache
    assert await cache.wait_listening(10)
    first, second, third = await seed_reports(gw, 3)
    await _changed_by_hand(gw, "UPDATE reports SET title = title WHERE report_id = $1", first)
    dbm = gw.token(Role.AGENCY_OFFICER, "dbm-q", "dbm")
    validator = gw.token(Role.VALIDATOR, "val-q")

    async def queue(path: str, headers: dict[str, str]) -> list[UUID]:
        answer = await gw.client.get(path, headers=headers)
        assert answer.status_code == 200, answer.text
        return [UUID(i["report_id"]) for i in answer.json()["items"]]

    newest = [third, second, first]
    assert await queue("/v1/reports", dbm) == newest
    hits = cache.hits
    assert await queue("/v1/reports", dbm) == newest
    assert cache.hits == hits + 1 + 3  # the page's ids and its three rows
    dispatched = "/v1/reports?status=dispatched"
    assert await queue(dispatched, validator) == newest

    # A new report enters the queue: at its notice, the next read has it first.
    [fourth] = await seed_reports(gw, 1)
    await _changed_by_hand(
        gw, "UPDATE reports SET received_at = now() WHERE report_id = $1", fourth
    )
    assert await queue("/v1/reports", dbm) == [fourth, *newest]
    # One moves to another agency: out of this agency's queue, still in the validator's.
    await _changed_by_hand(gw, "UPDATE reports SET agency_id = 'dsda' WHERE report_id = $1", second)
    assert await queue("/v1/reports", dbm) == [fourth, third, first]
    assert await queue(dispatched, validator) == [fourth, third, second, first]
    # One changes status: out of the status's queue.
    await _changed_by_hand(
        gw, "UPDATE reports SET status = 'in_progress' WHERE report_id = $1", third
    )
    assert await queue(dispatched, validator) == [fourth, second, first]
    # A deadline moves a report up the "due" queue.
    await _changed_by_hand(
        gw, "UPDATE reports SET due_at = now() - interval '1 hour' WHERE report_id = $1", first
    )
    assert (await queue("/v1/reports?sort=due", dbm))[0] == first

    # Every page read from memory was logged, one entry per report given out.
    logged = [r for r in await log_rows(gw) if r["subject"] == "dbm-q"]
    assert len(logged) == 3 + 3 + 4 + 3 + 3

    # A private report's photos in a page from memory: the grant is asked on every read
    # (given and revoked in the database, no report changes, nothing announced).
    _, private = await seed_reports(gw, 2)
    await _changed_by_hand(
        gw,
        "UPDATE reports SET photos = jsonb_build_array($2::jsonb), received_at = now() "
        "WHERE report_id = $1",
        private,
        _photo("f" * 64),
    )

    async def top() -> dict[str, Any]:
        answer = await gw.client.get("/v1/reports?limit=1", headers=dbm)
        [item] = answer.json()["items"]
        assert item["report_id"] == str(private)
        return dict(item)

    assert (await top())["photos_locked"] is True
    grant = await _grant_by_hand(gw, private, "dbm-q", "val-q")
    hits = cache.hits
    opened = await top()
    assert cache.hits == hits + 2  # the page and the row from memory, the grant asked
    assert opened["photos_locked"] is False
    assert [p["sha256"] for p in opened["photos"]] == ["f" * 64]
    await _revoke_by_hand(gw, grant, private, "dbm-q")
    assert (await top())["photos_locked"] is True


async def test_a_reporter_key_arriving_announces_its_reports(gw: Gw) -> None:
    """Whether a report's reporter key is known is part of its officer row (`key_row`):
    the key's arrival is announced as a change of the reports that name it."""
    cache = gw.app.state.gateway.report_cache
    assert await cache.wait_listening(10)
    [rid] = await seed_reports(gw, 1)
    key_id = uuid4()
    await _changed_by_hand(
        gw, "UPDATE reports SET reporter_key_id = $2 WHERE report_id = $1", rid, key_id
    )
    validator = gw.token(Role.VALIDATOR, "val-k")
    await gw.client.get(f"/v1/reports/{rid}", headers=validator)
    assert cache.officer_row(rid) is not MISS
    await _changed_by_hand(
        gw, "INSERT INTO reporter_keys (key_id, key) VALUES ($1, $2)", key_id, b"k" * 32
    )
    assert cache.officer_row(rid) is MISS
