"""The portal's own tables: the public read model, plus inbox/outbox."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Float,
    MetaData,
    String,
    Table,
    Text,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import UUID as PgUUID

from aduan_kit.catalogue import catalogue_table
from aduan_kit.messaging import messaging_tables

__all__ = ["CATALOGUE", "INBOX", "METADATA", "OUTBOX", "PUBLIC_REPORTS"]

METADATA = MetaData()
OUTBOX, INBOX = messaging_tables(METADATA)
# The portal's copy of the gateway's category catalogue (aduan_portal.catalogue).
CATALOGUE = catalogue_table(METADATA)

# One row per report the gateway ever published. A withdrawal keeps the row as a tombstone
# (content emptied, `withdrawn` set) so that an older "published" event arriving late — a
# replay of the compacted topic, a redelivery — cannot bring a withdrawn report back.
# `updated_at` is the occurred_at of the event that wrote the row: it decides "newer" and
# the list order, and is never shown (the exact time can re-identify; SPEC privacy rule 6).
PUBLIC_REPORTS = Table(
    "public_reports",
    METADATA,
    Column("report_id", PgUUID(as_uuid=True), primary_key=True),
    Column("public_id", String(64), nullable=False, index=True),
    Column("title", String(300), nullable=True),
    Column("text", Text, nullable=False),
    Column("category", String(100), nullable=True, index=True),
    Column("agency_id", String(64), nullable=True, index=True),
    Column("status", String(32), nullable=False),
    Column("status_label", String(100), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("area", String(200), nullable=True),
    # The area's Kemendagri code (kelurahan at most), for filters and per-area counts.
    Column("area_code", String(13), nullable=True),
    Column("month", String(7), nullable=False, index=True),
    Column("confidentiality_label", String(300), nullable=False),
    Column("timeline", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("withdrawn", Boolean, nullable=False, server_default=false()),
    Column("updated_at", DateTime(timezone=True), nullable=False, index=True),
    # Hours from receipt to completion, for the median on /stats (null until completed).
    Column("completed_hours", Float, nullable=True),
    # The gateway's coarse point (0.01° grid, ~1 km), snapped again here: the map never
    # shows a precise location even if a producer sent one (SPEC privacy rule 6).
    Column("coarse_lat", Float, nullable=True),
    Column("coarse_lon", Float, nullable=True),
)
