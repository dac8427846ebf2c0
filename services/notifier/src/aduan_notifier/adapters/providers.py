"""Delivery adapters: one per provider, each speaking the provider's public API.

- E-mail: SMTP through `aiosmtplib` on kept sessions, a multipart/alternative message
  (plain + HTML) written straight to bytes.
- SMS: a generic gateway HTTP API (JSON or form) authenticated with an API key.
- WhatsApp Cloud API: `POST /{version}/{phone-number-id}/messages` with a Bearer token;
  free-form text inside the 24-hour window, an approved template outside it.
- Messenger / Instagram Send API: `POST /{version}/{page-or-ig-id}/messages`, private DM to
  the page-scoped / Instagram-scoped id, Bearer token.
- X: `POST /2/dm_conversations/with/{participant_id}/messages`, OAuth 2.0 user token.
- App push: a webhook the citizen app's backend exposes, Bearer token.

Every adapter raises `Transient` (timeouts, connection errors, 5xx, 429/408 with any
Retry-After) or `Permanent` (other 4xx, a refused address). Causes never quote addresses,
message text, or a provider's error body (which often echoes the recipient).
"""

from __future__ import annotations

import asyncio
import binascii
import email.header
import email.utils
import json
import logging
import socket
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Protocol

import aiohttp
import aiosmtplib
from yarl import URL

from aduan_notifier.config import Settings
from aduan_notifier.domain import Message, Route, Transport, email_html

__all__ = [
    "Adapter",
    "DeliveryFailure",
    "EmailAdapter",
    "HttpAdapter",
    "Outgoing",
    "Permanent",
    "Transient",
    "build_adapters",
]


# No client library may log request URLs (X's URL carries the reporter's user id); our own
# log lines say what was sent, without addresses. aiohttp's client logs none at INFO; kept
# at WARNING so that a future version's debug lines stay off too.
logging.getLogger("aiohttp.client").setLevel(logging.WARNING)


class DeliveryFailure(Exception):
    def __init__(self, cause: str, retry_after_s: float | None = None) -> None:
        super().__init__(cause)
        self.cause = cause[:1000]
        self.retry_after_s = retry_after_s


class Transient(DeliveryFailure):
    """Trying again later may work."""


class Permanent(DeliveryFailure):
    """The provider refused this message; repeating it cannot help."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message on one route. `idempotency_key` is the same on every attempt of the same
    delivery on the same transport, so a provider that honours it drops our repeats."""

    route: Route
    message: Message
    idempotency_key: str
    receipt_code: str
    provider_template: str | None = None  # WhatsApp approved template, outside the window


class Adapter(Protocol):
    transport: Transport

    async def send(self, out: Outgoing) -> str | None:
        """Deliver; return the provider's message id when it gives one."""
        ...

    async def close(self) -> None: ...


# --- e-mail -----------------------------------------------------------------------------------


def _header_text(value: str) -> str:
    """A header value as it goes on the wire: ASCII as is, anything else RFC 2047 encoded.
    A line break in it would start a header of someone else's choosing: refused."""
    if "\r" in value or "\n" in value:
        raise Permanent("email: a header value holds a line break")
    if value.isascii():
        return value
    return email.header.Header(value, "utf-8").encode(linesep="\r\n")


