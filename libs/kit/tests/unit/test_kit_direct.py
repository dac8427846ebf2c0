"""Direct routes (aduan_kit.direct): a GET a handler takes is answered inside the
correlation layer (id echoed, timed under the route's template, 503 on an outage) without
reaching FastAPI; one it declines, or any other request, reaches FastAPI untouched."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import REGISTRY
from pydantic import BaseModel
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


# --- direct POST endpoints (DirectRoutes.take_posts) -------------------------------------


class Busy(Exception):
    """What a service's own exception handler answers (intake's `Overloaded`)."""


def filing_app(direct: DirectRoutes) -> FastAPI:
    """An app whose POST endpoints take only the request, under an including router's
    prefix (as intake's channels are mounted), and one that takes a parsed body."""
    api = FastAPI()
    api.add_middleware(CorrelationMiddleware, guard_nul_bytes=True, direct=direct)

    @api.exception_handler(Busy)
    async def busy(request: Request, exc: Busy) -> Response:
        return JSONResponse({"busy": True}, status_code=503, headers={"Retry-After": "2"})

    @api.exception_handler(409)
    def conflict(request: Request, exc: Exception) -> Response:  # a plain function, by code
        return Response(b"already taken", status_code=409, media_type="text/plain")

    channel = APIRouter(prefix="/forms")

    @channel.post("", status_code=201)
    async def submit(request: Request) -> Response:
        body = await request.body()
        if body == b"busy":
            raise Busy
        if body == b"teapot":
            raise HTTPException(418, "short and stout")
        if body == b"conflict":
            raise HTTPException(409, "the default handler's words")
        if body == b"bug":
            raise RuntimeError("a bug, not an outage")
        if body == b"db-down":
            raise OperationalError("INSERT", {}, ConnectionRefusedError(111, "refused"))
        route = request.scope["route"].path
        link = str(request.url_for("typed"))  # the router's, as FastAPI's path has it
        return JSONResponse({"got": body.decode(), "route": route, "link": link}, status_code=201)

    class Item(BaseModel):
        name: str

    @channel.post("/typed")
    async def typed(item: Item) -> dict[str, str]:
        return {"name": item.name}

    @channel.post("/both")
    async def both(request: Request, x: int = 0) -> Response:
        return Response(str(x))

    outer = APIRouter()
    outer.include_router(channel, prefix="/v1")
    api.include_router(outer)
    return api


def posted(route: str, status: str) -> float:
    value = REGISTRY.get_sample_value(
        "aduan_http_request_seconds_count", {"method": "POST", "route": route, "status": status}
    )
    return value or 0.0


async def answers(client: httpx.AsyncClient, body: bytes) -> tuple[int, dict[str, str], bytes]:
    r = await client.post(
        "/v1/forms", content=body, headers={"content-type": "text/plain", "x-correlation-id": "c1"}
    )
    return r.status_code, dict(r.headers), r.content


async def test_a_direct_post_gives_fastapis_answer_for_every_outcome() -> None:
    """The same status, headers and bytes with the endpoint called directly as through
    FastAPI: a plain answer, the app's own exception handler, an HTTPException, one with a
    handler for its status code, an outage (503); a bug is raised either way; a NUL byte in
    the body is refused before it runs."""
    direct = DirectRoutes()
    api = filing_app(direct)
    direct.take_posts(api, "/v1/forms")
    endpoint = direct.post_endpoint({"method": "POST", "path": "/v1/forms"})
    assert endpoint is not None
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=api), base_url="http://svc"
    ) as client:
        seen: dict[bool, list[tuple[int, dict[str, str], bytes]]] = {}
        for on in (True, False):
            direct.enabled = on
            before = endpoint.answered
            seen[on] = [
                await answers(client, b)
                for b in (b"hello", b"busy", b"teapot", b"conflict", b"db-down")
            ]
            with pytest.raises(RuntimeError, match="a bug"):
                await answers(client, b"bug")
            refused = await answers(client, b"nul\x00here")
            assert refused[0] == 400 and b"NUL" in refused[2]
            assert endpoint.answered - before == (6 if on else 0)
        assert seen[True] == seen[False]
        statuses = [s for s, _, _ in seen[True]]
        assert statuses == [201, 503, 418, 409, 503]
        assert seen[True][3][2] == b"already taken"  # the app's handler for its code
        assert seen[True][0][2] == (
            b'{"got":"hello","route":"/forms","link":"http://svc/v1/forms/typed"}'
        )
        assert seen[True][1][1]["retry-after"] == "2"
        assert seen[True][0][1]["x-correlation-id"] == "c1"
        # Timed under the route as FastAPI labels it (its own router's template).
        direct.enabled = True
        before = posted("/forms", "201")
        await answers(client, b"again")
        assert posted("/forms", "201") == before + 1
        # Other methods and paths are not taken.
        assert (await client.get("/v1/forms")).status_code == 405


def test_only_an_endpoint_that_takes_nothing_but_the_request_is_taken() -> None:
    direct = DirectRoutes()
    api = filing_app(direct)
    with pytest.raises(ValueError, match="only the request"):
        direct.take_posts(api, "/v1/forms/typed")
    with pytest.raises(ValueError, match="only the request"):
        direct.take_posts(api, "/v1/forms/both")
    with pytest.raises(ValueError, match="no single POST route"):
        direct.take_posts(api, "/v1/nowhere")
    direct.take_posts(api, "/v1/forms")
    with pytest.raises(ValueError, match="twice"):
        direct.take_posts(api, "/v1/forms")
