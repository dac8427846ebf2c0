"""The NUL guard every service's app runs: a NUL byte in the path, the query, a header, a JSON
body (escaped or raw), a URL-encoded or multipart form field is a 400 naming where it was,
before any route runs; photos (binary parts) and an escaped backslash followed by `u0000`
pass; a route that reads the body and fails on the refusal still gets the guard's 400."""

from __future__ import annotations

import json
from typing import Any

import httpx
from fastapi import FastAPI, Form, Request, UploadFile

from aduan_kit.guards import PRE_READ_BYTES, RejectNulBytes
from aduan_kit.runtime import ServiceRuntime
from aduan_kit.settings import ServiceSettings

REACHED: list[str] = []


def app() -> FastAPI:
    # The app every service builds: the guard must come with create_app.
    api = ServiceRuntime(ServiceSettings(environment="test"), None).create_app()

    @api.get("/items/{item}")
    async def item(item: str, q: str | None = None) -> dict[str, Any]:
        REACHED.append(item)
        return {"item": item, "q": q}

    @api.post("/json")
    async def json_body(body: dict[str, Any]) -> dict[str, Any]:
        REACHED.append("json")
        return body

    @api.post("/form")
    async def form_body(text: str = Form(...)) -> dict[str, Any]:
        REACHED.append("form")
        return {"text": text}

    @api.post("/upload")
    async def upload(text: str = Form(...), photo: UploadFile | None = None) -> dict[str, Any]:
        REACHED.append("upload")
        size = len(await photo.read()) if photo is not None else 0
        return {"text": text, "photo_bytes": size}

    @api.post("/raw")
    async def raw(request: Request) -> dict[str, Any]:
        # A route reading the body itself, and failing on whatever the read raised.
        try:
            data = json.loads(await request.body())
        except Exception as exc:
            raise RuntimeError("the route failed on its own") from exc
        REACHED.append("raw")
        return {"keys": sorted(data)}

    return api


async def call(method: str, url: str, **kwargs: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        return await client.request(method, url, **kwargs)


async def test_nul_in_the_url_is_refused_before_the_route() -> None:
    REACHED.clear()
    r = await call("GET", "/items/a%00b")
    assert r.status_code == 400 and "URL path" in r.json()["detail"]
    r = await call("GET", "/items/a?q=x%00y&other=1")
    assert r.status_code == 400
    assert r.json()["detail"] == "the query string parameter 'q' contains a NUL byte (%00)"
    r = await call("GET", "/items/a?x%00=1")
    assert r.status_code == 400 and "parameter name" in r.json()["detail"]
    assert REACHED == []
    ok = await call("GET", "/items/a?q=%2500")  # the three characters "%00": fine
    assert ok.status_code == 200 and ok.json() == {"item": "a", "q": "%00"}


async def test_nul_in_a_header_is_refused() -> None:
    sent: list[dict[str, Any]] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        raise AssertionError("the app ran")

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "headers": [(b"x-app-key", b"a\x00b")],
    }
    await RejectNulBytes(inner)(scope, receive, send)
    assert sent[0]["status"] == 400
    assert json.loads(sent[1]["body"]) == {"detail": "a request header contains a NUL byte"}


async def test_nul_in_json_bodies_escaped_or_raw() -> None:
    REACHED.clear()
    for body in (
        b'{"text": "a\\u0000b"}',
        b'{"nested": {"list": ["ok", "\\\\\\u0000"]}}',  # \\ then the escape: still NUL
        b'{"k\\u0000": 1}',
        b'{"text": "a\x00b"}',
    ):
        for path in ("/json", "/raw"):
            r = await call("POST", path, content=body, headers={"content-type": "application/json"})
            assert r.status_code == 400, (path, body, r.text)
            assert "JSON body contains a NUL" in r.json()["detail"]
    # No Content-Type: FastAPI reads JSON, so does the guard.
    r = await call("POST", "/json", content=b'{"a": "\\u0000"}')
    assert r.status_code == 400
    assert REACHED == []
    # An escaped backslash followed by "u0000" is six harmless characters.
    ok = await call("POST", "/json", json={"text": "C:\\u0000"})
    assert ok.status_code == 200 and ok.json() == {"text": "C:\\u0000"}


async def test_nul_in_form_fields_but_not_in_photos() -> None:
    REACHED.clear()
    r = await call("POST", "/form", data={"text": "a\x00b"})
    assert r.status_code == 400
    assert r.json()["detail"] == "the form parameter 'text' contains a NUL byte (%00)"
    r = await call("POST", "/upload", data={"text": "a\x00b"}, files={"photo": ("p.jpg", b"x")})
    assert r.status_code == 400 and r.json()["detail"].startswith("the form field 'text'")
    # A JSON part sent as a file (the citizen app's `report`) is text too.
    r = await call(
        "POST",
        "/upload",
        data={"text": "ok"},
        files={"photo": ("r.json", b'{"a": "\\u0000"}', "application/json")},
    )
    assert r.status_code == 400 and "'photo'" in r.json()["detail"]
    assert REACHED == []
    jpeg = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + bytes(range(256)) * 40
    ok = await call(
        "POST", "/upload", data={"text": "jalan rusak"}, files={"photo": ("p.jpg", jpeg)}
    )
    assert ok.status_code == 200 and ok.json() == {"text": "jalan rusak", "photo_bytes": len(jpeg)}


async def test_a_body_streamed_in_chunks_is_checked_whole() -> None:
    async def chunks() -> Any:
        yield b'{"text": "a\\u00'
        yield b'00b"}'

    r = await call("POST", "/json", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 400


async def test_bodies_beyond_the_pre_read_are_checked_as_the_route_reads_them() -> None:
    REACHED.clear()
    big = "x" * (PRE_READ_BYTES + 10)
    for path in ("/json", "/raw"):
        r = await call("POST", path, json={"filler": big, "text": "a\x00b"})
        assert r.status_code == 400 and "JSON body" in r.json()["detail"], path
    photo = b"\xff\xd8" + b"\x00" * (PRE_READ_BYTES + 10)
    files = [("photo", ("p.jpg", photo, "image/jpeg")), ("text", (None, b"a\x00b"))]
    r = await call("POST", "/upload", files=files)
    assert r.status_code == 400 and r.json()["detail"].startswith("the form field 'text'")
    assert REACHED == []
    ok = await call("POST", "/upload", files=[files[0], ("text", (None, b"jalan"))])
    assert ok.status_code == 200 and ok.json()["photo_bytes"] == len(photo)


async def test_a_refusal_still_carries_the_correlation_id() -> None:
    """create_app runs the guard inside CorrelationMiddleware's one layer: the 400 for a
    NUL, on a read (checked inline) and on a body (RejectNulBytes), echoes the caller's
    X-Correlation-ID like any answer."""
    REACHED.clear()
    cid = {"X-Correlation-ID": "trace-nul-1"}
    r = await call("GET", "/items/a?q=x%00y", headers=cid)
    assert r.status_code == 400 and r.headers["x-correlation-id"] == "trace-nul-1"
    r = await call("POST", "/json", json={"a": "x\u0000y"}, headers=cid)
    assert r.status_code == 400 and r.headers["x-correlation-id"] == "trace-nul-1"
    assert REACHED == []
    ok = await call("GET", "/items/a", headers=cid)
    assert ok.status_code == 200 and ok.headers["x-correlation-id"] == "trace-nul-1"
