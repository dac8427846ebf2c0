"""The composition root: settings in, (FastAPI app, runtime) out. Nothing connects here;
`runtime.start()` (the app's lifespan) migrates, connects and starts consuming, and the SLA
scanner starts after it and stops before it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from aduan_contracts.topics import SLA_EVENTS
from aduan_kit.runtime import ServiceRuntime
from aduan_workflow.adapters.tables import OUTBOX
from aduan_workflow.config import Settings
from aduan_workflow.entrypoints import api, consumers
from aduan_workflow.entrypoints.sla_scanner import SlaScanner

__all__ = ["build"]


def build(settings: Settings | None = None) -> tuple[FastAPI, ServiceRuntime]:
    settings = settings or Settings()
    runtime = ServiceRuntime(settings, migrations="aduan_workflow:migrations", outbox=OUTBOX)
    consumers.register(runtime, settings)
    scanner = SlaScanner(
        lambda: runtime.sessions,
        runtime.topic(SLA_EVENTS.name),
        settings.sla_scan_interval_s,
        settings.sla_scan_batch,
    )
    app = runtime.create_app(title="Aduan workflow", version="0.1.0")
    app.state.sla_scanner = scanner
    app.include_router(api.router)

    runtime_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with runtime_lifespan(app):
            scanner.start()
            try:
                yield
            finally:
                await scanner.stop()

    app.router.lifespan_context = lifespan
    return app, runtime
