"""What each role may see of a report: one response model per audience, and the rule that
picks it (SPEC "Privacy by default", rules 2-6).

- `public` (portal, Open311, export; no login): public reports only; scrubbed text, month,
  area, no people, no photos.
- `validator`, `ticket-admin`, `administrator` ("full" roles): exact time, precise location,
  full text; the reporter only as a stable pseudonym.
- `agency-officer`: only reports dispatched to their own agency; month and area, scrubbed
  text; the reporter as the same pseudonym.
- `reporter`: their own reports in full (what they gave us), no officer names.
Photos (of the report and of its follow-ups) come only when the caller's photo access was
decided `allowed` (rule 3: see `photos_allowed`). Each model's field names are its role's
allow-list: a view cannot carry a field its model does not declare.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from aduan_contracts.enums import Channel, Privacy, ReportStatus, Role, SlaStage
from aduan_contracts.events import AutoRoute
from aduan_contracts.values import EvidenceCheck, GeoPoint, Location, PhotoRef
from aduan_gateway.domain.model import (
    EscalationRecord,
    PublicText,
    ReportRecord,
    TimelineRecord,
)
from aduan_gateway.domain.redaction import (
    HIDDEN,
    Terms,
    coarse_area,
    coarse_month,
    confidentiality_label,
    prepare_terms,
    pseudonym,
    public_area_code,
    public_from_officer,
    scrub_officer_text,
)

__all__ = [
    "FULL_ACCESS_ROLES",
    "OFFICER_ROLES",
    "STAGES_BY_ROLE",
    "AgencyReportView",
    "AgencyTimelineEntry",
    "FollowUpView",
    "FullReportView",
    "FullTimelineEntry",
    "LocationView",
    "OfficerReportView",
    "PublicReportView",
    "PublicTimelineView",
    "ReporterFollowUpView",
    "ReporterReportView",
    "ReporterTimelineEntry",
    "SlaBadge",
    "coarse_point",
    "officer_photos",
    "officer_text",
    "officer_texts",
    "officer_view",
    "photos_allowed",
    "public_of",
    "public_text",
    "public_view",
    "reporter_pseudonym",
    "reporter_view",
    "sla_state",
    "visible_to_officer",
]

SlaBadge = Literal["overdue", "due_soon"]
# "Due soon" is the simplest honest rule: the deadline falls within the next 24 hours.
DUE_SOON = timedelta(hours=24)
# 0.01 degree is about 1.1 km north-south at the equator: a neighbourhood, not a house.
COARSE_GRID_DEGREES = 0.01

FULL_ACCESS_ROLES = frozenset({Role.VALIDATOR, Role.TICKET_ADMIN, Role.ADMINISTRATOR})
OFFICER_ROLES = FULL_ACCESS_ROLES | {Role.AGENCY_OFFICER}

# The SLA stages each role works on: it sees only these stages' deadlines (issue 13, hole
# 3). Each clock starts when its stage starts (workflow), so an agency officer's deadlines
# tell the dispatch day, never the receipt day the triage deadline would give away.
# Administrators oversee every stage.
STAGES_BY_ROLE: dict[Role, frozenset[SlaStage]] = {
    Role.AGENCY_OFFICER: frozenset({SlaStage.DISPATCH, SlaStage.FOLLOW_UP}),
    Role.TICKET_ADMIN: frozenset({SlaStage.TRIAGE}),
    Role.VALIDATOR: frozenset({SlaStage.VALIDATION}),
    Role.ADMINISTRATOR: frozenset(SlaStage),
}


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


# --- public ----------------------------------------------------------------------------------


class PublicTimelineView(_View):
    """One step of a public report's history: status and month, no people."""

    status: ReportStatus
    label: str
    month: str
    agency_id: str | None = None


class PublicReportView(_View):
    """A public report as anyone may see it (redacted)."""

    report_id: UUID
    title: str | None
    text: str
    category: str | None
    agency_id: str | None
    status: ReportStatus
    status_label: str
    channel: Channel
    area: str | None
    month: str
    confidentiality_label: str
    timeline: tuple[PublicTimelineView, ...]
    coarse_point: GeoPoint | None = None
    # The Kemendagri code of `area` when intake was fairly sure of it (issue 19): open data
    # can be grouped by kota/kecamatan/kelurahan without matching names. Never finer than
    # the kelurahan `area` already names.
    area_code: str | None = None


