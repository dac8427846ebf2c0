"""What every HTTP channel adapter shares: the filing context, the sender's address for
rate limiting, content negotiation and the error bodies."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import ipaddress
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID

import httpx
from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, SecretStr

from aduan_contracts.values import PhotoRef
from aduan_intake.adapters.photos import PhotoError, PhotoStore
from aduan_intake.adapters.ratelimit import SlidingWindowLimiter, Verdict
from aduan_intake.config import Settings
from aduan_intake.domain import InvalidField, NormalizedReport
from aduan_intake.service.filing import Filed, Filer, RateLimited, SubmissionConflict
from aduan_kit.catalogue import Catalogue
from aduan_kit.logging import get_logger

__all__ = [
    "AUTHENTICATED_FILING_ERRORS",
    "BodyTooLarge",
    "ChannelContext",
    "FieldError",
    "FiledReceipt",
    "Ignored",
    "Inbound",
    "Media",
    "ProblemBody",
    "WebhookAnswer",
    "field_error",
    "file_inbound",
    "hmac_sha256_hex",
    "key_matches",
    "limit_by_address",
    "prefers_json",
    "problem",
    "rate_limited",
    "read_body",
    "sender_address",
    "verify_hub_signature",
]

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ChannelContext:
    """Handed to every adapter by the composition root."""

    settings: Settings
    filer: Filer
    limiter: SlidingWindowLimiter
    photos: PhotoStore
    # Outbound HTTP to providers (media downloads); closed by the runtime on stop.
    http: httpx.AsyncClient
    # The category catalogue as intake knows it (aduan_intake.adapters.catalogue): which codes a
    # structured channel may file under. Kept current from the gateway's topic.
    catalogue: Catalogue = field(default_factory=Catalogue)

    def too_many(self, verdict: Verdict) -> JSONResponse:
        """The 429 for a post the rate limit refused."""
        return rate_limited(verdict.retry_after_s, self.limiter.limit, self.limiter.window_s)


class FiledReceipt(BaseModel):
    """What a sender gets back after filing (or re-sending) a report."""

    report_id: UUID
    receipt_code: str
    status: Literal["received"] = "received"
    duplicate: bool
    # True when the message was added to an existing report (the reporter's answer to an
    # officer's question) rather than filed as a new one.
    answer: bool = False

    @classmethod
    def of(cls, filed: Filed) -> FiledReceipt:
        return cls(
            report_id=filed.report_id,
            receipt_code=filed.receipt_code,
            duplicate=filed.duplicate,
            answer=filed.amended,
        )


class FieldError(BaseModel):
    """A 422: which field, and why (never the field's value)."""

    error: Literal["invalid_field"] = "invalid_field"
    field: str
    reason: str


class ProblemBody(BaseModel):
    """Any other refusal (rate limit, unreadable body, id reused)."""

    error: str
    reason: str


class Ignored(BaseModel):
    """A message in a webhook delivery that was not filed, and why."""

    message_id: str
    reason: str


class WebhookAnswer(BaseModel):
    """What a provider's webhook gets back: 200 once every filed message is durable."""

    filed: list[FiledReceipt]
    ignored: list[Ignored] = []
    # Photos left out of a filed report (unsupported type, too big, unreadable).
    notes: list[str] = []


# The error answers every authenticated filing endpoint documents (app, staff entry).
AUTHENTICATED_FILING_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ProblemBody},
    401: {"model": ProblemBody},
    403: {"model": ProblemBody},
    409: {"model": ProblemBody},
    413: {"model": ProblemBody},
    415: {"model": ProblemBody},
    422: {"model": FieldError},
    429: {"model": ProblemBody},
    # Shed under overload, with Retry-After (aduan_intake.admission).
    503: {"model": ProblemBody},
}


def field_error(exc: InvalidField) -> JSONResponse:
    body = FieldError(field=exc.field, reason=exc.reason)
    return JSONResponse(body.model_dump(), status_code=422)


def problem(
    status: int, error: str, reason: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        ProblemBody(error=error, reason=reason).model_dump(), status_code=status, headers=headers
    )


def rate_limited(retry_after_s: int, limit: int, window_s: int) -> JSONResponse:
    return problem(
        429,
        "rate_limited",
        f"more than {limit} submissions in {window_s} s from this address; "
        f"try again in {retry_after_s} s",
        headers={"Retry-After": str(retry_after_s)},
    )


async def limit_by_address(
    ctx: ChannelContext, scope: str, request: Request
) -> JSONResponse | None:
    """The rate limit for endpoints with no better sender id (pages, handshakes): None when
    allowed, else the 429 to answer."""
    sender = sender_address(request, ctx.settings.trust_forwarded_for)
    verdict = await ctx.limiter.hit(scope, sender)
    if verdict.allowed:
        return None
    return rate_limited(verdict.retry_after_s, ctx.limiter.limit, ctx.limiter.window_s)


def sender_address(
    request: Request, trust_forwarded_for: bool, trusted_proxies: tuple[str, ...] = ()
) -> str:
    """The client address the rate limit counts against."""
    forwarded = request.headers.get("x-forwarded-for", "")
    if trust_forwarded_for:
        # The left-most entry is the original client as our own proxy saw it.
        first = forwarded.split(",")[0].strip()
        if first:
            return first
    peer = request.client.host if request.client else "unknown"
    if _trusted(peer, trusted_proxies):
        # A trusted peer (the portal) appends the citizen's address it saw: the nearest
        # hop that is not one of ours is the citizen (anything left of it they could forge).
        for hop in reversed([h.strip() for h in forwarded.split(",") if h.strip()]):
            if not _trusted(hop, trusted_proxies):
                return hop
    return peer


