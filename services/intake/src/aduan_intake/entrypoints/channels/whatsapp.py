"""WhatsApp Cloud API webhook: `GET/POST /v1/channels/whatsapp`.

Payload (Meta's "messages" webhook field): `object = whatsapp_business_account`,
`entry[].changes[].value` with `metadata.phone_number_id` (our business number),
`contacts[]` (`wa_id`, `profile.name`) and `messages[]` (`id` = wamid, `from`, `timestamp`,
`type` = text | image | location ...). Delivery receipts (`statuses[]`) arrive on the same URL
and are not complaints. Images come as a media id: `GET {graph}/{media-id}` (bearer token)
gives a short-lived URL, fetched with the same token.

Each text, captioned image or location-with-text message is one report; the wamid is the
channel message id. A message with nothing to read (a bare photo, a bare pin, a sticker) is
not a complaint on its own and is not filed.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter

from aduan_contracts.enums import Channel
from aduan_contracts.values import GeoPoint, Location
from aduan_intake.adapters.photos import PhotoError
from aduan_intake.domain import InvalidField, NormalizedReport, ReporterIdentity
from aduan_intake.domain.contact import normalize_contact
from aduan_intake.entrypoints.channels.common import ChannelContext, Ignored, Inbound, Media
from aduan_intake.entrypoints.channels.meta import mount_meta_webhook
from aduan_kit.logging import get_logger

__all__ = ["normalize_whatsapp", "router"]

log = get_logger(__name__)

NO_TEXT = "no complaint text: send it as a message or as the photo's caption"


def _list(value: Any, field: str) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise InvalidField(field, "must be a list")
    return value


def _map(value: Any, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidField(field, "must be an object")
    return value


def _received_at(message: Mapping[str, Any]) -> datetime:
    try:
        return datetime.fromtimestamp(int(message["timestamp"]), UTC)
    except (KeyError, TypeError, ValueError, OverflowError, OSError):
        raise InvalidField("messages.timestamp", "must be unix seconds") from None


def _point(raw: Mapping[str, Any]) -> GeoPoint:
    lat, lon = raw.get("latitude"), raw.get("longitude")
    if not isinstance(lat, int | float) or not isinstance(lon, int | float):
        raise InvalidField("messages.location", "latitude and longitude must be numbers")
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InvalidField("messages.location", "coordinates out of range")
    return GeoPoint(lat=float(lat), lon=float(lon))


def normalize_whatsapp(payload: Any, default_region: str = "ID") -> list[Inbound | Ignored]:
    body = _map(payload, "body")
    if body.get("object") != "whatsapp_business_account":
        raise InvalidField("object", "must be 'whatsapp_business_account'")
    items: list[Inbound | Ignored] = []
    for entry in _list(body.get("entry"), "entry"):
        for change in _list(_map(entry, "entry").get("changes"), "entry.changes"):
            change = _map(change, "entry.changes")
            if change.get("field") != "messages":
                continue
            value = _map(change.get("value"), "changes.value")
            business = _map(value.get("metadata", {}), "value.metadata").get("phone_number_id")
            names = {
                str(c.get("wa_id")): str(_map(c.get("profile", {}), "profile").get("name") or "")
                for c in _list(value.get("contacts"), "value.contacts")
                if isinstance(c, Mapping)
            }
            for message in _list(value.get("messages"), "value.messages"):
                items.append(_message(_map(message, "messages"), names, business, default_region))
    return items


def _message(
    message: Mapping[str, Any],
    names: Mapping[str, str],
    business: Any,
    default_region: str,
) -> Inbound | Ignored:
    wamid, sender = message.get("id"), message.get("from")
    if not isinstance(wamid, str) or not wamid or not isinstance(sender, str) or not sender:
        raise InvalidField("messages", "every message needs 'id' and 'from'")
    kind = message.get("type")
    text = ""
    media: tuple[Media, ...] = ()
    location = None
    if kind == "text":
        text = str(_map(message.get("text"), "messages.text").get("body") or "")
    elif kind == "image":
        image = _map(message.get("image"), "messages.image")
        text = str(image.get("caption") or "")
        if image.get("id"):
            media = (Media(str(image["id"]), str(image.get("mime_type") or "") or None),)
    elif kind == "location":
        raw = _map(message.get("location"), "messages.location")
        place = ", ".join(str(raw[k]) for k in ("name", "address") if raw.get(k))
        location = Location(point=_point(raw), address=place[:500] or None)
        # A pin with the place's name only ("Pasar Baru") is no complaint.
        text = ""
    else:
        return Ignored(message_id=wamid, reason=f"unsupported message type {str(kind)[:32]!r}")
    text = text.strip()
    if not text:
        return Ignored(message_id=wamid, reason=NO_TEXT)
    contact = None
    try:
        contact = normalize_contact("+" + sender.lstrip("+"), default_region).value
    except ValueError:
        contact = None  # a wa_id that is not a dialable number still identifies the chat
    reply = {"phone_number_id": str(business)} if business else None
    report = NormalizedReport.build(
        channel=Channel.WHATSAPP,
        channel_message_id=wamid[:256],
        text=text[:10000],
        location=location,
        reporter=ReporterIdentity(
            name=(names.get(sender) or "")[:200] or None,
            contact=contact,
            handle=sender[:256],
            reply=reply,
        ),
        received_at=_received_at(message),
    )
    return Inbound(report=report, sender=sender, media=media)


def router(ctx: ChannelContext) -> APIRouter:
    api = APIRouter(prefix="/v1/channels/whatsapp", tags=["channel: WhatsApp"])
    settings = ctx.settings

    async def fetch(media: Media) -> bytes:
        token = settings.whatsapp_access_token
        if token is None:
            raise PhotoError(503, "WhatsApp media cannot be fetched: no access token configured")
        auth = {"Authorization": f"Bearer {token.get_secret_value()}"}
        meta = await ctx.http.get(
            f"{settings.whatsapp_graph_url.rstrip('/')}/{media.ref}", headers=auth
        )
        meta.raise_for_status()
        url = meta.json().get("url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise PhotoError(422, "the Graph API gave no media URL")
        size = ctx.photos.max_bytes
        async with ctx.http.stream("GET", url, headers=auth) as response:
            response.raise_for_status()
            data = bytearray()
            async for chunk in response.aiter_bytes():
                data.extend(chunk)
                if len(data) > size:
                    break  # the photo store refuses it as too big
        return bytes(data)

    mount_meta_webhook(
        api,
        ctx,
        verify_token=lambda: settings.whatsapp_verify_token,
        app_secret=lambda: settings.whatsapp_app_secret,
        normalize=lambda payload: normalize_whatsapp(payload, settings.default_phone_region),
        fetch=fetch,
    )
    return api
