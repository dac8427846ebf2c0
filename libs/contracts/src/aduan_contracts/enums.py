"""Closed vocabularies shared by every service: status, role, channel, privacy."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ANSWER_BY_REPLY_CHANNELS", "Channel", "Privacy", "ReportStatus", "Role", "SlaStage"]


class ReportStatus(StrEnum):
    """Lifecycle status of a report; the workflow service is the only one that changes it."""

    RECEIVED = "received"
    COORDINATION = "coordination"
    DISPATCHED = "dispatched"
    IN_PROGRESS = "in_progress"
    AWAITING_VALIDATION = "awaiting_validation"
    FIELD_VERIFICATION = "field_verification"
    FOLLOWUP_REJECTED = "followup_rejected"
    COMPLETED = "completed"
    REJECTED = "rejected"
    MERGED = "merged"

    @property
    def label_id(self) -> str:
        """The Indonesian label officers see (SPEC, "Report lifecycle")."""
        return _STATUS_LABELS_ID[self]

    @property
    def label_en(self) -> str:
        return _STATUS_LABELS_EN[self]

    @property
    def is_terminal(self) -> bool:
        """Terminal for triage purposes; a completed report may still be reopened."""
        return self in (ReportStatus.COMPLETED, ReportStatus.REJECTED, ReportStatus.MERGED)


_STATUS_LABELS_ID = {
    ReportStatus.RECEIVED: "Menunggu",
    ReportStatus.COORDINATION: "Koordinasi",
    ReportStatus.DISPATCHED: "Disposisi",
    ReportStatus.IN_PROGRESS: "Dalam Proses",
    ReportStatus.AWAITING_VALIDATION: "Menunggu Validasi",
    ReportStatus.FIELD_VERIFICATION: "Verifikasi Lapangan",
    ReportStatus.FOLLOWUP_REJECTED: "TL Ditolak",
    ReportStatus.COMPLETED: "Selesai",
    ReportStatus.REJECTED: "Ditolak",
    ReportStatus.MERGED: "Digabung",
}

_STATUS_LABELS_EN = {
    ReportStatus.RECEIVED: "Waiting",
    ReportStatus.COORDINATION: "Coordination",
    ReportStatus.DISPATCHED: "Dispatched",
    ReportStatus.IN_PROGRESS: "In progress",
    ReportStatus.AWAITING_VALIDATION: "Awaiting validation",
    ReportStatus.FIELD_VERIFICATION: "Field verification",
    ReportStatus.FOLLOWUP_REJECTED: "Follow-up rejected",
    ReportStatus.COMPLETED: "Completed",
    ReportStatus.REJECTED: "Rejected",
    ReportStatus.MERGED: "Merged",
}


class Role(StrEnum):
    """Who is acting or reading (SPEC, "People and roles")."""

    REPORTER = "reporter"
    PUBLIC = "public"
    AGENCY_OFFICER = "agency-officer"
    VALIDATOR = "validator"
    TICKET_ADMIN = "ticket-admin"
    ADMINISTRATOR = "administrator"
    SYSTEM = "system"  # auto-routing, SLA timers: never a person


class Channel(StrEnum):
    """Where a complaint came from; also where the reporter is answered."""

    APP = "app"
    WEB = "web"
    EMAIL = "email"
    SMS = "sms"
    WHATSAPP = "whatsapp"
    X = "x"
    FACEBOOK = "facebook"
    INSTAGRAM = "instagram"
    LAPOR = "lapor"
    CALL_CENTRE = "call_centre"
    WALK_IN = "walk_in"
    LETTER = "letter"
    OPEN311 = "open311"


# One-to-one conversations with a phone number where a reporter answers an officer's
# question by replying to it: intake takes their next message as the answer while the
# question is open (`ReportAmended.in_reply_to`), and the notifier's question says "reply to
# this message" there. E-mail replies quote the receipt code instead; public channels' DMs
# carry only the answer link.
ANSWER_BY_REPLY_CHANNELS = frozenset({Channel.SMS, Channel.WHATSAPP})


class Privacy(StrEnum):
    """A report is private unless the reporter explicitly chose public (SPEC privacy rule 1)."""

    PRIVATE = "private"
    PUBLIC = "public"


class SlaStage(StrEnum):
    """Stages that carry their own service-level clock."""

    TRIAGE = "triage"
    DISPATCH = "dispatch"
    FOLLOW_UP = "follow_up"
    VALIDATION = "validation"
