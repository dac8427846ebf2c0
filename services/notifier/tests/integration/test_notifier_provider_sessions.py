"""Provider connections are kept (issue 18): e-mail goes over a few kept SMTP sessions,
replaced when the server drops them or after their message quota, never more at once than
the pool; each HTTP provider keeps its own connections alive between messages and closes
them at shutdown. E-mail through a real SMTP server (aiosmtpd), HTTP through uvicorn."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import email
import email.policy
from collections.abc import AsyncIterator
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
import uvicorn
from aiosmtpd.smtp import SMTP, Envelope, Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route as HttpRoute

from aduan_contracts.enums import Channel
from aduan_notifier.adapters.providers import (
    EmailAdapter,
    Outgoing,
    Permanent,
    Transient,
    build_adapters,
    environment_proxy,
    mime_bytes,
)
from aduan_notifier.config import Settings
from aduan_notifier.domain import Route, Template, Transport, email_html, render
from aduan_notifier.sinks import MailSink
from aduan_testing.helpers import free_port

pytestmark = pytest.mark.integration

CODE = "ADU-7K3M-9QXZ"
PORTAL = "https://aduan.example.go.id"


class CountingSink(MailSink):
    """Counts sessions (EHLOs); refuses `gone@`; can be slowed to overlap the sends."""

    def __init__(self) -> None:
        super().__init__()
        self.sessions = 0
        self.delay = 0.0

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: Any
    ) -> Any:
        self.sessions += 1
        session.host_name = hostname
        return responses

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        if address.startswith("gone@"):
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        return await super().handle_DATA(server, session, envelope)


def mail(address: str, n: int = 0, language: str = "id") -> Outgoing:
    message = render(
        Template.RECEIVED, Channel.WEB, "en" if language == "en" else "id", CODE, PORTAL
    )
    return Outgoing(
        route=Route(Transport.EMAIL, address),
        message=message,
        idempotency_key=f"0b6f6f0e-4a43-5d0c-9f4e-{n:012d}",
        receipt_code=CODE,
    )


def settings(port: int, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "environment": "test",
        "portal_base_url": PORTAL,
        "http_timeout_s": 2.0,
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
    }
    return Settings.model_validate(values | overrides)


@contextlib.contextmanager
def smtp_server(sink: CountingSink, port: int) -> Any:
    controller = sink.controller("127.0.0.1", port)
    controller.start()
    try:
        yield controller
    finally:
        controller.stop()


async def test_messages_share_a_kept_session_and_a_refusal_leaves_it_usable() -> None:
    sink, port = CountingSink(), free_port()
    with smtp_server(sink, port):
        adapter = EmailAdapter(settings(port))
        try:
            for n in range(5):
                await adapter.send(mail(f"warga{n}@example.org", n))
            with pytest.raises(Permanent, match="550"):
                await adapter.send(mail("gone@example.org", 9))
            await adapter.send(mail("warga9@example.org", 10))
        finally:
            await adapter.close()
    assert [m.rcpt_to for m in sink.messages] == [
        [f"warga{n}@example.org"] for n in (0, 1, 2, 3, 4, 9)
    ]
    assert (adapter.sessions_opened, sink.sessions) == (1, 1)


async def test_a_session_the_server_dropped_is_replaced_and_the_message_still_goes() -> None:
    port = free_port()
    first, second = CountingSink(), CountingSink()
    adapter = EmailAdapter(settings(port))
    try:
        with smtp_server(first, port):
            await adapter.send(mail("warga1@example.org", 1))
        # The server restarted meanwhile: the kept session is dead, the next message goes
        # on a new one, once.
        with smtp_server(second, port):
            await adapter.send(mail("warga2@example.org", 2))
        # Nobody listening at all: a transient failure, retried later by the worker.
        with pytest.raises(Transient):
            await adapter.send(mail("warga3@example.org", 3))
    finally:
        await adapter.close()
    assert [m.rcpt_to for m in first.messages] == [["warga1@example.org"]]
    assert [m.rcpt_to for m in second.messages] == [["warga2@example.org"]]
    assert adapter.sessions_opened == 2


async def test_sessions_are_bounded_by_the_pool_and_retired_after_their_quota() -> None:
    sink, port = CountingSink(), free_port()
    sink.delay = 0.05  # the sends overlap
    with smtp_server(sink, port):
        adapter = EmailAdapter(settings(port, smtp_pool_size=2, smtp_session_messages=3))
        try:
            await asyncio.gather(*(adapter.send(mail(f"w{n}@example.org", n)) for n in range(12)))
        finally:
            await adapter.close()
    assert len(sink.messages) == 12
    # Two at a time, three messages a session: four sessions, never a third at once.
    assert adapter.sessions_opened == 4 == sink.sessions


def test_the_message_bytes_read_back_as_what_was_meant() -> None:
    out = mail("warga@example.org", 1)
    body = "Jalan di Jl. Cikini — rusak parah; tanda “=” dan baris panjang " + "x" * 120
    message = dataclasses.replace(out.message, body=body)
    out = Outgoing(out.route, message, out.idempotency_key, CODE)
    html = email_html(message)
    raw = mime_bytes(
        b"Aduan <no-reply@aduan.localhost>", out, "Laporan diterima — ADU-7K3M-9QXZ", html
    )
    assert all(len(line) <= 78 for line in raw.split(b"\r\n"))
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    assert parsed["Subject"] == "Laporan diterima — ADU-7K3M-9QXZ"
    assert parsed["To"] == "warga@example.org"
    assert parsed["Message-ID"] == f"<{out.idempotency_key}@aduan.notifier>"
    assert parsed["Auto-Submitted"] == "auto-generated"
    plain = parsed.get_body(("plain",))
    rich = parsed.get_body(("html",))
    assert plain is not None and rich is not None
    assert plain.get_content().replace("\r\n", "\n").rstrip("\n") == body
    assert rich.get_content().replace("\r\n", "\n") == html
    # A line break in the address would add a header of the sender's choosing.
    evil = Outgoing(Route(Transport.EMAIL, "a@example.org\r\nBcc: x@evil"), message, "k", CODE)
    with pytest.raises(Permanent):
        mime_bytes(b"Aduan <a@b>", evil, "s", html)


# --- HTTP: one kept client per provider ------------------------------------------------------


@contextlib.asynccontextmanager
async def provider() -> AsyncIterator[tuple[str, list[int]]]:
    """A provider that records the client port of each request: the same port twice is
    the same (kept) connection."""
    ports: list[int] = []

    async def answer(request: Request) -> JSONResponse:
        assert request.client is not None
        ports.append(request.client.port)
        return JSONResponse({"id": f"m{len(ports)}"})

    app = Starlette(routes=[HttpRoute("/{path:path}", answer, methods=["POST"])])
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}", ports
    finally:
        server.should_exit = True
        await task


async def test_each_provider_keeps_its_own_connection_and_closes_it_at_shutdown() -> None:
    async with provider() as (base, ports):
        s = settings(
            free_port(),
            sms_url=f"{base}/sms",
            push_url=f"{base}/push",
            whatsapp_base_url="",
            messenger_base_url="",
            instagram_base_url="",
            x_base_url="",
        )
        adapters = build_adapters(s)
        sms, push = adapters[Transport.SMS], adapters[Transport.PUSH]
        message = render(Template.RECEIVED, Channel.SMS, "id", CODE, PORTAL)
        for n in range(3):
            for adapter, address in ((sms, "+6281234567890"), (push, "device-1")):
                route = Route(adapter.transport, address)
                await adapter.send(Outgoing(route, message, f"key-{n}", CODE))
        pools = [a._session for a in (sms, push)]  # type: ignore[attr-defined]
        assert pools[0] is not pools[1] and not any(p.closed for p in pools)
        for adapter in adapters.values():
            await adapter.close()
    # Six messages, two connections: one per provider, each reused.
    assert len(ports) == 6
    assert len(set(ports[0::2])) == 1 and len(set(ports[1::2])) == 1
    assert ports[0] != ports[1]
    assert all(p.closed for p in pools)  # closed at shutdown


def test_the_environment_proxy_is_kept_for_each_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    """httpx's client honoured HTTPS_PROXY / NO_PROXY; the adapters' own pools must too."""
    for name in ("http_proxy", "https_proxy", "all_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://egress.internal:3128")
    monkeypatch.setenv("NO_PROXY", "sms.local")
    assert environment_proxy("https://graph.facebook.com/v21.0/1/messages") == (
        "http://egress.internal:3128"
    )
    assert environment_proxy("https://sms.local/send") is None
    assert environment_proxy("http://127.0.0.1:8090/push") is None


async def test_requests_are_written_as_the_client_wrote_them() -> None:
    """The adapters build the request themselves now: the same body bytes (compact JSON,
    non-ASCII kept; form encoding), content type and timeouts httpx's client sent."""
    s = settings(free_port(), sms_url="http://127.0.0.1:1/sms", push_url="http://127.0.0.1:1/p")
    adapters = build_adapters(s)
    message = render(Template.RECEIVED, Channel.APP, "id", CODE, PORTAL)
    out = Outgoing(Route(Transport.PUSH, "perangkat-ü"), message, "key-1", CODE)
    push = adapters[Transport.PUSH]
    req = push.request(out)  # type: ignore[attr-defined]
    built = push.encode(req)  # type: ignore[attr-defined]
    async with httpx.AsyncClient(timeout=2.0) as client:
        want = client.build_request("POST", req.url, json=req.json)
    assert built.content == want.content and "ü" in built.content.decode()
    assert built.headers["Content-Type"] == "application/json"
    assert built.headers["Idempotency-Key"] == "key-1"
    assert built.url == str(want.url)
    form = dataclasses.replace(req, json=None, data={"to": "+62 81", "message": "a&b=ü"})
    built = push.encode(form)  # type: ignore[attr-defined]
    assert built.content == httpx.Request("POST", req.url, data=form.data).content
    assert built.headers["Content-Type"] == "application/x-www-form-urlencoded"
    # A query, as httpx's client encoded it.
    query = dataclasses.replace(req, params={"access_token": "t ü&x"})
    assert push.encode(query).url == str(httpx.URL(req.url, params=query.params))  # type: ignore[attr-defined]
    for adapter in adapters.values():
        await adapter.close()