# --- officers -------------------------------------------------------------------------------


class LocationView(_View):
    """Precise location (point, address) and the area: full-access roles only."""

    area: str | None = None
    address: str | None = None
    point: GeoPoint | None = None


class FollowUpView(_View):
    """A follow-up (TL) with its label and the officer who wrote it (so a leak can be
    traced); after-photos only when the caller's photo access allows."""

    follow_up_id: UUID
    confidentiality_label: str
    note: str
    officer_name: str | None
    officer_agency: str | None
    photos: tuple[PhotoRef, ...]
    photos_locked: bool
    evidence: EvidenceCheck | None


class EscalationRef(_View):
    """On a timeline entry that is an SLA escalation (issue 19): what was flagged to whom."""

    kind: Literal["reminder", "breach"]
    stage: str
    from_unit: str | None
    to_unit: str | None = Field(description="the parent unit; null: the validator bureau only")


class EscalationView(EscalationRef):
    month: str
    at: datetime | None = Field(default=None, description="full-access roles only")


class AgencyTimelineEntry(_View):
    version: int
    status: ReportStatus
    label: str
    month: str
    actor_role: Role
    actor_agency: str | None
    actor_display_name: str | None
    reason: str | None
    follow_up: FollowUpView | None
    due_at: datetime | None
    sla_stage: str | None
    # Set on an SLA escalation entry (issue 19); status then is the status at the time.
    escalation: EscalationRef | None = None
    # On an automatic dispatch: the routing rule that chose the unit (issue 19).
    route: AutoRoute | None = None


class FullTimelineEntry(AgencyTimelineEntry):
    occurred_at: datetime
    field_result: str | None


class AgencyReportView(_View):
    """A report as an officer of the assigned agency sees it: the month (never the exact
    time), where the problem is (point, address, area: SPEC Revision 2), the officer text,
    photos without their capture time or position, the reporter as a pseudonym."""

    access: Literal["agency"] = "agency"
    report_id: UUID
    channel: Channel
    privacy: Privacy
    confidentiality_label: str
    title: str | None
    text: str
    category: str | None
    agency_id: str | None
    status: ReportStatus
    status_label: str
    status_version: int
    month: str
    area: str | None
    # Where the problem is (SPEC Revision 2: a field crew must find the pothole).
    location: LocationView | None
    reporter: str | None
    photos: tuple[PhotoRef, ...]
    photos_locked: bool
    timeline: tuple[AgencyTimelineEntry, ...]
    sla_stage: str | None = None
    due_at: datetime | None = None
    sla_badge: SlaBadge | None = None
    unit_id: str | None = None
    escalations: tuple[EscalationView, ...] = ()
    escalated_to_me: bool = False


class FullReportView(_View):
    """A report as a validator, ticket-admin or administrator sees it (rule 6: exact time
    and precise location), the officer text (SPEC Revision 2: the reporter's own values
    hidden), the reporter only as a pseudonym (rule 5)."""

    access: Literal["full"] = "full"
    report_id: UUID
    receipt_code: str | None
    channel: Channel
    privacy: Privacy
    confidentiality_label: str
    title: str | None
    text: str
    category: str | None
    agency_id: str | None
    status: ReportStatus
    status_label: str
    status_version: int
    month: str
    received_at: datetime
    location: LocationView | None
    reporter: str | None
    photos: tuple[PhotoRef, ...]
    photos_locked: bool
    timeline: tuple[FullTimelineEntry, ...]
    sla_stage: str | None = None
    due_at: datetime | None = None
    sla_badge: SlaBadge | None = None
    unit_id: str | None = None
    escalations: tuple[EscalationView, ...] = ()
    escalated_to_me: bool = False


OfficerReportView = FullReportView | AgencyReportView


# --- reporters ------------------------------------------------------------------------------


class ReporterFollowUpView(_View):
    confidentiality_label: str
    note: str
    photos: tuple[PhotoRef, ...]


class ReporterTimelineEntry(_View):
    status: ReportStatus
    label: str
    occurred_at: datetime
    reason: str | None
    follow_up: ReporterFollowUpView | None


