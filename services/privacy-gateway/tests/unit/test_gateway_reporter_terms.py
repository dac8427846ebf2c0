"""Hiding the reporter's own name and contact in text; contact proof normalization; the
reply reader resolving only the futures it holds."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from uuid import uuid4

from aduan_contracts.enums import Channel, Privacy, ReportStatus, Role
from aduan_contracts.events import CommandAccepted, CommandRefused
from aduan_contracts.serialization import encode
from aduan_gateway.bootstrap import build
from aduan_gateway.config import Settings
from aduan_gateway.domain.model import ReportRecord, TimelineRecord
from aduan_gateway.domain.redaction import HIDDEN, identity_terms, scrub_text
from aduan_gateway.domain.views import AgencyReportView, officer_view, public_view
from aduan_gateway.entrypoints.api_auth import normalize_contact
from aduan_gateway.service.commands import CommandBus

IDENTITY = {"name": "Siti Rahmawati", "contact": "+6281234567890", "handle": "@sitirahma"}


def test_identity_terms_cover_name_parts_contact_and_handle() -> None:
    terms = identity_terms(IDENTITY)
    # Longest first: the full name is hidden as one before its parts.
    assert terms.index("Siti Rahmawati") < terms.index("Siti")
    assert {"Siti", "Rahmawati", "+6281234567890", "@sitirahma", "sitirahma"} <= set(terms)
    assert identity_terms({"name": "Al B", "contact": None, "handle": None}) == ("Al B",)
    assert identity_terms({}) == ()


def test_scrub_hides_the_reporter_named_in_text_whole_words_only() -> None:
    text = "Saya SITI rahmawati (ig sitirahma). Sitiawan tetangga saya."
    out = scrub_text(text, identity_terms(IDENTITY))
    assert "SITI" not in out and "rahmawati" not in out and "sitirahma)" not in out
    assert "Sitiawan" in out  # a longer word that merely starts with the name stays
    assert out.count(HIDDEN) == 2  # the full name (any case) as one, the handle


def test_public_and_agency_views_hide_the_reporter_name() -> None:
    record = ReportRecord(
        report_id=uuid4(),
        channel=Channel.WEB,
        privacy=Privacy.PUBLIC,
        has_content=True,
        title="Laporan Siti",
        text="Nama saya Siti Rahmawati, jalan rusak.",
        agency_id="dbm",
        received_at=datetime(2024, 5, 1, tzinfo=UTC),
        status=ReportStatus.DISPATCHED,
        status_version=2,
        reporter_terms=identity_terms(IDENTITY),
        timeline=(TimelineRecord(1, ReportStatus.RECEIVED, datetime.now(UTC), Role.SYSTEM),),
    )
    public = public_view(record)
    assert public is not None and "Siti" not in public.model_dump_json()
    agency = officer_view(record, Role.AGENCY_OFFICER, "dbm", "s" * 40)
    assert isinstance(agency, AgencyReportView) and "Siti" not in agency.model_dump_json()
    full = officer_view(record, Role.VALIDATOR, None, "s" * 40)
    # SPEC Revision 2: anonymous to validators and ticket-admins too (hole 1).
    assert full is not None and "Siti" not in full.model_dump_json()
    # Key not there yet: the name cannot be hidden, so nothing public and no agency text.
    pending = replace(record, reporter_terms=(), identity_pending=True)
    assert public_view(pending) is None
    withheld = officer_view(pending, Role.AGENCY_OFFICER, "dbm", "s" * 40)
    assert withheld is not None and withheld.text == HIDDEN and withheld.title == HIDDEN


def test_contact_proof_is_compared_in_intakes_normal_form() -> None:
    assert normalize_contact("0812-3456-7890") == "+6281234567890"
    assert normalize_contact("+62 812 3456 7890") == "+6281234567890"
    assert normalize_contact(" Siti.Rahma@Example.ORG ") == "siti.rahma@example.org"
    assert normalize_contact("not a number") is None
    assert normalize_contact("123") is None


async def test_reply_reader_resolves_only_its_own_commands() -> None:
    _, runtime = build(Settings(topic_namespace="unit"))
    bus = CommandBus(runtime, timeout_s=1)
    mine, report = uuid4(), uuid4()
    future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
    bus._pending[mine] = future  # type: ignore[assignment]
    other = CommandRefused(command_id=uuid4(), report_id=report, code="invalid", reason="x")
    bus._resolve(encode(other))
    bus._resolve(b"{not json")
    bus._resolve(None)
    assert not future.done()
    accepted = CommandAccepted(
        command_id=mine, report_id=report, status=ReportStatus.DISPATCHED, version=2
    )
    bus._resolve(encode(accepted))
    assert future.result() == accepted
