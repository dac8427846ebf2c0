"""SLA badges, the coarse public point and duplicate ranking, without I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest

from aduan_contracts.enums import Channel, Privacy, ReportStatus, Role
from aduan_contracts.values import GeoPoint, Location
from aduan_gateway.domain.model import ReportRecord, TimelineRecord
from aduan_gateway.domain.views import coarse_point, officer_view, sla_state
from aduan_gateway.entrypoints.api_console import distance_m, rank_duplicates

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
SECRET = "pseudonym-secret-for-unit-tests-0123456789"


def report(
    due: datetime | None = None,
    point: GeoPoint | None = None,
    received: datetime = NOW,
    stage: str | None = "follow_up",
) -> ReportRecord:
    extra = {"due_at": due.isoformat(), "sla_stage": stage} if due is not None else {}
    return ReportRecord(
        report_id=uuid4(),
        channel=Channel.WEB,
        privacy=Privacy.PUBLIC,
        has_content=True,
        title="Jalan berlubang",
        text="lubang",
        category="jalan-rusak",
        agency_id="dbm",
        location=Location(point=point, area="Menteng") if point is not None else None,
        received_at=received,
        status=ReportStatus.DISPATCHED,
        status_version=2,
        timeline=(
            TimelineRecord(
                1,
                ReportStatus.RECEIVED,
                received,
                Role.SYSTEM,
                extra={"due_at": (NOW - timedelta(days=9)).isoformat(), "sla_stage": "triage"},
            ),
            TimelineRecord(2, ReportStatus.DISPATCHED, received, Role.TICKET_ADMIN, extra=extra),
        ),
    )


@pytest.mark.parametrize(
    ("due", "badge"),
    [
        (NOW - timedelta(minutes=1), "overdue"),
        (NOW + timedelta(hours=23), "due_soon"),
        (NOW + timedelta(hours=25), None),
    ],
)
def test_sla_badge_follows_the_latest_step(due: datetime, badge: str | None) -> None:
    # The first step's (older, overdue) triage deadline must not count: it stopped.
    assert sla_state(report(due), NOW) == ("follow_up", due, badge)


def test_no_clock_no_badge() -> None:
    assert sla_state(report(None), NOW) == (None, None, None)


@pytest.mark.parametrize(
    ("role", "stage"), [(Role.AGENCY_OFFICER, "follow_up"), (Role.VALIDATOR, "validation")]
)
def test_officer_views_carry_sla_fields(role: Role, stage: str) -> None:
    # Each role's own stage (issue 13, hole 3: only those).
    due = datetime.now(UTC) - timedelta(hours=1)
    view = officer_view(report(due, stage=stage), role, "dbm", SECRET)
    assert view is not None
    assert (view.sla_stage, view.due_at, view.sla_badge) == (stage, due, "overdue")


def test_coarse_point_snaps_to_the_grid() -> None:
    snapped = coarse_point(Location(point=GeoPoint(lat=-6.19512, lon=106.82711)))
    assert snapped == GeoPoint(lat=-6.2, lon=106.83)
    assert coarse_point(Location(area="Menteng")) is None
    assert coarse_point(None) is None


def test_distance_is_metres() -> None:
    # 0.001 degree of latitude is about 111 m anywhere.
    d = distance_m(GeoPoint(lat=-6.2, lon=106.8), GeoPoint(lat=-6.201, lon=106.8))
    assert 110 < d < 112


def test_duplicates_nearest_first_far_ones_dropped_pointless_last() -> None:
    here = GeoPoint(lat=-6.2, lon=106.8)
    target = report(point=here)
    near = report(point=GeoPoint(lat=-6.2009, lon=106.8))  # ~100 m
    nearer = report(point=GeoPoint(lat=-6.2001, lon=106.8))  # ~11 m
    far = report(point=GeoPoint(lat=-6.21, lon=106.8))  # ~1.1 km
    pointless = report(point=None)
    ranked = rank_duplicates(target, [near, far, pointless, nearer])
    assert [v.report_id for v in ranked] == [
        nearer.report_id,
        near.report_id,
        pointless.report_id,
    ]
    assert ranked[0].distance_m is not None and ranked[0].distance_m < 20
    assert ranked[2].distance_m is None
