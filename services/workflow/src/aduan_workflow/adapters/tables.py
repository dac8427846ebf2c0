"""Workflow's own tables (SQLAlchemy Core). No personal data lives here: workflow knows a
report by id, receipt code, channel, category and assignment only."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import UUID as PgUUID

from aduan_kit.catalogue import catalogue_table
from aduan_kit.messaging import messaging_tables

__all__ = [
    "CATALOGUE",
    "INBOX",
    "METADATA",
    "OUTBOX",
    "REPORTS",
    "REPORT_LOCATIONS",
    "SLA_CLOCKS",
    "STATUS_HISTORY",
]

METADATA = MetaData()
OUTBOX, INBOX = messaging_tables(METADATA)

REPORTS = Table(
    "reports",
    METADATA,
    Column("id", PgUUID(as_uuid=True), primary_key=True),
    Column("receipt_code", String(32), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("status", String(32), nullable=False),
    # Optimistic concurrency: every transition is `... WHERE version = <read version>`.
    Column("version", Integer, nullable=False),
    Column("agency_id", String(64), nullable=True),
    Column("category", String(100), nullable=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("completed_at", DateTime(timezone=True), nullable=True),
    Column("merged_into", PgUUID(as_uuid=True), nullable=True),
    # A merged report follows its primary: the primary's latest status (migration 0002).
    Column("primary_status", String(32), nullable=True),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # Officers' work lists ("my agency's reports in this status") and receipt-code lookups.
    Index("ix_reports_agency_status", "agency_id", "status"),
    Index("ix_reports_receipt_code", "receipt_code"),
    # The followers of a primary, found on every transition of the primary.
    Index(
        "ix_reports_merged_into", "merged_into", postgresql_where=text("merged_into IS NOT NULL")
    ),
)

STATUS_HISTORY = Table(
    "status_history",
    METADATA,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("report_id", PgUUID(as_uuid=True), nullable=False),
    Column("version", Integer, nullable=False),
    Column("from_status", String(32), nullable=True),
    Column("to_status", String(32), nullable=False),
    Column("actor_id", String(128), nullable=False),
    Column("actor_role", String(32), nullable=False),
    Column("actor_agency", String(64), nullable=True),
    # The officer's name, shown on their follow-up (SPEC: leaks traceable to who handled it).
    Column("actor_display_name", String(200), nullable=True),
    Column("reason", String(5000), nullable=True),
    Column("follow_up", JSONB, nullable=True),
    Column("occurred_at", DateTime(timezone=True), nullable=False),
    # Append-only: one row per version; a second writer of the same version fails here.
    UniqueConstraint("report_id", "version", name="uq_status_history_report_version"),
)

# Workflow's copy of the gateway's category catalogue (gateway.categories.v1): auto-routing
# dispatches a new report to its category's agency when the category is active and has one.
# Kept in a table so a restart during a broker outage still routes (aduan_kit.catalogue).
CATALOGUE = catalogue_table(METADATA)

REPORT_LOCATIONS = Table(
    "report_locations",
    METADATA,
    # The reported point, only for the evidence check of follow-up photos. A precise point is
    # re-identifying (SPEC privacy rule 6): it is never logged nor returned by any endpoint.
    Column("report_id", PgUUID(as_uuid=True), primary_key=True),
    Column("lat", Float, nullable=False),
    Column("lon", Float, nullable=False),
)

SLA_CLOCKS = Table(
    "sla_clocks",
    METADATA,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("report_id", PgUUID(as_uuid=True), nullable=False),
    Column("stage", String(32), nullable=False),
    Column("category", String(100), nullable=True),
    Column("agency_id", String(64), nullable=True),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("due_at", DateTime(timezone=True), nullable=False),
    Column("remind_at", DateTime(timezone=True), nullable=False),
    # Set in the transaction that queues the event: each is emitted at most once.
    Column("reminded_at", DateTime(timezone=True), nullable=True),
    Column("breached_at", DateTime(timezone=True), nullable=True),
    # Set when the report leaves the stage; a stopped clock never fires.
    Column("closed_at", DateTime(timezone=True), nullable=True),
    Index(
        "uq_sla_clocks_running",
        "report_id",
        "stage",
        unique=True,
        postgresql_where=text("closed_at IS NULL"),
    ),
    Index(
        "ix_sla_clocks_remind",
        "remind_at",
        postgresql_where=text("closed_at IS NULL AND reminded_at IS NULL"),
    ),
    Index(
        "ix_sla_clocks_due",
        "due_at",
        postgresql_where=text("closed_at IS NULL AND breached_at IS NULL"),
    ),
)
