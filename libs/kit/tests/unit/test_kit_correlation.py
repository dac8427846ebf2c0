"""The correlation middleware: the caller's id is bound for the request's logs and echoed,
a missing one is made up, and each request is timed under its route's path template."""

from __future__ import annotations

import httpx
from fastapi import FastAPI, HTTPException
from prometheus_client import REGISTRY

from aduan_kit.logging import correlation_id
from aduan_kit.runtime import CorrelationMiddleware


def app() -> FastAPI:
    api = FastAPI()
    api.add_middleware(CorrelationMiddleware)

    @api.get("/things/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str | None]:
        if thing_id == "missing":
            raise HTTPException(404, "no such thing")
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
