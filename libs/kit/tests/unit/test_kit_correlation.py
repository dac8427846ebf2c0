"""The correlation middleware: the caller's id is bound for the request's logs and echoed,
a missing one is made up, and each request is timed under its route's path template; a
request that fails because a dependency is down gets 503 + Retry-After, not a 500."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI, HTTPException
from prometheus_client import REGISTRY
from sqlalchemy.exc import OperationalError

from aduan_kit.logging import correlation_id
from aduan_kit.runtime import CorrelationMiddleware


def app() -> FastAPI:
    api = FastAPI()
    api.add_middleware(CorrelationMiddleware)

    @api.get("/things/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str | None]:
        if thing_id == "missing":
            raise HTTPException(404, "no such thing")
        if thing_id == "db-down":
            # What SQLAlchemy raises when PostgreSQL refuses the connection.
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError(111, "refused"))
        if thing_id == "bug":
            raise ValueError("a bug, not an outage")
        return {"seen": correlation_id.get()}

    return api


def observed(route: str, status: str) -> float:
    value = REGISTRY.get_sample_value(
        "aduan_http_request_seconds_count",
        {"method": "GET", "route": route, "status": status},
    )
    return value or 0.0


async def test_the_callers_id_is_bound_and_echoed() -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app()), base_url="http://svc"
    ) as client:
        before = observed("/things/{thing_id}", "200")
        r = await client.get("/things/a1", headers={"X-Correlation-ID": "req-42"})
        assert r.json() == {"seen": "req-42"}
        assert r.headers["x-correlation-id"] == "req-42"
        assert observed("/things/{thing_id}", "200") == before + 1
        assert correlation_id.get() is None  # not left bound after the request


async def test_a_missing_id_is_made_up_and_errors_are_timed_too() -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app()), base_url="http://svc"
    ) as client:
        r = await client.get("/things/b2")
        made_up = r.headers["x-correlation-id"]
        assert len(made_up) == 32 and r.json() == {"seen": made_up}
        before = observed("/things/{thing_id}", "404")
        missing = await client.get("/things/missing", headers={"X-Correlation-ID": "x" * 500})
        assert missing.status_code == 404
        assert missing.headers["x-correlation-id"] == "x" * 128  # capped
        assert observed("/things/{thing_id}", "404") == before + 1
        before_unmatched = observed("unmatched", "404")
        await client.get("/nowhere")
        assert observed("unmatched", "404") == before_unmatched + 1


async def test_an_unreachable_dependency_is_a_503_with_retry_after_and_a_bug_stays_a_bug() -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app()), base_url="http://svc"
    ) as client:
        before = observed("/things/{thing_id}", "503")
        r = await client.get("/things/db-down", headers={"X-Correlation-ID": "out-1"})
        assert r.status_code == 503
        assert r.headers["retry-after"] == "5"
        assert r.headers["x-correlation-id"] == "out-1"
        assert r.json()["error"] == "unavailable"
        assert "send it again in 5 s" in r.json()["reason"]
        assert observed("/things/{thing_id}", "503") == before + 1
        # Anything else still fails loudly (500 and a traceback in the server's log).
        with pytest.raises(ValueError, match="a bug, not an outage"):
            await client.get("/things/bug")