class ReporterReportView(_View):
    """The reporter's own report, as they gave it, with what happened since."""

    access: Literal["reporter"] = "reporter"
    report_id: UUID
    receipt_code: str | None
    channel: Channel
    privacy: Privacy
    confidentiality_label: str
    title: str | None
    text: str
    category: str | None
    agency_id: str | None
    status: ReportStatus
    status_label: str
    status_version: int
    received_at: datetime
    location: LocationView | None
    photos: tuple[PhotoRef, ...]
    timeline: tuple[ReporterTimelineEntry, ...]


# --- rules ----------------------------------------------------------------------------------


def officer_text(title: str | None, text: str | None, terms: tuple[str, ...] | Terms) -> PublicText:
    """The title and text every officer role reads (SPEC Revision 2): the reporter's own
    values (`terms`, in any format) and every phone number, e-mail and NIK hidden. Computed
    by the consumers with the public text (`public_of`), and stored."""
    terms = prepare_terms(terms)  # once for the title and the text
    return PublicText(
        title=scrub_officer_text(title, terms) if title else None,
        text=scrub_officer_text(text or "", terms),
    )


def public_of(officer: PublicText) -> PublicText:
    """The public title and text made from the officer level's (`officer_text`): what
    `public_text` gives for the same title, text and terms, without hiding the reporter's
    values a second time."""
    return PublicText(
        title=public_from_officer(officer.title) if officer.title else None,
        text=public_from_officer(officer.text),
    )


def public_text(title: str | None, text: str | None, terms: tuple[str, ...] | Terms) -> PublicText:
    """The public title and text: the reporter's `terms` and every contact, ID number and
    plate hidden. Computed by the consumers when content, key or erasure change, and stored."""
    return public_of(officer_text(title, text, terms))


def public_view(record: ReportRecord) -> PublicReportView | None:
    """The public view, or None when the public may not see this report at all (private,
    not complete yet, or rejected). The text is the stored redaction when the record
    carries it (the read model), else it is redacted here from the reporter's terms."""
    if (
        record.privacy is not Privacy.PUBLIC
        or not record.complete
        or record.status is ReportStatus.REJECTED
        # A ticket-admin hid it (moderation).
        or record.public_hidden
        # The reporter's name could not be hidden in text yet (their key has not arrived):
        # published once it has (the key's arrival projects the report again).
        or record.identity_pending
    ):
        return None
    assert record.status is not None  # complete
    assert record.received_at is not None
    shown = record.public_text or public_text(record.title, record.text, record.reporter_terms)
    return PublicReportView(
        report_id=record.report_id,
        title=shown.title,
        text=shown.text,
        category=record.shown_category,
        agency_id=record.agency_id,
        status=record.status,
        status_label=record.status.label_id,
        channel=record.channel,
        area=coarse_area(record.location),
        area_code=public_area_code(record.location),
        month=coarse_month(record.received_at),
        confidentiality_label=confidentiality_label(record.privacy),
        coarse_point=coarse_point(record.location),
        timeline=tuple(
            PublicTimelineView(
                status=t.status,
                label=t.status.label_id,
                month=coarse_month(t.occurred_at),
                agency_id=t.agency_id,
            )
            for t in record.timeline
        ),
    )


def coarse_point(location: Location | None) -> GeoPoint | None:
    """The point snapped to the 0.01 degree grid (rule 6: never the precise location)."""
    if location is None or location.point is None:
        return None
    return GeoPoint(
        lat=round(round(location.point.lat / COARSE_GRID_DEGREES) * COARSE_GRID_DEGREES, 2),
        lon=round(round(location.point.lon / COARSE_GRID_DEGREES) * COARSE_GRID_DEGREES, 2),
    )


def sla_state(
    record: ReportRecord, now: datetime | None = None, role: Role = Role.ADMINISTRATOR
) -> tuple[str | None, datetime | None, SlaBadge | None]:
    """(stage, deadline, badge) of the clock that runs now, when `role` works on that stage
    (else all None). Workflow sends the running stage with the nearest deadline on every
    transition, so the latest step's values are the current ones; none there means no
    clock runs (completed, rejected, merged)."""
    if not record.timeline:
        return None, None, None
    latest = max(record.timeline, key=lambda t: t.version)
    fields = _extra_fields(latest, role)
    stage, due = fields["sla_stage"], fields["due_at"]
    if due is None:
        return stage, None, None
    now = now or datetime.now(UTC)
    badge: SlaBadge | None = None
    if due <= now:
        badge = "overdue"
    elif due - now <= DUE_SOON:
        badge = "due_soon"
    return stage, due, badge


