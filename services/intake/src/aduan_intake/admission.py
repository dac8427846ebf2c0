"""Load shedding: how many filings intake works on at once, and the quick refusal past that.

Under overload a filing used to wait up to 30 s for a database connection (SQLAlchemy's
pool timeout) and then fail with a 500, or the client gave up and reset the connection
(docs/performance.md, the overload step). Every sender of a filing retries: the providers'
webhooks on any 5xx, the citizen app and the portal on 503, a mail server on 451. So intake
bounds the filings in progress (`filing_max_in_flight`, below the database pool so a filing
never queues for a connection) and a filing that finds no free place within
`filing_admission_wait_s` is refused at once with `Overloaded`: HTTP 503 with
`Retry-After`, SMTP 451. The refusal comes before the filing's transaction, so nothing of it
was stored; a webhook delivery with several messages may have filed the first ones, and the
provider's retry gets those back as duplicates (same receipt), never filed twice.

Only the filing paths (HTTP channels, the SMTP listener, the LAPOR! pull) are bounded here;
Kafka consumers are not: refusing them would only make the broker redeliver.
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import Request
from fastapi.responses import JSONResponse
from prometheus_client import Counter, Gauge
from starlette.types import ASGIApp, Receive, Scope, Send

from aduan_kit.logging import get_logger

__all__ = ["Admission", "Overloaded", "PostsInProgress", "overloaded_response"]

log = get_logger(__name__)

SHED = Counter(
    "aduan_intake_filings_shed_total",
    "Filings refused with 503 / 451 because intake had too many in progress",
    ["cause"],
)
IN_FLIGHT = Gauge("aduan_intake_filings_in_flight", "Filings holding a database connection")


class Overloaded(Exception):
    """Intake cannot take this filing promptly; the sender should retry after a while."""

    def __init__(self, retry_after_s: int, cause: str = "in_flight") -> None:
        super().__init__(f"intake overloaded ({cause}); retry after {retry_after_s} s")
        self.retry_after_s = retry_after_s
        self.cause = cause


class Admission:
    """At most `limit` filings at once; a filing waits at most `wait_s` for a place."""

    def __init__(self, limit: int, wait_s: float, retry_after_s: int) -> None:
        self.limit = limit
        self.wait_s = wait_s
        self.retry_after_s = retry_after_s
        self._free = asyncio.Semaphore(limit)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self._free.locked():
            # No free place now: wait briefly (a burst of a few ms passes) but never queue
            # long; a caller queued for seconds is worse off than one told to come back.
            if self.wait_s <= 0:
                self._shed()
            try:
                await asyncio.wait_for(self._free.acquire(), self.wait_s)
            except TimeoutError:
                self._shed()
        else:
            await self._free.acquire()
        IN_FLIGHT.inc()
        try:
            yield
        finally:
            IN_FLIGHT.dec()
            self._free.release()

    def _shed(self) -> None:
        SHED.labels("in_flight").inc()
        raise Overloaded(self.retry_after_s)


def pool_timeout(retry_after_s: int) -> Overloaded:
    """The database pool had no connection for a filing (another part of intake held them
    all): the same answer as a full admission, never a 500."""
    SHED.labels("pool").inc()
    return Overloaded(retry_after_s, cause="pool")


class PostsInProgress:
    """At most `limit` POSTs in progress in this process; past it a POST is answered 503
    with `Retry-After` before its body is read or anything else runs (plain ASGI).

    The filing bound above starts at the database; under CPU saturation requests wait
    before that, for the event loop, while every one in progress competes for the same
    CPU (a 300-client burst on the shared two-core machine: answers, 503s included, after
    5-8 s). Refusing the surplus at the door is cheap and keeps what was let in fast.
    Only POSTs (filings, webhooks, answers) count: health checks, metrics, pages and the
    providers' verification GETs always pass."""

    def __init__(
        self,
        app: ASGIApp,
        limit: int,
        retry_after_s: int,
        page_for: Callable[[Scope, int], bytes | None] | None = None,
    ) -> None:
        self.app = app
        self.limit = limit
        self.retry_after = str(retry_after_s).encode()
        self.in_progress = 0
        # A page instead of the JSON for a browser's post (the web form's), or None.
        self.page_for = page_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        if self.in_progress >= self.limit:
            SHED.labels("posts").inc()
            page = self.page_for(scope, int(self.retry_after)) if self.page_for else None
            if page is not None:
                content_type, body = b"text/html; charset=utf-8", page
            else:
                content_type = b"application/json"
                body = json.dumps(
                    {
                        "error": "overloaded",
                        "reason": "intake is taking too many requests at once and did not read "
                        f"this one; send it again in {self.retry_after.decode()} s",
                    }
                ).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 503,
                    "headers": [
                        (b"content-type", content_type),
                        (b"content-length", str(len(body)).encode()),
                        (b"retry-after", self.retry_after),
                        (b"cache-control", b"no-store"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        self.in_progress += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_progress -= 1


def shed_queue(retry_after_s: int) -> Overloaded:
    """More filings are waiting for a group commit than the groups take promptly."""
    SHED.labels("queue").inc()
    return Overloaded(retry_after_s, cause="queue")


def overloaded_response(request: Request, exc: Overloaded) -> JSONResponse:
    """503 + `Retry-After` with the reason, in the error shape of the route asked."""
    retry = str(max(1, math.ceil(exc.retry_after_s)))
    reason = (
        "intake is taking too many complaints at once and did not file this request; "
        f"send it again in {retry} s (a message already filed is answered as a duplicate, "
        "with the same receipt, never filed twice)"
    )
    headers = {"Retry-After": retry, "Cache-Control": "no-store"}
    # The route's template, not the path: a path can carry a receipt code.
    route = getattr(request.scope.get("route"), "path", "unmatched")
    log.warning("filing shed", cause=exc.cause, route=route)
    if request.url.path.startswith("/open311/"):
        # GeoReport v2 errors are a list of {code, description}.
        return JSONResponse(
            [{"code": 503, "description": reason}], status_code=503, headers=headers
        )
    return JSONResponse({"error": "overloaded", "reason": reason}, status_code=503, headers=headers)