def _qp(text: str) -> bytes:
    """A text part's body, UTF-8 in quoted-printable (lines of at most 76 characters), CRLF
    line ends as SMTP carries them. Quoted-printable never writes "=_", which is why the
    boundary starts with it."""
    encoded = binascii.b2a_qp(text.encode("utf-8"))
    return encoded.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def mime_bytes(
    sender: bytes, out: Outgoing, subject: str, html: str, date: str | None = None
) -> bytes:
    """The whole message, multipart/alternative (plain + HTML), written straight to bytes.

    What `email.message.EmailMessage` builds (and tests parse back with it), without its
    object model and generator: ~1.2 ms a message there, tens of microseconds here. `sender`
    is the From header, prepared once per adapter."""
    key = out.idempotency_key
    address = out.route.address
    if not address.isascii() or any(c in address for c in "\r\n<>,;"):
        raise Permanent("email: the address cannot be written in a header")
    boundary = f"=_aduan_{key}".encode()
    head = (
        b"From: " + sender + b"\r\n"
        b"To: " + address.encode() + b"\r\n"
        b"Subject: " + _header_text(subject).encode() + b"\r\n"
        b"Date: " + (date or email.utils.formatdate(localtime=False)).encode() + b"\r\n"
        # A stable Message-ID per delivery: a repeat after a crash is recognisable as the
        # same message by any receiving system that deduplicates on it.
        b"Message-ID: <" + key.encode() + b"@aduan.notifier>\r\n"
        b"Auto-Submitted: auto-generated\r\n"  # RFC 3834: no auto-replies to this
        b"Content-Language: " + out.message.language.encode() + b"\r\n"
        b"MIME-Version: 1.0\r\n"
        b'Content-Type: multipart/alternative;\r\n boundary="' + boundary + b'"\r\n'
        b"\r\n"
    )
    part = (
        b'Content-Type: text/%s; charset="utf-8"\r\n'
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n"
    )
    return b"".join(
        (
            head,
            b"--" + boundary + b"\r\n",
            part % b"plain",
            _qp(out.message.body),
            b"\r\n--" + boundary + b"\r\n",
            part % b"html",
            _qp(html),
            b"\r\n--" + boundary + b"--\r\n",
        )
    )


@dataclass
class _Session:
    """One open SMTP connection and how much it has been used."""

    smtp: aiosmtplib.SMTP
    last_used: float
    sent: int = 0


