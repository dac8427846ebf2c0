"""Redaction rules: scrubbing, coarse date/place, labels, pseudonyms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from uuid import uuid4

import pytest

from aduan_contracts.enums import Privacy
from aduan_contracts.values import GeoPoint, Location
from aduan_gateway.domain.audit import AccessEntry, chain_hash, verify_chain
from aduan_gateway.domain.redaction import (
    HIDDEN,
    PRIVATE_LABEL,
    PUBLIC_LABEL,
    coarse_area,
    coarse_month,
    confidentiality_label,
    pseudonym,
    scrub_text,
)


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Hubungi saya di 0812-3456-7890 ya", "0812-3456-7890"),
        ("WA +62 812 3456 7890.", "+62 812 3456 7890"),
        ("nomor +6281234567890", "+6281234567890"),
        ("hp 6281234567890", "6281234567890"),
        ("telp 081234567890", "081234567890"),
        ("kantor (021) 555-1234", "(021) 555-1234"),
        ("hp 0812.3456.7890", "0812.3456.7890"),
        ("call +1 (415) 555-2671", "+1 (415) 555-2671"),
        ("email budi.santoso@gmail.com ya", "budi.santoso@gmail.com"),
        ("mail 081234567890@mail.co.id", "081234567890@mail.co.id"),
        ("NIK 3171012345678901", "3171012345678901"),
        ("NIK: 3171 0123 4567 8901", "3171 0123 4567 8901"),
        ("mobil B 1234 XYZ parkir liar", "B 1234 XYZ"),
        ("motor b1234xyz di trotoar", "b1234xyz"),
        ("truk AB 12 CD", "AB 12 CD"),
    ],
)
def test_scrub_hides_personal_data(text: str, secret: str) -> None:
    scrubbed = scrub_text(text)
    assert secret not in scrubbed
    assert HIDDEN in scrubbed


def test_scrub_hides_two_numbers_typed_side_by_side() -> None:
    scrubbed = scrub_text("no 081234567890 081298765432 atau 0811223344")
    assert not any(ch.isdigit() for ch in scrubbed)


@pytest.mark.parametrize(
    "text",
    [
        "RT 05 RW 03 Kel. Menteng",
        "Jl. Sudirman No. 12, sudah 3 hari",
        "lubang 2 meter di KM 12",
        "Rp 1.500.000 dan Rp 15.000.000",
        "tanggal 12-05-2024 dan 2024-05-12",
        "buka jam 08.00 - 17.00",
        "periode 2023-2024",
        "ada 15 orang sejak 2019",
    ],
)
def test_scrub_keeps_ordinary_text(text: str) -> None:
    assert scrub_text(text) == text


def test_scrub_keeps_lines_apart() -> None:
    assert scrub_text("0812 3456 7890\n2024") == f"{HIDDEN}\n2024"


def test_coarse_month_uses_jakarta_time() -> None:
    assert coarse_month(datetime(2024, 5, 17, 9, 30, tzinfo=UTC)) == "2024-05"
    # 31 May 20:00 UTC is already 1 June in Jakarta.
    assert coarse_month(datetime(2024, 5, 31, 20, 0, tzinfo=UTC)) == "2024-06"
    wib = timezone(timedelta(hours=7))
    assert coarse_month(datetime(2024, 1, 1, 0, 30, tzinfo=wib)) == "2024-01"
    assert coarse_month(datetime(2024, 12, 31, 10, 0)) == "2024-12"  # naive: UTC


def test_coarse_area_never_gives_point_or_address() -> None:
    loc = Location(point=GeoPoint(lat=-6.2, lon=106.8), address="Jl. Melati 5", area="Menteng")
    assert coarse_area(loc) == "Menteng"
    assert coarse_area(Location(point=GeoPoint(lat=-6.2, lon=106.8))) is None
    assert coarse_area(None) is None


def test_confidentiality_labels() -> None:
    assert confidentiality_label(Privacy.PRIVATE) == PRIVATE_LABEL == "Privat"
    label = confidentiality_label(Privacy.PUBLIC)
    assert label == PUBLIC_LABEL
    assert label.startswith("Publik")
    assert "tidak boleh disebarluaskan" in label


def test_pseudonym_is_stable_and_secret_dependent() -> None:
    key_id = str(uuid4())
    first = pseudonym("s" * 32, key_id)
    assert first == pseudonym("s" * 32, key_id)
    assert first.startswith("Pelapor-")
    assert len(first) == len("Pelapor-") + 8
    assert first != pseudonym("t" * 32, key_id)
    assert first != pseudonym("s" * 32, str(uuid4()))
    assert key_id[:8] not in first


def test_access_log_chain_detects_edits() -> None:
    entries = [
        AccessEntry(datetime.now(UTC), f"u{i}", "validator", None, uuid4(), ("text",))
        for i in range(3)
    ]
    rows: list[tuple[AccessEntry, str | None, str]] = []
    prev: str | None = None
    for e in entries:
        digest = chain_hash(prev, e)
        rows.append((e, prev, digest))
        prev = digest
    assert verify_chain(rows)
    tampered = AccessEntry(
        entries[1].at, "someone-else", "validator", None, entries[1].report_id, ("text",)
    )
    assert not verify_chain([rows[0], (tampered, rows[1][1], rows[1][2]), rows[2]])
    assert not verify_chain([rows[0], rows[2]])  # a deleted entry breaks the link
