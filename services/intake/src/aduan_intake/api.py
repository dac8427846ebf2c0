"""HTTP routes: every HTTP channel adapter, mounted under /v1/channels/<channel>."""

from __future__ import annotations

from fastapi import APIRouter

from aduan_intake.channels import ChannelContext, web

__all__ = ["api_router"]


def api_router(ctx: ChannelContext) -> APIRouter:
    router = APIRouter()
    router.include_router(web.router(ctx))
    return router