class EmailAdapter:
    """SMTP through a small pool of kept sessions.

    Opening a session costs a TCP (and TLS) handshake, EHLO, STARTTLS, AUTH and QUIT, and
    aiosmtplib looks up the local host name for EHLO each time: the profile put a new
    connection per e-mail among the notifier's biggest costs. Sessions are kept (at most
    `smtp_pool_size`, each carrying one message at a time), replaced after
    `smtp_session_messages` messages or `smtp_idle_s` unused (servers drop idle clients),
    and discarded on any connection error. A kept session the server closed meanwhile is
    noticed on the next message: that message goes once more on a new session; a refusal
    (4xx/5xx) leaves the session usable (aiosmtplib resets the envelope)."""

    transport = Transport.EMAIL

    def __init__(self, settings: Settings) -> None:
        self._s = settings
        name, addr = email.utils.parseaddr(settings.email_from)
        self._from_addr = addr or settings.email_from
        # Prepared once: the From header's bytes.
        self._from = (
            email.utils.formataddr((name, addr), charset="utf-8") if name else addr
        ).encode()
        if b"\r" in self._from or b"\n" in self._from:
            raise ValueError("email_from holds a line break")
        self._idle: list[_Session] = []
        self._free = asyncio.Semaphore(max(1, settings.smtp_pool_size))
        # EHLO's name, looked up once (aiosmtplib would call socket.getfqdn per session).
        self._local_hostname: str | None = None
        self.sessions_opened = 0  # tests and measurements read it
        self._closing: set[asyncio.Task[None]] = set()  # QUITs of retired sessions

    def build(self, out: Outgoing) -> bytes:
        subject = out.message.subject or f"Aduan {out.receipt_code}"
        return mime_bytes(self._from, out, subject, email_html(out.message))

    async def send(self, out: Outgoing) -> str | None:
        data = self.build(out)
        try:
            async with self._free:
                await self._deliver(out.route.address, data)
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = [r.code for r in exc.recipients]
            if codes and all(500 <= c < 600 for c in codes):
                raise Permanent(f"smtp: recipient refused ({codes[0]})") from None
            raise Transient(f"smtp: recipient deferred ({codes[0] if codes else '?'})") from None
        except aiosmtplib.SMTPResponseException as exc:
            if 500 <= exc.code < 600:
                raise Permanent(f"smtp: refused with {exc.code}") from None
            raise Transient(f"smtp: deferred with {exc.code}") from None
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise Transient(f"smtp: {type(exc).__name__}") from None
        return f"<{out.idempotency_key}@aduan.notifier>"

    async def _deliver(self, to: str, data: bytes) -> None:
        session = self._take()
        if session is not None:
            try:
                await self._sendmail(session, to, data)
                return
            except (aiosmtplib.SMTPServerDisconnected, ConnectionError):
                # The server closed the kept session (idle timeout, restart): once more on
                # a new one. The same Message-ID goes out, as after any transient failure.
                await self._discard(session)
        session = await self._open()
        await self._sendmail(session, to, data)

    async def _sendmail(self, session: _Session, to: str, data: bytes) -> None:
        try:
            await session.smtp.sendmail(self._from_addr, [to], data)
        except (aiosmtplib.SMTPResponseException, aiosmtplib.SMTPRecipientsRefused):
            # A refusal of this message: the envelope was reset, the session goes on
            # (unless the server hung up with it, e.g. 421).
            if session.smtp.is_connected:
                self._give_back(session)
            raise
        except BaseException:
            await self._discard(session)
            raise
        session.sent += 1
        self._give_back(session)

    def _take(self) -> _Session | None:
        now = time.monotonic()
        while self._idle:
            session = self._idle.pop()
            if now - session.last_used < self._s.smtp_idle_s and session.smtp.is_connected:
                return session
            # Left unused too long: the server may have dropped it; close it quietly.
            self._retire(session)
        return None

    def _retire(self, session: _Session) -> None:
        task = asyncio.get_running_loop().create_task(self._quit(session))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    def _give_back(self, session: _Session) -> None:
        if session.sent >= self._s.smtp_session_messages or not session.smtp.is_connected:
            self._retire(session)
            return
        session.last_used = time.monotonic()
        self._idle.append(session)

    async def _open(self) -> _Session:
        s = self._s
        if self._local_hostname is None:
            self._local_hostname = await asyncio.to_thread(socket.getfqdn)
        smtp = aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.smtp_port,
            username=s.smtp_username or None,
            password=s.smtp_password.get_secret_value() or None,
            use_tls=s.smtp_security == "tls",
            start_tls=s.smtp_security == "starttls",
            timeout=s.http_timeout_s,
            local_hostname=self._local_hostname,
        )
        await smtp.connect()
        self.sessions_opened += 1
        return _Session(smtp, time.monotonic())

    @staticmethod
    async def _quit(session: _Session) -> None:
        try:
            await asyncio.wait_for(session.smtp.quit(), timeout=2.0)
        except Exception:  # going away anyway
            session.smtp.close()

    @staticmethod
    async def _discard(session: _Session) -> None:
        session.smtp.close()

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        await asyncio.gather(*(self._quit(session) for session in idle), *self._closing)


# --- HTTP providers ---------------------------------------------------------------------------


def _retry_after(value: str | None) -> float | None:
    """A `Retry-After` header (seconds or an HTTP date) as seconds from now."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value)
        if parsed is None:
            return None
        from datetime import UTC, datetime

        return max(0.0, (parsed - datetime.now(UTC)).total_seconds())


def _provider_code(body: bytes) -> str:
    """A provider's error code (never its message, which may quote the recipient)."""
    try:
        parsed = json.loads(body)
    except ValueError:
        return ""
    if isinstance(parsed, dict):
        err = parsed.get("error")
        if isinstance(err, dict) and isinstance(err.get("code"), int | str):
            return f", code {str(err['code'])[:20]}"
        if isinstance(parsed.get("title"), str):  # X API problem details
            return f", {parsed['title'][:60]}"
    return ""


@dataclass
class HttpRequest:
    method: str
    url: str
    headers: dict[str, str]
    json: Any = None
    data: dict[str, str] | None = None
    params: dict[str, str] = field(default_factory=dict)


