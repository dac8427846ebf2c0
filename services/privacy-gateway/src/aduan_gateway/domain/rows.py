"""A read-model row as the gateway's use cases see it, pure (no I/O): the record a row
makes (`row_record`), the reporter's values to hide (opening the sealed identity with the
key read with the row), the title and text as typed (the sealed original), the stored
public and officer texts a row should hold (`text_columns`), a timeline row as a record.
The statements that read and write the rows are in `adapters/` (readmodel, projection_pg)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidTag

from aduan_contracts.enums import Channel, Privacy, ReportStatus, Role
from aduan_contracts.values import FollowUp, Location, PhotoRef, SealedContent, SealedIdentity
from aduan_gateway.domain.model import EscalationRecord, PublicText, ReportRecord, TimelineRecord
from aduan_gateway.domain.redaction import identity_terms, scrub_officer_text
from aduan_gateway.domain.views import officer_text, public_of, public_text
from aduan_kit.crypto import open_content, open_identity

__all__ = [
    "moderated",
    "officer_reason",
    "open_terms",
    "opened_original",
    "reporter_terms",
    "row_original",
    "row_record",
    "row_terms",
    "text_columns",
    "timeline_record",
    "without_metadata",
]


def without_metadata(photo: dict[str, Any]) -> dict[str, Any]:
    return {**photo, "point": None, "taken_at": None}


def officer_reason(reason: str | None, terms: tuple[str, ...]) -> str | None:
    """A timeline reason as officers read it (a return or a rejection may quote the
    reporter), stored so that reads need not open the identity."""
    return scrub_officer_text(reason, terms) if reason else None


def reporter_terms(row: Any) -> tuple[str, ...]:
    """The reporter's values to hide, from a row with `sealed_identity` and `reporter_key`
    (opens the identity; () without a key or an identity)."""
    return row_terms(row)


def row_terms(row: Any) -> tuple[str, ...]:
    key = row.get("reporter_key")
    if key is None or row["sealed_identity"] is None:
        return ()
    return open_terms(SealedIdentity.model_validate(row["sealed_identity"]), key)


def open_terms(sealed: SealedIdentity, key: bytes) -> tuple[str, ...]:
    try:
        identity = open_identity(sealed, key)
    except (InvalidTag, ValueError):
        return ()
    return identity_terms(identity)


def opened_original(sealed: SealedIdentity | None, key: bytes) -> tuple[str | None, str] | None:
    """The title and text as typed, when they were sealed and the key opens them."""
    if sealed is None:
        return None
    try:
        return open_content(sealed, key)
    except (InvalidTag, ValueError, KeyError):
        return None


def row_original(row: Any) -> tuple[str | None, str]:
    """A row's title and text as typed when its sealed copy can be opened, else the stored
    columns (scrubbed for submissions that carried a sealed original)."""
    key = row.get("reporter_key")
    sealed = row.get("sealed_original")
    if key is not None and sealed is not None:
        opened = opened_original(SealedContent.model_validate(sealed), key)
        if opened is not None:
            return opened
    return row["title"], row["text"] or ""


def moderated(row: Any) -> PublicText | None:
    """A ticket-admin's correction of the public title and text, scrubbed as public."""
    if row.get("moderated_text") is None:
        return None
    return public_text(row["moderated_title"], row["moderated_text"], ())


def text_columns(row: Any) -> dict[str, str | None]:
    """The stored public and officer title and text of a report row read with `_select`
    (its reporter's key joined): all None while the reporter's values cannot be hidden yet
    (a sealed identity and no key) or while there is no content."""
    if not row["has_content"] or (
        row["sealed_identity"] is not None and row.get("key_row") is None
    ):
        return dict.fromkeys(("public_title", "public_text", "officer_title", "officer_text"))
    terms = row_terms(row)
    title, body = row_original(row)
    officer = officer_text(title, body, terms)
    public = moderated(row) or public_of(officer)
    return {
        "public_title": public.title,
        "public_text": public.text,
        "officer_title": officer.title,
        "officer_text": officer.text,
    }


def timeline_record(r: Any) -> TimelineRecord:
    """A timeline row, from the table or from its JSON form (`_LOAD_ONE`), where the time
    is an ISO 8601 string with its offset."""
    occurred_at = r["occurred_at"]
    if isinstance(occurred_at, str):
        # In UTC, as asyncpg returns a timestamptz column: the JSON carries the session's
        # offset, and views derive months from the datetime.
        occurred_at = datetime.fromisoformat(occurred_at).astimezone(UTC)
    return TimelineRecord(
        version=r["version"],
        status=ReportStatus(r["status"]),
        occurred_at=occurred_at,
        actor_role=Role(r["actor_role"]),
        agency_id=r["agency_id"],
        actor_agency=r["actor_agency"],
        actor_display_name=r["actor_display_name"],
        reason=r["reason"],
        follow_up_note=r["follow_up_note"],
        follow_up=FollowUp.model_validate(r["follow_up"]) if r["follow_up"] else None,
        extra=r["extra"] or {},
    )


def row_record(
    row: Any,
    timeline: tuple[TimelineRecord, ...],
    public: bool = False,
    escalations: tuple[EscalationRecord, ...] = (),
) -> ReportRecord:
    """A record from a row. `public`: read without the reporter's key (`_public_select`),
    so no terms; the stored public text decides, and without it the report is pending."""
    stored = (
        PublicText(title=row["public_title"], text=row["public_text"])
        if row["public_text"] is not None
        else None
    )
    officer = (
        PublicText(title=row["officer_title"], text=row["officer_text"])
        if row.get("officer_text") is not None
        else None
    )
    title, body = row["title"], row["text"]
    if public:
        terms: tuple[str, ...] = ()
        pending = stored is None
    else:
        terms = row_terms(row)
        # Sealed identity but no key yet (the keys topic may lag the intake topic): the
        # reporter's name cannot be hidden in text yet, so views fail closed.
        pending = row["sealed_identity"] is not None and row.get("key_row") is None
        # The text as typed, for the reporter's own view only (officer views read the
        # stored officer text).
        if row["has_content"] and row.get("sealed_original") is not None:
            title, body = row_original(row)
    return ReportRecord(
        reporter_terms=terms,
        identity_pending=pending,
        public_text=stored,
        officer_text=officer,
        public_hidden=bool(row.get("public_hidden")),
        report_id=row["report_id"],
        channel=Channel(row["channel"]),
        receipt_code=row["receipt_code"],
        privacy=Privacy(row["privacy"]),
        has_content=row["has_content"],
        title=title,
        text=body,
        category=row["category"],
        category_hint=row["category_hint"],
        agency_id=row["agency_id"],
        location=Location.model_validate(row["location"]) if row["location"] else None,
        photos=tuple(PhotoRef.model_validate(p) for p in row["photos"] or ()),
        received_at=row["received_at"],
        status=ReportStatus(row["status"]) if row["status"] else None,
        status_version=row["status_version"],
        sealed_identity=(
            SealedIdentity.model_validate(row["sealed_identity"])
            if row["sealed_identity"]
            else None
        ),
        reporter_key_id=row["reporter_key_id"],
        timeline=timeline,
        escalations=escalations,
    )
