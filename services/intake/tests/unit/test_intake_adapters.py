"""Channel adapters without infrastructure: signatures (checked against the providers'
published examples where they exist), and each provider payload normalized into one report
shape (fixtures written from the providers' documentation)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import jwt
import pytest
from pydantic import SecretStr

from aduan_contracts.enums import Channel, Privacy, Role
from aduan_contracts.events import CategoryPublished
from aduan_intake.domain import InvalidField, NormalizedReport
from aduan_intake.entrypoints.channels.common import (
    Ignored,
    Inbound,
    key_matches,
    verify_hub_signature,
)
from aduan_intake.entrypoints.channels.email import html_to_text, parse_email
from aduan_intake.entrypoints.channels.instagram import normalize_instagram
from aduan_intake.entrypoints.channels.lapor import normalize_lapor_record
from aduan_intake.entrypoints.channels.messenger import normalize_messaging
from aduan_intake.entrypoints.channels.open311 import normalize_open311
from aduan_intake.entrypoints.channels.sms import normalize_sms, twilio_signature
from aduan_intake.entrypoints.channels.staff import AuthFailure, officer_from_token
from aduan_intake.entrypoints.channels.whatsapp import normalize_whatsapp
from aduan_intake.entrypoints.channels.x import crc_response_token, normalize_x
from aduan_kit.catalogue import Catalogue

FIXTURES = Path(__file__).parents[1] / "fixtures"
NOW = datetime(2026, 11, 24, 3, 0, tzinfo=UTC)


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def reports(items: list[Inbound | Ignored]) -> list[NormalizedReport]:
    return [i.report for i in items if isinstance(i, Inbound)]


# --- signatures -----------------------------------------------------------------------------


def test_twilio_signature_matches_twilios_documented_example() -> None:
    params = [
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+12349013030"),
        ("Digits", "1234"),
        ("From", "+12349013030"),
        ("To", "+18005551212"),
    ]
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert twilio_signature("12345", url, params) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_hub_signature_accepts_only_the_right_digest() -> None:
    secret = SecretStr("app-secret")
    body = b'{"object":"page"}'
    good = "sha256=" + hmac.new(b"app-secret", body, hashlib.sha256).hexdigest()
    assert verify_hub_signature(secret, body, good) is None
    assert verify_hub_signature(secret, body, good.upper().replace("SHA256", "sha256")) is None
    assert verify_hub_signature(secret, body + b" ", good) == (
        "X-Hub-Signature-256 does not match the body"
    )
    assert "missing" in (verify_hub_signature(secret, body, None) or "")
    assert "sha256=" in (verify_hub_signature(secret, body, "sha1=abc") or "")
    assert "not configured" in (verify_hub_signature(None, body, good) or "")


def test_x_crc_token_is_base64_hmac_sha256() -> None:
    token = crc_response_token("consumer-secret", "crc-abc")
    assert token.startswith("sha256=")
    assert token != crc_response_token("other-secret", "crc-abc")


def test_keys_compare_against_every_configured_key() -> None:
    keys = [SecretStr("one"), SecretStr("two")]
    assert key_matches("two", keys)
    assert not key_matches("three", keys)
    assert not key_matches(None, keys)
    assert not key_matches("one", [])


# --- provider payloads ----------------------------------------------------------------------


def test_whatsapp_messages_become_reports_and_the_rest_is_explained() -> None:
    text = normalize_whatsapp(fixture("whatsapp_text.json"))
    assert len(text) == 1 and isinstance(text[0], Inbound)
    report = text[0].report
    assert report.channel is Channel.WHATSAPP
    assert report.privacy is Privacy.PRIVATE
    assert report.reporter is not None
    assert report.reporter.contact == "+6281234567001"
    assert report.reporter.reply == {"phone_number_id": "106540352242922"}
    assert text[0].sender == "6281234567001"

    mixed = normalize_whatsapp(fixture("whatsapp_image.json"))
    image, pin, sticker = mixed
    assert isinstance(image, Inbound) and image.media[0].ref == "1209988766412345"
    assert image.report.text.startswith("Sampah menumpuk")
    assert isinstance(pin, Ignored) and isinstance(sticker, Ignored)
    assert normalize_whatsapp(fixture("whatsapp_status.json")) == []


@pytest.mark.parametrize(
    "payload",
    [
        [],
        {"object": "page"},
        {"object": "whatsapp_business_account", "entry": {}},
        {
            "object": "whatsapp_business_account",
            "entry": [{"changes": [{"field": "messages", "value": {"messages": [{"id": "x"}]}}]}],
        },
    ],
)
def test_malformed_whatsapp_payloads_are_refused(payload: Any) -> None:
    with pytest.raises(InvalidField):
        normalize_whatsapp(payload)


def test_whatsapp_pins_out_of_range_are_refused() -> None:
    payload = fixture("whatsapp_image.json")
    pin = payload["entry"][0]["changes"][0]["value"]["messages"][1]
    pin["location"]["latitude"] = 123.0
    with pytest.raises(InvalidField, match="out of range"):
        normalize_whatsapp(payload)


def test_messenger_skips_echoes_and_deliveries() -> None:
    items = normalize_messaging(
        fixture("messenger_message.json"), "page", Channel.FACEBOOK, "page_id"
    )
    assert len(items) == 2
    message, echo = items
    assert isinstance(message, Inbound) and isinstance(echo, Ignored)
    assert message.report.reporter is not None
    assert message.report.reporter.handle == "7012345678901234"
    assert message.report.reporter.reply == {"page_id": "110450001234567"}
    assert message.media[0].ref.endswith("photo.jpg")


def test_instagram_dms_and_comments() -> None:
    dm, comment = reports(normalize_instagram(fixture("instagram_messages.json")))
    assert dm.channel is comment.channel is Channel.INSTAGRAM
    assert comment.channel_message_id == "comment:17865799348089039"
    assert comment.reporter is not None
    assert comment.reporter.reply == {"comment_id": "17865799348089039", "media_id": "123123123"}


def test_x_dms_and_mentions_but_not_our_own() -> None:
    items = normalize_x(fixture("x_activity.json"))
    filed = reports(items)
    assert [r.channel_message_id for r in filed] == [
        "dm:1795421200000000001",
        "tweet:1795421300000000003",
    ]
    assert [i.reason for i in items if isinstance(i, Ignored)] == ["our own message"]
    mention = filed[1]
    assert mention.location is not None and mention.location.point is not None
    assert (mention.location.point.lat, mention.location.point.lon) == (-6.1856, 106.8249)
    with pytest.raises(InvalidField):
        normalize_x({"direct_message_events": []})


def test_sms_form_fields() -> None:
    from urllib.parse import parse_qsl

    params = parse_qsl((FIXTURES / "sms_twilio.txt").read_text().strip())
    report = normalize_sms(params, NOW)
    assert report.channel_message_id == "SM1f0e8a2b3c4d5e6f708192a3b4c5d6e7"
    assert report.text.startswith("Lampu lalu lintas perempatan Matraman")
    assert report.reporter is not None and report.reporter.contact == "+6281355556666"
    with pytest.raises(InvalidField, match="empty"):
        normalize_sms([*(p for p in params if p[0] != "Body"), ("Body", " ")], NOW)


def test_lapor_records() -> None:
    road, secret, empty = fixture("lapor_records.json")
    report = normalize_lapor_record(road)
    assert report.privacy is Privacy.PRIVATE
    assert report.received_at == datetime(2026, 11, 20, 1, 15, tzinfo=UTC)
    assert report.reporter is not None
    assert report.reporter.contact == "bambang.s@example.id"
    assert report.reporter.reply == {"lapor_tracking_id": "3812047"}
    assert normalize_lapor_record(secret).reporter is None
    with pytest.raises(InvalidField, match="required"):
        normalize_lapor_record(empty)
    with pytest.raises(InvalidField, match="timezone"):
        normalize_lapor_record({**road, "created_at": "2026-11-20T08:15:00"})


def test_a_lapor_reporters_nik_and_home_address_are_sealed_and_hidden_in_text() -> None:
    # Issue 13, hole 1: every value the reporter gave, NIK and home address included, is
    # kept only sealed and hidden wherever the text repeats it, in whatever format.
    road = fixture("lapor_records.json")[0]
    record = {
        **road,
        "isi": "Jalan rusak di depan rumah saya, jl. mawar no 7 rt 3/rw 9. "
        "NIK 3171-0123-4567-8901.",
        "pelapor": {
            **road["pelapor"],
            "nik": "3171 0123 4567 8901",
            "alamat": "Jl. Mawar No. 7 RT 003/RW 009, Cempaka Putih",
        },
    }
    report = normalize_lapor_record(record)
    assert report.reporter is not None
    sealed = report.reporter.as_dict()
    assert sealed["nik"] == "3171012345678901"
    assert sealed["address"].startswith("Jl. Mawar No. 7")
    event = report.to_event(uuid.uuid4(), "ADU-7K3M-9Q2X", None)
    assert "3171" not in event.text and "mawar" not in event.text.lower()
    assert event.text.startswith("Jalan rusak di depan rumah saya, [disembunyikan]")


def test_email_plain_html_quotes_and_receipts() -> None:
    msg = EmailMessage()
    msg["From"] = "Budi <Budi@Example.ID>"
    msg["Subject"] = "Re: Aduan ADU-7K3M-9QXZ"
    msg["Message-ID"] = "<abc@mail.example.id>"
    msg.set_content("Masih banjir.\n\nOn Mon, Aduan wrote:\n> kode ADU-7K3M-9QXZ\n")
    parsed = parse_email(msg.as_bytes(), NOW)
    assert parsed.receipts == ("ADU-7K3M-9QXZ",)
    assert parsed.own_text == "Masih banjir."
    assert parsed.report.reporter is not None
    assert parsed.report.reporter.contact == "budi@example.id"
    assert parsed.report.channel_message_id == "abc@mail.example.id"
    assert html_to_text("<p>a&amp;b</p><script>x()</script><div>c</div>") == "a&b\nc"

    nobody = EmailMessage()
    nobody["Subject"] = "hi"
    nobody.set_content("something is broken")
    with pytest.raises(InvalidField, match="sender"):
        parse_email(nobody.as_bytes(), NOW)


def test_open311_names_every_problem_in_the_spec_error_format() -> None:
    categories = Catalogue(
        [
            CategoryPublished(
                code="sampah", version=1, name_id="Sampah", name_en="Rubbish", updated_at=NOW
            ),
            CategoryPublished(
                code="lama", version=2, name_id="Lama", name_en="Old", active=False, updated_at=NOW
            ),
        ]
    )
    refused = normalize_open311({"service_code": "sampah", "lat": "x"}, categories, None, NOW)
    assert not isinstance(refused, NormalizedReport)
    body = json.loads(refused.body)
    assert refused.status_code == 400
    assert {e["code"] for e in body} == {400}
    assert len(body) == 3  # description, lat, location
    unknown = normalize_open311({"service_code": "ufo"}, categories, None, NOW)
    assert not isinstance(unknown, NormalizedReport) and unknown.status_code == 404
    retired = normalize_open311({"service_code": "lama"}, categories, None, NOW)
    assert not isinstance(retired, NormalizedReport) and retired.status_code == 400
    assert "is retired" in json.loads(retired.body)[0]["description"]
    form = {"service_code": "sampah", "description": "Sampah menumpuk", "address_string": "Pasar"}
    one = normalize_open311(form, categories, None, NOW)
    two = normalize_open311(form, categories, None, NOW)
    keyed = normalize_open311(form, categories, "client-key-1", NOW)
    assert isinstance(one, NormalizedReport) and isinstance(two, NormalizedReport)
    assert one.channel_message_id == two.channel_message_id  # a retry files once
    assert isinstance(keyed, NormalizedReport)
    assert keyed.channel_message_id == "key:client-key-1"
    assert one.privacy is Privacy.PRIVATE  # unless the reporter chose public
    chosen = normalize_open311({**form, "attribute[privacy]": "public"}, categories, None, NOW)
    assert isinstance(chosen, NormalizedReport) and chosen.privacy is Privacy.PUBLIC


def test_staff_tokens() -> None:
    secret = "s" * 40
    now = int(time.time())
    claims = {"sub": "op-1", "role": "ticket-admin", "name": "Agus", "exp": now + 60}
    officer = officer_from_token(
        f"Bearer {jwt.encode(claims, secret, algorithm='HS256')}", secret, ["ticket-admin"]
    )
    assert (officer.id, officer.role, officer.display_name) == ("op-1", Role.TICKET_ADMIN, "Agus")
    none_alg = jwt.encode(claims, None, algorithm="none")
    with pytest.raises(AuthFailure):
        officer_from_token(f"Bearer {none_alg}", secret, ["ticket-admin"])
    with pytest.raises(AuthFailure) as denied:
        officer_from_token(
            f"Bearer {jwt.encode(claims, secret, algorithm='HS256')}", secret, ["administrator"]
        )
    assert denied.value.status == 403
    with pytest.raises(AuthFailure) as missing:
        officer_from_token(None, secret, ["ticket-admin"])
    assert missing.value.status == 401
