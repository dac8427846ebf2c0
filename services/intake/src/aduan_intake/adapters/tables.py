"""Intake's own tables (SQLAlchemy Core) on its own metadata, plus the inbox and outbox."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    DateTime,
    LargeBinary,
    MetaData,
    String,
    Table,
    func,
)
from sqlalchemy.dialects.postgresql import UUID as PgUUID

from aduan_kit.catalogue import catalogue_table
from aduan_kit.messaging import messaging_tables

__all__ = [
    "AMENDMENTS",
    "CATALOGUE",
    "INBOX",
    "METADATA",
    "OPEN_QUESTIONS",
    "OUTBOX",
    "REPORTER_KEYS",
    "SUBMISSIONS",
    "SYNC_CURSORS",
]

METADATA = MetaData()
OUTBOX, INBOX = messaging_tables(METADATA)
# Intake's copy of the gateway's category catalogue (aduan_intake.adapters.catalogue).
CATALOGUE = catalogue_table(METADATA)

# One row per filed inbound message: the primary key (channel, channel_message_id) is what
# files a message exactly once even when a channel delivers it twice at the same moment.
SUBMISSIONS = Table(
    "submissions",
    METADATA,
    Column("channel", String(32), primary_key=True),
    Column("channel_message_id", String(256), primary_key=True),
    Column("report_id", PgUUID(as_uuid=True), nullable=False, unique=True),
    Column("receipt_code", String(13), nullable=False, unique=True),
    # HMAC of the report text: a replay with the same message id gets the receipt back only
    # if it carries the same report, so guessing someone's id does not reveal their receipt.
    Column("fingerprint", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # The reporter key the report's identity was sealed with (NULL: anonymous): how a reply
    # from the same phone finds the reporter's reports without intake keeping who they are.
    Column("key_id", PgUUID(as_uuid=True), nullable=True),
)

# Per-reporter data keys. `contact_digest` lets a returning reporter reuse their key; it is
# NULL for identities without a contact (a bare name identifies nobody reliably) and is
# cleared on shredding, so a later report from the same contact gets a fresh key.
REPORTER_KEYS = Table(
    "reporter_keys",
    METADATA,
    Column("key_id", PgUUID(as_uuid=True), primary_key=True),
    Column("contact_digest", LargeBinary, nullable=True, unique=True),
    Column("key", LargeBinary, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("shredded_at", DateTime(timezone=True), nullable=True),
)

# One row per inbound message that was added to an existing report (an e-mail reply quoting
# a receipt code, a changed LAPOR! record): the same exactly-once key as `submissions`.
AMENDMENTS = Table(
    "amendments",
    METADATA,
    Column("channel", String(32), primary_key=True),
    Column("channel_message_id", String(256), primary_key=True),
    Column("report_id", PgUUID(as_uuid=True), nullable=False),
    Column("fingerprint", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Officers' questions to reporters (from the gateway's topic) until an answer arrives: a
# reporter who replies to the question's SMS or WhatsApp message answers it, instead of
# filing a new complaint (`aduan_intake.service.filing.Filer.file_or_answer`).
OPEN_QUESTIONS = Table(
    "open_questions",
    METADATA,
    Column("question_id", PgUUID(as_uuid=True), primary_key=True),
    Column("report_id", PgUUID(as_uuid=True), nullable=False),
    Column("asked_at", DateTime(timezone=True), nullable=False),
    Column("answered_at", DateTime(timezone=True), nullable=True),
)

# Where a scheduled pull (LAPOR!) got to, so the next pull asks only for what changed.
SYNC_CURSORS = Table(
    "sync_cursors",
    METADATA,
    Column("source", String(64), primary_key=True),
    Column("cursor", String(256), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
