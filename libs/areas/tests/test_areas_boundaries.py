"""A map point resolved to its kelurahan with boundaries an operator provides (none ship,
docs/decisions.md D13): inside a polygon, near the border between two kelurahan, just
outside every polygon, far away; the text settling a point near a border; and a boundary
file that says something wrong refused with the feature it is about.

The polygons are made up for the test (two squares sharing a border near Gambir), named
with real codes: what is checked is the resolution, not the geography."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import aduan_areas
from aduan_areas import Boundaries, resolve, use_boundaries

GAMBIR = "31.71.01.1001"
CIDENG = "31.71.01.1002"
# Two 0.01° squares (~1.1 km) side by side; the shared border is the meridian 106.82.
BORDER_LON = 106.82
LAT_S, LAT_N = -6.18, -6.17
METRE_LON = 1 / (111_320.0 * 0.99484)  # one metre of longitude at -6.175° (cos ≈ 0.9948)


def square(code: str, west: float, east: float, key: str = "code") -> dict[str, Any]:
    ring = [[west, LAT_S], [east, LAT_S], [east, LAT_N], [west, LAT_N], [west, LAT_S]]
    return {
        "type": "Feature",
        "properties": {key: code},
        "geometry": {"type": "Polygon", "coordinates": [ring]},
    }


def collection(*features: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


TWO = collection(
    square(GAMBIR, BORDER_LON - 0.01, BORDER_LON), square(CIDENG, BORDER_LON, BORDER_LON + 0.01)
)


@pytest.fixture
def boundaries() -> Iterator[Boundaries]:
    loaded = Boundaries.from_geojson(TWO, margin_m=25.0)
    use_boundaries(loaded)
    try:
        yield loaded
    finally:
        use_boundaries(None)


def test_a_point_well_inside_a_kelurahan(boundaries: Boundaries) -> None:
    found = resolve(point=(-6.175, BORDER_LON - 0.005))
    assert found is not None
    assert (found.area.code, found.how, found.confidence) == (GAMBIR, "point", 0.9)
    assert found.alternatives == ()
    assert found.label.startswith("Gambir, Kec. Gambir")


def test_a_point_between_two_kelurahan_is_less_sure_and_names_the_neighbour(
    boundaries: Boundaries,
) -> None:
    # 10 m east of the border: inside Cideng, within the 25-m margin of Gambir.
    found = resolve(point=(-6.175, BORDER_LON + 10 * METRE_LON))
    assert found is not None
    assert (found.area.code, found.how, found.confidence) == (CIDENG, "point", 0.6)
    assert [a.code for a in found.alternatives] == [GAMBIR]
    match = boundaries.locate(-6.175, BORDER_LON + 10 * METRE_LON)
    assert match is not None and match.border_m == pytest.approx(10.0, abs=0.5)
    # 40 m east: past the margin, sure again.
    far = resolve(point=(-6.175, BORDER_LON + 40 * METRE_LON))
    assert far is not None and (far.area.code, far.confidence) == (CIDENG, 0.9)


def test_the_text_settles_a_point_near_the_border(boundaries: Boundaries) -> None:
    near = (-6.175, BORDER_LON + 10 * METRE_LON)  # in Cideng, 10 m from Gambir
    across = resolve("Kelurahan Gambir", point=near)
    assert across is not None
    assert (across.area.code, across.how) == (GAMBIR, "point")
    assert across.confidence == pytest.approx(0.8)
    assert [a.code for a in across.alternatives] == [CIDENG]
    agreeing = resolve("Cideng", point=near)
    assert agreeing is not None and agreeing.area.code == CIDENG and agreeing.confidence > 0.6
    # Well inside, the point wins over a text naming somewhere else (the reporter's home).
    inside = resolve("Kelurahan Gambir", point=(-6.175, BORDER_LON + 0.005))
    assert inside is not None and (inside.area.code, inside.confidence) == (CIDENG, 0.9)


def test_just_outside_every_polygon_and_far_away(boundaries: Boundaries) -> None:
    # 10 m north of both squares, nearer Gambir's corner: the nearest, not sure.
    just_out = resolve(point=(LAT_N + 10 / 111_320.0, BORDER_LON - 0.002))
    assert just_out is not None
    assert (just_out.area.code, just_out.confidence) == (GAMBIR, 0.4)
    # A kilometre away: nothing guessed; the text decides.
    assert resolve(point=(-6.10, 106.90)) is None
    by_text = resolve("Cideng", point=(-6.10, 106.90))
    assert by_text is not None and (by_text.area.code, by_text.how) == (CIDENG, "name")


def test_without_boundaries_a_point_is_not_used() -> None:
    use_boundaries(None)
    assert resolve(point=(-6.175, BORDER_LON - 0.005)) is None


def test_a_hole_is_outside_and_a_multipolygon_counts_every_part() -> None:
    outer = [[106.80, -6.18], [106.81, -6.18], [106.81, -6.17], [106.80, -6.17], [106.80, -6.18]]
    hole = [
        [106.804, -6.176],
        [106.806, -6.176],
        [106.806, -6.174],
        [106.804, -6.174],
        [106.804, -6.176],
    ]
    island = [[106.90, -6.10], [106.91, -6.10], [106.91, -6.09], [106.90, -6.10]]
    shapes = Boundaries.from_geojson(
        collection(
            {
                "type": "Feature",
                "properties": {"kode": "3171011001"},  # undotted, another property name
                "geometry": {"type": "MultiPolygon", "coordinates": [[outer, hole], [island]]},
            }
        ),
        code_property="kode",
    )
    assert shapes.locate(-6.175, 106.805) is None  # the middle of the hole
    assert shapes.locate(-6.178, 106.802).area.code == GAMBIR  # type: ignore[union-attr]
    assert shapes.locate(-6.098, 106.905).area.code == GAMBIR  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"type": "Feature"}, "expected a GeoJSON FeatureCollection"),
        (collection(square("31.71.99.9999", 106.8, 106.81)), "not a Kemendagri area code"),
        (collection(square("Gambir", 106.8, 106.81)), "not a Kemendagri area code"),
        (collection(square(GAMBIR, 106.8, 106.81, key="id")), "no 'code' property"),
        (
            collection(
                {
                    "type": "Feature",
                    "properties": {"code": GAMBIR},
                    "geometry": {"type": "Point", "coordinates": [106.8, -6.1]},
                }
            ),
            "geometry 'Point', not a polygon",
        ),
        (
            collection(
                {
                    "type": "Feature",
                    "properties": {"code": GAMBIR},
                    "geometry": {"type": "Polygon", "coordinates": [[[106.8, -6.1]]]},
                }
            ),
            "a polygon needs 3 points or more",
        ),
    ],
)
def test_a_wrong_boundary_file_is_refused_with_its_reason(
    data: dict[str, Any], reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        Boundaries.from_geojson(data)


def test_a_file_on_disk(tmp_path: Path) -> None:
    path = tmp_path / "kelurahan.geojson"
    path.write_text(json.dumps(TWO), encoding="utf-8")
    loaded = Boundaries.load(path)
    assert len(loaded) == 2
    assert aduan_areas.Boundaries is Boundaries
