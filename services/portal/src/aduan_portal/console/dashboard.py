"""An agency's figures (`GET /v1/stats/dashboard`) as SVG charts with their data tables."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from aduan_portal.console.core import CODE, agency_options, explain, signed_in
from aduan_portal.console.queues import area_code
from aduan_portal.console.units import UNIT_ID, unit_options
from aduan_portal.gateway_client import GatewayError
from aduan_portal.rendering import area_choices

__all__ = ["escalation_figures", "month_bars", "router", "unit_figures"]

router = APIRouter(prefix="/console", include_in_schema=False)


def month_bars(rows: list[list[Any]] | list[tuple[str, int]]) -> list[dict[str, Any]]:
    """Bars for the completed-per-month chart: x, height and label per month (the SVG is
    drawn in the template; 40 px per month, 120 px for the tallest)."""
    peak = max((int(n) for _, n in rows), default=0) or 1
    return [
        {"month": m, "n": int(n), "x": i * 40 + 30, "h": round(int(n) / peak * 120)}
        for i, (m, n) in enumerate(rows)
    ]


@router.get("/dashboard")
async def dashboard_page(
    request: Request, agency_id: str = "", months: int = 12, unit: str = "", wilayah: str = ""
) -> Response:
    """An agency's figures as charts (SVG, no script) with their data tables. Agency
    officers see their own agency's; other officers pick an agency or the city. Any
    officer narrows by a unit in their scope and by a kota or kecamatan (issue 19); the
    gateway adds the sub-units' and the escalations' figures."""
    c = await signed_in(request)
    months = max(1, min(months, 36))
    params: dict[str, Any] = {"months": months}
    if agency_id and CODE.match(agency_id) and c.role != "agency-officer":
        params["agency_id"] = agency_id
    unit = unit.strip() if UNIT_ID.match(unit.strip()) else ""
    wilayah = area_code(wilayah.strip()[:20])
    if unit:
        params["unit"] = unit
    if wilayah:
        params["area"] = wilayah
    units = await unit_options(c)
    error = None
    data: dict[str, Any] | None = None
    try:
        data = (await c.api("GET", "/v1/stats/dashboard", params=params)).json()
    except GatewayError as exc:
        error = explain(exc, c.t)
    agencies = await agency_options(c) if c.role != "agency-officer" else []
    return await c.page(
        "dashboard.html",
        title=c.t["dashboard"],
        data=data,
        chart=month_bars(data["completed_by_month"]) if data else [],
        agencies=agencies,
        selected=params.get("agency_id", ""),
        months=months,
        error=error,
        unit=unit,
        wilayah=wilayah,
        unit_choices=units,
        unit_names={row.unit_id: row.name for row in units},
        area_choices=area_choices(),
        by_unit=unit_figures(data),
        escalations=escalation_figures(data),
    )


def unit_figures(data: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The sub-units' rows of the gateway's dashboard (`by_unit`): open, overdue and
    escalated reports per unit; [] when the answer has none."""
    rows = (data or {}).get("by_unit") or []
    return [r for r in rows if isinstance(r, dict) and r.get("unit_id")]


def escalation_figures(data: dict[str, Any] | None) -> dict[str, int] | None:
    """How many reports were flagged up the line to this scope (`escalations` of the
    gateway's dashboard): reminders and breaches; None when the answer has none."""
    found = (data or {}).get("escalations")
    if not isinstance(found, dict):
        return None
    return {k: int(v) for k, v in found.items() if isinstance(v, int | float)}
