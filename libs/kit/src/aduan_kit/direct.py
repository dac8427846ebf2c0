"""Direct routes: a few hot routes answered in front of FastAPI's layers (issue 18).

A public report read costs ~0.3 CPU-ms of a database round trip and the server's HTTP
parsing, and ~0.4 ms more of FastAPI's layers around it (exception and exit-stack
middlewares, route matching, dependency solving, the response object): measured on
`bench.gateway_mix --kinds public-get`, 1.22 → 0.82 gateway CPU-ms a read with the route
answered before them. The citizens' reads are half of the read load, so their two routes
are answered here.

A direct route is never the only definition of its route: the FastAPI route stays
declared (the OpenAPI document, and every request the direct handler does not take).
A handler returns a `DirectAnswer`, or None to decline: then FastAPI answers as before.
Handlers decline whatever is not the plain case (a query parameter they do not know, a
value FastAPI would refuse with a 422, a service not started), so that every answer they
give is the one FastAPI gives for the same request, byte for byte (status, headers, body:
the services' tests compare both).

They run inside `CorrelationMiddleware`, so the correlation id, the NUL guard, the
latency histogram (labelled with the route's template) and the 503 on an unreachable
database stay as for every other route; an exception a handler raises reaches the same
outer error handling as one raised by a FastAPI route.

Direct POST endpoints (`DirectRoutes.take_posts`) are the other kind: a FastAPI route whose
endpoint takes only the request and returns a `Response` (intake's channel filings) has
nothing for FastAPI's routing, dependency solving and response validation to do, so the
same endpoint function is called straight from behind the NUL guard, and its response sent
as FastAPI would send it. Its answer is the route's by construction (one function); an
exception it raises goes to the app's own exception handlers (`Overloaded` → 503 with
Retry-After, `HTTPException` → its status), as FastAPI's exception middleware would send
it, and anything else to the same outer handling. Measured on `bench.intake_filing`: the
layers skipped were ~0.25 CPU-ms of a filing's ~3.3 (docs/performance.md, twenty-second
step).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

__all__ = [
    "DirectAnswer",
    "DirectEndpoint",
    "DirectRoute",
    "DirectRoutes",
    "bounded_int",
    "query_ints",
    "query_values",
]


@dataclass(frozen=True, slots=True)
class DirectAnswer:
    status: int
    body: bytes
    media_type: bytes = b"application/json"
    # Sent before the length and type, where Starlette puts a response's own headers.
    headers: tuple[tuple[bytes, bytes], ...] = ()


# (the request's scope, the path's one parameter or None) -> the answer, or None to decline
Handler = Callable[[Scope, str | None], Awaitable[DirectAnswer | None]]


@dataclass(frozen=True, slots=True)
class DirectRoute:
    path: str  # the template, as FastAPI declares it (the latency histogram's label)
    handler: Handler


class DirectEndpoint:
    """A FastAPI POST route served by calling its endpoint directly."""

    __slots__ = ("answered", "app", "endpoint", "route")

    def __init__(
        self, app: FastAPI, route: APIRoute, endpoint: Callable[[Request], Awaitable[Response]]
    ) -> None:
        self.app = app  # whose exception handlers answer what the endpoint raises
        self.route = route  # the histogram's label (`route.path`), as FastAPI's router sets
        self.endpoint = endpoint
        self.answered = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.answered += 1
        # What FastAPI's router puts in the scope on its way to the endpoint (url_for,
        # path_params and the latency histogram's label read them).
        scope["router"] = self.app.router
        scope["endpoint"] = self.endpoint
        scope["path_params"] = {}
        scope["route"] = self.route
        request = Request(scope, receive, send)
        try:
            response = await self.endpoint(request)
        except Exception as exc:
            handler = _handler_for(self.app.exception_handlers, exc)
            if handler is None:
                raise
            if inspect.iscoroutinefunction(handler):
                response = await handler(request, exc)
            else:
                response = await run_in_threadpool(handler, request, exc)
        await response(scope, receive, send)


def _handler_for(handlers: dict[Any, Any], exc: Exception) -> Any:
    # Starlette's own look-up: a handler for an HTTPException's status code first, then
    # the nearest class in the exception's MRO with one.
    if isinstance(exc, HTTPException) and exc.status_code in handlers:
        return handlers[exc.status_code]
    for cls in type(exc).__mro__:
        if cls in handlers:
            return handlers[cls]
    return None


def _api_routes(routes: list[Any]) -> Iterator[Any]:
    """Every API route with its full path: FastAPI 0.16x keeps an included router as one
    entry whose `effective_route_contexts()` are its routes as mounted (prefixes joined)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "effective_route_contexts"):
            yield from route.effective_route_contexts()


