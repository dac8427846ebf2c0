"""The portal's composition root: settings in, (FastAPI app, runtime) out. Connects nothing."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from aduan_kit.runtime import ServiceRuntime
from aduan_portal.api import api_router
from aduan_portal.catalogue import register_catalogue
from aduan_portal.config import Settings
from aduan_portal.console import install_console
from aduan_portal.entrypoints.consumers import register_consumers

__all__ = ["build"]


def build(
    settings: Settings | None = None,
    gateway_transport: httpx.AsyncBaseTransport | None = None,
    intake_transport: httpx.AsyncBaseTransport | None = None,
) -> tuple[FastAPI, ServiceRuntime]:
    """`gateway_transport` replaces the network under the gateway clients (the officer
    console's and the public pages' — tests put an in-process gateway there); by default
    they talk HTTP to `gateway_url`. `intake_transport` does the same for intake (the
    answers citizens write on the portal)."""
    settings = settings or Settings()
    # No outbox: the portal only reads; it publishes nothing.
    runtime = ServiceRuntime(settings, migrations="aduan_portal:migrations", outbox=None)
    register_consumers(runtime)
    register_catalogue(runtime)
    app = runtime.create_app(title="Aduan portal", version="0.1.0")
    app.include_router(
        api_router(runtime, settings.page_size, settings, gateway_transport, intake_transport)
    )
    # The officer console (/console): its routes, and its gateway client in the lifespan.
    install_console(app, runtime, settings, gateway_transport)
    return app, runtime
