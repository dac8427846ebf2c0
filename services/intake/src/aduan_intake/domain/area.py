"""Where a complaint is, as an administrative area code (issue 19): resolved once, at intake,
from the best of what the reporter gave, so routing, queues and statistics work on codes
instead of free text.

In order: a code chosen from the list (the portal's area box), the area and address fields
(a kelurahan name, "Jl. Kebon Sirih No. 12, Gambir"), then the complaint's own words (an SMS
or a post naming the place). The map point comes right after a chosen code, but only where
the operator gave kelurahan boundaries (`ADUAN_INTAKE_AREA_BOUNDARIES`; none ship with the
project, docs/decisions.md D13). Nothing is guessed: when no name fits, the report has no
code and the ticket-admin places it, as today.
"""

from __future__ import annotations

from aduan_areas import resolve
from aduan_contracts.values import AreaHow, Location

__all__ = ["TEXT_DISCOUNT", "place"]

# The complaint's own words name places for other reasons too ("dekat Pasar Senen", a
# street borrowed from another kelurahan): worth less than a field that asks for the place.
TEXT_DISCOUNT = 0.8


def place(location: Location | None, title: str | None, text: str) -> Location | None:
    """`location` with `area_code`, `area_how` and `area_confidence` set from the best
    source; what the reporter sent in those three fields is never trusted as such (a code
    they chose is checked against the list)."""
    chosen = location.area_code if location is not None else None
    found = resolve(kelurahan_code=chosen) if chosen else None
    how: AreaHow | None = "code" if found is not None else None
    confidence = found.confidence if found is not None else None
    fields = [f for f in (location.area, location.address) if f] if location is not None else []
    if found is None and location is not None and location.point is not None:
        # Only where an operator gave kelurahan boundaries (aduan_areas.use_boundaries);
        # the area/address fields settle a point that fell near a border.
        near = resolve(
            fields[0] if fields else None, point=(location.point.lat, location.point.lon)
        )
        if near is not None:
            # A point's area; or, no polygon holding it (or no boundaries at all), what the
            # first field names: what the loop below would find for it, read once, not twice.
            found, how, confidence = near, near.how, near.confidence
        else:
            fields = fields[1:]  # the first field names nothing: no need to read it again
    if found is None:
        for field in fields:
            if (found := resolve(field)) is not None:
                how, confidence = found.how, found.confidence
                break
    if found is None:
        words = f"{title}. {text}" if title else text
        found = resolve(words)
        if found is not None:
            how, confidence = "text", found.confidence * TEXT_DISCOUNT
    if found is None:
        if location is None or location.area_code is None:
            return location
        return location.model_copy(
            update={"area_code": None, "area_how": None, "area_confidence": None}
        )
    base = location if location is not None else Location()
    return base.model_copy(
        update={
            "area_code": found.area.code,
            "area_how": how,
            "area_confidence": round(confidence or 0.0, 2),
        }
    )
