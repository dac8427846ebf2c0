"""The notifier on real Kafka and PostgreSQL, delivering to simulated providers (a real SMTP
server and a local HTTP server, both from `aduan_notifier.sinks`): a status change reaches
the reporter once per channel, on their channel, with retries, dead letters and fallback;
staff-entered reports wait for intake; a shredded key silences the reporter for good."""

from __future__ import annotations

import asyncio
import base64
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from prometheus_client import REGISTRY
from pydantic import BaseModel
from sqlalchemy import func, select, text, update
from starlette.responses import JSONResponse, Response

from aduan_contracts import decode, encode
from aduan_contracts.enums import Channel, ReportStatus, Role, SlaStage
from aduan_contracts.events import (
    NotificationFailed,
    ReportAmended,
    ReporterKeyIssued,
    ReporterKeyShredded,
    ReportStatusChanged,
    ReportSubmitted,
    SlaBreached,
    SlaReminderDue,
)
from aduan_contracts.topics import (
    NOTIFICATIONS,
    REPORT_INTAKE,
    REPORTER_KEYS,
    SLA_EVENTS,
    STATUS_CHANGED,
)
from aduan_contracts.values import Actor, FollowUp
from aduan_kit.crypto import new_key, seal_identity
from aduan_kit.db import transaction
from aduan_kit.runtime import ServiceRuntime
from aduan_notifier.bootstrap import build
from aduan_notifier.config import Settings
from aduan_notifier.entrypoints.delivery import DeliveryWorker
from aduan_notifier.sinks import HttpSink, MailSink, Recorded
from aduan_notifier.tables import DELIVERIES, DELIVERY_ATTEMPTS, PENDING, RECIPIENTS
from aduan_notifier.tables import REPORTER_KEYS as KEYS
from aduan_testing.helpers import eventually, free_port
from aduan_testing.kafka import read_topic
from aduan_testing.plugin import Isolation

pytestmark = pytest.mark.integration

SYSTEM = {"id": "workflow", "role": Role.SYSTEM}
PORTAL = "https://aduan.example.go.id"
REPORT_TEXT = "Lampu jalan mati di depan rumah saya, Jl. Melati 7."
PHONE, PHONE_E164 = "081234567890", "+6281234567890"
TOKEN = "test-provider-token-1234"
SAFETY_POLL_S = 60.0


class World:
    """The notifier under test plus the outside world it talks to."""

    def __init__(
        self,
        iso: Isolation,
        runtime: ServiceRuntime,
        client: httpx.AsyncClient,
        producer: AIOKafkaProducer,
        http: HttpSink,
        mail: MailSink,
        worker: DeliveryWorker,
    ) -> None:
        self.iso, self.runtime, self.client, self.producer = iso, runtime, client, producer
        self.http, self.mail, self.worker = http, mail, worker
        # Scripted provider answers, per recipient address found in the request.
        self.script: dict[str, list[Response]] = {}

    async def respond(self, rec: Recorded) -> Response | None:
        for address, answers in self.script.items():
            if address in rec.body or address in rec.path:
                return answers.pop(0) if answers else None
        return None

    def requests_for(self, address: str) -> list[Recorded]:
        return [r for r in self.http.requests if address in r.body or address in r.path]

    async def publish(self, topic: str, event: BaseModel, key: uuid.UUID) -> None:
        await self.producer.send_and_wait(
            f"{self.iso.namespace}.{topic}", encode(event), key=str(key).encode()
        )

    async def deliveries(self, report_id: uuid.UUID) -> list[dict[str, Any]]:
        r = await self.client.get("/v1/deliveries", params={"report_id": str(report_id)})
        assert r.status_code == 200, r.text
        items: list[dict[str, Any]] = r.json()
        return items

    async def finished(self, report_id: uuid.UUID, count: int = 1) -> list[dict[str, Any]]:
        async def probe() -> list[dict[str, Any]] | None:
            items = await self.deliveries(report_id)
            done = [i for i in items if i["state"] in ("sent", "failed", "skipped")]
            return items if len(done) >= count else None

        result: list[dict[str, Any]] = await eventually(probe, f"{count} finished deliveries")
        return result

    async def scalar(self, query: Any) -> Any:
        async with self.runtime.sessions() as session:
            return await session.scalar(query)

    async def reporter(
        self, contact: str | None = None, handle: str | None = None
    ) -> tuple[uuid.UUID, bytes]:
        """A reporter key, published as intake does, so the notifier can open identities."""
        key_id, key = uuid.uuid4(), new_key()
        await self.publish(
            REPORTER_KEYS.name,
            ReporterKeyIssued(key_id=key_id, key=base64.b64encode(key).decode()),
            key_id,
        )
        return key_id, key


