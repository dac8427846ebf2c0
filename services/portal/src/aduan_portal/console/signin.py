"""Signing in and out, the language switch, each role's home, opening a report by its id
or receipt code, and the console's own stylesheet and script."""

from __future__ import annotations

import contextlib
from functools import cache

from fastapi import APIRouter, Request
from fastapi.responses import Response

from aduan_contracts.enums import Role
from aduan_contracts.values import normalize_receipt_code
from aduan_kit.logging import get_logger
from aduan_portal.console.core import (
    LANG_COOKIE,
    PACKAGE_DIR,
    ROLE_HOME,
    STAFF_ROLES,
    explain,
    language,
    redirect,
    render_bare,
    safe_next,
    signed_in,
    state_of,
    text_field,
    uuid_or_none,
)
from aduan_portal.console.i18n import console_strings
from aduan_portal.console_session import COOKIE_NAME, LOGIN_COOKIE_NAME, csrf_matches, new_token
from aduan_portal.gateway_client import (
    GatewayClient,
    GatewayError,
    GatewayFailure,
    GatewayUnavailable,
    ReportPage,
)

__all__ = ["router", "set_cookie"]

log = get_logger(__name__)

router = APIRouter(prefix="/console", include_in_schema=False)


def set_cookie(request: Request, response: Response, name: str, value: str) -> None:
    """A console cookie: HttpOnly, SameSite=Lax, only under /console (Secure when set)."""
    response.set_cookie(
        name,
        value,
        httponly=True,
        samesite="lax",
        secure=state_of(request).settings.console_cookie_secure,
        path="/console",
    )


@cache
def _static(name: str) -> str:
    return (PACKAGE_DIR / "static" / name).read_text()


@router.get("/static/console.css")
async def stylesheet() -> Response:
    return Response(
        _static("console.css"),
        media_type="text/css",
        headers={"Cache-Control": "public, max-age=3600"},
    )


@router.get("/static/console-replies.js")
async def replies_script() -> Response:
    """The reply-template pickers on a report's forms (the page works without it)."""
    return Response(
        _static("console-replies.js"),
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=3600"},
    )


@router.get("/lang/{code}")
async def switch_language(request: Request, code: str, next: str | None = None) -> Response:
    response = redirect(safe_next(next))
    response.set_cookie(
        LANG_COOKIE,
        "en" if code == "en" else "id",
        samesite="lax",
        secure=state_of(request).settings.console_cookie_secure,
        path="/console",
        max_age=365 * 24 * 3600,
    )
    return response


def _login_page(request: Request, error: str | None, status_code: int = 200) -> Response:
    token = new_token()
    reason = request.query_params.get("reason")
    t = console_strings(language(request))
    known = ("expired", "expired_action", "required", "logged_out")
    notice = t.get(f"reason_{reason}") if reason in known else None
    next_url = request.query_params.get("next")
    response = render_bare(
        request,
        "login.html",
        status_code,
        csrf=token,
        error=error,
        notice=notice,
        next_url=safe_next(next_url) if next_url else "",
        notice_alert=reason == "expired_action",
    )
    set_cookie(request, response, LOGIN_COOKIE_NAME, token)
    return response


@router.get("/login")
async def login_form(request: Request) -> Response:
    if await state_of(request).store.load(request.cookies.get(COOKIE_NAME)) is not None:
        return redirect("/console/")
    return _login_page(request, None)


@router.post("/login")
async def login(request: Request) -> Response:
    state = state_of(request)
    t = console_strings(language(request))
    form = await request.form()
    given = form.get("csrf_token")
    if not csrf_matches(
        request.cookies.get(LOGIN_COOKIE_NAME), given if isinstance(given, str) else None
    ):
        return _login_page(request, t["csrf_failed"], 403)
    username = text_field(form, "username")
    password = form.get("password")
    if not username or not isinstance(password, str) or not password:
        return _login_page(request, t["login_failed"].format(detail="-"), 400)
    peer = request.client.host if request.client is not None else None
    chain = ", ".join(h for h in (request.headers.get("x-forwarded-for"), peer) if h)
    try:
        pair = await state.gateway.login(username, password, forwarded_for=chain or None)
    except GatewayUnavailable as exc:
        return _login_page(request, explain(exc, t), 503)
    except GatewayFailure as exc:  # 401 wrong password, 429 waiting after failures
        status = 429 if exc.status == 429 else 401
        return _login_page(request, t["login_failed"].format(detail=exc.detail), status)
    if pair.role not in STAFF_ROLES:
        return _login_page(request, t["login_not_staff"], 403)
    session = await state.store.create(
        access_token=pair.access_token,
        refresh_token=pair.refresh_token,
        expires_in=pair.expires_in,
        user_id=pair.user_id,
        username=username,
        role=pair.role,
        agency_id=pair.agency_id,
    )
    log.info("console sign-in", role=pair.role)
    response = redirect(safe_next(text_field(form, "next") or None))
    set_cookie(request, response, COOKIE_NAME, session.session_id)
    response.delete_cookie(LOGIN_COOKIE_NAME, path="/console")
    return response


@router.post("/logout")
async def logout(request: Request) -> Response:
    c = await signed_in(request)
    await c.checked_form()
    # The local session ends regardless; a refresh token not revoked expires on its own.
    with contextlib.suppress(GatewayFailure):
        await c.gateway.logout(c.session.refresh_token)
    await c.store.delete(c.session.session_id)
    response = redirect("/console/login?reason=logged_out")
    response.delete_cookie(COOKIE_NAME, path="/console")
    return response


@router.get("/")
async def home(request: Request) -> Response:
    c = await signed_in(request)
    return redirect(ROLE_HOME.get(c.role, "/console/login"))


@router.get("/go")
async def go(request: Request, report_id: str = "") -> Response:
    """Open a report by its id, or by the receipt code a citizen reads out on the phone
    (roles that may see receipt codes; agency officers never do)."""
    c = await signed_in(request)
    typed = report_id.strip()[:64]
    target = uuid_or_none(typed)
    code = normalize_receipt_code(typed) if target is None else None
    if code is not None:
        if c.role == Role.AGENCY_OFFICER.value:
            return await c.flash_and_go("error", c.t["go_receipt_not_yours"], "/console/")
        try:
            page = GatewayClient.parse(
                ReportPage,
                await c.api("GET", "/v1/reports", params={"receipt_code": code, "limit": 1}),
            )
        except GatewayError as exc:
            return await c.flash_and_go("error", explain(exc, c.t), "/console/")
        target = page.items[0].report_id if page.items else None
    if target is None:
        return await c.flash_and_go(
            "error", c.t["go_not_found"].format(detail=code or typed), "/console/"
        )
    return redirect(f"/console/reports/{target}")
