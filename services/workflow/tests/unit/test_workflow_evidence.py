"""The evidence check of a follow-up's photos: time against the report, place within the
configured distance (haversine), and honest "unknown" when the photos carry nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from aduan_contracts.values import GeoPoint, PhotoRef
from aduan_workflow.domain.evidence import check_evidence, haversine_m

RECEIVED = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
MONAS = GeoPoint(lat=-6.175392, lon=106.827153)


def photo(taken_at: datetime | None = None, point: GeoPoint | None = None) -> PhotoRef:
    return PhotoRef(
        sha256="b" * 64, content_type="image/jpeg", size_bytes=10, taken_at=taken_at, point=point
    )


def test_haversine_known_distances() -> None:
    # One degree of latitude on the mean sphere: 2 * pi * R / 360.
    assert haversine_m(GeoPoint(lat=0, lon=0), GeoPoint(lat=1, lon=0)) == pytest.approx(
        111_195, abs=1
    )
    # Monas to Bundaran HI, about 2.1 km south-west.
    bundaran_hi = GeoPoint(lat=-6.194941, lon=106.823030)
    assert haversine_m(MONAS, bundaran_hi) == pytest.approx(2_220, rel=0.02)
    assert haversine_m(MONAS, MONAS) == 0


def test_good_evidence() -> None:
    near = GeoPoint(lat=MONAS.lat + 0.0005, lon=MONAS.lon)  # about 56 m north
    check = check_evidence(
        [photo(RECEIVED + timedelta(days=2), near), photo(RECEIVED + timedelta(days=2))],
        RECEIVED,
        MONAS,
        200,
    )
    assert check is not None
    assert check.photos_checked == 2
    assert check.newer_than_report is True
    assert check.within_distance is True
    assert check.max_distance_m == 200
    assert check.nearest_distance_m == pytest.approx(55.6, abs=0.5)
    assert "all 2 dated photo(s) taken after the report" in check.summary
    assert "within 200 m" in check.summary


def test_old_or_far_photos_are_flagged() -> None:
    far = GeoPoint(lat=MONAS.lat + 0.01, lon=MONAS.lon)  # about 1.1 km
    check = check_evidence(
        [photo(RECEIVED - timedelta(days=30), far), photo(RECEIVED + timedelta(hours=1), MONAS)],
        RECEIVED,
        MONAS,
        200,
    )
    assert check is not None
    assert check.newer_than_report is False
    assert check.within_distance is False
    assert check.nearest_distance_m == 0
    assert "1 of 2 dated photo(s) taken before the report" in check.summary
    assert "beyond 200 m" in check.summary and "farthest 1112 m" in check.summary


def test_nothing_to_check_is_unknown_not_passed() -> None:
    assert check_evidence([], RECEIVED, MONAS, 200) is None
    bare = check_evidence([photo()], RECEIVED, MONAS, 200)
    assert bare is not None
    assert (bare.newer_than_report, bare.within_distance, bare.nearest_distance_m) == (
        None,
        None,
        None,
    )
    assert bare.summary == "no photo carries a capture time; no photo carries a location"
    nowhere = check_evidence([photo(RECEIVED, MONAS)], RECEIVED, None, 200)
    assert nowhere is not None
    assert nowhere.within_distance is None
    assert nowhere.newer_than_report is False  # taken at the very moment is not newer
    assert "the report has no location" in nowhere.summary
