"""The reporter's own side of "track my report": after proving the contact they gave, the
reporter sees their report as they gave it with what happened since (the rejection reason,
the agency's follow-up note), rates the result of a completed report, reopens it within the
window, downloads their data and asks for their identity to be erased.

The portal holds nothing of it: the gateway checks the contact (`/v1/reporter/session`,
throttled against guessing) and answers with a short reporter token, which the portal keeps
server-side in Redis behind an HttpOnly cookie for that receipt code only, with a CSRF token
for the forms. Every read and action is the gateway's, with that token.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from aduan_kit.logging import get_logger
from aduan_kit.runtime import ServiceRuntime
from aduan_portal.config import Settings
from aduan_portal.domain import pick_language

__all__ = ["REPORTER_COOKIE", "ReporterGateway", "ReporterSession", "reporter_router"]

log = get_logger(__name__)
REPORTER_COOKIE = "aduan_reporter"


@dataclass(frozen=True)
class ReporterSession:
    token: str
    receipt_code: str
    csrf: str


class ReporterGateway:
    """The gateway calls a signed-in reporter makes (their token, their report only)."""

    def __init__(
        self, base_url: str, timeout_s: float, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self._base = base_url.rstrip("/")
        self._timeout = timeout_s
        self._transport = transport

    async def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        forwarded_for: str | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        headers = {"Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if forwarded_for:
            headers["X-Forwarded-For"] = forwarded_for
        async with httpx.AsyncClient(
            base_url=self._base, timeout=self._timeout, transport=self._transport
        ) as client:
            return await client.request(method, path, headers=headers, **kwargs)


def _chain(request: Request) -> str | None:
    peer = request.client.host if request.client is not None else None
    return ", ".join(h for h in (request.headers.get("x-forwarded-for"), peer) if h) or None


async def load_session(
    runtime: ServiceRuntime, settings: Settings, request: Request, code: str
) -> ReporterSession | None:
    """The signed-in reporter of `code`, or None (no cookie, expired, or another code)."""
    sid = request.cookies.get(REPORTER_COOKIE)
    if not sid or len(sid) > 64:
        return None
    raw = await runtime.redis.get(f"{settings.redis_prefix}reporter:{sid}")
    if not raw:
        return None
    data = json.loads(raw)
    if data.get("receipt_code") != code:
        return None
    return ReporterSession(data["token"], code, data["csrf"])


async def mine(gateway: ReporterGateway, session: ReporterSession) -> dict[str, Any] | None:
    """The reporter's own report (the gateway's reporter view) and its rating, or None when
    the token no longer works (expired: the reporter proves the contact again)."""
    r = await gateway.call(
        "GET", "/v1/reports", session.token, params={"receipt_code": session.receipt_code}
    )
    if r.status_code != 200:
        return None
    items = r.json().get("items", [])
    if not items:
        return None
    report: dict[str, Any] = items[0]
    rated = await gateway.call("GET", f"/v1/reports/{report['report_id']}/rating", session.token)
    report["rating"] = rated.json() if rated.status_code == 200 else None
    return report


def reporter_router(
    runtime: ServiceRuntime,
    settings: Settings,
    gateway: ReporterGateway,
    show_track: Callable[..., Awaitable[HTMLResponse]],
) -> APIRouter:
    """`show_track(request, code, lang, notice=..., error=...)` renders the track page (with
    the reporter's part when signed in)."""
    router = APIRouter(tags=["pages"])

    def back(code: str, lang: str, done: str = "") -> RedirectResponse:
        query = "&".join(
            p for p in (f"done={done}" if done else "", "lang=en" if lang == "en" else "") if p
        )
        return RedirectResponse(f"/track/{code}{'?' + query if query else ''}", status_code=303)

    async def signed_in(request: Request, code: str) -> tuple[ReporterSession, Any] | None:
        session = await load_session(runtime, settings, request, code)
        if session is None:
            return None
        form = await request.form(max_files=0, max_fields=8, max_part_size=8 * 1024)
        if not secrets.compare_digest(str(form.get("csrf") or ""), session.csrf):
            return None
        return session, form

    @router.post("/track/{receipt_code}/masuk", response_class=HTMLResponse, response_model=None)
    async def sign_in(request: Request, receipt_code: str, lang: str | None = None) -> Response:
        """Prove the contact given with the report (the gateway compares it and throttles
        guessing); on success a session for this receipt code only."""
        language = pick_language(lang)
        code = receipt_code.strip().upper()
        form = await request.form(max_files=0, max_fields=4, max_part_size=1024)
        contact = str(form.get("contact") or "").strip()
        if len(contact) < 3:
            return await show_track(request, code, language, error="reporter_contact_missing")
        r = await gateway.call(
            "POST",
            "/v1/reporter/session",
            forwarded_for=_chain(request),
            json={"receipt_code": code, "contact": contact[:254]},
        )
        if r.status_code == 429:
            return await show_track(request, code, language, error="reporter_too_many", status=429)
        if r.status_code != 200:
            return await show_track(request, code, language, error="reporter_no_match", status=404)
        body = r.json()
        sid = secrets.token_urlsafe(24)
        ttl = int(body.get("expires_in") or 600)
        await runtime.redis.set(
            f"{settings.redis_prefix}reporter:{sid}",
            json.dumps(
                {
                    "token": body["access_token"],
                    "receipt_code": code,
                    "csrf": secrets.token_urlsafe(16),
                }
            ),
            ex=ttl,
        )
        response = back(code, language)
        response.set_cookie(
            REPORTER_COOKIE,
            sid,
            max_age=ttl,
            path="/track",
            httponly=True,
            samesite="lax",
            secure=settings.console_cookie_secure,
        )
        log.info("reporter signed in on the portal")
        return response

    @router.post("/track/{receipt_code}/keluar", response_model=None)
    async def sign_out(request: Request, receipt_code: str, lang: str | None = None) -> Response:
        sid = request.cookies.get(REPORTER_COOKIE)
        if sid and len(sid) <= 64:
            await runtime.redis.delete(f"{settings.redis_prefix}reporter:{sid}")
        response = back(receipt_code.strip().upper(), pick_language(lang))
        response.delete_cookie(REPORTER_COOKIE, path="/track")
        return response

    @router.post("/track/{receipt_code}/nilai", response_class=HTMLResponse, response_model=None)
    async def rate(request: Request, receipt_code: str, lang: str | None = None) -> Response:
        language = pick_language(lang)
        code = receipt_code.strip().upper()
        found = await signed_in(request, code)
        if found is None:
            return await show_track(
                request, code, language, error="reporter_signed_out", status=401
            )
        session, form = found
        try:
            score = int(str(form.get("score") or ""))
            report_id = UUID(str(form.get("report_id") or ""))
        except ValueError:
            return await show_track(request, code, language, error="rate_pick", status=422)
        comment = str(form.get("comment") or "").strip()[:1000]
        r = await gateway.call(
            "PUT",
            f"/v1/reports/{report_id}/rating",
            session.token,
            json={"score": score, "comment": comment or None},
        )
        if r.status_code == 200:
            return back(code, language, "rated")
        error = "rate_pick" if r.status_code == 422 else "reporter_action_failed"
        return await show_track(request, code, language, error=error, status=r.status_code)

    @router.post(
        "/track/{receipt_code}/buka-kembali", response_class=HTMLResponse, response_model=None
    )
    async def reopen(request: Request, receipt_code: str, lang: str | None = None) -> Response:
        language = pick_language(lang)
        code = receipt_code.strip().upper()
        found = await signed_in(request, code)
        if found is None:
            return await show_track(
                request, code, language, error="reporter_signed_out", status=401
            )
        session, form = found
        reason = " ".join(str(form.get("reason") or "").split())
        if len(reason) < 10:
            return await show_track(
                request, code, language, error="reopen_reason_short", status=422, typed=reason
            )
        try:
            report_id = UUID(str(form.get("report_id") or ""))
            version = int(str(form.get("version") or ""))
        except ValueError:
            return await show_track(
                request, code, language, error="reporter_action_failed", status=422
            )
        r = await gateway.call(
            "POST",
            f"/v1/reports/{report_id}/reopen",
            session.token,
            json={"reason": reason[:1000], "expected_version": version},
        )
        if r.status_code == 200:
            return back(code, language, "reopened")
        detail = (
            str(r.json().get("detail", ""))
            if r.headers.get("content-type", "").startswith("application/json")
            else ""
        )
        error = "reopen_window_closed" if "window" in detail else "reporter_action_failed"
        return await show_track(
            request, code, language, error=error, status=r.status_code, typed=reason
        )

    @router.get("/track/{receipt_code}/data.json", response_model=None)
    async def export(request: Request, receipt_code: str, lang: str | None = None) -> Response:
        """Everything the platform holds about the reporter, and who read it (UU 27/2022)."""
        code = receipt_code.strip().upper()
        session = await load_session(runtime, settings, request, code)
        if session is None:
            return back(code, pick_language(lang))
        r = await gateway.call("GET", "/v1/reporter/export", session.token)
        if r.status_code != 200:
            return back(code, pick_language(lang))
        return Response(
            r.content,
            media_type="application/json",
            headers={
                "Content-Disposition": f'attachment; filename="aduan-{code}.json"',
                "Cache-Control": "no-store",
            },
        )

    @router.post(
        "/track/{receipt_code}/hapus-data", response_class=HTMLResponse, response_model=None
    )
    async def erase(request: Request, receipt_code: str, lang: str | None = None) -> Response:
        language = pick_language(lang)
        code = receipt_code.strip().upper()
        found = await signed_in(request, code)
        if found is None:
            return await show_track(
                request, code, language, error="reporter_signed_out", status=401
            )
        session, form = found
        if form.get("confirm") != "yes":
            return await show_track(
                request, code, language, error="erase_confirm_missing", status=422
            )
        r = await gateway.call("POST", "/v1/reporter/erasure", session.token)
        if r.status_code != 202:
            return await show_track(
                request, code, language, error="reporter_action_failed", status=r.status_code
            )
        sid = request.cookies.get(REPORTER_COOKIE) or ""
        await runtime.redis.delete(f"{settings.redis_prefix}reporter:{sid}")
        response = back(code, language, "erased")
        response.delete_cookie(REPORTER_COOKIE, path="/track")
        log.info("erasure requested from the portal")
        return response

    return router
