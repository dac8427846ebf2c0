"""The composition root: settings in, (FastAPI app, ServiceRuntime) out. Nothing connects
here; `runtime.start()` (the app's lifespan) does."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import Response
from faststream.specification import AsyncAPI

from aduan_areas import Boundaries, resolve, use_boundaries
from aduan_contracts.topics import REPORT_INTAKE, REPORTER_KEYS
from aduan_intake.adapters.catalogue import CatalogueWarmup, catalogue_router, register_catalogue
from aduan_intake.adapters.photos import PhotoStore
from aduan_intake.adapters.ratelimit import SlidingWindowLimiter
from aduan_intake.adapters.tables import OUTBOX
from aduan_intake.admission import Admission, Overloaded, PostsInProgress, overloaded_response
from aduan_intake.background import IntakeRuntime
from aduan_intake.config import Settings
from aduan_intake.entrypoints.api import api_router
from aduan_intake.entrypoints.channels import ChannelContext
from aduan_intake.entrypoints.channels.email import SmtpListener
from aduan_intake.entrypoints.channels.lapor import LaporPuller
from aduan_intake.entrypoints.channels.web import busy_page
from aduan_intake.entrypoints.consumers import register_handlers
from aduan_intake.service.filing import Filer
from aduan_kit.blobs import FilesystemBlobStore
from aduan_kit.catalogue import Catalogue
from aduan_kit.runtime import ServiceRuntime

__all__ = ["asyncapi_document", "build"]

VERSION = "0.1.0"


def build(settings: Settings | None = None) -> tuple[FastAPI, IntakeRuntime]:
    settings = settings or Settings()
    # Loaded here so a bad boundary file stops the start with its reason (aduan_areas).
    use_boundaries(
        Boundaries.load(
            settings.area_boundaries,
            code_property=settings.area_boundaries_code_property,
            margin_m=settings.area_boundaries_margin_m,
        )
        if settings.area_boundaries is not None
        else None
    )
    # The place names' index (~0.6 s to build) now, not in the first filing's request,
    # where it held the event loop, and every request in flight, for that long.
    resolve("Gambir")
    runtime = IntakeRuntime(settings, migrations="aduan_intake:migrations", outbox=OUTBOX)
    admission = Admission(
        settings.filing_limit, settings.filing_admission_wait_s, settings.overload_retry_after_s
    )
    filer = Filer(
        sessions=lambda: runtime.sessions,
        pepper=settings.contact_pepper,
        intake_topic=runtime.topic(REPORT_INTAKE.name),
        keys_topic=runtime.topic(REPORTER_KEYS.name),
        answer_window=timedelta(days=settings.answer_window_days),
        admission=admission,
        group_max=settings.filing_group_max,
        group_concurrency=min(settings.filing_group_concurrency, settings.filing_limit),
        group_linger_s=settings.filing_group_linger_ms / 1000,
    )
    register_handlers(runtime)
    # The one category catalogue (the gateway's), read from its compacted topic; warmed
    # from intake's stored copy first, so a restart during a broker outage knows it.
    catalogue = Catalogue()
    register_catalogue(runtime, catalogue)
    runtime.background.append(CatalogueWarmup(runtime, catalogue))
    limiter = SlidingWindowLimiter(
        redis=lambda: runtime.redis,
        prefix=settings.redis_prefix,
        limit=settings.rate_limit_posts,
        window_s=settings.rate_limit_window_s,
        # Same secret as contact digests: both exist to keep personal identifiers out of
        # stores in a form that a dictionary attack could reverse.
        secret=settings.contact_pepper,
    )
    photos = PhotoStore(
        FilesystemBlobStore(settings.blob_root),
        max_bytes=settings.photo_max_bytes,
        max_count=settings.photo_max_count,
    )
    # No connection is made until the first request; the runtime closes it on stop.
    runtime.http = httpx.AsyncClient(timeout=settings.provider_timeout_s, follow_redirects=False)
    ctx = ChannelContext(settings, filer, limiter, photos, runtime.http, catalogue)
    if settings.smtp_enabled:
        runtime.background.append(SmtpListener(ctx))
    if settings.lapor_api_url:
        runtime.background.append(LaporPuller(ctx, lambda: runtime.sessions))
    app = runtime.create_app(title="Aduan intake", version=VERSION)
    # Outermost: a surplus POST is refused before any other middleware or route runs.
    app.add_middleware(
        PostsInProgress,
        limit=settings.max_posts_in_progress or 4 * settings.filing_limit,
        retry_after_s=settings.overload_retry_after_s,
        page_for=busy_page,
    )
    app.state.channels = ctx

    @app.exception_handler(Overloaded)
    async def shed(request: Request, exc: Overloaded) -> Response:
        # Raised by the filer before a filing's transaction, from any channel's route.
        return overloaded_response(request, exc)

    app.include_router(api_router(ctx))
    app.include_router(catalogue_router(catalogue))
    # Each channel's filing endpoint takes only the request and answers with its own
    # response: called straight, not through FastAPI's routing and dependency layers
    # (aduan_kit.direct; ~0.25 CPU-ms of a filing). Same function, same answer.
    runtime.direct.take_posts(app, *FILING_ROUTES)

    @app.get("/docs/asyncapi.json", tags=["operations"], include_in_schema=False)
    async def asyncapi_json() -> Any:
        """The AsyncAPI document of what intake publishes and consumes."""
        return asyncapi_document(runtime)

    return app, runtime


# The routes every channel's complaints are filed through (the hot path of intake).
FILING_ROUTES = (
    "/v1/channels/web",
    "/v1/channels/app/reports",
    "/v1/channels/sms",
    "/v1/channels/whatsapp",
    "/v1/channels/facebook",
    "/v1/channels/instagram",
    "/v1/channels/x",
    "/v1/channels/staff/reports",
    "/open311/v2/requests.json",
)


def asyncapi_document(runtime: ServiceRuntime) -> Any:
    spec = AsyncAPI(runtime.broker, title="Aduan intake", version=VERSION)
    return spec.to_specification().to_jsonable()
