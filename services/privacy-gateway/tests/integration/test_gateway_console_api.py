"""The gateway API the portal and the officer console use, on real Kafka, PostgreSQL and
Redis: track by receipt code, SLA badges, the coarse public point, suggested duplicates,
administrators' lists, deactivation, the category catalogue (routed into workflow) and the
demo-seed command."""

from __future__ import annotations

import asyncio
import os
import random
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar
from uuid import UUID, uuid4

import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pydantic import BaseModel
from sqlalchemy import func, select

from aduan_contracts.enums import Channel, Privacy, ReportStatus, Role, SlaStage
from aduan_contracts.events import (
    PublicReportPublished,
    ReportAmended,
    ReportStatusChanged,
    ReportSubmitted,
    SlaBreached,
    SlaReminderDue,
)
from aduan_contracts.serialization import decode, encode
from aduan_contracts.topics import (
    PUBLIC_REPORTS,
    REPORT_INTAKE,
    REPORTER_QUESTIONS,
    SLA_EVENTS,
    STATUS_CHANGED,
)
from aduan_contracts.values import Actor, GeoPoint, Location, SealedIdentity
from aduan_gateway.adapters.identity import create_agency, create_user, set_active
from aduan_gateway.adapters.tables import (
    ACCESS_LOG,
    AGENCIES,
    CATEGORIES,
    ESCALATIONS,
    OUTBOX,
    REPORTS,
    USERS,
)
from aduan_gateway.auth import issue_access_token
from aduan_gateway.bootstrap import build
from aduan_gateway.cli import main as cli_main
from aduan_gateway.config import Settings
from aduan_gateway.demo import DEMO_PASSWORD, SEED_ALLOWED_ENV
from aduan_gateway.domain.projection import public_id_of
from aduan_kit.crypto import new_key, seal_identity
from aduan_kit.db import transaction
from aduan_kit.runtime import ServiceRuntime
from aduan_testing.plugin import Isolation
from aduan_workflow.bootstrap import build as build_workflow
from aduan_workflow.cli import area_routing_list, routing_list
from aduan_workflow.config import Settings as WorkflowSettings

pytestmark = pytest.mark.integration

T = TypeVar("T")
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
RECEIVED = datetime.now(UTC).replace(microsecond=0) - timedelta(days=2, hours=3, minutes=17)
TRACK_LIMIT = 6
SYSTEM = Actor(id="workflow", role=Role.SYSTEM)
ADMIN = Actor(id="adm-1", role=Role.TICKET_ADMIN, display_name="Admin Ani Rahasia")
PASSWORD = "officer-test-password-1"
MONAS = GeoPoint(lat=-6.175392, lon=106.827153)


def receipt() -> str:
    part = lambda: "".join(random.choice(CROCKFORD) for _ in range(4))  # noqa: E731
    return f"ADU-{part()}-{part()}"


async def eventually(check: Callable[[], Awaitable[T | None]], timeout: float = 30.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.1)


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
        await self.producer.send_and_wait(
            f"{self.iso.namespace}.{topic}", encode(event), key=str(key).encode()
        )

    def token(
        self, role: Role, agency: str | None = None, sub: str | None = None, head: bool = False
    ) -> Any:
        token = issue_access_token(
            self.settings.jwt_secret,
            sub or f"{role.value}-1",
            role,
            agency_id=agency,
            name="Petugas Uji",
            reporter_key_id=uuid4() if role is Role.REPORTER else None,
            unit_head=head,
        )
        return {"Authorization": f"Bearer {token}"}

    async def report(
        self,
        *,
        privacy: Privacy = Privacy.PUBLIC,
        category: str = "jalan-rusak",
        point: GeoPoint | None = MONAS,
        received: datetime = RECEIVED,
        steps: tuple[tuple[ReportStatus, str | None, datetime | None], ...] = (
            (ReportStatus.RECEIVED, None, None),
        ),
        title: str = "Jalan berlubang",
        text: str = "Lubang besar di depan sekolah.",
        reporter: SealedIdentity | None = None,
        area_code: str | None = None,
    ) -> ReportSubmitted:
        """A report as intake and workflow would announce it; waits until it is stored."""
        event = ReportSubmitted(
            report_id=uuid4(),
            receipt_code=receipt(),
            channel=Channel.WEB,
            channel_message_id=f"web.{uuid4().hex}",
            text=text,
            title=title,
            category_hint=category,
            location=Location(
                point=point, address="Jl. Kenanga No. 9", area="Gambir", area_code=area_code
            )
            if point is not None
            else Location(area="Gambir", area_code=area_code),
            privacy=privacy,
            received_at=received,
            reporter=reporter,
        )
        await self.send(REPORT_INTAKE.name, event, event.report_id)
        for version, (to, agency, due) in enumerate(steps, start=1):
            change = ReportStatusChanged(
                report_id=event.report_id,
                receipt_code=event.receipt_code,
                channel=event.channel,
                version=version,
                from_status=None if version == 1 else steps[version - 2][0],
                to_status=to,
                actor=SYSTEM if version == 1 else ADMIN,
                category=category,
                agency_id=agency,
                occurred_at=received + timedelta(hours=version, minutes=7),
                sla_stage=SlaStage.DISPATCH if due is not None else None,
                due_at=due,
            )
            await self.send(STATUS_CHANGED.name, change, event.report_id)

        async def stored() -> bool:
            async with self.runtime.sessions() as session:
                row = (
                    await session.execute(
                        select(REPORTS.c.has_content, REPORTS.c.status_version).where(
                            REPORTS.c.report_id == event.report_id
                        )
                    )
                ).first()
            return row is not None and row.has_content and row.status_version == len(steps)

        await eventually(stored)
        return event


