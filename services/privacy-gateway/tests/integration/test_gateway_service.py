"""The gateway on real Kafka, PostgreSQL and Redis: events in, redacted reads and the public
projection out, officer reads audited."""

from __future__ import annotations

import asyncio
import base64
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, TypeVar
from uuid import UUID, uuid4

import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pydantic import BaseModel
from sqlalchemy import func, select

from aduan_contracts.commands import DispatchReport
from aduan_contracts.enums import Channel, Privacy, ReportStatus, Role
from aduan_contracts.events import (
    PublicReportPublished,
    PublicReportWithdrawn,
    ReporterKeyIssued,
    ReportStatusChanged,
    ReportSubmitted,
)
from aduan_contracts.serialization import decode, encode
from aduan_contracts.topics import (
    COMMAND_REPLIES,
    PUBLIC_REPORTS,
    REPORT_INTAKE,
    REPORTER_KEYS,
    STATUS_CHANGED,
    WORKFLOW_COMMANDS,
)
from aduan_contracts.values import Actor, GeoPoint, Location
from aduan_gateway.adapters.tables import ACCESS_LOG, OUTBOX, REPORTS
from aduan_gateway.adapters.tables import REPORTER_KEYS as GW_KEYS
from aduan_gateway.auth import issue_access_token
from aduan_gateway.bootstrap import build
from aduan_gateway.config import Settings
from aduan_gateway.domain.audit import AccessEntry, chain_hash
from aduan_gateway.domain.projection import public_id_of
from aduan_gateway.domain.redaction import PUBLIC_LABEL, pseudonym
from aduan_kit.crypto import new_key, seal_identity
from aduan_kit.runtime import ServiceRuntime
from aduan_testing.plugin import Isolation

pytestmark = pytest.mark.integration

T = TypeVar("T")
PHONE = "0812-3456-7890"
RECEIVED = datetime(2024, 5, 17, 9, 31, 12, tzinfo=UTC)
SYSTEM = Actor(id="workflow", role=Role.SYSTEM)


class Gateway:
    def __init__(
        self,
        iso: Isolation,
        runtime: ServiceRuntime,
        client: httpx.AsyncClient,
        producer: AIOKafkaProducer,
        settings: Settings,
    ) -> None:
        self.iso, self.runtime, self.client = iso, runtime, client
        self.producer, self.settings = producer, settings

    async def send(self, topic: str, event: BaseModel, key: UUID) -> None:
        # Like the outbox relay: JSON bytes, keyed by report id, no content-type header.
        await self.producer.send_and_wait(
            f"{self.iso.namespace}.{topic}", encode(event), key=str(key).encode()
        )

    def token(self, role: Role, agency: str | None = None, ttl_s: int = 900) -> dict[str, str]:
        token = issue_access_token(
            self.settings.jwt_secret,
            f"{role.value}-1",
            role,
            agency_id=agency,
            name="Petugas Uji",
            ttl_s=ttl_s,
        )
        return {"Authorization": f"Bearer {token}"}

    async def row(self, report_id: UUID) -> Any:
        async with self.runtime.sessions() as session:
            return (
                (await session.execute(select(REPORTS).where(REPORTS.c.report_id == report_id)))
                .mappings()
                .first()
            )


