"""The web form adapter without infrastructure: normalization, negotiation, pages, limits."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import httpx
import pytest

from aduan_contracts.enums import Channel, Privacy
from aduan_contracts.events import CategoryPublished
from aduan_intake.bootstrap import asyncapi_document, build
from aduan_intake.config import Settings
from aduan_intake.domain import InvalidField
from aduan_intake.entrypoints.channels.common import prefers_json
from aduan_intake.entrypoints.channels.web import normalize_web_form, render_form, render_receipt
from aduan_kit.catalogue import Catalogue

NOW = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
CATALOGUE = Catalogue(
    [
        CategoryPublished(
            code="lampu-jalan",
            version=1,
            name_id="Lampu jalan mati",
            name_en="Street light out",
            updated_at=NOW,
        )
    ]
)
TEXT = "Lampu jalan mati sejak seminggu"


def form(**fields: str) -> dict[str, str]:
    return {"text": TEXT, **fields}


def test_minimal_form_is_a_private_indonesian_web_report_with_its_own_id() -> None:
    report = normalize_web_form(form(), NOW)
    assert report.channel is Channel.WEB
    assert report.privacy is Privacy.PRIVATE
    assert report.language == "id"
    assert report.reporter is None
    assert report.location is None
    assert report.received_at == NOW
    assert uuid.UUID(report.channel_message_id)
    assert normalize_web_form(form(), NOW).channel_message_id != report.channel_message_id


@pytest.mark.parametrize("value", ["on", "true", "1", "TRUE", " On "])
def test_public_only_when_explicitly_ticked(value: str) -> None:
    assert normalize_web_form(form(public=value), NOW).privacy is Privacy.PUBLIC


@pytest.mark.parametrize("value", ["", "off", "0", "false", "yes", "public"])
def test_anything_else_stays_private(value: str) -> None:
    assert normalize_web_form(form(public=value), NOW).privacy is Privacy.PRIVATE


def test_fields_are_cleaned_and_carried() -> None:
    sid = str(uuid.uuid4()).upper()
    report = normalize_web_form(
        {
            "text": "  Got\x00ong royong\r\nbaris dua  ",
            "title": " Lampu mati ",
            "category": "lampu-jalan",
            "name": " Budi ",
            "contact": "0812 3456 7890",
            "lat": "-6.2",
            "lon": "106.8166",
            "address": "Jl. Merdeka 1",
            "area": "Gambir",
            "language": "EN",
            "submission_id": sid,
        },
        NOW,
        catalogue=CATALOGUE,
    )
    assert report.text == "Gotong royong\nbaris dua"
    assert report.title == "Lampu mati"
    assert report.category_hint == "lampu-jalan"
    assert report.reporter is not None
    assert report.reporter.as_dict() == {
        "name": "Budi",
        "contact": "+6281234567890",
        "handle": None,
    }
    assert report.location is not None
    assert report.location.point is not None
    assert (report.location.point.lat, report.location.point.lon) == (-6.2, 106.8166)
    assert (report.location.address, report.location.area) == ("Jl. Merdeka 1", "Gambir")
    assert report.language == "en"
    assert report.channel_message_id == sid.lower()


@pytest.mark.parametrize(
    ("fields", "field", "reason"),
    [
        ({"text": ""}, "text", "required"),
        ({"text": "pendek"}, "text", "at least 10"),
        ({"text": "x" * 5001}, "text", "at most 5000"),
        (form(contact="not a contact"), "contact", "phone"),
        (form(contact="budi@"), "contact", "e-mail"),
        (form(lat="-6.2"), "lon", "required"),
        (form(lon="106.8"), "lat", "required"),
        (form(lat="91", lon="0"), "lat", "between"),
        (form(lat="nan", lon="0"), "lat", "between"),
        (form(lat="utara", lon="0"), "lat", "decimal"),
        (form(language="fr"), "language", "'id' or 'en'"),
        (form(submission_id="1"), "submission_id", "UUID"),
        (form(title="t" * 301), "title", "at most 300"),
    ],
)
def test_invalid_fields_are_named_with_a_reason(
    fields: dict[str, str], field: str, reason: str
) -> None:
    with pytest.raises(InvalidField) as caught:
        normalize_web_form(fields, NOW)
    assert caught.value.field == field
    assert reason in caught.value.reason


def test_reasons_never_repeat_the_personal_value() -> None:
    with pytest.raises(InvalidField) as caught:
        normalize_web_form(form(contact="rahasia-pribadi"), NOW)
    assert "rahasia" not in caught.value.reason


@pytest.mark.parametrize(
    ("accept", "json_wins"),
    [
        ("application/json", True),
        ("application/json, text/html;q=0.9", True),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", False),
        ("*/*", False),
        ("", False),
        (None, False),
        ("text/html;q=0.1, application/*", True),
        ("application/json;q=0.5, text/html", False),
    ],
)
def test_content_negotiation(accept: str | None, json_wins: bool) -> None:
    assert prefers_json(accept) is json_wins


def test_form_page_labels_every_field_and_carries_the_submission_id() -> None:
    page = render_form("0b0e6a9e-0000-4000-8000-000000000000")
    ids = set(re.findall(r'<(?:input|textarea|select) id="([a-z_]+)"', page))
    assert ids == {
        "title",
        "text",
        "category",
        "address",
        "area",
        "photos",
        "lat",
        "lon",
        "name",
        "contact",
        "language",
        "public",
    }
    for field in ids:
        assert f'<label for="{field}"' in page
    assert 'type="hidden" name="submission_id" value="0b0e6a9e-0000-4000-8000-000000000000"' in page
    assert '<html lang="id">' in page
    assert 'lang="en"' in page
    assert 'name="public" type="checkbox" value="on">' in page  # unticked by default
    assert "<script" not in render_receipt("<script>", duplicate=False)


async def test_get_serves_a_fresh_form_without_touching_infrastructure() -> None:
    app, _ = build(Settings())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://intake"
    ) as client:
        first = await client.get("/v1/channels/web")
        second = await client.get("/v1/channels/web")
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("text/html")
    pattern = r'name="submission_id" value="([0-9a-f-]{36})"'
    assert re.search(pattern, first.text)
    assert re.findall(pattern, first.text) != re.findall(pattern, second.text)


def test_asyncapi_documents_what_intake_publishes_and_consumes() -> None:
    _, runtime = build(Settings(topic_namespace="ns"))
    doc = str(asyncapi_document(runtime))
    for needle in (
        "ns.intake.report-submitted.v1",
        "ns.intake.reporter-keys.v1",
        "ns.gateway.erasure-requested.v1",
        "ReportSubmitted",
        "ReporterKeyIssued",
        "ReporterKeyShredded",
        "ReporterErasureRequested",
    ):
        assert needle in doc


def test_rate_limit_address_behind_the_portal() -> None:
    """Behind a trusted peer (the portal, by address or network) the nearest untrusted hop
    of X-Forwarded-For counts, so each citizen has their own limit; a hop a client put in
    front cannot move them to another bucket; anyone else counts as their own address."""
    from starlette.requests import Request as StarletteRequest

    from aduan_intake.entrypoints.channels.common import sender_address

    def request(peer: str, forwarded: str | None) -> StarletteRequest:
        headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
        return StarletteRequest(
            {"type": "http", "headers": headers, "client": (peer, 1234), "method": "POST"}
        )

    trusted = ("127.0.0.1", "10.0.0.0/8")
    assert sender_address(request("127.0.0.1", "203.0.113.9"), False, trusted) == "203.0.113.9"
    # A pod address inside the trusted network; the client's forged hop is ignored.
    forged = "198.51.100.1, 203.0.113.9"
    assert sender_address(request("10.12.3.4", forged), False, trusted) == "203.0.113.9"
    # Not a trusted peer: its own address, whatever it claims.
    assert sender_address(request("203.0.113.50", "1.2.3.4"), False, trusted) == "203.0.113.50"
    assert sender_address(request("10.1.1.1", None), False, trusted) == "10.1.1.1"
