"""The officer console (/console): server-rendered pages over the privacy gateway's API.

Every page is what the gateway answers for the signed-in officer's own token, so role,
agency scope, redaction, photo locks and the access log are the gateway's decisions; the
console only chooses which page a role gets. Every action is a plain form POST carrying the
session's CSRF token, answered with a redirect and a flash message (works without JS).
Nothing personal and no token is logged or put in a URL.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData, UploadFile

from aduan_contracts.enums import ReportStatus, Role
from aduan_contracts.values import normalize_receipt_code
from aduan_kit.csvsafe import write_csv
from aduan_kit.logging import get_logger
from aduan_kit.redaction import HIDDEN
from aduan_kit.runtime import ServiceRuntime
from aduan_portal.config import Settings
from aduan_portal.console_i18n import (
    ConsoleLanguage,
    console_strings,
    evidence_text,
    privacy_name,
    refusal_text,
    role_name,
    system_reason_text,
)
from aduan_portal.console_session import (
    COOKIE_NAME,
    DRAFT_COOKIE_NAME,
    DRAFT_TTL_S,
    LOGIN_COOKIE_NAME,
    ConsoleSession,
    Flash,
    SessionStore,
    csrf_matches,
    new_token,
)
from aduan_portal.gateway_client import (
    AccessLogEntry,
    ActionResult,
    AdminUser,
    Agency,
    Assignment,
    Category,
    Conversation,
    Duplicate,
    GatewayClient,
    GatewayError,
    GatewayFailure,
    GatewayUnauthorized,
    GatewayUnavailable,
    Grant,
    Note,
    Officer,
    OfficerReport,
    ReportPage,
)
from aduan_portal.public_gateway import PublicGateway
from aduan_portal.rendering import MapConfig, channel_name, map_config

__all__ = ["install_console", "render_console"]

log = get_logger(__name__)

PACKAGE_DIR = Path(__file__).parent
LANG_COOKIE = "aduan_console_lang"
# Refresh the gateway access token this long before it expires.
REFRESH_MARGIN_S = 30
PAGE_SIZE = 50
WIB = timezone(timedelta(hours=7), "WIB")
STAFF_ROLES = ("ticket-admin", "agency-officer", "validator", "administrator")

ROLE_HOME = {
    "ticket-admin": "/console/triage",
    "agency-officer": "/console/agency",
    "validator": "/console/validation",
    "administrator": "/console/admin",
}


@dataclass(frozen=True)
class Queue:
    name: str
    title_key: str
    statuses: tuple[str, ...]
    role: str


QUEUES = {
    "triage": Queue("triage", "triage", ("received", "coordination"), "ticket-admin"),
    "agency": Queue(
        "agency",
        "agency_queue",
        ("dispatched", "in_progress", "followup_rejected"),
        "agency-officer",
    ),
    "validation": Queue(
        "validation", "validation", ("awaiting_validation", "field_verification"), "validator"
    ),
}

FULL_ACCESS = ("ticket-admin", "validator", "administrator")


@dataclass(frozen=True)
class QueueFilters:
    """What an officer narrowed a queue by (query string in, gateway parameters out).
    Unknown or out-of-queue values are dropped, not errors: a bookmarked link from another
    queue still opens. Text search is offered to the roles the gateway allows it (an
    agency officer may not probe scrubbed text for hidden words)."""

    statuses: tuple[str, ...]
    status: str = ""
    category: str = ""
    area: str = ""
    q: str = ""
    search_allowed: bool = False
    mine: bool = False  # agency officers: only the reports assigned to me
    # Nearest deadline first (the gateway sorts the whole queue, not only a page), or
    # newest first.
    sort: str = "due"

    @classmethod
    def from_query(cls, query: Mapping[str, str], queue: Queue, role: str) -> QueueFilters:
        def value(name: str, limit: int) -> str:
            raw = query.get(name) or ""
            return " ".join(raw.split())[:limit]

        status = value("status", 40)
        if status not in queue.statuses:
            status = ""
        category = value("category", 100)
        if category and not _CODE.match(category):
            category = ""
        search_allowed = role in FULL_ACCESS
        return cls(
            statuses=(status,) if status else queue.statuses,
            status=status,
            category=category,
            area=value("area", 200),
            q=value("q", 200) if search_allowed else "",
            search_allowed=search_allowed,
            mine=role == "agency-officer" and query.get("mine") == "1",
            sort="newest" if query.get("sort") == "newest" else "due",
        )

    def gateway_params(self) -> dict[str, str]:
        params = {"category": self.category, "area": self.area, "q": self.q}
        params["assignee"] = "me" if self.mine else ""
        params["sort"] = self.sort
        return {k: v for k, v in params.items() if v}

    @property
    def active(self) -> bool:
        return bool(self.status or self.category or self.area or self.q or self.mine)

    def link(self, page: int) -> str:
        """This queue's URL at `page` with the same filters (pager links keep them)."""
        params = {"status": self.status, "category": self.category, "area": self.area}
        params |= {"q": self.q, "mine": "1" if self.mine else ""}
        params |= {"sort": "newest" if self.sort == "newest" else ""}
        params |= {"page": str(page) if page > 1 else ""}
        return "?" + urlencode({k: v for k, v in params.items() if v})


def _month_bars(rows: list[list[Any]] | list[tuple[str, int]]) -> list[dict[str, Any]]:
    """Bars for the completed-per-month chart: x, height and label per month (the SVG is
    drawn in the template; 40 px per month, 120 px for the tallest)."""
    peak = max((int(n) for _, n in rows), default=0) or 1
    return [
        {"month": m, "n": int(n), "x": i * 40 + 30, "h": round(int(n) / peak * 120)}
        for i, (m, n) in enumerate(rows)
    ]


BULK_MAX = 100  # reports per bulk dispatch (one gateway call each)
# A queue's CSV: the first rows only (an export is a work list, not a data dump).
EXPORT_MAX_ROWS = 5000
EXPORT_COLUMNS_AGENCY = (
    "report_id", "title", "status", "category", "agency", "area", "address", "month",
    "sla", "due_at",
)  # fmt: skip
EXPORT_COLUMNS_FULL = (
    "report_id", "receipt_code", "title", "status", "category", "agency", "area", "address",
    "received_at", "sla", "due_at",
)  # fmt: skip


def _export_row(
    r: OfficerReport,
    lang: ConsoleLanguage,
    categories: Mapping[str, Any],
    agencies: Mapping[str, str],
) -> dict[str, Any]:
    cat = categories.get(r.category or "")
    return {
        "report_id": str(r.report_id),
        "receipt_code": r.receipt_code,
        "title": r.title,
        "status": _status_label(r.status, lang),
        "category": (cat.name_en if lang == "en" else cat.name_id) if cat else r.category,
        "agency": agencies.get(r.agency_id or "", r.agency_id),
        "area": r.shown_area,
        "address": r.location.address if r.location else None,
        "month": r.month,
        "received_at": _when(r.received_at) if r.received_at else None,
        "sla": r.sla_badge,
        "due_at": _when(r.due_at) if r.due_at else None,
    }


_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_CODE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


