"""The gateway's own tables: the report read model, its timeline, and the access log."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
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

from aduan_kit.messaging import messaging_tables

__all__ = ["ACCESS_LOG", "INBOX", "METADATA", "OUTBOX", "REPORTS", "TIMELINE"]

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
    Column("location", JSONB, nullable=True),
    Column("photos", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("received_at", DateTime(timezone=True), nullable=True),
    Column("status", String(32), nullable=True),
    Column("status_version", Integer, nullable=False, server_default=text("0")),
    Column("sealed_identity", JSONB, nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_reports_public_list", "privacy", "received_at"),
    Index("ix_reports_agency", "agency_id"),
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
    Column("follow_up_note", Text, nullable=True),
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
)