# An agency officer's read scope (issue 19, D19): their unit id, or the set of units they
# read (their unit; a unit head's, with every sub-unit: `Principal.scope`).
Scope = str | frozenset[str] | None


def in_scope(agency_id: str | None, scope: Scope) -> bool:
    """Whether a report assigned to `agency_id` lies in an agency officer's scope. No
    unit, no report: an officer without one (or a report without one) never matches."""
    if agency_id is None or scope is None:
        return False
    if isinstance(scope, str):
        return agency_id == scope
    return agency_id in scope


def escalated_to(record: ReportRecord, scope: Scope) -> bool:
    """Whether an escalation of the report's current stay was flagged to a unit in scope
    (the parent unit's officers read such reports; acting stays with the assigned unit)."""
    return any(
        e.to_unit is not None and in_scope(e.to_unit, scope) for e in record.current_escalations
    )


def visible_to_officer(record: ReportRecord, role: Role, agency_id: Scope) -> bool:
    """May this officer see the report at all? (Not: which fields.) `agency_id` is the
    officer's scope: one unit, or the units they read."""
    if role in FULL_ACCESS_ROLES:
        return record.has_content
    if role is Role.AGENCY_OFFICER:
        # An officer without an agency sees nothing rather than everything unassigned.
        return record.has_content and (
            in_scope(record.agency_id, agency_id) or escalated_to(record, agency_id)
        )
    return False


def photos_allowed(record: ReportRecord, role: Role, agency_id: Scope, granted: bool) -> bool:
    """Rule 3: a private report's photos only with an active grant to this very person; a
    public report's photos for full-access roles and the assigned agency (who must see the
    pothole to fix it), or with a grant."""
    if granted:
        return True
    if record.privacy is Privacy.PRIVATE:
        return False
    # The assigned unit's line (a head's sub-units included), not a unit that only
    # received an escalation.
    return role in FULL_ACCESS_ROLES or (
        role is Role.AGENCY_OFFICER and in_scope(record.agency_id, agency_id)
    )


def follow_up_photos_allowed(
    record: ReportRecord,
    role: Role,
    agency_id: Scope,
    granted: bool,
    uploaded_by_agency: str | None,
) -> bool:
    """Follow-up (TL) photos are the agency's evidence (SPEC Revision 2): the uploading
    agency's officers and validators (who judge them) see them; anyone else as the
    report's own photos (rule 3)."""
    if role is Role.VALIDATOR:
        return True
    if role is Role.AGENCY_OFFICER and in_scope(uploaded_by_agency, agency_id):
        return True
    return photos_allowed(record, role, agency_id, granted)


def reporter_pseudonym(record: ReportRecord, secret: str) -> str | None:
    key_id = record.reporter_key_id or (
        record.sealed_identity.key_id if record.sealed_identity else None
    )
    return pseudonym(secret, str(key_id)) if key_id is not None else None


def _follow_up(
    entry: TimelineRecord, label: str, photos_ok: bool, tl_photos_ok: Callable[[str | None], bool]
) -> FollowUpView | None:
    fu = entry.follow_up
    if fu is None:
        return None
    photos_ok = photos_ok or tl_photos_ok(fu.officer.agency_id)
    return FollowUpView(
        follow_up_id=fu.follow_up_id,
        confidentiality_label=label,
        note=fu.note,
        officer_name=fu.officer.display_name,
        officer_agency=fu.officer.agency_id,
        photos=fu.photos if photos_ok else (),
        photos_locked=bool(fu.photos) and not photos_ok,
        evidence=fu.evidence,
    )


def _extra_fields(entry: TimelineRecord, role: Role) -> dict[str, Any]:
    """The step's deadline and stage, when `role` works on that stage (`STAGES_BY_ROLE`)."""
    due = entry.extra.get("due_at")
    stage = entry.extra.get("sla_stage")
    # Administrators oversee every stage (also one a newer workflow adds); anyone else
    # sees a stage's deadline only when it is one of theirs.
    if (
        stage is not None
        and role is not Role.ADMINISTRATOR
        and stage not in STAGES_BY_ROLE.get(role, frozenset())
    ):
        return {"due_at": None, "sla_stage": None}
    return {
        "due_at": datetime.fromisoformat(due) if isinstance(due, str) else None,
        "sla_stage": stage,
    }


