"""The composition root: settings in, (FastAPI app, runtime) out. Nothing connects here;
the app's lifespan starts the runtime and then the command-reply reader."""

from __future__ import annotations

import fcntl
import os
import tempfile
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO
from uuid import UUID

import asyncpg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import make_url
from sqlalchemy.ext.asyncio import AsyncConnection

from aduan_contracts.topics import CATEGORIES as CATEGORIES_TOPIC
from aduan_gateway.adapters.accesslog import AccessLog, AccessLogUnavailable
from aduan_gateway.adapters.publicviews import PublicViews, ViewFills
from aduan_gateway.adapters.readmodel import officer_record
from aduan_gateway.adapters.reportcache import ReportCache
from aduan_gateway.adapters.tables import OUTBOX
from aduan_gateway.config import Settings
from aduan_gateway.entrypoints.api import (
    access_log_unavailable,
    api_router,
    direct_officer_routes,
    direct_public_routes,
)
from aduan_gateway.entrypoints.api_actions import actions_router
from aduan_gateway.entrypoints.api_auth import auth_router
from aduan_gateway.entrypoints.api_console import console_router
from aduan_gateway.entrypoints.api_open import open_router
from aduan_gateway.entrypoints.api_questions import questions_router
from aduan_gateway.entrypoints.api_reporter import reporter_router
from aduan_gateway.entrypoints.api_routing import routing_router
from aduan_gateway.entrypoints.api_templates import templates_router
from aduan_gateway.entrypoints.api_units import units_router
from aduan_gateway.entrypoints.deps import OfficerReadParts
from aduan_gateway.entrypoints.handlers import register_handlers
from aduan_gateway.photos import Derivatives, register_photo_worker
from aduan_gateway.service.categories import republish_categories
from aduan_gateway.service.commands import CommandBus
from aduan_gateway.service.grants import GrantCache
from aduan_gateway.service.officerviews import OfficerViews
from aduan_gateway.service.units import UnitTreeCache
from aduan_kit.blobs import FilesystemBlobStore
from aduan_kit.db import transaction
from aduan_kit.logging import get_logger
from aduan_kit.runtime import ServiceRuntime

__all__ = ["Gateway", "build"]

log = get_logger(__name__)


class Gateway:
    """The parts the gateway starts beyond the shared runtime (the reply reader, the
    access-log writer and the public views' store)."""

    def __init__(self, runtime: ServiceRuntime, bus: CommandBus, settings: Settings) -> None:
        self.runtime = runtime
        self.settings = settings
        self.bus = bus
        self.access_log: AccessLog | None = None
        self.read_sessions: Callable[[], AsyncConnection] | None = None
        self.public_views: PublicViews | None = None
        self.report_cache: ReportCache | None = None
        self.officer_views: OfficerViews | None = None

    async def start(self) -> None:
        await self.runtime.start()
        # Routes that only read use a plain connection in autocommit mode: at READ
        # COMMITTED every statement has its own snapshot anyway, so BEGIN and ROLLBACK
        # around them were two round trips that bought nothing, and an ORM session's
        # bookkeeping was a tenth of a read's CPU.
        self.read_sessions = self.runtime.engine.execution_options(
            isolation_level="AUTOCOMMIT"
        ).connect
        self.access_log = AccessLog(self.runtime.sessions)
        self.access_log.start()
        fills = ViewFills(self.runtime.engine)
        fills.start()
        self.report_cache = ReportCache(
            self._listen_connection,
            max_public=self.settings.report_cache_public,
            max_officer=self.settings.report_cache_officer,
        )
        self.report_cache.start()
        self.public_views = PublicViews(self.read_sessions, fills, self.report_cache)
        self.officer_views = OfficerViews(self.settings.pseudonym_secret, officer_record)
        await self.bus.start()
        # Every category again on the compacted topic (same versions: readers that have
        # them change nothing), so a reader never depends on a change having happened
        # after it first started, nor on the topic having survived (docs/decisions.md).
        async with transaction(self.runtime.sessions) as session:
            count = await republish_categories(session, self.runtime.topic(CATEGORIES_TOPIC.name))
        log.info("categories republished", count=count)

    async def _listen_connection(self) -> asyncpg.Connection:
        """A connection of its own for the report cache's change notices (never pooled:
        it listens for the process's life)."""
        url = make_url(self.settings.database_url).set(drivername="postgresql")
        return await asyncpg.connect(
            url.render_as_string(hide_password=False),
            server_settings={"application_name": "aduan-gateway-report-cache"},
        )

    def grants(self) -> GrantCache:
        return GrantCache(self.runtime.redis, self.runtime.settings.redis_prefix)

    def officer_read_parts(self) -> OfficerReadParts | None:
        """What an officer's read needs (None before the gateway started)."""
        if (
            self.read_sessions is None
            or self.access_log is None
            or self.officer_views is None
            or self.report_cache is None
        ):
            return None
        return OfficerReadParts(
            self.read_sessions,
            self.grants(),
            self.access_log,
            self.officer_views,
            self.report_cache,
        )

    async def stop(self) -> None:
        await self.bus.stop()
        if self.access_log is not None:
            # Before the engine goes: requests still waiting get their entries written.
            await self.access_log.stop()
        if self.public_views is not None:
            await self.public_views.fills.stop()
        if self.report_cache is not None:
            await self.report_cache.stop()
        await self.runtime.stop()


