"""Instagram webhook: `GET/POST /v1/channels/instagram` (Instagram API with Instagram Login /
Messenger Platform for Instagram).

Payload: `object = instagram`, `entry[]` (`id` = our professional account) with
`messaging[]` direct messages, the same shape as Messenger (`sender.id` = the
Instagram-scoped id, `message.mid`, `message.text`, `message.attachments[]`), and `changes[]`
with `field = comments` for comments on our posts (`value.id` = comment id, `value.text`,
`value.from.id`/`username`, `value.media.id`). A comment is public: the answer goes by DM
(private reply), never under the post, and the report is private like every other.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter

from aduan_contracts.enums import Channel
from aduan_intake.domain import InvalidField, NormalizedReport, ReporterIdentity
from aduan_intake.entrypoints.channels.common import ChannelContext, Ignored, Inbound
from aduan_intake.entrypoints.channels.messenger import (
    NO_TEXT,
    as_list,
    as_map,
    messaging_event,
    meta_fetcher,
)
from aduan_intake.entrypoints.channels.meta import mount_meta_webhook

__all__ = ["normalize_instagram", "router"]


def normalize_instagram(payload: Any) -> list[Inbound | Ignored]:
    body = as_map(payload, "body")
    if body.get("object") != "instagram":
        raise InvalidField("object", "must be 'instagram'")
    items: list[Inbound | Ignored] = []
    for entry in as_list(body.get("entry"), "entry"):
        entry = as_map(entry, "entry")
        for event in as_list(entry.get("messaging"), "entry.messaging"):
            item = messaging_event(
                as_map(event, "entry.messaging"), entry, Channel.INSTAGRAM, "account_id"
            )
            if item is not None:
                items.append(item)
        for change in as_list(entry.get("changes"), "entry.changes"):
            change = as_map(change, "entry.changes")
            if change.get("field") != "comments":
                continue
            value = as_map(change.get("value"), "changes.value")
            comment_id = value.get("id")
            author = as_map(value.get("from", {}), "value.from")
            if not isinstance(comment_id, str) or not comment_id or not author.get("id"):
                raise InvalidField("changes.value", "a comment needs 'id' and 'from.id'")
            text = str(value.get("text") or "").strip()
            mid = f"comment:{comment_id}"
            if not text:
                items.append(Ignored(message_id=mid, reason=NO_TEXT))
                continue
            try:
                received = datetime.fromtimestamp(int(entry.get("time", 0)), UTC)
            except (TypeError, ValueError, OverflowError, OSError):
                raise InvalidField("entry.time", "must be unix seconds") from None
            media = as_map(value.get("media", {}), "value.media")
            reply = {"comment_id": comment_id}
            if media.get("id"):
                reply["media_id"] = str(media["id"])
            report = NormalizedReport.build(
                channel=Channel.INSTAGRAM,
                channel_message_id=mid[:256],
                text=text[:10000],
                reporter=ReporterIdentity(
                    name=str(author.get("username") or "")[:200] or None,
                    handle=str(author["id"])[:256],
                    reply=reply,
                ),
                received_at=received,
            )
            items.append(Inbound(report=report, sender=str(author["id"])))
    return items


def router(ctx: ChannelContext) -> APIRouter:
    api = APIRouter(prefix="/v1/channels/instagram", tags=["channel: Instagram"])
    settings = ctx.settings
    mount_meta_webhook(
        api,
        ctx,
        verify_token=lambda: settings.instagram_verify_token,
        app_secret=lambda: settings.instagram_app_secret,
        normalize=normalize_instagram,
        fetch=meta_fetcher(ctx),
    )
    return api
