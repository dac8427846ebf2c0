"""What every console page shares: the per-request `Console` (the officer's session and
gateway calls with their token), the console's state on the app, rendering, form helpers,
and the exceptions the app turns into a login redirect or an error page.

The route modules (`signin`, `queues`, `report`, `dashboard`, `admin`, `replies`) hold
module-level routers and reach the shared state through `state_of(request)`: the state
is put on `app.state` by `install_console`, so nothing here is built at import.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import httpx
from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.datastructures import FormData

from aduan_contracts.enums import ReportStatus
from aduan_kit.redaction import HIDDEN
from aduan_portal.config import Settings
from aduan_portal.console.i18n import (
    N_,
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
    ConsoleSession,
    Flash,
    SessionStore,
    csrf_matches,
)
from aduan_portal.domain.i18n import CITY_ZONE
from aduan_portal.gateway_client import (
    Agency,
    GatewayClient,
    GatewayError,
    GatewayFailure,
    GatewayUnauthorized,
    GatewayUnavailable,
)
from aduan_portal.public_gateway import PublicGateway
from aduan_portal.rendering import MapConfig, channel_name, map_config

__all__ = [
    "CODE",
    "FULL_ACCESS",
    "LANG_COOKIE",
    "PACKAGE_DIR",
    "PAGE_SIZE",
    "ROLE_HOME",
    "STAFF_ROLES",
    "WIB",
    "Console",
    "ConsoleState",
    "CsrfFailed",
    "LoginRequired",
    "WrongRole",
    "agency_options",
    "console_map",
    "explain",
    "language",
    "no_store",
    "optional_list",
    "redirect",
    "render_bare",
    "render_console",
    "safe_next",
    "signed_in",
    "state_of",
    "status_label",
    "text_field",
    "uuid_or_none",
    "version_field",
    "when",
]

PACKAGE_DIR = Path(__file__).parent.parent  # aduan_portal/: templates/ and static/
LANG_COOKIE = "aduan_console_lang"
# Refresh the gateway access token this long before it expires.
REFRESH_MARGIN_S = 30
PAGE_SIZE = 50
WIB = CITY_ZONE  # the city's clock: one definition for the console and the public pages
STAFF_ROLES = ("ticket-admin", "agency-officer", "validator", "administrator")
FULL_ACCESS = ("ticket-admin", "validator", "administrator")

# Category and agency codes (what may go into a gateway path or query).
CODE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")

ROLE_HOME = {
    "ticket-admin": "/console/triage",
    "agency-officer": "/console/agency",
    "validator": "/console/validation",
    "administrator": "/console/admin",
}


@dataclass(frozen=True)
class ConsoleState:
    """What the console's routes share for the app's lifetime (on `app.state.console`)."""

    store: SessionStore
    gateway: GatewayClient
    settings: Settings
    names: PublicGateway | None = None


def state_of(request: Request) -> ConsoleState:
    state: ConsoleState = request.app.state.console
    return state


class LoginRequired(Exception):
    """Sign in (again). `next`: where to go after it; `draft`: the id of the text kept from
    a form whose action did not happen."""

    def __init__(self, reason: str, next_url: str | None = None, draft: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.next_url = next_url
        self.draft = draft


class WrongRole(Exception):
    pass


class CsrfFailed(Exception):
    pass


# --- rendering ------------------------------------------------------------------------------


def when(value: datetime | None) -> str:
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
    env.filters["when"] = when
    return env


def language(request: Request) -> ConsoleLanguage:
    return "en" if request.cookies.get(LANG_COOKIE) == "en" else "id"


def no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    response.headers["Pragma"] = "no-cache"
    return response


def redirect(url: str) -> RedirectResponse:
    response = RedirectResponse(url, status_code=303)
    no_store(response)
    return response


def safe_next(value: str | None) -> str:
    # Only console paths: an open redirect would let a link send officers anywhere.
    if value and value.startswith("/console") and "//" not in value and "\\" not in value:
        return value
    return "/console/"


def explain(err: GatewayError, t: dict[str, str]) -> str:
    """The gateway's reason verbatim, in a polite sentence chosen by the status."""
    by_status = {
        409: N_("err_conflict"),
        403: N_("err_forbidden"),
        404: N_("err_not_found"),
        422: N_("err_invalid"),
    }
    unavailable = isinstance(err, GatewayUnavailable)
    key = N_("err_unavailable") if unavailable else by_status.get(err.status)
    if key == "err_conflict":
        said = refusal_text(err.detail, "en" if t["lang_code"] == "en" else "id")
        if said is not None:
            return said
    return t[key or N_("err_refused")].format(detail=err.detail)


