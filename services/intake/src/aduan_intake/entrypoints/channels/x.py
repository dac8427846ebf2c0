"""X (Twitter) Account Activity API webhook: `GET/POST /v1/channels/x`.

- CRC: `GET ?crc_token=...` answers `{"response_token": "sha256=<base64 HMAC-SHA256(consumer
  secret, crc_token)>"}` (X checks it on registration and hourly).
- Deliveries carry `x-twitter-webhooks-signature: sha256=<base64 HMAC-SHA256(consumer
  secret, raw body)>`; `for_user_id` is our account.
- `direct_message_events[]` (`type = message_create`, `id`, `created_timestamp` ms,
  `message_create.sender_id`, `.target.recipient_id`, `.message_data.text`) and
  `tweet_create_events[]` (mentions: `id_str`, `text` or `extended_tweet.full_text`,
  `user.id_str`/`screen_name`/`name`, `timestamp_ms`, optional `coordinates`). Our own DMs
  and tweets come back too and are not complaints.

DM media need OAuth 1.0a user-context downloads; they are not fetched (the text is filed).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel

from aduan_contracts.enums import Channel
from aduan_contracts.values import GeoPoint, Location
from aduan_intake.domain import InvalidField, NormalizedReport, ReporterIdentity
from aduan_intake.entrypoints.channels.common import (
    BodyTooLarge,
    ChannelContext,
    Ignored,
    Inbound,
    Media,
    ProblemBody,
    WebhookAnswer,
    file_inbound,
    limit_by_address,
    problem,
    read_body,
    too_large,
)
from aduan_intake.entrypoints.channels.messenger import as_list, as_map

__all__ = ["crc_response_token", "normalize_x", "router", "x_signature"]

MAX_WEBHOOK_BYTES = 1024 * 1024


def x_signature(secret: str, data: bytes) -> str:
    digest = hmac.new(secret.encode(), data, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


def crc_response_token(secret: str, crc_token: str) -> str:
    return x_signature(secret, crc_token.encode())


def _ms(raw: Any, field: str) -> datetime:
    try:
        return datetime.fromtimestamp(int(raw) / 1000, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise InvalidField(field, "must be unix milliseconds") from None


def _dm(event: Mapping[str, Any], us: str, users: Mapping[str, Any]) -> Inbound | Ignored | None:
    if event.get("type") != "message_create":
        return None
    dm_id = event.get("id")
    create = as_map(event.get("message_create"), "message_create")
    sender = create.get("sender_id")
    if not isinstance(dm_id, str) or not dm_id or not sender:
        raise InvalidField("direct_message_events", "a DM needs 'id' and 'sender_id'")
    if str(sender) == us:
        return Ignored(message_id=dm_id, reason="our own message")
    data = as_map(create.get("message_data", {}), "message_data")
    text = str(data.get("text") or "").strip()
    if not text:
        return Ignored(message_id=dm_id, reason="no complaint text")
    user = users.get(str(sender)) if isinstance(users, Mapping) else None
    name = str(user.get("name") or "") if isinstance(user, Mapping) else ""
    report = NormalizedReport.build(
        channel=Channel.X,
        channel_message_id=f"dm:{dm_id}"[:256],
        text=text[:10000],
        reporter=ReporterIdentity(
            name=name[:200] or None, handle=str(sender)[:256], reply={"kind": "dm"}
        ),
        received_at=_ms(event.get("created_timestamp"), "created_timestamp"),
    )
    return Inbound(report=report, sender=str(sender))


def _mention(tweet: Mapping[str, Any], us: str) -> Inbound | Ignored:
    tweet_id = tweet.get("id_str") or (str(tweet["id"]) if tweet.get("id") else None)
    user = as_map(tweet.get("user"), "tweet.user")
    author = user.get("id_str") or (str(user["id"]) if user.get("id") else None)
    if not tweet_id or not author:
        raise InvalidField("tweet_create_events", "a tweet needs 'id_str' and 'user.id_str'")
    if str(author) == us:
        return Ignored(message_id=str(tweet_id), reason="our own tweet")
    extended = tweet.get("extended_tweet")
    full = extended.get("full_text") if isinstance(extended, Mapping) else None
    text = str(full or tweet.get("text") or "").strip()
    if not text:
        return Ignored(message_id=str(tweet_id), reason="no complaint text")
    location = None
    coords = tweet.get("coordinates")
    if isinstance(coords, Mapping) and isinstance(coords.get("coordinates"), list):
        lon, lat = coords["coordinates"][:2]  # GeoJSON order: longitude first
        try:
            location = Location(point=GeoPoint(lat=float(lat), lon=float(lon)))
        except (TypeError, ValueError):
            raise InvalidField("coordinates", "not a valid point") from None
    report = NormalizedReport.build(
        channel=Channel.X,
        channel_message_id=f"tweet:{tweet_id}"[:256],
        text=text[:10000],
        location=location,
        reporter=ReporterIdentity(
            name=str(user.get("name") or "")[:200] or None,
            handle=str(author)[:256],
            # A public reply would reveal the complaint: the notifier answers by DM and
            # only acknowledges under the tweet.
            reply={"kind": "mention", "in_reply_to_status_id": str(tweet_id)},
        ),
        received_at=_ms(tweet.get("timestamp_ms"), "timestamp_ms"),
    )
    return Inbound(report=report, sender=str(author))


def normalize_x(payload: Any) -> list[Inbound | Ignored]:
    body = as_map(payload, "body")
    us = body.get("for_user_id")
    if not us:
        raise InvalidField("for_user_id", "is required")
    users = body.get("users") or {}
    items: list[Inbound | Ignored] = []
    for event in as_list(body.get("direct_message_events"), "direct_message_events"):
        item = _dm(as_map(event, "direct_message_events"), str(us), users)
        if item is not None:
            items.append(item)
    for tweet in as_list(body.get("tweet_create_events"), "tweet_create_events"):
        items.append(_mention(as_map(tweet, "tweet_create_events"), str(us)))
    return items


class CrcAnswer(BaseModel):
    response_token: str


def router(ctx: ChannelContext) -> APIRouter:
    api = APIRouter(prefix="/v1/channels/x", tags=["channel: X"])
    settings = ctx.settings

    @api.get(
        "",
        response_model=CrcAnswer,
        responses={400: {"model": ProblemBody}, 429: {"model": ProblemBody}},
    )
    async def crc_check(request: Request) -> Response:
        """X's challenge-response check: sign `crc_token` with the consumer secret."""
        if (refused := await limit_by_address(ctx, "verify", request)) is not None:
            return refused
        token = request.query_params.get("crc_token")
        if not token:
            return problem(400, "missing_crc_token", "expected ?crc_token=...")
        if settings.x_consumer_secret is None:
            return problem(403, "not_configured", "this channel has no consumer secret")
        secret = settings.x_consumer_secret.get_secret_value()
        return JSONResponse({"response_token": crc_response_token(secret, token)})

    async def no_media(media: Media) -> bytes:  # pragma: no cover - X items carry no media
        raise AssertionError("X media are not fetched")

    @api.post(
        "",
        response_model=WebhookAnswer,
        responses={
            400: {"model": ProblemBody},
            401: {"model": ProblemBody},
            403: {"model": ProblemBody},
            413: {"model": ProblemBody},
        },
    )
    async def deliver(request: Request) -> Response:
        """A signed Account Activity delivery (DMs and mentions)."""
        try:
            body = await read_body(request, MAX_WEBHOOK_BYTES)
        except BodyTooLarge:
            return too_large(MAX_WEBHOOK_BYTES)
        given = request.headers.get("x-twitter-webhooks-signature")
        if settings.x_consumer_secret is None:
            return problem(401, "bad_signature", "this channel is not configured")
        if not given:
            return problem(401, "bad_signature", "missing x-twitter-webhooks-signature header")
        expected = x_signature(settings.x_consumer_secret.get_secret_value(), body)
        if not hmac.compare_digest(expected.encode(), given.strip().encode()):
            return problem(403, "bad_signature", "x-twitter-webhooks-signature does not match")
        try:
            payload = json.loads(body)
        except ValueError:
            return problem(400, "malformed_payload", "the body is not valid JSON")
        try:
            items = normalize_x(payload)
        except InvalidField as exc:
            return problem(400, "malformed_payload", f"{exc.field}: {exc.reason}")
        except (ValueError, TypeError):
            return problem(400, "malformed_payload", "the payload does not match the format")
        answer = await file_inbound(ctx, items, no_media)
        return JSONResponse(answer.model_dump(mode="json"))

    return api
