"""The composition root every service shares: settings in, running parts out.

Nothing is built at import time. `ServiceRuntime` owns the engine, Redis client, Kafka
broker (consumers), producer and outbox relay; its `lifespan` starts them in order and stops
them in reverse, so SIGTERM drains in-flight messages before the process exits. `/health`
answers 200 only when PostgreSQL, Redis and Kafka all answer (readiness); `/livez` only
whether the process and its background loops run (liveness); `/metrics` is Prometheus.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, ClassVar

import uvicorn
from aiokafka import AIOKafkaProducer
from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse
from faststream.kafka import KafkaBroker
from prometheus_client import CONTENT_TYPE_LATEST, Histogram, generate_latest
from redis.asyncio import Redis
from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors import Multiprocess

from aduan_kit.consumers import ConsumerWatch, track_progress
from aduan_kit.db import make_engine, make_sessionmaker, migrate
from aduan_kit.direct import DirectRoutes
from aduan_kit.guards import RejectNulBytes, needs_body_check, nul_reason, refuse_nul
from aduan_kit.logging import configure_logging, correlation_id, get_logger
from aduan_kit.messaging import (
    OUTBOX_WAKE,
    OutboxRelay,
    ensure_topics,
    is_transient,
    make_broker,
    make_producer,
)
from aduan_kit.server import QuietServer, QuietWorkersConfig
from aduan_kit.settings import ServiceSettings

__all__ = ["ServiceRuntime", "serve"]

log = get_logger(__name__)

HTTP_LATENCY = Histogram(
    "aduan_http_request_seconds", "HTTP request latency", ["method", "route", "status"]
)


class ServiceRuntime:
    """Holds a service's infrastructure clients; built from settings, started in lifespan."""

    # True in a service whose every Redis call has a deadline of its own: its client then
    # has no socket timeout (see `start`).
    redis_calls_bounded_by_caller: ClassVar[bool] = False

    def __init__(
        self,
        settings: ServiceSettings,
        migrations: str | None,
        outbox: Table | None = None,
    ) -> None:
        self.settings = settings
        self.migrations = migrations
        self.outbox_table = outbox
        self.broker: KafkaBroker = make_broker(
            settings.kafka_bootstrap_servers,
            client_id=settings.service_name,
            max_attempts=settings.kafka_max_attempts,
            graceful_timeout=settings.shutdown_grace_s,
        )
        self._engine: AsyncEngine | None = None
        self._sessions: async_sessionmaker[AsyncSession] | None = None
        self._redis: Redis | None = None
        self._producer: AIOKafkaProducer | None = None
        self.relay: OutboxRelay | None = None
        # Every subscriber's progress is watched (aduan_kit.consumers): a consumer that
        # stops moving after an outage is restarted in place, then reported on /livez.
        self.consumer_watch = ConsumerWatch(
            lambda: list(self.broker.subscribers),
            ready=self.ready,
            stuck_after_s=settings.kafka_stuck_after_s,
            interval_s=settings.kafka_check_interval_s,
        )
        # Hot GET routes answered before FastAPI's layers (aduan_kit.direct); none unless
        # the service declares some.
        self.direct = DirectRoutes()
        self.started = False
        self._self_check: asyncio.Task[None] | None = None
        # Set first thing in stop(): handlers that wait out an outage in a loop (the
        # catalogue reader) leave at once instead of holding shutdown for its whole grace.
        self.stopping = asyncio.Event()

    # Accessors fail loudly if used before the lifespan started them.
    @property
    def engine(self) -> AsyncEngine:
        assert self._engine is not None, "runtime not started"
        return self._engine

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        assert self._sessions is not None, "runtime not started"
        return self._sessions

    @property
    def redis(self) -> Redis:
        assert self._redis is not None, "runtime not started"
        return self._redis

    def topic(self, name: str) -> str:
        ns = self.settings.topic_namespace
        return f"{ns}.{name}" if ns else name

    def wake_relay(self) -> None:
        if self.relay:
            self.relay.wake()

    async def start(self) -> None:
        s = self.settings
        configure_logging(s.service_name, s.log_level)
        # A process started while PostgreSQL or Kafka is unreachable (a node restarted in
        # an outage, a deploy during a broker cut) waits for them instead of exiting: the
        # chaos run's "cut during a rebalance" found workflow exiting at start, leaving
        # its restart to whoever watches the process.
        if self.migrations:
            migrations = self.migrations
            await _until_reachable("migrations", lambda: migrate(s.database_url, migrations))
        self._engine = make_engine(s.database_url, s.database_pool_size)
        self._sessions = make_sessionmaker(self._engine)
        # redis-py enforces its socket timeout around every command's write (`wait_for`, a
        # task on Python 3.11) and read: a quarter or more of a command's client CPU. A
        # service whose every Redis call has its own deadline goes without it.
        if self.redis_calls_bounded_by_caller:
            self._redis = Redis.from_url(s.redis_url, decode_responses=False, socket_timeout=None)
        else:
            self._redis = Redis.from_url(s.redis_url, decode_responses=False)
        if s.environment != "production":
            # Production topics come from deploy/ (with replication); locally, make sure.
            await _until_reachable(
                "topics", lambda: ensure_topics(s.kafka_bootstrap_servers, s.topic_namespace)
            )
        if self.outbox_table is not None:

            async def start_producer() -> None:
                producer = make_producer(s.kafka_bootstrap_servers, s.service_name)
                try:
                    await producer.start()
                except BaseException:
                    await producer.stop()
                    raise
                self._producer = producer

            await _until_reachable("producer", start_producer)
            assert self._producer is not None
            self.relay = OutboxRelay(
                self.sessions,
                self.outbox_table,
                self._producer,
                s.outbox_poll_interval_s,
                coalesce_s=s.outbox_coalesce_ms / 1000,
            )
            self.relay.start()
            # Every commit that queued outbox rows wakes this relay (messaging.py).
            self._sessions.configure(info={OUTBOX_WAKE: self.relay.wake})
        for subscriber in self.broker.subscribers:
            track_progress(subscriber)
        await _until_reachable("consumers", self.broker.start, undo=self.broker.stop)
        self.consumer_watch.start()
        self.started = True
        if s.http_workers > 1 and multiprocessing.parent_process() is not None:
            # One of uvicorn's workers (a process started by the supervisor in `serve`).
            self._self_check = asyncio.create_task(
                end_when_dead(
                    self.dead_parts,
                    interval_s=s.kafka_check_interval_s,
                    end=lambda: os.kill(os.getpid(), signal.SIGTERM),
                ),
                name="end-when-dead",
            )
        log.info("service started", port=s.port)

    async def stop(self) -> None:
        log.info("service stopping")
        self.stopping.set()
        if self._self_check is not None:
            self._self_check.cancel()
        await self.consumer_watch.stop()
        # Consumers first (finish in-flight handlers), then drain the outbox, then clients.
        await self.broker.stop()
        if self.relay:
            await self.relay.stop()
        if self._producer:
            await self._producer.stop()
        if self._redis:
            await self._redis.aclose()
        if self._engine:
            await self._engine.dispose()
        self.started = False

    async def check_health(self) -> dict[str, str]:
        async def database() -> None:
            async with self.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))

        async def cache() -> None:
            await self.redis.ping()

        async def kafka() -> None:
            if not await self.broker.ping(timeout=2.0):
                raise ConnectionError("broker did not answer")

        checks: dict[str, Callable[[], Awaitable[None]]] = {
            "database": database,
            "redis": cache,
            "kafka": kafka,
        }
        results: dict[str, str] = {}
        for name, check in checks.items():
            try:
                await asyncio.wait_for(check(), timeout=3.0)
                results[name] = "ok"
            except Exception as exc:
                results[name] = f"down: {type(exc).__name__}"
        return results

    async def ready(self) -> bool:
        """PostgreSQL, Redis and Kafka all answer (what `/health` reports)."""
        return all(v == "ok" for v in (await self.check_health()).values())

    def dead_parts(self) -> list[str]:
        """Background loops of a started service that ended or wedged: a consumer whose
        loop task finished, a consumer stuck even after a restart in place
        (aduan_kit.consumers), or the outbox relay. Such a process answers HTTP but no
        longer moves messages; only a restart helps."""
        if not self.started:
            return []
        dead = [
            f"consumer of {','.join(getattr(sub, 'topic_names_for_subscribe', ())) or '?'}"
            for sub in self.broker.subscribers
            if any(task.done() for task in getattr(sub, "tasks", ()))
        ]
        if self.relay is not None and not self.relay.running:
            dead.append("outbox relay")
        return dead + self.consumer_watch.failing()

    def lifespan(self) -> Callable[[FastAPI], Any]:
        @asynccontextmanager
        async def lifespan(_: FastAPI) -> AsyncIterator[None]:
            await self.start()
            try:
                yield
            finally:
                await self.stop()

        return lifespan

    def ops_router(self) -> APIRouter:
        router = APIRouter(tags=["operations"])

        @router.get("/health")
        async def health() -> JSONResponse:
            """Ready only when the database, Redis and Kafka all answer."""
            if not self.started:
                return JSONResponse({"status": "starting"}, status_code=503)
            results = await self.check_health()
            ok = all(v == "ok" for v in results.values())
            return JSONResponse(
                {
                    "status": "ok" if ok else "degraded",
                    "service": self.settings.service_name,
                    "checks": results,
                },
                status_code=200 if ok else 503,
            )

        @router.get("/livez")
        async def livez() -> JSONResponse:
            """Liveness: the process serves and its background loops run. Unlike /health it
            does not check PostgreSQL, Redis or Kafka, so an outage of those makes every
            replica unready (no traffic) instead of restarting them all at once."""
            dead = self.dead_parts()
            return JSONResponse(
                {"status": "dead" if dead else "alive", "dead": dead},
                status_code=503 if dead else 200,
            )

        @router.get("/metrics")
        async def metrics() -> Response:
            """Prometheus metrics."""
            return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

        return router

    def create_app(self, **kwargs: Any) -> FastAPI:
        """A FastAPI app with this runtime's lifespan, health, metrics, and request
        correlation ids (taken from `X-Correlation-ID` or made up, echoed back)."""
        # FastAPI's native OpenTelemetry off: Aduan exports Prometheus metrics and logs with
        # correlation ids. Left on, a provider configured in the process (by a library, or
        # an operator's auto-instrumentation) would be handed request bodies and validation
        # errors, which carry reporters' personal data; and every request asks the
        # OpenTelemetry globals whether one is (3 µs a request, measured).
        kwargs.setdefault(
            "telemetry",
            {"tracing": False, "metrics": False, "logs": False, "operation_spans": False},
        )
        app = FastAPI(lifespan=self.lifespan(), **kwargs)
        app.include_router(self.ops_router())
        app.state.runtime = self

        # One layer for both: correlation ids and, inside them, the NUL guard (a NUL in a
        # request is a 400 with the reason, aduan_kit.guards), checked inline for bodiless
        # requests so a read crosses one Aduan layer, not two.
        app.add_middleware(CorrelationMiddleware, guard_nul_bytes=True, direct=self.direct)
        return app


