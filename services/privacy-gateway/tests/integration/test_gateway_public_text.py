"""The stored public text: public reads open no identity, and the stored redaction follows
the reporter's key (arriving after the report) and their erasure; the migration computes it
for rows written before it."""

from __future__ import annotations

import asyncio
import base64
import csv
import io
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, NoReturn, TypeVar
from uuid import UUID, uuid4

import asyncpg
import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from pydantic import BaseModel
from sqlalchemy import literal_column, select
from sqlalchemy.engine import make_url

import aduan_gateway.domain.rows
import aduan_kit.crypto
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
from aduan_gateway.adapters.projection_pg import PgProjectionUnit
from aduan_gateway.adapters.publicviews import VIEW_FORMAT, page_json
from aduan_gateway.adapters.readmodel import load_public, load_report
from aduan_gateway.adapters.reportcache import MISS
from aduan_gateway.adapters.tables import OUTBOX, REPORTS
from aduan_gateway.auth import issue_access_token
from aduan_gateway.bootstrap import build
from aduan_gateway.config import Settings
from aduan_gateway.domain.projection import public_id_of
from aduan_gateway.domain.redaction import HIDDEN
from aduan_gateway.domain.views import public_view
from aduan_gateway.entrypoints.api import PublicReportPage
from aduan_gateway.service.projector import apply_contents, apply_keys
from aduan_kit.crypto import new_key, seal_identity
from aduan_kit.db import migrate
from aduan_kit.runtime import ServiceRuntime
from aduan_kit.uow import UnitOfWork
from aduan_testing.helpers import eventually
from aduan_testing.plugin import Isolation

pytestmark = pytest.mark.integration

T = TypeVar("T")
NAME = "Budi Santoso"
TEXT = f"Nama saya {NAME}, jalan berlubang di depan rumah. Hubungi budi@contoh.id."
RECEIVED = datetime(2024, 5, 17, 9, 31, 12, tzinfo=UTC)
# Open311 lists the last 90 days unless given dates: a range that holds May 2024.
OPEN311_MAY_2024 = "/open311/v2/requests.json?start_date=2024-04-15T00:00:00Z"


class Gw:
    def __init__(
        self, iso: Isolation, runtime: ServiceRuntime, client: httpx.AsyncClient, settings: Any
    ) -> None:
        self.iso, self.runtime, self.client, self.settings = iso, runtime, client, settings
        self.producer: AIOKafkaProducer | None = None
        self.app_state: Any = None

    async def send(self, topic: str, event: BaseModel, key: UUID) -> None:
        assert self.producer is not None
        await self.producer.send_and_wait(
            f"{self.iso.namespace}.{topic}", encode(event), key=str(key).encode()
        )

    async def row(self, report_id: UUID) -> Any:
        async with self.runtime.sessions() as session:
            query = select(REPORTS).where(REPORTS.c.report_id == report_id)
            return (await session.execute(query)).mappings().first()


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
    # The report cache in use from the first read (adapters/reportcache.py).
    assert await app.state.gateway.report_cache.wait_listening(10)
    producer = AIOKafkaProducer(bootstrap_servers=isolated.kafka)
    await producer.start()
    try:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            gw = Gw(isolated, runtime, client, settings)
            gw.producer = producer
            gw.app_state = app.state.gateway
            yield gw
    finally:
        await producer.stop()
        await app.state.gateway.stop()


def _submitted(key_id: UUID, key: bytes, privacy: Privacy = Privacy.PUBLIC) -> ReportSubmitted:
    return ReportSubmitted(
        report_id=uuid4(),
        receipt_code="ADU-AB12-CD34",
        channel=Channel.WEB,
        channel_message_id=f"web.{uuid4().hex}",
        text=TEXT,
        title=f"Laporan {NAME}",
        category_hint="jalan",
        location=Location(point=GeoPoint(lat=-6.1951, lon=106.8231), area="Menteng"),
        privacy=privacy,
        received_at=RECEIVED,
        reporter=seal_identity({"name": NAME, "contact": "budi@contoh.id"}, key_id, key),
    )


def _received(report: ReportSubmitted) -> ReportStatusChanged:
    return ReportStatusChanged(
        report_id=report.report_id,
        receipt_code=report.receipt_code,
        channel=report.channel,
        version=1,
        from_status=None,
        to_status=ReportStatus.RECEIVED,
        actor=Actor(id="workflow", role=Role.SYSTEM),
    )


def _dispatched(report: ReportSubmitted) -> ReportStatusChanged:
    """The second step (to Bina Marga), under an event id of its own."""
    return _received(report).model_copy(
        update={
            "version": 2,
            "from_status": ReportStatus.RECEIVED,
            "to_status": ReportStatus.DISPATCHED,
            "agency_id": "dbm",
        }
    )


def _key_issued(key_id: UUID, key: bytes) -> ReporterKeyIssued:
    return ReporterKeyIssued(key_id=key_id, key=base64.b64encode(key).decode())


def _no_name(text: str) -> bool:
    return "Budi" not in text and "Santoso" not in text and "budi@contoh.id" not in text


