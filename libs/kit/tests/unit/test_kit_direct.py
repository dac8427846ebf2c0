"""Direct routes (aduan_kit.direct): a GET a handler takes is answered inside the
correlation layer (id echoed, timed under the route's template, 503 on an outage) without
reaching FastAPI; one it declines, or any other request, reaches FastAPI untouched."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from sqlalchemy.exc import OperationalError

from aduan_kit.direct import DirectAnswer, DirectRoutes, query_ints
from aduan_kit.logging import correlation_id
from aduan_kit.runtime import CorrelationMiddleware


def observed(route: str, status: str) -> float:
    value = REGISTRY.get_sample_value(
        "aduan_http_request_seconds_count", {"method": "GET", "route": route, "status": status}
    )
    return value or 0.0


def app(direct: DirectRoutes) -> FastAPI:
    api = FastAPI()
    api.add_middleware(CorrelationMiddleware, guard_nul_bytes=True, direct=direct)

    @api.get("/items/{item_id}")
    async def item(item_id: str) -> dict[str, str]:
        return {"from": "fastapi", "item": item_id}

    @api.get("/items")
    async def items() -> dict[str, str]:
        return {"from": "fastapi"}

    @direct.get("/items/{item_id}")
    async def direct_item(_: Any, item_id: str | None) -> DirectAnswer | None:
        if item_id == "declined":
            return None
        if item_id == "db-down":
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError(111, "refused"))
        return DirectAnswer(200, b'{"from":"direct","cid":"%s"}' % correlation_id.get().encode())

    @direct.get("/items")
    async def direct_items(scope: Any, _: str | None) -> DirectAnswer | None:
        page = query_ints(scope, {"limit": (20, 1, 100)})
        return None if page is None else DirectAnswer(200, b'{"limit":%d}' % page["limit"])

    return api


async def test_taken_declined_and_other_requests() -> None:
    direct = DirectRoutes()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app(direct)), base_url="http://svc"
    ) as client:
        before = observed("/items/{item_id}", "200")
        r = await client.get("/items/a1", headers={"X-Correlation-ID": "req-7"})
        assert r.json() == {"from": "direct", "cid": "req-7"}
        assert r.headers["x-correlation-id"] == "req-7"
        assert r.headers["content-type"] == "application/json"
        assert r.headers["content-length"] == str(len(r.content))
        assert observed("/items/{item_id}", "200") == before + 1  # timed under the template
        assert (await client.get("/items?limit=5")).json() == {"limit": 5}
        assert direct.answered == 2
        # Declined by the handler, or not a route of its shape: FastAPI answers.
        assert (await client.get("/items/declined")).json()["from"] == "fastapi"
        assert (await client.get("/items?limit=500")).json() == {"from": "fastapi"}
        assert (await client.get("/items?other=1")).json() == {"from": "fastapi"}
        assert (await client.get("/items/")).status_code in (307, 404)
        assert (await client.get("/items/a/b")).status_code == 404
        assert (await client.post("/items/a1")).status_code == 405  # only GETs are direct
        assert direct.answered == 2
        # An outage inside a direct handler is the same 503 as anywhere else.
        down = await client.get("/items/db-down")
        assert down.status_code == 503 and down.headers["retry-after"]
        direct.enabled = False
        assert (await client.get("/items/a1")).json()["from"] == "fastapi"


def test_only_a_last_whole_segment_may_be_a_parameter() -> None:
    direct = DirectRoutes()
    with pytest.raises(ValueError, match="last segment"):
        direct.get("/a/{x}/b")
    with pytest.raises(ValueError, match="whole-segment"):
        direct.get("/a/x{y}")
    direct.get("/a/{x}")(lambda *_: None)  # type: ignore[arg-type,return-value]
    with pytest.raises(ValueError, match="twice"):
        direct.get("/a/{y}")(lambda *_: None)  # type: ignore[arg-type,return-value]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (b"", {"limit": 20, "offset": 0}),
        (b"limit=5", {"limit": 5, "offset": 0}),
        (b"offset=3&limit=100", {"limit": 100, "offset": 3}),
        (b"limit=0", None),
        (b"limit=101", None),
        (b"limit=", None),
        (b"limit=+5", None),
        (b"limit=%C2%B2", None),
        (b"limit=5&limit=5", None),
        (b"limit=5&q=x", None),
    ],
)
def test_query_ints(query: bytes, expected: dict[str, int] | None) -> None:
    bounds = {"limit": (20, 1, 100), "offset": (0, 0, 10)}
    assert query_ints({"query_string": query}, bounds) == expected
