"""Value objects that appear inside events and commands."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from pydantic import Field

from aduan_contracts.enums import Role
from aduan_contracts.envelope import Contract

__all__ = [
    "AREA_CODE_PATTERN",
    "Actor",
    "AreaHow",
    "EvidenceCheck",
    "FollowUp",
    "GeoPoint",
    "Location",
    "PhotoRef",
    "ReceiptCode",
    "SealedContent",
    "SealedIdentity",
    "normalize_receipt_code",
]

ReceiptCode = Annotated[str, Field(pattern=r"^ADU-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$")]
"""What the reporter gets back: short, unambiguous (Crockford base32), safe to read aloud."""

_CROCKFORD_READ_AS = str.maketrans({"O": "0", "I": "1", "L": "1"})
_RECEIPT_BODY = re.compile(r"^[0-9A-HJKMNP-TV-Z]{8}$")


def normalize_receipt_code(raw: str) -> str | None:
    """A receipt code as people type or read it out ("adu 7k2m 9x1o", "7K2M-9X10") in the
    canonical `ADU-XXXX-XXXX` form, or None when it cannot be one. Crockford base32 reads
    O as 0 and I/L as 1, which is what a caller on the phone usually means."""
    text = re.sub(r"[\s\-_.]", "", raw.upper())
    if text.startswith("ADU"):
        text = text[3:]
    text = text.translate(_CROCKFORD_READ_AS)
    if not _RECEIPT_BODY.match(text):
        return None
    return f"ADU-{text[:4]}-{text[4:]}"


AREA_CODE_PATTERN = r"^[0-9]{2}(\.[0-9]{2}(\.[0-9]{2}(\.[0-9]{4})?)?)?$"
"""A Kemendagri area code, dotted: province, kota/kabupaten, kecamatan, kelurahan/desa."""

AreaHow = Literal["code", "point", "name", "address", "text"]


class GeoPoint(Contract):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class Location(Contract):
    """Where the problem is. Precise point and address are re-identifying (privacy rule 6);
    `area` is the coarse place (kelurahan/kecamatan or grid cell) others may see."""

    point: GeoPoint | None = None
    address: str | None = Field(default=None, max_length=500)
    area: str | None = Field(default=None, max_length=200)
    # The administrative area intake resolved from what the reporter gave (issue 19): the
    # dotted Kemendagri code of the most specific area it could tell (a kelurahan, else a
    # kecamatan or kota), how (`code`: chosen from the list; `name`/`address`: the area or
    # address fields; `text`: the complaint's own words) and how sure (0..1). Coarse like
    # `area`: a kelurahan is what the public may see.
    area_code: str | None = Field(default=None, pattern=AREA_CODE_PATTERN)
    area_how: AreaHow | None = None
    area_confidence: float | None = Field(default=None, ge=0, le=1)


class PhotoRef(Contract):
    """A photo stored content-addressed in the blob store; events never carry bytes."""

    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    content_type: str = Field(pattern=r"^image/(jpeg|png|webp)$")
    size_bytes: int = Field(gt=0)
    taken_at: datetime | None = None
    point: GeoPoint | None = None


class SealedIdentity(Contract):
    """The reporter's identity (name, contacts, channel handle, how to reply) encrypted with
    a per-reporter key (AES-256-GCM). Only services holding the key can open it; deleting the
    key erases the identity from every copy, the Kafka log included (crypto-shredding)."""

    key_id: UUID
    alg: str = "AES-256-GCM"
    nonce: str = Field(min_length=16, max_length=32, description="base64, 12 bytes")
    ciphertext: str = Field(min_length=1, max_length=16384, description="base64")


class SealedContent(SealedIdentity):
    """A report's title and text as the reporter typed them, sealed like the identity with
    the reporter's key (so erasure makes them unreadable wherever they were copied). Larger
    than an identity: 10,000 characters of text, JSON-escaped, then base64."""

    ciphertext: str = Field(min_length=1, max_length=131072, description="base64")


class Actor(Contract):
    """Who did something. `display_name` is the officer's name shown on a follow-up (TL) so a
    leak can be traced to who handled the report; never the reporter's name."""

    id: str = Field(min_length=1, max_length=128)
    role: Role
    agency_id: str | None = Field(default=None, max_length=64)
    display_name: str | None = Field(default=None, max_length=200)


class EvidenceCheck(Contract):
    """Result of checking a follow-up's after-photos against the report: it informs the
    validator, it does not decide."""

    photos_checked: int = Field(ge=0)
    newer_than_report: bool | None = None
    within_distance: bool | None = None
    max_distance_m: float | None = None
    nearest_distance_m: float | None = None
    summary: str = Field(max_length=500)


class FollowUp(Contract):
    """A follow-up (tindak lanjut, "TL"): what the agency says it did, with after-photos."""

    follow_up_id: UUID
    note: str = Field(min_length=1, max_length=5000)
    photos: tuple[PhotoRef, ...] = ()
    officer: Actor
    evidence: EvidenceCheck | None = None
