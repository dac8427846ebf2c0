"""The notifier's composition root: settings in, (FastAPI app, runtime) out. Connects nothing."""

from __future__ import annotations

from fastapi import FastAPI

from aduan_kit.runtime import ServiceRuntime
from aduan_notifier.api import api_router
from aduan_notifier.config import Settings
from aduan_notifier.handlers import register_handlers
from aduan_notifier.tables import OUTBOX

__all__ = ["build"]


def build(settings: Settings | None = None) -> tuple[FastAPI, ServiceRuntime]:
    settings = settings or Settings()
    runtime = ServiceRuntime(settings, migrations="aduan_notifier:migrations", outbox=OUTBOX)
    register_handlers(runtime, settings.portal_base_url)
    app = runtime.create_app(title="Aduan notifier", version="0.1.0")
    app.include_router(api_router(runtime))
    return app, runtime