async def _until_reachable(
    step: str,
    action: Callable[[], Awaitable[Any]],
    undo: Callable[[], Awaitable[Any]] | None = None,
) -> None:
    """Run a start-up step, again and again while it fails because a dependency is
    unreachable (`is_transient`); anything else fails the start as before."""
    delay = 0.5
    while True:
        try:
            await action()
            return
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.warning(
                "dependency unreachable at start; waiting", step=step, error=type(exc).__name__
            )
            if undo is not None:
                with contextlib.suppress(Exception):
                    await undo()
        await asyncio.sleep(delay)
        delay = min(delay * 2, 5.0)


UNAVAILABLE_RETRY_AFTER_S = 5
_UNAVAILABLE_BODY: Message = {
    "type": "http.response.body",
    "body": (
        b'{"error":"unavailable","reason":"a database or message broker this request '
        b"needs is unreachable; nothing was lost: send it again in "
        + str(UNAVAILABLE_RETRY_AFTER_S).encode()
        + b' s (a complaint already filed is answered as a duplicate, never filed twice)"}'
    ),
}
_UNAVAILABLE_START: Message = {
    "type": "http.response.start",
    "status": 503,
    "headers": [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(_UNAVAILABLE_BODY["body"])).encode()),
        (b"retry-after", str(UNAVAILABLE_RETRY_AFTER_S).encode()),
        (b"cache-control", b"no-store"),
    ],
}


