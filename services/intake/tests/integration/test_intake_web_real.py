"""The web form on real PostgreSQL, Kafka and Redis: a post becomes exactly one
ReportSubmitted with a sealed identity, concurrent duplicates file once, bad input and
floods are refused, and an erasure request shreds the reporter's key."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from fastapi import FastAPI
from sqlalchemy import func, select

from aduan_contracts import decode, encode
from aduan_contracts.enums import Privacy, Role
from aduan_contracts.events import (
    ReporterErasureRequested,
    ReporterKeyIssued,
    ReporterKeyShredded,
    ReportSubmitted,
)
from aduan_contracts.topics import ERASURE_REQUESTS, REPORT_INTAKE, REPORTER_KEYS
from aduan_contracts.values import Actor
from aduan_intake.adapters.tables import REPORTER_KEYS as KEYS_TABLE
from aduan_intake.adapters.tables import SUBMISSIONS
from aduan_intake.bootstrap import FILING_ROUTES, build
from aduan_intake.config import Settings
from aduan_kit.crypto import open_identity
from aduan_kit.runtime import ServiceRuntime
from aduan_testing.kafka import read_topic
from aduan_testing.plugin import Isolation

pytestmark = pytest.mark.integration

JSON = {"Accept": "application/json"}
TEXT = "Got stuck: the drain on Jalan Kenari overflows every time it rains"


def settings_for(iso: Isolation, **overrides: Any) -> Settings:
    return Settings(
        kafka_bootstrap_servers=iso.kafka,
        database_url=iso.database("intake"),
        redis_url=iso.redis_url,
        redis_prefix=iso.redis_prefix,
        topic_namespace=iso.namespace,
        environment="test",
        **overrides,
    )


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[tuple[httpx.AsyncClient, ServiceRuntime]]:
    """The service as a test drives it: ASGITransport runs no lifespan, so start it here."""
    app, runtime = build(settings)
    await runtime.start()
    try:
        async with client_for(app) as client:
            yield client, runtime
    finally:
        await runtime.stop()


def client_for(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://intake")


async def count_messages(bootstrap: str, topic: str) -> int:
    """Every message ever written to `topic` (end offsets; no transactions are used)."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=None)
    await consumer.start()
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        assert partitions, f"no such topic {topic}"
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
        return sum(ends.values())
    finally:
        await consumer.stop()


async def test_a_posted_form_is_published_with_a_sealed_identity(isolated: Isolation) -> None:
    intake_topic = f"{isolated.namespace}.{REPORT_INTAKE.name}"
    keys_topic = f"{isolated.namespace}.{REPORTER_KEYS.name}"
    sid = str(uuid.uuid4())
    async with running(settings_for(isolated)) as (client, runtime):
        answer = await client.post(
            "/v1/channels/web",
            data={
                "text": TEXT,
                "title": "Saluran mampet",
                "name": "Siti Rahmawati",
                "contact": "siti.rahmawati@example.id",
                "lat": "-6.1754",
                "lon": "106.8272",
                "area": "Gambir",
                "submission_id": sid,
            },
            headers=JSON,
        )
        assert answer.status_code == 201, answer.text
        body = answer.json()
        assert body["status"] == "received"
        assert body["duplicate"] is False
        # A second report by the same reporter (phone differently written) reuses the key.
        html_answer = await client.post(
            "/v1/channels/web",
            data={"text": TEXT + " again", "contact": "SITI.Rahmawati@example.id"},
        )
        assert html_answer.status_code == 201
        assert html_answer.headers["content-type"].startswith("text/html")
        marker = 'class="code" role="status" aria-live="polite">'
        second_code = html_answer.text.split(marker)[1][:13]

        records = await read_topic(isolated.kafka, intake_topic, want=2)
        keys = await read_topic(isolated.kafka, keys_topic, want=1)
        async with runtime.sessions() as session:
            stored = (await session.execute(select(SUBMISSIONS))).all()

    assert len(records) == 2
    first = (
        records[0]
        if decode(REPORT_INTAKE, records[0].value).channel_message_id == sid
        else records[1]
    )
    event = decode(REPORT_INTAKE, first.value)
    assert isinstance(event, ReportSubmitted)
    assert str(event.report_id) == body["report_id"]
    assert event.receipt_code == body["receipt_code"]
    assert first.key == body["report_id"].encode()
    assert event.privacy is Privacy.PRIVATE
    assert event.location is not None and event.location.area == "Gambir"
    for record in records:
        raw = record.value + b"".join(v for _, v in record.headers or ())
        assert b"siti" not in raw.lower()
        assert b"Rahmawati" not in raw
    others = [decode(REPORT_INTAKE, r.value) for r in records if r is not first]
    assert others[0].receipt_code == second_code

    assert len(keys) == 1  # one reporter, one key
    issued = decode(REPORTER_KEYS, keys[0].value)
    assert isinstance(issued, ReporterKeyIssued)
    assert keys[0].key == str(issued.key_id).encode()
    assert event.reporter is not None
    assert event.reporter.key_id == issued.key_id == others[0].reporter.key_id
    identity = open_identity(event.reporter, base64.b64decode(issued.key))
    assert identity == {
        "name": "Siti Rahmawati",
        "contact": "siti.rahmawati@example.id",
        "handle": None,
    }
    assert {row.receipt_code for row in stored} == {body["receipt_code"], second_code}


