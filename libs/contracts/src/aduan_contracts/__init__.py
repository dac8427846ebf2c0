"""Aduan's integration contracts: the only thing services share.

Events (past tense) and commands (imperative) are frozen pydantic models with an envelope;
topic names and their payload types live in `aduan_contracts.topics`.
"""

from aduan_contracts import commands, events, topics, values
from aduan_contracts.enums import Channel, Privacy, ReportStatus, Role, SlaStage
from aduan_contracts.envelope import Contract, Envelope, utcnow
from aduan_contracts.serialization import decode, encode

__all__ = [
    "Channel",
    "Contract",
    "Envelope",
    "Privacy",
    "ReportStatus",
    "Role",
    "SlaStage",
    "commands",
    "decode",
    "encode",
    "events",
    "topics",
    "utcnow",
    "values",
]