@pytest_asyncio.fixture
async def world(isolated: Isolation) -> AsyncIterator[World]:
    http = HttpSink()
    mail = MailSink()
    smtp_port = free_port()
    controller = mail.controller("127.0.0.1", smtp_port)
    controller.start()
    base = await http.start()
    settings = Settings(
        kafka_bootstrap_servers=isolated.kafka,
        database_url=isolated.database("notifier"),
        redis_url=isolated.redis_url,
        redis_prefix=isolated.redis_prefix,
        topic_namespace=isolated.namespace,
        environment="test",
        portal_base_url=PORTAL + "/",
        # The worker must be woken (by the subscribers' commits, by the retries it
        # schedules): every test here would time out waiting for this safety poll.
        delivery_poll_interval_s=SAFETY_POLL_S,
        retry_base_s=0.1,
        retry_cap_s=1.0,
        recipient_poll_s=0.2,
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        sms_url=f"{base}/sms/send",
        sms_api_key=TOKEN,
        whatsapp_base_url=f"{base}/wa",
        whatsapp_phone_number_id="555000111",
        whatsapp_token=TOKEN,
        whatsapp_templates={"received": "aduan_laporan_diterima"},
        messenger_base_url=f"{base}/graph",
        messenger_page_id="777",
        messenger_token=TOKEN,
        instagram_base_url=f"{base}/ig",
        instagram_account_id="888",
        instagram_token=TOKEN,
        x_base_url=f"{base}/x",
        x_token=TOKEN,
        push_url=f"{base}/push",
        push_token=TOKEN,
        sla_apology_stages=["follow_up"],
    )
    app, runtime = build(settings)
    worker: DeliveryWorker = app.state.deliveries
    producer = AIOKafkaProducer(bootstrap_servers=isolated.kafka)
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(app.router.lifespan_context(app))
        await producer.start()
        stack.push_async_callback(producer.stop)
        stack.push_async_callback(http.stop)
        stack.callback(controller.stop)
        transport = httpx.ASGITransport(app=app)
        client = await stack.enter_async_context(
            httpx.AsyncClient(transport=transport, base_url="http://notifier")
        )
        w = World(isolated, runtime, client, producer, http, mail, worker)
        http.responder = w.respond
        yield w


def code() -> str:
    # Hex digits are all valid in the receipt code's Crockford alphabet.
    return f"ADU-{uuid.uuid4().hex[:4].upper()}-{uuid.uuid4().hex[:4].upper()}"


def status(
    report_id: uuid.UUID,
    receipt: str,
    channel: Channel,
    version: int,
    from_status: ReportStatus | None,
    to_status: ReportStatus,
    **extra: Any,
) -> ReportStatusChanged:
    return ReportStatusChanged.model_validate(
        {
            "report_id": report_id,
            "receipt_code": receipt,
            "channel": channel,
            "version": version,
            "from_status": from_status,
            "to_status": to_status,
            "actor": SYSTEM,
            **extra,
        }
    )


def submitted(
    report_id: uuid.UUID,
    receipt: str,
    channel: Channel,
    language: str = "id",
    key: tuple[uuid.UUID, bytes] | None = None,
    contact: str | None = None,
    handle: str | None = None,
    received_at: datetime | None = None,
) -> ReportSubmitted:
    reporter = None
    if key is not None:
        identity = {"name": "Siti Rahmawati", "contact": contact, "handle": handle}
        reporter = seal_identity(identity, key[0], key[1])
    return ReportSubmitted(
        report_id=report_id,
        receipt_code=receipt,
        channel=channel,
        channel_message_id=uuid.uuid4().hex,
        text=REPORT_TEXT,
        language=language,  # type: ignore[arg-type]
        received_at=received_at or datetime.now(UTC),
        reporter=reporter,
    )


def metric(name: str, channel: str) -> float:
    return REGISTRY.get_sample_value(name, {"channel": channel}) or 0.0


async def file_report(
    w: World,
    channel: Channel,
    contact: str | None = None,
    handle: str | None = None,
    language: str = "id",
    received_at: datetime | None = None,
) -> tuple[uuid.UUID, str]:
    rid, receipt = uuid.uuid4(), code()
    key = await w.reporter()
    await w.publish(
        REPORT_INTAKE.name,
        submitted(rid, receipt, channel, language, key, contact, handle, received_at),
        rid,
    )
    return rid, receipt


async def handled_before(w: World, rid: uuid.UUID, marker_contact: str) -> None:
    """Wait until what was published on `rid`'s partition so far was handled: a marker
    report's status change published after it on the same partition (key `rid`) is
    delivered, so anything before it was handled (or ignored) already."""
    marker, marker_code = await file_report(w, Channel.SMS, contact=marker_contact)
    await w.publish(
        STATUS_CHANGED.name,
        status(marker, marker_code, Channel.SMS, 1, None, ReportStatus.RECEIVED),
        rid,
    )
    await w.finished(marker)


# --- exactly once, on the reporter's channel ------------------------------------------------------


async def test_same_status_change_twice_sends_once(world: World) -> None:
    w = world
    rid, receipt = await file_report(w, Channel.SMS, contact=PHONE)
    event = status(rid, receipt, Channel.SMS, 1, None, ReportStatus.RECEIVED)
    sent_before = metric("aduan_notifier_sent_total", "sms")
    await w.publish(STATUS_CHANGED.name, event, rid)
    await w.publish(STATUS_CHANGED.name, event, rid)  # redelivered: same event id

    [item] = await w.finished(rid)
    assert metric("aduan_notifier_sent_total", "sms") == sent_before + 1
    await handled_before(w, rid, "081299990000")
    assert len(await w.deliveries(rid)) == 1
    assert item["state"] == "sent" and item["attempts"] == 1 and item["transport"] == "sms"
    assert item["template"] == "received" and item["receipt_code"] == receipt
    assert "body" not in item

    [sms] = w.requests_for(PHONE_E164)
    assert sms.path == "/sms/send"
    assert sms.header("authorization") == f"Bearer {TOKEN}"
    assert sms.json["to"] == PHONE_E164
    assert sms.json["sender_id"] == "ADUAN"
    assert receipt in sms.json["message"]
    assert f"{PORTAL}/track/{receipt}" in sms.json["message"]
    assert REPORT_TEXT not in sms.json["message"]
    assert sms.header("idempotency-key") == sms.json["reference"]

    # A message sent is not announced (NotificationDelivered had no consumer, issue 18):
    # the row above is its record; only a delivery given up on goes on the topic.
    records = await read_topic(w.iso.kafka, f"{w.iso.namespace}.{NOTIFICATIONS.name}", settle=2.0)
    assert [r for r in records if r.key == str(rid).encode()] == []