class DirectRoutes:
    """GET routes of a fixed path or of a path ending in one parameter
    (`/v1/public/reports/{report_id}`), matched by a dictionary look-up; and POST routes
    whose endpoint is called straight (`take_posts`)."""

    def __init__(self) -> None:
        self._exact: dict[str, DirectRoute] = {}
        self._by_prefix: dict[str, DirectRoute] = {}
        self._posts: dict[str, DirectEndpoint] = {}
        # Off: every request goes to FastAPI (the tests compare both answers).
        self.enabled = True
        self.answered = 0

    def get(self, template: str) -> Callable[[Handler], Handler]:
        head, _, last = template.rpartition("/")
        if "{" in head or "}" in head:
            raise ValueError(f"only the last segment may be a parameter: {template!r}")
        parameter = last.startswith("{") and last.endswith("}")
        if not parameter and ("{" in last or "}" in last):
            raise ValueError(f"not a whole-segment parameter: {template!r}")

        def register(handler: Handler) -> Handler:
            route = DirectRoute(template, handler)
            table, key = (self._by_prefix, head + "/") if parameter else (self._exact, template)
            if key in table:
                raise ValueError(f"direct route declared twice: {template!r}")
            table[key] = route
            return handler

        return register

    def take_posts(self, app: FastAPI, *paths: str) -> None:
        """Serve the app's POST routes at `paths` by calling their endpoints directly.
        Each must be declared, of a fixed path, and take nothing but the request (no
        parameter, dependency or body model FastAPI would parse or validate): anything
        else is refused here, at start-up, not answered differently at run time."""
        for path in paths:
            found = [
                r for r in _api_routes(app.router.routes) if r.path == path and "POST" in r.methods
            ]
            if len(found) != 1:
                raise ValueError(f"no single POST route {path!r} to take")
            route = found[0]
            dependant = route.dependant
            takes = list(inspect.signature(route.endpoint).parameters)
            if (
                "{" in path
                or takes != [dependant.request_param_name]
                or route.dependencies
                or dependant.dependencies
                or dependant.path_params
                or dependant.query_params
                or dependant.header_params
                or dependant.cookie_params
                or dependant.body_params
                or getattr(route, "max_body_size", None) is not None
            ):
                raise ValueError(f"{path!r}: its endpoint must take only the request")
            if path in self._posts:
                raise ValueError(f"direct route declared twice: {path!r}")
            # FastAPI labels a request with the route as declared (its router's prefix,
            # not an including router's): the same label either way.
            label = getattr(route, "original_route", route)
            self._posts[path] = DirectEndpoint(app, label, route.endpoint)

    def post_endpoint(self, scope: Scope) -> DirectEndpoint | None:
        """The direct endpoint for this POST request, or None (FastAPI answers)."""
        if not self.enabled or scope["method"] != "POST":
            return None
        return self._posts.get(scope["path"])

    async def answer(self, scope: Scope, send: Send) -> bool:
        """Answer a GET request if one of the routes takes it; False when none did (the
        request then goes on to FastAPI untouched)."""
        if not self.enabled:
            return False
        path: str = scope["path"]
        route = self._exact.get(path)
        parameter: str | None = None
        if route is None:
            head, _, parameter = path.rpartition("/")
            route = self._by_prefix.get(head + "/")
            if route is None or not parameter:
                return False
        answer = await route.handler(scope, parameter)
        if answer is None:
            return False
        scope["route"] = route  # the histogram's label, as FastAPI's router sets its route
        # The headers Starlette's `Response(body, media_type=...)` sends, in its order.
        await send(
            {
                "type": "http.response.start",
                "status": answer.status,
                "headers": [
                    *answer.headers,
                    (b"content-length", str(len(answer.body)).encode()),
                    (b"content-type", answer.media_type),
                ],
            }
        )
        await send({"type": "http.response.body", "body": answer.body})
        self.answered += 1
        return True


def query_values(scope: Scope, names: frozenset[str]) -> dict[str, str] | None:
    """The query's parameters as Starlette reads them, or None when one is not in `names`
    or is given twice (the handler then declines: FastAPI's answer is the one given)."""
    raw: bytes = scope["query_string"]
    values: dict[str, str] = {}
    if not raw:
        return values
    for name, value in parse_qsl(raw.decode("latin-1"), keep_blank_values=True):
        if name not in names or name in values:
            return None
        values[name] = value
    return values


def bounded_int(value: str | None, default: int, lowest: int, highest: int) -> int | None:
    """A query integer FastAPI would take as this (`default` when absent), or None for
    anything else: not plain digits, out of bounds."""
    if value is None:
        return default
    if not (value.isascii() and value.isdigit()):
        return None
    number = int(value)
    return number if lowest <= number <= highest else None


def query_ints(scope: Scope, bounds: dict[str, tuple[int, int, int]]) -> dict[str, int] | None:
    """The query's integer parameters, each `name: (default, lowest, highest)`, or None
    when the query holds anything else: another parameter, one given twice, a value that
    is not plain digits or is out of bounds (FastAPI's own answer, a 422 or otherwise, is
    then the one given)."""
    given = query_values(scope, frozenset(bounds))
    if given is None:
        return None
    out: dict[str, int] = {}
    for name, (default, lowest, highest) in bounds.items():
        number = bounded_int(given.get(name), default, lowest, highest)
        if number is None:
            return None
        out[name] = number
    return out