async def test_public_reads_open_no_identity(gw: Gw, monkeypatch: pytest.MonkeyPatch) -> None:
    key_id, key = uuid4(), new_key()
    report = _submitted(key_id, key)
    await gw.send(REPORTER_KEYS.name, _key_issued(key_id, key), key_id)
    await gw.send(REPORT_INTAKE.name, report, report.report_id)
    await gw.send(STATUS_CHANGED.name, _received(report), report.report_id)
    url = f"/v1/public/reports/{report.report_id}"

    async def shown() -> bool:
        return (await gw.client.get(url)).status_code == 200

    await eventually(shown, "the report shown publicly")

    opened: list[str] = []

    def refuse(*_: Any, **__: Any) -> NoReturn:
        opened.append("open")
        raise RuntimeError("a public read opened a sealed identity")

    # Both the name the read model calls and the kit's own: any path that decrypts fails.
    monkeypatch.setattr(aduan_gateway.domain.rows, "open_identity", refuse)
    monkeypatch.setattr(aduan_kit.crypto, "open_identity", refuse)
    rid = str(report.report_id)
    reads = {
        url: lambda body: body["report_id"] == rid,
        "/v1/public/reports?limit=100": lambda body: (
            [i["report_id"] for i in body["items"]] == [rid]
        ),
        OPEN311_MAY_2024: lambda body: [i["service_request_id"] for i in body] == [rid],
        f"/open311/v2/requests/{rid}.json": lambda body: body[0]["service_request_id"] == rid,
        f"/v1/public/track/{report.receipt_code}": lambda body: (
            body["public_id"] == public_id_of(UUID(rid))
        ),
    }
    for path, check in reads.items():
        r = await gw.client.get(path)
        assert r.status_code == 200, (path, r.text)
        assert check(r.json()), (path, r.text)
        assert _no_name(r.text), (path, r.text)
        if "track" not in path:  # the tracking answer carries no text at all
            assert HIDDEN in r.text, (path, r.text)
    for path in ("/v1/public/export.csv", "/v1/public/export.geojson"):
        r = await gw.client.get(path)
        assert r.status_code == 200 and rid in r.text and _no_name(r.text), (path, r.text)
    assert opened == []

    # An officer's read opens nothing either (issue 18: the stored officer text and
    # reasons), and shows no name.
    token = issue_access_token(gw.settings.jwt_secret, "val-1", Role.VALIDATOR, ttl_s=600)
    auth = {"Authorization": f"Bearer {token}"}
    r = await gw.client.get(f"/v1/reports/{report.report_id}", headers=auth)
    assert r.status_code == 200 and _no_name(r.text), r.text
    r = await gw.client.get("/v1/reports?limit=100", headers=auth)
    assert r.status_code == 200 and rid in r.text and _no_name(r.text), r.text
    assert opened == []
    # The patch bites: what opens the identity (the reporter's own view, what an officer
    # is about to write) fails here.
    async with gw.runtime.sessions() as session:
        with pytest.raises(RuntimeError, match="opened a sealed identity"):
            await load_report(session, report.report_id)
    assert opened


async def test_stored_public_text_follows_a_late_key_and_the_erasure(gw: Gw) -> None:
    key_id, key = uuid4(), new_key()
    report = _submitted(key_id, key)
    # The report before its reporter's key (the keys topic may lag the intake topic).
    await gw.send(REPORT_INTAKE.name, report, report.report_id)
    await gw.send(STATUS_CHANGED.name, _received(report), report.report_id)

    async def complete() -> Any:
        row = await gw.row(report.report_id)
        return row if row is not None and row["status"] is not None else None

    row = await eventually(complete, "the report complete")
    assert row["has_content"] is True
    # The name cannot be hidden yet: nothing public is stored, nothing public is shown.
    assert row["public_text"] is None and row["public_title"] is None
    url = f"/v1/public/reports/{report.report_id}"
    assert (await gw.client.get(url)).status_code == 404
    listed = (await gw.client.get("/v1/public/reports")).json()["items"]
    assert str(report.report_id) not in [i["report_id"] for i in listed]

    await gw.send(REPORTER_KEYS.name, _key_issued(key_id, key), key_id)

    async def redacted() -> Any:
        row = await gw.row(report.report_id)
        return row if row["public_text"] is not None else None

    row = await eventually(redacted, "the public text redacted")
    assert _no_name(row["public_text"]) and _no_name(row["public_title"])
    assert row["public_text"].startswith(f"Nama saya {HIDDEN}, jalan berlubang")
    assert row["public_title"] == f"Laporan {HIDDEN}"
    assert NAME in row["text"]  # full-access roles still see what the reporter wrote
    r = await gw.client.get(url)
    assert r.status_code == 200 and _no_name(r.text)
    assert r.json()["text"] == row["public_text"]

    await gw.send(REPORTER_KEYS.name, ReporterKeyShredded(key_id=key_id), key_id)

    async def erased() -> Any:
        row = await gw.row(report.report_id)
        return row if row["sealed_identity"] is None else None

    row = await eventually(erased, "the identity erased")
    # Erasure scrubs the stored text for every role, and the stored public text stays
    # scrubbed without the key (which is gone now).
    assert _no_name(row["text"]) and _no_name(row["title"])
    assert _no_name(row["public_text"]) and _no_name(row["public_title"])
    assert row["public_text"].startswith(f"Nama saya {HIDDEN}, jalan berlubang")
    r = await gw.client.get(url)
    assert r.status_code == 200 and _no_name(r.text)
    for path in ("/v1/public/reports", "/v1/public/export.csv", OPEN311_MAY_2024):
        r = await gw.client.get(path)
        assert r.status_code == 200 and str(report.report_id) in r.text and _no_name(r.text)