async def test_a_report_routed_as_it_was_opened_is_told_once(world: World) -> None:
    """Workflow's auto-routing records `received` and `dispatched` together: the reporter
    gets one SMS saying both (receipt code, tracking link, forwarded), and the dispatch is
    recorded once as told with the receipt, never sent, also when redelivered."""
    w = world
    rid, receipt = await file_report(w, Channel.SMS, contact=PHONE)
    opened = status(rid, receipt, Channel.SMS, 1, None, ReportStatus.RECEIVED)
    routed = status(rid, receipt, Channel.SMS, 2, ReportStatus.RECEIVED, ReportStatus.DISPATCHED)
    # One produce batch, as workflow's relay sends the two rows of one transaction.
    topic = f"{w.iso.namespace}.{STATUS_CHANGED.name}"
    sent = [
        await w.producer.send(topic, encode(event), key=str(rid).encode())
        for event in (opened, routed)
    ]
    await asyncio.gather(*sent)

    items = await w.finished(rid, count=2)
    by_template = {i["template"]: i for i in items}
    assert set(by_template) == {"received_dispatched", "dispatched"}
    assert by_template["received_dispatched"]["state"] == "sent"
    told = by_template["dispatched"]
    assert (told["state"], told["attempts"], told["last_error"]) == (
        "skipped",
        0,
        "told with the receipt",
    )
    [sms] = w.requests_for(PHONE_E164)
    assert sms.json["message"] == (
        f"Aduan: Laporan {receipt} sudah kami terima dan diteruskan ke instansi yang berwenang. "
        f"Pantau: {PORTAL}/track/{receipt}"
    )

    # The dispatch redelivered (same event id): still one row each, still one SMS.
    await w.publish(STATUS_CHANGED.name, routed, rid)
    await handled_before(w, rid, "081299990001")
    assert len(await w.deliveries(rid)) == 2
    assert len(w.requests_for(PHONE_E164)) == 1


async def test_email_round_trip_in_the_reporters_language_and_sla_apology(world: World) -> None:
    w = world
    address = "siti.rahma@example.org"
    rid, receipt = await file_report(w, Channel.EMAIL, contact=address, language="en")
    await eventually(
        lambda: w.scalar(select(RECIPIENTS.c.language).where(RECIPIENTS.c.report_id == rid)),
        "the recipient row",
    )
    # An internal step says nothing; the dispatch does.
    await w.publish(
        STATUS_CHANGED.name,
        status(rid, receipt, Channel.EMAIL, 2, ReportStatus.RECEIVED, ReportStatus.COORDINATION),
        rid,
    )
    await w.publish(
        STATUS_CHANGED.name,
        status(rid, receipt, Channel.EMAIL, 3, ReportStatus.COORDINATION, ReportStatus.DISPATCHED),
        rid,
    )
    [item] = await w.finished(rid)
    assert (item["template"], item["language"], item["state"]) == ("dispatched", "en", "sent")
    [mail] = [m for m in w.mail.messages if address in m.rcpt_to]
    msg = mail.parsed()
    assert msg["To"] == address
    assert msg["Subject"] == f"Report {receipt} forwarded"
    assert msg["Message-ID"].endswith("@aduan.notifier>")
    assert msg.get_content_type() == "multipart/alternative"
    plain = msg.get_body(("plain",)).get_content()
    rich = msg.get_body(("html",)).get_content()
    assert "forwarded to the responsible agency" in plain
    # An English reporter is sent to the English tracking page.
    assert f'<a href="{PORTAL}/track/{receipt}?lang=en">' in rich
    assert REPORT_TEXT not in plain and REPORT_TEXT not in rich

    # An SLA breach earns an apology only for the configured stages (here: follow_up).
    due = datetime.now(UTC) - timedelta(hours=1)
    reminder = SlaReminderDue(report_id=rid, stage=SlaStage.FOLLOW_UP, due_at=due)
    triage = SlaBreached(report_id=rid, stage=SlaStage.TRIAGE, due_at=due)
    breach = SlaBreached(report_id=rid, stage=SlaStage.FOLLOW_UP, due_at=due)
    for event in (reminder, triage, breach, breach):  # the last one redelivered
        await w.publish(SLA_EVENTS.name, event, rid)
    items = await w.finished(rid, 2)
    assert [(i["template"], i["status_event_id"]) for i in items][1:] == [
        ("sla_apology", str(breach.event_id))
    ]
    apologies = [m.parsed() for m in w.mail.messages if address in m.rcpt_to][1:]
    assert [m["Subject"] for m in apologies] == [f"Sorry, report {receipt} is delayed"]


