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
    identity_terms,
    pseudonym,
    scrub_erased,
    scrub_officer_text,
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
        # Revision 2: street addresses with a house number or RT/RW are not public.
        ("rumah di Jl. Kenanga No. 12 RT 04/RW 07 banjir", "Kenanga No. 12"),
        ("rumah di Jl. Kenanga No. 12 RT 04/RW 07 banjir", "RT 04/RW 07"),
        ("Gang Mawar nomor 3A tergenang", "Mawar nomor 3A"),
        ("di Jl Melati 5 ada lubang", "Melati 5"),
        ("warga RT.004 RW.007 Kel. Menteng", "RT.004 RW.007"),
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
        "Jl. Sudirman berlubang, sudah 3 hari",
        "Jalan berlubang 30 cm di depan sekolah",
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


# --- the reporter's own values, in every format (issue 13, holes 1, 4 and 10) --------------

IDENTITY = {
    "name": "Budi Santoso",
    "contact": "+6281263653679",
    "email": "Budi.Santoso@Contoh.id",
    "nik": "3171012345678901",
    "address": "Jl. Kenanga No. 12 RT 04/RW 07, Menteng",
    "handle": "@budi_s",
}


@pytest.mark.parametrize(
    "typed",
    [
        "0812-6365-3679",
        "0812 6365 3679",
        "+62 812-6365-3679",
        "62 812 6365 3679",
        "(0812) 63653679",
        "+62 (812) 6365.3679",
        "budi.santoso@contoh.id",
        "BUDI.SANTOSO@CONTOH.ID",
        "budi.santoso @ contoh . id",
        "budi.santoso [at] contoh [dot] id",
        "3171-0123-4567-8901",
        "3171 0123 4567 8901",
        "jl kenanga no 12 rt 4 / rw 7",
        "JL. KENANGA NO.12 RT.004/RW.007",
        "budi SANTOSO",
        "budi_s",
    ],
)
def test_officer_text_hides_the_reporters_own_values_in_every_format(typed: str) -> None:
    text = f"Tolong cek: {typed} - jalan berlubang."
    shown = scrub_officer_text(text, identity_terms(IDENTITY))
    assert typed.lower() not in shown.lower()
    # Not even a tail of it: no digit of the number and no part of the e-mail or street.
    assert not any(ch.isdigit() for ch in shown)
    for word in ("santoso", "kenanga", "contoh"):
        assert word not in shown.lower()
    assert shown == f"Tolong cek: {HIDDEN} - jalan berlubang."


def test_officer_text_keeps_plates_and_the_problem_street() -> None:
    # A parking officer needs the plate, a road crew the street of the pothole.
    text = "Mobil B 1234 XYZ parkir di Jl. Sudirman, depan toko; hubungi 0812-1111-2222."
    shown = scrub_officer_text(text, identity_terms(IDENTITY))
    assert "B 1234 XYZ" in shown and "Jl. Sudirman" in shown
    assert "0812-1111-2222" not in shown


def test_erased_text_also_hides_plates() -> None:
    shown = scrub_erased("motor saya B 1234 XYZ, hp 0812-6365-3679", identity_terms(IDENTITY))
    assert "1234" not in shown and "0812" not in shown


def test_identity_terms_take_every_value_given() -> None:
    terms = identity_terms(IDENTITY)
    for value in ("Budi Santoso", "+6281263653679", "3171012345678901", "budi_s"):
        assert value in terms
    # The street part of the home address alone, but not the bare kelurahan name.
    assert "Jl. Kenanga No. 12 RT 04/RW 07" in terms
    assert "Menteng" not in terms