async def test_the_migration_computes_public_text_of_existing_rows(isolated: Isolation) -> None:
    url = isolated.database("gwmigr")
    await migrate(url, "aduan_gateway:migrations", "0004")

    keyed, pending, erased = uuid4(), uuid4(), uuid4()
    key = new_key()
    named = "Saya Budi Santoso, telepon 0812-3456-7890."
    rows = {
        "keyed": (uuid4(), keyed, named),  # key held: the name is hidden
        "pending": (uuid4(), pending, named),  # key not arrived: stays NULL (not public)
        # Erased: the name was scrubbed from the text then, the sealed copy dropped.
        "erased": (uuid4(), erased, f"Saya {HIDDEN}, telepon 0812-3456-7890."),
        "anonymous": (uuid4(), None, "Jalan rusak, telepon 0812-3456-7890."),
    }
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("INSERT INTO reporter_keys(key_id, key) VALUES($1, $2)", keyed, key)
        await conn.execute(
            "INSERT INTO reporter_keys(key_id, key, shredded_at) VALUES($1, NULL, now())", erased
        )
        for label, (rid, key_id, text) in rows.items():
            sealed = (
                seal_identity({"name": NAME}, key_id, key).model_dump_json()
                if label in ("keyed", "pending")
                else None
            )
            await conn.execute(
                """INSERT INTO reports(report_id, channel, privacy, has_content, title, text,
                received_at, status, status_version, sealed_identity, reporter_key_id)
                VALUES($1, 'web', 'public', true, $2, $3, $4, 'received', 1, $5::jsonb, $6)""",
                rid,
                "Jalan rusak",
                text,
                RECEIVED,
                sealed,
                key_id,
            )
    finally:
        await conn.close()

    await migrate(url, "aduan_gateway:migrations")

    conn = await asyncpg.connect(dsn)
    try:
        got = {
            label: await conn.fetchrow(
                "SELECT public_title, public_text FROM reports WHERE report_id = $1", rid
            )
            for label, (rid, _, _) in rows.items()
        }
    finally:
        await conn.close()
    assert got["keyed"]["public_text"] == f"Saya {HIDDEN}, telepon {HIDDEN}."
    assert got["keyed"]["public_title"] == "Jalan rusak"
    assert got["pending"]["public_text"] is None and got["pending"]["public_title"] is None
    # No identity to open (erased, or anonymous): phone numbers are still hidden.
    assert got["erased"]["public_text"] == f"Saya {HIDDEN}, telepon {HIDDEN}."
    assert got["anonymous"]["public_text"] == f"Jalan rusak, telepon {HIDDEN}."


async def test_a_report_written_while_its_key_arrives_is_redacted(gw: Gw) -> None:
    """The race `lock_keys` closes: the key's transaction has stored the key but not yet
    looked for the reporter's reports; a submission written meanwhile waits for it, then
    sees the key (without the lock it saw no key, the key's transaction did not see the
    uncommitted report, and the report stayed unpublished)."""
    key_id, key = uuid4(), new_key()
    report = _submitted(key_id, key)
    async with gw.runtime.sessions() as keys_tx:
        keys = PgProjectionUnit(UnitOfWork(keys_tx, OUTBOX, gw.runtime.topic))
        assert await apply_keys(keys, [_key_issued(key_id, key)]) == []  # nothing of theirs yet

        async def write_content() -> None:
            async with gw.runtime.sessions() as content_tx:
                content = UnitOfWork(content_tx, OUTBOX, gw.runtime.topic)
                await apply_contents(PgProjectionUnit(content), [report])
                await content.flush()
                await content_tx.commit()

        writing = asyncio.create_task(write_content())
        await asyncio.sleep(1.0)
        assert not writing.done()  # waits for the key's transaction
        await keys_tx.commit()
    await asyncio.wait_for(writing, 10)
    row = await gw.row(report.report_id)
    assert row["public_text"] is not None and _no_name(row["public_text"])
    assert row["public_text"].startswith(f"Nama saya {HIDDEN}, jalan berlubang")