async def test_completion_tells_what_the_agency_did_by_email_only(world: World) -> None:
    """The agency's follow-up note (an internal step, no message of its own) is kept and
    told on completion by e-mail; an SMS reporter hears only "resolved" (no free text in a
    short message)."""
    w = world
    note = "Lubang ditambal dengan aspal panas dan dipadatkan."
    address = "rina.wati@example.org"
    officer = Actor(id="off-1", role=Role.AGENCY_OFFICER, agency_id="dbm")
    follow_up = FollowUp(follow_up_id=uuid.uuid4(), note=note, officer=officer)
    for channel, contact in ((Channel.EMAIL, address), (Channel.SMS, PHONE)):
        rid, receipt = await file_report(w, channel, contact=contact)
        await eventually(
            lambda rid=rid: w.scalar(
                select(RECIPIENTS.c.channel).where(RECIPIENTS.c.report_id == rid)
            ),
            "the recipient row",
        )
        steps = [
            (ReportStatus.IN_PROGRESS, ReportStatus.AWAITING_VALIDATION, {"follow_up": follow_up}),
            (ReportStatus.AWAITING_VALIDATION, ReportStatus.COMPLETED, {}),
        ]
        for version, (before, after, extra) in enumerate(steps, start=5):
            await w.publish(
                STATUS_CHANGED.name,
                status(rid, receipt, channel, version, before, after, **extra),
                rid,
            )
        [item] = await w.finished(rid)
        assert (item["template"], item["state"]) == ("completed", "sent")
        if channel is Channel.EMAIL:
            [mail] = [m for m in w.mail.messages if address in m.rcpt_to]
            plain = mail.parsed().get_body(("plain",)).get_content()
            assert "selesai ditindaklanjuti" in plain
            assert f"Yang dikerjakan instansi: {note}" in plain
        else:
            [sms] = [r for r in w.http.requests if receipt in r.body]
            assert "selesai" in sms.body and note not in sms.body


# --- retries, dead letters, failures view ---------------------------------------------------------


async def test_5xx_is_retried_then_succeeds(world: World) -> None:
    w = world
    phone = "081211112222"
    w.script["+6281211112222"] = [
        JSONResponse({"error": "upstream"}, status_code=503),
        JSONResponse({"error": "busy"}, status_code=429, headers={"Retry-After": "1"}),
    ]
    retried_before = metric("aduan_notifier_retried_total", "sms")
    rid, receipt = await file_report(w, Channel.SMS, contact=phone)
    await w.publish(
        STATUS_CHANGED.name, status(rid, receipt, Channel.SMS, 1, None, ReportStatus.RECEIVED), rid
    )
    [item] = await w.finished(rid)
    assert item["state"] == "sent" and item["attempts"] == 3
    calls = w.requests_for("+6281211112222")
    assert [c.answer_status for c in calls] == [503, 429, 200]
    # Every attempt carries the same idempotency key, so the gateway can drop repeats.
    assert len({c.header("idempotency-key") for c in calls}) == 1
    # Retry-After: 1 is a floor, although the backoff alone would be ~0.2 s.
    assert calls[2].at - calls[1].at >= 0.95
    assert metric("aduan_notifier_retried_total", "sms") == retried_before + 2
    async with w.runtime.sessions() as session:
        outcomes = (
            await session.execute(
                select(DELIVERY_ATTEMPTS.c.outcome).order_by(DELIVERY_ATTEMPTS.c.attempt)
            )
        ).scalars()
        assert list(outcomes)[-3:] == ["transient", "transient", "sent"]


async def test_4xx_lands_in_the_dead_letter_topic_and_the_failures_view(world: World) -> None:
    w = world
    phone = "081233334444"
    w.script["+6281233334444"] = [
        JSONResponse(
            {"error": {"code": 21211, "message": "Invalid 'To' +6281233334444"}}, status_code=400
        )
    ]
    rid, receipt = await file_report(w, Channel.SMS, contact=phone)
    event = status(rid, receipt, Channel.SMS, 1, None, ReportStatus.RECEIVED)
    await w.publish(STATUS_CHANGED.name, event, rid)
    [item] = await w.finished(rid)
    assert item["state"] == "failed" and item["attempts"] == 1  # never retried
    assert len(w.requests_for("+6281233334444")) == 1
    assert item["last_error"] == "sms: HTTP 400, code 21211"  # no echo of the number

    failures = (await w.client.get("/v1/failures", params={"channel": "sms"})).json()
    mine = [f for f in failures if f["report_id"] == str(rid)]
    assert len(mine) == 1 and mine[0]["error"] == "sms: HTTP 400, code 21211"

    dlq = await read_topic(w.iso.kafka, f"{w.iso.namespace}.{NOTIFICATIONS.name}.dlq", settle=2.0)
    ours = [r for r in dlq if r.key == str(rid).encode()]
    assert len(ours) == 1
    headers = {k: v.decode() for k, v in ours[0].headers}
    assert headers["dlq_error"] == "sms: HTTP 400, code 21211"
    assert headers["dlq_attempts"] == "1" and headers["dlq_transport"] == "sms"
    dead = decode(NOTIFICATIONS, ours[0].value)
    assert isinstance(dead, NotificationFailed) and dead.status_event_id == event.event_id

    records = await read_topic(w.iso.kafka, f"{w.iso.namespace}.{NOTIFICATIONS.name}", settle=0.5)
    announced = [decode(NOTIFICATIONS, r.value) for r in records if r.key == str(rid).encode()]
    assert [type(e).__name__ for e in announced] == ["NotificationFailed"]


# --- WhatsApp's window, templates and fallback; public channels -----------------------------------


