"""The access log's hash chain: each entry's hash covers the previous hash and the entry's
canonical JSON, so editing or deleting any entry breaks every hash after it."""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

__all__ = ["AccessEntry", "chain_hash", "fields_json", "verify_chain"]


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
        """The entry as JSON with sorted keys, no spaces, non-ASCII as is: what the chain
        hashes. Written out in the keys' sorted order with each value encoded on its own
        (the same bytes as `json.dumps(..., sort_keys=True)` of the dict, which the unit
        test checks; building and sorting a dict per entry was a visible part of every
        officer read's access-log write, issue 18). The time and the report id need no
        escaping (digits, letters and `-:.+T`); the values that repeat from entry to entry
        (who, the role, the agency, the fields) are encoded once each (a list's 20 entries
        share them)."""
        return _CANONICAL % (
            _encoded(self.agency_id),
            self.at.isoformat(),
            fields_json(self.fields),
            self.report_id,
            _encoded(self.role),
            _encoded(self.subject),
        )


# Keys in sorted order: agency_id, at, fields, report_id, role, subject.
_CANONICAL = '{"agency_id":%s,"at":"%s","fields":%s,"report_id":"%s","role":%s,"subject":%s}'
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
# Bounded: officers, roles, agencies and field sets are few; a flood of new subjects only
# evicts (each is then encoded again).
_encoded = functools.lru_cache(maxsize=4096)(_encode)


@functools.lru_cache(maxsize=1024)
def fields_json(fields: tuple[str, ...]) -> str:
    """The fields a read returned, as the canonical entry writes them (sorted, compact)."""
    return _encode(sorted(fields))


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