async def test_open_data_is_cut_by_area_code(gw: Gw) -> None:
    """Issue 19: the open-data exports carry the area's Kemendagri code (when intake was
    sure enough for the public) and take `area=` (a kota, kecamatan or kelurahan code);
    a name is refused with a reason, never matched against free text."""
    key_id, key = uuid4(), new_key()
    await gw.send(REPORTER_KEYS.name, _key_issued(key_id, key), key_id)
    placed = {
        "31.71.06.1001": 0.9,  # Kelurahan Menteng
        "31.71.01.1001": 0.9,  # Kelurahan Gambir
        "31.74.01.1001": 0.3,  # read from the words with little certainty: no public code
    }
    ids: dict[str, str] = {}
    for code, sure in placed.items():
        report = _submitted(key_id, key).model_copy(
            update={"location": Location(area_code=code, area_how="text", area_confidence=sure)}
        )
        await gw.send(REPORT_INTAKE.name, report, report.report_id)
        await gw.send(STATUS_CHANGED.name, _received(report), report.report_id)
        ids[code] = str(report.report_id)

    async def all_public() -> bool:
        r = await gw.client.get("/v1/public/export.csv")
        return all(rid in r.text for rid in ids.values())

    await eventually(all_public, "the three reports in open data")

    async def rows(area: str) -> dict[str, str | None]:
        r = await gw.client.get("/v1/public/export.csv", params={"area": area})
        assert r.status_code == 200, r.text
        found = list(csv.DictReader(io.StringIO(r.text)))
        return {row["report_id"]: row["area_code"] or None for row in found}

    menteng, gambir, unsure = ids.values()
    assert await rows("31.71.06") == {menteng: "31.71.06.1001"}
    assert await rows("31.71.01.1001") == {gambir: "31.71.01.1001"}
    assert await rows("31.71") == {menteng: "31.71.06.1001", gambir: "31.71.01.1001"}
    everything = await gw.client.get("/v1/public/export.csv")
    assert unsure in everything.text
    assert dict(await rows("31")).get(unsure, "absent") is None  # listed, no public code
    r = await gw.client.get("/v1/public/export.geojson", params={"area": "31.71.06"})
    assert r.status_code == 200
    features = r.json()["features"]
    assert [f["properties"]["report_id"] for f in features] == [menteng]
    assert features[0]["properties"]["area_code"] == "31.71.06.1001"
    refused = await gw.client.get("/v1/public/export.csv", params={"area": "Menteng"})
    assert refused.status_code == 422 and "area" in refused.text


# --- stored public views (issue 18: adapters/publicviews.py) ------------------------------


async def _stored(gw: Gw, report_id: UUID) -> tuple[str | None, str | None]:
    row = await gw.row(report_id)
    return row["public_view"], row["public_view_format"]


async def _until_stored(gw: Gw, report_id: UUID) -> str:
    async def stored() -> bool:
        view, form = await _stored(gw, report_id)
        return view is not None and form == VIEW_FORMAT

    await eventually(stored, "the public view stored")
    view, _ = await _stored(gw, report_id)
    assert view is not None
    return view


async def _sql(gw: Gw, statement: str, *args: Any) -> None:
    """A change by hand, behind the gateway's back (an operator's fix), and then the
    database's notice of it heard by the gateway's report cache: from then on every read
    must answer the change (a read in between may still answer what it kept)."""
    cache = gw.app_state.report_cache
    heard = cache.notices
    await _exec(gw, statement, *args)

    async def noticed() -> bool:
        return cache.notices > heard

    await eventually(noticed, "the change's notice heard")


async def _exec(gw: Gw, statement: str, *args: Any) -> Any:
    dsn = make_url(gw.settings.database_url).set(drivername="postgresql")
    conn = await asyncpg.connect(dsn.render_as_string(hide_password=False))
    try:
        return await conn.fetch(statement, *args)
    finally:
        await conn.close()


async def _public_report(gw: Gw) -> ReportSubmitted:
    key_id, key = uuid4(), new_key()
    report = _submitted(key_id, key)
    await gw.send(REPORTER_KEYS.name, _key_issued(key_id, key), key_id)
    await gw.send(REPORT_INTAKE.name, report, report.report_id)
    await gw.send(STATUS_CHANGED.name, _received(report), report.report_id)
    url = f"/v1/public/reports/{report.report_id}"

    async def shown() -> bool:
        return (await gw.client.get(url)).status_code == 200

    await eventually(shown, "the report shown publicly")
    return report


async def test_public_reads_answer_the_stored_view_as_built(gw: Gw) -> None:
    report = await _public_report(gw)
    url = f"/v1/public/reports/{report.report_id}"
    first = await gw.client.get(url)
    stored = await _until_stored(gw, report.report_id)
    # What is stored is what the view gives for the row (nothing else, nothing more).
    async with gw.runtime.sessions() as session:
        record = await load_public(session, report.report_id)
    assert record is not None
    built = public_view(record)
    assert built is not None
    assert stored == built.model_dump_json(by_alias=True) == first.text
    assert _no_name(stored) and HIDDEN in stored
    # Answered from the store: the same bytes, in the list too, as a page would encode.
    again = await gw.client.get(url)
    assert again.status_code == 200 and again.text == stored
    page = await gw.client.get("/v1/public/reports?limit=5")
    assert page.json()["items"] == [json.loads(stored)]
    assert page.content == page_json([stored.encode()], 5, 0)
    assert (
        page.content
        == PublicReportPage(items=(built,), limit=5, offset=0)
        .model_dump_json(by_alias=True)
        .encode()
    )
    # A filtered page (built by SQLAlchemy, not the prepared default) answers the same.
    filtered = await gw.client.get("/v1/public/reports?limit=5&category=jalan")
    assert filtered.content == page.content
    other = await gw.client.get("/v1/public/reports?limit=5&category=sampah")
    assert other.json()["items"] == []