async def test_whatsapp_window_template_and_sms_fallback(world: World) -> None:
    w = world
    wa_id = "6281255556666"
    long_ago = datetime.now(UTC) - timedelta(days=2)
    # Inside the window: free-form text.
    inside, code_in = await file_report(w, Channel.WHATSAPP, contact=PHONE, handle=wa_id)
    await w.publish(
        STATUS_CHANGED.name,
        status(inside, code_in, Channel.WHATSAPP, 1, None, ReportStatus.RECEIVED),
        inside,
    )
    await w.finished(inside)
    # Outside it, with an approved template for "received": the template.
    other_wa = "6281277778888"
    outside, code_out = await file_report(
        w, Channel.WHATSAPP, contact="081277778888", handle=other_wa, received_at=long_ago
    )
    await w.publish(
        STATUS_CHANGED.name,
        status(outside, code_out, Channel.WHATSAPP, 1, None, ReportStatus.RECEIVED),
        outside,
    )
    await w.finished(outside)
    # Outside it, and no template for "dispatched": SMS to the same reporter instead.
    await w.publish(
        STATUS_CHANGED.name,
        status(
            outside, code_out, Channel.WHATSAPP, 2, ReportStatus.RECEIVED, ReportStatus.DISPATCHED
        ),
        outside,
    )
    items = await w.finished(outside, 2)
    assert [(i["template"], i["transport"], i["state"]) for i in items] == [
        ("received", "whatsapp", "sent"),
        ("dispatched", "sms", "sent"),
    ]

    [free] = [r for r in w.requests_for(wa_id) if r.path.startswith("/wa/")]
    assert free.path == "/wa/v21.0/555000111/messages"
    assert free.header("authorization") == f"Bearer {TOKEN}"
    assert free.json["messaging_product"] == "whatsapp" and free.json["to"] == wa_id
    assert free.json["type"] == "text" and code_in in free.json["text"]["body"]
    assert REPORT_TEXT not in free.body

    [templated] = [r for r in w.requests_for(other_wa) if r.path.startswith("/wa/")]
    assert templated.json["type"] == "template"
    assert templated.json["template"]["name"] == "aduan_laporan_diterima"
    assert templated.json["template"]["language"] == {"code": "id"}
    params = templated.json["template"]["components"][0]["parameters"]
    assert params == [{"type": "text", "text": code_out}]

    [fallback] = w.requests_for("+6281277778888")
    assert fallback.path == "/sms/send" and code_out in fallback.json["message"]

    # The reporter writes again: the window reopens, and free-form text is allowed again.
    await w.publish(
        REPORT_INTAKE.name,
        ReportAmended(
            report_id=outside,
            channel=Channel.WHATSAPP,
            channel_message_id=uuid.uuid4().hex,
            text="Masih belum diperbaiki",
            received_at=datetime.now(UTC),
        ),
        outside,
    )
    await w.publish(
        STATUS_CHANGED.name,
        status(
            outside,
            code_out,
            Channel.WHATSAPP,
            3,
            ReportStatus.DISPATCHED,
            ReportStatus.IN_PROGRESS,
        ),
        outside,
    )
    items = await w.finished(outside, 3)
    assert (items[2]["template"], items[2]["transport"]) == ("in_progress", "whatsapp")


PUBLIC = [
    (Channel.X, "/x/2/dm_conversations/with/{h}/messages", "1459876543210"),
    (Channel.FACEBOOK, "/graph/v21.0/777/messages", "6011223344"),
    (Channel.INSTAGRAM, "/ig/v21.0/888/messages", "17841400000000"),
]


async def test_public_channels_get_a_private_dm_without_report_text(world: World) -> None:
    w = world
    filed: list[tuple[Channel, str, str, uuid.UUID, str]] = []
    for channel, path, handle in PUBLIC:
        rid, receipt = await file_report(w, channel, handle=handle)
        filed.append((channel, path, handle, rid, receipt))
        await w.publish(
            STATUS_CHANGED.name, status(rid, receipt, channel, 1, None, ReportStatus.RECEIVED), rid
        )
        await w.publish(
            STATUS_CHANGED.name,
            status(
                rid,
                receipt,
                channel,
                2,
                ReportStatus.RECEIVED,
                ReportStatus.REJECTED,
                reason="Bukan wewenang; pelapor Siti Rahmawati",
            ),
            rid,
        )
    for channel, path, handle, rid, receipt in filed:
        items = await w.finished(rid, 2)
        assert all(i["state"] == "sent" for i in items)
        calls = w.requests_for(handle)
        assert len(calls) == 2
        for call in calls:
            assert call.path == path.format(h=handle)
            assert call.header("authorization") == f"Bearer {TOKEN}"
            assert REPORT_TEXT not in call.body and "Siti" not in call.body
            assert "Bukan wewenang" not in call.body  # the reason stays out of DMs
            if channel is Channel.X:
                assert set(call.json) == {"text"}
            else:
                assert call.json["recipient"] == {"id": handle}
                assert call.json["messaging_type"] == "RESPONSE"  # inside the 24-hour window
        assert receipt in calls[0].body


# --- who gets nothing -----------------------------------------------------------------------------


