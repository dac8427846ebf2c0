"""Redaction rules (SPEC "Privacy by default", rules 2, 5, 6 and 8). The text scrubbing
itself is `aduan_kit.redaction`, shared with intake."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime, timedelta, timezone

import aduan_areas
from aduan_contracts.enums import Privacy
from aduan_contracts.values import Location
from aduan_kit.redaction import (
    HIDDEN,
    Terms,
    identity_terms,
    prepare_terms,
    public_from_officer,
    scrub_erased,
    scrub_officer_text,
    scrub_terms,
    scrub_text,
)

__all__ = [
    "HIDDEN",
    "PRIVATE_LABEL",
    "PUBLIC_AREA_MIN_CONFIDENCE",
    "PUBLIC_LABEL",
    "Terms",
    "coarse_area",
    "coarse_month",
    "confidentiality_label",
    "identity_terms",
    "prepare_terms",
    "pseudonym",
    "public_area_code",
    "public_from_officer",
    "scrub_erased",
    "scrub_officer_text",
    "scrub_terms",
    "scrub_text",
]

PRIVATE_LABEL = "Privat"
PUBLIC_LABEL = "Publik — detail laporan dan data pelapor tidak boleh disebarluaskan"

# Months are the ones people in the city know the report by (Jakarta, UTC+7), not UTC's:
# a report filed at 03:00 on 1 June WIB belongs to June.
_JAKARTA = timezone(timedelta(hours=7), "WIB")


def coarse_month(moment: datetime) -> str:
    """ "YYYY-MM" of `moment` in Jakarta time (a naive datetime is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(_JAKARTA)
    return f"{local.year:04d}-{local.month:02d}"


# A code read from the complaint's words with little certainty would put the report in the
# wrong place on public lists and statistics: below this, the public gets no code.
PUBLIC_AREA_MIN_CONFIDENCE = 0.5


def public_area_code(location: Location | None) -> str | None:
    """The resolved area code the public may see: at most a kelurahan (it is the coarse
    place), and only when intake was fairly sure of it."""
    if location is None or location.area_code is None:
        return None
    if (location.area_confidence or 0.0) < PUBLIC_AREA_MIN_CONFIDENCE:
        return None
    return location.area_code


def coarse_area(location: Location | None) -> str | None:
    """The coarse place only; never the point or the street address. The official name of
    the area intake resolved when it was fairly sure ("Kenari, Kec. Senen, Kota Jakarta
    Pusat"), else the words the reporter typed in the area field: a name from the list
    never carries more than the area, while typed words might."""
    if location is None:
        return None
    code = public_area_code(location)
    if code is not None:
        area = aduan_areas.get(code)
        if area is not None:
            return aduan_areas.label(area)
    return location.area


def confidentiality_label(privacy: Privacy) -> str:
    """The visible label every report and follow-up carries (SPEC privacy rule 2)."""
    return PRIVATE_LABEL if privacy is Privacy.PRIVATE else PUBLIC_LABEL


def pseudonym(secret: str, key_id: str) -> str:
    """A stable stand-in for the reporter: the same reporter key always gives the same name,
    and without the secret it cannot be linked back to the key id (SPEC rule 5)."""
    digest = hmac.new(secret.encode(), key_id.encode(), hashlib.sha256).hexdigest()
    return f"Pelapor-{digest[:8]}"
