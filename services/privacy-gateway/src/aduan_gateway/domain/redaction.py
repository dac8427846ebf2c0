"""Redaction rules (SPEC "Privacy by default", rules 2, 5, 6 and 8)."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from aduan_contracts.enums import Privacy
from aduan_contracts.values import Location

__all__ = [
    "HIDDEN",
    "PRIVATE_LABEL",
    "PUBLIC_LABEL",
    "coarse_area",
    "coarse_month",
    "confidentiality_label",
    "identity_terms",
    "pseudonym",
    "scrub_terms",
    "scrub_text",
]

HIDDEN = "[disembunyikan]"
PRIVATE_LABEL = "Privat"
PUBLIC_LABEL = "Publik — detail laporan dan data pelapor tidak boleh disebarluaskan"

# Months are the ones people in the city know the report by (Jakarta, UTC+7), not UTC's:
# a report filed at 03:00 on 1 June WIB belongs to June.
_JAKARTA = timezone(timedelta(hours=7), "WIB")

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")

# NIK (Nomor Induk Kependudukan): exactly 16 digits, possibly grouped by 4.
_NIK = re.compile(r"(?<!\d)\d{4}[ .\-]?\d{4}[ .\-]?\d{4}[ .\-]?\d{4}(?!\d)")

# A run of digits with the separators people type into phone numbers ("+62 812-3456-7890",
# "(021) 555 1234", "0812.3456.7890"). Whether it is a phone number is decided by
# `_phone` (digit count, not a date/amount/time): a regex alone either misses formats or
# eats house numbers. Separators are spaces/tabs only, never newlines, so two lines of
# numbers are judged separately.
_DIGIT_RUN = re.compile(r"(?<![\w+])(?:\+|\b00)?\(?\d[\d \t().\-]*\d\)?(?![\w])")
_MIN_PHONE_DIGITS = 8  # shorter runs are house numbers, RT/RW, amounts, years
_NOT_A_PHONE = re.compile(
    r"""
      \d{1,2}[.\-]\d{1,2}[.\-]\d{4}              # date 12-05-2024
    | \d{4}[.\-]\d{1,2}[.\-]\d{1,2}              # date 2024-05-12
    | \d{1,3}(?:\.\d{3}){2,}                     # rupiah amount 1.500.000
    | (?:19|20)\d{2}[ \t]*-[ \t]*(?:19|20)\d{2}  # year range 2023-2024
    | \d{1,2}[.:]\d{2}[ \t]*-[ \t]*\d{1,2}[.:]\d{2}  # opening hours 08.00 - 17.00
    """,
    re.VERBOSE,
)

# Indonesian plates: a region code, 1-4 digits, a 1-3 letter suffix ("B 1234 XYZ",
# "B1234XYZ", "AB 12 CD"). Only real region codes are accepted so that address fragments
# such as "RT 05 RW" are not taken for plates.
_PLATE_REGIONS = (
    *("AA", "AB", "AD", "AE", "AG", "BA", "BB", "BD", "BE", "BG", "BH", "BK", "BL", "BM"),
    *("BN", "BP", "CC", "CD", "DA", "DB", "DC", "DD", "DE", "DG", "DH", "DK", "DL", "DM"),
    *("DN", "DP", "DR", "DS", "DT", "DW", "EA", "EB", "ED", "KB", "KH", "KT", "KU", "PA"),
    *("PB", "PG", "PT", "PY", "RI"),
    *("A", "B", "D", "E", "F", "G", "H", "K", "L", "M", "N", "P", "R", "S", "T", "W", "Z"),
)
_PLATE = re.compile(
    r"(?<![A-Za-z0-9])(?:" + "|".join(_PLATE_REGIONS) + r")[ \-]?\d{1,4}[ \-]?[A-Z]{1,3}"
    r"(?![A-Za-z0-9])",
    re.IGNORECASE,
)


def _phone(match: re.Match[str]) -> str:
    candidate = match.group(0)
    digits = sum(ch.isdigit() for ch in candidate)
    # No upper bound: a run of more than 15 digits is two numbers typed side by side or an
    # ID number; hiding it errs on the reporter's side.
    if digits < _MIN_PHONE_DIGITS or _NOT_A_PHONE.fullmatch(candidate.strip("()")):
        return candidate
    return HIDDEN


_MIN_TERM = 3  # shorter name parts ("Hj", "S") are also ordinary words


def identity_terms(identity: dict[str, Any]) -> tuple[str, ...]:
    """What of a reporter's opened identity to hide from text: the full name, each part of
    it, the contact and the channel handle (longest first, so a full name goes as one)."""
    terms: set[str] = set()
    name = identity.get("name")
    if isinstance(name, str) and name.strip():
        terms.add(name.strip())
        terms.update(part for part in re.split(r"[\s,.]+", name) if len(part) >= _MIN_TERM)
    for key in ("contact", "handle"):
        value = identity.get(key)
        if isinstance(value, str) and len(value.strip()) >= _MIN_TERM:
            terms.add(value.strip())
            if key == "handle":
                terms.add(value.strip().lstrip("@"))
    return tuple(sorted(terms, key=len, reverse=True))


def scrub_terms(text: str, terms: Iterable[str]) -> str:
    """Hide each term (case-insensitive, whole words only) — the reporter named in text."""
    for term in terms:
        text = re.sub(
            r"(?<![\w])" + re.escape(term) + r"(?![\w])", HIDDEN, text, flags=re.IGNORECASE
        )
    return text


def scrub_text(text: str, terms: Iterable[str] = ()) -> str:
    """Replace the reporter's own name, handle and contact (`terms`, when the identity
    could be opened), phone numbers, e-mail addresses, NIKs and vehicle plates with `HIDDEN`.

    Order matters: e-mails first (their digits would otherwise be judged as phone numbers),
    NIKs before phone numbers, plates last (after digits that belong to phone numbers are
    gone, so "B 0812..." cannot half-match).
    """
    text = scrub_terms(text, terms)
    text = _EMAIL.sub(HIDDEN, text)
    text = _NIK.sub(HIDDEN, text)
    text = _DIGIT_RUN.sub(_phone, text)
    return _PLATE.sub(HIDDEN, text)


def coarse_month(moment: datetime) -> str:
    """ "YYYY-MM" of `moment` in Jakarta time (a naive datetime is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(_JAKARTA)
    return f"{local.year:04d}-{local.month:02d}"


def coarse_area(location: Location | None) -> str | None:
    """The coarse place only; never the point or the street address."""
    return location.area if location is not None else None


def confidentiality_label(privacy: Privacy) -> str:
    """The visible label every report and follow-up carries (SPEC privacy rule 2)."""
    return PRIVATE_LABEL if privacy is Privacy.PRIVATE else PUBLIC_LABEL


def pseudonym(secret: str, key_id: str) -> str:
    """A stable stand-in for the reporter: the same reporter key always gives the same name,
    and without the secret it cannot be linked back to the key id (SPEC rule 5)."""
    digest = hmac.new(secret.encode(), key_id.encode(), hashlib.sha256).hexdigest()
    return f"Pelapor-{digest[:8]}"