async def test_the_same_submission_posted_concurrently_files_one_report(
    isolated: Isolation,
) -> None:
    settings = settings_for(isolated)
    intake_topic = f"{isolated.namespace}.{REPORT_INTAKE.name}"
    app_a, runtime_a = build(settings)
    app_b, runtime_b = build(settings)
    await runtime_a.start()
    await runtime_b.start()
    rounds = 5
    try:
        async with client_for(app_a) as a, client_for(app_b) as b:
            for _ in range(rounds):
                form = {
                    "text": TEXT,
                    "contact": "0812-1111-2222",
                    "submission_id": str(uuid.uuid4()),
                }
                one, two = await asyncio.gather(
                    a.post("/v1/channels/web", data=form, headers=JSON),
                    b.post("/v1/channels/web", data=form, headers=JSON),
                )
                assert sorted([one.status_code, two.status_code]) == [200, 201], (
                    one.text,
                    two.text,
                )
                assert one.json()["receipt_code"] == two.json()["receipt_code"]
                assert one.json()["report_id"] == two.json()["report_id"]
                assert sorted([one.json()["duplicate"], two.json()["duplicate"]]) == [False, True]
            # The same id with another complaint is not a retry, and reveals no receipt.
            clash = await a.post(
                "/v1/channels/web", data={**form, "text": TEXT + "!"}, headers=JSON
            )
            assert clash.status_code == 409
            assert "receipt_code" not in clash.text
        async with runtime_a.sessions() as session:
            filed = await session.scalar(select(func.count()).select_from(SUBMISSIONS))
            keys = await session.scalar(select(func.count()).select_from(KEYS_TABLE))
    finally:
        # Stopping drains both relays, so every committed event is on Kafka afterwards.
        await runtime_a.stop()
        await runtime_b.stop()
    assert filed == rounds
    assert keys == 1  # the same phone number under one key, despite the races
    assert await count_messages(isolated.kafka, intake_topic) == rounds
    events = [
        decode(REPORT_INTAKE, r.value)
        for r in await read_topic(isolated.kafka, intake_topic, want=rounds)
    ]
    assert len({e.report_id for e in events}) == rounds


async def test_bad_input_is_refused_with_the_field_named(isolated: Isolation) -> None:
    async with running(settings_for(isolated)) as (client, _):
        short = await client.post("/v1/channels/web", data={"text": "pendek"})
        contact = await client.post(
            "/v1/channels/web", data={"text": TEXT, "contact": "surat kaleng"}
        )
        lat = await client.post("/v1/channels/web", data={"text": TEXT, "lat": "-6.2"})
        missing = await client.post(
            "/v1/channels/web",
            files={"title": (None, "no text")},  # multipart, no text
        )
        as_json = await client.post("/v1/channels/web", json={"text": TEXT})
    assert short.status_code == 422
    assert short.json() == {
        "error": "invalid_field",
        "field": "text",
        "reason": "must be at least 10 characters",
    }
    assert (contact.status_code, contact.json()["field"]) == (422, "contact")
    assert "surat" not in contact.text
    assert (lat.status_code, lat.json()["field"]) == (422, "lon")
    assert (missing.status_code, missing.json()) == (
        422,
        {"error": "invalid_field", "field": "text", "reason": "is required"},
    )
    assert as_json.status_code == 415
    assert await count_messages(isolated.kafka, f"{isolated.namespace}.{REPORT_INTAKE.name}") == 0


