"""Abuse from outside, on real PostgreSQL, Redis and Kafka (issue 13, holes 5-8):

- a NUL byte in what reaches PostgreSQL is a 400 naming it, not a 500;
- the open-data CSV neutralises a complaint written as a spreadsheet formula;
- whoever holds a receipt code and fails on purpose waits, the reporter with the right
  contact does not;
- staff sign-in waits after wrong passwords, per account and per address, and logs neither
  the username nor the password.
"""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from pydantic import BaseModel

from aduan_contracts.enums import Channel, Privacy, ReportStatus, Role
from aduan_contracts.events import ReporterKeyIssued, ReportStatusChanged, ReportSubmitted
from aduan_contracts.serialization import encode
from aduan_contracts.topics import REPORT_INTAKE, REPORTER_KEYS, STATUS_CHANGED
from aduan_contracts.values import Actor
from aduan_gateway.auth import issue_access_token
from aduan_gateway.bootstrap import build
from aduan_gateway.config import Settings
from aduan_kit.crypto import new_key, seal_identity
from aduan_testing.helpers import eventually
from aduan_testing.plugin import Isolation

pytestmark = pytest.mark.integration

CONTACT = "budi@contoh.id"
RECEIPT = "ADU-QW12-ER34"
FORMULA = '=HYPERLINK("http://contoh.id/?x","klik") jalan berlubang di depan pasar'
PASSWORD = "kata-sandi-yang-panjang-1"


class Gw:
    def __init__(self, iso: Isolation, client: httpx.AsyncClient, settings: Settings) -> None:
        self.iso, self.client, self.settings = iso, client, settings
        self.producer: AIOKafkaProducer | None = None

    async def send(self, topic: str, event: BaseModel, key: UUID) -> None:
        assert self.producer is not None
        await self.producer.send_and_wait(
            f"{self.iso.namespace}.{topic}", encode(event), key=str(key).encode()
        )

    def from_address(self, address: str) -> dict[str, str]:
        # The test client's peer is 127.0.0.1, a trusted proxy (as the portal is): the
        # address it forwards is the caller's.
        return {"X-Forwarded-For": address}

    async def publish_report(self, text: str, title: str | None = None) -> UUID:
        key_id, key = uuid4(), new_key()
        report = ReportSubmitted(
            report_id=uuid4(),
            receipt_code=RECEIPT,
            channel=Channel.WEB,
            channel_message_id=f"web.{uuid4().hex}",
            text=text,
            title=title,
            category_hint="jalan",
            privacy=Privacy.PUBLIC,
            received_at=datetime(2024, 5, 17, 9, 31, tzinfo=UTC),
            reporter=seal_identity({"name": "Budi", "contact": CONTACT}, key_id, key),
        )
        issued = ReporterKeyIssued(key_id=key_id, key=base64.b64encode(key).decode())
        received = ReportStatusChanged(
            report_id=report.report_id,
            receipt_code=report.receipt_code,
            channel=report.channel,
            version=1,
            from_status=None,
            to_status=ReportStatus.RECEIVED,
            actor=Actor(id="workflow", role=Role.SYSTEM),
        )
        await self.send(REPORTER_KEYS.name, issued, key_id)
        await self.send(REPORT_INTAKE.name, report, report.report_id)
        await self.send(STATUS_CHANGED.name, received, report.report_id)

        async def shown() -> bool:
            r = await self.client.get(f"/v1/public/reports/{report.report_id}")
            return r.status_code == 200

        await eventually(shown, "the report shown publicly")
        return report.report_id

    async def prove(self, contact: str, address: str) -> httpx.Response:
        return await self.client.post(
            "/v1/reporter/session",
            json={"receipt_code": RECEIPT, "contact": contact},
            headers=self.from_address(address),
        )

    async def login(self, username: str, password: str, address: str) -> httpx.Response:
        return await self.client.post(
            "/v1/auth/login",
            json={"username": username, "password": password},
            headers=self.from_address(address),
        )


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
    app, _ = build(settings)
    producer = AIOKafkaProducer(bootstrap_servers=isolated.kafka)
    async with app.router.lifespan_context(app):
        await producer.start()
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
                gw = Gw(isolated, client, settings)
                gw.producer = producer
                yield gw
        finally:
            await producer.stop()


async def test_nul_bytes_that_reached_postgresql_are_a_400(gw: Gw) -> None:
    # Each of these was a 500 ("invalid byte sequence for encoding UTF8: 0x00").
    requests: list[tuple[str, str, dict[str, Any]]] = [
        ("POST", "/v1/auth/login", {"json": {"username": "a\x00", "password": "x"}}),
        ("POST", "/v1/reporter/session", {"json": {"receipt_code": "ADU-\x00", "contact": "a@b"}}),
        ("GET", "/v1/public/reports", {"params": {"area": "\x00"}}),
        ("GET", "/open311/v2/requests.json", {"params": {"service_code": "\x00"}}),
        ("GET", "/v1/public/track/ADU-%00", {}),
    ]
    for method, path, kwargs in requests:
        r = await gw.client.request(method, path, **kwargs)
        assert r.status_code == 400, (path, r.status_code, r.text)
        assert "NUL" in r.json()["detail"], (path, r.text)