@pytest_asyncio.fixture
async def gateway(isolated: Isolation) -> AsyncIterator[Gateway]:
    settings = Settings(
        kafka_bootstrap_servers=isolated.kafka,
        database_url=isolated.database("gateway"),
        redis_url=isolated.redis_url,
        redis_prefix=isolated.redis_prefix,
        topic_namespace=isolated.namespace,
        environment="test",
        track_per_minute=TRACK_LIMIT,
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


# --- track, SLA, coarse point ------------------------------------------------------------------


async def test_track_sla_badges_and_coarse_point(gateway: Gateway) -> None:
    gw = gateway
    soon = datetime.now(UTC) + timedelta(hours=10)
    public = await gw.report(
        steps=(
            (ReportStatus.RECEIVED, None, datetime.now(UTC) - timedelta(days=1)),
            (ReportStatus.DISPATCHED, "dbm", soon),
        )
    )
    late = datetime.now(UTC) - timedelta(hours=2)
    private = await gw.report(
        privacy=Privacy.PRIVATE,
        title="Pungli oleh oknum Pak Darmawan",
        text="Saya dimintai uang di kantor kelurahan Gambir, nomor saya 0812-9999-1111.",
        steps=((ReportStatus.RECEIVED, None, None), (ReportStatus.DISPATCHED, "dbm", late)),
    )

    # Track: a private report tells status and months only.
    r = await gw.client.get(f"/v1/public/track/{private.receipt_code}")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["receipt_code"] == private.receipt_code
    assert (body["status"], body["status_label"], body["status_label_en"]) == (
        "dispatched",
        "Disposisi",
        "Dispatched",
    )
    assert body["month"] == RECEIVED.strftime("%Y-%m")
    assert body["public_id"] is None
    assert [(s["status"], s["month"]) for s in body["timeline"]] == [
        ("received", RECEIVED.strftime("%Y-%m")),
        ("dispatched", (RECEIVED + timedelta(hours=2, minutes=7)).strftime("%Y-%m")),
    ]
    raw = r.text
    for secret in ("Pungli", "Darmawan", "uang", "0812", "Gambir", "Kenanga", "Ani", "dbm"):
        assert secret not in raw, secret
    # No exact time anywhere: neither the receipt's day-time nor any ISO timestamp.
    assert RECEIVED.strftime("%Y-%m-%d") not in raw
    assert not re.search(r"\d{2}:\d{2}|\d{4}-\d{2}-\d{2}", raw)
    assert set(body) == {
        "receipt_code",
        "status",
        "status_label",
        "status_label_en",
        "month",
        "public_id",
        "timeline",
        "open_questions",  # how many officers' questions wait; never their text
    }
    assert body["open_questions"] == 0
    assert set(body["timeline"][0]) == {"status", "label", "month"}

    # Lower-case input works; the public report links to its public page.
    r = await gw.client.get(f"/v1/public/track/{public.receipt_code.lower()}")
    assert r.status_code == 200
    assert r.json()["public_id"] == public_id_of(public.report_id)

    r = await gw.client.get("/v1/public/track/ADU-0000-0000")
    assert r.status_code == 404
    assert r.json() == {"detail": "no report with that receipt code"}

    # SLA fields on officer lists and views: administrators see every stage's deadline,
    # a validator only the validation stage's (issue 13, hole 3), so not this dispatch one.
    r = await gw.client.get("/v1/reports", headers=gw.token(Role.VALIDATOR))
    assert r.status_code == 200
    assert all(i["due_at"] is None for i in r.json()["items"])
    r = await gw.client.get("/v1/reports", headers=gw.token(Role.ADMINISTRATOR))
    assert r.status_code == 200
    items = {i["report_id"]: i for i in r.json()["items"]}
    assert items[str(public.report_id)]["sla_badge"] == "due_soon"
    assert items[str(public.report_id)]["sla_stage"] == "dispatch"
    assert datetime.fromisoformat(items[str(public.report_id)]["due_at"]) == soon
    assert items[str(private.report_id)]["sla_badge"] == "overdue"
    r = await gw.client.get(
        f"/v1/reports/{private.report_id}", headers=gw.token(Role.AGENCY_OFFICER, "dbm")
    )
    assert r.status_code == 200
    assert (r.json()["access"], r.json()["sla_badge"]) == ("agency", "overdue")

    # The public view and the public event carry the point only on the 0.01 degree grid.
    r = await gw.client.get(f"/v1/public/reports/{public.report_id}")
    assert r.json()["coarse_point"] == {"lat": -6.18, "lon": 106.83}
    assert "106.827" not in r.text and "-6.175" not in r.text
    published = await last_public_event(gw, public.report_id)
    assert published.coarse_point == GeoPoint(lat=-6.18, lon=106.83)

    # Rate limit per client address (the portal passes the citizen's in X-Forwarded-For).
    citizen = {"X-Forwarded-For": "203.0.113.7"}
    codes = [
        (
            await gw.client.get(f"/v1/public/track/{public.receipt_code}", headers=citizen)
        ).status_code
        for _ in range(TRACK_LIMIT + 1)
    ]
    assert codes == [200] * TRACK_LIMIT + [429]
    r = await gw.client.get("/v1/public/track/ADU-0000-0000", headers=citizen)
    assert r.status_code == 429
    assert "too many" in r.json()["detail"]
    other = {"X-Forwarded-For": "198.51.100.20"}
    r = await gw.client.get(f"/v1/public/track/{public.receipt_code}", headers=other)
    assert r.status_code == 200


async def published(gw: Gateway, spec: Any) -> list[Any]:
    """Every event on a topic of this test, once the outbox is drained."""

    async def drained() -> bool:
        async with gw.runtime.sessions() as session:
            return (await session.scalar(select(func.count()).select_from(OUTBOX))) == 0

    await eventually(drained)
    topic = f"{gw.iso.namespace}.{spec.name}"
    consumer = AIOKafkaConsumer(bootstrap_servers=gw.iso.kafka, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        found: list[Any] = []
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            batch = await consumer.getmany(timeout_ms=1000)
            for records in batch.values():
                found += [decode(spec, record.value) for record in records]
        return found
    finally:
        await consumer.stop()


async def last_public_event(gw: Gateway, report_id: UUID) -> PublicReportPublished:
    async def drained() -> bool:
        async with gw.runtime.sessions() as session:
            return (await session.scalar(select(func.count()).select_from(OUTBOX))) == 0

    await eventually(drained)
    topic = f"{gw.iso.namespace}.{PUBLIC_REPORTS.name}"
    consumer = AIOKafkaConsumer(bootstrap_servers=gw.iso.kafka, enable_auto_commit=False)
    await consumer.start()
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        if not parts:
            await consumer._client.force_metadata_update()
            parts = consumer.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in parts]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        found: list[PublicReportPublished] = []
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            batch = await consumer.getmany(timeout_ms=1000)
            for records in batch.values():
                for record in records:
                    event = decode(PUBLIC_REPORTS, record.value)
                    if isinstance(event, PublicReportPublished) and event.report_id == report_id:
                        found.append(event)
        assert found, "no public event"
        return found[-1]
    finally:
        await consumer.stop()


# --- duplicates ----------------------------------------------------------------------------------


async def test_duplicates_and_who_may_ask(gateway: Gateway) -> None:
    gw = gateway
    target = await gw.report(point=MONAS)
    near = await gw.report(point=GeoPoint(lat=MONAS.lat - 0.002, lon=MONAS.lon))  # ~220 m
    nearest = await gw.report(point=GeoPoint(lat=MONAS.lat + 0.0005, lon=MONAS.lon))  # ~55 m
    far = await gw.report(point=GeoPoint(lat=MONAS.lat - 0.02, lon=MONAS.lon))  # ~2.2 km
    other_kind = await gw.report(category="sampah", point=MONAS)
    old = await gw.report(point=MONAS, received=RECEIVED - timedelta(days=45))
    merged = await gw.report(
        point=MONAS,
        steps=((ReportStatus.RECEIVED, None, None), (ReportStatus.MERGED, None, None)),
    )

    url = f"/v1/reports/{target.report_id}/duplicates"
    r = await gw.client.get(url, headers=gw.token(Role.TICKET_ADMIN))
    assert r.status_code == 200, r.text
    found = r.json()
    assert [d["report_id"] for d in found] == [str(nearest.report_id), str(near.report_id)]
    excluded = {str(x.report_id) for x in (far, other_kind, old, merged, target)}
    assert not excluded & {d["report_id"] for d in found}
    assert 40 < found[0]["distance_m"] < 70
    assert 200 < found[1]["distance_m"] < 240
    assert set(found[0]) == {
        "report_id",
        "title",
        "category",
        "status",
        "status_label",
        "month",
        "area",
        "distance_m",
        "received_at",
    }
    assert (found[0]["category"], found[0]["area"], found[0]["status_label"]) == (
        "jalan-rusak",
        "Gambir",
        "Menunggu",
    )

    # Every suggestion shown is an officer read, in the access log.
    async with gw.runtime.sessions() as session:
        logged = (
            await session.execute(
                select(ACCESS_LOG.c.report_id).where(ACCESS_LOG.c.subject == "ticket-admin-1")
            )
        ).scalars()
        assert set(logged) == {nearest.report_id, near.report_id}

    for role, expected in (
        (Role.VALIDATOR, 200),
        (Role.ADMINISTRATOR, 200),
        (Role.AGENCY_OFFICER, 403),
        (Role.REPORTER, 403),
    ):
        r = await gw.client.get(
            url, headers=gw.token(role, "dbm" if role is Role.AGENCY_OFFICER else None)
        )
        assert r.status_code == expected, (role, r.text)
    assert (await gw.client.get(url)).status_code == 401
    r = await gw.client.get(f"/v1/reports/{uuid4()}/duplicates", headers=gw.token(Role.VALIDATOR))
    assert r.status_code == 404


async def test_report_officers_for_photo_grants(gateway: Gateway) -> None:
    gw = gateway
    async with transaction(gw.runtime.sessions) as session:
        await create_agency(session, "dbm", "Dinas Bina Marga Uji")
        await create_agency(session, "dsda", "Dinas SDA Uji")
        budi = await create_user(
            session, "budi-dbm", PASSWORD, Role.AGENCY_OFFICER, "dbm", "Budi (DBM)"
        )
        ani = await create_user(session, "ani-dbm", PASSWORD, Role.AGENCY_OFFICER, "dbm", None)
        gone = await create_user(session, "lama-dbm", PASSWORD, Role.AGENCY_OFFICER, "dbm")
        await create_user(session, "sari-dsda", PASSWORD, Role.AGENCY_OFFICER, "dsda")
        await create_user(session, "vina-validator", PASSWORD, Role.VALIDATOR)
        await set_active(session, gone.user_id, False)
    dispatched = await gw.report(
        privacy=Privacy.PRIVATE,
        steps=((ReportStatus.RECEIVED, None, None), (ReportStatus.DISPATCHED, "dbm", None)),
    )
    waiting = await gw.report(privacy=Privacy.PRIVATE)
    url = f"/v1/reports/{dispatched.report_id}/officers"

    r = await gw.client.get(url, headers=gw.token(Role.VALIDATOR))
    assert r.status_code == 200, r.text
    # The active officers of the report's agency, by username; not another agency's
    # officer, not a deactivated one, not staff of other roles; no contact details.
    assert r.json() == [
        {"user_id": ani.user_id, "username": "ani-dbm", "display_name": None},
        {"user_id": budi.user_id, "username": "budi-dbm", "display_name": "Budi (DBM)"},
    ]
    r = await gw.client.get(
        f"/v1/reports/{waiting.report_id}/officers", headers=gw.token(Role.VALIDATOR)
    )
    assert (r.status_code, r.json()) == (200, [])  # with no agency yet: nobody to pick
    r = await gw.client.get(f"/v1/reports/{uuid4()}/officers", headers=gw.token(Role.VALIDATOR))
    assert r.status_code == 404

    # Each listing is a read of the report, in the access log.
    async with gw.runtime.sessions() as session:
        logged = (
            await session.execute(
                select(ACCESS_LOG.c.report_id, ACCESS_LOG.c.fields).where(
                    ACCESS_LOG.c.subject == "validator-1"
                )
            )
        ).all()
    assert sorted((str(x.report_id), tuple(x.fields)) for x in logged) == sorted(
        [(str(dispatched.report_id), ("agency_id",)), (str(waiting.report_id), ("agency_id",))]
    )

    # Authorization: validators, administrators, and the officers of the report's own
    # agency (their colleagues, to assign the report); another agency's officer: 404.
    for role, expected in (
        (Role.VALIDATOR, 200),
        (Role.ADMINISTRATOR, 200),
        (Role.TICKET_ADMIN, 403),
        (Role.AGENCY_OFFICER, 200),
        (Role.REPORTER, 403),
    ):
        headers = gw.token(role, "dbm" if role is Role.AGENCY_OFFICER else None)
        assert (await gw.client.get(url, headers=headers)).status_code == expected, role
    r = await gw.client.get(url, headers=gw.token(Role.AGENCY_OFFICER, "dsda"))
    assert r.status_code == 404
    assert (await gw.client.get(url)).status_code == 401

    # Assignment inside the agency ("my reports"): to an active officer of the report's
    # agency only; the list filter `assignee=me` finds it for that officer.
    assign = f"/v1/reports/{dispatched.report_id}/assignee"
    as_budi = gw.token(Role.AGENCY_OFFICER, "dbm", budi.user_id)
    r = await gw.client.get(assign, headers=as_budi)
    assert r.status_code == 200 and r.json()["assignee_id"] is None
    for who, why in (
        ("u-nobody", "not an active officer"),
        (gone.user_id, "not an active officer"),
        ((await _user_id(gw, "sari-dsda")), "not an active officer"),
    ):
        r = await gw.client.put(assign, json={"assignee": who}, headers=as_budi)
        assert r.status_code == 422 and why in r.json()["detail"], who
    r = await gw.client.put(assign, json={"assignee": ani.user_id}, headers=as_budi)
    assert r.status_code == 200, r.text
    assert r.json()["assignee_id"] == ani.user_id and r.json()["assignee_name"] == "ani-dbm"
    assert r.json()["assigned_by"] == budi.user_id
    as_ani = gw.token(Role.AGENCY_OFFICER, "dbm", ani.user_id)
    mine = await gw.client.get("/v1/reports", params={"assignee": "me"}, headers=as_ani)
    assert [x["report_id"] for x in mine.json()["items"]] == [str(dispatched.report_id)]
    theirs = await gw.client.get("/v1/reports", params={"assignee": "me"}, headers=as_budi)
    assert theirs.json()["items"] == []
    # Only the agency assigns; another agency cannot even see it.
    for headers, expected in (
        (gw.token(Role.VALIDATOR), 403),
        (gw.token(Role.AGENCY_OFFICER, "dsda"), 404),
    ):
        r = await gw.client.put(assign, json={"assignee": ani.user_id}, headers=headers)
        assert r.status_code == expected
    r = await gw.client.put(assign, json={"assignee": None}, headers=as_ani)
    assert r.status_code == 200 and r.json()["assignee_id"] is None

    # Agency names are public, for anyone, with or without a token; nothing but the names.
    for headers in ({}, gw.token(Role.REPORTER), gw.token(Role.VALIDATOR)):
        r = await gw.client.get("/v1/public/agencies", headers=headers)
        assert r.status_code == 200
        assert r.json() == [
            {"agency_id": "dbm", "name": "Dinas Bina Marga Uji"},
            {"agency_id": "dsda", "name": "Dinas SDA Uji"},
        ]


# --- demo seed, administration, categories routed into workflow --------------------------------


def cli_env(iso: Isolation) -> dict[str, str]:
    env = {
        "ADUAN_GATEWAY_DATABASE_URL": iso.database("gateway"),
        "ADUAN_GATEWAY_TOPIC_NAMESPACE": iso.namespace,
        "ADUAN_GATEWAY_ENVIRONMENT": "test",
    }
    return env


def run_cli(iso: Isolation, *args: str, allow: bool = False) -> subprocess.CompletedProcess[str]:
    """The real entry point, `python -m aduan_gateway.cli`, in its own process."""
    env = {**os.environ, **cli_env(iso)}
    env.pop(SEED_ALLOWED_ENV, None)
    if allow:
        env[SEED_ALLOWED_ENV] = "1"
    return subprocess.run(
        [sys.executable, "-m", "aduan_gateway.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def snapshot(gw: Gateway) -> tuple[list[Any], ...]:
    tables: list[list[Any]] = []
    async with gw.runtime.sessions() as session:
        for t in (AGENCIES, CATEGORIES, USERS):
            rows = await session.execute(select(t).order_by(*t.primary_key))
            tables.append([tuple(r) for r in rows.all()])
    return tuple(tables)


async def login(gw: Gateway, username: str) -> httpx.Response:
    body = {"username": username, "password": DEMO_PASSWORD}
    return await gw.client.post("/v1/auth/login", json=body)


@pytest_asyncio.fixture
async def workflow(isolated: Isolation) -> AsyncIterator[str]:
    """Workflow running on its own database; yields that database's URL."""
    url = isolated.database("workflow")
    settings = WorkflowSettings(
        kafka_bootstrap_servers=isolated.kafka,
        database_url=url,
        redis_url=isolated.redis_url,
        redis_prefix=isolated.redis_prefix,
        topic_namespace=isolated.namespace,
        environment="test",
    )
    _, runtime = build_workflow(settings)
    await runtime.start()
    try:
        yield url
    finally:
        await runtime.stop()


async def routing_becomes(url: str, wanted: set[tuple[str, str]]) -> None:
    async def check() -> bool:
        return set(await routing_list(url)) == wanted

    await eventually(check, timeout=40)


async def test_demo_seed_admin_and_category_routing(
    gateway: Gateway,
    workflow: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    gw, iso = gateway, gateway.iso
    # The same `main` in this process (a thread: it runs its own event loop), because each
    # extra interpreter start costs seconds on a loaded machine.
    for name, value in cli_env(iso).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv(SEED_ALLOWED_ENV, raising=False)

    # Refused without the explicit opt-in: nothing created.
    assert await asyncio.to_thread(cli_main, ["demo-seed"]) == 2
    assert "refused" in capsys.readouterr().err
    assert await snapshot(gw) == ([], [], [])

    first = await asyncio.to_thread(run_cli, iso, "demo-seed", allow=True)
    assert first.returncode == 0, first.stderr
    assert "created user demo-admin" in first.stdout
    seeded = await snapshot(gw)
    assert len(seeded[2]) == 10
    # Idempotent: a second run (with the flag this time) changes nothing at all.
    assert await asyncio.to_thread(cli_main, ["demo-seed", "--yes-this-is-a-demo"]) == 0
    assert "0 created" in capsys.readouterr().out
    assert await snapshot(gw) == seeded

    # The demo categories' agencies reached workflow's copy of the catalogue (through the
    # outbox rows the CLI wrote, sent by the running gateway's relay to the catalogue topic).
    await routing_becomes(
        workflow,
        {
            ("jalan-rusak", "dinas-bina-marga"),
            ("lampu-jalan", "dinas-bina-marga"),
            ("banjir", "dinas-sda"),
            ("saluran", "dinas-sda"),
            ("parkir-liar", "satpol-pp"),
            ("ketertiban-umum", "satpol-pp"),
        },
    )

    tokens = {}
    for username in ("demo-admin", "demo-tiket", "demo-validator", "demo-binamarga", "demo-sda"):
        r = await login(gw, username)
        assert r.status_code == 200, (username, r.text)
        tokens[username] = r.json()
    auth = {u: {"Authorization": f"Bearer {t['access_token']}"} for u, t in tokens.items()}
    assert tokens["demo-binamarga"]["agency_id"] == "dinas-bina-marga"
    # The demo reply templates, for every kind of form, once (the second run made none).
    r = await gw.client.get("/v1/reply-templates", headers=auth["demo-validator"])
    assert r.status_code == 200, r.text
    kinds = [t["kind"] for t in r.json()]
    assert {"followup", "return", "reject", "question"} <= set(kinds)
    assert len(kinds) == len({(t["kind"], t["title"]) for t in r.json()})

    # Lists.
    r = await gw.client.get("/v1/admin/users", headers=auth["demo-admin"])
    assert r.status_code == 200
    users = {u["username"]: u for u in r.json()}
    assert set(users) == {
        "demo-admin",
        "demo-tiket",
        "demo-validator",
        "demo-binamarga",
        "demo-sda",
        "demo-sudin-jaksel",
        "demo-sudin-jakpus",
        "demo-sudin-jakpus-head",
        "demo-kec-gambir-head",
        "demo-kel-gambir",
    }
    assert all("DEMO" in u["display_name"] and u["active"] for u in users.values())
    heads = {n for n, u in users.items() if u["unit_head"]}
    assert heads == {"demo-sudin-jakpus-head", "demo-kec-gambir-head"}
    assert users["demo-kel-gambir"]["unit_id"] == "kelurahan-gambir"

    # The demo unit tree (issue 19): real Jakarta codes, parents before children.
    r = await gw.client.get("/v1/admin/units", headers=auth["demo-admin"])
    assert r.status_code == 200, r.text
    units = {u["unit_id"]: u for u in r.json()}
    order = [u["unit_id"] for u in r.json()]
    assert units["sudin-bina-marga-jakpus"]["parent_id"] == "dinas-bina-marga"
    assert units["sudin-bina-marga-jakpus"]["area_codes"] == ["31.71"]
    assert units["sudin-bina-marga-jakpus"]["path"] == [
        "dinas-bina-marga",
        "sudin-bina-marga-jakpus",
    ]
    assert units["kelurahan-gambir"]["kind"] == "kelurahan"
    assert units["kelurahan-gambir"]["depth"] == 1
    assert units["kelurahan-gambir"]["area_codes"] == ["31.71.01.1001"]
    assert units["sudin-bina-marga-jakpus"]["officer_count"] == 2
    assert units["sudin-bina-marga-jakpus"]["head_count"] == 1
    assert order.index("kecamatan-gambir") < order.index("kelurahan-gambir")
    assert all("(DEMO)" in u["name"] for u in units.values())
    # A unit head's scope: their unit and its kelurahan; an officer's: their unit.
    for username, scope in (
        ("demo-kec-gambir-head", {"kecamatan-gambir", "kelurahan-gambir"}),
        ("demo-kel-gambir", {"kelurahan-gambir"}),
    ):
        r = await login(gw, username)
        assert r.json()["unit_head"] is (username == "demo-kec-gambir-head")
        head = {"Authorization": f"Bearer {r.json()['access_token']}"}
        r = await gw.client.get("/v1/units", headers=head)
        assert r.status_code == 200, r.text
        assert {u["unit_id"] for u in r.json()} == scope
    r = await gw.client.get("/v1/admin/units", headers=auth["demo-binamarga"])
    assert r.status_code == 403
    assert users["demo-sda"]["role"] == "agency-officer"
    assert "password" not in r.text and "argon2" not in r.text
    r = await gw.client.get("/v1/admin/agencies", headers=auth["demo-tiket"])
    assert r.status_code == 200
    assert {a["agency_id"]: a["name"] for a in r.json()}["dinas-sda"] == (
        "Dinas Sumber Daya Air (DEMO)"
    )
    r = await gw.client.get("/v1/categories")
    assert r.status_code == 200
    cats = {c["code"]: c for c in r.json()}
    assert cats["sampah"] == {
        "code": "sampah",
        "name_id": "Sampah tidak diangkut",
        "name_en": "Uncollected rubbish",
        "agency_id": None,
        "description_id": "Sampah tidak diangkut atau dibuang sembarangan.",
        "description_en": "Uncollected rubbish or illegal dumping.",
        "keywords": ["sampah", "tps", "rubbish", "waste"],
        "group": "Lingkungan",
        "active": True,
        "area_routes": [
            {
                "area_code": "31.71.01",
                "agency_id": "kecamatan-gambir",
                "unit_id": "kecamatan-gambir",
            },
            {
                "area_code": "31.71.01.1001",
                "agency_id": "kelurahan-gambir",
                "unit_id": "kelurahan-gambir",
            },
        ],
        "version": 1,
    }

    # Agency names are public (the portal shows them), and nothing else about agencies.
    r = await gw.client.get("/v1/public/agencies")
    assert r.status_code == 200
    assert r.json() == [
        {"agency_id": "dinas-bina-marga", "name": "Dinas Bina Marga (DEMO)"},
        {"agency_id": "dinas-sda", "name": "Dinas Sumber Daya Air (DEMO)"},
        {"agency_id": "kecamatan-gambir", "name": "Kecamatan Gambir (DEMO)"},
        {"agency_id": "kelurahan-gambir", "name": "Kelurahan Gambir (DEMO)"},
        {"agency_id": "satpol-pp", "name": "Satpol PP (DEMO)"},
        {
            "agency_id": "sudin-bina-marga-jakpus",
            "name": "Suku Dinas Bina Marga Jakarta Pusat (DEMO)",
        },
        {
            "agency_id": "sudin-bina-marga-jaksel",
            "name": "Suku Dinas Bina Marga Jakarta Selatan (DEMO)",
        },
    ]

    # Authorization matrix of the administrators' endpoints.
    sda_id = users["demo-sda"]["user_id"]
    cat_body = {"name_id": "Pohon tumbang", "name_en": "Fallen tree", "agency_id": None}
    matrix: list[tuple[str, str, dict[str, Any] | None, dict[str, int]]] = [
        ("GET", "/v1/admin/users", None, {"demo-admin": 200}),
        ("PATCH", f"/v1/admin/users/{sda_id}", {"active": True}, {"demo-admin": 200}),
        ("PUT", "/v1/admin/categories/pohon", cat_body, {"demo-admin": 200}),
        ("GET", "/v1/admin/units", None, {"demo-admin": 200}),
        (
            "PATCH",
            "/v1/admin/units/satpol-pp",
            {"name": "Satpol PP (DEMO)"},
            {"demo-admin": 200},
        ),
        ("GET", "/v1/units", None, dict.fromkeys(auth, 200)),
        (
            "GET",
            "/v1/admin/agencies",
            None,
            dict.fromkeys(auth, 200),
        ),
    ]
    for method, path, body, allowed in matrix:
        for username, headers in auth.items():
            r = await gw.client.request(method, path, json=body, headers=headers)
            assert r.status_code == allowed.get(username, 403), (method, path, username, r.text)
        r = await gw.client.request(method, path, json=body)
        assert r.status_code == 401, (method, path)
    reporter = gw.token(Role.REPORTER)
    assert (await gw.client.get("/v1/admin/agencies", headers=reporter)).status_code == 403
    # The public agency list needs no token and answers every role alike.
    for headers in (*auth.values(), reporter, {}):
        r = await gw.client.get("/v1/public/agencies", headers=headers)
        assert r.status_code == 200 and len(r.json()) == 7
    r = await gw.client.delete("/v1/admin/categories/pohon", headers=auth["demo-tiket"])
    assert r.status_code == 403
    assert (await gw.client.delete("/v1/admin/categories/pohon")).status_code == 401
    # DELETE retires (never deletes): again is the same, an unknown code is a 404.
    r = await gw.client.delete("/v1/admin/categories/pohon", headers=auth["demo-admin"])
    assert r.status_code == 204
    r = await gw.client.delete("/v1/admin/categories/pohon", headers=auth["demo-admin"])
    assert r.status_code == 204
    r = await gw.client.delete("/v1/admin/categories/no-such", headers=auth["demo-admin"])
    assert r.status_code == 404
    retired = {c["code"]: c for c in (await gw.client.get("/v1/categories")).json()}["pohon"]
    assert (retired["active"], retired["name_id"]) == (False, "Pohon tumbang")
    r = await gw.client.put(
        "/v1/admin/categories/pohon",
        json={**cat_body, "agency_id": "no-such-agency"},
        headers=auth["demo-admin"],
    )
    assert r.status_code == 422
    assert "unknown agency" in r.json()["detail"]

    # A category's agency change reaches workflow's routing; so does its retirement.
    r = await gw.client.put(
        "/v1/admin/categories/sampah",
        json={"name_id": "Sampah", "name_en": "Rubbish", "agency_id": "satpol-pp"},
        headers=auth["demo-admin"],
    )
    assert r.status_code == 200
    assert r.json()["agency_id"] == "satpol-pp"
    r = await gw.client.put(
        "/v1/admin/categories/banjir",
        json={"name_id": "Banjir", "name_en": "Flooding", "agency_id": None},
        headers=auth["demo-admin"],
    )
    assert r.status_code == 200
    r = await gw.client.put(
        "/v1/admin/categories/saluran",
        json={"name_id": "Saluran", "name_en": "Drain", "agency_id": "dinas-bina-marga"},
        headers=auth["demo-admin"],
    )
    assert r.status_code == 200
    r = await gw.client.delete("/v1/admin/categories/parkir-liar", headers=auth["demo-admin"])
    assert r.status_code == 204
    await routing_becomes(
        workflow,
        {
            ("jalan-rusak", "dinas-bina-marga"),
            ("lampu-jalan", "dinas-bina-marga"),
            ("saluran", "dinas-bina-marga"),
            ("sampah", "satpol-pp"),
            ("ketertiban-umum", "satpol-pp"),
        },
    )

    # Deactivation: no login, no refresh; reactivation lets them back in.
    admin_id = users["demo-admin"]["user_id"]
    r = await gw.client.patch(
        f"/v1/admin/users/{admin_id}", json={"active": False}, headers=auth["demo-admin"]
    )
    assert r.status_code == 409
    r = await gw.client.patch(
        f"/v1/admin/users/{sda_id}", json={"active": False}, headers=auth["demo-admin"]
    )
    assert r.status_code == 200
    assert r.json() == {**users["demo-sda"], "active": False}
    r = await login(gw, "demo-sda")
    assert r.status_code == 401
    r = await gw.client.post(
        "/v1/auth/refresh", json={"refresh_token": tokens["demo-sda"]["refresh_token"]}
    )
    assert r.status_code == 401
    r = await gw.client.get("/v1/admin/users", headers=auth["demo-admin"])
    assert {u["username"]: u["active"] for u in r.json()}["demo-sda"] is False
    r = await gw.client.patch(
        f"/v1/admin/users/{sda_id}", json={"active": True}, headers=auth["demo-admin"]
    )
    assert r.status_code == 200
    assert (await login(gw, "demo-sda")).status_code == 200
    r = await gw.client.patch(
        "/v1/admin/users/u-nobody", json={"active": False}, headers=auth["demo-admin"]
    )
    assert r.status_code == 404


async def _user_id(gw: Gateway, username: str) -> str:
    async with gw.runtime.sessions() as session:
        found = await session.scalar(select(USERS.c.user_id).where(USERS.c.username == username))
    assert found is not None
    return str(found)


async def test_agency_dashboard_counts_only_its_own_and_hides_nothing_it_should_show(
    gateway: Gateway,
) -> None:
    """Issue 14: an agency's figures (open by status, overdue, completed per month, time and
    deadlines per stage); private reports counted; another agency's never; no report."""
    gw = gateway
    now = datetime.now(UTC)
    past_due, future_due = now - timedelta(hours=1), now + timedelta(days=3)
    received = now - timedelta(days=2)
    # Two open reports of dbm (one overdue, one private and not yet due) and one of dsda.
    await gw.report(
        received=received,
        steps=((ReportStatus.RECEIVED, None, None), (ReportStatus.DISPATCHED, "dbm", past_due)),
    )
    await gw.report(
        privacy=Privacy.PRIVATE,
        received=received,
        steps=(
            (ReportStatus.RECEIVED, None, None),
            (ReportStatus.DISPATCHED, "dbm", future_due),
            (ReportStatus.IN_PROGRESS, "dbm", future_due),
        ),
    )
    await gw.report(
        received=received,
        steps=((ReportStatus.RECEIVED, None, None), (ReportStatus.DISPATCHED, "dsda", past_due)),
    )
    r = await gw.client.get("/v1/stats/dashboard", headers=gw.token(Role.AGENCY_OFFICER, "dbm"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["agency_id"] == "dbm"
    assert body["open_by_status"] == {"dispatched": 1, "in_progress": 1}
    assert body["overdue"] == 1
    # The dispatch step of the private report ended (accepted) before its deadline.
    dispatch = next(s for s in body["stages"] if s["stage"] == "dispatch")
    assert dispatch["measured"] == 1 and dispatch["on_time"] == 1
    assert dispatch["median_hours"] is not None
    # Asking for another agency does not help an agency officer.
    other = await gw.client.get(
        "/v1/stats/dashboard",
        params={"agency_id": "dsda"},
        headers=gw.token(Role.AGENCY_OFFICER, "dbm"),
    )
    assert other.json()["agency_id"] == "dbm"
    # Full-access roles: one agency, or the city.
    city = await gw.client.get("/v1/stats/dashboard", headers=gw.token(Role.VALIDATOR))
    assert city.json()["agency_id"] is None and city.json()["overdue"] == 2
    dsda = await gw.client.get(
        "/v1/stats/dashboard", params={"agency_id": "dsda"}, headers=gw.token(Role.TICKET_ADMIN)
    )
    assert dsda.json()["open_by_status"] == {"dispatched": 1}
    # Aggregates only: no report id, receipt code or title anywhere in the answer.
    assert "Jalan berlubang" not in r.text and "ADU-" not in r.text
    assert (
        await gw.client.get("/v1/stats/dashboard", headers=gw.token(Role.REPORTER))
    ).status_code == 403
    assert (await gw.client.get("/v1/stats/dashboard")).status_code == 401


# --- ask the reporter ---------------------------------------------------------------------


async def test_questions_to_the_reporter_who_may_ask_read_and_what_comes_back(
    gateway: Gateway,
) -> None:
    """Every caller against the questions endpoints (role x agency), the open-question
    limit, nobody to ask, a closed report, the outbox event, the audit of reads, the answer
    landing on its question, a foreign question id dropped, and nothing on public views."""
    sealed = seal_identity({"name": "Rina Wati", "contact": "rina@example.org"}, uuid4(), new_key())
    dispatched = (
        (ReportStatus.RECEIVED, None, None),
        (ReportStatus.DISPATCHED, "dbm", None),
    )
    report = await gateway.report(steps=dispatched, reporter=sealed)
    silent = await gateway.report(steps=dispatched)  # a walk-in without a contact
    closed = await gateway.report(
        steps=((ReportStatus.RECEIVED, None, None), (ReportStatus.REJECTED, None, None)),
        reporter=sealed,
    )
    c = gateway.client
    url = f"/v1/reports/{report.report_id}/questions"

    def ask(n: int) -> dict[str, str]:
        return {"text": f"Pertanyaan nomor {n}: di lajur mana lubangnya?"}

    callers: list[tuple[str, dict[str, str], int]] = [
        ("nobody", {}, 401),
        ("public", gateway.token(Role.PUBLIC), 403),
        ("reporter", gateway.token(Role.REPORTER), 403),
        ("another agency", gateway.token(Role.AGENCY_OFFICER, "dlh"), 404),
        ("the agency", gateway.token(Role.AGENCY_OFFICER, "dbm", "sari"), 201),
        ("ticket-admin", gateway.token(Role.TICKET_ADMIN), 201),
        ("validator", gateway.token(Role.VALIDATOR), 201),
        # Three questions are open: a fourth waits for an answer.
        ("administrator", gateway.token(Role.ADMINISTRATOR), 409),
    ]
    asked: list[str] = []
    for n, (who, headers, expected) in enumerate(callers):
        r = await c.post(url, json=ask(n), headers=headers)
        assert r.status_code == expected, (who, r.text)
        if expected == 201:
            asked.append(r.json()["id"])
    assert "wait for an answer" in r.json()["detail"]
    admin = gateway.token(Role.ADMINISTRATOR)
    r = await c.post(f"/v1/reports/{silent.report_id}/questions", json=ask(9), headers=admin)
    assert r.status_code == 409 and "no contact" in r.json()["detail"]
    r = await c.post(f"/v1/reports/{closed.report_id}/questions", json=ask(9), headers=admin)
    assert r.status_code == 409 and "closed" in r.json()["detail"]
    r = await c.post(url, json={"text": "Kapan?"}, headers=admin)
    assert r.status_code == 422

    # Each question left through the outbox on the questions topic, for the notifier.
    events = await published(gateway, REPORTER_QUESTIONS)
    assert sorted(str(e.question_id) for e in events) == sorted(asked)
    assert {e.report_id for e in events} == {report.report_id}

    # Reading: the same scope as the report; the read is audited.
    for who, headers, expected in [
        ("public", gateway.token(Role.PUBLIC), 403),
        ("reporter", gateway.token(Role.REPORTER), 403),
        ("another agency", gateway.token(Role.AGENCY_OFFICER, "dlh"), 404),
    ]:
        r = await c.get(url, headers=headers)
        assert r.status_code == expected, who
    agency = gateway.token(Role.AGENCY_OFFICER, "dbm", "sari")
    r = await c.get(url, headers=agency)
    assert r.status_code == 200
    view = r.json()
    assert view["can_ask"] is False and [e["id"] for e in view["entries"]] == asked
    async with gateway.runtime.sessions() as session:
        audited = (
            (
                await session.execute(
                    select(ACCESS_LOG.c.fields).where(
                        ACCESS_LOG.c.report_id == report.report_id, ACCESS_LOG.c.subject == "sari"
                    )
                )
            )
            .scalars()
            .all()
        )
    assert ["conversation"] in audited

    # The reporter answers the second question from its link; another report's question id
    # (a receipt code holder guessing) is not an answer and is dropped.
    answer = ReportAmended(
        report_id=report.report_id,
        channel=Channel.WEB,
        channel_message_id=f"answer:{uuid4()}",
        text="Lajur kiri, dekat halte.",
        received_at=datetime.now(UTC),
        in_reply_to=UUID(asked[1]),
    )
    forged = answer.model_copy(
        update={
            "event_id": uuid4(),
            "channel_message_id": f"answer:{uuid4()}",
            "text": "Bukan dari pelapor.",
            "in_reply_to": uuid4(),
        }
    )
    for event in (forged, answer):
        await gateway.send(REPORT_INTAKE.name, event, report.report_id)

    async def answered() -> Any:
        r = await c.get(url, headers=agency)
        entries = r.json()["entries"]
        return entries if any(e["kind"] == "message" for e in entries) else None

    entries = await eventually(answered)
    [message] = [e for e in entries if e["kind"] == "message"]
    assert message["question_id"] == asked[1] and message["text"] == "Lajur kiri, dekat halte."
    assert message["at"] is None and message["on"]  # an agency sees the day only
    assert [e["answered"] for e in entries if e["kind"] == "question"] == [False, True, False]
    full = (await c.get(url, headers=admin)).json()
    assert [e["at"] is not None for e in full["entries"]] == [True] * 4
    assert full["can_ask"] is True  # one was answered: room for another
    assert "Bukan dari pelapor" not in str(full)

    # Nothing of it anywhere a citizen or the public looks.
    track = (await c.get(f"/v1/public/track/{report.receipt_code}")).json()
    assert track["open_questions"] == 2
    assert "lajur" not in str(track).lower() and "Pertanyaan" not in str(track)
    public = await c.get(f"/v1/public/reports/{report.report_id}")
    assert "Pertanyaan nomor" not in public.text and "Lajur kiri" not in public.text
    # The question's own link shows its text, never who asked.
    r = await c.get(f"/v1/public/questions/{asked[0]}")
    assert r.status_code == 200
    body = r.json()
    assert body["receipt_code"] == report.receipt_code and body["can_answer"] is True
    assert "sari" not in str(body) and "Petugas" not in str(body)
    assert (await c.get(f"/v1/public/questions/{uuid4()}")).status_code == 404


async def test_reports_sorted_by_due_date_over_the_whole_list(gateway: Gateway) -> None:
    """`sort=due`: the nearest deadline first across every page (not only within one),
    reports without a running clock last; `newest` (the default) by filing time."""
    now = datetime.now(UTC)
    dues = [now + timedelta(hours=h) for h in (30, -2, 5)]
    made = []
    for i, due in enumerate(dues):
        made.append(
            await gateway.report(
                received=RECEIVED + timedelta(minutes=i),
                steps=(
                    (ReportStatus.RECEIVED, None, None),
                    (ReportStatus.DISPATCHED, "dbm", due),
                ),
            )
        )
    no_clock = await gateway.report(received=RECEIVED + timedelta(minutes=9))
    headers = gateway.token(Role.VALIDATOR)

    async def ids(**params: Any) -> list[UUID]:
        r = await gateway.client.get("/v1/reports", params=params, headers=headers)
        assert r.status_code == 200, r.text
        return [UUID(i["report_id"]) for i in r.json()["items"]]

    by_due = [made[1].report_id, made[2].report_id, made[0].report_id, no_clock.report_id]
    assert await ids(sort="due", limit=10) == by_due
    # Page by page, the order holds across pages.
    assert await ids(sort="due", limit=2) + await ids(sort="due", limit=2, offset=2) == by_due
    assert await ids(limit=10) == [no_clock.report_id] + [m.report_id for m in made[::-1]]
    r = await gateway.client.get("/v1/reports", params={"sort": "oldest"}, headers=headers)
    assert r.status_code == 422


async def test_reports_filtered_by_sla_state_and_filing_dates(gateway: Gateway) -> None:
    """`sla=overdue|due_soon` on the running deadline; a filing-date range for the
    full-access roles only (agency officers see a report's month, never its day)."""
    now = datetime.now(UTC)
    late = await gateway.report(
        received=now - timedelta(days=10),
        steps=(
            (ReportStatus.RECEIVED, None, None),
            (ReportStatus.DISPATCHED, "dbm", now - timedelta(hours=3)),
        ),
    )
    soon = await gateway.report(
        received=now - timedelta(days=2),
        steps=(
            (ReportStatus.RECEIVED, None, None),
            (ReportStatus.DISPATCHED, "dbm", now + timedelta(hours=5)),
        ),
    )
    later = await gateway.report(
        received=now - timedelta(days=1),
        steps=(
            (ReportStatus.RECEIVED, None, None),
            (ReportStatus.DISPATCHED, "dbm", now + timedelta(days=4)),
        ),
    )
    validator = gateway.token(Role.VALIDATOR)

    async def ids(headers: Any, **params: Any) -> set[UUID]:
        r = await gateway.client.get("/v1/reports", params=params, headers=headers)
        assert r.status_code == 200, r.text
        return {UUID(i["report_id"]) for i in r.json()["items"]}

    assert await ids(validator, sla="overdue") == {late.report_id}
    assert await ids(validator, sla="due_soon") == {soon.report_id}
    assert later.report_id in await ids(validator)
    day = (now - timedelta(days=2)).astimezone(timezone(timedelta(hours=7))).date()
    assert await ids(validator, received_from=day.isoformat(), received_to=day.isoformat()) == {
        soon.report_id
    }
    agency = gateway.token(Role.AGENCY_OFFICER, "dbm")
    assert await ids(agency, sla="overdue") == {late.report_id}
    r = await gateway.client.get(
        "/v1/reports", params={"received_from": day.isoformat()}, headers=agency
    )
    assert r.status_code == 403
    r = await gateway.client.get("/v1/reports", params={"sla": "late"}, headers=validator)
    assert r.status_code == 422


async def test_routing_rules_by_area_checked_stamped_and_published(
    gateway: Gateway, workflow: str
) -> None:
    """Issue 19: an administrator's rules category x area -> agency, one by one, are checked
    (category, Kemendagri area code, agency), kept on the category (its version grows, who
    changed it is stamped) and reach workflow's copy of the catalogue."""
    gw = gateway
    async with transaction(gw.runtime.sessions) as session:
        await create_agency(session, "dinas-bina-marga", "Dinas Bina Marga Uji")
        await create_agency(session, "kecamatan-gambir", "Kecamatan Gambir Uji")
        await create_agency(session, "sudin-jakpus", "Sudin Bina Marga Jakarta Pusat Uji")
    admin = gw.token(Role.ADMINISTRATOR, sub="adm-routes")
    body = {"name_id": "Jalan rusak", "name_en": "Damaged road", "agency_id": "dinas-bina-marga"}
    r = await gw.client.put("/v1/admin/categories/jalan-rusak", json=body, headers=admin)
    assert r.status_code == 200 and r.json()["area_routes"] == []

    base = "/v1/admin/routing-rules/jalan-rusak"
    # Only administrators.
    for role in (Role.TICKET_ADMIN, Role.VALIDATOR, Role.AGENCY_OFFICER):
        r = await gw.client.put(
            f"{base}/31.71", json={"agency_id": "sudin-jakpus"}, headers=gw.token(role)
        )
        assert r.status_code == 403, role
        assert (
            await gw.client.get("/v1/admin/routing-rules", headers=gw.token(role))
        ).status_code == 403
    assert (await gw.client.get("/v1/admin/routing-rules")).status_code == 401

    # Checked: the category, the area in the Kemendagri list, the agency.
    r = await gw.client.put(
        "/v1/admin/routing-rules/no-such/31.71", json={"agency_id": "sudin-jakpus"}, headers=admin
    )
    assert r.status_code == 404
    for bad in ("31.99", "31.71.99", "jakarta", "31.71.01.9999"):
        r = await gw.client.put(f"{base}/{bad}", json={"agency_id": "sudin-jakpus"}, headers=admin)
        assert r.status_code == 422 and "Kemendagri" in r.json()["detail"], bad
    r = await gw.client.put(f"{base}/31.71", json={"agency_id": "no-such"}, headers=admin)
    assert r.status_code == 422 and "unknown agency" in r.json()["detail"]

    # A kota (undotted code accepted, stored dotted) and a kecamatan inside it.
    r = await gw.client.put(f"{base}/3171", json={"agency_id": "sudin-jakpus"}, headers=admin)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "key": "jalan-rusak|31.71",
        "category": "jalan-rusak",
        "area_code": "31.71",
        "area_label": r.json()["area_label"],
        "agency_id": "sudin-jakpus",
        "category_active": True,
        "unit_id": "sudin-jakpus",  # the same (issue 19: a unit is an agency)
    }
    assert "Jakarta Pusat" in r.json()["area_label"]
    # `unit_id` is accepted in place of `agency_id`; both, differing, are refused.
    r = await gw.client.put(f"{base}/3171", json={"unit_id": "sudin-jakpus"}, headers=admin)
    assert r.status_code == 200 and r.json()["agency_id"] == "sudin-jakpus", r.text
    r = await gw.client.put(
        f"{base}/3171",
        json={"unit_id": "sudin-jakpus", "agency_id": "kecamatan-gambir"},
        headers=admin,
    )
    assert r.status_code == 422
    r = await gw.client.put(
        f"{base}/31.71.01", json={"agency_id": "kecamatan-gambir"}, headers=admin
    )
    assert r.status_code == 200, r.text
    r = await gw.client.get("/v1/admin/routing-rules", headers=admin)
    assert [(x["key"], x["agency_id"]) for x in r.json()] == [
        ("jalan-rusak|31.71", "sudin-jakpus"),
        ("jalan-rusak|31.71.01", "kecamatan-gambir"),
    ]
    async with gw.runtime.sessions() as session:
        row = (
            await session.execute(select(CATEGORIES).where(CATEGORIES.c.code == "jalan-rusak"))
        ).one()
    assert (row.version, row.updated_by) == (3, "adm-routes")

    # Editing the category without `area_routes` keeps them (an older form).
    r = await gw.client.put(
        "/v1/admin/categories/jalan-rusak", json={**body, "name_en": "Broken road"}, headers=admin
    )
    assert r.status_code == 200 and len(r.json()["area_routes"]) == 2
    await eventually(
        lambda: _area_routes_are(
            workflow,
            {
                ("jalan-rusak", "31.71", "sudin-jakpus"),
                ("jalan-rusak", "31.71.01", "kecamatan-gambir"),
            },
        ),
        timeout=40,
    )

    # Removing one: gone from the category and from workflow's copy.
    r = await gw.client.delete(f"{base}/31.71.01", headers=admin)
    assert r.status_code == 204
    r = await gw.client.delete(f"{base}/31.71.01", headers=admin)
    assert r.status_code == 404
    await eventually(
        lambda: _area_routes_are(workflow, {("jalan-rusak", "31.71", "sudin-jakpus")}),
        timeout=40,
    )


async def _area_routes_are(url: str, wanted: set[tuple[str, str, str]]) -> bool:
    return set(await area_routing_list(url)) == wanted


# --- units, scopes, escalation (issue 19) -------------------------------------------------------


async def test_units_scope_every_read_and_escalation_flags_the_parent(gateway: Gateway) -> None:
    """Issue 19 (D19): units in a tree, checked (no cycles, real area codes); an officer of
    one kelurahan never sees a sibling kelurahan's reports; a unit head sees their sub-units;
    `unit=` inside one's scope only; a breach at a kelurahan flagged to its kecamatan (whose
    officers then read it, not act on it) and counted on both dashboards, once however often
    the event comes."""
    gw = gateway
    admin = gw.token(Role.ADMINISTRATOR)
    units = [
        {"unit_id": "dbm", "name": "Dinas Bina Marga", "kind": "dinas", "area_codes": ["31"]},
        {
            "unit_id": "sudin-jp",
            "name": "Sudin Jakarta Pusat",
            "kind": "suku-dinas",
            "parent_id": "dbm",
            "area_codes": ["3171"],  # undotted is accepted, stored dotted
        },
        {"unit_id": "kec-g", "name": "Kecamatan Gambir", "kind": "kecamatan"},
        {
            "unit_id": "kel-g",
            "name": "Kelurahan Gambir",
            "kind": "kelurahan",
            "parent_id": "kec-g",
            "area_codes": ["31.71.01.1001"],
        },
        {
            "unit_id": "kel-pu",
            "name": "Kelurahan Petojo Utara",
            "kind": "kelurahan",
            "parent_id": "kec-g",
            "area_codes": ["31.71.01.1003"],
        },
    ]
    for body in units:
        r = await gw.client.post("/v1/admin/units", json=body, headers=admin)
        assert r.status_code == 201, r.text
    assert r.json()["path"] == ["kec-g", "kel-pu"] and r.json()["depth"] == 1
    bad = [
        ({**units[0]}, 409, "already taken"),
        ({**units[3], "unit_id": "x1", "parent_id": "nope"}, 422, "parent_id"),
        ({**units[3], "unit_id": "x2", "area_codes": ["99.99"]}, 422, "area_codes"),
        ({**units[3], "unit_id": "x3", "kind": "galaxy"}, 422, "kind"),
    ]
    for body, code, word in bad:
        r = await gw.client.post("/v1/admin/units", json=body, headers=admin)
        assert r.status_code == code and word in r.json()["detail"], r.text
    # No cycles: the Dinas under its own Suku Dinas, or a unit under itself.
    for unit, parent in (("dbm", "sudin-jp"), ("kec-g", "kec-g")):
        r = await gw.client.patch(
            f"/v1/admin/units/{unit}", json={"parent_id": parent}, headers=admin
        )
        assert r.status_code == 422 and "cycle" in r.json()["detail"], r.text
    r = await gw.client.patch("/v1/admin/units/nope", json={"name": "x"}, headers=admin)
    assert r.status_code == 404
    r = await gw.client.get("/v1/admin/units", headers=admin)
    tree = {u["unit_id"]: u for u in r.json()}
    assert tree["sudin-jp"]["area_codes"] == ["31.71"] and tree["dbm"]["parent_id"] is None
    assert [u["unit_id"] for u in r.json()] == ["dbm", "sudin-jp", "kec-g", "kel-g", "kel-pu"]
    r = await gw.client.post("/v1/admin/units", json=units[0], headers=gw.token(Role.VALIDATOR))
    assert r.status_code == 403

    now = datetime.now(UTC)
    due = now + timedelta(days=3)

    async def dispatched(unit: str, area: str, title: str) -> UUID:
        event = await gw.report(
            title=title,
            area_code=area,
            received=now - timedelta(days=1),
            steps=((ReportStatus.RECEIVED, None, None), (ReportStatus.DISPATCHED, unit, due)),
        )
        return event.report_id

    r_g = await dispatched("kel-g", "31.71.01.1001", "Lubang di Gambir")
    r_pu = await dispatched("kel-pu", "31.71.01.1003", "Lubang di Petojo Utara")
    r_kec = await dispatched("kec-g", "31.71.01", "Lubang di kecamatan")
    r_jp = await dispatched("sudin-jp", "31.71.06", "Lubang di Menteng")

    kel_g = gw.token(Role.AGENCY_OFFICER, "kel-g", sub="off-kel-g")
    kel_pu = gw.token(Role.AGENCY_OFFICER, "kel-pu", sub="off-kel-pu")
    kec = gw.token(Role.AGENCY_OFFICER, "kec-g", sub="off-kec")
    camat = gw.token(Role.AGENCY_OFFICER, "kec-g", sub="camat", head=True)
    validator = gw.token(Role.VALIDATOR)

    async def listed(headers: Any, **params: Any) -> set[UUID]:
        r = await gw.client.get("/v1/reports", params=params, headers=headers)
        assert r.status_code == 200, r.text
        return {UUID(v["report_id"]) for v in r.json()["items"]}

    # The authorization matrix by unit: queue, report page, and sibling isolation.
    assert await listed(kel_g) == {r_g}
    assert await listed(kel_pu) == {r_pu}
    assert await listed(kec) == {r_kec}
    assert await listed(camat) == {r_g, r_pu, r_kec}
    for headers, report, code in (
        (kel_g, r_g, 200),
        (kel_g, r_pu, 404),  # a sibling kelurahan's: as if it did not exist
        (kel_pu, r_g, 404),
        (kel_g, r_kec, 404),  # the parent's own: not the kelurahan's business
        (kec, r_g, 404),  # a kecamatan officer who is not its head
        (camat, r_g, 200),
        (camat, r_pu, 200),
        (camat, r_jp, 404),
    ):
        r = await gw.client.get(f"/v1/reports/{report}", headers=headers)
        assert r.status_code == code, (report, r.text)
    r = await gw.client.get(f"/v1/reports/{r_g}/notes", headers=kel_pu)
    assert r.status_code == 404
    # `unit=`: inside one's scope only (403 with the reason); full-access roles any unit.
    r = await gw.client.get("/v1/reports", params={"unit": "kel-pu"}, headers=kel_g)
    assert r.status_code == 403 and "outside your scope" in r.json()["detail"]
    r = await gw.client.get("/v1/reports", params={"unit": "nope"}, headers=validator)
    assert r.status_code == 422
    assert await listed(camat, unit="kel-pu") == {r_pu}
    assert await listed(validator, unit="kec-g") == {r_g, r_pu, r_kec}
    assert await listed(validator, unit="dbm") == {r_jp}
    # `area=`: the area and everything inside it.
    assert await listed(camat, area="31.71.01.1003") == {r_pu}
    assert await listed(validator, area="31.71.01") == {r_g, r_pu, r_kec}
    # The dashboard: the head's whole subtree, per unit; a unit outside the scope is refused.
    r = await gw.client.get("/v1/stats/dashboard", headers=camat)
    body = r.json()
    assert r.status_code == 200 and set(body["units"]) == {"kec-g", "kel-g", "kel-pu"}
    assert body["open_by_status"] == {"dispatched": 3}
    assert {u["unit_id"]: u["open"] for u in body["by_unit"]} == {
        "kec-g": 1,
        "kel-g": 1,
        "kel-pu": 1,
    }
    r = await gw.client.get("/v1/stats/dashboard", params={"unit": "kel-g"}, headers=kel_pu)
    assert r.status_code == 403
    r = await gw.client.get(
        "/v1/stats/dashboard", params={"area": "31.71.01.1003"}, headers=validator
    )
    assert r.json()["open_by_status"] == {"dispatched": 1}
    r = await gw.client.get("/v1/stats/dashboard", params={"area": "xx"}, headers=validator)
    assert r.status_code == 422

    # Escalation: a reminder, then a breach of Kelurahan Gambir's dispatch clock; the
    # breach delivered twice (a redelivery, or a replay with a new event id).
    clock_due = now - timedelta(hours=1)
    reminder = SlaReminderDue(
        report_id=r_g, stage=SlaStage.DISPATCH, due_at=clock_due, agency_id="kel-g"
    )
    breach = SlaBreached(
        report_id=r_g, stage=SlaStage.DISPATCH, due_at=clock_due, agency_id="kel-g"
    )
    for event in (reminder, breach, breach, breach.model_copy(update={"event_id": uuid4()})):
        await gw.send(SLA_EVENTS.name, event, r_g)

    async def flagged() -> list[Any] | None:
        r = await gw.client.get(f"/v1/reports/{r_g}", headers=kec)
        if r.status_code != 200 or len(r.json()["escalations"]) < 2:
            return None
        return [r.json()]

    (view,) = await eventually(flagged)
    assert [(e["kind"], e["from_unit"], e["to_unit"]) for e in view["escalations"]] == [
        ("reminder", "kel-g", "kec-g"),
        ("breach", "kel-g", "kec-g"),
    ]
    assert view["escalated_to_me"] is True
    # Agency officers get the month, never the exact time (rule 6).
    assert all(e["at"] is None and e["month"] for e in view["escalations"])
    marks = [t for t in view["timeline"] if t["escalation"] is not None]
    assert [t["escalation"]["kind"] for t in marks] == ["reminder", "breach"]
    assert marks[1]["status"] == "dispatched" and marks[1]["actor_role"] == "system"
    assert marks[1]["reason"] == (
        "overdue at Kelurahan Gambir, flagged to Kecamatan Gambir and the validator bureau"
    )
    # The parent's officer reads it (the "escalated to us" queue), but does not work on it.
    assert await listed(kec) == {r_g, r_kec}
    assert await listed(kec, escalated="true") == {r_g}
    assert await listed(kel_pu, escalated="true") == set()
    r = await gw.client.put(
        f"/v1/reports/{r_g}/assignee", json={"assignee": "off-kec"}, headers=kec
    )
    assert r.status_code == 403
    # Nor does a unit head act on a sub-unit's report: both refused by the gateway itself.
    for headers in (kec, camat):
        r = await gw.client.post(f"/v1/reports/{r_g}/accept", json={}, headers=headers)
        assert r.status_code == 403 and "assigned to" in r.json()["detail"], r.text
    # A sibling kelurahan still sees nothing of it.
    assert (await gw.client.get(f"/v1/reports/{r_g}", headers=kel_pu)).status_code == 404
    # The validator bureau sees the exact time, and every breach on its dashboard.
    r = await gw.client.get(f"/v1/reports/{r_g}", headers=validator)
    assert all(e["at"] is not None for e in r.json()["escalations"])
    assert await listed(validator, escalated="true") == {r_g}
    r = await gw.client.get("/v1/stats/dashboard", headers=validator)
    assert r.json()["escalations"] == {"reminders": 1, "breaches": 1}
    r = await gw.client.get("/v1/stats/dashboard", headers=kec)
    assert r.json()["escalations"] == {"reminders": 1, "breaches": 1}
    r = await gw.client.get("/v1/stats/dashboard", headers=kel_pu)
    assert r.json()["escalations"] == {"reminders": 0, "breaches": 0}
    async with gw.runtime.sessions() as session:
        rows = await session.scalar(
            select(func.count()).select_from(ESCALATIONS).where(ESCALATIONS.c.report_id == r_g)
        )
    assert rows == 2

    # Users: moved to a unit and made its head by an administrator; the token says so.
    async with transaction(gw.runtime.sessions) as session:
        user = await create_user(session, "petugas-pu", PASSWORD, Role.AGENCY_OFFICER, "kel-pu")
    r = await gw.client.patch(
        f"/v1/admin/users/{user.user_id}",
        json={"unit_id": "kec-g", "unit_head": True},
        headers=admin,
    )
    assert r.status_code == 200, r.text
    assert (r.json()["unit_id"], r.json()["unit_head"]) == ("kec-g", True)
    for body, word in (({"unit_id": "nope"}, "no such unit"), ({}, "nothing to change")):
        r = await gw.client.patch(f"/v1/admin/users/{user.user_id}", json=body, headers=admin)
        assert r.status_code == 422 and word in r.json()["detail"], r.text
    r = await gw.client.post(
        "/v1/auth/login", json={"username": "petugas-pu", "password": PASSWORD}
    )
    assert (r.json()["unit_id"], r.json()["unit_head"]) == ("kec-g", True)
    head = {"Authorization": f"Bearer {r.json()['access_token']}"}
    assert await listed(head) == {r_g, r_pu, r_kec}
    r = await gw.client.get("/v1/units", headers=head)
    assert [u["unit_id"] for u in r.json()] == ["kec-g", "kel-g", "kel-pu"]