class LoginRequired(Exception):
    """Sign in (again). `next`: where to go after it; `draft`: the id of the text kept from
    a form whose action did not happen."""

    def __init__(self, reason: str, next_url: str | None = None, draft: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.next_url = next_url
        self.draft = draft


# Free-text fields kept when an action is cut off by an expired session (the rest of a
# form is quick to redo; a paragraph of reasons is not).
DRAFT_FIELDS = ("note", "reason", "result", "question")


def _draft_fields(form: FormData) -> dict[str, str]:
    return {k: v for k, v in form.multi_items() if k in DRAFT_FIELDS and isinstance(v, str)}


class WrongRole(Exception):
    pass


class CsrfFailed(Exception):
    pass


# --- rendering ------------------------------------------------------------------------------


def _when(value: datetime | None) -> str:
    """Exact times in Western Indonesia Time (only full-access views carry them)."""
    if value is None:
        return ""
    return value.astimezone(WIB).strftime("%d-%m-%Y %H:%M WIB")


@cache
def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(PACKAGE_DIR / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    return env


def _language(request: Request) -> ConsoleLanguage:
    return "en" if request.cookies.get(LANG_COOKIE) == "en" else "id"


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def _redirect(url: str) -> RedirectResponse:
    response = RedirectResponse(url, status_code=303)
    _no_store(response)
    return response


def _safe_next(value: str | None) -> str:
    # Only console paths: an open redirect would let a link send officers anywhere.
    if value and value.startswith("/console") and "//" not in value and "\\" not in value:
        return value
    return "/console/"


def _explain(err: GatewayError, t: dict[str, str]) -> str:
    """The gateway's reason verbatim, in a polite sentence chosen by the status."""
    by_status = {
        409: "err_conflict",
        403: "err_forbidden",
        404: "err_not_found",
        422: "err_invalid",
    }
    key = "err_unavailable" if isinstance(err, GatewayUnavailable) else by_status.get(err.status)
    if key == "err_conflict":
        said = refusal_text(err.detail, "en" if t["lang_code"] == "en" else "id")
        if said is not None:
            return said
    return t[key or "err_refused"].format(detail=err.detail)


# --- the console ---------------------------------------------------------------------------


class Console:
    """One request's view of the console: the officer's session and gateway calls made
    with their token (refreshed when it is about to expire or is refused)."""

    def __init__(
        self,
        request: Request,
        session: ConsoleSession,
        store: SessionStore,
        gateway: GatewayClient,
        names: PublicGateway | None = None,
    ) -> None:
        self.request = request
        self.session = session
        self.store = store
        self.gateway = gateway
        self.names = names
        self.lang = _language(request)
        self.t = console_strings(self.lang)

    @property
    def role(self) -> str:
        return self.session.role

    def require(self, *roles: str) -> None:
        if self.session.role not in roles:
            raise WrongRole

    def _adopt(self, fresh: ConsoleSession) -> None:
        self.session.access_token = fresh.access_token
        self.session.refresh_token = fresh.refresh_token
        self.session.access_expires_at = fresh.access_expires_at
        self.session.role = fresh.role
        self.session.agency_id = fresh.agency_id

    async def _refresh(self, refused_token: str) -> None:
        """New tokens for this session, from the gateway or from a parallel request of the
        same browser that refreshed first (a refresh token works once: rotation)."""
        sid = self.session.session_id
        for _ in range(50):
            if await self.store.lock_refresh(sid):
                break
            await asyncio.sleep(0.1)  # another request is refreshing right now
        else:
            raise LoginRequired("expired")
        try:
            stored = await self.store.load(sid)
            if stored is None:
                raise LoginRequired("expired")
            if (
                stored.access_token != refused_token
                and stored.access_expires_at - REFRESH_MARGIN_S > time.time()
            ):
                self._adopt(stored)  # refreshed by a parallel request meanwhile
                return
            try:
                pair = await self.gateway.refresh(stored.refresh_token)
            except GatewayUnavailable:
                raise
            except GatewayFailure:
                # Refused (expired, revoked, user deactivated): sign in again.
                await self.store.delete(sid)
                raise LoginRequired("expired") from None
            self.session.access_token = pair.access_token
            self.session.refresh_token = pair.refresh_token
            self.session.access_expires_at = time.time() + pair.expires_in
            self.session.role = pair.role
            self.session.agency_id = pair.agency_id
            await self.store.save_auth(self.session)
        finally:
            await self.store.unlock_refresh(sid)

    async def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        if self.session.access_expires_at - REFRESH_MARGIN_S < time.time():
            await self._refresh(self.session.access_token)
        try:
            return await self.gateway.request(
                method, path, token=self.session.access_token, **kwargs
            )
        except GatewayUnauthorized:
            await self._refresh(self.session.access_token)
            return await self.gateway.request(
                method, path, token=self.session.access_token, **kwargs
            )

    async def checked_form(self) -> FormData:
        form = await self.request.form()
        given = form.get("csrf_token")
        if not csrf_matches(self.session.csrf_token, given if isinstance(given, str) else None):
            raise CsrfFailed
        return form

    async def flash_and_go(self, kind: str, text: str, url: str) -> RedirectResponse:
        self.session.flash(kind, text)  # type: ignore[arg-type]
        await self.store.save(self.session)
        return _redirect(url)

    def nav(self) -> list[dict[str, str]]:
        items: list[tuple[str, str, str]] = []
        role = self.session.role
        if role == "ticket-admin":
            items.append(("nav-triage", "/console/triage", self.t["triage"]))
        if role == "agency-officer":
            items.append(("nav-agency", "/console/agency", self.t["agency_queue"]))
        if role == "validator":
            items.append(("nav-validation", "/console/validation", self.t["validation"]))
        items.append(("nav-dashboard", "/console/dashboard", self.t["dashboard"]))
        if role == "administrator":
            items += [
                ("nav-admin", "/console/admin", self.t["admin"]),
                ("nav-users", "/console/admin/users", self.t["users"]),
                ("nav-agencies", "/console/admin/agencies", self.t["agencies"]),
                ("nav-categories", "/console/admin/categories", self.t["categories"]),
                ("nav-access-log", "/console/admin/access-log", self.t["access_log"]),
            ]
        current = self.request.url.path
        return [
            {"id": i, "href": h, "label": label, "current": "page" if current == h else ""}
            for i, h, label in items
        ]

    async def page(self, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
        flashes = self.session.pop_flashes()
        if flashes:
            await self.store.save(self.session)
        if self.names is not None:
            # Names, not codes (cached lists; the codes stay when the gateway cannot say).
            context.setdefault("agency_names", await self.names.agency_names())
            if "category_names" not in context:
                cats = await self.names.category_names()
                context["category_names"] = {
                    code: (c.name_en if self.lang == "en" else c.name_id)
                    for code, c in cats.items()
                }
        html = render_console(
            template,
            self.lang,
            self.session,
            here=self.request.url.path,
            flashes=flashes,
            nav=self.nav(),
            **context,
        )
        return _no_store(HTMLResponse(html, status_code=status_code))  # type: ignore[return-value]


def render_console(
    template: str,
    lang: ConsoleLanguage,
    session: ConsoleSession | None,
    here: str,
    flashes: list[Flash] | None = None,
    nav: list[dict[str, str]] | None = None,
    **context: Any,
) -> str:
    """A console page as HTML: a pure function of its inputs (unit tests render with it)."""
    names: dict[str, str] = context.pop("category_names", None) or {}
    context.setdefault("kept", lambda form, field_name: "")
    agencies: dict[str, str] = context.pop("agency_names", None) or {}
    strings = console_strings(lang)
    return (
        _environment()
        .get_template(f"console/{template}")
        .render(
            t=strings,
            lang=lang,
            session=session,
            role_label=role_name(session.role, lang) if session else "",
            role_name=lambda r: role_name(r, lang),
            evidence_text=lambda e: evidence_text(e, lang),
            reason_text=lambda reason, role: system_reason_text(reason, role, lang, names),
            agency_name=lambda code: agencies.get(code, code) if code else "—",
            category_name=lambda code: names.get(code, code) if code else "—",
            channel_name=lambda ch: channel_name(ch, lang),
            privacy_name=lambda p: privacy_name(p, lang),
            # The officers' reminder on every report, in the console's language (the
            # gateway's label is Indonesian).
            confidentiality=lambda p: strings["label_public" if p == "public" else "label_private"],
            # The scrub's marker in officer text, in the console's language.
            marks=lambda text: text.replace(HIDDEN, strings["hidden_marker"]) if text else text,
            status_name=lambda st: _status_label(st, lang),
            category_choices=sorted(names.items(), key=lambda kv: kv[1].casefold()),
            csrf=session.csrf_token if session else context.pop("csrf", ""),
            flashes=flashes or [],
            nav=nav or [],
            here=here,
            **context,
        )
    )


def _status_label(status: str, lang: ConsoleLanguage) -> str:
    try:
        s = ReportStatus(status)
    except ValueError:
        return status
    return s.label_en if lang == "en" else s.label_id


def _render_bare(
    request: Request, template: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """A page without a session (login, errors before sign-in)."""
    html = render_console(template, _language(request), None, request.url.path, **context)
    response = HTMLResponse(html, status_code=status_code)
    _no_store(response)
    return response


# --- forms ---------------------------------------------------------------------------------


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def _version(form: FormData) -> dict[str, int]:
    raw = _text(form, "expected_version")
    return {"expected_version": int(raw)} if raw.isdigit() and int(raw) >= 1 else {}


def _uuid(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


@dataclass(frozen=True)
class Action:
    """A report action: who may do it, the gateway path, and how the form becomes a body
    (None: a required field is missing; the str is the message key to show)."""

    role: str
    gateway_path: str
    body: Callable[[FormData], dict[str, Any] | str]
    # The report leaves the actor's hands (an agency returning it is no longer assigned and
    # may not open it): after it, the actor lands on their queue, not on a page they can
    # no longer read ("success" and "not found" shown together, found by trying it).
    hands_over: bool = False


def _reason_body(form: FormData) -> dict[str, Any] | str:
    reason = _text(form, "reason")
    return {"reason": reason} if len(reason) >= 3 else "reason_required_msg"


def _note_body(form: FormData) -> dict[str, Any] | str:
    note = _text(form, "note")
    return {"note": note or None}


def _dispatch_body(form: FormData) -> dict[str, Any] | str:
    agency = _text(form, "agency_id")
    if not agency:
        return "agency_required_msg"
    return {
        "agency_id": agency,
        "category": _text(form, "category") or None,
        "note": _text(form, "note") or None,
    }


def _merge_body(form: FormData) -> dict[str, Any] | str:
    # A typed id wins over a picked suggestion: the officer typed it on purpose.
    raw = _text(form, "primary_report_id_typed") or _text(form, "primary_report_id")
    target = _uuid(raw)
    return {"primary_report_id": str(target)} if target else "merge_target_msg"


def _field_result_body(form: FormData) -> dict[str, Any] | str:
    confirmed = _text(form, "confirmed")
    result = _text(form, "result")
    if confirmed not in ("yes", "no") or len(result) < 3:
        return "fv_required_msg"
    return {"confirmed": confirmed == "yes", "result": result}


ACTIONS: dict[str, Action] = {
    "dispatch": Action("ticket-admin", "dispatch", _dispatch_body),
    "coordinate": Action("ticket-admin", "coordinate", _note_body),
    "reject": Action("ticket-admin", "reject", _reason_body),
    "merge": Action("ticket-admin", "merge", _merge_body),
    "accept": Action("agency-officer", "accept", lambda _: {}),
    "return": Action("agency-officer", "return", _reason_body, hands_over=True),
    "resume": Action("agency-officer", "resume", lambda _: {}),
    "validate": Action("validator", "validate", _note_body),
    "reject-follow-up": Action("validator", "reject-follow-up", _reason_body),
    "field-verification": Action("validator", "field-verification", _note_body),
    "field-verification-result": Action(
        "validator", "field-verification/result", _field_result_body
    ),
}


# --- routes --------------------------------------------------------------------------------


def console_router(
    store: SessionStore,
    gateway: GatewayClient,
    settings: Settings,
    names: PublicGateway | None = None,
) -> APIRouter:
    router = APIRouter(prefix="/console", include_in_schema=False)
    css = (PACKAGE_DIR / "static" / "console.css").read_text()

    def set_cookie(response: Response, name: str, value: str) -> None:
        response.set_cookie(
            name,
            value,
            httponly=True,
            samesite="lax",
            secure=settings.console_cookie_secure,
            path="/console",
        )

    def console_map() -> MapConfig | None:
        found = map_config(settings)  # the public pages' settings and Leaflet check
        return found if found.available else None

    async def console(request: Request) -> Console:
        sid = request.cookies.get(COOKIE_NAME)
        session = await store.load(sid)
        if session is None:
            raise LoginRequired("expired" if sid else "required")
        return Console(request, session, store, gateway, names)

    async def console_for_form(request: Request, report_id: uuid.UUID) -> tuple[Console, FormData]:
        """The console and the checked form of a report action. When the session has
        expired (or is refused later, see `cut_off`), the action does not happen: the
        officer is told so after signing in again, back on the report with their text."""
        sid = request.cookies.get(COOKIE_NAME)
        session = await store.load(sid)
        if session is None:
            if not sid:
                raise LoginRequired("required", f"/console/reports/{report_id}")
            raise await cut_off(LoginRequired("expired"), sid, request, report_id, None)
        c = Console(request, session, store, gateway, names)
        return c, await c.checked_form()

    async def cut_off(
        exc: LoginRequired,
        sid: str,
        request: Request,
        report_id: uuid.UUID,
        form: FormData | None,
    ) -> LoginRequired:
        if form is None:
            form = await request.form()
        here = f"/console/reports/{report_id}"
        action = request.url.path.removeprefix(here + "/")
        draft = await store.keep_draft(sid, f"{here}/{action}", _draft_fields(form))
        return LoginRequired("expired_action", here, draft)

    # --- sign-in ---------------------------------------------------------------------------

    @router.get("/static/console.css")
    async def stylesheet() -> Response:
        return Response(
            css, media_type="text/css", headers={"Cache-Control": "public, max-age=3600"}
        )

    @router.get("/lang/{code}")
    async def switch_language(code: str, next: str | None = None) -> Response:
        response = _redirect(_safe_next(next))
        response.set_cookie(
            LANG_COOKIE,
            "en" if code == "en" else "id",
            samesite="lax",
            secure=settings.console_cookie_secure,
            path="/console",
            max_age=365 * 24 * 3600,
        )
        return response

    def login_page(request: Request, error: str | None, status_code: int = 200) -> Response:
        token = new_token()
        reason = request.query_params.get("reason")
        t = console_strings(_language(request))
        known = ("expired", "expired_action", "required", "logged_out")
        notice = t.get(f"reason_{reason}") if reason in known else None
        next_url = request.query_params.get("next")
        response = _render_bare(
            request,
            "login.html",
            status_code,
            csrf=token,
            error=error,
            notice=notice,
            next_url=_safe_next(next_url) if next_url else "",
            notice_alert=reason == "expired_action",
        )
        set_cookie(response, LOGIN_COOKIE_NAME, token)
        return response

    @router.get("/login")
    async def login_form(request: Request) -> Response:
        if await store.load(request.cookies.get(COOKIE_NAME)) is not None:
            return _redirect("/console/")
        return login_page(request, None)

    @router.post("/login")
    async def login(request: Request) -> Response:
        t = console_strings(_language(request))
        form = await request.form()
        given = form.get("csrf_token")
        if not csrf_matches(
            request.cookies.get(LOGIN_COOKIE_NAME), given if isinstance(given, str) else None
        ):
            return login_page(request, t["csrf_failed"], 403)
        username = _text(form, "username")
        password = form.get("password")
        if not username or not isinstance(password, str) or not password:
            return login_page(request, t["login_failed"].format(detail="-"), 400)
        peer = request.client.host if request.client is not None else None
        chain = ", ".join(h for h in (request.headers.get("x-forwarded-for"), peer) if h)
        try:
            pair = await gateway.login(username, password, forwarded_for=chain or None)
        except GatewayUnavailable as exc:
            return login_page(request, _explain(exc, t), 503)
        except GatewayFailure as exc:  # 401 wrong password, 429 waiting after failures
            status = 429 if exc.status == 429 else 401
            return login_page(request, t["login_failed"].format(detail=exc.detail), status)
        if pair.role not in STAFF_ROLES:
            return login_page(request, t["login_not_staff"], 403)
        session = await store.create(
            access_token=pair.access_token,
            refresh_token=pair.refresh_token,
            expires_in=pair.expires_in,
            user_id=pair.user_id,
            username=username,
            role=pair.role,
            agency_id=pair.agency_id,
        )
        log.info("console sign-in", role=pair.role)
        response = _redirect(_safe_next(_text(form, "next") or None))
        set_cookie(response, COOKIE_NAME, session.session_id)
        response.delete_cookie(LOGIN_COOKIE_NAME, path="/console")
        return response

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        c = await console(request)
        await c.checked_form()
        # The local session ends regardless; a refresh token not revoked expires on its own.
        with contextlib.suppress(GatewayFailure):
            await gateway.logout(c.session.refresh_token)
        await store.delete(c.session.session_id)
        response = _redirect("/console/login?reason=logged_out")
        response.delete_cookie(COOKIE_NAME, path="/console")
        return response

    @router.get("/")
    async def home(request: Request) -> Response:
        c = await console(request)
        return _redirect(ROLE_HOME.get(c.role, "/console/login"))

    @router.get("/go")
    async def go(request: Request, report_id: str = "") -> Response:
        """Open a report by its id, or by the receipt code a citizen reads out on the phone
        (roles that may see receipt codes; agency officers never do)."""
        c = await console(request)
        typed = report_id.strip()[:64]
        target = _uuid(typed)
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
                return await c.flash_and_go("error", _explain(exc, c.t), "/console/")
            target = page.items[0].report_id if page.items else None
        if target is None:
            return await c.flash_and_go(
                "error", c.t["go_not_found"].format(detail=code or typed), "/console/"
            )
        return _redirect(f"/console/reports/{target}")

    # --- queues ----------------------------------------------------------------------------

    async def queue_page(request: Request, queue: Queue, page: int) -> Response:
        c = await console(request)
        c.require(queue.role)
        page = max(1, min(page, 1000))
        reports: list[OfficerReport] = []
        has_next = False
        error = None
        filters = QueueFilters.from_query(request.query_params, queue, c.role)
        try:
            for status in filters.statuses:
                r = await c.api(
                    "GET",
                    "/v1/reports",
                    params={
                        "status": status,
                        "limit": PAGE_SIZE,
                        "offset": (page - 1) * PAGE_SIZE,
                        **filters.gateway_params(),
                    },
                )
                got = GatewayClient.parse(ReportPage, r)
                reports.extend(got.items)
                has_next = has_next or len(got.items) == PAGE_SIZE
        except GatewayError as exc:
            error = _explain(exc, c.t)
        if filters.sort == "due":
            # Each status's page came nearest deadline first from the gateway (over the
            # whole queue); merged here the same way: what needs attention on top.
            rank = {"overdue": 0, "due_soon": 1}
            reports.sort(
                key=lambda r: (
                    rank.get(r.sla_badge or "", 2),
                    r.due_at or datetime.max.replace(tzinfo=WIB),
                )
            )
        map_points = [
            {
                "lat": r.location.point.lat,
                "lon": r.location.point.lon,
                "title": r.title or r.text[:60] or str(r.report_id),
                "status": _status_label(r.status, c.lang),
                "url": f"/console/reports/{r.report_id}",
            }
            for r in reports
            if r.location is not None and r.location.point is not None
        ]
        return await c.page(
            "queue.html",
            queue=queue,
            title=c.t[queue.title_key],
            reports=reports,
            page=page,
            has_next=has_next,
            error=error,
            filters=filters,
            map_points=map_points,
            console_map=console_map(),
            # Bulk dispatch (ticket-admins): the agencies to pick from.
            bulk_agencies=await agency_options(c) if queue.name == "triage" and reports else [],
        )

    @router.get("/{name}/export.csv")
    async def export_queue(request: Request, name: str) -> Response:
        """The officer's own queue (with its filters) as CSV: what the queue shows, no
        identity (no view carries any), exact times only for roles that see them, every
        cell through the one CSV writer that neutralises spreadsheet formulas."""
        queue = QUEUES.get(name)
        if queue is None:
            return _no_store(Response("not found", status_code=404, media_type="text/plain"))
        c = await console(request)
        c.require(queue.role)
        filters = QueueFilters.from_query(request.query_params, queue, c.role)
        names = await c.names.category_names() if c.names else {}
        agencies = await c.names.agency_names() if c.names else {}
        rows: list[dict[str, Any]] = []
        try:
            for status in filters.statuses:
                for page in range(EXPORT_MAX_ROWS // 100):
                    r = await c.api(
                        "GET",
                        "/v1/reports",
                        params={
                            "status": status,
                            "limit": 100,
                            "offset": page * 100,
                            **filters.gateway_params(),
                        },
                    )
                    got = GatewayClient.parse(ReportPage, r).items
                    rows += [_export_row(x, c.lang, names, agencies) for x in got]
                    if len(got) < 100 or len(rows) >= EXPORT_MAX_ROWS:
                        break
        except GatewayError as exc:
            return _no_store(Response(_explain(exc, c.t), status_code=502, media_type="text/plain"))
        full = c.role in FULL_ACCESS
        columns = EXPORT_COLUMNS_FULL if full else EXPORT_COLUMNS_AGENCY
        body = write_csv(columns, rows[:EXPORT_MAX_ROWS])
        log.info("console queue export", queue=name, rows=min(len(rows), EXPORT_MAX_ROWS))
        response = Response(body, media_type="text/csv; charset=utf-8")
        response.headers["Content-Disposition"] = f'attachment; filename="aduan-{name}.csv"'
        return _no_store(response)

    @router.post("/triage/bulk-dispatch")
    async def bulk_dispatch(request: Request) -> Response:
        """Dispatch several reports to one agency at once (ticket-admins). Each is its own
        gateway call with the version the officer saw: one changed meanwhile is refused
        alone (409), the rest go through; the summary says which."""
        c = await console(request)
        form = await c.checked_form()
        c.require("ticket-admin")
        agency = _text(form, "agency_id")
        picked = [v for v in form.getlist("report") if isinstance(v, str)][:BULK_MAX]
        if not agency:
            return await c.flash_and_go("error", c.t["agency_required_msg"], "/console/triage")
        if not picked:
            return await c.flash_and_go("error", c.t["bulk_none_msg"], "/console/triage")
        note = _text(form, "note") or None
        done, failed = 0, []
        for value in picked:
            raw_id, _, raw_version = value.partition(":")
            target = _uuid(raw_id)
            if target is None:
                continue
            body: dict[str, Any] = {"agency_id": agency, "note": note}
            if raw_version.isdigit():
                body["expected_version"] = int(raw_version)
            try:
                r = await c.api("POST", f"/v1/reports/{target}/dispatch", json=body)
            except GatewayError as exc:
                failed.append(f"{str(target)[:8]}: {_explain(exc, c.t)}")
                continue
            c.session.expect(str(target), GatewayClient.parse(ActionResult, r).version)
            done += 1
        log.info("console bulk dispatch", dispatched=done, refused=len(failed))
        if done:
            c.session.flash("success", c.t["bulk_ok"].format(n=done))
        if failed:
            c.session.flash(
                "error", c.t["bulk_failed"].format(n=len(failed)) + " " + "; ".join(failed)
            )
        await c.store.save(c.session)
        return _redirect("/console/triage")

    @router.get("/dashboard")
    async def dashboard_page(request: Request, agency_id: str = "", months: int = 12) -> Response:
        """An agency's figures as charts (SVG, no script) with their data tables. Agency
        officers see their own agency's; other officers pick an agency or the city."""
        c = await console(request)
        months = max(1, min(months, 36))
        params: dict[str, Any] = {"months": months}
        if agency_id and _CODE.match(agency_id) and c.role != "agency-officer":
            params["agency_id"] = agency_id
        error = None
        data: dict[str, Any] | None = None
        try:
            data = (await c.api("GET", "/v1/stats/dashboard", params=params)).json()
        except GatewayError as exc:
            error = _explain(exc, c.t)
        agencies = await agency_options(c) if c.role != "agency-officer" else []
        return await c.page(
            "dashboard.html",
            title=c.t["dashboard"],
            data=data,
            chart=_month_bars(data["completed_by_month"]) if data else [],
            agencies=agencies,
            selected=params.get("agency_id", ""),
            months=months,
            error=error,
        )

    @router.get("/triage")
    async def triage(request: Request, page: int = 1) -> Response:
        return await queue_page(request, QUEUES["triage"], page)

    @router.get("/agency")
    async def agency_queue(request: Request, page: int = 1) -> Response:
        return await queue_page(request, QUEUES["agency"], page)

    @router.get("/validation")
    async def validation_queue(request: Request, page: int = 1) -> Response:
        return await queue_page(request, QUEUES["validation"], page)

    # --- one report ------------------------------------------------------------------------

    async def optional_list(
        c: Console, path: str, model: Any, errors: list[str], key: str = "unavailable_list"
    ) -> list[Any]:
        try:
            return GatewayClient.parse_list(model, await c.api("GET", path))
        except GatewayError as exc:
            errors.append(c.t[key].format(detail=exc.detail))
            return []

    async def agency_options(c: Console) -> list[Agency]:
        """Agencies to dispatch to: the admin list when this role may read it, otherwise
        the agencies categories route to (the ticket-admin's practical choice)."""
        try:
            return GatewayClient.parse_list(Agency, await c.api("GET", "/v1/admin/agencies"))
        except GatewayError:
            pass
        try:
            cats = await gateway.categories()
        except GatewayFailure:
            return []
        ids = sorted({x.agency_id for x in cats if x.agency_id})
        return [Agency(agency_id=i, name=i) for i in ids]

    @router.get("/reports/{report_id}")
    async def report_page(request: Request, report_id: uuid.UUID) -> Response:
        c = await console(request)
        try:
            report = GatewayClient.parse(
                OfficerReport, await c.api("GET", f"/v1/reports/{report_id}")
            )
        except GatewayError as exc:
            return await c.page(
                "error.html",
                exc.status if exc.status in (403, 404) else 502,
                message=_explain(exc, c.t),
            )
        applying, changed = c.session.awaiting(str(report_id), report.status_version)
        if changed:
            await store.save(c.session)
        notes: list[str] = []
        draft = await store.take_draft(
            request.cookies.get(DRAFT_COOKIE_NAME),
            c.session.user_id,
            f"/console/reports/{report_id}/",
        )
        if draft is not None:
            notes.append(c.t["draft_restored"])
        duplicates: list[Duplicate] = []
        agencies: list[Agency] = []
        categories: list[Category] = []
        grants: list[Grant] = []
        officers: list[Officer] = []
        internal_notes = await optional_list(c, f"/v1/reports/{report_id}/notes", Note, notes)
        if c.role == "ticket-admin" and report.status in ("received", "coordination"):
            duplicates = await optional_list(
                c,
                f"/v1/reports/{report_id}/duplicates",
                Duplicate,
                notes,
                "duplicates_unavailable",
            )
            agencies = await agency_options(c)
            try:
                categories = await gateway.categories()
            except GatewayFailure:
                categories = []
        if c.role == "validator":
            grants = await optional_list(c, f"/v1/reports/{report_id}/photo-grants", Grant, notes)
        if c.role in ("validator", "agency-officer"):
            # The agency's officers: grantees for a validator, colleagues to assign for the
            # agency's own officer.
            officers = await optional_list(c, f"/v1/reports/{report_id}/officers", Officer, notes)
        conversation: Conversation | None = None
        try:
            conversation = GatewayClient.parse(
                Conversation, await c.api("GET", f"/v1/reports/{report_id}/questions")
            )
        except GatewayError as exc:
            notes.append(c.t["unavailable_list"].format(detail=exc.detail))
        assignment: Assignment | None = None
        if c.role == "agency-officer":
            try:
                assignment = GatewayClient.parse(
                    Assignment, await c.api("GET", f"/v1/reports/{report_id}/assignee")
                )
            except GatewayError as exc:
                notes.append(c.t["unavailable_list"].format(detail=exc.detail))
        if not categories and any(e.actor_role == "system" and e.reason for e in report.timeline):
            # A system reason names a category: say it by name (its code if this fails).
            try:
                categories = await gateway.categories()
            except GatewayFailure:
                categories = []
        response = await c.page(
            "report.html",
            report=report,
            console_map=console_map(),
            kept=lambda form, field_name: draft.value(form, field_name) if draft else "",
            applying=applying,
            duplicates=duplicates,
            agencies=agencies,
            categories=categories,
            grants=grants,
            officers=officers,
            internal_notes=internal_notes,
            conversation=conversation,
            assignment=assignment,
            officer_names={
                o.user_id: f"{o.display_name or o.username} ({o.username})" for o in officers
            },
            notes=notes,
            category_names={
                x.code: (x.name_en if c.lang == "en" else x.name_id) for x in categories
            },
        )
        if request.cookies.get(DRAFT_COOKIE_NAME):
            response.delete_cookie(DRAFT_COOKIE_NAME, path="/console")
        return response

    @router.get("/reports/{report_id}/photos/{sha256}")
    async def photo(request: Request, report_id: uuid.UUID, sha256: str) -> Response:
        """The photo bytes, fetched with the officer's token: the gateway decides (and logs)."""
        c = await console(request)
        if not _SHA256.match(sha256):
            return _no_store(Response("not found", status_code=404, media_type="text/plain"))
        try:
            r = await c.api("GET", f"/v1/reports/{report_id}/photos/{sha256}")
        except GatewayError as exc:
            return _no_store(
                Response(_explain(exc, c.t), status_code=exc.status, media_type="text/plain")
            )
        media_type = r.headers.get("content-type", "")
        if not media_type.startswith("image/"):
            media_type = "application/octet-stream"
        response = Response(r.content, media_type=media_type)
        response.headers["Cache-Control"] = "private, no-store"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    @router.post("/reports/{report_id}/actions/{name}")
    async def act(request: Request, report_id: uuid.UUID, name: str) -> Response:
        c, form = await console_for_form(request, report_id)
        here = f"/console/reports/{report_id}"
        action = ACTIONS.get(name)
        if action is None:
            return await c.page("error.html", 404, message=c.t["err_not_found"].format(detail=name))
        c.require(action.role)
        body = action.body(form)
        if isinstance(body, str):
            return await c.flash_and_go("error", c.t[body], here)
        try:
            r = await c.api(
                "POST",
                f"/v1/reports/{report_id}/{action.gateway_path}",
                json={**body, **_version(form)},
            )
        except GatewayError as exc:
            return await c.flash_and_go("error", _explain(exc, c.t), here)
        except LoginRequired as exc:  # the refresh was refused: signed out meanwhile
            raise await cut_off(exc, c.session.session_id, request, report_id, form) from None
        result = GatewayClient.parse(ActionResult, r)
        c.session.expect(str(report_id), result.version)
        log.info("console action", report_id=str(report_id), action=name, role=c.role)
        return await c.flash_and_go(
            "success",
            c.t["action_ok"].format(status=result.status_label),
            ROLE_HOME[c.role] if action.hands_over else here,
        )

    @router.post("/reports/{report_id}/follow-ups")
    async def follow_up(request: Request, report_id: uuid.UUID) -> Response:
        c, form = await console_for_form(request, report_id)
        c.require("agency-officer")
        here = f"/console/reports/{report_id}"
        note = _text(form, "note")
        if len(note) < 3:
            return await c.flash_and_go("error", c.t["note_required_msg"], here)
        files: list[tuple[str, tuple[str, bytes, str]]] = []
        for item in form.getlist("photos"):
            if not isinstance(item, UploadFile) or not item.filename:
                continue  # an empty file input still sends a nameless part
            data = await item.read(settings.console_max_photo_bytes + 1)
            if len(data) > settings.console_max_photo_bytes:
                return await c.flash_and_go(
                    "error", c.t["photo_too_big"].format(name=item.filename[:80]), here
                )
            if data:
                files.append(
                    (
                        "photos",
                        (
                            item.filename[:200],
                            data,
                            item.content_type or "application/octet-stream",
                        ),
                    )
                )
        data_fields: dict[str, str] = {"note": note}
        version = _version(form)
        if version:
            data_fields["expected_version"] = str(version["expected_version"])
        try:
            r = await c.api(
                "POST",
                f"/v1/reports/{report_id}/follow-ups",
                data=data_fields,
                files=files or None,
            )
        except GatewayError as exc:
            return await c.flash_and_go("error", _explain(exc, c.t), here)
        except LoginRequired as exc:
            raise await cut_off(exc, c.session.session_id, request, report_id, form) from None
        result = GatewayClient.parse(ActionResult, r)
        c.session.expect(str(report_id), result.version)
        log.info("console follow-up", report_id=str(report_id), photos=len(files))
        return await c.flash_and_go(
            "success", c.t["action_ok"].format(status=result.status_label), here
        )

    @router.post("/reports/{report_id}/grants")
    async def grant(request: Request, report_id: uuid.UUID) -> Response:
        c = await console(request)
        form = await c.checked_form()
        c.require("validator")
        here = f"/console/reports/{report_id}"
        # Picked from the agency's officers, or typed for anyone else; never both at odds.
        picked, typed = _text(form, "officer"), _text(form, "grantee")
        if picked and typed and picked != typed:
            return await c.flash_and_go("error", c.t["grant_choose_one"], here)
        grantee = typed or picked
        hours = _text(form, "hours")
        if not grantee or not hours.isdigit() or int(hours) < 1:
            return await c.flash_and_go("error", c.t["grant_required_msg"], here)
        body: dict[str, Any] = {"grantee": grantee, "hours": int(hours)}
        if reason := _text(form, "reason"):
            body["reason"] = reason
        try:
            await c.api("POST", f"/v1/reports/{report_id}/photo-grants", json=body)
        except GatewayError as exc:
            return await c.flash_and_go("error", _explain(exc, c.t), here)
        log.info("console photo grant", report_id=str(report_id))
        return await c.flash_and_go("success", c.t["grant_ok"].format(grantee=grantee), here)

    @router.post("/reports/{report_id}/reveal")
    async def reveal(request: Request, report_id: uuid.UUID) -> Response:
        """An administrator opens the reporter's identity, with a reason (SPEC Revision 2).
        Shown on this one response only: never stored in the session, never logged here
        (the gateway's access log keeps who, when and why)."""
        c = await console(request)
        form = await c.checked_form()
        c.require("administrator")
        here = f"/console/reports/{report_id}"
        reason = _text(form, "reason")
        if len(reason) < 10:
            return await c.flash_and_go("error", c.t["reveal_reason_msg"], here)
        try:
            r = await c.api(
                "GET", f"/v1/reports/{report_id}/reporter-identity", params={"reason": reason}
            )
        except GatewayError as exc:
            return await c.flash_and_go("error", _explain(exc, c.t), here)
        identity = r.json()
        log.info("console identity revealed", report_id=str(report_id))
        return await c.page(
            "reveal.html",
            report_id=report_id,
            identity={k: identity.get(k) for k in ("name", "contact", "handle")},
            reason=reason,
        )

    @router.post("/reports/{report_id}/assignee")
    async def assign(request: Request, report_id: uuid.UUID) -> Response:
        """Assign the report to a colleague in the agency (or oneself), or clear it."""
        c = await console(request)
        form = await c.checked_form()
        c.require("agency-officer")
        here = f"/console/reports/{report_id}"
        picked = _text(form, "assignee")
        try:
            r = await c.api(
                "PUT", f"/v1/reports/{report_id}/assignee", json={"assignee": picked or None}
            )
        except GatewayError as exc:
            return await c.flash_and_go("error", _explain(exc, c.t), here)
        done = GatewayClient.parse(Assignment, r)
        log.info("console assignment", report_id=str(report_id), cleared=not picked)
        text = (
            c.t["assigned_ok"].format(name=done.assignee_name or done.assignee_id)
            if done.assignee_id
            else c.t["unassigned_ok"]
        )
        return await c.flash_and_go("success", text, here)

    @router.post("/reports/{report_id}/notes")
    async def add_note(request: Request, report_id: uuid.UUID) -> Response:
        """An internal note (officers only; the gateway scrubs the reporter's values)."""
        c, form = await console_for_form(request, report_id)
        here = f"/console/reports/{report_id}"
        note = _text(form, "note")
        if len(note) < 3:
            return await c.flash_and_go("error", c.t["note_required_msg"], here)
        try:
            await c.api("POST", f"/v1/reports/{report_id}/notes", json={"text": note})
        except GatewayError as exc:
            return await c.flash_and_go("error", _explain(exc, c.t), here)
        except LoginRequired as exc:
            raise await cut_off(exc, c.session.session_id, request, report_id, form) from None
        log.info("console internal note", report_id=str(report_id), role=c.role)
        return await c.flash_and_go("success", c.t["note_ok"], f"{here}#internal-notes")

    @router.post("/reports/{report_id}/questions")
    async def ask_reporter(request: Request, report_id: uuid.UUID) -> Response:
        """Ask the reporter: the notifier delivers the question on their own channel; the
        answer comes back onto the report. Nobody sees a contact."""
        c, form = await console_for_form(request, report_id)
        here = f"/console/reports/{report_id}"
        question = _text(form, "question")
        if len(question) < 10:
            return await c.flash_and_go(
                "error", c.t["question_required_msg"], f"{here}#conversation"
            )
        try:
            await c.api("POST", f"/v1/reports/{report_id}/questions", json={"text": question})
        except GatewayError as exc:
            message = c.t["question_refused"] if exc.status == 409 else _explain(exc, c.t)
            return await c.flash_and_go("error", message, f"{here}#conversation")
        except LoginRequired as exc:
            raise await cut_off(exc, c.session.session_id, request, report_id, form) from None
        log.info("console question to the reporter", report_id=str(report_id), role=c.role)
        return await c.flash_and_go("success", c.t["question_ok"], f"{here}#conversation")

    @router.post("/reports/{report_id}/photos/open")
    async def open_photos(request: Request, report_id: uuid.UUID) -> Response:
        """The validator opens a private report's citizen photos for themselves: an explicit
        action with a reason (audited by the gateway), not a grant to oneself."""
        c = await console(request)
        form = await c.checked_form()
        c.require("validator")
        here = f"/console/reports/{report_id}"
        reason = _text(form, "reason")
        if len(reason) < 10:
            return await c.flash_and_go("error", c.t["open_photos_reason_msg"], here)
        try:
            await c.api("POST", f"/v1/reports/{report_id}/photos/open", json={"reason": reason})
        except GatewayError as exc:
            return await c.flash_and_go("error", _explain(exc, c.t), here)
        log.info("console photos opened", report_id=str(report_id))
        return await c.flash_and_go("success", c.t["open_photos_ok"], here)

    @router.post("/reports/{report_id}/grants/{grant_id}/revoke")
    async def revoke(request: Request, report_id: uuid.UUID, grant_id: uuid.UUID) -> Response:
        c = await console(request)
        await c.checked_form()
        c.require("validator")
        here = f"/console/reports/{report_id}"
        try:
            await c.api("DELETE", f"/v1/reports/{report_id}/photo-grants/{grant_id}")
        except GatewayError as exc:
            return await c.flash_and_go("error", _explain(exc, c.t), here)
        log.info("console photo revoke", report_id=str(report_id))
        return await c.flash_and_go("success", c.t["revoke_ok"], here)

    @router.post("/reports/{report_id}/moderation")
    async def moderate(request: Request, report_id: uuid.UUID) -> Response:
        """A ticket-admin hides a public report from the portal, shows it again, or corrects
        its public title and text (SPEC Revision 2). The gateway audits it and tells the
        portal's read model through the public topic."""
        c = await console(request)
        form = await c.checked_form()
        c.require("ticket-admin")
        here = f"/console/reports/{report_id}"
        op = _text(form, "op")
        body: dict[str, Any]
        if op in ("hide", "show"):
            body = {"hidden": op == "hide"}
            done = "moderation_hidden_ok" if op == "hide" else "moderation_shown_ok"
        elif op == "correct":
            text = _text(form, "text")
            if not text:
                return await c.flash_and_go("error", c.t["moderation_text_required_msg"], here)
            body = {"title": _text(form, "title") or None, "text": text}
            done = "moderation_corrected_ok"
        else:
            return await c.page("error.html", 404, message=c.t["err_not_found"].format(detail=op))
        try:
            await c.api("POST", f"/v1/reports/{report_id}/moderation", json=body)
        except GatewayError as exc:
            return await c.flash_and_go("error", _explain(exc, c.t), here)
        log.info("console moderation", report_id=str(report_id), op=op)
        return await c.flash_and_go("success", c.t[done], here)

    # --- administration --------------------------------------------------------------------

    async def admin(request: Request) -> Console:
        c = await console(request)
        c.require("administrator")
        return c

    @router.get("/admin")
    async def admin_home(request: Request) -> Response:
        c = await admin(request)
        return await c.page("admin_home.html")

    @router.get("/admin/users")
    async def users(request: Request) -> Response:
        c = await admin(request)
        notes: list[str] = []
        listed: list[AdminUser] = await optional_list(c, "/v1/admin/users", AdminUser, notes)
        agencies: list[Agency] = await optional_list(c, "/v1/admin/agencies", Agency, notes)
        return await c.page(
            "admin_users.html", users=listed, agencies=agencies, notes=notes, roles=STAFF_ROLES
        )

    @router.post("/admin/users")
    async def create_user(request: Request) -> Response:
        c = await admin(request)
        form = await c.checked_form()
        body = {
            "username": _text(form, "username"),
            "password": form.get("password") if isinstance(form.get("password"), str) else "",
            "role": _text(form, "role"),
            "agency_id": _text(form, "agency_id") or None,
            "display_name": _text(form, "display_name") or None,
        }
        try:
            await c.api("POST", "/v1/admin/users", json=body)
        except GatewayError as exc:
            return await c.flash_and_go("error", _explain(exc, c.t), "/console/admin/users")
        return await c.flash_and_go(
            "success", c.t["user_created"].format(username=body["username"]), "/console/admin/users"
        )

    @router.post("/admin/users/{user_id}/active")
    async def set_active(request: Request, user_id: str) -> Response:
        c = await admin(request)
        form = await c.checked_form()
        active = _text(form, "active") == "true"
        try:
            await c.api(
                "PATCH", f"/v1/admin/users/{quote(user_id, safe='')}", json={"active": active}
            )
        except GatewayError as exc:
            return await c.flash_and_go("error", _explain(exc, c.t), "/console/admin/users")
        return await c.flash_and_go("success", c.t["user_updated"], "/console/admin/users")

    @router.get("/admin/agencies")
    async def agencies_page(request: Request) -> Response:
        c = await admin(request)
        notes: list[str] = []
        listed = await optional_list(c, "/v1/admin/agencies", Agency, notes)
        return await c.page("admin_agencies.html", agencies=listed, notes=notes)

    @router.post("/admin/agencies")
    async def create_agency(request: Request) -> Response:
        c = await admin(request)
        form = await c.checked_form()
        agency_id = _text(form, "agency_id")
        body = {"agency_id": agency_id, "name": _text(form, "name")}
        try:
            await c.api("POST", "/v1/admin/agencies", json=body)
        except GatewayError as exc:
            return await c.flash_and_go("error", _explain(exc, c.t), "/console/admin/agencies")
        return await c.flash_and_go(
            "success", c.t["agency_created"].format(agency_id=agency_id), "/console/admin/agencies"
        )

    @router.get("/admin/categories")
    async def categories_page(request: Request) -> Response:
        c = await admin(request)
        notes: list[str] = []
        listed = await optional_list(c, "/v1/categories", Category, notes)
        agencies = await optional_list(c, "/v1/admin/agencies", Agency, notes)
        return await c.page(
            "admin_categories.html", categories=listed, agencies=agencies, notes=notes
        )

    @router.post("/admin/categories")
    async def save_category(request: Request) -> Response:
        c = await admin(request)
        form = await c.checked_form()
        back = "/console/admin/categories"
        code = _text(form, "code")
        if not _CODE.match(code):
            return await c.flash_and_go("error", c.t["category_code_msg"], back)
        body = {
            "name_id": _text(form, "name_id"),
            "name_en": _text(form, "name_en"),
            "agency_id": _text(form, "agency_id") or None,
        }
        try:
            await c.api("PUT", f"/v1/admin/categories/{code}", json=body)
        except GatewayError as exc:
            return await c.flash_and_go("error", _explain(exc, c.t), back)
        return await c.flash_and_go("success", c.t["category_saved"].format(code=code), back)

    @router.post("/admin/categories/{code}/delete")
    async def delete_category(request: Request, code: str) -> Response:
        c = await admin(request)
        await c.checked_form()
        back = "/console/admin/categories"
        if not _CODE.match(code):
            return await c.flash_and_go("error", c.t["category_code_msg"], back)
        try:
            await c.api("DELETE", f"/v1/admin/categories/{code}")
        except GatewayError as exc:
            return await c.flash_and_go("error", _explain(exc, c.t), back)
        return await c.flash_and_go("success", c.t["category_deleted"].format(code=code), back)

    @router.get("/admin/access-log")
    async def access_log(
        request: Request, report_id: str = "", actor: str = "", page: int = 1
    ) -> Response:
        c = await admin(request)
        page = max(1, min(page, 20))
        # Newest first, filtered by the gateway (report and reader); pages by `limit`: load
        # up to this page, show its slice.
        params: dict[str, Any] = {"limit": min(1000, page * PAGE_SIZE), "newest_first": "true"}
        notes: list[str] = []
        target = _uuid(report_id.strip()) if report_id.strip() else None
        if report_id.strip() and target is None:
            notes.append(c.t["err_invalid"].format(detail=c.t["report_id"]))
        if target is not None:
            params["report_id"] = str(target)
        users: list[AdminUser] = await optional_list(c, "/v1/admin/users", AdminUser, notes)
        by_id = {u.user_id: u for u in users}
        wanted = actor.strip()
        if wanted:
            # Administrators know officers by username or name, the log by internal id.
            found = by_id.get(wanted) or next(
                (
                    u
                    for u in users
                    if wanted.casefold()
                    in (u.username.casefold(), (u.display_name or "").casefold())
                ),
                None,
            )
            if found is None:
                notes.append(c.t["actor_unknown"].format(actor=wanted))
            params["subject"] = found.user_id if found is not None else wanted
        entries: list[AccessLogEntry] = []
        try:
            r = await c.api("GET", "/v1/audit/access-log", params=params)
            entries = GatewayClient.parse_list(AccessLogEntry, r)
        except GatewayError as exc:
            notes.append(_explain(exc, c.t))
        loaded = len(entries)
        shown = entries[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
        query = {"report_id": report_id.strip(), "actor": wanted}
        return await c.page(
            "access_log.html",
            entries=shown,
            readers=by_id,
            notes=notes,
            report_id=report_id.strip(),
            actor=wanted,
            page=page,
            has_next=loaded == params["limit"] and page < 20,
            page_link=lambda p: (
                "/console/admin/access-log?"
                + urlencode({**{k: v for k, v in query.items() if v}, "page": p})
            ),
        )

    return router


# --- wiring ------------------------------------------------------------------------------------


def install_console(
    app: FastAPI,
    runtime: ServiceRuntime,
    settings: Settings,
    transport: httpx.AsyncBaseTransport | None = None,
) -> GatewayClient:
    """Mount the console on the portal app: routes, error pages, no-store headers, and the
    gateway client opened and closed with the app's lifespan. `transport` lets tests put
    an in-process gateway behind the client."""
    gateway = GatewayClient(settings.gateway_url, settings.gateway_timeout_s, transport)
    store = SessionStore(
        lambda: runtime.redis, settings.redis_prefix, settings.console_session_ttl_s
    )
    app.state.console_gateway = gateway
    names = PublicGateway(settings.gateway_url, settings.gateway_timeout_s, transport)
    app.include_router(console_router(store, gateway, settings, names))

    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        query = {"reason": exc.reason} | ({"next": exc.next_url} if exc.next_url else {})
        response = _redirect(f"/console/login?{urlencode(query)}")
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
        response = _redirect("/console/login?reason=expired")
        response.delete_cookie(COOKIE_NAME, path="/console")
        return response

    @app.exception_handler(WrongRole)
    async def wrong_role(request: Request, exc: WrongRole) -> Response:
        t = console_strings(_language(request))
        return _render_bare(request, "error.html", 403, message=t["wrong_role"], title=t["error"])

    @app.exception_handler(CsrfFailed)
    async def csrf_failed(request: Request, exc: CsrfFailed) -> Response:
        t = console_strings(_language(request))
        return _render_bare(request, "error.html", 403, message=t["csrf_failed"], title=t["error"])

    @app.exception_handler(GatewayUnavailable)
    async def unavailable(request: Request, exc: GatewayUnavailable) -> Response:
        t = console_strings(_language(request))
        return _render_bare(request, "error.html", 503, message=_explain(exc, t), title=t["error"])

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