def environment_proxy(url: str) -> str | None:
    """The proxy the environment names for `url` (`HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`,
    minus `NO_PROXY`), which httpx's client used (`trust_env`): an egress proxy keeps
    working now that the adapters speak to the transport."""
    parts = urllib.parse.urlsplit(url)
    if not parts.hostname or urllib.request.proxy_bypass(parts.hostname):
        return None
    proxies = urllib.request.getproxies()
    return proxies.get(parts.scheme) or proxies.get("all")


@dataclass(frozen=True, slots=True)
class Encoded:
    """A request as it goes on the wire: the URL with its query, headers, body bytes."""

    method: str
    url: str
    headers: dict[str, str]
    content: bytes


def provider_session(settings: Settings) -> aiohttp.ClientSession:
    """One provider's long-lived connection pool: its own keep-alive connections (reused
    across messages for `http_keepalive_s`), so one slow provider does not take the pool of
    the others. Made on first use (an aiohttp session belongs to the running loop).

    aiohttp, not httpx: a message is one POST with its headers and body known, and
    httpcore's pool and anyio streams cost 0.72-0.83 CPU-ms a request on this machine
    against aiohttp's 0.17 (the same keep-alive POST and JSON answer, `docs/performance.md`,
    issue 18 ninth step); provider calls were 28 % of the notifier's CPU. The session adds
    nothing of its own: no cookies kept, no compressed answers asked for (they are small),
    redirects not followed (a provider redirecting a message POST is misconfigured, and
    the 3xx is its answer)."""
    t = settings.http_timeout_s
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(
            limit=settings.delivery_batch_size, keepalive_timeout=settings.http_keepalive_s
        ),
        cookie_jar=aiohttp.DummyCookieJar(),
        timeout=aiohttp.ClientTimeout(total=None, connect=t, sock_connect=t, sock_read=t),
        auto_decompress=False,
        skip_auto_headers=("Accept-Encoding", "User-Agent"),
    )


class HttpAdapter:
    """Shared HTTP plumbing; subclasses only build the provider's request and read its id.

    Each adapter owns its connection pool (`provider_session`), made on its first message
    and closed by `close()` at shutdown."""

    transport: Transport
    name: str
    url_setting: str = ""  # the setting holding the provider's URL (its proxy is chosen by it)

    def __init__(self, settings: Settings, url: str = "") -> None:
        self._s = settings
        url = url or (getattr(settings, self.url_setting) if self.url_setting else "")
        # The proxy the environment names for this provider (HTTPS_PROXY minus NO_PROXY).
        self._proxy = environment_proxy(url)
        self._session: aiohttp.ClientSession | None = None

    def request(self, out: Outgoing) -> HttpRequest:
        raise NotImplementedError

    def message_id(self, body: Any) -> str | None:
        return None

    def encode(self, req: HttpRequest) -> Encoded:
        """The request as it goes on the wire: the body written to bytes once, here."""
        headers = _DEFAULT_HEADERS | req.headers
        if req.data is not None:
            content = urllib.parse.urlencode(req.data).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        elif req.json is not None:
            content = json.dumps(
                req.json, ensure_ascii=False, separators=(",", ":"), allow_nan=False
            ).encode()
            headers["Content-Type"] = "application/json"
        else:
            content = b""
        url = req.url
        if req.params:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(req.params)
        return Encoded(req.method, url, headers, content)

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = provider_session(self._s)
        return self._session

    async def send(self, out: Outgoing) -> str | None:
        req = self.encode(self.request(out))
        try:
            async with self._client().request(
                req.method,
                URL(req.url, encoded=True),
                data=req.content,
                headers=req.headers,
                allow_redirects=False,
                proxy=self._proxy,
            ) as response:
                status = response.status
                retry_after = response.headers.get("Retry-After")
                body = await response.read()
        except TimeoutError:  # aiohttp's own timeouts are TimeoutErrors too
            raise Transient(f"{self.name}: timeout") from None
        except aiohttp.ClientConnectorError:
            # Named as before the switch from httpx: operators' queries on the deliveries'
            # last error keep working.
            raise Transient(f"{self.name}: ConnectError") from None
        except (aiohttp.ClientError, OSError) as exc:
            raise Transient(f"{self.name}: {type(exc).__name__}") from None
        if status in (408, 425, 429) or status >= 500:
            raise Transient(
                f"{self.name}: HTTP {status}{_provider_code(body)}", _retry_after(retry_after)
            )
        if status >= 400:
            raise Permanent(f"{self.name}: HTTP {status}{_provider_code(body)}")
        try:
            return self.message_id(json.loads(body))
        except ValueError:
            return None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


