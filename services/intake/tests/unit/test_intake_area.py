"""Where a complaint is, as a Kemendagri code (issue 19): intake resolves it from the best of
what the reporter gave, says how and how sure, and never takes the reporter's word for the
"how" or the confidence."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from aduan_contracts.values import GeoPoint, Location
from aduan_intake.domain import InvalidField, NormalizedReport
from aduan_intake.domain.area import TEXT_DISCOUNT, place
from aduan_intake.entrypoints.channels.web import normalize_web_form

NOW = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)
GAMBIR = "31.71.01.1001"  # Kelurahan Gambir, Kec. Gambir, Kota Jakarta Pusat
SENEN_KEC = "31.71.04"


def event_location(location: Location | None, text: str, title: str | None = None) -> Location:
    report = NormalizedReport(
        channel="web",
        channel_message_id=str(uuid.uuid4()),
        text=text,
        title=title,
        location=location,
        received_at=NOW,
    )
    found = report.to_event(uuid.uuid4(), "ADU-0000-0000", None).location
    assert found is not None
    return found


def test_a_code_chosen_from_the_list_is_taken_as_certain() -> None:
    got = event_location(Location(area="Gambir", area_code=GAMBIR), "Trotoar rusak parah.")
    assert (got.area_code, got.area_how, got.area_confidence) == (GAMBIR, "code", 1.0)
    assert got.area == "Gambir"  # what the reporter typed stays


def test_an_unknown_code_is_ignored_and_the_words_decide() -> None:
    got = event_location(
        Location(area="Kel. Gambir, Kec. Gambir", area_code="31.71.99.9999"),
        "Trotoar rusak parah.",
    )
    assert got.area_code == GAMBIR and got.area_how != "code"
    assert got.area_confidence is not None and 0.5 <= got.area_confidence < 1


def test_the_address_field_and_a_misspelling() -> None:
    got = event_location(
        Location(address="Jl. Kebon Sirih No. 12, Gambirr, Jakarta Pusat"), "Lubang besar."
    )
    assert got.area_code == GAMBIR and got.area_how == "address"


def test_the_complaints_own_words_when_no_field_names_a_place() -> None:
    text = "Sampah menumpuk di pinggir kali Cipinang Melayu, bau sekali."
    got = event_location(None, text)
    assert got.area_code is not None and got.area_code.startswith("31.75.")
    assert got.area_how == "text"
    # Worth less than the same words in a field that asks for the place.
    field = event_location(Location(address=text), "Bau sekali.")
    assert got.area_confidence is not None and field.area_confidence is not None
    assert got.area_confidence == pytest.approx(field.area_confidence * TEXT_DISCOUNT, abs=0.01)


def test_no_place_named_no_code_and_nothing_invented() -> None:
    point = GeoPoint(lat=-6.1754, lon=106.8272)
    report = NormalizedReport(
        channel="web",
        channel_message_id=str(uuid.uuid4()),
        text="Lampu mati sudah seminggu, gelap sekali malam hari.",
        location=Location(point=point),
        received_at=NOW,
    )
    got = report.to_event(uuid.uuid4(), "ADU-0000-0000", None).location
    # A point alone resolves nothing until boundaries ship (docs/decisions.md, D13).
    assert got == Location(point=point)
    assert place(None, None, "Tolong segera diperbaiki, terima kasih.") is None


def test_how_and_how_sure_are_intakes_to_say() -> None:
    sent = Location.model_validate(
        {"area": "Senen", "area_code": "31.71", "area_how": "code", "area_confidence": 1.0}
    )
    report = NormalizedReport(
        channel="app",
        channel_message_id="app-1",
        text="Jalan berlubang.",
        location=sent,
        received_at=NOW,
    )
    assert report.location is not None
    assert (report.location.area_how, report.location.area_confidence) == (None, None)
    got = report.to_event(uuid.uuid4(), "ADU-0000-0000", None).location
    assert got is not None and got.area_how == "code" and got.area_code == "31.71"


def test_the_web_form_carries_a_chosen_code_and_refuses_a_malformed_one() -> None:
    report = normalize_web_form(
        {"text": "Trotoar rusak parah di depan stasiun.", "area": "Senen", "area_code": SENEN_KEC},
        NOW,
    )
    assert report.location is not None and report.location.area_code == SENEN_KEC
    with pytest.raises(InvalidField) as caught:
        normalize_web_form({"text": "Trotoar rusak parah.", "area_code": "Gambir"}, NOW)
    assert caught.value.field == "area_code"


def test_a_map_point_names_its_kelurahan_where_the_operator_gave_boundaries() -> None:
    """With boundaries (ADUAN_INTAKE_AREA_BOUNDARIES) a point on the map form is where the
    problem is: it comes before the fields and the words; near a border the area field
    settles it. Without boundaries (the default) the point is not used."""
    from aduan_areas import Boundaries, use_boundaries

    def square(code: str, west: float, east: float) -> dict[str, object]:
        ring = [[west, -6.18], [east, -6.18], [east, -6.17], [west, -6.17], [west, -6.18]]
        return {
            "type": "Feature",
            "properties": {"code": code},
            "geometry": {"type": "Polygon", "coordinates": [ring]},
        }

    cideng = "31.71.01.1002"
    # Made-up squares either side of the meridian 106.82 (the resolution is checked, not
    # the geography).
    shapes = {"type": "FeatureCollection", "features": [square(GAMBIR, 106.81, 106.82)]}
    shapes["features"].append(square(cideng, 106.82, 106.83))  # type: ignore[attr-defined]
    inside = Location(point=GeoPoint(lat=-6.175, lon=106.825), area="Gambir")
    near_border = Location(point=GeoPoint(lat=-6.175, lon=106.82009), area="Kel. Gambir")
    assert place(inside, None, "Jalan berlubang").area_code == GAMBIR  # type: ignore[union-attr]
    use_boundaries(Boundaries.from_geojson(shapes))
    try:
        found = place(inside, None, "Jalan berlubang di Gambir")
        assert found is not None
        assert (found.area_code, found.area_how, found.area_confidence) == (cideng, "point", 0.9)
        settled = place(near_border, None, "Jalan berlubang")
        assert settled is not None
        assert (settled.area_code, settled.area_how) == (GAMBIR, "point")
        alone = place(Location(point=GeoPoint(lat=-6.175, lon=106.815)), None, "Lubang")
        assert alone is not None and alone.area_code == GAMBIR and alone.area_how == "point"
        away = place(Location(point=GeoPoint(lat=-6.3, lon=106.9)), None, "Lubang")
        assert away is not None and away.area_code is None  # nothing guessed
    finally:
        use_boundaries(None)


@pytest.mark.parametrize(
    ("location", "code", "how"),
    [
        # The area field names it: read once, as without a point.
        (Location(point=GeoPoint(lat=-6.1754, lon=106.8272), area="Kel. Gambir"), GAMBIR, "name"),
        # The area field names nothing, the address does: each read once.
        (
            Location(
                point=GeoPoint(lat=-6.1754, lon=106.8272),
                area="dekat sekolah",
                address="Jl. Kebon Sirih No. 12, Gambirr, Jakarta Pusat",
            ),
            GAMBIR,
            "address",
        ),
    ],
)
def test_a_point_without_boundaries_reads_each_field_once(
    monkeypatch: pytest.MonkeyPatch, location: Location, code: str, how: str
) -> None:
    """Issue 18: a report with a map point read its first field twice (once beside the
    point, once on its own) though, without boundaries, both readings are the same."""
    import aduan_intake.domain.area as area_module

    read: list[str | None] = []
    real = area_module.resolve

    def counting(text: str | None = None, **kwargs: object) -> object:
        read.append(text)
        return real(text, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(area_module, "resolve", counting)
    got = place(location, None, "Jalan berlubang")
    assert got is not None and (got.area_code, got.area_how) == (code, how)
    assert len(read) == len(set(read)), read  # no text resolved twice
    monkeypatch.setattr(area_module, "resolve", real)
    without_point = place(location.model_copy(update={"point": None}), None, "Jalan berlubang")
    assert without_point is not None
    assert (got.area_code, got.area_how, got.area_confidence) == (
        without_point.area_code,
        without_point.area_how,
        without_point.area_confidence,
    )
