"""Which photos the public may see (issue 15, issue 20): only the after-photos of the
follow-up that completed a report; a rejected follow-up's photos and the citizen's own
photos never, and nothing before completion."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from aduan_contracts.enums import Channel, Privacy, ReportStatus, Role
from aduan_contracts.values import Actor, FollowUp, PhotoRef
from aduan_gateway.domain.model import ReportRecord, TimelineRecord
from aduan_gateway.entrypoints.api import _after_photos

AT = datetime(2026, 11, 3, 8, 0, tzinfo=UTC)
CREW = Actor(id="crew-1", role=Role.AGENCY_OFFICER, agency_id="dbm")


def photo(n: int) -> PhotoRef:
    return PhotoRef(sha256=f"{n:064x}", content_type="image/jpeg", size_bytes=100)


def step(version: int, status: ReportStatus, follow_up: FollowUp | None = None) -> TimelineRecord:
    return TimelineRecord(
        version=version,
        status=status,
        occurred_at=AT,
        actor_role=Role.AGENCY_OFFICER,
        follow_up=follow_up,
    )


def tl(n: int) -> FollowUp:
    return FollowUp(follow_up_id=uuid4(), note=f"TL {n}", photos=(photo(n),), officer=CREW)


def record(status: ReportStatus, *timeline: TimelineRecord) -> ReportRecord:
    return ReportRecord(
        report_id=uuid4(),
        channel=Channel.WEB,
        privacy=Privacy.PUBLIC,
        has_content=True,
        photos=(photo(1),),  # the citizen's
        received_at=AT,
        status=status,
        timeline=timeline,
    )


def test_only_the_completing_follow_ups_photos_are_public() -> None:
    done = record(
        ReportStatus.COMPLETED,
        step(3, ReportStatus.AWAITING_VALIDATION, tl(2)),
        step(4, ReportStatus.FOLLOWUP_REJECTED),
        step(5, ReportStatus.IN_PROGRESS),
        step(6, ReportStatus.AWAITING_VALIDATION, tl(3)),
        step(7, ReportStatus.COMPLETED),
    )
    assert _after_photos(done) == (photo(3),)


def test_nothing_is_public_before_completion_or_without_a_follow_up() -> None:
    waiting = record(
        ReportStatus.AWAITING_VALIDATION, step(3, ReportStatus.AWAITING_VALIDATION, tl(2))
    )
    assert _after_photos(waiting) == ()
    assert _after_photos(record(ReportStatus.COMPLETED, step(2, ReportStatus.COMPLETED))) == ()
