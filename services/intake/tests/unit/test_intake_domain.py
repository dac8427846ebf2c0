"""Intake's domain without I/O: receipt codes, contacts, the normalized report, sealing."""

from __future__ import annotations

import json
import re
import uuid
from datetime import UTC, datetime

import pytest
from cryptography.exceptions import InvalidTag
from pydantic import TypeAdapter, ValidationError

from aduan_contracts.enums import Channel, Privacy
from aduan_contracts.events import ReportSubmitted
from aduan_contracts.values import ReceiptCode
from aduan_intake.config import DEV_CONTACT_PEPPER, Settings
from aduan_intake.domain import (
    RECEIPT_ALPHABET,
    NormalizedReport,
    ReporterIdentity,
    contact_digest,
    new_receipt_code,
    normalize_contact,
)
from aduan_intake.domain import receipt as receipt_module
from aduan_kit.crypto import new_key, open_identity, seal_identity

RECEIPT = TypeAdapter(ReceiptCode)


class _AlwaysLast:
    """Stands in for the `secrets` module: proves the codes' randomness comes from it."""

    @staticmethod
    def choice(alphabet: str) -> str:
        return alphabet[-1]


def test_receipt_codes_match_the_contract_and_do_not_repeat() -> None:
    codes = [new_receipt_code() for _ in range(20_000)]
    for code in codes[:500]:
        assert RECEIPT.validate_python(code) == code
        assert re.fullmatch(r"ADU-[0-9A-Z]{4}-[0-9A-Z]{4}", code)
    assert len(set(codes)) == len(codes)
    used = set("".join(c[4:8] + c[9:] for c in codes))
    assert used <= set(RECEIPT_ALPHABET)
    assert not used & set("ILOU")  # Crockford: nothing to misread aloud
    assert len(used) == 32  # every symbol turns up: the whole alphabet is in play


def test_receipt_codes_come_from_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(receipt_module, "secrets", _AlwaysLast())
    assert new_receipt_code() == "ADU-ZZZZ-ZZZZ"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0812-3456-7890", "+6281234567890"),
        ("+62 812 3456 7890", "+6281234567890"),
        ("(021) 3822 255", "+62213822255"),
        ("  Budi.Santoso@Example.CO.ID ", "budi.santoso@example.co.id"),
    ],
)
def test_contacts_are_written_one_way(raw: str, expected: str) -> None:
    assert normalize_contact(raw).value == expected


@pytest.mark.parametrize(
    "raw", ["hello", "12", "budi@", "@example.com", "a b@example.com", "+1 555"]
)
def test_contacts_that_are_neither_phone_nor_email_are_refused(raw: str) -> None:
    with pytest.raises(ValueError, match=r"\S"):
        normalize_contact(raw)


def test_the_same_reporter_gets_the_same_digest_and_only_with_the_pepper() -> None:
    a = ReporterIdentity(name="Budi", contact=normalize_contact("0812-3456-7890").value)
    b = ReporterIdentity(name="B.", contact=normalize_contact("+6281234567890").value)
    key_a, key_b = a.reuse_key(Channel.WEB), b.reuse_key(Channel.SMS)
    assert key_a is not None
    assert key_b is not None
    assert key_a == key_b
    assert contact_digest("p" * 32, key_a) == contact_digest("p" * 32, key_b)
    assert contact_digest("p" * 32, key_a) != contact_digest("q" * 32, key_a)
    assert len(contact_digest("p" * 32, key_a)) == 32


def test_a_bare_name_is_not_an_identity_to_reuse_but_a_handle_is() -> None:
    assert ReporterIdentity(name="Budi").reuse_key(Channel.WEB) is None
    handle = ReporterIdentity(handle="@budi").reuse_key(Channel.X)
    assert handle == "handle:x:@budi"
    assert handle != ReporterIdentity(handle="@budi").reuse_key(Channel.INSTAGRAM)
    assert ReporterIdentity().is_empty


def _report(**changes: object) -> NormalizedReport:
    fields: dict[str, object] = {
        "channel": Channel.WEB,
        "channel_message_id": str(uuid.uuid4()),
        "text": "Jalan berlubang di depan sekolah",
        "received_at": datetime.now(UTC),
    }
    fields.update(changes)
    return NormalizedReport.model_validate(fields)


def test_a_report_is_private_unless_said_otherwise() -> None:
    assert _report().privacy is Privacy.PRIVATE
    assert _report(privacy="public").privacy is Privacy.PUBLIC
    with pytest.raises(ValidationError):
        _report(surprise=1)


def test_identity_seals_and_opens_only_with_its_key_and_key_id() -> None:
    identity = ReporterIdentity(name="Siti Aminah", contact="+6281234567890")
    key_id, key = uuid.uuid4(), new_key()
    sealed = seal_identity(identity.as_dict(), key_id, key)
    assert open_identity(sealed, key) == {
        "name": "Siti Aminah",
        "contact": "+6281234567890",
        "handle": None,
    }
    wire = sealed.model_dump_json()
    assert "Siti" not in wire
    assert "6281234567890" not in wire
    with pytest.raises(InvalidTag):
        open_identity(sealed, new_key())  # a shredded key cannot be replaced by another
    moved = sealed.model_copy(update={"key_id": uuid.uuid4()})
    with pytest.raises(InvalidTag):
        open_identity(moved, key)  # the key id is bound to the ciphertext


def test_the_event_carries_the_report_and_only_the_sealed_identity() -> None:
    identity = ReporterIdentity(name="Siti Aminah", contact="siti@example.id")
    report = _report(reporter=identity, title="Lubang", language="en")
    key_id, key = uuid.uuid4(), new_key()
    report_id = uuid.uuid4()
    event = report.to_event(
        report_id, "ADU-7K3M-9Q2X", seal_identity(identity.as_dict(), key_id, key), "cid-1"
    )
    assert isinstance(event, ReportSubmitted)
    assert (event.report_id, event.receipt_code, event.correlation_id) == (
        report_id,
        "ADU-7K3M-9Q2X",
        "cid-1",
    )
    assert event.channel_message_id == report.channel_message_id
    assert event.privacy is Privacy.PRIVATE
    assert event.language == "en"
    payload = json.loads(event.model_dump_json())
    assert "siti" not in json.dumps(payload).lower()
    assert payload["reporter"]["key_id"] == str(key_id)


def test_production_refuses_the_development_pepper() -> None:
    prod_db = "postgresql+asyncpg://intake:s3cret@db:5432/aduan_intake"
    with pytest.raises(ValidationError, match="pepper"):
        Settings(environment="production", database_url=prod_db)
    with pytest.raises(ValidationError, match="JWT"):
        Settings(environment="production", database_url=prod_db, contact_pepper="x" * 40)
    ok = Settings(
        environment="production",
        database_url=prod_db,
        contact_pepper="x" * 40,
        jwt_secret="y" * 40,
    )
    assert ok.contact_pepper != DEV_CONTACT_PEPPER
    local = Settings()
    assert (local.port, local.service_name) == (8001, "intake")
    assert local.database_url.endswith("/aduan_intake")
