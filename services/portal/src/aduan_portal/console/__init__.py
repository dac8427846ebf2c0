"""The officer console (/console): server-rendered pages over the privacy gateway's API.

Every page is what the gateway answers for the signed-in officer's own token, so role,
agency scope, redaction, photo locks and the access log are the gateway's decisions; the
console only chooses which page a role gets. Every action is a plain form POST carrying the
session's CSRF token, answered with a redirect and a flash message (works without JS).
Nothing personal and no token is logged or put in a URL.

One module per area, each with a module-level router: `signin`, `queues`, `report`,
`dashboard`, `admin`, `replies` (reply templates); `core` holds what they share.
`install_console` mounts them and puts their shared state on `app.state.console`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlencode

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import Response

from aduan_kit.runtime import ServiceRuntime
from aduan_portal.config import Settings
from aduan_portal.console import admin, dashboard, queues, replies, report, signin, units
from aduan_portal.console.core import (
    ConsoleState,
    CsrfFailed,
    LoginRequired,
    WrongRole,
    explain,
    language,
    redirect,
    render_bare,
    render_console,
)
from aduan_portal.console.i18n import CONSOLE_LANGUAGES, console_strings
from aduan_portal.console_session import (
    COOKIE_NAME,
    DRAFT_COOKIE_NAME,
    DRAFT_TTL_S,
    SessionStore,
)
from aduan_portal.gateway_client import GatewayClient, GatewayUnauthorized, GatewayUnavailable
from aduan_portal.public_gateway import PublicGateway

__all__ = ["install_console", "render_console"]

# In this order: the paths do not overlap today, but a later, more general route must not
# shadow an earlier one (`/{name}/export.csv` comes before `/reports/...`).
ROUTERS = (
    signin.router,
    queues.router,
    dashboard.router,
    report.router,
    admin.router,
    units.router,
    replies.router,
)


def install_console(
    app: FastAPI,
    runtime: ServiceRuntime,
    settings: Settings,
    transport: httpx.AsyncBaseTransport | None = None,
) -> GatewayClient:
    """Mount the console on the portal app: routes, error pages, no-store headers, and the
    gateway client opened and closed with the app's lifespan. `transport` lets tests put
    an in-process gateway behind the client."""
    for lang in CONSOLE_LANGUAGES:
        console_strings(lang)  # read the catalogues now: a broken one stops the start
    gateway = GatewayClient(settings.gateway_url, settings.gateway_timeout_s, transport)
    store = SessionStore(
        lambda: runtime.redis, settings.redis_prefix, settings.console_session_ttl_s
    )
    names = PublicGateway(settings.gateway_url, settings.gateway_timeout_s, transport)
    app.state.console = ConsoleState(store, gateway, settings, names)
    app.state.console_gateway = gateway
    for router in ROUTERS:
        app.include_router(router)

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        query = {"reason": exc.reason} | ({"next": exc.next_url} if exc.next_url else {})
        response = redirect(f"/console/login?{urlencode(query)}")
        response.delete_cookie(COOKIE_NAME, path="/console")
        if exc.draft:
            response.set_cookie(
                DRAFT_COOKIE_NAME,
                exc.draft,
                max_age=DRAFT_TTL_S,
                httponly=True,
                samesite="lax",
                secure=settings.console_cookie_secure,
                path="/console",
            )
        return response

    @app.exception_handler(GatewayUnauthorized)
    async def still_unauthorized(request: Request, exc: GatewayUnauthorized) -> Response:
        # Refused even with freshly refreshed tokens (e.g. the account was just deactivated).
        sid = request.cookies.get(COOKIE_NAME)
        if sid:
            await store.delete(sid)
        response = redirect("/console/login?reason=expired")
        response.delete_cookie(COOKIE_NAME, path="/console")
        return response

    @app.exception_handler(WrongRole)
    async def wrong_role(request: Request, exc: WrongRole) -> Response:
        t = console_strings(language(request))
        return render_bare(request, "error.html", 403, message=t["wrong_role"], title=t["error"])

    @app.exception_handler(CsrfFailed)
    async def csrf_failed(request: Request, exc: CsrfFailed) -> Response:
        t = console_strings(language(request))
        return render_bare(request, "error.html", 403, message=t["csrf_failed"], title=t["error"])

    @app.exception_handler(GatewayUnavailable)
    async def unavailable(request: Request, exc: GatewayUnavailable) -> Response:
        t = console_strings(language(request))
        return render_bare(request, "error.html", 503, message=explain(exc, t), title=t["error"])

    @app.middleware("http")
    async def console_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        path = request.url.path
        if path.startswith("/console") and not path.startswith("/console/static/"):
            # Officer pages hold personal data: never cached, never framed.
            response.headers["Cache-Control"] = response.headers.get("Cache-Control", "no-store")
            if "no-store" not in response.headers["Cache-Control"]:
                response.headers["Cache-Control"] = "no-store"
            response.headers["X-Frame-Options"] = "DENY"
            response.headers["Referrer-Policy"] = "same-origin"
            response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: FastAPI) -> Any:
        async with inner(a):
            gateway.start()
            try:
                yield
            finally:
                await gateway.close()

    app.router.lifespan_context = lifespan
    return gateway