async def test_walk_in_waits_for_intake_and_needs_a_contact(world: World) -> None:
    w = world
    key = await w.reporter()
    with_contact, without = uuid.uuid4(), uuid.uuid4()
    code_with, code_without = code(), code()
    # Workflow's first status change usually overtakes intake's event at the notifier.
    for rid, receipt in ((with_contact, code_with), (without, code_without)):
        await w.publish(
            STATUS_CHANGED.name,
            status(rid, receipt, Channel.WALK_IN, 1, None, ReportStatus.RECEIVED),
            rid,
        )

    async def parked() -> bool:
        return bool(await w.scalar(select(func.count()).select_from(PENDING)) == 2)

    await eventually(parked, "both status changes to be parked")
    assert await w.deliveries(with_contact) == []

    await w.publish(
        REPORT_INTAKE.name,
        submitted(with_contact, code_with, Channel.WALK_IN, key=key, contact="081244445555"),
        with_contact,
    )
    await w.publish(REPORT_INTAKE.name, submitted(without, code_without, Channel.WALK_IN), without)
    [item] = await w.finished(with_contact)
    assert (item["template"], item["transport"], item["state"]) == ("received", "sms", "sent")
    [sms] = w.requests_for("+6281244445555")
    assert code_with in sms.json["message"]

    async def resolved() -> bool:
        return bool(await w.scalar(select(func.count()).select_from(PENDING)) == 0)

    await eventually(resolved, "the parked changes to be resolved")
    await w.publish(
        STATUS_CHANGED.name,
        status(
            without,
            code_without,
            Channel.WALK_IN,
            2,
            ReportStatus.RECEIVED,
            ReportStatus.DISPATCHED,
        ),
        without,
    )
    # The identity is stored sealed; only the worker opens it, in memory.
    sealed = await w.scalar(
        select(RECIPIENTS.c.sealed_identity).where(RECIPIENTS.c.report_id == with_contact)
    )
    assert sealed["key_id"] == str(key[0]) and "Siti" not in str(sealed)
    marker, marker_code = await file_report(w, Channel.APP, handle="device-abc")
    await w.publish(
        STATUS_CHANGED.name,
        status(marker, marker_code, Channel.APP, 1, None, ReportStatus.RECEIVED),
        without,  # same key, same partition: handled after it
    )
    await w.finished(marker)
    assert await w.deliveries(without) == []
    [push] = w.requests_for("device-abc")
    assert push.path == "/push" and push.header("authorization") == f"Bearer {TOKEN}"
    assert (
        push.json["recipient"] == "device-abc" and push.json["data"]["receipt_code"] == marker_code
    )


async def test_shredded_key_erases_the_reporter(world: World) -> None:
    w = world
    key_id, key = await w.reporter()
    rid, receipt = uuid.uuid4(), code()
    wa_id = "6281299990001"
    await w.publish(
        REPORT_INTAKE.name,
        submitted(rid, receipt, Channel.WHATSAPP, key=(key_id, key), handle=wa_id),
        rid,
    )
    await w.publish(
        STATUS_CHANGED.name,
        status(rid, receipt, Channel.WHATSAPP, 1, None, ReportStatus.RECEIVED),
        rid,
    )
    await w.finished(rid)
    assert len(w.requests_for(wa_id)) == 1
    assert await w.scalar(select(KEYS.c.key).where(KEYS.c.key_id == key_id))

    await w.publish(REPORTER_KEYS.name, ReporterKeyShredded(key_id=key_id), key_id)

    async def erased() -> bool:
        erased_at = await w.scalar(
            select(RECIPIENTS.c.erased_at).where(RECIPIENTS.c.report_id == rid)
        )
        return erased_at is not None

    await eventually(erased, "the erasure")
    assert await w.scalar(select(KEYS.c.key).where(KEYS.c.key_id == key_id)) is None
    assert (
        await w.scalar(select(RECIPIENTS.c.sealed_identity).where(RECIPIENTS.c.report_id == rid))
        is None
    )
    await w.publish(
        STATUS_CHANGED.name,
        status(rid, receipt, Channel.WHATSAPP, 2, ReportStatus.RECEIVED, ReportStatus.DISPATCHED),
        rid,
    )
    marker, marker_code = await file_report(w, Channel.SMS, contact="081299990002")
    await w.publish(
        STATUS_CHANGED.name,
        status(marker, marker_code, Channel.SMS, 1, None, ReportStatus.RECEIVED),
        rid,  # same key, same partition: handled after it
    )
    await w.finished(marker)
    assert [i["template"] for i in await w.deliveries(rid)] == ["received"]
    assert len(w.requests_for(wa_id)) == 1  # nothing more reached the erased reporter


# --- woken, not polling; claims and outcomes in groups --------------------------------------------


async def test_worker_is_woken_by_the_commit_and_does_not_poll_while_idle(world: World) -> None:
    w = world
    rid, receipt = await file_report(w, Channel.APP, handle="device-wake")
    await eventually(
        lambda: w.scalar(select(RECIPIENTS.c.report_id).where(RECIPIENTS.c.report_id == rid)),
        "the recipient row",
    )
    # Idle: no claim at all (the safety poll is a minute away).
    claims = w.worker.claims
    await asyncio.sleep(1.5)
    assert w.worker.claims == claims

    published = time.time()  # the sink stamps requests with the wall clock
    await w.publish(
        STATUS_CHANGED.name, status(rid, receipt, Channel.APP, 1, None, ReportStatus.RECEIVED), rid
    )
    [item] = await w.finished(rid)
    [push] = w.requests_for("device-wake")
    assert item["state"] == "sent"
    # Generous: a loaded machine takes a second or two; the poll would take a minute.
    assert push.at - published < SAFETY_POLL_S / 4