async def test_a_flooding_sender_is_told_to_wait(isolated: Isolation) -> None:
    settings = settings_for(
        isolated, rate_limit_posts=3, rate_limit_window_s=60, trust_forwarded_for=True
    )
    flood = {"X-Forwarded-For": "203.0.113.7", **JSON}
    async with running(settings) as (client, runtime):
        allowed = [
            await client.post("/v1/channels/web", data={"text": TEXT}, headers=flood),
            await client.post("/v1/channels/web", data={"text": "short"}, headers=flood),
            await client.post("/v1/channels/web", data={"text": TEXT}, headers=flood),
        ]
        refused = await client.post("/v1/channels/web", data={"text": TEXT}, headers=flood)
        neighbour = await client.post(
            "/v1/channels/web",
            data={"text": TEXT},
            headers={"X-Forwarded-For": "198.51.100.2, 10.0.0.1", **JSON},
        )
        redis_keys = [k async for k in runtime.redis.scan_iter(match=f"{isolated.redis_prefix}*")]
    assert [r.status_code for r in allowed] == [201, 422, 201]
    assert refused.status_code == 429
    # Until the burst has slid out of the last 60 s: within two windows.
    assert 1 <= int(refused.headers["Retry-After"]) <= 2 * 60
    assert refused.json()["error"] == "rate_limited"
    assert "3" in refused.json()["reason"]
    assert neighbour.status_code == 201  # the limit is per sender
    assert redis_keys
    assert all(b"203.0.113.7" not in key for key in redis_keys)


# What Chromium sends with a form's POST.
BROWSER = {
    "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,"
    "image/webp,*/*;q=0.8"
}


async def test_a_browser_that_is_refused_gets_a_page_saying_why_in_both_languages(
    isolated: Isolation,
) -> None:
    settings = settings_for(
        isolated, rate_limit_posts=3, rate_limit_window_s=60, trust_forwarded_for=True
    )
    who = {"X-Forwarded-For": "203.0.113.9", **BROWSER}
    sid = str(uuid.uuid4())
    async with running(settings) as (client, _):
        short = await client.post("/v1/channels/web", data={"text": "pendek"}, headers=who)
        filed = await client.post(
            "/v1/channels/web", data={"text": TEXT, "submission_id": sid}, headers=who
        )
        # Back, the text changed, sent again from the same form.
        reused = await client.post(
            "/v1/channels/web", data={"text": f"{TEXT} Lagi.", "submission_id": sid}, headers=who
        )
        limited = await client.post("/v1/channels/web", data={"text": TEXT}, headers=who)
        script = await client.post(
            "/v1/channels/web", data={"text": "pendek"}, headers={"X-Forwarded-For": "198.51.100.4"}
        )
    for page in (short, reused, limited):
        assert page.headers["content-type"].startswith("text/html")
        assert page.headers["cache-control"] == "no-store"
        assert "{" not in page.text.split("<main>")[1]  # no JSON for a person to read
    for page in (short, limited):  # back to what they typed, to correct it or send it later
        assert "Kembali" in page.text and "Back" in page.text
    for page in (short, reused):
        assert 'href="/v1/channels/web"' in page.text  # a new form
    assert short.status_code == 422
    assert "Isi aduan</strong>: minimal 10 karakter" in short.text
    assert "Must be at least 10 characters" in short.text
    assert filed.status_code == 201 and "Aduan diterima" in filed.text
    assert reused.status_code == 409
    assert "Formulir sudah terpakai" in reused.text and "Open a new form" in reused.text
    assert limited.status_code == 429
    wait = limited.headers["Retry-After"]
    assert 1 <= int(wait) <= 120
    assert f"kirim lagi dalam {wait} detik" in limited.text
    assert f"send it again in {wait} seconds" in limited.text
    # A script that asks for nothing in particular keeps the JSON refusal.
    assert script.status_code == 422
    assert script.json()["field"] == "text"


