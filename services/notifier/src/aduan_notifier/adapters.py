"""Delivery adapters: one per provider, each speaking the provider's public API.

- E-mail: SMTP through `aiosmtplib`, a multipart/alternative message (plain + HTML).
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

import email.utils
import logging
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, Protocol

import aiosmtplib
import httpx

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


# httpx logs every request URL at INFO; X's URL carries the reporter's user id. Our own
# log lines say what was sent, without addresses.
logging.getLogger("httpx").setLevel(logging.WARNING)


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


class EmailAdapter:
    transport = Transport.EMAIL

    def __init__(self, settings: Settings) -> None:
        self._s = settings

    def build(self, out: Outgoing) -> EmailMessage:
        msg = EmailMessage()
        msg["From"] = self._s.email_from
        msg["To"] = out.route.address
        msg["Subject"] = out.message.subject or f"Aduan {out.receipt_code}"
        msg["Date"] = email.utils.formatdate(localtime=False)
        # A stable Message-ID per delivery: a repeat after a crash is recognisable as the
        # same message by any receiving system that deduplicates on it.
        msg["Message-ID"] = f"<{out.idempotency_key}@aduan.notifier>"
        msg["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to this
        msg["Content-Language"] = out.message.language
        msg.set_content(out.message.body)
        msg.add_alternative(email_html(out.message), subtype="html")
        return msg

    async def send(self, out: Outgoing) -> str | None:
        s = self._s
        try:
            await aiosmtplib.send(
                self.build(out),
                hostname=s.smtp_host,
                port=s.smtp_port,
                username=s.smtp_username or None,
                password=s.smtp_password.get_secret_value() or None,
                use_tls=s.smtp_security == "tls",
                start_tls=s.smtp_security == "starttls",
                timeout=s.http_timeout_s,
            )
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

    async def close(self) -> None:
        return None


# --- HTTP providers ---------------------------------------------------------------------------


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
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


def _provider_code(response: httpx.Response) -> str:
    """A provider's error code (never its message, which may quote the recipient)."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict) and isinstance(err.get("code"), int | str):
            return f", code {str(err['code'])[:20]}"
        if isinstance(body.get("title"), str):  # X API problem details
            return f", {body['title'][:60]}"
    return ""


@dataclass
class HttpRequest:
    method: str
    url: str
    headers: dict[str, str]
    json: Any = None
    data: dict[str, str] | None = None
    params: dict[str, str] = field(default_factory=dict)


class HttpAdapter:
    """Shared HTTP plumbing; subclasses only build the provider's request and read its id."""

    transport: Transport
    name: str

    def __init__(self, settings: Settings, client: httpx.AsyncClient) -> None:
        self._s = settings
        self._client = client

    def request(self, out: Outgoing) -> HttpRequest:
        raise NotImplementedError

    def message_id(self, body: Any) -> str | None:
        return None

    async def send(self, out: Outgoing) -> str | None:
        req = self.request(out)
        try:
            response = await self._client.request(
                req.method,
                req.url,
                headers=req.headers,
                json=req.json,
                data=req.data,
                params=req.params or None,
            )
        except httpx.TimeoutException:
            raise Transient(f"{self.name}: timeout") from None
        except httpx.TransportError as exc:
            raise Transient(f"{self.name}: {type(exc).__name__}") from None
        status = response.status_code
        if status in (408, 425, 429) or status >= 500:
            raise Transient(
                f"{self.name}: HTTP {status}{_provider_code(response)}", _retry_after(response)
            )
        if status >= 400:
            raise Permanent(f"{self.name}: HTTP {status}{_provider_code(response)}")
        try:
            return self.message_id(response.json())
        except ValueError:
            return None

    async def close(self) -> None:
        return None


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


class SmsAdapter(HttpAdapter):
    """A generic SMS gateway: `to`, `message`, `sender_id`, `reference` (our idempotency
    key, which most gateways accept as a client reference and use to drop repeats)."""

    transport = Transport.SMS
    name = "sms"

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
        client: httpx.AsyncClient,
        transport: Transport,
        base_url: str,
        version: str,
        account_id: str,
        token: str,
        tag: str,
    ) -> None:
        super().__init__(settings, client)
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


def build_adapters(settings: Settings, client: httpx.AsyncClient) -> dict[Transport, Adapter]:
    """The configured adapters; one whose address is empty is off."""
    s = settings
    adapters: dict[Transport, Adapter] = {}
    if s.smtp_host:
        adapters[Transport.EMAIL] = EmailAdapter(s)
    if s.sms_url:
        adapters[Transport.SMS] = SmsAdapter(s, client)
    if s.whatsapp_base_url and s.whatsapp_phone_number_id:
        adapters[Transport.WHATSAPP] = WhatsAppAdapter(s, client)
    if s.messenger_base_url and s.messenger_page_id:
        adapters[Transport.MESSENGER] = MetaDmAdapter(
            s,
            client,
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
            client,
            Transport.INSTAGRAM,
            s.instagram_base_url,
            s.instagram_api_version,
            s.instagram_account_id,
            s.instagram_token.get_secret_value(),
            s.instagram_message_tag,
        )
    if s.x_base_url:
        adapters[Transport.X_DM] = XDmAdapter(s, client)
    if s.push_url:
        adapters[Transport.PUSH] = PushAdapter(s, client)
    return adapters