# Sent with every request besides its own headers (what httpx's client sent before; no
# Accept-Encoding: the answers are small, and a compressed one would cost a decoder).
_DEFAULT_HEADERS = {"Accept": "*/*", "User-Agent": "aduan-notifier"}


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class SmsAdapter(HttpAdapter):
    """A generic SMS gateway: `to`, `message`, `sender_id`, `reference` (our idempotency
    key, which most gateways accept as a client reference and use to drop repeats)."""

    transport = Transport.SMS
    name = "sms"
    url_setting = "sms_url"

    def request(self, out: Outgoing) -> HttpRequest:
        s = self._s
        key = s.sms_api_key.get_secret_value()
        headers = {"Idempotency-Key": out.idempotency_key}
        if s.sms_api_key_header.lower() == "authorization":
            headers |= _bearer(key)
        else:
            headers[s.sms_api_key_header] = key
        fields = {
            "to": out.route.address,
            "message": out.message.body,
            "sender_id": s.sms_sender_id,
            "reference": out.idempotency_key,
        }
        if s.sms_format == "form":
            return HttpRequest("POST", s.sms_url, headers, data=fields)
        return HttpRequest("POST", s.sms_url, headers, json=fields)

    def message_id(self, body: Any) -> str | None:
        if isinstance(body, dict):
            for k in ("message_id", "id", "messageId"):
                if body.get(k):
                    return str(body[k])[:256]
        return None


class WhatsAppAdapter(HttpAdapter):
    """WhatsApp Cloud API. No idempotency key exists in this API: a repeat after a crash
    can reach the reporter twice (documented in docs/notifier.md)."""

    transport = Transport.WHATSAPP
    name = "whatsapp"
    url_setting = "whatsapp_base_url"

    def request(self, out: Outgoing) -> HttpRequest:
        s = self._s
        number = s.whatsapp_phone_number_id
        url = f"{s.whatsapp_base_url}/{s.whatsapp_api_version}/{number}/messages"
        body: dict[str, Any] = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": out.route.address,
        }
        if out.route.use_template:
            if not out.provider_template:
                raise Permanent("whatsapp: window closed and no approved template")
            body |= {
                "type": "template",
                "template": {
                    "name": out.provider_template,
                    "language": {"code": out.message.language},
                    "components": [
                        {
                            "type": "body",
                            "parameters": [{"type": "text", "text": out.receipt_code}],
                        }
                    ],
                },
            }
        else:
            body |= {"type": "text", "text": {"preview_url": False, "body": out.message.body}}
        return HttpRequest("POST", url, _bearer(s.whatsapp_token.get_secret_value()), json=body)

    def message_id(self, body: Any) -> str | None:
        try:
            return str(body["messages"][0]["id"])[:256]
        except (KeyError, IndexError, TypeError):
            return None


