"""The gateway's own tables: the report read model, its timeline, and the access log."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import UUID as PgUUID

from aduan_kit.keystore import reporter_keys_table
from aduan_kit.messaging import messaging_tables

__all__ = [
    "ACCESS_LOG",
    "AGENCIES",
    "ASSIGNMENTS",
    "CATEGORIES",
    "ESCALATIONS",
    "INBOX",
    "METADATA",
    "NOTES",
    "OUTBOX",
    "PHOTO_GRANTS",
    "QUESTIONS",
    "RATINGS",
    "REFRESH_TOKENS",
    "REPLY_TEMPLATES",
    "REPORTER_KEYS",
    "REPORTER_MESSAGES",
    "REPORTS",
    "REPORT_SEARCH",
    "TIMELINE",
    "USERS",
]

METADATA = MetaData()
OUTBOX, INBOX = messaging_tables(METADATA)

# Content columns come from intake, status columns from workflow; the two topics arrive in
# either order, so everything but the key and channel may be null for a while.
REPORTS = Table(
    "reports",
    METADATA,
    Column("report_id", PgUUID(as_uuid=True), primary_key=True),
    Column("receipt_code", String(32), nullable=True),
    Column("channel", String(32), nullable=False),
    Column("privacy", String(16), nullable=False, server_default="private"),
    Column("has_content", Boolean, nullable=False, server_default=text("false")),
    Column("title", String(300), nullable=True),
    Column("text", Text, nullable=True),
    Column("language", String(8), nullable=True),
    Column("category", String(100), nullable=True),
    Column("category_hint", String(100), nullable=True),
    Column("agency_id", String(64), nullable=True),
    Column("location", JSONB(none_as_null=True), nullable=True),
    Column("photos", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("received_at", DateTime(timezone=True), nullable=True),
    Column("status", String(32), nullable=True),
    Column("status_version", Integer, nullable=False, server_default=text("0")),
    Column("sealed_identity", JSONB(none_as_null=True), nullable=True),
    # Kept after erasure (the sealed copy is dropped): it links a reporter's reports and
    # gives the stable pseudonym, and without the key it opens nothing.
    Column("reporter_key_id", PgUUID(as_uuid=True), nullable=True),
    # The title and text as the public sees them (redacted: the reporter's name, contact and
    # handle, phone numbers, e-mails, NIKs, plates), written by the consumers whenever the
    # content, the reporter's key or an erasure changes them, so public reads open no
    # identity. NULL until computable: no content yet, or the reporter's key has not
    # arrived (their name cannot be hidden yet), and then the report is not public.
    Column("public_title", Text, nullable=True),
    Column("public_text", Text, nullable=True),
    # The title and text as every officer role reads them (the reporter's own values in any
    # format, phone numbers, e-mails and NIKs hidden), computed at the same moments as the
    # public text and NULL under the same conditions; the ticket-admin text search looks
    # here, so it finds no report by its reporter's data.
    Column("officer_title", Text, nullable=True),
    Column("officer_text", Text, nullable=True),
    # The title and text as typed, sealed with the reporter's key (ReportSubmitted's
    # `sealed_original`), opened only for the reporter's own view; dropped on erasure.
    Column("sealed_original", JSONB(none_as_null=True), nullable=True),
    # Moderation by a ticket-admin: hidden from every public surface, and/or a corrected
    # public title and text (scrubbed like the reporter's, stored as the public text).
    Column("public_hidden", Boolean, nullable=False, server_default=text("false")),
    Column("moderated_title", Text, nullable=True),
    Column("moderated_text", Text, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # The running clock's nearest deadline after the latest transition (None: no clock
    # runs), for queues sorted by due date at any size (indexed; the timeline keeps each
    # step's own).
    Column("due_at", DateTime(timezone=True), nullable=True),
    # The report's public view as the JSON the public is answered with, and the view
    # format it was made by (adapters/publicviews.py): a cache, filled by public reads and
    # emptied by triggers (migration 0020) whenever the row or its timeline changes.
    Column("public_view", Text, nullable=True),
    Column("public_view_format", Text, nullable=True),
    Index("ix_reports_public_list", "privacy", "received_at"),
    Index("ix_reports_due", "due_at"),
    Index("ix_reports_receipt_code", "receipt_code"),
    Index("ix_reports_reporter_key", "reporter_key_id"),
)

# One per order a console queue asks for, so the first pages come straight off an index at
# any size (bench/queues.py; the text search's trigram indexes are on REPORT_SEARCH, migration
# 0025).
Index("ix_reports_received", REPORTS.c.received_at.desc(), REPORTS.c.report_id)
Index(
    "ix_reports_agency_received",
    REPORTS.c.agency_id,
    REPORTS.c.received_at.desc(),
    REPORTS.c.report_id,
)
Index(
    "ix_reports_agency_due",
    REPORTS.c.agency_id,
    REPORTS.c.due_at,
    REPORTS.c.received_at.desc(),
    REPORTS.c.report_id,
)
Index(
    "ix_reports_status_due",
    REPORTS.c.status,
    REPORTS.c.due_at,
    REPORTS.c.received_at.desc(),
    REPORTS.c.report_id,
)
Index(
    "ix_reports_status_received",
    REPORTS.c.status,
    REPORTS.c.received_at.desc(),
    REPORTS.c.report_id,
)

# The officer title and text once more, for the ticket-admin's substring search: its
# trigram indexes live here, written when the text is (a trigger on `reports`, migration
# 0025), not with every status change of the report's row.
REPORT_SEARCH = Table(
    "report_search",
    METADATA,
    Column(
        "report_id",
        PgUUID(as_uuid=True),
        ForeignKey("reports.report_id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("officer_title", Text, nullable=True),
    Column("officer_text", Text, nullable=True),
)

TIMELINE = Table(
    "timeline",
    METADATA,
    Column("report_id", PgUUID(as_uuid=True), nullable=False),
    Column("version", Integer, nullable=False),
    Column("status", String(32), nullable=False),
    Column("agency_id", String(64), nullable=True),
    Column("actor_role", String(32), nullable=False),
    Column("actor_agency", String(64), nullable=True),
    Column("actor_display_name", String(200), nullable=True),
    Column("reason", Text, nullable=True),
    # The reason as every officer reads it (scrubbed with the reporter's values, and phone
    # numbers, e-mails, NIKs), computed when the entry, the report's content or the
    # reporter's key arrives, so an officer's read opens no identity (issue 18). NULL while
    # the reporter's values are not known yet: reads then scrub the reason by pattern.
    Column("officer_reason", Text, nullable=True),
    Column("follow_up_note", Text, nullable=True),
    # The whole follow-up (TL): id, note, after-photos, officer, evidence check.
    Column("follow_up", JSONB(none_as_null=True), nullable=True),
    # Additive fields workflow may send (due_at, sla_stage, evidence, field_result).
    Column("extra", JSONB(none_as_null=True), nullable=True),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("report_id", "version", name="uq_timeline_report_version"),
)

# Append-only (no UPDATE/DELETE path in the code). Each row's hash covers the previous
# row's hash, so an edited or removed row breaks the chain from there on (SPEC rule 7 and
# "read audit that cannot be silently edited").
ACCESS_LOG = Table(
    "access_log",
    METADATA,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("subject", String(128), nullable=False),
    Column("role", String(32), nullable=False),
    Column("agency_id", String(64), nullable=True),
    Column("report_id", PgUUID(as_uuid=True), nullable=False),
    Column("fields", JSONB, nullable=False),
    Column("prev_hash", String(64), nullable=True),
    Column("hash", String(64), nullable=False, unique=True),
    Index("ix_access_log_report", "report_id"),
    # "What did this officer read?" (an administrator looking into a complaint), newest first.
    Index("ix_access_log_subject", "subject", "id"),
    # One successor per entry: a writer linking to an entry that already has one (it did
    # not see the other's append) is refused instead of forking the chain (issue 18).
    Index("uq_access_log_prev_hash", "prev_hash", unique=True),
)

# --- identity -------------------------------------------------------------------------------

AGENCIES = Table(
    "agencies",
    METADATA,
    Column("agency_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Units (issue 19, D19): an agency is a unit in a hierarchy (Dinas -> Suku Dinas,
    # kecamatan -> kelurahan); no cycles (checked on every change, `units.check_parent`).
    Column("parent_id", String(64), ForeignKey("agencies.agency_id"), nullable=True),
    Column("kind", String(32), nullable=False, server_default="other"),
    # The Kemendagri codes of the areas the unit covers (normalized dotted codes).
    Column("area_codes", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
)

USERS = Table(
    "users",
    METADATA,
    Column("user_id", String(128), primary_key=True),
    Column("username", String(128), nullable=False, unique=True),
    # argon2id (argon2-cffi); never the password itself.
    Column("password_hash", String(255), nullable=False),
    Column("role", String(32), nullable=False),
    Column("agency_id", String(64), nullable=True),
    Column("display_name", String(200), nullable=True),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # A unit head reads their unit's and every sub-unit's reports (issue 19, D19).
    Column("unit_head", Boolean, nullable=False, server_default=text("false")),
)

# Refresh tokens are stored as SHA-256 digests only: a stolen table cannot be replayed.
# Each refresh rotates the token; presenting a used one revokes its whole family (theft).
REFRESH_TOKENS = Table(
    "refresh_tokens",
    METADATA,
    Column("token_hash", String(64), primary_key=True),
    Column("user_id", String(128), nullable=False, index=True),
    Column("family_id", PgUUID(as_uuid=True), nullable=False, index=True),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True), nullable=True),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# --- photo grants (rule 3) and reporter keys (rules 5, 9) -------------------------------------

PHOTO_GRANTS = Table(
    "photo_grants",
    METADATA,
    Column("grant_id", PgUUID(as_uuid=True), primary_key=True),
    Column("report_id", PgUUID(as_uuid=True), nullable=False),
    Column("grantee", String(128), nullable=False),
    Column("granted_by", String(128), nullable=False),
    Column("reason", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=True),
    Column("revoked_by", String(128), nullable=True),
    Index("ix_photo_grants_report_grantee", "report_id", "grantee"),
)

# The gateway's copy of intake's per-reporter keys (from the compacted keys topic); the key
# bytes are deleted when intake announces the key shredded, which makes every sealed copy
# unreadable here.
REPORTER_KEYS = reporter_keys_table(METADATA)  # aduan_kit.keystore: the same in the notifier


# --- category catalogue -----------------------------------------------------------------------

# The gateway owns the catalogue (administrators manage it in the console). Every change
# bumps `version` and queues the category's full state (CategoryPublished) to the compacted
# topic gateway.categories.v1 through the outbox in the same transaction; intake, the portal
# and workflow read it from there. Never deleted, only retired (`active` false): old
# reports keep their category's name.
CATEGORIES = Table(
    "categories",
    METADATA,
    Column("code", String(100), primary_key=True),
    Column("name_id", String(200), nullable=False),
    Column("name_en", String(200), nullable=False),
    Column("agency_id", String(64), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("description_id", Text, nullable=False, server_default=""),
    Column("description_en", Text, nullable=False, server_default=""),
    Column("keywords", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("category_group", String(100), nullable=True),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    Column("version", Integer, nullable=False, server_default=text("1")),
    Column("updated_by", String(128), nullable=True),
    # [{"area_code": "31.71", "agency_id": "..."}, ...] sorted by area code (issue 19).
    Column("area_routes", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
)


# Internal notes officers write on a report (issue 14): officers only, never in a public or
# reporter view, each read in the access log. Owned by the gateway (not an event of
# workflow's: a note changes nothing in the report's lifecycle).
NOTES = Table(
    "report_notes",
    METADATA,
    Column("note_id", PgUUID(as_uuid=True), primary_key=True),
    Column("report_id", PgUUID(as_uuid=True), nullable=False),
    Column("author_id", String(128), nullable=False),
    Column("author_name", String(200), nullable=True),
    Column("author_role", String(32), nullable=False),
    Column("author_agency", String(64), nullable=True),
    Column("text", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_report_notes_report", "report_id", "created_at"),
)


# Who in the agency works on a report (issue 14: "my reports"). One row per report, the
# current assignee; gateway-owned like the notes (workflow's lifecycle does not change).
ASSIGNMENTS = Table(
    "report_assignments",
    METADATA,
    Column("report_id", PgUUID(as_uuid=True), primary_key=True),
    Column("assignee_id", String(128), nullable=False),
    Column("assigned_by", String(128), nullable=False),
    Column("assigned_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_report_assignments_assignee", "assignee_id"),
)


# "Ask the reporter" (SPEC Revision 2): an officer's question, delivered by the notifier on
# the reporter's own channel (`ReporterQuestionAsked`), and the answer when it comes back
# (a `ReportAmended` from intake). Officers see both on the report; the reporter sees their
# open questions on the tracking page. Nobody sees a contact.
QUESTIONS = Table(
    "reporter_questions",
    METADATA,
    Column("question_id", PgUUID(as_uuid=True), primary_key=True),
    Column("report_id", PgUUID(as_uuid=True), nullable=False),
    Column("asked_by", String(128), nullable=False),
    Column("asked_by_name", String(200), nullable=True),
    Column("asked_by_role", String(32), nullable=False),
    Column("asked_by_agency", String(64), nullable=True),
    Column("text", Text, nullable=False),
    Column("asked_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("answered_at", DateTime(timezone=True), nullable=True),
    Column("answer_event_id", PgUUID(as_uuid=True), nullable=True),
    Index("ix_reporter_questions_report", "report_id", "asked_at"),
)

# What the reporter wrote to us after filing (`ReportAmended`: an e-mail reply quoting the
# receipt code, a LAPOR! update, an answer on the tracking page), scrubbed like the report's
# own text. `question_id` is the question it answers, when it answers one.
REPORTER_MESSAGES = Table(
    "reporter_messages",
    METADATA,
    Column("event_id", PgUUID(as_uuid=True), primary_key=True),
    Column("report_id", PgUUID(as_uuid=True), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("text", Text, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("question_id", PgUUID(as_uuid=True), nullable=True),
    Index("ix_reporter_messages_report", "report_id", "received_at"),
)

# The reporter's rating of the result once their report is completed (1-5 and a comment,
# scrubbed like any text they write): the city's view of how its fixes land. One per
# report; a reporter may change it while the report stays completed.
RATINGS = Table(
    "report_ratings",
    METADATA,
    Column("report_id", PgUUID(as_uuid=True), primary_key=True),
    Column("score", Integer, nullable=False),
    Column("comment", Text, nullable=True),
    Column("rated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("score BETWEEN 1 AND 5", name="ck_report_ratings_score"),
)

# Reply templates (issue 14): administrators' ready texts for a follow-up, a return, a
# rejection and a question to the reporter, in Indonesian and English; every staff role
# reads the active ones (api_templates). A retired one stays (`active` false): it was used.
REPLY_TEMPLATES = Table(
    "reply_templates",
    METADATA,
    Column("template_id", PgUUID(as_uuid=True), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("title", String(120), nullable=False),
    Column("body_id", Text, nullable=False),
    Column("body_en", Text, nullable=False),
    Column("active", Boolean, nullable=False, server_default=text("true")),
    # Who changed it last (a user id) and when: the catalogue's audit, like `categories`.
    Column("updated_by", String(128), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(
        "kind IN ('followup', 'return', 'reject', 'question')", name="ck_reply_templates_kind"
    ),
    Index("ix_reply_templates_kind", "kind", "active"),
)

# SLA escalations up the line (issue 19, D19): workflow's reminder or breach of a report's
# running clock, flagged by the gateway (which owns the units) to the parent of the unit the
# report sat at (`to_unit`; null: a root unit, the validator bureau alone). One row per clock
# and kind: a redelivered or replayed event adds nothing. `after_version` places the entry
# in the timeline (after the step that was current when it was flagged).
ESCALATIONS = Table(
    "escalations",
    METADATA,
    Column("report_id", PgUUID(as_uuid=True), primary_key=True),
    Column("kind", String(16), primary_key=True),  # reminder | breach
    Column("stage", String(32), primary_key=True),
    Column("due_at", DateTime(timezone=True), primary_key=True),
    Column("from_unit", String(64), nullable=True),
    Column("to_unit", String(64), nullable=True),
    Column("after_version", Integer, nullable=False),
    # "overdue at <unit>, flagged to <parent> ...": unit names as they were when flagged.
    Column("note", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Index("ix_escalations_to_unit", "to_unit"),
)
