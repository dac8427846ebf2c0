"""Administrators' pages: users, agencies, categories (with their routing) and the access
log. Every page and form is for the administrator role only (403 page otherwise); the
gateway checks the role again on every call."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

import aduan_areas
from aduan_portal.console.core import (
    CODE,
    PAGE_SIZE,
    STAFF_ROLES,
    explain,
    optional_list,
    signed_in,
    text_field,
    uuid_or_none,
)
from aduan_portal.console.units import users_units
from aduan_portal.gateway_client import (
    AccessLogEntry,
    AdminUser,
    Agency,
    Category,
    GatewayClient,
    GatewayError,
)
from aduan_portal.rendering import area_choices

__all__ = ["ADMIN", "router"]

ADMIN = "administrator"

router = APIRouter(prefix="/console", include_in_schema=False)


@router.get("/admin")
async def admin_home(request: Request) -> Response:
    c = await signed_in(request, ADMIN)
    return await c.page("admin_home.html")


# --- users ---------------------------------------------------------------------------------


@router.get("/admin/users")
async def users(request: Request) -> Response:
    c = await signed_in(request, ADMIN)
    notes: list[str] = []
    listed: list[AdminUser] = await optional_list(c, "/v1/admin/users", AdminUser, notes)
    agencies: list[Agency] = await optional_list(c, "/v1/admin/agencies", Agency, notes)
    # Units (issue 19): each officer's unit and "unit head" are set on this page.
    units = await users_units(c, notes)
    return await c.page(
        "admin_users.html",
        users=listed,
        agencies=agencies,
        notes=notes,
        roles=STAFF_ROLES,
        unit_rows=units,
        unit_names={r.unit_id: r.name for r in units},
    )


@router.post("/admin/users")
async def create_user(request: Request) -> Response:
    c = await signed_in(request, ADMIN)
    form = await c.checked_form()
    body = {
        "username": text_field(form, "username"),
        "password": form.get("password") if isinstance(form.get("password"), str) else "",
        "role": text_field(form, "role"),
        "agency_id": text_field(form, "agency_id") or None,
        "display_name": text_field(form, "display_name") or None,
    }
    try:
        await c.api("POST", "/v1/admin/users", json=body)
    except GatewayError as exc:
        return await c.flash_and_go("error", explain(exc, c.t), "/console/admin/users")
    return await c.flash_and_go(
        "success", c.t["user_created"].format(username=body["username"]), "/console/admin/users"
    )


@router.post("/admin/users/{user_id}/active")
async def set_active(request: Request, user_id: str) -> Response:
    c = await signed_in(request, ADMIN)
    form = await c.checked_form()
    active = text_field(form, "active") == "true"
    try:
        await c.api("PATCH", f"/v1/admin/users/{quote(user_id, safe='')}", json={"active": active})
    except GatewayError as exc:
        return await c.flash_and_go("error", explain(exc, c.t), "/console/admin/users")
    return await c.flash_and_go("success", c.t["user_updated"], "/console/admin/users")


# --- agencies ------------------------------------------------------------------------------


@router.get("/admin/agencies")
async def agencies_page(request: Request) -> Response:
    c = await signed_in(request, ADMIN)
    notes: list[str] = []
    listed = await optional_list(c, "/v1/admin/agencies", Agency, notes)
    return await c.page("admin_agencies.html", agencies=listed, notes=notes)


@router.post("/admin/agencies")
async def create_agency(request: Request) -> Response:
    c = await signed_in(request, ADMIN)
    form = await c.checked_form()
    agency_id = text_field(form, "agency_id")
    body = {"agency_id": agency_id, "name": text_field(form, "name")}
    try:
        await c.api("POST", "/v1/admin/agencies", json=body)
    except GatewayError as exc:
        return await c.flash_and_go("error", explain(exc, c.t), "/console/admin/agencies")
    return await c.flash_and_go(
        "success", c.t["agency_created"].format(agency_id=agency_id), "/console/admin/agencies"
    )


# --- categories ----------------------------------------------------------------------------


@router.get("/admin/categories")
async def categories_page(request: Request) -> Response:
    c = await signed_in(request, ADMIN)
    notes: list[str] = []
    listed = await optional_list(c, "/v1/categories", Category, notes)
    agencies = await optional_list(c, "/v1/admin/agencies", Agency, notes)
    # Routes by place go to a unit (issue 19); without units the agency select stays.
    units = await users_units(c, [])
    return await c.page(
        "admin_categories.html",
        categories=listed,
        agencies=agencies,
        notes=notes,
        area_choices=area_choices(),
        area_label=_area_label,
        unit_rows=units,
        unit_names={r.unit_id: r.name for r in units},
    )


def _area_label(code: str) -> str:
    area = aduan_areas.get(code)
    return aduan_areas.label(area) if area is not None else code


@router.post("/admin/categories")
async def save_category(request: Request) -> Response:
    """Create or change a category. The gateway publishes it to intake, the portal and
    workflow; `active` "0" keeps a retired category retired, "1" (a new category, or the
    "take new reports again" button) makes it active."""
    c = await signed_in(request, ADMIN)
    form = await c.checked_form()
    back = "/console/admin/categories"
    code = text_field(form, "code")
    if not CODE.match(code):
        return await c.flash_and_go("error", c.t["category_code_msg"], back)
    keywords = [w.strip() for w in text_field(form, "keywords").split(",") if w.strip()]
    body = {
        "name_id": text_field(form, "name_id"),
        "name_en": text_field(form, "name_en"),
        "description_id": text_field(form, "description_id"),
        "description_en": text_field(form, "description_en"),
        "keywords": keywords,
        "group": text_field(form, "group") or None,
        "agency_id": text_field(form, "agency_id") or None,
        "active": text_field(form, "active") != "0",
    }
    try:
        await c.api("PUT", f"/v1/admin/categories/{code}", json=body)
    except GatewayError as exc:
        return await c.flash_and_go("error", explain(exc, c.t), back)
    return await c.flash_and_go("success", c.t["category_saved"].format(code=code), back)


@router.post("/admin/categories/{code}/retire")
async def retire_category(request: Request, code: str) -> Response:
    """Retire (never delete): no new reports in it, old reports keep its name."""
    c = await signed_in(request, ADMIN)
    await c.checked_form()
    back = "/console/admin/categories"
    if not CODE.match(code):
        return await c.flash_and_go("error", c.t["category_code_msg"], back)
    try:
        await c.api("DELETE", f"/v1/admin/categories/{code}")
    except GatewayError as exc:
        return await c.flash_and_go("error", explain(exc, c.t), back)
    return await c.flash_and_go("success", c.t["category_retired"].format(code=code), back)


@router.post("/admin/categories/{code}/routes")
async def save_area_route(request: Request, code: str) -> Response:
    """Add or replace one route by place of a category (issue 19): the area typed as a code
    (any kelurahan too) or picked from Jakarta's kota and kecamatan; the gateway checks the
    code against the Kemendagri list and the agency."""
    c = await signed_in(request, ADMIN)
    form = await c.checked_form()
    back = f"/console/admin/categories#category-{code}"
    if not CODE.match(code):
        return await c.flash_and_go("error", c.t["category_code_msg"], back)
    area = text_field(form, "area_code") or text_field(form, "area_pick")
    unit = text_field(form, "unit_id")
    agency = text_field(form, "agency_id")
    if not area or not (unit or agency):
        return await c.flash_and_go("error", c.t["area_route_missing"], back)
    target = {"unit_id": unit} if unit else {"agency_id": agency}
    try:
        await c.api("PUT", f"/v1/admin/routing-rules/{code}/{quote(area, safe='')}", json=target)
    except GatewayError as exc:
        return await c.flash_and_go("error", explain(exc, c.t), back)
    return await c.flash_and_go(
        "success", c.t["area_route_saved"].format(code=code, area=_area_label(area)), back
    )


@router.post("/admin/categories/{code}/routes/{area}/remove")
async def remove_area_route(request: Request, code: str, area: str) -> Response:
    """Remove one route by place: that area's reports fall back to a wider route, else the
    category's agency."""
    c = await signed_in(request, ADMIN)
    await c.checked_form()
    back = f"/console/admin/categories#category-{code}"
    if not CODE.match(code):
        return await c.flash_and_go("error", c.t["category_code_msg"], back)
    try:
        await c.api("DELETE", f"/v1/admin/routing-rules/{code}/{quote(area, safe='')}")
    except GatewayError as exc:
        return await c.flash_and_go("error", explain(exc, c.t), back)
    return await c.flash_and_go(
        "success", c.t["area_route_removed"].format(code=code, area=_area_label(area)), back
    )


# --- the access log ------------------------------------------------------------------------


@router.get("/admin/access-log")
async def access_log(
    request: Request, report_id: str = "", actor: str = "", page: int = 1
) -> Response:
    c = await signed_in(request, ADMIN)
    page = max(1, min(page, 20))
    # Newest first, filtered by the gateway (report and reader); pages by `limit`: load
    # up to this page, show its slice.
    params: dict[str, Any] = {"limit": min(1000, page * PAGE_SIZE), "newest_first": "true"}
    notes: list[str] = []
    target = uuid_or_none(report_id.strip()) if report_id.strip() else None
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
                if wanted.casefold() in (u.username.casefold(), (u.display_name or "").casefold())
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
        notes.append(explain(exc, c.t))
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