async def test_open_data_csv_neutralises_formulas(gw: Gw) -> None:
    report_id = await gw.publish_report(FORMULA, title="@SUM(A1:A9)")
    r = await gw.client.get("/v1/public/export.csv")
    assert r.status_code == 200
    rows = {row["report_id"]: row for row in csv.DictReader(io.StringIO(r.text))}
    row = rows[str(report_id)]
    # Shown as text by a spreadsheet, the content unchanged after the apostrophe.
    assert row["text"].startswith("'=HYPERLINK("), row
    assert row["title"] == "'@SUM(A1:A9)", row
    assert not any(v.startswith(("=", "+", "-", "@")) for v in row.values())


async def test_a_receipt_holder_failing_on_purpose_does_not_lock_the_reporter_out(gw: Gw) -> None:
    await gw.publish_report("Jalan berlubang di depan pasar.")
    guesser = "203.0.113.5"
    answers = [(await gw.prove(f"tebak{i}@contoh.id", guesser)).status_code for i in range(12)]
    # The guesser waits (429 with Retry-After) after the receipt's free failures...
    assert answers[:5] == [404] * 5 and answers[-1] == 429, answers
    waiting = await gw.prove(CONTACT, guesser)
    # ...even with the right contact: a waiting guesser learns nothing.
    assert waiting.status_code == 429 and int(waiting.headers["Retry-After"]) > 0
    # The reporter, from their own address, is let in at once.
    r = await gw.prove(CONTACT, "198.51.100.7")
    assert r.status_code == 200, r.text
    assert r.json()["access_token"]
    # Guessing from many addresses: each new address is checked once, then waits on this
    # receipt (it is under attack), while the reporter still gets in.
    for n in range(3):
        address = f"192.0.2.{10 + n}"
        assert (await gw.prove("lain@contoh.id", address)).status_code == 404
        assert (await gw.prove("lain2@contoh.id", address)).status_code == 429
    assert (await gw.prove(CONTACT, "198.51.100.8")).status_code == 200
    # A wrong receipt code counts against the address as well (it is guessing too).
    for i in range(gw.settings.reporter_proof_source_failures + 1):
        await gw.client.post(
            "/v1/reporter/session",
            json={"receipt_code": f"ADU-ZZZZ-{i:04d}", "contact": CONTACT},
            headers=gw.from_address("192.0.2.99"),
        )
    assert (await gw.prove(CONTACT, "192.0.2.99")).status_code == 429


async def test_staff_sign_in_waits_after_wrong_passwords(
    gw: Gw, caplog: pytest.LogCaptureFixture
) -> None:
    admin = issue_access_token(gw.settings.jwt_secret, "admin-1", Role.ADMINISTRATOR)
    for username in ("sari.wulandari", "budi.hartono"):
        r = await gw.client.post(
            "/v1/admin/users",
            json={"username": username, "password": PASSWORD, "role": "validator"},
            headers={"Authorization": f"Bearer {admin}"},
        )
        assert r.status_code == 201, r.text
    caplog.clear()

    # Per account: wrong passwords from changing addresses, then the account waits, even
    # for the right password; another account is unaffected.
    codes = [
        (await gw.login("sari.wulandari", f"salah-{i}", f"203.0.113.{i}")).status_code
        for i in range(7)
    ]
    assert codes[:5] == [401] * 5 and codes[-1] == 429, codes
    waiting = await gw.login("Sari.Wulandari", PASSWORD, "198.51.100.1")
    assert waiting.status_code == 429 and int(waiting.headers["Retry-After"]) > 0
    assert "too many failed sign-ins" in waiting.json()["detail"]
    assert (await gw.login("budi.hartono", PASSWORD, "198.51.100.1")).status_code == 200

    # Per address: one address trying many accounts waits, for any account; others do not.
    attacker = "192.0.2.50"
    for i in range(gw.settings.login_source_failures + 1):
        assert (await gw.login(f"tebakan{i}", "salah-salah", attacker)).status_code == 401
    assert (await gw.login("budi.hartono", PASSWORD, attacker)).status_code == 429
    assert (await gw.login("budi.hartono", PASSWORD, "198.51.100.2")).status_code == 200

    text = caplog.text
    assert "sign-in failed" in text
    for secret in ("sari.wulandari", "Sari.Wulandari", "salah-1", PASSWORD, "tebakan1", attacker):
        assert secret not in text, secret
