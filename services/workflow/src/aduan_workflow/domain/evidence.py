"""The evidence check on a follow-up (TL): are the after-photos newer than the report and
taken near it? It informs the validator; it never refuses a TL (SPEC: "it informs, the
validator decides"). Pure: the photos' `taken_at`/`point` come from their EXIF, read by
whoever stored them, and the report's point from its `ReportSubmitted`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from aduan_contracts.values import EvidenceCheck, GeoPoint, PhotoRef

__all__ = ["EARTH_RADIUS_M", "check_evidence", "haversine_m"]

EARTH_RADIUS_M = 6_371_008.8
"""Mean Earth radius (IUGG); haversine on a sphere is within 0.5 % of the ellipsoid, far
finer than a phone's GPS at the scale of a pothole."""


def haversine_m(a: GeoPoint, b: GeoPoint) -> float:
    """Great-circle distance in metres."""
    lat1, lat2 = math.radians(a.lat), math.radians(b.lat)
    dlat = lat2 - lat1
    dlon = math.radians(b.lon - a.lon)
    h = math.sin(dlat / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin(dlon / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(h)))


def check_evidence(
    photos: Sequence[PhotoRef],
    received_at: datetime,
    report_point: GeoPoint | None,
    max_distance_m: float,
) -> EvidenceCheck | None:
    """None when the TL has no photos (nothing to check). Otherwise each verdict is None when
    no photo carries what it needs (no time, no place, or no report location), True when
    every photo that does passes, False when any fails."""
    if not photos:
        return None
    dated = [p.taken_at for p in photos if p.taken_at is not None]
    newer = all(t > received_at for t in dated) if dated else None
    distances = (
        [haversine_m(report_point, p.point) for p in photos if p.point is not None]
        if report_point is not None
        else []
    )
    nearest = min(distances) if distances else None
    within = all(d <= max_distance_m for d in distances) if distances else None

    parts: list[str] = []
    if newer is None:
        parts.append("no photo carries a capture time")
    elif newer:
        parts.append(f"all {len(dated)} dated photo(s) taken after the report")
    else:
        older = sum(1 for t in dated if t <= received_at)
        parts.append(f"{older} of {len(dated)} dated photo(s) taken before the report")
    if report_point is None:
        parts.append("the report has no location to compare with")
    elif within is None:
        parts.append("no photo carries a location")
    else:
        farthest = max(distances)
        verdict = "within" if within else "beyond"
        parts.append(
            f"{verdict} {max_distance_m:g} m of the report (nearest {min(distances):.0f} m, "
            f"farthest {farthest:.0f} m)"
        )
    return EvidenceCheck(
        photos_checked=len(photos),
        newer_than_report=newer,
        within_distance=within,
        max_distance_m=max_distance_m if distances else None,
        nearest_distance_m=round(nearest, 1) if nearest is not None else None,
        summary="; ".join(parts)[:500],
    )