async def test_erasure_shreds_the_key_once_and_a_returning_reporter_gets_a_new_one(
    isolated: Isolation,
) -> None:
    keys_topic = f"{isolated.namespace}.{REPORTER_KEYS.name}"
    async with running(settings_for(isolated)) as (client, runtime):
        first = await client.post(
            "/v1/channels/web", data={"text": TEXT, "contact": "+62 811 000 111"}, headers=JSON
        )
        assert first.status_code == 201
        issued = decode(
            REPORTER_KEYS, (await read_topic(isolated.kafka, keys_topic, want=1))[0].value
        )
        request = ReporterErasureRequested(
            key_id=issued.key_id, requested_by=Actor(id="admin-1", role=Role.ADMINISTRATOR)
        )
        producer = AIOKafkaProducer(bootstrap_servers=isolated.kafka)
        await producer.start()
        try:
            erasure_topic = f"{isolated.namespace}.{ERASURE_REQUESTS.name}"
            for _ in range(2):  # a redelivery changes nothing
                await producer.send_and_wait(
                    erasure_topic, encode(request), key=str(issued.key_id).encode()
                )
        finally:
            await producer.stop()
        records = await read_topic(isolated.kafka, keys_topic, want=2)
        again = await client.post(
            "/v1/channels/web", data={"text": TEXT, "contact": "0811000111"}, headers=JSON
        )
        assert again.status_code == 201
        after = await read_topic(isolated.kafka, keys_topic, want=3)
        async with runtime.sessions() as session:
            query = select(KEYS_TABLE).where(KEYS_TABLE.c.key_id == issued.key_id)
            row = (await session.execute(query)).one()
    # The keys topic has several partitions: order holds per key, not across keys.
    same_key = [r for r in records if r.key == str(issued.key_id).encode()]
    shredded = decode(REPORTER_KEYS, same_key[1].value)
    assert isinstance(shredded, ReporterKeyShredded)
    assert shredded.key_id == issued.key_id
    assert shredded.causation_id == str(request.event_id)
    assert (row.key, row.contact_digest) == (None, None)
    assert row.shredded_at is not None
    events = [decode(REPORTER_KEYS, r.value) for r in after]
    of_first = [type(e).__name__ for e in events if e.key_id == issued.key_id]
    assert of_first == ["ReporterKeyIssued", "ReporterKeyShredded"]
    others = [e for e in events if e.key_id != issued.key_id]
    assert [type(e).__name__ for e in others] == ["ReporterKeyIssued"]
    await asyncio.sleep(1)  # give a wrongly re-applied duplicate the time to show up
    assert await count_messages(isolated.kafka, keys_topic) == 3


def comparable(answer: httpx.Response) -> tuple[int, bytes, list[tuple[str, str]]]:
    headers = [(k, v) for k, v in answer.headers.items() if k not in ("date", "x-correlation-id")]
    return answer.status_code, answer.content, headers


async def test_every_filing_route_answers_alike_called_directly_or_through_fastapi(
    isolated: Isolation,
) -> None:
    """The channels' filing endpoints are called straight from behind the NUL guard
    (aduan_kit.direct, FILING_ROUTES): the answers are FastAPI's, byte for byte, for a
    filing, its duplicate, a refusal of each route, and a body with a NUL byte."""
    async with running(settings_for(isolated, rate_limit_posts=1000)) as (client, runtime):
        direct = runtime.direct
        endpoints = {
            path: direct.post_endpoint({"method": "POST", "path": path}) for path in FILING_ROUTES
        }
        assert all(endpoints.values())

        async def each_route() -> list[tuple[int, bytes, list[tuple[str, str]]]]:
            # No key, signature or token, or a form that is not one: refused by each.
            return [
                comparable(await client.post(path, data={"text": "pendek"}, headers=JSON))
                for path in FILING_ROUTES
            ] + [
                comparable(await client.post("/v1/channels/web", json={"text": TEXT})),
                comparable(await client.post("/v1/channels/web", data={"text": f"{TEXT}\x00"})),
            ]

        taken = sum(e.answered for e in endpoints.values() if e)
        direct_answers = await each_route()
        assert sum(e.answered for e in endpoints.values() if e) == taken + len(FILING_ROUTES) + 1
        direct.enabled = False
        fastapi_answers = await each_route()
        assert fastapi_answers == direct_answers
        assert {status for status, _, _ in direct_answers} <= {400, 401, 403, 415, 422}
        assert direct_answers[-1][0] == 400  # the NUL guard stands in front of both

        # A filing through FastAPI, its duplicate through the direct call, then again.
        form = {"text": TEXT, "submission_id": str(uuid.uuid4())}
        first = await client.post("/v1/channels/web", data=form, headers=JSON)
        direct.enabled = True
        again = await client.post("/v1/channels/web", data=form, headers=JSON)
        direct.enabled = False
        third = await client.post("/v1/channels/web", data=form, headers=JSON)
    assert first.status_code == 201
    assert comparable(again) == comparable(third)
    assert again.status_code == 200
    assert again.json()["receipt_code"] == first.json()["receipt_code"]