class CorrelationMiddleware:
    """Takes the request's `X-Correlation-ID` (or makes one up), binds it for the logs of
    everything the request does, echoes it on the response, and times the request per
    route. Plain ASGI: Starlette's `BaseHTTPMiddleware` runs every request through an extra
    task group and memory stream, which the gateway's profile put at ~15 % of its CPU."""

    def __init__(
        self, app: ASGIApp, guard_nul_bytes: bool = False, direct: DirectRoutes | None = None
    ) -> None:
        self.app = app
        # With the guard: requests with a body go through RejectNulBytes (it reads and
        # checks the body); those without one are checked here, without the extra layer.
        self.guarded: ASGIApp | None = RejectNulBytes(app) if guard_nul_bytes else None
        self.direct = direct

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = next((v for k, v in scope["headers"] if k == b"x-correlation-id"), b"")
        cid = given.decode("latin-1")[:128] or uuid.uuid4().hex
        status = 500  # what the client gets if the app fails before answering
        answered = False

        async def send_with_id(message: Message) -> None:
            nonlocal status, answered
            if message["type"] == "http.response.start":
                answered = True
                status = message["status"]
                headers = [
                    *message.get("headers", ()),
                    (b"x-correlation-id", cid.encode("latin-1")),
                ]
                message = {**message, "headers": headers}
            await send(message)

        token = correlation_id.set(cid)
        started = time.perf_counter()
        try:
            if self.guarded is not None and (reason := nul_reason(scope)) is not None:
                await refuse_nul(send_with_id, reason)
            elif self.guarded is not None and needs_body_check(scope):
                endpoint = self.direct.post_endpoint(scope) if self.direct else None
                # A direct endpoint sits behind the same NUL guard as FastAPI's routes.
                guarded = self.guarded if endpoint is None else RejectNulBytes(endpoint)
                await guarded(scope, receive, send_with_id)
            elif not (
                self.direct is not None
                and scope["method"] == "GET"
                and await self.direct.answer(scope, send_with_id)
            ):
                await self.app(scope, receive, send_with_id)
        except Exception as exc:
            # A database or broker that is down is the city's outage, not a bug in the
            # request: the caller (an app, a provider's webhook, the portal) gets 503 with
            # Retry-After and tries again, instead of a 500 and a traceback per request
            # (make chaos, PostgreSQL down: intake answered 6,324 of them). Nothing half
            # done is left behind: the request's transaction did not commit, or it did and
            # the retry is answered as the duplicate it is.
            if answered or not is_transient(exc):
                raise
            log.warning(
                "request refused, a dependency is unreachable",
                # The route's template, not the path: a path can carry a receipt code.
                route=getattr(scope.get("route"), "path", "unmatched"),
                error=type(exc).__name__,
            )
            await send_with_id(_UNAVAILABLE_START)
            await send_with_id(_UNAVAILABLE_BODY)
        finally:
            correlation_id.reset(token)
            # The router put the matched route into this same scope.
            route = scope.get("route")
            HTTP_LATENCY.labels(
                scope["method"], getattr(route, "path", "unmatched"), str(status)
            ).observe(time.perf_counter() - started)


