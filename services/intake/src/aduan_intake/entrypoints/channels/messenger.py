"""Facebook Messenger webhook: `GET/POST /v1/channels/facebook` (Meta's Messenger Platform).

Payload: `object = page`, `entry[]` (`id` = our page) with `messaging[]` events: `sender.id`
(the page-scoped id, PSID: how we answer), `recipient.id` (our page), `timestamp` (ms),
`message.mid` (the channel message id), `message.text`, `message.attachments[]` (`type` =
image with `payload.url`). Echoes of our own messages (`is_echo`) and events without a
message (deliveries, reads, postbacks) are not complaints. Instagram messaging uses the same
shape (see `instagram.py`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter

from aduan_contracts.enums import Channel
from aduan_intake.adapters.photos import PhotoError
from aduan_intake.domain import InvalidField, NormalizedReport, ReporterIdentity
from aduan_intake.entrypoints.channels.common import ChannelContext, Ignored, Inbound, Media
from aduan_intake.entrypoints.channels.meta import mount_meta_webhook

__all__ = ["meta_fetcher", "normalize_messaging", "router"]

NO_TEXT = "no complaint text: send it as a message alongside the photo"


def as_list(value: Any, field: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidField(field, "must be a list")
    return value


def as_map(value: Any, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidField(field, "must be an object")
    return value


def _received_at(event: Mapping[str, Any], entry: Mapping[str, Any]) -> datetime:
    raw = event.get("timestamp", entry.get("time"))
    try:
        return datetime.fromtimestamp(int(raw) / 1000, UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        raise InvalidField("messaging.timestamp", "must be unix milliseconds") from None


def messaging_event(
    event: Mapping[str, Any], entry: Mapping[str, Any], channel: Channel, id_key: str
) -> Inbound | Ignored | None:
    """One `messaging[]` event; None for events that are not messages at all."""
    message = event.get("message")
    if not isinstance(message, Mapping):
        return None  # delivery, read, postback, reaction: nothing to file
    mid = message.get("mid")
    if not isinstance(mid, str) or not mid:
        raise InvalidField("message.mid", "is required")
    if message.get("is_echo"):
        return Ignored(message_id=mid, reason="echo of our own message")
    sender = as_map(event.get("sender"), "messaging.sender").get("id")
    recipient = as_map(event.get("recipient", {}), "messaging.recipient").get("id")
    if not sender:
        raise InvalidField("messaging.sender.id", "is required")
    media: list[Media] = []
    for attachment in as_list(message.get("attachments"), "message.attachments"):
        attachment = as_map(attachment, "message.attachments")
        url = as_map(attachment.get("payload", {}), "attachments.payload").get("url")
        if attachment.get("type") == "image" and isinstance(url, str):
            media.append(Media(url))
    text = str(message.get("text") or "").strip()
    if not text:
        return Ignored(message_id=mid, reason=NO_TEXT)
    report = NormalizedReport.build(
        channel=channel,
        channel_message_id=mid[:256],
        text=text[:10000],
        reporter=ReporterIdentity(
            handle=str(sender)[:256],
            reply={id_key: str(recipient)} if recipient else None,
        ),
        received_at=_received_at(event, entry),
    )
    return Inbound(report=report, sender=str(sender), media=tuple(media))


def normalize_messaging(
    payload: Any, expected_object: str, channel: Channel, id_key: str
) -> list[Inbound | Ignored]:
    body = as_map(payload, "body")
    if body.get("object") != expected_object:
        raise InvalidField("object", f"must be {expected_object!r}")
    items: list[Inbound | Ignored] = []
    for entry in as_list(body.get("entry"), "entry"):
        entry = as_map(entry, "entry")
        for event in as_list(entry.get("messaging"), "entry.messaging"):
            item = messaging_event(as_map(event, "entry.messaging"), entry, channel, id_key)
            if item is not None:
                items.append(item)
    return items


def meta_fetcher(ctx: ChannelContext) -> Any:
    """Fetch an attachment URL from a Meta CDN host (and only from one)."""
    hosts = tuple(h.lower().lstrip(".") for h in ctx.settings.meta_media_hosts)

    async def fetch(media: Media) -> bytes:
        parts = urlsplit(media.ref)
        host = (parts.hostname or "").lower()
        allowed = any(host == h or host.endswith("." + h) for h in hosts)
        if parts.scheme not in ("https", "http") or not allowed:
            raise PhotoError(422, "attachment URL is not on a Meta media host")
        limit = ctx.photos.max_bytes
        async with ctx.http.stream("GET", media.ref) as response:
            response.raise_for_status()
            data = bytearray()
            async for chunk in response.aiter_bytes():
                data.extend(chunk)
                if len(data) > limit:
                    break  # the photo store refuses it as too big
        return bytes(data)

    return fetch


def router(ctx: ChannelContext) -> APIRouter:
    api = APIRouter(prefix="/v1/channels/facebook", tags=["channel: Facebook Messenger"])
    settings = ctx.settings
    mount_meta_webhook(
        api,
        ctx,
        verify_token=lambda: settings.facebook_verify_token,
        app_secret=lambda: settings.facebook_app_secret,
        normalize=lambda p: normalize_messaging(p, "page", Channel.FACEBOOK, "page_id"),
        fetch=meta_fetcher(ctx),
    )
    return api
