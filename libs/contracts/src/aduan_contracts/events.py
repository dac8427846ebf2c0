"""Integration events: facts a service announces, named in the past tense.

Each class says who publishes it and who reads it. Every report event is keyed by report id
on Kafka so one report's history stays in order on one partition.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field

from aduan_contracts.enums import Channel, Privacy, ReportStatus, SlaStage
from aduan_contracts.envelope import Contract, Envelope
from aduan_contracts.values import (
    AREA_CODE_PATTERN,
    Actor,
    EvidenceCheck,
    FollowUp,
    GeoPoint,
    Location,
    PhotoRef,
    ReceiptCode,
    SealedContent,
    SealedIdentity,
)

__all__ = [
    "AreaRoute",
    "AutoRoute",
    "CategoryPublished",
    "CommandAccepted",
    "CommandRefused",
    "CommandReply",
    "NotificationDelivered",
    "NotificationEvent",
    "NotificationFailed",
    "PublicReportEvent",
    "PublicReportPublished",
    "PublicReportWithdrawn",
    "PublicTimelineEntry",
    "ReportAmended",
    "ReportIntakeEvent",
    "ReportStatusChanged",
    "ReportSubmitted",
    "ReporterErasureRequested",
    "ReporterKeyEvent",
    "ReporterKeyIssued",
    "ReporterKeyShredded",
    "ReporterQuestionAsked",
    "SlaBreached",
    "SlaEvent",
    "SlaReminderDue",
]


# --- intake ---------------------------------------------------------------------------------


class ReportSubmitted(Envelope):
    """A complaint normalized from any channel. Published by intake; read by workflow (to
    open the case), the privacy gateway (content for its read model) and the notifier (how to
    answer the reporter). The reporter's identity is sealed, never in clear.

    `title` and `text` are scrubbed of the reporter's own values (name, contacts, NIK, home
    address, handle, in any format) and of phone numbers, e-mails and NIKs; the title and
    text as typed travel only in `sealed_original`, sealed with the reporter's key like the
    identity, so erasure (the key destroyed) makes them unreadable in this topic too."""

    event_type: Literal["ReportSubmitted"] = "ReportSubmitted"
    report_id: UUID
    receipt_code: ReceiptCode
    channel: Channel
    channel_message_id: str = Field(min_length=1, max_length=256)
    text: str = Field(min_length=1, max_length=10000)
    title: str | None = Field(default=None, max_length=300)
    category_hint: str | None = Field(default=None, max_length=100)
    location: Location | None = None
    photos: tuple[PhotoRef, ...] = ()
    privacy: Privacy = Privacy.PRIVATE
    language: Literal["id", "en"] = "id"
    received_at: datetime
    reporter: SealedIdentity | None = None
    entered_by: Actor | None = None  # staff entry (call centre, walk-in, letter)
    sealed_original: SealedContent | None = Field(
        default=None,
        description='{"title", "text"} as the reporter typed them, sealed with the '
        "reporter's key (the same sealing as `reporter`); absent without a reporter",
    )
    follows: UUID | None = Field(
        default=None,
        description='"me too": the public report the citizen said is the same problem; '
        "workflow merges this report into it at once (its reporter then hears what the "
        "primary's reporter hears), unless that report can no longer take merges",
    )


class ReportAmended(Envelope):
    """The reporter added to an existing report (e.g. an e-mail reply quoting the receipt
    code). Published by intake; read by the gateway and workflow. As in `ReportSubmitted`,
    `text` is scrubbed (the sender's own values, phone numbers, e-mails, NIKs) and the text
    as typed travels only in `sealed_original`, sealed with the sender's key."""

    event_type: Literal["ReportAmended"] = "ReportAmended"
    report_id: UUID
    channel: Channel
    channel_message_id: str = Field(min_length=1, max_length=256)
    text: str = Field(min_length=1, max_length=10000)
    photos: tuple[PhotoRef, ...] = ()
    received_at: datetime
    sealed_original: SealedContent | None = Field(
        default=None,
        description='{"title": null, "text"} as typed, sealed with the sender\'s key; absent '
        "when the sender left no contact to key it by",
    )
    in_reply_to: UUID | None = Field(
        default=None,
        description="the officer's question (`ReporterQuestionAsked.question_id`) this message "
        "answers, when the reporter answered it on the tracking page; a reply by e-mail or "
        "chat carries none and answers the oldest open question",
    )


ReportIntakeEvent = Annotated[ReportSubmitted | ReportAmended, Field(discriminator="event_type")]


class ReporterKeyIssued(Envelope):
    """A per-reporter data key. Published by intake on a compacted, access-restricted topic;
    read only by the privacy gateway and the notifier, which open sealed identities with it."""

    event_type: Literal["ReporterKeyIssued"] = "ReporterKeyIssued"
    key_id: UUID
    key: str = Field(description="base64 AES-256 key", min_length=44, max_length=44)


class ReporterKeyShredded(Envelope):
    """The key is destroyed: every sealed copy of that identity is now unreadable. Published
    by intake after an erasure request; every key holder deletes its copy."""

    event_type: Literal["ReporterKeyShredded"] = "ReporterKeyShredded"
    key_id: UUID


ReporterKeyEvent = Annotated[
    ReporterKeyIssued | ReporterKeyShredded, Field(discriminator="event_type")
]


# --- workflow -------------------------------------------------------------------------------


class AutoRoute(Contract):
    """Which rule auto-dispatched a report (issue 19), on the dispatch step workflow took by
    itself: an area rule of the category (`rule` "area", the rule's `area_code`) or the
    category's own agency (`rule` "category"). The step's `reason` still says the same in
    words for people; this is for tools (the console no longer parses the words)."""

    rule: Literal["area", "category"]
    category: str = Field(min_length=1, max_length=100)
    area_code: str | None = Field(default=None, pattern=AREA_CODE_PATTERN)
    agency_id: str = Field(min_length=1, max_length=64)


class ReportStatusChanged(Envelope):
    """One transition of a report's lifecycle (the first one is `None -> received`).
    Published by workflow; read by the gateway (read model, public projection) and the
    notifier (what to tell the reporter). `version` increases by one per transition;
    `category` and `agency_id` are the report's values *after* the transition (None means
    none, not "unchanged"), so a consumer can always replace what it holds."""

    event_type: Literal["ReportStatusChanged"] = "ReportStatusChanged"
    report_id: UUID
    receipt_code: ReceiptCode
    channel: Channel
    version: int = Field(ge=1)
    from_status: ReportStatus | None
    to_status: ReportStatus
    actor: Actor
    reason: str | None = Field(default=None, max_length=2000)
    category: str | None = Field(default=None, max_length=100)
    agency_id: str | None = Field(default=None, max_length=64)
    merged_into: UUID | None = None
    follow_up: FollowUp | None = None
    field_result: str | None = Field(default=None, max_length=2000)
    evidence: EvidenceCheck | None = None
    primary_status: ReportStatus | None = Field(
        default=None,
        description="on a merged report (to_status merged): the status of the primary it "
        "follows. Workflow emits one such event per merged report (from_status = to_status = "
        "merged, version + 1) each time the primary changes status, so every merged reporter "
        "can be told the outcome.",
    )
    sla_stage: SlaStage | None = Field(
        default=None, description="the running SLA stage with the nearest deadline, if any"
    )
    due_at: datetime | None = Field(
        default=None, description="that stage's deadline (working-day calendar)"
    )
    route: AutoRoute | None = Field(
        default=None,
        description="on an automatic dispatch: the routing rule that chose the agency "
        "(issue 19); None on every other step",
    )


class SlaReminderDue(Envelope):
    """A stage deadline is near. Published by workflow; read by the gateway, which flags it
    to the parent of the unit `agency_id` (issue 19, escalation up the line)."""

    event_type: Literal["SlaReminderDue"] = "SlaReminderDue"
    report_id: UUID
    stage: SlaStage
    due_at: datetime
    agency_id: str | None = None


class SlaBreached(Envelope):
    """A stage deadline passed: escalated to the validator bureau and (issue 19) the parent
    of the unit `agency_id`. Published by workflow; read by the gateway (which projects the
    escalation) and the notifier (apology where configured)."""

    event_type: Literal["SlaBreached"] = "SlaBreached"
    report_id: UUID
    stage: SlaStage
    due_at: datetime
    agency_id: str | None = None


SlaEvent = Annotated[SlaReminderDue | SlaBreached, Field(discriminator="event_type")]


class CommandAccepted(Envelope):
    """Reply to a workflow command that was applied. Published by workflow to the caller's
    reply topic; read by the gateway instance that asked."""

    event_type: Literal["CommandAccepted"] = "CommandAccepted"
    command_id: UUID
    report_id: UUID
    status: ReportStatus
    version: int


class CommandRefused(Envelope):
    """Reply to a command that changed nothing, with a specific reason for the user."""

    event_type: Literal["CommandRefused"] = "CommandRefused"
    command_id: UUID
    report_id: UUID
    code: Literal[
        "forbidden_role",
        "wrong_agency",
        "invalid_transition",
        "version_conflict",
        "not_found",
        "invalid",
        "reopen_window_closed",
    ]
    reason: str = Field(max_length=500)


CommandReply = Annotated[CommandAccepted | CommandRefused, Field(discriminator="event_type")]


# --- privacy gateway ------------------------------------------------------------------------


class PublicTimelineEntry(Contract):
    """One step of a public report's history as the public may see it (coarse date)."""

    status: ReportStatus
    label: str
    month: str = Field(pattern=r"^\d{4}-\d{2}$")
    agency_id: str | None = None
    note: str | None = Field(default=None, max_length=2000)


class PublicReportPublished(Envelope):
    """The redacted public view of a public report. Published by the privacy gateway
    (compacted, keyed by report id); read by the portal. Never contains personal data, the
    exact time, or the precise location."""

    event_type: Literal["PublicReportPublished"] = "PublicReportPublished"
    report_id: UUID
    public_id: str = Field(min_length=4, max_length=64)
    title: str | None = Field(default=None, max_length=300)
    text: str = Field(max_length=10000)
    category: str | None = None
    agency_id: str | None = None
    status: ReportStatus
    status_label: str
    channel: Channel
    area: str | None = None
    # The report's area as a Kemendagri code (kelurahan at most: coarse, as `area`), when
    # intake resolved it with enough confidence to show; the portal filters and counts by it.
    area_code: str | None = Field(default=None, pattern=AREA_CODE_PATTERN)
    month: str = Field(pattern=r"^\d{4}-\d{2}$")
    confidentiality_label: str
    timeline: tuple[PublicTimelineEntry, ...] = ()
    completed_hours: float | None = None
    coarse_point: GeoPoint | None = Field(
        default=None,
        description="the report's point snapped to a 0.01 degree grid (about 1 km), for the "
        "public map; never the precise point (SPEC privacy rule 6)",
    )


class PublicReportWithdrawn(Envelope):
    """A report left the public surface (made private, rejected as spam, or erased)."""

    event_type: Literal["PublicReportWithdrawn"] = "PublicReportWithdrawn"
    report_id: UUID
    public_id: str


PublicReportEvent = Annotated[
    PublicReportPublished | PublicReportWithdrawn, Field(discriminator="event_type")
]


class AreaRoute(Contract):
    """Where a category's reports go in one administrative area (issue 19): new reports
    whose area code lies inside `area_code` (a Kemendagri code: kota, kecamatan or
    kelurahan) are auto-dispatched to `agency_id`; the most specific route wins."""

    area_code: str = Field(pattern=AREA_CODE_PATTERN)
    agency_id: str = Field(min_length=1, max_length=64)


class CategoryPublished(Envelope):
    """The full current state of one category of the catalogue. Published by the privacy
    gateway (which owns the catalogue; administrators manage it) through its outbox, in the
    same transaction as the change, to a compacted topic keyed by `code`, so the log always
    holds the latest record of every category ever created; read by intake (which codes a
    structured channel may file under), the portal (filing form, filters, names) and
    workflow (auto-routing to `agency_id`). Categories are never deleted, only retired
    (`active` false): a retired one is refused for new reports and still names old ones.

    `version` grows by one with each change of a category: a consumer keeps a record only
    if it is newer than the one it holds (a start-up republish repeats the same version)."""

    event_type: Literal["CategoryPublished"] = "CategoryPublished"
    code: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,99}$")
    version: int = Field(ge=1)
    name_id: str = Field(min_length=1, max_length=200)
    name_en: str = Field(min_length=1, max_length=200)
    description_id: str = Field(default="", max_length=2000)
    description_en: str = Field(default="", max_length=2000)
    keywords: tuple[str, ...] = Field(
        default=(),
        max_length=50,
        description="lower-case words or phrases a free-text report of this category tends "
        "to contain; used only to suggest a category, which the ticket-admin confirms",
    )
    group: str | None = Field(default=None, max_length=100)
    agency_id: str | None = Field(
        default=None,
        max_length=64,
        description="the agency new reports of this category are auto-dispatched to; none: "
        "they wait in the ticket-admin's triage queue",
    )
    area_routes: tuple[AreaRoute, ...] = Field(
        default=(),
        max_length=500,
        description="routes by place, one per area code: a new report whose (confidently "
        "resolved) area lies inside a route's area goes to the most specific route's agency "
        "instead of `agency_id`",
    )
    active: bool = True
    updated_at: datetime