# Failed checks in a row before a worker ends itself: as the supervisors' liveness rule
# (deploy/scripts/services.sh, the manifests' probes).
DEAD_CHECKS = 3


async def end_when_dead(
    dead_parts: Callable[[], list[str]],
    *,
    interval_s: float,
    end: Callable[[], None],
    checks: int = DEAD_CHECKS,
) -> None:
    """End this worker once its background loops have been dead for `checks` checks in a
    row (`dead_parts`, what /livez reports). Only with several HTTP workers on one port:
    a supervisor's probe then reaches whichever worker the kernel picks, so its "N
    failures in a row" rule may not see the one worker whose consumer died; ending it
    (SIGTERM to itself: the lifespan's orderly shutdown) lets uvicorn's supervisor start
    another, which takes the consumer over (aduan_gateway.bootstrap)."""
    failures = 0
    while True:
        await asyncio.sleep(interval_s)
        dead = dead_parts()
        failures = failures + 1 if dead else 0
        if failures >= checks:
            log.error("background loops dead; ending this worker", dead=dead)
            end()
            return


def serve(app: FastAPI | str, settings: ServiceSettings) -> None:
    """Run under uvicorn; SIGTERM/SIGINT trigger the lifespan's orderly shutdown.

    `app` may be the import path of a factory ("package.module:function" building the
    app): then `settings.http_workers` processes serve the port, each built by the factory
    in its own interpreter (uvicorn's supervisor restarts one that dies). Every server is a
    `QuietServer` (aduan_kit.server: a tick a second, not ten)."""
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_config": None,
        "access_log": False,
        "timeout_graceful_shutdown": int(settings.shutdown_grace_s),
        "limit_concurrency": settings.http_limit_concurrency,
        "timeout_keep_alive": settings.http_keep_alive_s,
    }
    if isinstance(app, str) and settings.http_workers > 1:
        # As `uvicorn.run` does for workers, with each worker's server a `QuietServer`.
        workers = QuietWorkersConfig(
            app,
            factory=True,
            workers=settings.http_workers,
            timeout_worker_healthcheck=settings.http_worker_timeout_s,
            **options,
        )
        Multiprocess(workers, sockets=[workers.bind_socket()]).run()
        return
    config = uvicorn.Config(app, factory=isinstance(app, str), **options)
    server = QuietServer(config)
    with contextlib.suppress(KeyboardInterrupt):
        server.run()
    if not server.started:
        sys.exit(STARTUP_FAILURE)  # as `uvicorn.run`: the supervisor sees a failed start