async def _built(gw: Gw, report_id: UUID) -> str | None:
    """The view a public read builds from the row and the timeline as they are now."""
    async with gw.runtime.sessions() as session:
        record = await load_public(session, report_id)
    view = public_view(record) if record is not None else None
    return None if view is None else view.model_dump_json(by_alias=True)


async def test_the_projector_stores_the_view_a_read_would_build(gw: Gw) -> None:
    """A status written by the projector carries the report's public view, the bytes a
    public read would have built from the row and the timeline, with no read to make it;
    each later step replaces it, and where the public may not see the report none is
    stored (adapters/projection_pg.py, migration 0024)."""
    fills = gw.app_state.public_views.fills
    filled = fills.stored
    key_id, key = uuid4(), new_key()
    report = _submitted(key_id, key)
    await gw.send(REPORTER_KEYS.name, _key_issued(key_id, key), key_id)
    await gw.send(REPORT_INTAKE.name, report, report.report_id)

    async def redacted() -> bool:
        row = await gw.row(report.report_id)
        return row is not None and row["public_text"] is not None

    await eventually(redacted, "the content stored with its key")
    await gw.send(STATUS_CHANGED.name, _received(report), report.report_id)
    stored = await _until_stored(gw, report.report_id)
    assert stored == await _built(gw, report.report_id)
    assert _no_name(stored) and json.loads(stored)["status"] == "received"
    url = f"/v1/public/reports/{report.report_id}"
    r = await gw.client.get(url)
    assert r.status_code == 200 and r.text == stored

    # The next step: the stored view follows it (two steps on the timeline).
    dispatched = _dispatched(report)
    await gw.send(STATUS_CHANGED.name, dispatched, report.report_id)

    async def moved() -> bool:
        view, form = await _stored(gw, report.report_id)
        return form == VIEW_FORMAT and view is not None and '"dispatched"' in view

    await eventually(moved, "the stored view of the second step")
    stored = (await _stored(gw, report.report_id))[0]
    assert stored is not None and len(json.loads(stored)["timeline"]) == 2
    assert stored == await _built(gw, report.report_id)
    # Nothing was left for a read to build and write back.
    assert fills.stored == filled

    # A rejection: the public may not see it, nothing is stored, the read is a 404.
    rejected = _dispatched(report).model_copy(
        update={
            "version": 3,
            "from_status": ReportStatus.DISPATCHED,
            "to_status": ReportStatus.REJECTED,
            "reason": "Bukan wewenang kota.",
        }
    )
    await gw.send(STATUS_CHANGED.name, rejected, report.report_id)

    async def gone() -> bool:
        row = await gw.row(report.report_id)
        return row["status"] == "rejected"

    await eventually(gone, "the rejection written")
    assert await _stored(gw, report.report_id) == (None, None)
    assert (await gw.client.get(url)).status_code == 404

    # A private report's status stores no view.
    private = _submitted(uuid4(), new_key(), Privacy.PRIVATE)
    await gw.send(REPORT_INTAKE.name, private, private.report_id)
    await gw.send(STATUS_CHANGED.name, _received(private), private.report_id)

    async def written() -> bool:
        row = await gw.row(private.report_id)
        return row is not None and row["status"] == "received" and row["has_content"]

    await eventually(written, "the private report written")
    assert await _stored(gw, private.report_id) == (None, None)


async def test_a_view_written_with_the_row_stays_when_its_steps_join(gw: Gw) -> None:
    """The timeline's trigger leaves a row its own transaction wrote (that writer decided
    the view: the projector made it with the steps it adds), and still empties the view of
    a row it did not write."""
    report = await _public_report(gw)
    stored = await _until_stored(gw, report.report_id)
    dsn = make_url(gw.settings.database_url).set(drivername="postgresql")
    conn = await asyncpg.connect(dsn.render_as_string(hide_password=False))
    step = (
        "INSERT INTO timeline (report_id, version, status, actor_role, occurred_at, extra) "
        "VALUES ($1, $2, 'dispatched', 'system', now(), '{}')"
    )
    try:
        async with conn.transaction():
            await conn.execute(
                "UPDATE reports SET status = 'dispatched', public_view = $2, "
                "public_view_format = $3 WHERE report_id = $1",
                report.report_id,
                stored.replace('"received"', '"dispatched"'),
                VIEW_FORMAT,
            )
            await conn.execute(step, report.report_id, 2)
        view, form = await _stored(gw, report.report_id)
        assert form == VIEW_FORMAT and view is not None and '"dispatched"' in view
        # A step alone (this transaction did not write the row): emptied.
        await conn.execute(step, report.report_id, 3)
        assert await _stored(gw, report.report_id) == (None, None)
    finally:
        await conn.close()