def held_provider(w: World, marker: str, burst: int, stagger_s: float = 0.0) -> list[Recorded]:
    """The provider holds every call carrying `marker` until all `burst` arrived (so all
    are in flight at once), then answers them, the n-th after n x `stagger_s`; returns the
    calls held."""
    release = asyncio.Event()
    held: list[Recorded] = []

    async def respond(rec: Recorded) -> Response | None:
        if marker in rec.body and not release.is_set():
            held.append(rec)
            mine = len(held)
            if mine == burst:
                release.set()
            await release.wait()
            await asyncio.sleep(stagger_s * mine)
        return await w.respond(rec)

    w.http.responder = respond
    return held


async def app_reports(w: World, marker: str, count: int) -> list[tuple[uuid.UUID, str]]:
    """`count` app reports whose devices carry `marker`, their recipients recorded."""
    reports = [await file_report(w, Channel.APP, handle=f"{marker}{n}") for n in range(count)]
    for rid, _ in reports:
        await eventually(
            lambda rid=rid: w.scalar(
                select(RECIPIENTS.c.report_id).where(RECIPIENTS.c.report_id == rid)
            ),
            "the recipient rows",
        )
    return reports


async def all_received_and_sent(w: World, reports: list[tuple[uuid.UUID, str]]) -> None:
    """Each report's `received` step published; returns once each was sent, first try."""
    for rid, receipt in reports:
        await w.publish(
            STATUS_CHANGED.name,
            status(rid, receipt, Channel.APP, 1, None, ReportStatus.RECEIVED),
            rid,
        )
    for rid, _ in reports:
        [item] = await w.finished(rid)
        assert item["state"] == "sent" and item["attempts"] == 1


async def test_a_burst_is_claimed_and_recorded_in_groups(world: World) -> None:
    w = world
    burst = 12
    held = held_provider(w, "device-burst-", burst)
    reports = await app_reports(w, "device-burst-", burst)
    claims = w.worker.claims
    writes = w.worker.writes
    await all_received_and_sent(w, reports)
    # Every call was in flight at once (the provider answered none before all arrived),
    # and their outcomes, ready together, went out in far fewer transactions than calls.
    assert len(held) == burst
    assert w.worker.writes - writes < burst / 2
    assert w.worker.claims - claims <= burst
    # Sent messages are not announced: nothing on the topic for any of them.
    records = await read_topic(w.iso.kafka, f"{w.iso.namespace}.{NOTIFICATIONS.name}", settle=2.0)
    keys = {str(rid).encode() for rid, _ in reports}
    assert [r for r in records if r.key in keys] == []


async def test_outcomes_finishing_a_few_ms_apart_share_one_write(world: World) -> None:
    """The provider answers a burst one call every 3 ms: each outcome is ready alone, and
    without the linger each would be its own statement. While other calls are in flight an
    outcome waits (DELIVERY_OUTCOME_LINGER_MS, 20 by default) for theirs."""
    w = world
    burst = 10
    held = held_provider(w, "device-stagger-", burst, stagger_s=0.003)
    reports = await app_reports(w, "device-stagger-", burst)
    writes = w.worker.writes
    await all_received_and_sent(w, reports)
    assert len(held) == burst
    # Answers spread over 30 ms, recorded in a few statements, not one each.
    assert w.worker.writes - writes <= 3, w.worker.writes - writes


async def waits_long(w: World, rid: uuid.UUID) -> None:
    """Until the delivery was claimed, found nobody to open and was put back for
    RECIPIENT_POLL_S. A young delivery looks again after half its age; it is made old
    here so that only the event it waits for can make it due before the test ends."""

    async def put_back_for_long() -> bool:
        async with transaction(w.runtime.sessions) as session:
            await session.execute(
                update(DELIVERIES)
                .where(DELIVERIES.c.report_id == rid)
                .values(created_at=func.now() - timedelta(minutes=10))
            )
        due = await w.scalar(
            select(DELIVERIES.c.next_attempt_at).where(
                DELIVERIES.c.report_id == rid,
                DELIVERIES.c.state == "pending",
                DELIVERIES.c.attempts == 0,
            )
        )
        return due is not None and due > datetime.now(UTC) + timedelta(seconds=10)

    await eventually(put_back_for_long, "the delivery to wait for its recipient")


async def test_a_delivery_waiting_for_its_recipient_goes_out_when_intake_arrives(
    world: World,
) -> None:
    w = world
    # Longer than the test may take: only intake's event can make the delivery due.
    w.worker.settings.recipient_poll_s = SAFETY_POLL_S
    rid, receipt = uuid.uuid4(), code()
    await w.publish(
        STATUS_CHANGED.name, status(rid, receipt, Channel.APP, 1, None, ReportStatus.RECEIVED), rid
    )

    await waits_long(w, rid)
    key = await w.reporter()
    published = time.time()
    await w.publish(
        REPORT_INTAKE.name,
        submitted(rid, receipt, Channel.APP, key=key, handle="device-overtaken"),
        rid,
    )
    [item] = await w.finished(rid)
    [push] = w.requests_for("device-overtaken")
    assert item["state"] == "sent" and item["attempts"] == 1  # waiting is not an attempt
    assert push.at - published < SAFETY_POLL_S / 4


