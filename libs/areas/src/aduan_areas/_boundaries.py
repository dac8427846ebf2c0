"""Kelurahan boundaries an operator provides, for resolving a map point to its area.

No boundary data ships with the project: none found has a licence that lets it be
redistributed here (docs/decisions.md, D13). An operator who has boundaries (BIG's batas
desa from Ina-Geoportal, OpenStreetMap's admin_level 7 under ODbL, the city's own GIS)
exports them as a GeoJSON FeatureCollection whose features carry the Kemendagri code in a
property, and points the service at the file; from then on a point on the map form names
its kelurahan.

A point is never guessed from centroids: it is inside a polygon or it is not. GPS and map
taps are off by metres, so a point within ``margin_m`` of a border is less sure and names
the neighbour as the alternative; a point just outside every polygon (a tap on the river
that is the border) takes the nearest one within the margin, with low confidence.
Pure Python (ray casting after a bounding-box filter): a few hundred polygons of a few
thousand vertices cost well under a millisecond a point.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ._codes import normalize_code
from ._registry import Area, get

__all__ = ["Boundaries", "PointMatch"]

# Metres per degree of latitude; longitude shrinks with cos(latitude). Good to a fraction
# of a percent over a city, which is all a border margin needs.
_M_PER_DEG = 111_320.0

# How sure a point is: well inside a polygon, near its border, just outside every one.
INSIDE_CONFIDENCE = 0.9
NEAR_BORDER_CONFIDENCE = 0.6
OUTSIDE_CONFIDENCE = 0.4

Ring = list[tuple[float, float]]  # (lon, lat), GeoJSON order, closed or not


@dataclass(frozen=True, slots=True)
class PointMatch:
    """The area a point falls in, how sure (see the module docstring), and the areas whose
    border is within the margin (the point may belong to them instead)."""

    area: Area
    confidence: float
    alternatives: tuple[Area, ...] = ()
    border_m: float | None = None  # distance to the nearest border of `area`, metres


@dataclass(frozen=True, slots=True)
class _Shape:
    area: Area
    polygons: tuple[tuple[Ring, ...], ...]  # each: outer ring, then holes
    bbox: tuple[float, float, float, float]  # min lon, min lat, max lon, max lat


class Boundaries:
    """Polygons per area code, from a GeoJSON FeatureCollection."""

    def __init__(self, shapes: Iterable[_Shape], margin_m: float = 25.0) -> None:
        self._shapes = tuple(shapes)
        self.margin_m = margin_m

    def __len__(self) -> int:
        return len(self._shapes)

    @classmethod
    def from_geojson(
        cls, data: dict[str, Any], *, code_property: str = "code", margin_m: float = 25.0
    ) -> Boundaries:
        """Every feature must be a Polygon or MultiPolygon with a known Kemendagri code
        (dotted or not) in ``code_property``; a file that says otherwise is refused with
        the feature it is about, never half loaded."""
        if data.get("type") != "FeatureCollection" or not isinstance(data.get("features"), list):
            raise ValueError("boundaries: expected a GeoJSON FeatureCollection")
        shapes = []
        for i, feature in enumerate(data["features"]):
            where = f"boundaries: feature {i}"
            props = feature.get("properties") or {}
            raw = props.get(code_property)
            if raw is None:
                raise ValueError(f"{where}: no {code_property!r} property")
            code = normalize_code(str(raw))
            area = get(code) if code is not None else None
            if area is None:
                raise ValueError(f"{where}: {raw!r} is not a Kemendagri area code")
            geometry = feature.get("geometry") or {}
            kind, coords = geometry.get("type"), geometry.get("coordinates")
            polygons: list[Any]
            if kind == "Polygon":
                polygons = [coords]
            elif kind == "MultiPolygon" and isinstance(coords, list):
                polygons = coords
            else:
                raise ValueError(f"{where} ({area.code}): geometry {kind!r}, not a polygon")
            try:
                parsed = tuple(
                    tuple([(float(x), float(y)) for x, y, *_ in ring] for ring in polygon)
                    for polygon in polygons
                )
            except (TypeError, ValueError) as exc:
                raise ValueError(f"{where} ({area.code}): bad coordinates") from exc
            if not parsed or any(len(p) == 0 or len(p[0]) < 3 for p in parsed):
                raise ValueError(f"{where} ({area.code}): a polygon needs 3 points or more")
            xs = [x for polygon in parsed for x, _ in polygon[0]]
            ys = [y for polygon in parsed for _, y in polygon[0]]
            shapes.append(_Shape(area, parsed, (min(xs), min(ys), max(xs), max(ys))))
        return cls(shapes, margin_m=margin_m)

    @classmethod
    def load(
        cls, path: str | Path, *, code_property: str = "code", margin_m: float = 25.0
    ) -> Boundaries:
        with Path(path).open(encoding="utf-8") as handle:
            data = json.load(handle)
        return cls.from_geojson(data, code_property=code_property, margin_m=margin_m)

    def locate(self, lat: float, lon: float) -> PointMatch | None:
        """The area the point (WGS84) is in, or within the margin of; None otherwise."""
        # The margin in degrees, generous in longitude, for the bounding-box filter only.
        pad_lat = self.margin_m / _M_PER_DEG
        pad_lon = pad_lat / max(math.cos(math.radians(lat)), 0.01)
        near = [
            s
            for s in self._shapes
            if s.bbox[0] - pad_lon <= lon <= s.bbox[2] + pad_lon
            and s.bbox[1] - pad_lat <= lat <= s.bbox[3] + pad_lat
        ]
        inside = [s for s in near if _contains(s.polygons, lon, lat)]
        distances = {s.area.code: _border_m(s.polygons, lon, lat) for s in near}
        if inside:
            # Overlapping polygons (a kelurahan and its kecamatan both given): the most
            # specific area wins.
            home = max(inside, key=lambda s: (len(s.area.code), -distances[s.area.code]))
            border = distances[home.area.code]
            others = tuple(
                s.area
                for s in sorted(near, key=lambda s: distances[s.area.code])
                if s is not home and s not in inside and distances[s.area.code] <= self.margin_m
            )
            sure = INSIDE_CONFIDENCE if border > self.margin_m else NEAR_BORDER_CONFIDENCE
            return PointMatch(home.area, sure, others, round(border, 1))
        close = sorted(
            (s for s in near if distances[s.area.code] <= self.margin_m),
            key=lambda s: distances[s.area.code],
        )
        if not close:
            return None
        return PointMatch(
            close[0].area,
            OUTSIDE_CONFIDENCE,
            tuple(s.area for s in close[1:]),
            round(distances[close[0].area.code], 1),
        )


def _contains(polygons: Sequence[Sequence[Ring]], x: float, y: float) -> bool:
    """Inside one of the polygons: inside its outer ring and in none of its holes."""
    for polygon in polygons:
        if _in_ring(polygon[0], x, y) and not any(_in_ring(h, x, y) for h in polygon[1:]):
            return True
    return False


def _in_ring(ring: Ring, x: float, y: float) -> bool:
    """Ray casting (even-odd rule); the ring may or may not repeat its first point."""
    inside = False
    j = len(ring) - 1
    for i in range(len(ring)):
        xi, yi = ring[i]
        xj, yj = ring[j]
        if (yi > y) != (yj > y) and x < (xj - xi) * (y - yi) / (yj - yi) + xi:
            inside = not inside
        j = i
    return inside


def _border_m(polygons: Sequence[Sequence[Ring]], x: float, y: float) -> float:
    """Distance in metres from the point to the nearest edge of any ring (local
    equirectangular projection around the point)."""
    kx = _M_PER_DEG * math.cos(math.radians(y))
    ky = _M_PER_DEG
    best = math.inf
    for polygon in polygons:
        for ring in polygon:
            n = len(ring)
            for i in range(n):
                ax, ay = (ring[i][0] - x) * kx, (ring[i][1] - y) * ky
                bx, by = (ring[(i + 1) % n][0] - x) * kx, (ring[(i + 1) % n][1] - y) * ky
                dx, dy = bx - ax, by - ay
                length2 = dx * dx + dy * dy
                t = 0.0 if length2 == 0 else max(0.0, min(1.0, -(ax * dx + ay * dy) / length2))
                px, py = ax + t * dx, ay + t * dy
                best = min(best, math.hypot(px, py))
    return best
