"""SMS gateway webhook: `POST /v1/channels/sms` (the Twilio Messaging webhook format, which
most SMS gateways in Indonesia also offer or can be configured to mimic).

Form-encoded: `MessageSid` (the channel message id), `From`, `To`, `Body`, `NumMedia`.
Signature: `X-Twilio-Signature` = base64(HMAC-SHA1(auth token, public URL + every POST
parameter's name and value, sorted by name)). The answer is TwiML; the receipt goes back
in `X-Aduan-Receipt-Code` (the notifier sends the reporter's acknowledgement SMS, so the
TwiML stays empty and the reporter gets one message, not two).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Sequence
from datetime import UTC, datetime
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.responses import Response

from aduan_contracts.enums import Channel
from aduan_intake.domain import InvalidField, NormalizedReport, ReporterIdentity
from aduan_intake.domain.contact import normalize_contact
from aduan_intake.entrypoints.channels.common import (
    BodyTooLarge,
    ChannelContext,
    ProblemBody,
    field_error,
    problem,
    read_body,
    too_large,
)
from aduan_intake.service.filing import RateLimited, SubmissionConflict

__all__ = ["normalize_sms", "router", "twilio_signature"]

MAX_BODY = 64 * 1024
TWIML_EMPTY = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def twilio_signature(auth_token: str, url: str, params: Sequence[tuple[str, str]]) -> str:
    data = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def normalize_sms(
    params: Sequence[tuple[str, str]], received_at: datetime, default_region: str = "ID"
) -> NormalizedReport:
    form = dict(params)
    sid = form.get("MessageSid") or form.get("SmsSid") or ""
    if not sid.strip():
        raise InvalidField("MessageSid", "is required")
    sender = form.get("From", "").strip()
    if not sender:
        raise InvalidField("From", "is required")
    try:
        contact = normalize_contact(sender, default_region).value
    except ValueError:
        raise InvalidField("From", "is not a phone number") from None
    text = form.get("Body", "").strip()
    if not text:
        raise InvalidField("Body", "the message is empty")
    to = form.get("To", "").strip()
    return NormalizedReport.build(
        channel=Channel.SMS,
        channel_message_id=sid.strip()[:256],
        text=text[:10000],
        reporter=ReporterIdentity(
            contact=contact, handle=contact, reply={"to": to[:64]} if to else None
        ),
        received_at=received_at,
    )


def router(ctx: ChannelContext) -> APIRouter:
    api = APIRouter(prefix="/v1/channels/sms", tags=["channel: SMS gateway"])
    settings = ctx.settings

    @api.post(
        "",
        response_class=Response,
        responses={
            200: {"content": {"text/xml": {}}, "description": "TwiML; receipt in headers"},
            400: {"model": ProblemBody},
            401: {"model": ProblemBody},
            403: {"model": ProblemBody},
            409: {"model": ProblemBody},
            413: {"model": ProblemBody},
            415: {"model": ProblemBody},
            422: {"model": ProblemBody},
            429: {"model": ProblemBody},
        },
    )
    async def receive_sms(request: Request) -> Response:
        """An inbound SMS from the gateway (form-encoded, signed)."""
        try:
            body = await read_body(request, MAX_BODY)
        except BodyTooLarge:
            return too_large(MAX_BODY)
        token = settings.sms_auth_token
        given = request.headers.get("x-twilio-signature")
        if token is None:
            return problem(401, "bad_signature", "this channel is not configured")
        if not given:
            return problem(401, "bad_signature", "missing X-Twilio-Signature header")
        ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if ctype != "application/x-www-form-urlencoded":
            return problem(415, "unsupported_media_type", "send application/x-www-form-urlencoded")
        try:
            params = parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            return problem(400, "malformed_payload", "the body is not UTF-8")
        url = settings.sms_public_url or str(request.url)
        expected = twilio_signature(token.get_secret_value(), url, params)
        if not hmac.compare_digest(expected.encode(), given.strip().encode()):
            return problem(403, "bad_signature", "X-Twilio-Signature does not match")
        try:
            report = normalize_sms(params, datetime.now(UTC), settings.default_phone_region)
        except InvalidField as exc:
            return field_error(exc)
        sender = report.reporter.contact if report.reporter and report.reporter.contact else ""
        # Counted now, answered with the filing's group.
        gate = ctx.limiter.later("sms", sender)
        if gate.refused:
            return ctx.too_many(gate.refused)
        try:
            # An answer to an officer's open question goes onto that report.
            filed = await ctx.filer.file_or_answer(report, gate)
        except RateLimited as exc:
            return ctx.too_many(exc.verdict)
        except SubmissionConflict:
            return problem(409, "message_id_reused", "this MessageSid was used for another text")
        return Response(
            TWIML_EMPTY,
            media_type="text/xml",
            headers={
                "X-Aduan-Receipt-Code": filed.receipt_code,
                "X-Aduan-Report-Id": str(filed.report_id),
                "X-Aduan-Duplicate": "true" if filed.duplicate else "false",
                "X-Aduan-Answer": "true" if filed.amended else "false",
            },
        )

    return api
