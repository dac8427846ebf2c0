"""The admission bound alone (aduan_intake.admission), and the filer's answer when the
database pool has no connection: `Overloaded` (503), never the pool's own error (500)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest
from sqlalchemy.exc import TimeoutError as PoolTimeout

from aduan_contracts.enums import Channel
from aduan_intake.admission import Admission, Overloaded
from aduan_intake.config import Settings
from aduan_intake.domain import NormalizedReport
from aduan_intake.service.filing import Filer


async def test_a_filing_past_the_bound_waits_briefly_then_is_refused() -> None:
    admission = Admission(limit=1, wait_s=0.05, retry_after_s=3)
    async with admission.slot():
        with pytest.raises(Overloaded) as refused:
            async with admission.slot():
                pytest.fail("admitted past the bound")
    assert refused.value.retry_after_s == 3
    # The place is free again afterwards.
    async with admission.slot():
        pass


async def test_a_place_freed_within_the_wait_admits_the_filing() -> None:
    admission = Admission(limit=1, wait_s=2.0, retry_after_s=2)
    order: list[str] = []

    async def holder() -> None:
        async with admission.slot():
            order.append("first in")
            await asyncio.sleep(0.05)
        order.append("first out")

    task = asyncio.create_task(holder())
    await asyncio.sleep(0.01)
    async with admission.slot():
        order.append("second in")
    await task
    assert order == ["first in", "first out", "second in"]


async def test_no_wait_refuses_at_once() -> None:
    admission = Admission(limit=2, wait_s=0, retry_after_s=1)
    async with admission.slot(), admission.slot():
        with pytest.raises(Overloaded):
            async with admission.slot():
                pass


class _EmptyPool:
    """An engine whose pool is empty: checking a raw connection out times out, as
    SQLAlchemy raises it (a filing's unit of work is a raw transaction)."""

    async def raw_connection(self) -> Any:
        raise PoolTimeout("QueuePool limit of size 20 overflow 10 reached")


class _NoConnection:
    """A session that finds the pool empty when it first needs a connection (its first
    statement, or the raw connection a set-based filing asks for), as SQLAlchemy raises it."""

    # What a sessionmaker keeps of its configuration: the engine it binds to.
    kw: ClassVar[dict[str, Any]] = {"bind": _EmptyPool()}

    async def __aenter__(self) -> _NoConnection:
        return self

    async def __aexit__(self, *exc: Any) -> None:
        return None

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[None]:
        yield

    async def execute(self, *args: Any, **kwargs: Any) -> Any:
        raise PoolTimeout("QueuePool limit of size 20 overflow 10 reached")

    async def connection(self, *args: Any, **kwargs: Any) -> Any:
        raise PoolTimeout("QueuePool limit of size 20 overflow 10 reached")


async def test_an_empty_pool_is_answered_as_overload_not_an_error() -> None:
    filer = Filer(
        sessions=lambda: _NoConnection,  # type: ignore[arg-type, return-value]
        pepper="p" * 32,
        intake_topic="t",
        keys_topic="k",
        admission=Admission(limit=4, wait_s=0, retry_after_s=5),
    )
    report = NormalizedReport(
        channel=Channel.WEB,
        channel_message_id="m-1",
        text="Lampu jalan mati di depan sekolah sejak tiga hari.",
        received_at=datetime.now(UTC),
    )
    with pytest.raises(Overloaded) as refused:
        await filer.file(report)
    assert (refused.value.cause, refused.value.retry_after_s) == ("pool", 5)


def test_the_bound_must_leave_the_pool_a_connection_for_the_consumers() -> None:
    assert Settings(environment="test").filing_limit == 20
    assert Settings(environment="test", filing_max_in_flight=8).filing_limit == 8
    with pytest.raises(ValueError, match="must stay below the database pool"):
        Settings(environment="test", database_pool_size=4, filing_max_in_flight=6)


async def test_posts_past_the_limit_are_refused_at_the_door_and_gets_pass() -> None:
    import httpx
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from aduan_intake.admission import PostsInProgress

    release, arrived = asyncio.Event(), asyncio.Event()
    reached: list[str] = []

    async def slow(request: Request) -> PlainTextResponse:
        reached.append(request.method)
        arrived.set()
        if request.method == "POST":
            await release.wait()
        return PlainTextResponse("ok")

    app = PostsInProgress(
        Starlette(routes=[Route("/x", slow, methods=["GET", "POST"])]), limit=1, retry_after_s=4
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
        first = asyncio.create_task(client.post("/x", content=b"a"))
        await asyncio.wait_for(arrived.wait(), 5)
        refused = await client.post("/x", content=b"b")
        page = await client.get("/x")  # not a POST: not counted, not refused
        release.set()
        assert (await first).status_code == 200
        after = await client.post("/x", content=b"c")
    assert refused.status_code == 503
    assert refused.headers["retry-after"] == "4"
    assert refused.json()["error"] == "overloaded"
    assert page.status_code == 200 and after.status_code == 200
    assert reached == ["POST", "GET", "POST"]  # the refused POST never reached the app


async def test_a_browser_turned_away_at_the_door_gets_the_busy_page() -> None:
    import httpx
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    from aduan_intake.admission import PostsInProgress
    from aduan_intake.entrypoints.channels.web import busy_page

    release, arrived = asyncio.Event(), asyncio.Event()

    async def slow(request: Request) -> PlainTextResponse:
        arrived.set()
        await release.wait()
        return PlainTextResponse("ok")

    app = PostsInProgress(
        Starlette(routes=[Route("/v1/channels/web", slow, methods=["POST"])]),
        limit=1,
        retry_after_s=4,
        page_for=busy_page,
    )
    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
        first = asyncio.create_task(client.post("/v1/channels/web", content=b"a"))
        await asyncio.wait_for(arrived.wait(), 5)
        page = await client.post("/v1/channels/web", content=b"b", headers=browser)
        script = await client.post("/v1/channels/web", content=b"c")
        release.set()
        await first
    assert page.status_code == 503 and page.headers["retry-after"] == "4"
    assert page.headers["content-type"].startswith("text/html")
    assert "Sedang sibuk" in page.text and "send it again in 4 seconds" in page.text
    assert "{" not in page.text.split("<main>")[1]
    assert script.status_code == 503 and script.json()["error"] == "overloaded"