async def test_a_change_to_the_report_or_its_timeline_empties_the_stored_view(gw: Gw) -> None:
    report = await _public_report(gw)
    url = f"/v1/public/reports/{report.report_id}"
    await gw.client.get(url)
    await _until_stored(gw, report.report_id)

    # A transition through the projector: the timeline grows, the row changes.
    moved = _dispatched(report)
    await gw.send(STATUS_CHANGED.name, moved, report.report_id)

    async def dispatched() -> bool:
        body = (await gw.client.get(url)).json()
        return body["status"] == "dispatched" and len(body["timeline"]) == 2

    await eventually(dispatched, "the public view follows the transition")
    assert json.loads(await _until_stored(gw, report.report_id))["status"] == "dispatched"

    # A timeline row changed by itself (no write to the report row) empties it too.
    await _sql(
        gw,
        "UPDATE timeline SET agency_id = 'dsda' WHERE report_id = $1 AND version = 2",
        report.report_id,
    )
    assert await _stored(gw, report.report_id) == (None, None)
    body = (await gw.client.get(url)).json()
    assert body["timeline"][-1]["agency_id"] == "dsda"
    await _until_stored(gw, report.report_id)

    # Any write to the row, by whoever makes it.
    await _sql(
        gw, "UPDATE reports SET category = 'drainase' WHERE report_id = $1", report.report_id
    )
    assert await _stored(gw, report.report_id) == (None, None)
    assert (await gw.client.get(url)).json()["category"] == "drainase"


async def test_a_hidden_report_vanishes_at_once_whatever_is_stored(gw: Gw) -> None:
    report = await _public_report(gw)
    url = f"/v1/public/reports/{report.report_id}"
    await gw.client.get(url)
    await _until_stored(gw, report.report_id)
    # Hidden by a write the trigger sees, and then the stored view put back by hand: the
    # conditions on the row decide, not what is stored.
    await _sql(gw, "UPDATE reports SET public_hidden = true WHERE report_id = $1", report.report_id)
    await _sql(
        gw,
        "UPDATE reports SET public_view = '{}', public_view_format = $2 WHERE report_id = $1",
        report.report_id,
        VIEW_FORMAT,
    )
    assert (await gw.client.get(url)).status_code == 404
    assert (await gw.client.get("/v1/public/reports?limit=100")).json()["items"] == []


async def test_a_view_of_another_format_or_row_version_is_never_answered(gw: Gw) -> None:
    report = await _public_report(gw)
    url = f"/v1/public/reports/{report.report_id}"
    # Another format (an older gateway's): built again, not answered.
    await _sql(
        gw,
        'UPDATE reports SET public_view = \'{"report_id": "old"}\', '
        "public_view_format = 'older' WHERE report_id = $1",
        report.report_id,
    )
    r = await gw.client.get(url)
    assert r.json()["report_id"] == str(report.report_id)
    await _until_stored(gw, report.report_id)

    # A view built from a row version that has changed since is not stored.
    await _sql(gw, "UPDATE reports SET category = 'jalan' WHERE report_id = $1", report.report_id)
    views = gw.app_state.public_views
    dsn = make_url(gw.settings.database_url).set(drivername="postgresql")
    conn = await asyncpg.connect(dsn.render_as_string(hide_password=False))
    try:
        stamp = await conn.fetchval(
            "SELECT xmin::text FROM reports WHERE report_id = $1", report.report_id
        )
        await conn.execute(
            "UPDATE reports SET category = 'drainase' WHERE report_id = $1", report.report_id
        )
    finally:
        await conn.close()
    # The guard itself, on the fill's statement: the old version's view is refused, the
    # current version's is stored.
    assert await views.fills.store({report.report_id: ('{"stale": true}', stamp)}) == 0
    assert await _stored(gw, report.report_id) == (None, None)
    assert (await gw.client.get(url)).json()["category"] == "drainase"
    current = await _until_stored(gw, report.report_id)
    await _sql(gw, "UPDATE reports SET public_view = NULL WHERE report_id = $1", report.report_id)
    row = await gw.row(report.report_id)
    async with gw.runtime.sessions() as session:
        fresh = await session.scalar(
            select(literal_column("xmin::text")).where(REPORTS.c.report_id == report.report_id)
        )
    assert row["public_view"] is None
    assert await views.fills.store({report.report_id: (current, fresh)}) == 1
    assert await _stored(gw, report.report_id) == (current, VIEW_FORMAT)


