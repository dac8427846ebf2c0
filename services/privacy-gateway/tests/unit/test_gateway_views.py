"""Which view each role gets, and what is in it; the public projection."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from aduan_contracts.enums import Channel, Privacy, ReportStatus, Role
from aduan_contracts.events import PublicReportPublished, PublicReportWithdrawn
from aduan_contracts.values import Actor, FollowUp, GeoPoint, Location, PhotoRef, SealedIdentity
from aduan_gateway.domain.model import ReportRecord, TimelineRecord
from aduan_gateway.domain.projection import public_event, public_id_of
from aduan_gateway.domain.redaction import PUBLIC_LABEL, pseudonym
from aduan_gateway.domain.views import (
    AgencyReportView,
    FullReportView,
    officer_view,
    photos_allowed,
    public_view,
    reporter_view,
)

SECRET = "pseudonym-secret-for-unit-tests-0123456789"
RECEIVED = datetime(2024, 5, 17, 9, 31, 12, tzinfo=UTC)
KEY_ID = uuid4()
PHOTO = PhotoRef(sha256="a" * 64, content_type="image/jpeg", size_bytes=10)


def record(**overrides: object) -> ReportRecord:
    base = ReportRecord(
        report_id=uuid4(),
        channel=Channel.WHATSAPP,
        receipt_code="ADU-AB12-CD34",
        privacy=Privacy.PUBLIC,
        has_content=True,
        title="Jalan berlubang",
        text="Lubang besar, hubungi 0812-3456-7890. Mobil B 1234 XYZ terperosok.",
        category_hint="jalan",
        category="jalan-rusak",
        agency_id="dbm",
        location=Location(
            point=GeoPoint(lat=-6.19512, lon=106.82311), address="Jl. Melati 5", area="Menteng"
        ),
        photos=(PHOTO,),
        received_at=RECEIVED,
        status=ReportStatus.DISPATCHED,
        status_version=2,
        sealed_identity=SealedIdentity(key_id=KEY_ID, nonce="A" * 16, ciphertext="xyz"),
        timeline=(
            TimelineRecord(1, ReportStatus.RECEIVED, RECEIVED, Role.SYSTEM),
            TimelineRecord(
                2,
                ReportStatus.DISPATCHED,
                datetime(2024, 6, 2, tzinfo=UTC),
                Role.TICKET_ADMIN,
                agency_id="dbm",
                actor_display_name="Admin Ani",
                reason="jalan kota",
            ),
        ),
    )
    return replace(base, **overrides)  # type: ignore[arg-type]


def test_public_view_is_redacted() -> None:
    view = public_view(record())
    assert view is not None
    dumped = view.model_dump_json()
    assert "0812" not in dumped
    assert "B 1234 XYZ" not in dumped
    assert "Jl. Melati" not in dumped
    assert "-6.195" not in dumped and "106.823" not in dumped
    # Only the point snapped to the 0.01 degree grid (rule 6), for the public map.
    assert view.coarse_point == GeoPoint(lat=-6.2, lon=106.82)
    assert "Admin Ani" not in dumped
    assert "09:31" not in dumped
    assert "ADU-AB12-CD34" not in dumped
    assert view.month == "2024-05"
    assert view.area == "Menteng"
    assert view.status_label == "Disposisi"
    assert view.confidentiality_label == PUBLIC_LABEL
    assert [t.month for t in view.timeline] == ["2024-05", "2024-06"]
    assert view.timeline[1].agency_id == "dbm"


@pytest.mark.parametrize(
    "changes",
    [
        {"privacy": Privacy.PRIVATE},
        {"status": None, "status_version": 0},
        {"has_content": False, "text": None, "received_at": None},
        {"status": ReportStatus.REJECTED},
    ],
)
def test_public_view_refused(changes: dict[str, object]) -> None:
    assert public_view(record(**changes)) is None


@pytest.mark.parametrize("role", [Role.VALIDATOR, Role.TICKET_ADMIN, Role.ADMINISTRATOR])
def test_full_roles_see_exact_details_but_only_a_pseudonym(role: Role) -> None:
    view = officer_view(record(), role, None, SECRET)
    assert isinstance(view, FullReportView)
    assert view.received_at == RECEIVED
    assert view.location is not None
    assert view.location.point == GeoPoint(lat=-6.19512, lon=106.82311)
    # SPEC Revision 2: every officer role reads the text with phones, e-mails, NIKs and the
    # reporter's own values hidden; a plate stays (a parking officer needs it).
    assert "0812" not in view.text and "B 1234 XYZ" in view.text
    assert view.reporter == pseudonym(SECRET, str(KEY_ID))
    assert view.photos == (PHOTO,)  # a public report's photos are not locked
    assert view.timeline[1].actor_display_name == "Admin Ani"
    assert view.timeline[1].occurred_at is not None
    dumped = view.model_dump_json()
    assert "ciphertext" not in dumped
    assert "xyz" not in dumped


def test_private_photos_locked_even_for_validator() -> None:
    view = officer_view(record(privacy=Privacy.PRIVATE), Role.VALIDATOR, None, SECRET)
    assert view is not None
    assert view.photos == ()
    assert view.photos_locked
    assert view.confidentiality_label == "Privat"


def test_a_grant_unlocks_private_photos_and_follow_up_photos() -> None:
    after = PhotoRef(sha256="b" * 64, content_type="image/jpeg", size_bytes=20)
    fu = FollowUp(
        follow_up_id=uuid4(),
        note="Sudah ditambal",
        photos=(after,),
        officer=Actor(id="o1", role=Role.AGENCY_OFFICER, agency_id="dbm", display_name="Sari"),
    )
    rec = record(
        privacy=Privacy.PRIVATE,
        timeline=(
            TimelineRecord(1, ReportStatus.RECEIVED, RECEIVED, Role.SYSTEM),
            TimelineRecord(
                2,
                ReportStatus.AWAITING_VALIDATION,
                RECEIVED,
                Role.AGENCY_OFFICER,
                agency_id="dbm",
                follow_up=fu,
            ),
        ),
    )
    assert rec.all_photos == (PHOTO, after)
    # The citizen's photo is locked for the agency; its own follow-up photo is not (SPEC
    # Revision 2: the TL photos are the uploading agency's evidence).
    own = officer_view(rec, Role.AGENCY_OFFICER, "dbm", SECRET)
    assert own is not None and own.photos == () and own.photos_locked
    entry = own.timeline[1].follow_up
    assert entry is not None
    assert entry.photos == (after,) and not entry.photos_locked
    assert entry.confidentiality_label == "Privat"  # rule 2 on every follow-up
    assert entry.officer_name == "Sari"
    # Validators judge the evidence: the follow-up photo, not the citizen's.
    judge = officer_view(rec, Role.VALIDATOR, None, SECRET)
    assert judge is not None and judge.photos == () and judge.photos_locked
    assert judge.timeline[1].follow_up is not None
    assert judge.timeline[1].follow_up.photos == (after,)
    # Nobody else: the ticket-admin and the administrator see it locked.
    for role in (Role.TICKET_ADMIN, Role.ADMINISTRATOR):
        other = officer_view(rec, role, None, SECRET)
        assert other is not None and other.timeline[1].follow_up is not None
        fu_view = other.timeline[1].follow_up
        assert fu_view.photos == () and fu_view.photos_locked
    granted = officer_view(rec, Role.AGENCY_OFFICER, "dbm", SECRET, granted=True)
    assert granted is not None and granted.photos == (PHOTO,) and not granted.photos_locked
    assert granted.timeline[1].follow_up is not None
    assert granted.timeline[1].follow_up.photos == (after,)


def test_photo_rule() -> None:
    private, public = record(privacy=Privacy.PRIVATE), record()
    for role in (Role.VALIDATOR, Role.TICKET_ADMIN, Role.ADMINISTRATOR):
        assert not photos_allowed(private, role, None, granted=False)
        assert photos_allowed(private, role, None, granted=True)
        assert photos_allowed(public, role, None, granted=False)
    assert not photos_allowed(private, Role.AGENCY_OFFICER, "dbm", granted=False)
    assert photos_allowed(public, Role.AGENCY_OFFICER, "dbm", granted=False)
    assert not photos_allowed(public, Role.AGENCY_OFFICER, "dlh", granted=False)


def test_reporter_view_is_their_report_in_full_without_officer_names() -> None:
    view = reporter_view(record(privacy=Privacy.PRIVATE))
    assert view is not None
    assert view.received_at == RECEIVED
    assert view.location is not None and view.location.address == "Jl. Melati 5"
    assert view.photos == (PHOTO,)
    assert view.confidentiality_label == "Privat"
    assert "Admin Ani" not in view.model_dump_json()


def test_agency_officer_of_the_agency_gets_coarse_view() -> None:
    view = officer_view(record(privacy=Privacy.PRIVATE), Role.AGENCY_OFFICER, "dbm", SECRET)
    assert isinstance(view, AgencyReportView)
    dumped = view.model_dump()
    # Not hidden as null: the agency's model has no such fields at all.
    assert not {"received_at", "receipt_code"} & set(dumped)
    assert all("occurred_at" not in t for t in dumped["timeline"])
    assert view.month == "2024-05"
    assert view.area == "Menteng"
    # SPEC Revision 2: the crew must find the problem, so its point and address.
    assert view.location is not None
    assert view.location.point == GeoPoint(lat=-6.19512, lon=106.82311)
    assert view.location.address == "Jl. Melati 5"
    assert view.photos == ()
    assert "0812" not in view.text
    assert "09:31" not in view.model_dump_json()
    assert view.reporter == pseudonym(SECRET, str(KEY_ID))


@pytest.mark.parametrize(
    ("role", "agency"),
    [
        (Role.AGENCY_OFFICER, "dlh"),  # another agency
        (Role.AGENCY_OFFICER, None),  # officer without an agency
        (Role.PUBLIC, None),
        (Role.REPORTER, None),
        (Role.SYSTEM, None),
    ],
)
def test_officer_view_refused(role: Role, agency: str | None) -> None:
    assert officer_view(record(), role, agency, SECRET) is None


def test_officer_view_waits_for_content_and_status() -> None:
    assert officer_view(record(has_content=False), Role.VALIDATOR, None, SECRET) is None
    assert officer_view(record(status=None), Role.VALIDATOR, None, SECRET) is None


def test_reporter_without_identity_has_no_pseudonym() -> None:
    view = officer_view(record(sealed_identity=None), Role.VALIDATOR, None, SECRET)
    assert view is not None
    assert view.reporter is None
    # After erasure the sealed copy is gone but the key id keeps the pseudonym stable.
    kept = officer_view(
        record(sealed_identity=None, reporter_key_id=KEY_ID), Role.VALIDATOR, None, SECRET
    )
    assert kept is not None and kept.reporter == pseudonym(SECRET, str(KEY_ID))
    view = officer_view(record(sealed_identity=None), Role.VALIDATOR, None, SECRET)
    assert view is not None
    assert view.reporter is None


@pytest.mark.parametrize(
    ("how", "confidence", "published"),
    [
        ("code", 1.0, "31.71.06.1001"),  # picked from the list
        ("name", 0.56, "31.71.06.1001"),
        ("text", 0.4, None),  # a guess from the complaint's words is not shown as fact
        (None, None, None),  # nothing resolved
    ],
)
def test_projection_publishes_the_area_code_only_when_fairly_sure(
    how: str | None, confidence: float | None, published: str | None
) -> None:
    location = Location(
        area="Menteng",
        address="Jl. Melati 5",
        area_code="31.71.06.1001" if how else None,
        area_how=how,  # type: ignore[arg-type]
        area_confidence=confidence,
    )
    event = public_event(record(location=location), "cid")
    assert isinstance(event, PublicReportPublished)
    assert event.area_code == published
    # The public area is the list's name when the code is shown, else the typed words.
    assert event.area == ("Menteng, Kec. Menteng, Kota Jakarta Pusat" if published else "Menteng")
    assert "Melati" not in event.model_dump_json()


def test_projection_publishes_public_reports_only() -> None:
    event = public_event(record(), "cid", "cause")
    assert isinstance(event, PublicReportPublished)
    # A short id to read aloud and put in a URL, the same for every projection of it.
    assert event.public_id == public_id_of(event.report_id)
    assert re.fullmatch(r"P-[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}", event.public_id)
    assert "0812" not in event.text
    assert event.month == "2024-05"
    assert event.area == "Menteng"
    assert event.status_label == ReportStatus.DISPATCHED.label_id
    assert event.confidentiality_label == PUBLIC_LABEL
    assert [t.status for t in event.timeline] == [ReportStatus.RECEIVED, ReportStatus.DISPATCHED]
    assert event.correlation_id == "cid"
    assert event.coarse_point == GeoPoint(lat=-6.2, lon=106.82)
    assert "106.82311" not in event.model_dump_json()
    assert public_event(record(privacy=Privacy.PRIVATE), "cid") is None
    assert public_event(record(status=None), "cid") is None


def test_projection_withdraws_rejected_and_times_completion() -> None:
    rejected = public_event(record(status=ReportStatus.REJECTED), "cid")
    assert isinstance(rejected, PublicReportWithdrawn)
    done = record(
        status=ReportStatus.COMPLETED,
        timeline=(
            TimelineRecord(1, ReportStatus.RECEIVED, RECEIVED, Role.SYSTEM),
            TimelineRecord(
                2,
                ReportStatus.COMPLETED,
                datetime(2024, 5, 18, 21, 31, 12, tzinfo=UTC),
                Role.VALIDATOR,
            ),
        ),
    )
    completed = public_event(done, "cid")
    assert isinstance(completed, PublicReportPublished)
    assert completed.completed_hours == 36.0


# --- photo metadata (issue 13, hole 2) -------------------------------------------------------

TAKEN = datetime(2024, 5, 17, 7, 2, 41, tzinfo=UTC)
AT_HOME = GeoPoint(lat=-6.20011, lon=106.83013)  # where the photographer stood
MARKED = PhotoRef(
    sha256="c" * 64, content_type="image/jpeg", size_bytes=10, taken_at=TAKEN, point=AT_HOME
)


def test_agency_officers_get_photos_without_capture_time_or_position() -> None:
    view = officer_view(record(photos=(MARKED,)), Role.AGENCY_OFFICER, "dbm", SECRET)
    assert view is not None and len(view.photos) == 1
    assert view.photos[0].sha256 == MARKED.sha256
    assert view.photos[0].taken_at is None and view.photos[0].point is None
    dumped = view.model_dump_json()
    assert "07:02" not in dumped and "-6.20011" not in dumped and "106.83013" not in dumped


@pytest.mark.parametrize("role", [Role.VALIDATOR, Role.TICKET_ADMIN, Role.ADMINISTRATOR])
def test_full_roles_get_capture_time_but_not_the_photographers_position(role: Role) -> None:
    view = officer_view(record(photos=(MARKED,)), role, None, SECRET)
    assert view is not None
    assert view.photos[0].taken_at == TAKEN  # they may see exact times (rule 6)
    assert view.photos[0].point is None
    assert "-6.20011" not in view.model_dump_json()


def test_the_reporter_keeps_their_own_photo_metadata() -> None:
    view = reporter_view(record(photos=(MARKED,)))
    assert view is not None and view.photos == (MARKED,)


# --- deadlines (issue 13, hole 3) -----------------------------------------------------------

TRIAGE_DUE = datetime(2024, 5, 22, 9, 0, tzinfo=UTC)  # receipt day + 3 working days
FOLLOW_UP_DUE = datetime(2024, 6, 9, 9, 0, tzinfo=UTC)  # dispatch day + 5 working days


def _clocked() -> ReportRecord:
    return record(
        timeline=(
            TimelineRecord(
                1,
                ReportStatus.RECEIVED,
                RECEIVED,
                Role.SYSTEM,
                extra={"sla_stage": "triage", "due_at": TRIAGE_DUE.isoformat()},
            ),
            TimelineRecord(
                2,
                ReportStatus.DISPATCHED,
                datetime(2024, 6, 2, tzinfo=UTC),
                Role.TICKET_ADMIN,
                agency_id="dbm",
                extra={"sla_stage": "follow_up", "due_at": FOLLOW_UP_DUE.isoformat()},
            ),
        )
    )


def test_an_agency_officer_never_sees_the_triage_deadline() -> None:
    view = officer_view(_clocked(), Role.AGENCY_OFFICER, "dbm", SECRET)
    assert view is not None
    assert view.timeline[0].due_at is None and view.timeline[0].sla_stage is None
    assert "2024-05-22" not in view.model_dump_json()
    # Their own stage's deadline, counted from the dispatch.
    assert view.due_at == FOLLOW_UP_DUE and view.sla_stage == "follow_up"
    assert view.timeline[1].due_at == FOLLOW_UP_DUE


@pytest.mark.parametrize(
    ("role", "triage", "follow_up"),
    [
        (Role.TICKET_ADMIN, True, False),
        (Role.VALIDATOR, False, False),
        (Role.ADMINISTRATOR, True, True),
    ],
)
def test_each_role_sees_the_deadlines_of_its_own_stages(
    role: Role, triage: bool, follow_up: bool
) -> None:
    view = officer_view(_clocked(), role, None, SECRET)
    assert view is not None
    assert (view.timeline[0].due_at == TRIAGE_DUE) is triage
    assert (view.timeline[1].due_at == FOLLOW_UP_DUE) is follow_up
    assert (view.due_at == FOLLOW_UP_DUE) is follow_up