class ReporterErasureRequested(Envelope):
    """A reporter asked for their personal data to be erased. Published by the gateway;
    read by intake, which shreds the key."""

    event_type: Literal["ReporterErasureRequested"] = "ReporterErasureRequested"
    key_id: UUID
    requested_by: Actor


class ReporterQuestionAsked(Envelope):
    """An officer asked the reporter something ("ask the reporter", SPEC Revision 2).
    Published by the gateway (which keeps the question and the answer on the report); read
    by the notifier, which delivers it on the reporter's own channel, so no officer ever
    needs the reporter's contact. The answer comes back as a `ReportAmended`."""

    event_type: Literal["ReporterQuestionAsked"] = "ReporterQuestionAsked"
    report_id: UUID
    question_id: UUID
    text: str = Field(
        min_length=1,
        max_length=1000,
        description="the question as the officer wrote it, scrubbed of the reporter's own "
        "values like every officer text",
    )
    asked_at: datetime


# --- notifier -------------------------------------------------------------------------------


class NotificationDelivered(Envelope):
    """A message reached the reporter. No longer published (issue 18): one record per
    message that no service consumed; the notifier's `deliveries` row is the record. Kept
    so that records already on `notifier.notifications.v1` still decode (30 days)."""

    event_type: Literal["NotificationDelivered"] = "NotificationDelivered"
    report_id: UUID
    status_event_id: UUID
    channel: Channel
    template: str
    attempts: int = Field(ge=1)


class NotificationFailed(Envelope):
    """A message could not be delivered on any channel; visible to operators. Published by
    the notifier (with the same event on the topic's dead letters); no service consumes it."""

    event_type: Literal["NotificationFailed"] = "NotificationFailed"
    report_id: UUID
    status_event_id: UUID
    channel: Channel
    template: str
    attempts: int = Field(ge=1)
    error: str = Field(max_length=1000)


NotificationEvent = Annotated[
    NotificationDelivered | NotificationFailed, Field(discriminator="event_type")
]
