"""Fixtures shared by intake's tests (fixtures only: test modules never import this file).

- `fixtures_dir`: the provider payloads, written from each provider's public documentation.
- `intake`: starts intake on real infrastructure with per-test settings; yields a client
  (in-process ASGI), the runtime, and the app.
- `provider`: a small local HTTP server standing in for an outside provider (WhatsApp
  Graph API, Meta's CDN, LAPOR!); it records each request so tests can check its shape.
- `serve`: runs an ASGI app on a real socket (for plain HTTP clients and fuzzing).
- `exif_jpeg`: a JPEG carrying GPS and device EXIF.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from PIL import Image
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aduan_intake.background import IntakeRuntime
from aduan_intake.bootstrap import build
from aduan_intake.config import Settings
from aduan_testing.helpers import free_port
from aduan_testing.plugin import Isolation

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def fixtures_dir() -> Path:
    return FIXTURES


@asynccontextmanager
async def _serve(app: Any) -> AsyncIterator[str]:
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
def serve() -> Callable[[Any], AbstractAsyncContextManager[str]]:
    return _serve


@dataclass
class Provider:
    """A fake outside provider: `routes` maps a path to a handler returning a Response."""

    routes: dict[str, Callable[[Request], Awaitable[Response]]] = field(default_factory=dict)
    seen: list[tuple[str, str, dict[str, str], dict[str, str]]] = field(default_factory=list)
    url: str = ""

    def app(self) -> Starlette:
        async def dispatch(request: Request) -> Response:
            path = request.url.path
            self.seen.append(
                (request.method, path, dict(request.headers), dict(request.query_params))
            )
            handler = self.routes.get(path)
            if handler is None:
                return Response("not found", status_code=404)
            return await handler(request)

        return Starlette(routes=[Route("/{path:path}", dispatch, methods=["GET", "POST"])])


@pytest.fixture
async def provider() -> AsyncIterator[Provider]:
    fake = Provider()
    async with _serve(fake.app()) as url:
        fake.url = url
        yield fake


def settings_for(iso: Isolation, blob_root: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "kafka_bootstrap_servers": iso.kafka,
        "database_url": iso.database("intake"),
        "redis_url": iso.redis_url,
        "redis_prefix": iso.redis_prefix,
        "topic_namespace": iso.namespace,
        "environment": "test",
        "blob_root": str(blob_root),
    }
    values.update(overrides)
    return Settings(**values)


@dataclass
class Running:
    client: httpx.AsyncClient
    runtime: IntakeRuntime
    app: Any
    settings: Settings


@pytest.fixture
def intake(
    isolated: Isolation, tmp_path: Path
) -> Callable[..., AbstractAsyncContextManager[Running]]:
    """`async with intake(**settings) as running:` — intake on real infrastructure."""

    @asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[Running]:
        settings = settings_for(isolated, tmp_path / "blobs", **overrides)
        app, runtime = build(settings)
        await runtime.start()
        try:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
                yield Running(client, runtime, app, settings)
        finally:
            await runtime.stop()

    return start


@pytest.fixture
def exif_jpeg() -> bytes:
    img = Image.new("RGB", (40, 30), (20, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "Model X"  # Model
    exif[0x0132] = "2026:11:20 10:20:30"
    exif.get_ifd(0x8825).update({1: "S", 2: (6.0, 11.0, 10.0), 3: "E", 4: (106.0, 50.0, 2.0)})
    out = io.BytesIO()
    img.save(out, format="JPEG", exif=exif)
    data = out.getvalue()
    assert b"PhoneMaker" in data
    return data


@dataclass
class Topics:
    """Reads intake's topics in the test's namespace, decoded."""

    iso: Isolation

    def name(self, topic: str) -> str:
        return f"{self.iso.namespace}.{topic}"

    async def read(self, topic: str, want: int, timeout: float = 20) -> list[Any]:
        from aiokafka import AIOKafkaConsumer

        consumer = AIOKafkaConsumer(
            self.name(topic),
            bootstrap_servers=self.iso.kafka,
            auto_offset_reset="earliest",
            group_id=None,
        )
        await consumer.start()
        got: list[Any] = []
        try:
            deadline = asyncio.get_running_loop().time() + timeout
            while len(got) < want and asyncio.get_running_loop().time() < deadline:
                for records in (await consumer.getmany(timeout_ms=300)).values():
                    got.extend(records)
        finally:
            await consumer.stop()
        return got

    async def publish_categories(self, *codes: str, version: int = 1, active: bool = True) -> None:
        """Put categories on the catalogue topic as the gateway does (an administrator's
        change), so an intake started afterwards knows them (it reads the topic to its end
        at start-up)."""
        from datetime import UTC, datetime

        from aiokafka import AIOKafkaProducer

        from aduan_contracts.events import CategoryPublished
        from aduan_contracts.serialization import encode
        from aduan_contracts.topics import CATEGORIES
        from aduan_kit.messaging import ensure_topics

        await ensure_topics(self.iso.kafka, self.iso.namespace, [CATEGORIES])
        producer = AIOKafkaProducer(bootstrap_servers=self.iso.kafka, acks="all")
        await producer.start()
        try:
            for code in codes:
                record = CategoryPublished(
                    code=code,
                    version=version,
                    name_id=code.replace("-", " ").capitalize(),
                    name_en=code,
                    active=active,
                    updated_at=datetime.now(UTC),
                )
                await producer.send_and_wait(
                    self.name(CATEGORIES.name), encode(record), key=code.encode()
                )
        finally:
            await producer.stop()

    async def count(self, topic: str) -> int:
        """Every message ever written to the topic (end offsets)."""
        from aiokafka import AIOKafkaConsumer, TopicPartition

        name = self.name(topic)
        consumer = AIOKafkaConsumer(name, bootstrap_servers=self.iso.kafka, group_id=None)
        await consumer.start()
        try:
            partitions = consumer.partitions_for_topic(name) or set()
            assert partitions, f"no such topic {name}"
            ends = await consumer.end_offsets([TopicPartition(name, p) for p in partitions])
            return int(sum(ends.values()))
        finally:
            await consumer.stop()


@pytest.fixture
def topics(isolated: Isolation) -> Topics:
    return Topics(isolated)