async def test_a_timeline_change_gives_the_row_a_new_version_once(gw: Gw) -> None:
    """The row's version is what a fill checks: a timeline change must give the report a
    new one even when its view is empty, but a row this transaction already wrote (the
    projector upserts the status just before adding the step) is not written again."""
    report = await _public_report(gw)
    # The read that showed the report stores its view (after the answer, so wait for it):
    # from here on nothing else writes the row but this test.
    await _until_stored(gw, report.report_id)
    dsn = make_url(gw.settings.database_url).set(drivername="postgresql")
    conn = await asyncpg.connect(dsn.render_as_string(hide_password=False))
    step = (
        "INSERT INTO timeline (report_id, version, status, actor_role, occurred_at, extra) "
        "VALUES ($1, $2, 'dispatched', 'system', now(), '{}')"
    )
    version = "SELECT xmin::text FROM reports WHERE report_id = $1"
    views = gw.app_state.public_views
    try:
        # A step joining the timeline of a row with a stored view: the view goes stale.
        read = await conn.fetchval(version, report.report_id)
        await conn.execute(step, report.report_id, 6)
        assert await _stored(gw, report.report_id) == (None, None)
        assert await views.fills.store({report.report_id: ('{"stale": true}', read)}) == 0

        # A step joining the timeline of a row with no stored view, the row untouched
        # otherwise: it still gets a new version, so a fill built before is refused.
        read = await conn.fetchval(version, report.report_id)
        await conn.execute(step, report.report_id, 7)
        assert await conn.fetchval(version, report.report_id) != read
        assert await views.fills.store({report.report_id: ('{"stale": true}', read)}) == 0
        assert await _stored(gw, report.report_id) == (None, None)

        # The row written first in the same transaction: one update of it, not two.
        # (The counter also holds earlier transactions' counts not yet reported, never
        # during one: its difference across the transaction is the transaction's.)
        count = "SELECT pg_stat_get_xact_tuples_updated('reports'::regclass)"
        async with conn.transaction():
            before = await conn.fetchval(count)
            await conn.execute(
                "UPDATE reports SET status = 'dispatched' WHERE report_id = $1", report.report_id
            )
            await conn.execute(step, report.report_id, 8)
            updated = await conn.fetchval(count) - before
        assert updated == 1
    finally:
        await conn.close()
    timeline = (await gw.client.get(f"/v1/public/reports/{report.report_id}")).json()["timeline"]
    assert len(timeline) == 4


# --- the citizens' reads answered directly (issue 18: aduan_kit.direct) -------------------


async def test_direct_public_reads_answer_as_fastapi_does(gw: Gw) -> None:
    """The two public routes answered before FastAPI's layers give, for every request,
    FastAPI's own answer (status, headers, bytes), and leave to it what they do not take."""
    shown = await _public_report(gw)
    private = _submitted(uuid4(), new_key(), Privacy.PRIVATE)
    await gw.send(REPORT_INTAKE.name, private, private.report_id)
    await gw.send(STATUS_CHANGED.name, _received(private), private.report_id)

    async def recorded() -> bool:
        row = await gw.row(private.report_id)
        return row is not None and row["status"] is not None

    await eventually(recorded, "the private report in the read model")
    sid, pid = str(shown.report_id), str(private.report_id)
    direct = gw.runtime.direct
    taken = [
        f"/v1/public/reports/{sid}",
        f"/v1/public/reports/{sid.upper()}",
        f"/v1/public/reports/{sid}?foo=1",  # a parameter the route has not: ignored by both
        f"/v1/public/reports/{pid}",  # private: 404 as unknown
        f"/v1/public/reports/{uuid4()}",
        "/v1/public/reports",
        "/v1/public/reports?limit=1",
        "/v1/public/reports?limit=100&offset=0",
        "/v1/public/reports?offset=1",
        "/v1/public/reports?limit=007",
    ]
    declined = [
        f"/v1/public/reports/{sid.replace('-', '')}",  # another spelling: FastAPI's to parse
        "/v1/public/reports/not-a-uuid",
        "/v1/public/reports?limit=0",
        "/v1/public/reports?limit=101",
        "/v1/public/reports?limit=",
        "/v1/public/reports?limit=%C2%B2",  # a digit to str.isdigit, not to FastAPI
        "/v1/public/reports?limit=-1",
        "/v1/public/reports?offset=100001",
        "/v1/public/reports?limit=5&limit=6",
        "/v1/public/reports?limit=5&category=jalan",
        "/v1/public/reports?status=received",
        "/v1/public/reports?foo=1",
    ]
    for path in taken + declined:
        before = direct.answered
        fast = await gw.client.get(path)
        took = direct.answered - before
        direct.enabled = False
        try:
            slow = await gw.client.get(path)
        finally:
            direct.enabled = True
        assert took == (1 if path in taken else 0), path
        assert (fast.status_code, fast.content) == (slow.status_code, slow.content), path
        headers = [(k, v) for k, v in fast.headers.items() if k != "x-correlation-id"]
        assert headers == [(k, v) for k, v in slow.headers.items() if k != "x-correlation-id"]
        assert fast.headers["x-correlation-id"], path
    # What the public sees, whichever path answered.
    assert (await gw.client.get(f"/v1/public/reports/{pid}")).status_code == 404
    items = (await gw.client.get("/v1/public/reports?limit=100")).json()["items"]
    assert [i["report_id"] for i in items] == [sid]
    assert (await gw.client.get("/v1/public/reports?limit=0")).status_code == 422
    # The correlation id a caller gives is echoed, as on every route.
    r = await gw.client.get(f"/v1/public/reports/{sid}", headers={"X-Correlation-ID": "abc-1"})
    assert r.headers["x-correlation-id"] == "abc-1"


