"""Real channel payloads for the load generators, built (and signed) before a run starts.

Each complaint is what its channel really sends: the web form (urlencoded), the citizen
app (JSON with `X-App-Key`), a WhatsApp Cloud API webhook (signed `X-Hub-Signature-256`,
HMAC-SHA256 of the raw body with the app secret), a Twilio-format SMS webhook (signed
`X-Twilio-Signature`, base64 HMAC-SHA1 of the public URL followed by the sorted form
fields), and an e-mail (an RFC 5322 message for intake's SMTP listener). Pure functions:
the same seed gives the same payloads, so the unit tests check the signatures the way
intake checks them.

The HTTP ones become vegeta targets (`vegeta_line`: its JSON target format, the body
base64); the httpx generator the chaos runner uses (bench/load.py) sends the same bytes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import random
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any, Protocol
from urllib.parse import urlencode

__all__ = [
    "AREAS",
    "CATEGORIES",
    "MIX",
    "TEXTS",
    "ChannelSecrets",
    "HttpRequest",
    "Mail",
    "channel_for",
    "complaint",
    "email",
    "read_request",
    "sms_signature",
    "vegeta_line",
    "whatsapp_signature",
]

CATEGORIES = ["jalan-rusak", "lampu-jalan", "saluran-air", "banjir", "sampah", "pohon-tumbang"]
AREAS = ["Gambir", "Menteng", "Tanah Abang", "Kemayoran", "Cempaka Putih", "Matraman"]
TEXTS = [
    "Jalan berlubang cukup dalam di depan sekolah, berbahaya bagi pengendara motor.",
    "Lampu penerangan jalan mati sejak tiga hari, gelap sekali pada malam hari.",
    "Saluran air tersumbat sampah sehingga air meluap ke jalan saat hujan.",
    "Genangan banjir setinggi lutut belum surut sejak kemarin sore.",
    "Sampah menumpuk di pinggir jalan dan belum diangkut selama seminggu.",
    "Pohon tumbang menutup separuh jalan setelah angin kencang tadi malam.",
]
# Channel mix: web and app dominate in Jakarta's figures; WhatsApp, SMS and e-mail follow.
MIX = (("web", 0.33), ("app", 0.33), ("whatsapp", 0.19), ("sms", 0.10), ("email", 0.05))
CHANNELS = tuple(name for name, _ in MIX)
HTTP_CHANNELS = ("web", "app", "whatsapp", "sms")


class ChannelSecrets(Protocol):
    """What the generator must share with intake (bench.platform.Secrets)."""

    @property
    def app_key(self) -> str: ...
    @property
    def sms_token(self) -> str: ...
    @property
    def whatsapp_secret(self) -> str: ...


@dataclass(frozen=True)
class HttpRequest:
    """One HTTP complaint (or read): what is sent, and how to recognise its answer."""

    channel: str
    message_id: str
    method: str
    url: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Mail:
    """One e-mail complaint for intake's SMTP listener."""

    message_id: str
    mail_from: str
    rcpt_to: str
    data: bytes  # the message, CRLF line ends, not yet dot-stuffed


def channel_for(rng: random.Random) -> str:
    x = rng.random()
    for name, share in MIX:
        if x < share:
            return name
        x -= share
    return MIX[-1][0]


def _phone(run_id: str, i: int) -> str:
    # Stable per run (not `hash()`, which is salted per process).
    run = int(hashlib.sha256(run_id.encode()).hexdigest()[:6], 16) % 1000
    return f"+62812{run:03d}{i % 100000:05d}"


def sms_signature(token: str, url: str, params: list[tuple[str, str]]) -> str:
    """Twilio's X-Twilio-Signature: base64 HMAC-SHA1 of the URL then each field's name and
    value in name order."""
    data = url + "".join(k + v for k, v in sorted(params))
    return base64.b64encode(hmac.new(token.encode(), data.encode(), "sha1").digest()).decode()


def whatsapp_signature(secret: str, raw: bytes) -> str:
    """Meta's X-Hub-Signature-256 header value for a raw webhook body."""
    return "sha256=" + hmac.new(secret.encode(), raw, "sha256").hexdigest()