async def eventually(check: Callable[[], Awaitable[T | None]], timeout: float = 30.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


@pytest_asyncio.fixture
async def gateway(isolated: Isolation) -> AsyncIterator[Gateway]:
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
            yield Gateway(isolated, runtime, client, producer, settings)
    finally:
        await producer.stop()
        await app.state.gateway.stop()


KEYS: dict[UUID, bytes] = {}


def _key(key_id: UUID) -> bytes:
    return KEYS.setdefault(key_id, new_key())


async def issue_key(gw: Gateway, report: ReportSubmitted) -> None:
    """As intake does: the reporter's key on the keys topic, stored before the report
    (so the projection below happens once, at the report's arrival)."""
    assert report.reporter is not None
    key_id = report.reporter.key_id
    event = ReporterKeyIssued(key_id=key_id, key=base64.b64encode(_key(key_id)).decode())
    await gw.send(REPORTER_KEYS.name, event, key_id)

    async def stored() -> bool:
        async with gw.runtime.sessions() as session:
            return (
                await session.scalar(select(GW_KEYS.c.key).where(GW_KEYS.c.key_id == key_id))
                is not None
            )

    await eventually(stored)


def submitted(privacy: Privacy, text: str, key_id: UUID) -> ReportSubmitted:
    return ReportSubmitted(
        report_id=uuid4(),
        receipt_code="ADU-AB12-CD34",
        channel=Channel.WHATSAPP,
        channel_message_id=f"wamid.{uuid4().hex}",
        text=text,
        title="Jalan berlubang",
        category_hint="jalan",
        location=Location(
            point=GeoPoint(lat=-6.1951, lon=106.8231),
            address="Jl. Melati No. 5",
            area="Menteng",
            area_code=MENTENG,  # Kelurahan Menteng, as intake resolves it
            area_how="name",
            area_confidence=0.7,
        ),
        privacy=privacy,
        received_at=RECEIVED,
        reporter=seal_identity(
            {"name": "Budi Santoso", "phone": "081234567890"}, key_id, _key(key_id)
        ),
    )


def status(
    report: ReportSubmitted, version: int, to: ReportStatus, agency: str | None = None
) -> ReportStatusChanged:
    return ReportStatusChanged(
        report_id=report.report_id,
        receipt_code=report.receipt_code,
        channel=report.channel,
        version=version,
        from_status=None if version == 1 else ReportStatus.RECEIVED,
        to_status=to,
        actor=SYSTEM
        if version == 1
        else Actor(id="adm-1", role=Role.TICKET_ADMIN, display_name="Admin Ani"),
        agency_id=agency,
        category="jalan-rusak" if agency else None,
        reason="spam" if to is ReportStatus.REJECTED else None,
    )


async def public_topic_events(gw: Gateway) -> list[PublicReportPublished | PublicReportWithdrawn]:
    """Everything on the public-reports topic so far (after the outbox has drained)."""

    async def drained() -> bool:
        async with gw.runtime.sessions() as session:
            return (await session.scalar(select(func.count()).select_from(OUTBOX))) == 0

    await eventually(drained)
    topic = f"{gw.iso.namespace}.{PUBLIC_REPORTS.name}"
    consumer = AIOKafkaConsumer(
        bootstrap_servers=gw.iso.kafka,
        group_id=None,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        partitions = [
            TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        if not partitions:
            await consumer._client.force_metadata_update()
            partitions = [
                TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
            ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        events: list[PublicReportPublished | PublicReportWithdrawn] = []

        async def behind() -> bool:
            for tp in partitions:
                if await consumer.position(tp) < end[tp]:
                    return True
            return False

        while await behind():
            batch = await consumer.getmany(timeout_ms=1000)
            for records in batch.values():
                for rec in records:
                    event = decode(PUBLIC_REPORTS, rec.value)
                    assert rec.key == str(event.report_id).encode()
                    events.append(event)
        return events
    finally:
        await consumer.stop()


MENTENG = "31.71.06.1001"


async def test_public_and_private_reports_through_the_gateway(gateway: Gateway) -> None:
    gw = gateway
    key_id = uuid4()
    public = submitted(Privacy.PUBLIC, f"Lubang besar. Hubungi saya {PHONE}.", key_id)
    private = submitted(Privacy.PRIVATE, f"Tetangga saya, telp {PHONE}", uuid4())
    for report in (public, private):
        await issue_key(gw, report)
        await gw.send(REPORT_INTAKE.name, report, report.report_id)
        await gw.send(
            STATUS_CHANGED.name, status(report, 1, ReportStatus.RECEIVED), report.report_id
        )

    async def public_ready() -> httpx.Response | None:
        r = await gw.client.get(f"/v1/public/reports/{public.report_id}")
        return r if r.status_code == 200 else None

    body = (await eventually(public_ready)).json()
    assert PHONE not in body["text"]
    assert "[disembunyikan]" in body["text"]
    assert body["month"] == "2024-05"
    assert "09:31" not in str(body)
    assert "Jl. Melati" not in str(body)
    assert "-6.1951" not in str(body)
    # The official name of the area intake resolved, not the words typed in the field.
    assert body["area"] == "Menteng, Kec. Menteng, Kota Jakarta Pusat"
    assert body["confidentiality_label"] == PUBLIC_LABEL
    assert body["status"] == "received"
    assert body["status_label"] == "Menunggu"
    assert [t["month"] for t in body["timeline"]] == [body["timeline"][0]["month"]]

    async def private_stored() -> bool:
        row = await gw.row(private.report_id)
        return row is not None and row["has_content"] and row["status"] == "received"

    await eventually(private_stored)
    missing = await gw.client.get(f"/v1/public/reports/{private.report_id}")
    unknown = await gw.client.get(f"/v1/public/reports/{uuid4()}")
    assert missing.status_code == unknown.status_code == 404
    assert missing.json() == unknown.json() == {"detail": "report not found"}

    listed = (await gw.client.get("/v1/public/reports?limit=10")).json()
    assert [i["report_id"] for i in listed["items"]] == [str(public.report_id)]
    # By area: a code matches the area and everything inside it; the words still work.
    for area, found in (
        ("31.71", [str(public.report_id)]),  # Kota Jakarta Pusat
        ("31.71.06", [str(public.report_id)]),  # Kecamatan Menteng
        (MENTENG, [str(public.report_id)]),
        ("31.72", []),  # Jakarta Utara
        ("31.71.0", None),  # not a code: matched as a name, nothing has it
        ("Menteng", [str(public.report_id)]),
    ):
        r = await gw.client.get("/v1/public/reports", params={"area": area})
        assert [i["report_id"] for i in r.json()["items"]] == (found or []), area

    # Officers.
    no_token = await gw.client.get(f"/v1/reports/{private.report_id}")
    assert no_token.status_code == 401
    assert no_token.json()["detail"] == "missing bearer token"
    expired = await gw.client.get(
        f"/v1/reports/{private.report_id}", headers=gw.token(Role.VALIDATOR, ttl_s=-5)
    )
    assert expired.status_code == 401
    assert expired.json()["detail"] == "token expired"

    seen = await gw.client.get(f"/v1/reports/{private.report_id}", headers=gw.token(Role.VALIDATOR))
    assert seen.status_code == 200
    view = seen.json()
    assert datetime.fromisoformat(view["received_at"]) == RECEIVED
    assert view["location"]["point"] == {"lat": -6.1951, "lon": 106.8231}
    assert view["reporter"] == pseudonym(gw.settings.pseudonym_secret, str(private.reporter.key_id))  # type: ignore[union-attr]
    assert view["confidentiality_label"] == "Privat"
    raw = seen.text
    assert "Budi" not in raw
    assert "081234567890" not in raw
    assert private.reporter.ciphertext not in raw  # type: ignore[union-attr]

    async with gw.runtime.sessions() as session:
        log_rows = (await session.execute(select(ACCESS_LOG))).mappings().all()
    assert len(log_rows) == 1
    entry = log_rows[0]
    assert entry["subject"] == "validator-1"
    assert entry["role"] == "validator"
    assert entry["report_id"] == private.report_id
    assert "received_at" in entry["fields"]
    assert "location.point" in entry["fields"]
    assert entry["prev_hash"] is None
    assert entry["hash"] == chain_hash(
        None,
        AccessEntry(
            entry["at"],
            entry["subject"],
            entry["role"],
            entry["agency_id"],
            entry["report_id"],
            tuple(entry["fields"]),
        ),
    )

    # The public projection: the public report once, nothing for the private one.
    events = await public_topic_events(gw)
    assert [e.report_id for e in events] == [public.report_id]
    published = events[0]
    assert isinstance(published, PublicReportPublished)
    assert PHONE not in published.text
    assert published.month == "2024-05"
    assert published.status_label == "Menunggu"
    assert published.confidentiality_label == PUBLIC_LABEL
    assert published.public_id == public_id_of(public.report_id)


async def test_status_before_submission_ends_consistent(gateway: Gateway) -> None:
    gw = gateway
    report = submitted(Privacy.PUBLIC, f"Sampah menumpuk, WA {PHONE}", uuid4())
    await gw.send(STATUS_CHANGED.name, status(report, 1, ReportStatus.RECEIVED), report.report_id)
    await gw.send(
        STATUS_CHANGED.name, status(report, 2, ReportStatus.DISPATCHED, "dlh"), report.report_id
    )

    async def status_only() -> bool:
        row = await gw.row(report.report_id)
        return row is not None and row["status_version"] == 2 and not row["has_content"]

    await eventually(status_only)
    partial = await gw.client.get(f"/v1/public/reports/{report.report_id}")
    assert partial.status_code == 404  # not complete yet: nothing leaves
    await issue_key(gw, report)
    await gw.send(REPORT_INTAKE.name, report, report.report_id)

    async def ready() -> httpx.Response | None:
        r = await gw.client.get(f"/v1/public/reports/{report.report_id}")
        return r if r.status_code == 200 else None

    body = (await eventually(ready)).json()
    assert body["status"] == "dispatched"
    assert body["agency_id"] == "dlh"
    assert body["category"] == "jalan-rusak"
    assert [t["status"] for t in body["timeline"]] == ["received", "dispatched"]
    assert PHONE not in body["text"]

    # Agency officers: their own agency sees a coarse view, another agency gets a 404.
    own = await gw.client.get(
        f"/v1/reports/{report.report_id}", headers=gw.token(Role.AGENCY_OFFICER, "dlh")
    )
    assert own.status_code == 200
    assert own.json()["access"] == "agency"
    assert "received_at" not in own.json()
    # SPEC Revision 2: the assigned agency sees where the problem is (not when it came).
    assert own.json()["location"]["area"] == "Menteng"
    assert own.json()["area"] == "Menteng, Kec. Menteng, Kota Jakarta Pusat"
    other = await gw.client.get(
        f"/v1/reports/{report.report_id}", headers=gw.token(Role.AGENCY_OFFICER, "dbm")
    )
    assert other.status_code == 404
    assert other.json() == {"detail": "report not found"}
    public_role = await gw.client.get(
        f"/v1/reports/{report.report_id}", headers=gw.token(Role.PUBLIC)
    )
    assert public_role.status_code == 403

    # Rejected as spam: withdrawn from the public surface.
    await gw.send(
        STATUS_CHANGED.name, status(report, 3, ReportStatus.REJECTED, "dlh"), report.report_id
    )

    async def gone() -> bool:
        r = await gw.client.get(f"/v1/public/reports/{report.report_id}")
        return r.status_code == 404

    await eventually(gone)
    events = await public_topic_events(gw)
    assert [type(e).__name__ for e in events] == ["PublicReportPublished", "PublicReportWithdrawn"]
    first = events[0]
    assert isinstance(first, PublicReportPublished)
    assert first.status is ReportStatus.DISPATCHED
    assert [t.status for t in first.timeline] == [ReportStatus.RECEIVED, ReportStatus.DISPATCHED]

    async with gw.runtime.sessions() as session:
        chain = (
            await session.execute(
                select(ACCESS_LOG.c.prev_hash, ACCESS_LOG.c.hash).order_by(ACCESS_LOG.c.id)
            )
        ).all()
    assert len(chain) == 1  # only the successful officer read is a read


async def test_action_without_an_answer_is_a_504_and_the_command_is_on_the_wire(
    isolated: Isolation,
) -> None:
    """No workflow is running here: the caller gets a 504 with a reason, and the command
    left on the commands topic keyed by report id, with `reply_to` and the token's actor."""
    settings = Settings(
        kafka_bootstrap_servers=isolated.kafka,
        database_url=isolated.database("gateway"),
        redis_url=isolated.redis_url,
        redis_prefix=isolated.redis_prefix,
        topic_namespace=isolated.namespace,
        environment="test",
        command_timeout_s=1.5,
    )
    app, runtime = build(settings)
    async with app.router.lifespan_context(app):
        producer = AIOKafkaProducer(bootstrap_servers=isolated.kafka)
        await producer.start()
        try:
            gw = Gateway(
                isolated,
                runtime,
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://gw"),
                producer,
                settings,
            )
            report = submitted(Privacy.PRIVATE, "Jalan rusak parah", uuid4())
            await gw.send(REPORT_INTAKE.name, report, report.report_id)
            await gw.send(
                STATUS_CHANGED.name, status(report, 1, ReportStatus.RECEIVED), report.report_id
            )

            async def stored() -> bool:
                row = await gw.row(report.report_id)
                return row is not None and row["has_content"] and row["status"] == "received"

            await eventually(stored)
            # A category the dispatch sets must take new reports: unknown or retired ones
            # are refused by the gateway, before anything goes to workflow.
            admin = gw.token(Role.ADMINISTRATOR)
            r = await gw.client.put(
                "/v1/admin/categories/pohon",
                json={"name_id": "Pohon tumbang", "name_en": "Fallen tree", "agency_id": None},
                headers=admin,
            )
            assert r.status_code == 200, r.text
            r = await gw.client.delete("/v1/admin/categories/pohon", headers=admin)
            assert r.status_code == 204
            for code, why in (("pohon", "retired"), ("no-such", "not an active category")):
                r = await gw.client.post(
                    f"/v1/reports/{report.report_id}/dispatch",
                    json={"agency_id": "dbm", "category": code},
                    headers=gw.token(Role.TICKET_ADMIN),
                )
                assert r.status_code == 422 and why in r.json()["detail"], r.text
            r = await gw.client.post(
                f"/v1/reports/{report.report_id}/dispatch",
                json={"agency_id": "dbm", "note": "jalan kota"},
                headers=gw.token(Role.TICKET_ADMIN),
            )
            assert r.status_code == 504
            assert "may still be applied" in r.json()["detail"]
        finally:
            await producer.stop()

        topic = f"{isolated.namespace}.{WORKFLOW_COMMANDS.name}"
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=isolated.kafka,
            group_id=None,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            record = await asyncio.wait_for(consumer.getone(), timeout=20)
        finally:
            await consumer.stop()
    assert record.key == str(report.report_id).encode()
    headers = dict(record.headers)
    assert headers["reply_to"] == f"{isolated.namespace}.{COMMAND_REPLIES.name}".encode()
    command = decode(WORKFLOW_COMMANDS, record.value)
    assert isinstance(command, DispatchReport)
    assert command.agency_id == "dbm"
    assert command.actor == Actor(
        id="ticket-admin-1", role=Role.TICKET_ADMIN, display_name="Petugas Uji"
    )


async def test_officers_find_a_report_by_the_receipt_code_a_citizen_reads_out(
    gateway: Gateway,
) -> None:
    gw = gateway
    wanted = submitted(Privacy.PRIVATE, "Lampu jalan mati.", uuid4()).model_copy(
        update={"receipt_code": "ADU-7K2M-9X10"}
    )
    other = submitted(Privacy.PRIVATE, "Saluran mampet.", uuid4()).model_copy(
        update={"receipt_code": "ADU-7K2M-9X11"}
    )
    for report in (wanted, other):
        await issue_key(gw, report)
        await gw.send(REPORT_INTAKE.name, report, report.report_id)
        await gw.send(
            STATUS_CHANGED.name,
            status(report, 1, ReportStatus.RECEIVED, "dinas-bina-marga"),
            report.report_id,
        )

    async def stored() -> bool:
        rows = [await gw.row(r.report_id) for r in (wanted, other)]
        return all(r is not None and r["status"] == "received" for r in rows)

    await eventually(stored)
    # Read aloud: lower case, spaces, "o" for zero.
    for role in (Role.TICKET_ADMIN, Role.VALIDATOR, Role.ADMINISTRATOR):
        r = await gw.client.get(
            "/v1/reports", params={"receipt_code": "adu 7k2m 9x1o"}, headers=gw.token(role)
        )
        assert r.status_code == 200, r.text
        assert [i["report_id"] for i in r.json()["items"]] == [str(wanted.report_id)]
    unknown = await gw.client.get(
        "/v1/reports",
        params={"receipt_code": "ADU-0000-0000"},
        headers=gw.token(Role.TICKET_ADMIN),
    )
    assert unknown.status_code == 200 and unknown.json()["items"] == []
    bad = await gw.client.get(
        "/v1/reports", params={"receipt_code": "ADU-12"}, headers=gw.token(Role.TICKET_ADMIN)
    )
    assert bad.status_code == 422
    assert "not a receipt code" in bad.json()["detail"]
    # The agency's own officer never sees receipt codes, so may not look reports up by one.
    agency = await gw.client.get(
        "/v1/reports",
        params={"receipt_code": "ADU-7K2M-9X10"},
        headers=gw.token(Role.AGENCY_OFFICER, "dinas-bina-marga"),
    )
    assert agency.status_code == 403
    assert "receipt code" in agency.json()["detail"]
    # The citizen's own tracking forgives the same typing.
    tracked = await gw.client.get("/v1/public/track/adu-7k2m-9x1o")
    assert tracked.status_code == 200
    assert tracked.json()["receipt_code"] == "ADU-7K2M-9X10"
