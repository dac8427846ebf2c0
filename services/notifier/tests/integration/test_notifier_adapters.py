"""Each delivery adapter against a local server standing in for its provider: the request's
shape, authentication and body as the provider documents them, and how the provider's
answers are classified (retry or give up). E-mail goes through a real SMTP server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import pytest_asyncio
from aiosmtpd.smtp import SMTP, Envelope, Session
from starlette.responses import JSONResponse, Response

from aduan_contracts.enums import Channel
from aduan_notifier.adapters.providers import (
    EmailAdapter,
    Outgoing,
    Permanent,
    Transient,
    build_adapters,
)
from aduan_notifier.config import Settings
from aduan_notifier.domain import Route, Template, Transport, family_of_transport, render
from aduan_notifier.sinks import HttpSink, MailSink, Recorded
from aduan_testing.helpers import free_port

pytestmark = pytest.mark.integration

CODE = "ADU-7K3M-9QXZ"
PORTAL = "https://aduan.example.go.id"
KEY = "0b6f6f0e-4a43-5d0c-9f4e-1f3c2b1a0d99"


@dataclass
class Provider:
    sink: HttpSink
    base: str
    answers: list[Response]

    def last(self) -> Recorded:
        return self.sink.requests[-1]


@pytest_asyncio.fixture
async def provider() -> AsyncIterator[Provider]:
    answers: list[Response] = []

    async def respond(_: Recorded) -> Response | None:
        return answers.pop(0) if answers else None

    sink = HttpSink(responder=respond)
    base = await sink.start()
    try:
        yield Provider(sink, base, answers)
    finally:
        await sink.stop()


def settings_for(base: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "environment": "test",
        "portal_base_url": PORTAL,
        "http_timeout_s": 1.0,
        "sms_url": f"{base}/api/sms",
        "sms_api_key": "sms-key-123",
        "whatsapp_base_url": f"{base}/graph",
        "whatsapp_phone_number_id": "109876543210",
        "whatsapp_token": "wa-token-abc",
        "messenger_base_url": f"{base}/graph",
        "messenger_page_id": "page-42",
        "messenger_token": "page-token-xyz",
        "messenger_message_tag": "ACCOUNT_UPDATE",
        "instagram_base_url": f"{base}/ig",
        "instagram_account_id": "17840000000042",
        "instagram_token": "ig-token-def",
        "x_base_url": f"{base}/xapi",
        "x_token": "x-user-token",
        "push_url": f"{base}/push/notify",
        "push_token": "push-token-ghi",
    }
    return Settings.model_validate(values | overrides)


def outgoing(
    transport: Transport,
    address: str,
    channel: Channel,
    template: Template = Template.RECEIVED,
    language: str = "id",
    use_template: bool = False,
    window_open: bool = True,
    provider_template: str | None = None,
) -> Outgoing:
    message = render(
        template,
        channel,
        "en" if language == "en" else "id",
        CODE,
        PORTAL,
        family=family_of_transport(transport),
    )
    return Outgoing(
        route=Route(transport, address, use_template, window_open),
        message=message,
        idempotency_key=KEY,
        receipt_code=CODE,
        provider_template=provider_template,
    )


async def send(settings: Settings, out: Outgoing) -> str | None:
    # The adapter's own connection pool, as the worker runs it, closed with it.
    adapter = build_adapters(settings)[out.route.transport]
    try:
        return await adapter.send(out)
    finally:
        await adapter.close()


# --- request shapes -------------------------------------------------------------------------------


async def test_sms_gateway_json_with_bearer_key(provider: Provider) -> None:
    provider.answers.append(JSONResponse({"message_id": "gw-1", "status": "queued"}))
    got = await send(
        settings_for(provider.base), outgoing(Transport.SMS, "+6281234567890", Channel.SMS)
    )
    assert got == "gw-1"
    rec = provider.last()
    assert (rec.method, rec.path) == ("POST", "/api/sms")
    assert rec.header("authorization") == "Bearer sms-key-123"
    assert rec.header("idempotency-key") == KEY
    assert rec.header("content-type") == "application/json"
    assert rec.json == {
        "to": "+6281234567890",
        "message": f"Aduan: Laporan Anda sudah kami terima dengan kode {CODE}. "
        f"Pantau: {PORTAL}/track/{CODE}",
        "sender_id": "ADUAN",
        "reference": KEY,
    }


async def test_sms_gateway_form_with_api_key_header(provider: Provider) -> None:
    settings = settings_for(provider.base, sms_format="form", sms_api_key_header="X-API-Key")
    await send(settings, outgoing(Transport.SMS, "+6281234567890", Channel.WALK_IN))
    rec = provider.last()
    assert rec.header("x-api-key") == "sms-key-123"
    assert rec.header("authorization") is None
    assert rec.header("content-type") == "application/x-www-form-urlencoded"
    assert rec.form is not None
    assert rec.form["to"] == "+6281234567890" and CODE in rec.form["message"]


async def test_whatsapp_free_form_inside_the_window(provider: Provider) -> None:
    got = await send(
        settings_for(provider.base),
        outgoing(Transport.WHATSAPP, "6281234567890", Channel.WHATSAPP, language="en"),
    )
    assert got is not None and got.startswith("wamid.")
    rec = provider.last()
    assert rec.path == "/graph/v21.0/109876543210/messages"
    assert rec.header("authorization") == "Bearer wa-token-abc"
    assert rec.json == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "6281234567890",
        "type": "text",
        "text": {
            "preview_url": False,
            "body": (
                f"We have received your report, code {CODE}. "
                f"Track: {PORTAL}/track/{CODE}?lang=en"  # the English page for English words
            ),
        },
    }


async def test_whatsapp_template_outside_the_window(provider: Provider) -> None:
    out = outgoing(
        Transport.WHATSAPP,
        "6281234567890",
        Channel.WHATSAPP,
        template=Template.COMPLETED,
        use_template=True,
        window_open=False,
        provider_template="aduan_selesai",
    )
    await send(settings_for(provider.base), out)
    body = provider.last().json
    assert body["type"] == "template" and "text" not in body
    assert body["template"] == {
        "name": "aduan_selesai",
        "language": {"code": "id"},
        "components": [{"type": "body", "parameters": [{"type": "text", "text": CODE}]}],
    }
    # Without an approved template nothing may be sent outside the window.
    with pytest.raises(Permanent):
        await send(
            settings_for(provider.base),
            outgoing(Transport.WHATSAPP, "6281234567890", Channel.WHATSAPP, use_template=True),
        )


async def test_messenger_and_instagram_private_messages(provider: Provider) -> None:
    settings = settings_for(provider.base)
    assert await send(settings, outgoing(Transport.MESSENGER, "psid-1", Channel.FACEBOOK))
    rec = provider.last()
    assert rec.path == "/graph/v21.0/page-42/messages"
    assert rec.header("authorization") == "Bearer page-token-xyz"
    assert rec.json["recipient"] == {"id": "psid-1"}
    assert rec.json["messaging_type"] == "RESPONSE"
    assert set(rec.json["message"]) == {"text"} and CODE in rec.json["message"]["text"]
    # Outside the 24-hour window: only with the configured message tag.
    await send(
        settings, outgoing(Transport.MESSENGER, "psid-1", Channel.FACEBOOK, window_open=False)
    )
    assert provider.last().json["messaging_type"] == "MESSAGE_TAG"
    assert provider.last().json["tag"] == "ACCOUNT_UPDATE"

    await send(settings, outgoing(Transport.INSTAGRAM, "igsid-9", Channel.INSTAGRAM))
    rec = provider.last()
    assert rec.path == "/ig/v21.0/17840000000042/messages"
    assert rec.header("authorization") == "Bearer ig-token-def"
    assert rec.json["recipient"] == {"id": "igsid-9"}


async def test_x_direct_message(provider: Provider) -> None:
    got = await send(settings_for(provider.base), outgoing(Transport.X_DM, "2244994945", Channel.X))
    assert got  # dm_event_id from the 201 answer
    rec = provider.last()
    assert rec.path == "/xapi/2/dm_conversations/with/2244994945/messages"
    assert rec.header("authorization") == "Bearer x-user-token"
    assert rec.json == {
        "text": f"Laporan Anda sudah kami terima dengan kode {CODE}. Pantau: {PORTAL}/track/{CODE}"
    }


async def test_app_push_webhook(provider: Provider) -> None:
    await send(
        settings_for(provider.base),
        outgoing(Transport.PUSH, "user-77", Channel.APP, Template.IN_PROGRESS, "en"),
    )
    rec = provider.last()
    assert rec.path == "/push/notify"
    assert rec.header("authorization") == "Bearer push-token-ghi"
    assert rec.header("idempotency-key") == KEY
    assert rec.json == {
        "recipient": "user-77",
        "title": f"Aduan {CODE}",
        "body": f"Report {CODE} is being handled by the agency.",
        "data": {"receipt_code": CODE, "template": "in_progress", "language": "en"},
        "idempotency_key": KEY,
    }


# --- provider answers -----------------------------------------------------------------------------


async def test_answers_are_classified(provider: Provider) -> None:
    settings = settings_for(provider.base)
    out = outgoing(Transport.SMS, "+6281234567890", Channel.SMS)
    provider.answers.append(JSONResponse({}, status_code=503))
    with pytest.raises(Transient) as transient:
        await send(settings, out)
    assert transient.value.cause == "sms: HTTP 503" and transient.value.retry_after_s is None

    provider.answers.append(JSONResponse({}, status_code=429, headers={"Retry-After": "7"}))
    with pytest.raises(Transient) as limited:
        await send(settings, out)
    assert limited.value.retry_after_s == 7.0

    provider.answers.append(
        JSONResponse(
            {"error": {"message": "(#100) +6281234567890 is not a WhatsApp user", "code": 100}},
            status_code=400,
        )
    )
    with pytest.raises(Permanent) as refused:
        await send(settings, out)
    assert refused.value.cause == "sms: HTTP 400, code 100"  # the number is not echoed

    async def slow(_: Recorded) -> Response | None:
        await asyncio.sleep(3)
        return None

    provider.sink.responder = slow
    with pytest.raises(Transient) as timeout:
        await send(settings, out)
    assert timeout.value.cause == "sms: timeout"

    closed = settings_for(f"http://127.0.0.1:{free_port()}")
    with pytest.raises(Transient) as refused_connection:
        await send(closed, out)
    assert refused_connection.value.cause == "sms: ConnectError"


# --- e-mail through a real SMTP server ----------------------------------------------------------


class RefusingSink(MailSink):
    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address.startswith("gone@"):
            return "550 5.1.1 mailbox unavailable"
        if address.startswith("full@"):
            return "452 4.2.2 mailbox full"
        envelope.rcpt_tos.append(address)
        return "250 OK"


async def test_email_plain_and_html_through_smtp() -> None:
    sink = RefusingSink()
    port = free_port()
    controller = sink.controller("127.0.0.1", port)
    controller.start()
    try:
        settings = settings_for("http://unused", smtp_host="127.0.0.1", smtp_port=port)
        adapter = EmailAdapter(settings)
        out = outgoing(Transport.EMAIL, "warga@example.org", Channel.WEB, Template.REJECTED)
        assert await adapter.send(out) == f"<{KEY}@aduan.notifier>"
        [mail] = sink.messages
        assert mail.rcpt_to == ["warga@example.org"]
        msg = mail.parsed()
        assert msg["Subject"] == f"Laporan {CODE} tidak dapat diproses"
        assert msg["From"] == settings.email_from
        assert msg["Auto-Submitted"] == "auto-generated"
        plain = msg.get_body(("plain",)).get_content()
        rich = msg.get_body(("html",)).get_content()
        assert "Yth. Pelapor," in plain and f"Kode laporan: {CODE}" in plain
        assert '<html lang="id">' in rich and f'href="{PORTAL}/track/{CODE}"' in rich

        with pytest.raises(Permanent, match="550"):
            await adapter.send(outgoing(Transport.EMAIL, "gone@example.org", Channel.EMAIL))
        with pytest.raises(Transient, match="452"):
            await adapter.send(outgoing(Transport.EMAIL, "full@example.org", Channel.EMAIL))
    finally:
        controller.stop()
    with pytest.raises(Transient):
        await adapter.send(out)  # nobody listening any more


# --- the local sinks a person reads -------------------------------------------------------------


async def test_sinks_store_what_would_have_been_sent(tmp_path: Path) -> None:
    mail = MailSink(tmp_path / "mail")
    port = free_port()
    controller = mail.controller("127.0.0.1", port)
    controller.start()
    sink = HttpSink(tmp_path / "http")
    sink.mail_directory = tmp_path / "mail"
    base = await sink.start()
    try:
        settings = settings_for(base, smtp_host="127.0.0.1", smtp_port=port)
        await EmailAdapter(settings).send(
            outgoing(Transport.EMAIL, "warga@example.org", Channel.WEB)
        )
        push = outgoing(Transport.PUSH, "user-1", Channel.APP)
        await send(settings, push)
        await send(settings, push)  # a repeat with the same idempotency key
        [eml] = list((tmp_path / "mail").glob("*.eml"))
        assert f"Laporan {CODE} diterima" in eml.read_text()
        stored = sorted((tmp_path / "http").glob("*.json"))
        assert len(stored) == 2
        first, second = (json.loads(p.read_text()) for p in stored)
        assert first["headers"]["authorization"] == "Bearer …-ghi"  # masked on disk
        assert not first["duplicate"] and second["duplicate"]
        async with httpx.AsyncClient(base_url=base) as client:
            page = (await client.get("/")).text
            assert f"Laporan {CODE} diterima" in page and "/push/notify (repeat)" in page
            shown = await client.get(f"/files/http/{stored[0].name}")
            assert shown.status_code == 200 and "push-token-ghi" not in shown.text
            # Nothing outside the sink's folders is served.
            assert (await client.get("/files/http/..%2F..%2Fetc%2Fpasswd")).status_code >= 400
            assert (await client.get("/files/http/.hidden")).status_code == 404
            assert (await client.get("/files/other/x.json")).status_code == 404
    finally:
        await sink.stop()
        controller.stop()