def complaint(
    secrets: ChannelSecrets,
    base: str,
    run_id: str,
    i: int,
    channel: str,
    rng: random.Random,
) -> HttpRequest:
    """Complaint number `i` of run `run_id` on an HTTP channel, addressed to intake at
    `base`; a unique channel message id per (run, i)."""
    text = f"{rng.choice(TEXTS)} (laporan {run_id}-{i})"
    # No category hint: most citizens leave it to triage, and the bench then never depends
    # on which codes the category catalogue holds at the moment (the draw keeps the same
    # random sequence as before).
    rng.choice(CATEGORIES)
    area = rng.choice(AREAS)
    lat, lon = -6.2 + rng.uniform(-0.05, 0.05), 106.83 + rng.uniform(-0.05, 0.05)
    mid = f"{run_id}-{i}"
    if channel == "web":
        form = {
            "title": text[:40],
            "text": text,
            "name": "Warga Bench",
            "contact": f"warga{i}@example.org",
            "public": "on" if i % 2 == 0 else "",
            "lat": f"{lat:.5f}",
            "lon": f"{lon:.5f}",
            "area": area,
            "submission_id": str(uuid.uuid5(uuid.NAMESPACE_URL, mid)),
        }
        return HttpRequest(
            channel,
            mid,
            "POST",
            f"{base}/v1/channels/web",
            urlencode(form).encode(),
            {"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"},
        )
    if channel == "app":
        body = {
            "client_report_id": str(uuid.uuid5(uuid.NAMESPACE_URL, mid)),
            "text": text,
            "title": text[:40],
            "location": {"lat": lat, "lon": lon, "area": area},
            "reporter": {"user_id": f"jaki-{i}", "push_token": f"fcm:bench-{mid}"},
            "public": i % 3 == 0,
            "language": "id",
        }
        return HttpRequest(
            channel,
            mid,
            "POST",
            f"{base}/v1/channels/app/reports",
            json.dumps(body).encode(),
            {"Content-Type": "application/json", "X-App-Key": secrets.app_key},
        )
    if channel == "sms":
        sid = "SM" + hashlib.md5(mid.encode()).hexdigest()  # noqa: S324 - an id, not security
        params = [
            ("MessageSid", sid),
            ("SmsSid", sid),
            ("AccountSid", "AC" + "0" * 32),
            ("From", _phone(run_id, i)),
            ("To", "+6281100002222"),
            ("Body", text),
            ("NumMedia", "0"),
        ]
        url = f"{base}/v1/channels/sms"
        return HttpRequest(
            channel,
            sid,
            "POST",
            url,
            urlencode(params).encode(),
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": sms_signature(secrets.sms_token, url, params),
            },
        )
    if channel != "whatsapp":
        raise ValueError(f"not an HTTP channel: {channel}")
    wa_id = _phone(run_id, i).lstrip("+")
    wamid = "wamid." + base64.b64encode(mid.encode()).decode()
    payload = {
        "object": "whatsapp_business_account",
        "entry": [
            {
                "id": "102290129340398",
                "changes": [
                    {
                        "field": "messages",
                        "value": {
                            "messaging_product": "whatsapp",
                            "metadata": {
                                "display_phone_number": "6281100001111",
                                "phone_number_id": "106540352242922",
                            },
                            "contacts": [{"profile": {"name": "Warga"}, "wa_id": wa_id}],
                            "messages": [
                                {
                                    "from": wa_id,
                                    "id": wamid,
                                    "timestamp": str(int(time.time())),
                                    "text": {"body": text},
                                    "type": "text",
                                }
                            ],
                        },
                    }
                ],
            }
        ],
    }
    raw = json.dumps(payload).encode()
    return HttpRequest(
        "whatsapp",
        wamid,
        "POST",
        f"{base}/v1/channels/whatsapp",
        raw,
        {
            "Content-Type": "application/json",
            "X-Hub-Signature-256": whatsapp_signature(secrets.whatsapp_secret, raw),
        },
    )


def email(run_id: str, i: int, rng: random.Random, domain: str = "aduan.example") -> Mail:
    """Complaint number `i` as a plain-text e-mail to intake's SMTP listener."""
    text = f"{rng.choice(TEXTS)} (laporan {run_id}-{i})"
    msg = EmailMessage()
    sender = f"warga{i}.{run_id}@example.org"
    msg["From"] = f"Warga Bench <{sender}>"
    msg["To"] = f"lapor@{domain}"
    msg["Subject"] = f"Laporan {rng.choice(CATEGORIES)} di {rng.choice(AREAS)}"
    msg["Date"] = format_datetime(datetime.now(UTC))
    mid = make_msgid(idstring=f"{run_id}-{i}", domain="example.org")
    msg["Message-ID"] = mid
    msg.set_content(text)
    data = msg.as_bytes(policy=msg.policy.clone(linesep="\r\n"))
    return Mail(mid, sender, f"lapor@{domain}", data)


def read_request(
    base: str, rng: random.Random, report_ids: list[str], tokens: dict[str, str]
) -> HttpRequest:
    """One gateway read in the mixed-role mix: the public (list 30 %, one report 25 %) and
    staff with their tokens (one report 30 %, lists 15 %)."""
    rid = rng.choice(report_ids) if report_ids else str(uuid.UUID(int=rng.getrandbits(128)))
    x = rng.random()
    if x < 0.3:
        return HttpRequest("public-list", "", "GET", f"{base}/v1/public/reports?limit=20", b"")
    if x < 0.55:
        return HttpRequest("public-get", "", "GET", f"{base}/v1/public/reports/{rid}", b"")
    role = rng.choice(sorted(tokens))
    auth = {"Authorization": f"Bearer {tokens[role]}"}
    if x < 0.85:
        return HttpRequest(f"{role}-get", "", "GET", f"{base}/v1/reports/{rid}", b"", auth)
    return HttpRequest(f"{role}-list", "", "GET", f"{base}/v1/reports?limit=20", b"", auth)


def vegeta_line(req: HttpRequest) -> str:
    """One target in vegeta's JSON target format (`-format=json`).

    A complaint also carries `X-Idempotency-Key` (its channel message id; intake ignores
    the header and files a message id once anyway): with it, Go's HTTP client resends a
    POST that met a keep-alive connection the server had just closed (uvicorn closes idle
    ones after 5 s) before any answer came back, as it resends a GET, instead of reporting
    `EOF` for a complaint the server never read (2 in 50,000 at 1,000/s against the bare
    endpoint without it). The latency still counts from the intended send time."""
    headers = dict(req.headers)
    if req.method == "POST" and req.message_id:
        headers.setdefault("X-Idempotency-Key", req.message_id)
    target: dict[str, Any] = {
        "method": req.method,
        "url": req.url,
        "header": {k: [v] for k, v in headers.items()},
    }
    if req.body:
        target["body"] = base64.b64encode(req.body).decode()
    return json.dumps(target, separators=(",", ":"))


def plan(n: int, seed: int, channels: tuple[str, ...] = CHANNELS) -> Iterator[tuple[int, str]]:
    """(i, channel) for n complaints in the mix (restricted to `channels`)."""
    rng = random.Random(seed)
    i = 0
    while i < n:
        ch = channel_for(rng)
        if ch in channels:
            yield i, ch
            i += 1
