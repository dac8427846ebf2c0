"""The access log's hash chain: each entry's hash covers the previous hash and the entry's
canonical JSON, so editing or deleting any entry breaks every hash after it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

__all__ = ["AccessEntry", "chain_hash", "verify_chain"]


@dataclass(frozen=True, slots=True)
class AccessEntry:
    """One officer read of a report: who, in which role, what, which fields, when."""

    at: datetime
    subject: str
    role: str
    agency_id: str | None
    report_id: UUID
    fields: tuple[str, ...]

    def canonical(self) -> str:
        return json.dumps(
            {
                "at": self.at.isoformat(),
                "subject": self.subject,
                "role": self.role,
                "agency_id": self.agency_id,
                "report_id": str(self.report_id),
                "fields": sorted(self.fields),
            },
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )


def chain_hash(prev_hash: str | None, entry: AccessEntry) -> str:
    return hashlib.sha256(((prev_hash or "") + entry.canonical()).encode()).hexdigest()


def verify_chain(rows: Iterable[tuple[AccessEntry, str | None, str]]) -> bool:
    """True when every (entry, prev_hash, hash), in log order, links to the one before."""
    previous: str | None = None
    for entry, prev_hash, digest in rows:
        if prev_hash != previous or chain_hash(prev_hash, entry) != digest:
            return False
        previous = digest
    return True