def officer_photos(photos: tuple[PhotoRef, ...], role: Role) -> tuple[PhotoRef, ...]:
    """A report's photos as an officer gets them (issue 13, hole 2). Never the position
    read from the photo: it is where the photographer stood (a window at home as often as
    the pothole); the problem's own point is the report's location, which the assigned
    agency and the full roles see. The capture time only for roles that may see exact
    times (rule 6: not agency officers, who see the month). The evidence check that used
    both ran in workflow; its verdict stays on the follow-up."""
    hide_time = role not in FULL_ACCESS_ROLES
    return tuple(
        p.model_copy(update={"point": None, **({"taken_at": None} if hide_time else {})})
        for p in photos
    )


def officer_texts(record: ReportRecord) -> PublicText:
    """The stored officer text; withheld while the reporter's key has not arrived (their
    values cannot be hidden yet); computed here for records not read from the tables."""
    if record.identity_pending:
        return PublicText(title=HIDDEN if record.title else None, text=HIDDEN)
    if record.officer_text is not None:
        return record.officer_text
    return officer_text(record.title, record.text, record.reporter_terms)


def officer_view(
    record: ReportRecord,
    role: Role,
    agency_id: Scope,
    pseudonym_secret: str,
    granted: bool = False,
) -> OfficerReportView | None:
    """The view for an officer, or None when they may not see this report (the caller
    answers 404 then, so a report's existence does not leak across agencies)."""
    if not visible_to_officer(record, role, agency_id) or record.status is None:
        return None
    assert record.received_at is not None  # has_content
    label = confidentiality_label(record.privacy)
    photos_ok = photos_allowed(record, role, agency_id, granted)
    photos = officer_photos(record.photos, role) if photos_ok else ()

    def tl_ok(uploaded_by: str | None) -> bool:
        return follow_up_photos_allowed(record, role, agency_id, granted, uploaded_by)

    stage, due, badge = sla_state(record, role=role)
    texts = officer_texts(record)
    loc = record.location
    common: dict[str, Any] = {
        "report_id": record.report_id,
        "channel": record.channel,
        "privacy": record.privacy,
        "confidentiality_label": label,
        "title": texts.title,
        "text": texts.text,
        "category": record.shown_category,
        "agency_id": record.agency_id,
        "status": record.status,
        "status_label": record.status.label_id,
        "status_version": record.status_version,
        "month": coarse_month(record.received_at),
        "reporter": reporter_pseudonym(record, pseudonym_secret),
        "photos": photos,
        "photos_locked": bool(record.photos) and not photos_ok,
        "sla_stage": stage,
        "due_at": due,
        "sla_badge": badge,
        # Where the problem is: the full roles (rule 6) and, by SPEC Revision 2, the
        # assigned agency's crew, who must find it.
        "location": LocationView(area=loc.area, address=loc.address, point=loc.point)
        if loc is not None
        else None,
    }
    full = role in FULL_ACCESS_ROLES
    current = record.current_escalations
    common |= {
        "unit_id": record.agency_id,
        "escalations": tuple(
            EscalationView(
                kind=e.kind,
                stage=e.stage,
                from_unit=e.from_unit,
                to_unit=e.to_unit,
                month=coarse_month(e.at),
                at=e.at if full else None,
            )
            for e in current
        ),
        # The bureau (full-access roles) is flagged every breach; a unit, what was flagged
        # to it (or, for a head, to a unit below them).
        "escalated_to_me": any(e.kind == "breach" for e in current)
        if full
        else escalated_to(record, agency_id),
    }
    if full:
        # The agency's entry widened: its fields taken as they are (the instance's
        # `__dict__`; a `model_dump()` turned every nested model into a dict only to
        # validate it back, and `dict(model)` first looks for a `keys` attribute, which
        # pydantic answers through its slow missing-attribute path; issue 18).
        entries: list[Any] = [
            FullTimelineEntry(
                **_agency_entry(t, label, photos_ok, role, record.reporter_terms, tl_ok).__dict__,
                occurred_at=t.occurred_at,
                field_result=t.extra.get("field_result"),
            )
            for t in record.timeline
        ]
        escalation_entries: list[Any] = [
            FullTimelineEntry(
                **_escalation_entry(e, record).__dict__,
                occurred_at=e.at,
                field_result=None,
            )
            for e in current
        ]
    else:
        entries = [
            _agency_entry(t, label, photos_ok, role, record.reporter_terms, tl_ok)
            for t in record.timeline
        ]
        escalation_entries = [_escalation_entry(e, record) for e in current]
    timeline = _with_escalations(entries, escalation_entries)
    if full:
        return FullReportView(
            **common,
            receipt_code=record.receipt_code,
            received_at=record.received_at,
            timeline=tuple(timeline),
        )
    return AgencyReportView(**common, area=coarse_area(record.location), timeline=tuple(timeline))


