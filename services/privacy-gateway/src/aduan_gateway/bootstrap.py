"""The composition root: settings in, (FastAPI app, runtime) out. Nothing connects here;
the app's lifespan starts the runtime."""

from __future__ import annotations

from fastapi import FastAPI

from aduan_gateway.api import api_router
from aduan_gateway.config import Settings
from aduan_gateway.handlers import register_handlers
from aduan_gateway.tables import OUTBOX
from aduan_kit.runtime import ServiceRuntime

__all__ = ["build"]


def build(settings: Settings | None = None) -> tuple[FastAPI, ServiceRuntime]:
    settings = settings or Settings()
    runtime = ServiceRuntime(settings, migrations="aduan_gateway:migrations", outbox=OUTBOX)
    register_handlers(runtime)
    app = runtime.create_app(
        title="Aduan privacy gateway",
        version="0.1.0",
        description="The only way report data leaves Aduan: role-based, redacted, audited.",
    )
    app.state.settings = settings
    app.include_router(api_router())
    return app, runtime
