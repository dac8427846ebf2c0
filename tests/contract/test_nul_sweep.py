"""Every route of every service, with a NUL byte in each of its parameters (path, query,
header, JSON body field, form field, multipart field), answers 400 with a reason naming the
NUL — never a 500 from PostgreSQL ("invalid byte sequence"), never the route's own answer.

The routes come from each app's own route table (what `build()` mounts, OpenAPI-hidden
routes and mounts included), so a route added later is swept too. No infrastructure is
started: the guard (aduan_kit.guards, installed by `ServiceRuntime.create_app`) answers
before routing, and a request it let through would reach a service whose database, Redis
and broker are not running and fail with something other than the guard's 400.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.params import File, Form
from fastapi.routing import APIRoute, iter_route_contexts
from starlette.routing import Mount, Route

from aduan_gateway.bootstrap import build as build_gateway
from aduan_gateway.config import Settings as GatewaySettings
from aduan_intake.bootstrap import build as build_intake
from aduan_intake.config import Settings as IntakeSettings
from aduan_notifier.bootstrap import build as build_notifier
from aduan_notifier.config import Settings as NotifierSettings
from aduan_portal.bootstrap import build as build_portal
from aduan_portal.config import Settings as PortalSettings
from aduan_workflow.bootstrap import build as build_workflow
from aduan_workflow.config import Settings as WorkflowSettings

NUL = "\x00"


def apps() -> dict[str, FastAPI]:
    common: dict[str, Any] = {"environment": "test"}
    return {
        "gateway": build_gateway(GatewaySettings(**common))[0],
        "intake": build_intake(IntakeSettings(**common, smtp_enabled=False))[0],
        "workflow": build_workflow(WorkflowSettings(**common))[0],
        "notifier": build_notifier(NotifierSettings(**common))[0],
        "portal": build_portal(PortalSettings(**common))[0],
    }


@dataclass
class Probe:
    what: str
    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    kwargs: dict[str, Any] = field(default_factory=dict)


def _fill(path: str, bad: str | None = None) -> str:
    """The path with every `{param}` set to a plain value, `bad` to one with a NUL."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1).split(":")[0]
        return "x%00y" if name == bad else "00000000-0000-0000-0000-000000000001"

    return re.sub(r"\{([^}]+)\}", value, path)


def _generic_bodies(method: str, path: str) -> Iterator[Probe]:
    """Bodies a route may read itself (the channel webhooks do): JSON, form, multipart."""
    yield Probe("JSON body", method, path, kwargs={"json": {"text": NUL}})
    yield Probe("form body", method, path, kwargs={"data": {"text": NUL}})
    yield Probe(
        "multipart field",
        method,
        path,
        kwargs={"data": {"text": NUL}, "files": {"photos": ("p.jpg", b"\xff\xd8", "image/jpeg")}},
    )
    yield Probe("text body", method, path, kwargs={"content": b"a\x00b", "headers": {}})


def routes(app: FastAPI) -> Iterator[tuple[str, Any]]:
    """(path template with any router prefix, route) for every route the app mounts. FastAPI
    keeps an included router as one entry of `app.routes`; its route contexts are the
    routes as served, prefix included."""
    for ctx in iter_route_contexts(app.routes):
        yield ctx.path_format or ctx.path or "", ctx.original_route


def probes(app: FastAPI) -> Iterator[Probe]:
    for template, route in routes(app):
        if isinstance(route, APIRoute):
            dep = route.dependant
            for method in sorted(route.methods or ()):
                if method == "HEAD":
                    continue
                for p in dep.path_params:
                    yield Probe(f"path {p.name}", method, _fill(template, p.name))
                path = _fill(template)
                for p in dep.query_params:
                    alias = p.alias or p.name
                    yield Probe(f"query {alias}", method, path, params={alias: NUL})
                for p in dep.header_params:
                    alias = (p.alias or p.name).replace("_", "-")
                    yield Probe(f"header {alias}", method, path, kwargs={"header": alias})
                body = dep.body_params
                if any(isinstance(p.field_info, File) for p in body):
                    files = {"_": ("p.jpg", b"\xff\xd8", "image/jpeg")}
                    for p in body:
                        if not isinstance(p.field_info, File):
                            data = {p.alias: NUL}
                            kwargs = {"data": data, "files": files}
                            yield Probe(f"multipart {p.alias}", method, path, kwargs=kwargs)
                elif any(isinstance(p.field_info, Form) for p in body):
                    for p in body:
                        kwargs = {"data": {p.alias: NUL}}
                        yield Probe(f"form {p.alias}", method, path, kwargs=kwargs)
                elif body:
                    for name in _json_fields(route):
                        yield Probe(f"JSON {name}", method, path, kwargs={"json": {name: NUL}})
                if method not in ("GET", "DELETE"):
                    yield from _generic_bodies(method, path)
        elif isinstance(route, Route):
            bad = next(iter(route.param_convertors), None)
            for method in sorted(route.methods or {"GET"}):
                if method != "HEAD":
                    yield Probe("path", method, _fill(template, bad) if bad else template + "%00")
        elif isinstance(route, Mount):
            yield Probe("mounted path", "GET", template.rstrip("/") + "/x%00.css")


def _json_fields(route: APIRoute) -> list[str]:
    """Top-level fields of the JSON body (its model's, or the embedded parameters)."""
    dep = route.dependant
    if len(dep.body_params) == 1 and route.body_field is not None:
        annotation = dep.body_params[0].field_info.annotation
        fields = getattr(annotation, "model_fields", None)
        if fields:
            return [f.alias or name for name, f in fields.items()]
        return [dep.body_params[0].alias]
    return [p.alias for p in dep.body_params]


async def send(app: FastAPI, client: httpx.AsyncClient, probe: Probe) -> httpx.Response:
    kwargs = dict(probe.kwargs)
    header = kwargs.pop("header", None)
    if header is not None:
        # httpx refuses a NUL in a header value; the raw ASGI scope can carry one (some
        # servers pass it through), so the app is called as the server would.
        return await _raw_header_call(app, probe, header)
    return await client.request(probe.method, probe.path, params=probe.params, **kwargs)


async def _raw_header_call(app: FastAPI, probe: Probe, header: str) -> httpx.Response:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def capture(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": probe.method,
        "scheme": "http",
        "path": probe.path,
        "raw_path": probe.path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(header.lower().encode(), b"a\x00b"), (b"host", b"svc")],
        "client": ("127.0.0.1", 1),
        "server": ("svc", 80),
    }
    await app(scope, receive, capture)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return httpx.Response(start["status"], content=body)


@pytest.mark.parametrize("service", ["gateway", "intake", "workflow", "notifier", "portal"])
async def test_every_route_refuses_nul_in_every_parameter(service: str) -> None:
    app = apps()[service]
    failures: list[str] = []
    seen = 0
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        for probe in probes(app):
            seen += 1
            r = await send(app, client, probe)
            try:
                detail = r.json().get("detail") if r.status_code == 400 else None
            except ValueError:
                detail = None
            if r.status_code != 400 or not isinstance(detail, str) or "NUL" not in detail:
                failures.append(f"{probe.method} {probe.path} [{probe.what}]: {r.status_code}")
    assert seen >= 3, "the route table was not read"
    assert failures == [], "\n".join(failures)
