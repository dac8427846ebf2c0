"""Agency units (issue 19, routing by place): the administrators' "Units" page (the unit
tree, create a unit, change its parent and areas), a user's unit and "unit head" flag, and
the unit choices the queues and the dashboard offer (the units in the officer's scope, as
the gateway lists them: their own unit, and a head's sub-units).

Units are data kept by the gateway (`/v1/admin/units`); the console never decides who sees
what: a unit filter outside the officer's scope is refused by the gateway, not here."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

import aduan_areas
from aduan_portal.console.core import Console, explain, optional_list, signed_in, text_field
from aduan_portal.console.i18n import N_
from aduan_portal.gateway_client import (
    Agency,
    GatewayClient,
    GatewayError,
    GatewayUnavailable,
    Unit,
)

__all__ = [
    "UNIT_ID",
    "UNIT_KINDS",
    "UnitRow",
    "area_label",
    "parse_area_codes",
    "router",
    "routing_reason_text",
    "unit_area_choices",
    "unit_options",
    "unit_tree",
    "users_units",
]

ADMIN = "administrator"
BACK = "/console/admin/units"
# What a unit is, from the province down (the gateway's kinds; names in the catalogues as
# unit_kind_<kind>).
UNIT_KINDS = (
    N_("unit_kind_dinas"),
    N_("unit_kind_suku-dinas"),
    N_("unit_kind_kecamatan"),
    N_("unit_kind_kelurahan"),
    N_("unit_kind_other"),
)
KIND_CODES = tuple(k.removeprefix("unit_kind_") for k in UNIT_KINDS)
# A unit id (== its agency id), as the gateway accepts it.
UNIT_ID = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
# At most this many areas per unit from one form (a kota has at most ~65 kelurahan).
MAX_AREAS = 200

router = APIRouter(prefix="/console", include_in_schema=False)


@dataclass(frozen=True)
class UnitRow:
    """A unit in the tree as a page shows it: depth-first, children under their parent."""

    unit: Unit
    depth: int

    @property
    def unit_id(self) -> str:
        return self.unit.unit_id

    @property
    def name(self) -> str:
        return self.unit.name


def unit_tree(units: Iterable[Unit]) -> list[UnitRow]:
    """The units as an indented tree: roots (no parent, or a parent not in the list, e.g.
    a head's own unit whose parent is out of their scope) first, each followed by its
    sub-units, siblings by name. A cycle (which the gateway refuses) cannot loop here:
    a unit is placed once."""
    units = list(units)
    known = {u.unit_id for u in units}
    children: dict[str | None, list[Unit]] = {}
    for u in units:
        parent = u.parent_id if u.parent_id in known and u.parent_id != u.unit_id else None
        children.setdefault(parent, []).append(u)
    for kids in children.values():
        kids.sort(key=lambda u: (u.name.casefold(), u.unit_id))
    out: list[UnitRow] = []
    placed: set[str] = set()

    def walk(parent: str | None, depth: int) -> None:
        for u in children.get(parent, []):
            if u.unit_id in placed:
                continue
            placed.add(u.unit_id)
            out.append(UnitRow(u, depth))
            walk(u.unit_id, depth + 1)

    walk(None, 0)
    # Units only reachable through a cycle: listed at the top level rather than lost.
    for u in units:
        if u.unit_id not in placed:
            placed.add(u.unit_id)
            out.append(UnitRow(u, 0))
            walk(u.unit_id, 1)
    return out


def area_label(code: str) -> str:
    """An area by its official name ("Kec. Menteng, Kota Jakarta Pusat"), the code when
    the list does not know it."""
    try:
        area = aduan_areas.get(code)
    except ValueError:
        area = None
    return aduan_areas.label(area) if area is not None else code


@cache
def unit_area_choices() -> tuple[tuple[str, str, int], ...]:
    """Jakarta's kota, kecamatan and kelurahan as (code, name, depth) in tree order: what
    a unit may cover (the select indents by depth)."""
    out: list[tuple[str, str, int]] = []
    for kota in aduan_areas.children("31"):
        out.append((kota.code, aduan_areas.short_name(kota), 0))
        for kec in aduan_areas.children(kota.code):
            out.append((kec.code, aduan_areas.short_name(kec), 1))
            out += [
                (kel.code, aduan_areas.short_name(kel), 2) for kel in aduan_areas.children(kec.code)
            ]
    return tuple(out)


def parse_area_codes(picked: Sequence[str], typed: str) -> tuple[list[str], list[str]]:
    """The areas a form names (picked from the list, and typed codes separated by commas
    or spaces) as dotted known codes, and what was not a known code (for the message;
    the gateway checks again)."""
    codes: list[str] = []
    unknown: list[str] = []
    for raw in [*picked, *typed.replace(",", " ").split()]:
        raw = raw.strip()
        if not raw:
            continue
        try:
            area = aduan_areas.get(raw)
        except ValueError:
            area = None
        if area is None:
            unknown.append(raw[:20])
        elif area.code not in codes:
            codes.append(area.code)
    return codes[:MAX_AREAS], unknown


async def unit_options(c: Console) -> list[UnitRow]:
    """The units an officer may filter by (the gateway's list for this caller: their
    unit and, for a head, the sub-units; every unit for full-access roles). None when
    the gateway cannot say (the filter is then not offered)."""
    try:
        return unit_tree(GatewayClient.parse_list(Unit, await c.api("GET", "/v1/units")))
    except GatewayError:
        return []


# --- the administrators' page -----------------------------------------------------------


@router.get("/admin/units")
async def units_page(request: Request) -> Response:
    c = await signed_in(request, ADMIN)
    return await _units_page(c)


async def _units_page(
    c: Console,
    status_code: int = 200,
    *,
    error: str | None = None,
    failed_form: str = "",
    values: dict[str, Any] | None = None,
) -> Response:
    """The page; after a refused form, with the reason inside that form (`error`,
    `failed_form` = "create" or the unit's id) and what was typed kept (`values`)."""
    notes: list[str] = []
    units: list[Unit] = await optional_list(c, "/v1/admin/units", Unit, notes)
    agencies: list[Agency] = await optional_list(c, "/v1/admin/agencies", Agency, notes)
    return await c.page(
        "admin_units.html",
        status_code,
        tree=unit_tree(units),
        agencies=agencies,
        notes=notes,
        kinds=KIND_CODES,
        area_options=unit_area_choices(),
        area_label=area_label,
        form_error=error,
        failed_form=failed_form,
        values=values or {},
    )


def _unit_body(form: FormData, c: Console) -> tuple[dict[str, Any], str | None]:
    """The unit's fields from a form, or the console's own message for what it can tell
    is wrong before asking the gateway."""
    picked = [v for v in form.getlist("area_codes") if isinstance(v, str)]
    codes, unknown = parse_area_codes(picked, text_field(form, "area_typed"))
    if unknown:
        return {}, c.t["unit_area_unknown"].format(codes=", ".join(unknown))
    body: dict[str, Any] = {"area_codes": codes, "parent_id": text_field(form, "parent_id") or None}
    # Sent only when the form has them: the edit form changes parent and areas alone.
    for name in ("name", "kind"):
        if value := text_field(form, name):
            body[name] = value
    return body, None


def _kept(form: FormData) -> dict[str, Any]:
    """What the administrator typed, to put back into the refused form."""
    kept: dict[str, Any] = {
        name: text_field(form, name)[:2000]
        for name in ("unit_id", "name", "kind", "parent_id", "area_typed")
    }
    kept["area_codes"] = [v for v in form.getlist("area_codes") if isinstance(v, str)]
    return kept


def _refusal(exc: GatewayError, t: dict[str, str]) -> str:
    """The gateway's reason in a sentence. A 409 here is a taken id or a cycle, not a
    report that changed meanwhile (what `explain` says for 409 on a report)."""
    if exc.status == 409 and not isinstance(exc, GatewayUnavailable):
        return t["err_refused"].format(detail=exc.detail)
    return explain(exc, t)


def _refused_status(exc: GatewayError) -> int:
    return exc.status if 400 <= exc.status < 500 else 502


@router.post("/admin/units")
async def create_unit(request: Request) -> Response:
    c = await signed_in(request, ADMIN)
    form = await c.checked_form()
    unit_id = text_field(form, "unit_id")
    kept = _kept(form)
    if not UNIT_ID.match(unit_id):
        return await _units_page(
            c, 422, error=c.t["unit_id_msg"], failed_form="create", values=kept
        )
    body, problem = _unit_body(form, c)
    if problem:
        return await _units_page(c, 422, error=problem, failed_form="create", values=kept)
    try:
        await c.api("POST", "/v1/admin/units", json={"unit_id": unit_id, **body})
    except GatewayError as exc:
        return await _units_page(
            c, _refused_status(exc), error=_refusal(exc, c.t), failed_form="create", values=kept
        )
    return await c.flash_and_go(
        "success", c.t["unit_created"].format(unit_id=unit_id), f"{BACK}#unit-{unit_id}"
    )


@router.post("/admin/units/{unit_id}")
async def edit_unit(request: Request, unit_id: str) -> Response:
    """Change a unit's parent and areas."""
    c = await signed_in(request, ADMIN)
    form = await c.checked_form()
    if not UNIT_ID.match(unit_id):
        return await c.flash_and_go("error", c.t["unit_id_msg"], BACK)
    body, problem = _unit_body(form, c)
    kept = _kept(form)
    if problem:
        return await _units_page(c, 422, error=problem, failed_form=unit_id, values=kept)
    try:
        await c.api("PATCH", f"/v1/admin/units/{unit_id}", json=body)
    except GatewayError as exc:
        return await _units_page(
            c, _refused_status(exc), error=_refusal(exc, c.t), failed_form=unit_id, values=kept
        )
    return await c.flash_and_go(
        "success", c.t["unit_saved"].format(unit_id=unit_id), f"{BACK}#unit-{unit_id}"
    )


@router.post("/admin/users/{user_id}/unit")
async def set_user_unit(request: Request, user_id: str) -> Response:
    """A user's unit and whether they head it (a head sees the sub-units' reports)."""
    c = await signed_in(request, ADMIN)
    form = await c.checked_form()
    unit = text_field(form, "unit_id")
    if unit and not UNIT_ID.match(unit):
        return await c.flash_and_go("error", c.t["unit_id_msg"], "/console/admin/users")
    body = {"unit_id": unit or None, "unit_head": text_field(form, "unit_head") == "1"}
    try:
        await c.api("PATCH", f"/v1/admin/users/{quote(user_id, safe='')}", json=body)
    except GatewayError as exc:
        return await c.flash_and_go("error", _refusal(exc, c.t), "/console/admin/users")
    return await c.flash_and_go("success", c.t["user_updated"], "/console/admin/users")


async def users_units(c: Console, notes: list[str]) -> list[UnitRow]:
    """The unit tree for the users page's unit selects."""
    return unit_tree(await optional_list(c, "/v1/admin/units", Unit, notes))


def routing_reason_text(
    reason: Mapping[str, Any],
    t: Mapping[str, str],
    unit_names: Mapping[str, str],
    categories: Mapping[str, Any],
    lang: str,
) -> str:
    """The dispatch event's structured routing reason (issue 19) in the console's
    language: which rule chose the unit (category x area, the category alone, or the
    fallback to the province agency), with names, not codes."""
    rule = str(reason.get("rule") or reason.get("kind") or "")
    unit_id = str(reason.get("unit_id") or reason.get("agency_id") or "")
    unit = unit_names.get(unit_id, unit_id) or "—"
    code = str(reason.get("category") or reason.get("category_code") or "")
    cat = categories.get(code)
    category = (cat.name_en if lang == "en" else cat.name_id) if cat is not None else code
    area = str(reason.get("area_code") or "")
    if area and rule not in ("fallback", "category", "default"):
        return t["routing_by_area"].format(
            category=category or "—", area=area_label(area), unit=unit
        )
    if rule in ("fallback", "province"):
        return t["routing_fallback"].format(unit=unit)
    if rule in ("category", "default") or code:
        return t["routing_by_category"].format(category=category or "—", unit=unit)
    return t["routing_manual"].format(unit=unit)
