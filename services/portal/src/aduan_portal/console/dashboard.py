"""An agency's figures (`GET /v1/stats/dashboard`) as SVG charts with their data tables."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from aduan_portal.console.core import CODE, agency_options, explain, signed_in
from aduan_portal.gateway_client import GatewayError

__all__ = ["month_bars", "router"]

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
async def dashboard_page(request: Request, agency_id: str = "", months: int = 12) -> Response:
    """An agency's figures as charts (SVG, no script) with their data tables. Agency
    officers see their own agency's; other officers pick an agency or the city."""
    c = await signed_in(request)
    months = max(1, min(months, 36))
    params: dict[str, Any] = {"months": months}
    if agency_id and CODE.match(agency_id) and c.role != "agency-officer":
        params["agency_id"] = agency_id
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
    )
