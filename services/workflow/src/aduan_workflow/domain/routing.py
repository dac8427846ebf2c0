"""Where a new report is auto-dispatched (issue 19): category x area -> agency, the most
specific area wins, else the category's own agency, else nobody (the triage queue).

Pure: the caller gives the category's catalogue record and the report's location."""

from __future__ import annotations

from dataclasses import dataclass

from aduan_contracts.events import AreaRoute, CategoryPublished
from aduan_contracts.values import Location

__all__ = ["Route", "choose_route", "within"]


@dataclass(frozen=True, slots=True)
class Route:
    agency_id: str
    # The area route that chose the agency; None: the category's own agency.
    area_code: str | None = None


def within(code: str, scope: str) -> bool:
    """Whether the area `code` lies inside `scope` (itself included). Whole dotted segments:
    "31.71" holds "31.71.01.1001", never "31.710" (codes have fixed-width segments, but a
    plain string prefix would still be the wrong test)."""
    return code == scope or code.startswith(scope + ".")


def choose_route(
    category: CategoryPublished | None, location: Location | None, min_confidence: float
) -> Route | None:
    """The agency a new report goes to, and which route said so. No route for an unknown or
    retired category. An area route applies only when intake was at least `min_confidence`
    sure of the report's area: a guess from the complaint's words never routes by place
    (the category's agency then takes it, as before area routes existed)."""
    if category is None or not category.active:
        return None
    best: AreaRoute | None = None
    if (
        location is not None
        and location.area_code is not None
        and location.area_confidence is not None
        and location.area_confidence >= min_confidence
    ):
        for route in category.area_routes:
            if within(location.area_code, route.area_code) and (
                best is None or len(route.area_code) > len(best.area_code)
            ):
                best = route
    if best is not None:
        return Route(best.agency_id, best.area_code)
    if category.agency_id is not None:
        return Route(category.agency_id)
    return None
