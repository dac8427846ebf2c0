"""E-mail: an inbound SMTP listener (aiosmtpd) inside the intake process.

A message becomes a report: the plain-text body (or the HTML body turned into text), the
subject as title, image attachments as photos, the sender's address as contact, and the
Message-ID as the channel message id (a resent message files once). A message that quotes
a receipt code we issued (a reply to our acknowledgement, or a new mail citing it) is added
to that report as `ReportAmended` instead of filed again.

The SMTP answer is the acknowledgement: 250 only after the report is committed to the
outbox; 451 (try again) on a passing failure, so the sending server keeps the mail queued;
550 when the message can never be filed (empty, no sender, unusable photo).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import parseaddr
from html.parser import HTMLParser
from typing import Any, Literal

from aiosmtpd.smtp import SMTP, Envelope, Session

from aduan_contracts.enums import Channel
from aduan_intake.adapters.photos import ACCEPTED_TYPES, PhotoError
from aduan_intake.admission import Overloaded
from aduan_intake.domain import InvalidField, NormalizedReport, ReporterIdentity
from aduan_intake.domain.contact import normalize_contact
from aduan_intake.entrypoints.channels.common import ChannelContext
from aduan_intake.service.filing import Filed, SubmissionConflict
from aduan_kit.logging import get_logger

__all__ = ["ParsedEmail", "SmtpListener", "html_to_text", "parse_email"]

log = get_logger(__name__)

RECEIPT = re.compile(r"\bADU-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}\b")
TEXT_MAX = 10000
_QUOTE_HEADER = re.compile(r"^(On .+ wrote:|Pada .+ menulis:)\s*$")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


class _TextExtractor(HTMLParser):
    _BLOCK = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "blockquote"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style", "head"):
            self._skip += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style", "head") and self._skip:
            self._skip -= 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    """Visible text of an HTML body (no scripts, styles or markup)."""
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return "\n".join(line for line in lines if line)


def _strip_quoted(text: str) -> str:
    """A reply's own words: drop quoted lines and the "On ... wrote:" line above them."""
    kept = [
        line
        for line in text.splitlines()
        if not line.lstrip().startswith(">") and not _QUOTE_HEADER.match(line.strip())
    ]
    return "\n".join(kept).strip()


@dataclass(frozen=True, slots=True)
class Attachment:
    content_type: str
    data: bytes


@dataclass(frozen=True, slots=True)
class ParsedEmail:
    report: NormalizedReport
    # Receipt codes quoted anywhere (subject first): candidates for an amendment.
    receipts: tuple[str, ...]
    # The reply's own words (quotes removed), the text of an amendment.
    own_text: str
    images: tuple[Attachment, ...]
    skipped_attachments: int