# --- the public cache (issue 18: adapters/reportcache.py, migration 0023) -----------------


async def test_public_reads_come_from_memory_until_the_report_changes(gw: Gw) -> None:
    report = await _public_report(gw)
    url = f"/v1/public/reports/{report.report_id}"
    await gw.client.get(url)
    await _until_stored(gw, report.report_id)
    cache = gw.app_state.report_cache
    heard = cache.notices
    first = await gw.client.get(url)
    hits = cache.hits
    again = await gw.client.get(url)
    assert cache.hits == hits + 1 and again.content == first.content
    # Storing the view (a fill) changed nothing the public sees and announced nothing.
    assert cache.notices == heard

    # Changed by anyone (here by hand): the notice evicts it, the next read answers it.
    await _sql(
        gw, "UPDATE reports SET category = 'drainase' WHERE report_id = $1", report.report_id
    )
    changed = await gw.client.get(url)
    assert changed.json()["category"] == "drainase"
    assert (await gw.client.get(url)).content == changed.content  # and kept again
    await _sql(gw, "UPDATE reports SET public_hidden = true WHERE report_id = $1", report.report_id)
    assert (await gw.client.get(url)).status_code == 404
    await _sql(
        gw, "UPDATE reports SET public_hidden = false WHERE report_id = $1", report.report_id
    )
    assert (await gw.client.get(url)).status_code == 200
    # A timeline row changed alone (its trigger writes the report row, which announces it).
    await _sql(
        gw,
        "UPDATE timeline SET status = 'dispatched' WHERE report_id = $1 AND version = 1",
        report.report_id,
    )
    assert (await gw.client.get(url)).json()["timeline"][0]["status"] == "dispatched"

    # "Not public" is kept too: an unknown id asked twice is one database read.
    unknown = f"/v1/public/reports/{uuid4()}"
    assert (await gw.client.get(unknown)).status_code == 404
    hits = cache.hits
    assert (await gw.client.get(unknown)).status_code == 404
    assert cache.hits == hits + 1


async def test_the_citizens_list_follows_new_and_hidden_reports(gw: Gw) -> None:
    cache = gw.app_state.report_cache
    first = await _public_report(gw)
    page = await gw.client.get("/v1/public/reports?limit=100")
    assert [i["report_id"] for i in page.json()["items"]] == [str(first.report_id)]
    hits = cache.hits
    assert (await gw.client.get("/v1/public/reports?limit=100")).content == page.content
    assert cache.hits == hits + 1

    # A new public report through the projector (this process's own write).
    second = await _public_report(gw)
    listed = (await gw.client.get("/v1/public/reports?limit=100")).json()["items"]
    assert {i["report_id"] for i in listed} == {str(first.report_id), str(second.report_id)}
    # Hidden by hand: gone from the list at its notice.
    await _sql(gw, "UPDATE reports SET public_hidden = true WHERE report_id = $1", first.report_id)
    listed = (await gw.client.get("/v1/public/reports?limit=100")).json()["items"]
    assert [i["report_id"] for i in listed] == [str(second.report_id)]


async def test_moderation_is_seen_by_its_own_process_at_once(gw: Gw) -> None:
    report = await _public_report(gw)
    url = f"/v1/public/reports/{report.report_id}"
    await gw.client.get(url)
    await gw.client.get(url)
    token = issue_access_token(gw.settings.jwt_secret, "ta-1", Role.TICKET_ADMIN, ttl_s=600)
    hidden = await gw.client.post(
        f"/v1/reports/{report.report_id}/moderation",
        json={"hidden": True},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert hidden.status_code == 200, hidden.text
    # No wait for the notice: the process that hid it evicted it after its commit.
    assert (await gw.client.get(url)).status_code == 404
    assert (await gw.client.get("/v1/public/reports?limit=100")).json()["items"] == []


async def test_no_answer_from_memory_while_the_notices_are_away(gw: Gw) -> None:
    report = await _public_report(gw)
    url = f"/v1/public/reports/{report.report_id}"
    await gw.client.get(url)
    await gw.client.get(url)
    cache = gw.app_state.report_cache
    assert cache.public(report.report_id) is not MISS
    # The notices' connection ended from the database's side (a restart ends it too).
    database = make_url(gw.settings.database_url).database
    ended = await _exec(
        gw,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE application_name = 'aduan-gateway-report-cache' AND datname = $1",
        database,
    )
    assert [r[0] for r in ended] == [True]

    async def stopped() -> bool:
        return not cache.live

    await eventually(stopped, "the cache stopped", every=0.01)
    # A change whose notice nobody may hear: the next read answers it all the same (from
    # the database while not listening, from an emptied memory once listening again).
    await _exec(
        gw, "UPDATE reports SET category = 'drainase' WHERE report_id = $1", report.report_id
    )
    assert (await gw.client.get(url)).json()["category"] == "drainase"
    assert await cache.wait_listening(10)
    assert (await gw.client.get(url)).json()["category"] == "drainase"
    hits = cache.hits
    assert (await gw.client.get(url)).json()["category"] == "drainase"
    assert cache.hits == hits + 1
