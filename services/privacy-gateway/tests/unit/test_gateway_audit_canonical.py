"""The access log's canonical form is the same bytes as the dict dumped with sorted keys
(the chain's hashes of entries written before must still verify)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from uuid import UUID

from hypothesis import given
from hypothesis import strategies as st

from aduan_gateway.domain.audit import AccessEntry, chain_hash

TEXT = st.text(max_size=30)  # quotes, backslashes, control characters, any script


def _as_dumped(e: AccessEntry) -> str:
    return json.dumps(
        {
            "at": e.at.isoformat(),
            "subject": e.subject,
            "role": e.role,
            "agency_id": e.agency_id,
            "report_id": str(e.report_id),
            "fields": sorted(e.fields),
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


@given(
    at=st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=7))])),
    subject=TEXT,
    role=TEXT,
    agency_id=st.none() | TEXT,
    report_id=st.uuids(),
    fields=st.lists(TEXT, max_size=6).map(tuple),
)
def test_the_canonical_form_is_the_sorted_dump(
    at: datetime,
    subject: str,
    role: str,
    agency_id: str | None,
    report_id: UUID,
    fields: tuple[str, ...],
) -> None:
    entry = AccessEntry(at, subject, role, agency_id, report_id, fields)
    assert entry.canonical() == _as_dumped(entry)


def test_a_known_entry_hashes_as_it_always_did() -> None:
    entry = AccessEntry(
        datetime(2026, 12, 5, 21, 0, tzinfo=UTC),
        'officer-ä"1',
        "agency_officer",
        None,
        UUID("12345678-1234-5678-1234-567812345678"),
        ("title", "status", "location.area"),
    )
    assert entry.canonical() == (
        '{"agency_id":null,"at":"2026-12-05T21:00:00+00:00",'
        '"fields":["location.area","status","title"],'
        '"report_id":"12345678-1234-5678-1234-567812345678","role":"agency_officer",'
        '"subject":"officer-ä\\"1"}'
    )
    # sha256 of the line above, as the chain has always hashed a first entry.
    assert (
        chain_hash(None, entry)
        == "920c835d3b8cad28e0f661d00b5e3c7aa2198bbfe6d0cfda28818d4a6a1972ff"
    )