async def test_a_delivery_waiting_for_the_key_goes_out_when_the_key_arrives(world: World) -> None:
    w = world
    w.worker.settings.recipient_poll_s = SAFETY_POLL_S
    rid, receipt = uuid.uuid4(), code()
    key_id, key = uuid.uuid4(), new_key()
    # Intake's event and the status change overtake the reporter's key.
    await w.publish(
        REPORT_INTAKE.name,
        submitted(rid, receipt, Channel.APP, key=(key_id, key), handle="device-keyless"),
        rid,
    )
    await w.publish(
        STATUS_CHANGED.name, status(rid, receipt, Channel.APP, 1, None, ReportStatus.RECEIVED), rid
    )

    await waits_long(w, rid)
    published = time.time()
    await w.publish(
        REPORTER_KEYS.name,
        ReporterKeyIssued(key_id=key_id, key=base64.b64encode(key).decode()),
        key_id,
    )
    [item] = await w.finished(rid)
    [push] = w.requests_for("device-keyless")
    assert item["state"] == "sent" and item["attempts"] == 1
    assert push.at - published < SAFETY_POLL_S / 4


_HOT_TABLES = ("deliveries", "delivery_attempts", "recipients", "reporter_keys")


async def _rows_read_by_scans(w: World) -> dict[str, int]:
    """Rows each of the worker's tables had read by sequential scans so far, with the
    worker's own connections' counts flushed first (a backend reports them lazily)."""
    async with AsyncExitStack() as stack:
        for _ in range(3):  # the worker's pool at its fullest (two and one overflow)
            conn = await stack.enter_async_context(w.worker._autocommit())
            await conn.execute("SELECT pg_stat_force_next_flush()")
            await conn.execute("SELECT 1")  # runs after the flush
    async with w.runtime.sessions() as session:
        found = await session.execute(
            text("SELECT relname, seq_tup_read FROM pg_stat_user_tables"),
        )
        return {name: int(n) for name, n in found.all() if name in _HOT_TABLES}


async def _deliver_some(w: World, prefix: str, count: int) -> None:
    """`count` reports filed and told they were received, each sent before the next."""
    for i in range(count):
        rid, receipt = await file_report(w, Channel.SMS, contact=f"{prefix}{i:02d}")
        await w.publish(
            STATUS_CHANGED.name,
            status(rid, receipt, Channel.SMS, 1, None, ReportStatus.RECEIVED),
            rid,
        )

        async def sent(rid: uuid.UUID = rid) -> bool:
            # Not through the API: its own reads would count in the tables' scans.
            async with w.runtime.sessions() as session:
                await session.execute(text("SET LOCAL enable_seqscan = off"))
                state = await session.scalar(
                    select(DELIVERIES.c.state).where(DELIVERIES.c.report_id == rid)
                )
            return state == "sent"

        await eventually(sent, f"the message for {rid} sent")


async def test_deliveries_go_out_without_scanning_the_tables(world: World) -> None:
    """Issue 18, eighteenth step: the worker's statements run outside any transaction, and
    with the server's defaults PostgreSQL planned its claim for a batch as large as it
    asks for (the due rows it counts include retries not due for hours) and found reading
    the whole of `delivery_attempts` and `reporter_keys` cheaper than looking rows up:
    a bench run from empty databases read 6.4 million `deliveries` rows by sequential
    scan for 4,610 complaints, and claims of 3 ms and more. Now deliveries go out with no row
    of the worker's tables read by a sequential scan."""
    w = world
    await _deliver_some(w, "08129999000", 4)
    async with w.runtime.sessions() as session:
        for statement in (
            # Five thousand messages sent, and two thousand retries a provider outage left
            # due tomorrow; five thousand reporters.
            "INSERT INTO deliveries (report_id, status_event_id, channel, template, language,"
            " receipt_code, body, state, attempts, finished_at) SELECT gen_random_uuid(),"
            " gen_random_uuid(), 'sms', 'received', 'id', 'X', repeat('b', 300), 'sent', 1,"
            " now() FROM generate_series(1, 5000)",
            "INSERT INTO delivery_attempts (delivery_id, attempt, outcome)"
            " SELECT id, 1, 'sent' FROM deliveries WHERE receipt_code = 'X'",
            "INSERT INTO deliveries (report_id, status_event_id, channel, template, language,"
            " receipt_code, body, state, attempts, next_attempt_at) SELECT gen_random_uuid(),"
            " gen_random_uuid(), 'sms', 'received', 'id', 'Y', repeat('b', 300), 'pending', 1,"
            " now() + interval '1 day' FROM generate_series(1, 2000)",
            "INSERT INTO delivery_attempts (delivery_id, attempt, outcome)"
            " SELECT id, 1, 'transient' FROM deliveries WHERE receipt_code = 'Y'",
            "INSERT INTO reporter_keys (key_id, key)"
            " SELECT gen_random_uuid(), sha256(n::text::bytea) FROM generate_series(1, 5000) AS n",
            "INSERT INTO recipients (report_id, channel, language, receipt_code, key_id)"
            " SELECT gen_random_uuid(), 'sms', 'id', 'X', key_id FROM reporter_keys",
            *(f"ANALYZE {table}" for table in _HOT_TABLES),
        ):
            await session.execute(text(statement))
        await session.commit()
    # Every backend reports its counts within 10 s of going idle (PostgreSQL's
    # PGSTAT_IDLE_INTERVAL): the reads above are counted before the window, not in it.
    await asyncio.sleep(11)
    before = await _rows_read_by_scans(w)
    await _deliver_some(w, "08129997000", 8)
    after = await _rows_read_by_scans(w)
    assert {t: after[t] - before[t] for t in _HOT_TABLES} == dict.fromkeys(_HOT_TABLES, 0)
