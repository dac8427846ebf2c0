"""Routing by place (issue 19): the most specific area route wins, a guessed area never
routes by place, and without a route the category's own agency (or triage) as before."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from aduan_contracts.events import AreaRoute, CategoryPublished
from aduan_contracts.values import Location
from aduan_workflow.domain.routing import Route, choose_route, within

GAMBIR_KELURAHAN = "31.71.01.1001"
GAMBIR_KECAMATAN = "31.71.01"
JAKARTA_PUSAT = "31.71"
CILINCING_KELURAHAN = "31.72.04.1001"


def category(
    agency: str | None = "dinas-bina-marga",
    routes: dict[str, str] | None = None,
    active: bool = True,
) -> CategoryPublished:
    return CategoryPublished(
        code="jalan-rusak",
        version=1,
        name_id="Jalan rusak",
        name_en="Damaged road",
        agency_id=agency,
        area_routes=tuple(AreaRoute(area_code=a, agency_id=g) for a, g in (routes or {}).items()),
        active=active,
        updated_at=datetime(2026, 12, 4, tzinfo=UTC),
    )


def at(code: str | None, confidence: float | None = 0.9) -> Location:
    return Location(
        area_code=code,
        area_how="code" if code else None,
        area_confidence=confidence if code else None,
    )


ALL_LEVELS = {
    JAKARTA_PUSAT: "sudin-bina-marga-jakpus",
    GAMBIR_KECAMATAN: "kecamatan-gambir",
    GAMBIR_KELURAHAN: "kelurahan-gambir",
}


@pytest.mark.parametrize(
    ("report_area", "expected"),
    [
        (GAMBIR_KELURAHAN, Route("kelurahan-gambir", GAMBIR_KELURAHAN)),
        ("31.71.01.1002", Route("kecamatan-gambir", GAMBIR_KECAMATAN)),  # Cideng
        (GAMBIR_KECAMATAN, Route("kecamatan-gambir", GAMBIR_KECAMATAN)),
        ("31.71.02.1001", Route("sudin-bina-marga-jakpus", JAKARTA_PUSAT)),  # Sawah Besar
        (JAKARTA_PUSAT, Route("sudin-bina-marga-jakpus", JAKARTA_PUSAT)),
        (CILINCING_KELURAHAN, Route("dinas-bina-marga")),  # Jakarta Utara: no route
        ("31", Route("dinas-bina-marga")),  # only the province: wider than every route
    ],
)
def test_most_specific_route_wins(report_area: str, expected: Route) -> None:
    assert choose_route(category(routes=ALL_LEVELS), at(report_area), 0.5) == expected


def test_a_province_rule_is_the_widest_fallback_before_the_category_agency() -> None:
    """Issue 19: a rule for the province ("31") catches what no kota, kecamatan or
    kelurahan rule holds; every narrower rule still beats it."""
    routes = {"31": "dinas-bina-marga-dki", **ALL_LEVELS}
    assert choose_route(category(routes=routes), at(CILINCING_KELURAHAN), 0.5) == Route(
        "dinas-bina-marga-dki", "31"
    )
    assert choose_route(category(routes=routes), at(GAMBIR_KELURAHAN), 0.5) == Route(
        "kelurahan-gambir", GAMBIR_KELURAHAN
    )


def test_route_order_in_the_record_does_not_matter() -> None:
    reversed_routes = dict(reversed(list(ALL_LEVELS.items())))
    assert choose_route(category(routes=reversed_routes), at(GAMBIR_KELURAHAN), 0.5) == Route(
        "kelurahan-gambir", GAMBIR_KELURAHAN
    )


def test_a_guessed_area_never_routes_by_place() -> None:
    routes = {JAKARTA_PUSAT: "sudin-bina-marga-jakpus"}
    assert choose_route(category(routes=routes), at(GAMBIR_KELURAHAN, 0.3), 0.5) == Route(
        "dinas-bina-marga"
    )
    # The threshold itself is sure enough.
    assert choose_route(category(routes=routes), at(GAMBIR_KELURAHAN, 0.5), 0.5) == Route(
        "sudin-bina-marga-jakpus", JAKARTA_PUSAT
    )
    # Below the threshold and no category agency: the triage queue.
    assert choose_route(category(None, routes), at(GAMBIR_KELURAHAN, 0.3), 0.5) is None


def test_no_area_means_the_category_agency_or_triage() -> None:
    routes = {JAKARTA_PUSAT: "sudin-bina-marga-jakpus"}
    assert choose_route(category(routes=routes), None, 0.5) == Route("dinas-bina-marga")
    assert choose_route(category(routes=routes), at(None), 0.5) == Route("dinas-bina-marga")
    assert choose_route(category(None, routes), at(None), 0.5) is None


def test_an_area_route_works_without_a_category_agency() -> None:
    routes = {JAKARTA_PUSAT: "sudin-bina-marga-jakpus"}
    assert choose_route(category(None, routes), at(GAMBIR_KELURAHAN), 0.5) == Route(
        "sudin-bina-marga-jakpus", JAKARTA_PUSAT
    )
    assert choose_route(category(None, routes), at(CILINCING_KELURAHAN), 0.5) is None


def test_retired_or_unknown_category_routes_nowhere() -> None:
    routes = {JAKARTA_PUSAT: "sudin-bina-marga-jakpus"}
    assert choose_route(category(routes=routes, active=False), at(GAMBIR_KELURAHAN), 0.5) is None
    assert choose_route(None, at(GAMBIR_KELURAHAN), 0.5) is None


def test_within_takes_whole_segments() -> None:
    assert within("31.71.01.1001", "31.71")
    assert within("31.71", "31.71")
    assert not within("31.71", "31.71.01")
    assert not within("31.710", "31.71")
    assert not within("31.72.01", "31.71")