def _with_escalations(entries: list[Any], escalations: list[Any]) -> list[Any]:
    """Each escalation entry right after the step that was current when it was flagged
    (stable: steps by version, escalations in the order flagged)."""
    if not escalations:
        return entries
    keyed = [((e.version, 0, i), e) for i, e in enumerate(entries)]
    keyed += [((e.version, 1, i), e) for i, e in enumerate(escalations)]
    return [e for _, e in sorted(keyed, key=lambda k: k[0])]


def _escalation_entry(e: EscalationRecord, record: ReportRecord) -> AgencyTimelineEntry:
    # The status the report had when flagged: the step it follows.
    status = next(
        (t.status for t in reversed(record.timeline) if t.version <= e.after_version),
        record.status or ReportStatus.RECEIVED,
    )
    return AgencyTimelineEntry(
        version=e.after_version,
        status=status,
        label=status.label_id,
        month=coarse_month(e.at),
        actor_role=Role.SYSTEM,
        actor_agency=None,
        actor_display_name=None,
        reason=e.note,
        follow_up=None,
        due_at=None,
        sla_stage=None,
        escalation=EscalationRef(
            kind=e.kind,
            stage=e.stage,
            from_unit=e.from_unit,
            to_unit=e.to_unit,
        ),
    )


def _agency_entry(
    entry: TimelineRecord,
    label: str,
    photos_ok: bool,
    role: Role,
    terms: tuple[str, ...] = (),
    tl_photos_ok: Callable[[str | None], bool] = lambda _: False,
) -> AgencyTimelineEntry:
    # A reason (a return, a rejection) may quote the reporter: scrubbed for every officer.
    reason = scrub_officer_text(entry.reason, terms) if entry.reason else entry.reason
    return AgencyTimelineEntry(
        version=entry.version,
        status=entry.status,
        label=entry.status.label_id,
        month=coarse_month(entry.occurred_at),
        actor_role=entry.actor_role,
        actor_agency=entry.actor_agency,
        actor_display_name=entry.actor_display_name,
        reason=reason,
        follow_up=_follow_up(entry, label, photos_ok, tl_photos_ok),
        route=_route(entry),
        **_extra_fields(entry, role),
    )


def _route(entry: TimelineRecord) -> AutoRoute | None:
    raw = entry.extra.get("route")
    if not isinstance(raw, dict):
        return None
    try:
        return AutoRoute.model_validate(raw)
    except ValueError:
        # Written by a newer workflow with fields this gateway does not know: no route
        # rather than a failed read.
        return None


def reporter_view(record: ReportRecord) -> ReporterReportView | None:
    """The reporter's own report (the caller has checked ownership)."""
    if not record.complete:
        return None
    assert record.status is not None and record.received_at is not None
    label = confidentiality_label(record.privacy)
    loc = record.location
    return ReporterReportView(
        report_id=record.report_id,
        receipt_code=record.receipt_code,
        channel=record.channel,
        privacy=record.privacy,
        confidentiality_label=label,
        title=record.title,
        text=record.text or "",
        category=record.shown_category,
        agency_id=record.agency_id,
        status=record.status,
        status_label=record.status.label_id,
        status_version=record.status_version,
        received_at=record.received_at,
        location=LocationView(area=loc.area, address=loc.address, point=loc.point)
        if loc is not None
        else None,
        photos=record.photos,
        timeline=tuple(
            ReporterTimelineEntry(
                status=t.status,
                label=t.status.label_id,
                occurred_at=t.occurred_at,
                reason=t.reason,
                follow_up=ReporterFollowUpView(
                    confidentiality_label=label,
                    note=t.follow_up.note,
                    photos=t.follow_up.photos,
                )
                if t.follow_up is not None
                else None,
            )
            for t in record.timeline
        ),
    )