# Held for the process's life by the worker that runs the read model's consumer.
_consumer_lock: IO[str] | None = None


def _take_consumer_lock(port: int) -> bool:
    """Whether this worker is the one of its supervisor's workers that consumes: an
    exclusive lock on a file named after the port, released by the kernel when the
    process ends, so the worker uvicorn starts in place of a dead one takes it over."""
    global _consumer_lock
    handle = (Path(tempfile.gettempdir()) / f"aduan-gateway-{port}.consumer.lock").open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        return False
    _consumer_lock = handle
    return True


def create_app() -> FastAPI:
    """The app from the environment's settings: uvicorn's factory (`python -m aduan_gateway`),
    called once in each worker process.

    With several workers only one runs the read model's consumer (and the photo worker, if
    in process): the read model's writers take one lock per poll anyway
    (`READ_MODEL_WRITERS_LOCK`), so a second consumer would only halve each poll's batch and
    add its idle polling (measured: +1 CPU-ms per complaint at 10-40/s). Every worker
    answers every request: the read model is in PostgreSQL."""
    settings = Settings()
    consumes = settings.http_workers <= 1 or _take_consumer_lock(settings.port)
    app, _ = build(settings, consumers=consumes)
    return app


def build(
    settings: Settings | None = None, *, consumers: bool = True
) -> tuple[FastAPI, ServiceRuntime]:
    settings = settings or Settings()
    runtime = ServiceRuntime(settings, migrations="aduan_gateway:migrations", outbox=OUTBOX)

    def changed(report_ids: Iterable[UUID] | None) -> None:
        if gateway.report_cache is not None:
            gateway.report_cache.changed(report_ids)

    register_handlers(runtime, read_model=consumers, changed=changed)
    app = runtime.create_app(
        title="Aduan privacy gateway",
        version="0.2.0",
        description="The only way report data leaves Aduan: role-based, redacted, audited.",
    )
    gateway = Gateway(runtime, CommandBus(runtime, settings.command_timeout_s), settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await gateway.start()
        # After the runtime's start (the logs are JSON from there on).
        log.info(
            "gateway worker started",
            pid=os.getpid(),
            consumes=consumers,
            workers=settings.http_workers,
        )
        try:
            yield
        finally:
            await gateway.stop()

    app.router.lifespan_context = lifespan

    @app.exception_handler(AccessLogUnavailable)
    async def unlogged(_: Request, exc: AccessLogUnavailable) -> JSONResponse:
        return access_log_unavailable()

    app.state.settings = settings
    app.state.gateway = gateway
    app.state.command_bus = gateway.bus
    # The unit tree for per-request scopes (issue 19): the runtime's sessions exist once
    # it has started, hence the lambda.
    app.state.units = UnitTreeCache(lambda: runtime.sessions)
    app.state.blobs = FilesystemBlobStore(settings.blob_root)
    app.state.derivatives = (
        register_photo_worker(runtime, app.state.blobs)
        if settings.photo_worker_in_process and consumers
        else Derivatives(app.state.blobs)
    )
    for router in (
        api_router(),
        actions_router(),
        auth_router(),
        reporter_router(),
        open_router(),
        console_router(),
        questions_router(),
        templates_router(),
        routing_router(),
        units_router(),
    ):
        app.include_router(router)
    direct_public_routes(runtime.direct, lambda: gateway.public_views)
    direct_officer_routes(runtime.direct, gateway.officer_read_parts, settings, app.state.units)
    return app, runtime