def status_label(status: str, lang: ConsoleLanguage) -> str:
    try:
        s = ReportStatus(status)
    except ValueError:
        return status
    return s.label_en if lang == "en" else s.label_id


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
    context.setdefault("reply_templates", {})  # kind -> templates offered on a report
    # Units (issue 19): names by id, the filter's choices, the area list.
    context.setdefault("unit_names", {})
    context.setdefault("unit_choices", [])
    context.setdefault("area_choices", ())
    context.setdefault("escalation_view", False)
    context.setdefault("routing_text", lambda reason: str(reason))
    agencies: dict[str, str] = context.pop("agency_names", None) or {}
    # A unit is an agency (issue 19): the unit list a page read is fresher than the cached
    # agency names (a unit created a minute ago is named, not shown as its code).
    agencies = {**agencies, **(context.get("unit_names") or {})}
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
            confidentiality=lambda p: strings[
                N_("label_public") if p == "public" else N_("label_private")
            ],
            # The scrub's marker in officer text, in the console's language.
            marks=lambda text: text.replace(HIDDEN, strings["hidden_marker"]) if text else text,
            status_name=lambda st: status_label(st, lang),
            category_choices=sorted(names.items(), key=lambda kv: kv[1].casefold()),
            csrf=session.csrf_token if session else context.pop("csrf", ""),
            flashes=flashes or [],
            nav=nav or [],
            here=here,
            **context,
        )
    )


def render_bare(
    request: Request, template: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """A page without a session (login, errors before sign-in)."""
    html = render_console(template, language(request), None, request.url.path, **context)
    response = HTMLResponse(html, status_code=status_code)
    no_store(response)
    return response


def console_map(settings: Settings) -> MapConfig | None:
    found = map_config(settings)  # the public pages' settings and Leaflet check
    return found if found.available else None


# --- forms ---------------------------------------------------------------------------------


def text_field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value.strip() if isinstance(value, str) else ""


def version_field(form: FormData) -> dict[str, int]:
    raw = text_field(form, "expected_version")
    return {"expected_version": int(raw)} if raw.isdigit() and int(raw) >= 1 else {}


def uuid_or_none(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


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
        self.lang = language(request)
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
        return redirect(url)

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
                ("nav-units", "/console/admin/units", self.t["units"]),
                ("nav-categories", "/console/admin/categories", self.t["categories"]),
                ("nav-access-log", "/console/admin/access-log", self.t["access_log"]),
                ("nav-templates", "/console/admin/templates", self.t["reply_templates"]),
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
        return no_store(HTMLResponse(html, status_code=status_code))  # type: ignore[return-value]


async def signed_in(request: Request, *roles: str) -> Console:
    """The signed-in officer's console (sign in first when there is no session); with
    `roles`, only for those (403 page otherwise)."""
    state = state_of(request)
    sid = request.cookies.get(COOKIE_NAME)
    session = await state.store.load(sid)
    if session is None:
        # Back to the page asked for once signed in (a link to a report in an e-mail, a
        # bookmark), not to the queue; a form's action has its own way back
        # (report.`_console_for_form`). `safe_next` keeps it a console path.
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        wanted = here if request.method == "GET" and here.rstrip("/") != "/console" else None
        raise LoginRequired("expired" if sid else "required", wanted)
    c = Console(request, session, state.store, state.gateway, state.names)
    if roles:
        c.require(*roles)
    return c


async def optional_list(
    c: Console, path: str, model: Any, errors: list[str], key: str = N_("unavailable_list")
) -> list[Any]:
    """A list the page can do without: when the gateway refuses, a note instead."""
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
        cats = await c.gateway.categories()
    except GatewayFailure:
        return []
    ids = sorted({x.agency_id for x in cats if x.agency_id})
    return [Agency(agency_id=i, name=i) for i in ids]