class MetaDmAdapter(HttpAdapter):
    """Messenger and Instagram Send API: a private message to the scoped user id. Inside the
    24-hour window `messaging_type: RESPONSE`; outside it only with a message tag."""

    def __init__(
        self,
        settings: Settings,
        transport: Transport,
        base_url: str,
        version: str,
        account_id: str,
        token: str,
        tag: str,
    ) -> None:
        super().__init__(settings, base_url)
        self.transport = transport
        self.name = transport.value
        self._url = f"{base_url}/{version}/{account_id}/messages"
        self._token = token
        self._tag = tag

    def request(self, out: Outgoing) -> HttpRequest:
        body: dict[str, Any] = {
            "recipient": {"id": out.route.address},
            "message": {"text": out.message.body},
        }
        if out.route.window_open:
            body["messaging_type"] = "RESPONSE"
        else:
            body |= {"messaging_type": "MESSAGE_TAG", "tag": self._tag}
        return HttpRequest("POST", self._url, _bearer(self._token), json=body)

    def message_id(self, body: Any) -> str | None:
        if isinstance(body, dict) and body.get("message_id"):
            return str(body["message_id"])[:256]
        return None


class XDmAdapter(HttpAdapter):
    """X API v2: a one-to-one DM; never a reply or mention, which anyone could read."""

    transport = Transport.X_DM
    name = "x_dm"
    url_setting = "x_base_url"

    def request(self, out: Outgoing) -> HttpRequest:
        s = self._s
        url = f"{s.x_base_url}/2/dm_conversations/with/{out.route.address}/messages"
        return HttpRequest(
            "POST", url, _bearer(s.x_token.get_secret_value()), json={"text": out.message.body}
        )

    def message_id(self, body: Any) -> str | None:
        try:
            return str(body["data"]["dm_event_id"])[:256]
        except (KeyError, TypeError):
            return None


class PushAdapter(HttpAdapter):
    """The citizen app's push webhook: the app's backend turns this into an FCM/APNs push."""

    transport = Transport.PUSH
    name = "push"
    url_setting = "push_url"

    def request(self, out: Outgoing) -> HttpRequest:
        s = self._s
        headers = _bearer(s.push_token.get_secret_value()) | {
            "Idempotency-Key": out.idempotency_key
        }
        body = {
            "recipient": out.route.address,
            "title": f"Aduan {out.receipt_code}",
            "body": out.message.body,
            "data": {
                "receipt_code": out.receipt_code,
                "template": out.message.template.value,
                "language": out.message.language,
            },
            "idempotency_key": out.idempotency_key,
        }
        return HttpRequest("POST", s.push_url, headers, json=body)

    def message_id(self, body: Any) -> str | None:
        if isinstance(body, dict) and body.get("id"):
            return str(body["id"])[:256]
        return None


def build_adapters(settings: Settings) -> dict[Transport, Adapter]:
    """The configured adapters; one whose address is empty is off. Each HTTP adapter makes
    its own keep-alive connection pool."""
    s = settings
    adapters: dict[Transport, Adapter] = {}
    if s.smtp_host:
        adapters[Transport.EMAIL] = EmailAdapter(s)
    if s.sms_url:
        adapters[Transport.SMS] = SmsAdapter(s)
    if s.whatsapp_base_url and s.whatsapp_phone_number_id:
        adapters[Transport.WHATSAPP] = WhatsAppAdapter(s)
    if s.messenger_base_url and s.messenger_page_id:
        adapters[Transport.MESSENGER] = MetaDmAdapter(
            s,
            Transport.MESSENGER,
            s.messenger_base_url,
            s.messenger_api_version,
            s.messenger_page_id,
            s.messenger_token.get_secret_value(),
            s.messenger_message_tag,
        )
    if s.instagram_base_url and s.instagram_account_id:
        adapters[Transport.INSTAGRAM] = MetaDmAdapter(
            s,
            Transport.INSTAGRAM,
            s.instagram_base_url,
            s.instagram_api_version,
            s.instagram_account_id,
            s.instagram_token.get_secret_value(),
            s.instagram_message_tag,
        )
    if s.x_base_url:
        adapters[Transport.X_DM] = XDmAdapter(s)
    if s.push_url:
        adapters[Transport.PUSH] = PushAdapter(s)
    return adapters
