"""HTTP routes: every HTTP channel adapter, mounted under /v1/channels/<channel> (and
Open311 under /open311/v2)."""

from __future__ import annotations

from fastapi import APIRouter

from aduan_intake.entrypoints.channels import (
    ChannelContext,
    app,
    instagram,
    messenger,
    open311,
    sms,
    staff,
    web,
    whatsapp,
    x,
)

__all__ = ["api_router"]


def api_router(ctx: ChannelContext) -> APIRouter:
    router = APIRouter()
    for channel in (web, app, sms, whatsapp, x, messenger, instagram, staff, open311):
        router.include_router(channel.router(ctx))
    return router
