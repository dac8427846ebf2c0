"""The notifier's composition root: settings in, (FastAPI app, runtime) out. Connects nothing.

The delivery worker (`app.state.deliveries`) starts after the runtime (database, Kafka) and
stops before it, inside the same lifespan.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from aduan_kit.runtime import ServiceRuntime
from aduan_notifier.adapters.providers import build_adapters
from aduan_notifier.config import Settings
from aduan_notifier.entrypoints import consumers
from aduan_notifier.entrypoints.api import api_router
from aduan_notifier.entrypoints.delivery import DeliveryWorker
from aduan_notifier.tables import OUTBOX

__all__ = ["build"]


def build(settings: Settings | None = None) -> tuple[FastAPI, ServiceRuntime]:
    settings = settings or Settings()
    runtime = ServiceRuntime(settings, migrations="aduan_notifier:migrations", outbox=OUTBOX)
    # Each adapter keeps its own connections (an HTTP client per provider, SMTP sessions),
    # made on first use and closed when the worker stops.
    worker = DeliveryWorker(runtime, settings, build_adapters(settings))
    consumers.register(runtime, settings.portal_base_url, worker.wake, settings.sla_apology_stages)
    app = runtime.create_app(title="Aduan notifier", version="0.2.0")
    app.include_router(api_router(runtime))
    app.state.deliveries = worker

    runtime_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app_: FastAPI) -> AsyncIterator[None]:
        async with runtime_lifespan(app_):
            if settings.delivery_enabled:
                worker.start()
            try:
                yield
            finally:
                await worker.stop()  # closes the adapters

    app.router.lifespan_context = lifespan
    return app, runtime