def _body(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        content = part.get_content()
    except (LookupError, ValueError):  # unknown charset, broken transfer encoding
        raise InvalidField("body", "the message body cannot be decoded") from None
    text = str(content)
    if part.get_content_subtype() == "html":
        text = html_to_text(text)
    return _CONTROL.sub("", text.replace("\r\n", "\n")).strip()


def parse_email(raw: bytes, received_at: datetime, default_region: str = "ID") -> ParsedEmail:
    """Raise `InvalidField` for a message that can never be filed."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    if not isinstance(msg, EmailMessage):  # pragma: no cover - policy.default guarantees it
        raise InvalidField("message", "not a MIME message")
    try:
        from_header = str(msg.get("From", ""))
        subject = " ".join(str(msg.get("Subject", "")).split())
        message_id = str(msg.get("Message-ID", "")).strip().strip("<>")
        language_header = str(msg.get("Content-Language", "")).lower()
    except (ValueError, TypeError, IndexError):
        raise InvalidField("headers", "the message headers cannot be read") from None
    name, address = parseaddr(from_header)
    if not address:
        raise InvalidField("from", "the message has no sender address")
    try:
        contact = normalize_contact(address).value
    except ValueError:
        raise InvalidField("from", "the sender address is not valid") from None

    body = _body(msg)
    text = body or subject
    if not text:
        raise InvalidField("body", "the message is empty")
    images: list[Attachment] = []
    skipped = 0
    for part in msg.iter_attachments():
        ctype = part.get_content_type()
        if ctype.startswith("image/"):
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes) and payload:
                images.append(Attachment(ctype, payload))
                continue
        skipped += 1

    receipts = tuple(dict.fromkeys(RECEIPT.findall(subject) + RECEIPT.findall(body)))
    if not message_id:
        # No Message-ID (rare, non-conforming senders): the content itself identifies a
        # resend of the same message.
        message_id = "sha256:" + hashlib.sha256(raw).hexdigest()
    language: Literal["id", "en"] = "en" if language_header.startswith("en") else "id"
    report = NormalizedReport.build(
        channel=Channel.EMAIL,
        channel_message_id=message_id[:256],
        text=text[:TEXT_MAX],
        title=subject[:300] or None,
        reporter=ReporterIdentity(
            name=name.strip()[:200] or None,
            contact=contact,
            handle=contact,
            # Threading our answer under the reporter's message.
            reply={"message_id": message_id[:256]},
        ),
        language=language,
        received_at=received_at,
    )
    return ParsedEmail(
        report=report,
        receipts=receipts,
        own_text=(_strip_quoted(body) or subject or text)[:TEXT_MAX],
        images=tuple(images),
        skipped_attachments=skipped,
    )


class _Handler:
    def __init__(self, ctx: ChannelContext) -> None:
        self.ctx = ctx
        self.domains = frozenset(d.lower() for d in ctx.settings.smtp_domains)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        domain = address.rpartition("@")[2].lower()
        if self.domains and domain not in self.domains:
            return "550 5.1.1 no such recipient here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        sender = (envelope.mail_from or "").lower() or str(session.peer)
        verdict = await self.ctx.limiter.hit("email", sender)
        if not verdict.allowed:
            return "451 4.7.1 too many messages from this sender; try again later"
        raw = envelope.original_content or envelope.content
        if not isinstance(raw, bytes):
            raw = str(raw).encode()
        try:
            parsed = parse_email(raw, datetime.now(UTC), self.ctx.settings.default_phone_region)
            filed = await self._file(parsed)
        except InvalidField as exc:
            return f"550 5.6.0 {exc.reason}"
        except PhotoError as exc:
            return f"550 5.6.0 {exc.reason}"
        except SubmissionConflict:
            return "550 5.6.0 this Message-ID was already used for a different message"
        except Overloaded:
            # Shed before anything was stored (aduan_intake.admission): the sending server
            # keeps the mail queued and tries again.
            return "451 4.3.2 too many complaints at once; try again later"
        except Exception as exc:
            # Nothing was committed (or it was, and a retry will be answered as duplicate):
            # the sending server keeps the mail and tries again.
            # The type only: database errors quote their parameters, which may hold
            # personal data.
            log.error("e-mail not filed", error=type(exc).__name__)
            return "451 4.3.0 temporary failure; try again later"
        what = "added to" if filed.amended else "filed as"
        return f"250 2.0.0 complaint {what} {filed.receipt_code}"

    async def _file(self, parsed: ParsedEmail) -> Filed:
        ctx = self.ctx
        report = parsed.report
        photos = []
        if parsed.images and not await ctx.filer.known(Channel.EMAIL, report.channel_message_id):
            ctx.photos.check_count(len(parsed.images))
            for image in parsed.images:
                if image.content_type not in ACCEPTED_TYPES:
                    raise PhotoError(415, "unsupported photo type; send JPEG, PNG or WebP")
                photos.append(await ctx.photos.store(image.data, "email", image.content_type))
        for code in parsed.receipts:
            target = await ctx.filer.report_for_receipt(code)
            if target is not None:
                return await ctx.filer.amend(
                    report_id=target[0],
                    receipt_code=target[1],
                    channel=Channel.EMAIL,
                    channel_message_id=report.channel_message_id,
                    text=parsed.own_text,
                    photos=tuple(photos),
                    received_at=report.received_at,
                    sender=report.reporter,
                )
        return await ctx.filer.file(report.model_copy(update={"photos": tuple(photos)}))


class SmtpListener:
    """The SMTP server on the service's own event loop (so it shares the database pool)."""

    def __init__(self, ctx: ChannelContext) -> None:
        self.ctx = ctx
        self._server: Any = None
        self.port: int | None = None

    async def start(self) -> None:
        # aiosmtpd logs every envelope sender and recipient at INFO: personal data, which
        # never goes to our logs. Our own handler logs what matters, by report id.
        logging.getLogger("mail.log").setLevel(logging.ERROR)
        settings = self.ctx.settings
        handler = _Handler(self.ctx)

        def factory() -> SMTP:
            return SMTP(
                handler,
                data_size_limit=settings.smtp_max_bytes,
                hostname="aduan-intake",
                ident="Aduan intake",
            )

        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            factory, host=settings.smtp_host, port=settings.smtp_bind_port
        )
        self.port = int(self._server.sockets[0].getsockname()[1])
        log.info("smtp listener started", port=self.port)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
