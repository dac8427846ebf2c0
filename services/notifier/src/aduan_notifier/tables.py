"""The notifier's own tables: recipients, reporter keys, parked notifications, deliveries."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import UUID as PgUUID

from aduan_kit.keystore import reporter_keys_table
from aduan_kit.messaging import messaging_tables

__all__ = [
    "DELIVERIES",
    "DELIVERY_ATTEMPTS",
    "DELIVERY_STATES",
    "INBOX",
    "METADATA",
    "OUTBOX",
    "PENDING",
    "RECIPIENTS",
    "REPORTER_KEYS",
]

METADATA = MetaData()
OUTBOX, INBOX = messaging_tables(METADATA)

# How to answer a report's reporter, from intake's ReportSubmitted. The identity stays sealed
# (AES-GCM under the reporter's key); `erased_at` is set when that key was shredded, after
# which the reporter is never contacted again.
RECIPIENTS = Table(
    "recipients",
    METADATA,
    Column("report_id", PgUUID(as_uuid=True), primary_key=True),
    Column("channel", String(32), nullable=False),
    Column("language", String(2), nullable=False),
    Column("receipt_code", String(32), nullable=False),
    Column("key_id", PgUUID(as_uuid=True), nullable=True, index=True),
    Column("sealed_identity", JSONB, nullable=True),
    Column("erased_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # The reporter's last message to us on a chat channel (WhatsApp, Messenger, Instagram):
    # free-form replies are allowed only within 24 hours of it.
    Column("last_inbound_at", DateTime(timezone=True), nullable=True),
    # The agency's latest follow-up note (what it says it did): the completion e-mail tells
    # the reporter the outcome, not only "resolved".
    Column("last_outcome", Text, nullable=True),
)

# Per-reporter data keys. A shredded key stays as a tombstone (key NULL) so that a replayed
# "issued" event, or an identity sealed under it that arrives later, is recognised as erased.
REPORTER_KEYS = reporter_keys_table(METADATA)  # aduan_kit.keystore: the same in the gateway

# Status changes of staff-entered reports (walk-in, letter, call centre) that arrived before
# the intake event that says whether the reporter left a contact. Resolved (delivered or
# dropped) when ReportSubmitted arrives; the row holds the status event as published.
PENDING = Table(
    "pending_notifications",
    METADATA,
    Column("status_event_id", PgUUID(as_uuid=True), primary_key=True),
    Column("report_id", PgUUID(as_uuid=True), nullable=False, index=True),
    Column("event", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# pending -> sending (claimed under a lease, attempts + 1) -> sent | failed | skipped, or
# back to pending with a later next_attempt_at after a transient failure. A 'sending' row
# whose lease ran out (its worker died) is claimed again.
DELIVERY_STATES = ("pending", "sending", "sent", "failed", "skipped")

# One row per (status change, channel): the unique constraint is what makes a message
# exactly-once even if the inbox were bypassed (replays, a second consumer group). The body
# is the message for the channel's own shape; a fallback transport re-renders it.
DELIVERIES = Table(
    "deliveries",
    METADATA,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("report_id", PgUUID(as_uuid=True), nullable=False, index=True),
    Column("status_event_id", PgUUID(as_uuid=True), nullable=False),
    Column("channel", String(32), nullable=False),
    Column("template", String(64), nullable=False),
    Column("language", String(2), nullable=False),
    Column("receipt_code", String(32), nullable=False),
    Column("subject", String(300), nullable=True),
    Column("body", Text, nullable=False),
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("reason", Text, nullable=True),
    Column("status_changed_at", DateTime(timezone=True), nullable=True),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("lease_until", DateTime(timezone=True), nullable=True),
    Column("transport", String(16), nullable=True),
    Column("provider_message_id", String(256), nullable=True),
    Column("last_error", String(1000), nullable=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("status_event_id", "channel", name="uq_deliveries_status_event_channel"),
    CheckConstraint(
        "state IN ('pending', 'sending', 'sent', 'failed', 'skipped')", name="ck_deliveries_state"
    ),
)

# One row per claimed attempt, written before the provider is called. A row without an
# outcome is an attempt whose worker died mid-call: the provider may or may not have the
# message (see docs/notifier.md, "At the provider boundary").
DELIVERY_ATTEMPTS = Table(
    "delivery_attempts",
    METADATA,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column(
        "delivery_id",
        BigInteger,
        ForeignKey("deliveries.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("attempt", Integer, nullable=False),
    Column("transport", String(16), nullable=True),
    Column("started_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Column("outcome", String(16), nullable=True),
    Column("error", String(1000), nullable=True),
    UniqueConstraint("delivery_id", "attempt", name="uq_delivery_attempts"),
)