def _trusted(address: str, trusted: tuple[str, ...]) -> bool:
    """`trusted` holds addresses or networks (`10.0.0.0/8`: a cluster's pod network, where
    the portal's address changes with every pod)."""
    if address in trusted:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    for entry in trusted:
        if "/" in entry:
            with contextlib.suppress(ValueError):
                if ip in ipaddress.ip_network(entry, strict=False):
                    return True
    return False


def _quality(accept: str, media: str) -> float:
    """The q-value `accept` gives `media` (most specific matching range wins)."""
    main = media.split("/")[0]
    best: tuple[int, float] = (-1, 0.0)
    for part in accept.split(","):
        fields = [f.strip() for f in part.split(";")]
        rng = fields[0].lower()
        q = 1.0
        for param in fields[1:]:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if rng == media:
            specificity = 2
        elif rng == f"{main}/*":
            specificity = 1
        elif rng == "*/*":
            specificity = 0
        else:
            continue
        if specificity > best[0]:
            best = (specificity, q)
    return best[1]


def asks_for_html(accept: str | None) -> bool:
    """True when the client ranks HTML above JSON (a browser: `text/html,...,*/*;q=0.8`).
    A tie (`*/*`, no header) is not: a script that sent no Accept keeps the JSON refusal
    it always got."""
    if not accept:
        return False
    return _quality(accept, "text/html") > _quality(accept, "application/json")


def prefers_json(accept: str | None) -> bool:
    """True when the client ranks JSON above HTML; a tie (`*/*`, no header) means a
    browser-like client, which gets the HTML page."""
    if not accept:
        return False
    return _quality(accept, "application/json") > _quality(accept, "text/html")


# --- bodies and signatures ------------------------------------------------------------------


class BodyTooLarge(Exception):
    pass


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, refused past `limit` bytes (declared or streamed), so a hostile
    client cannot make us buffer an unbounded upload. Signature checks need these exact
    bytes, and `request.form()`/`json()` reuse them afterwards."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise BodyTooLarge
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    body = b"".join(chunks)
    # Starlette caches the body here; its form and JSON parsers then read the cache instead
    # of the (already consumed) stream.
    request._body = body
    return body


def too_large(limit: int) -> JSONResponse:
    return problem(413, "body_too_large", f"the request body may be at most {limit} bytes")


def hmac_sha256_hex(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_hub_signature(secret: SecretStr | None, body: bytes, header: str | None) -> str | None:
    """Meta's `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>`
    (WhatsApp Cloud API, Messenger, Instagram). Returns why it fails, or None when valid."""
    if secret is None:
        return "this channel is not configured (no app secret)"
    if not header:
        return "missing X-Hub-Signature-256 header"
    scheme, _, given = header.partition("=")
    if scheme.strip().lower() != "sha256" or not given:
        return "X-Hub-Signature-256 must be 'sha256=<hex digest>'"
    expected = hmac_sha256_hex(secret.get_secret_value(), body)
    if not hmac.compare_digest(expected, given.strip().lower()):
        return "X-Hub-Signature-256 does not match the body"
    return None


def key_matches(given: str | None, keys: Sequence[SecretStr]) -> bool:
    """Constant-time comparison against every configured key."""
    if not given:
        return False
    found = False
    for key in keys:
        # No early exit: the time taken does not tell which key (or how much) matched.
        found |= hmac.compare_digest(given.encode(), key.get_secret_value().encode())
    return found


# --- filing webhook messages ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Media:
    """A photo a provider holds for us: `ref` is what the adapter's fetcher understands
    (a WhatsApp media id, an attachment URL)."""

    ref: str
    content_type: str | None = None


@dataclass(frozen=True, slots=True)
class Inbound:
    """One provider message, normalized except for its photos (not fetched yet)."""

    report: NormalizedReport
    sender: str  # the provider's id of the sender: what the rate limit counts
    media: tuple[Media, ...] = field(default_factory=tuple)


async def file_inbound(
    ctx: ChannelContext,
    items: Sequence[Inbound | Ignored],
    fetch: Callable[[Media], Awaitable[bytes]],
) -> WebhookAnswer:
    """File each message of a webhook delivery. A provider error while fetching media
    propagates (the adapter answers 5xx, the provider redelivers, filed messages dedupe)."""
    filed: list[FiledReceipt] = []
    ignored: list[Ignored] = []
    notes: list[str] = []
    for item in items:
        if isinstance(item, Ignored):
            ignored.append(item)
            continue
        report = item.report
        mid = report.channel_message_id
        # Counted with the other posts of its filing group; media waits for the verdict.
        gate = ctx.limiter.later(report.channel.value, item.sender)
        if gate.refused or (item.media and not (await gate.verdict()).allowed):
            ignored.append(Ignored(message_id=mid, reason="rate_limited"))
            continue
        if item.media and not await ctx.filer.known(report.channel, mid):
            photos: list[PhotoRef] = []
            for media in item.media[: ctx.photos.max_count]:
                try:
                    ctx.photos.check_declared(media.content_type)
                    data = await fetch(media)
                    photos.append(await ctx.photos.store(data, report.channel.value))
                except PhotoError as exc:
                    # The complaint still counts; only the unusable photo is left out.
                    notes.append(f"{mid}: photo refused ({exc.reason})")
            report = report.model_copy(update={"photos": tuple(photos)})
        try:
            # WhatsApp: an answer to an officer's open question goes onto that report.
            result = await ctx.filer.file_or_answer(report, gate)
        except RateLimited:
            ignored.append(Ignored(message_id=mid, reason="rate_limited"))
            continue
        except SubmissionConflict:
            ignored.append(Ignored(message_id=mid, reason="message id reused for other content"))
            continue
        filed.append(FiledReceipt.of(result))
    return WebhookAnswer(filed=filed, ignored=ignored, notes=notes)
