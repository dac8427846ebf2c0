"""The portal's composition root: settings in, (FastAPI app, runtime) out. Connects nothing."""

from __future__ import annotations

from fastapi import FastAPI

from aduan_kit.runtime import ServiceRuntime
from aduan_portal.api import api_router
from aduan_portal.config import Settings
from aduan_portal.handlers import register_handlers

__all__ = ["build"]


def build(settings: Settings | None = None) -> tuple[FastAPI, ServiceRuntime]:
    settings = settings or Settings()
    # No outbox: the portal only reads; it publishes nothing.
    runtime = ServiceRuntime(settings, migrations="aduan_portal:migrations", outbox=None)
    register_handlers(runtime)
    app = runtime.create_app(title="Aduan portal", version="0.1.0")
    app.include_router(api_router(runtime, settings.page_size))
    return app, runtime
