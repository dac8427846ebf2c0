"""The composition root: settings in, (FastAPI app, runtime) out. Nothing connects here;
`runtime.start()` (the app's lifespan) migrates, connects and starts consuming."""

from __future__ import annotations

from fastapi import FastAPI

from aduan_kit.runtime import ServiceRuntime
from aduan_workflow.api import api_router
from aduan_workflow.config import Settings
from aduan_workflow.handlers import register_handlers
from aduan_workflow.tables import OUTBOX

__all__ = ["build"]


def build(settings: Settings | None = None) -> tuple[FastAPI, ServiceRuntime]:
    settings = settings or Settings()
    runtime = ServiceRuntime(settings, migrations="aduan_workflow:migrations", outbox=OUTBOX)
    register_handlers(runtime, settings)
    app = runtime.create_app(title="Aduan workflow", version="0.1.0")
    app.include_router(api_router(runtime))
    return app, runtime
