"""The Kemendagri list as shipped: DKI Jakarta's counts and codes, one code format, labels."""

from __future__ import annotations

from collections import Counter

import pytest

import aduan_areas
from aduan_areas import ancestors, children, get, jakarta, label, normalize_code, short_name
from aduan_areas._registry import _read_points


def test_dki_jakarta_counts() -> None:
    levels = Counter(a.level for a in jakarta())
    assert levels == {"province": 1, "regency": 6, "district": 44, "village": 267}
    assert jakarta()[0].code == "31"


def test_the_six_kota_and_kabupaten() -> None:
    assert [(a.code, short_name(a)) for a in children("31")] == [
        ("31.01", "Kab. Kepulauan Seribu"),
        ("31.71", "Kota Jakarta Pusat"),
        ("31.72", "Kota Jakarta Utara"),
        ("31.73", "Kota Jakarta Barat"),
        ("31.74", "Kota Jakarta Selatan"),
        ("31.75", "Kota Jakarta Timur"),
    ]
    assert get("31.71") == aduan_areas.Area(
        "31.71", "Kota Administrasi Jakarta Pusat", "regency", "31", None
    )


def test_kecamatan_per_kota() -> None:
    per_kota = {k.code: len(children(k.code)) for k in children("31")}
    assert per_kota == {"31.01": 2, "31.71": 8, "31.72": 6, "31.73": 8, "31.74": 10, "31.75": 10}


def test_known_codes_and_names() -> None:
    gambir_kec = get("31.71.01")
    assert gambir_kec is not None
    assert (gambir_kec.name, gambir_kec.level, gambir_kec.parent_code) == (
        "Gambir",
        "district",
        "31.71",
    )
    gambir = get("31.71.01.1001")
    assert gambir == aduan_areas.Area("31.71.01.1001", "Gambir", "village", "31.71.01", "10110")
    assert [a.name for a in children("31.71.01")] == [
        "Gambir",
        "Cideng",
        "Petojo Utara",
        "Petojo Selatan",
        "Kebon Kelapa",
        "Duri Pulo",
    ]
    seribu = get("31.01.02.1002")
    assert seribu is not None and seribu.name == "Pulau Tidung"


@pytest.mark.parametrize(
    "raw", ["31.71.01.1001", "3171011001", " 31 71 01 1001 ", "31-71-01-1001", "31/71/01/1001"]
)
def test_every_code_format_normalises_to_dotted(raw: str) -> None:
    assert normalize_code(raw) == "31.71.01.1001"
    area = get(raw)
    assert area is not None and area.code == "31.71.01.1001"


@pytest.mark.parametrize("raw", ["", "3", "317", "31.7", "31.71.01.101", "abc", "31.71.01.1001.1"])
def test_malformed_codes(raw: str) -> None:
    assert normalize_code(raw) is None
    assert get(raw) is None


def test_unknown_codes() -> None:
    assert get("31.99") is None
    assert get("99") is None
    assert children("31.99") == ()
    assert ancestors("31.99.01.1001") == ()


def test_every_jakarta_code_has_the_dotted_shape_and_a_known_parent() -> None:
    codes = {a.code for a in jakarta()}
    for area in jakarta():
        assert normalize_code(area.code) == area.code
        assert area.parent_code is None or area.parent_code in codes
        assert (area.postal_code is not None) == (area.level == "village")


def test_ancestors_root_first() -> None:
    assert [a.code for a in ancestors("3171011001")] == ["31", "31.71", "31.71.01"]
    assert ancestors("31") == ()


def test_labels() -> None:
    assert label("31.71.01.1001") == "Gambir, Kec. Gambir, Kota Jakarta Pusat"
    assert label("31.71.01") == "Kec. Gambir, Kota Jakarta Pusat"
    assert label("31.71") == "Kota Jakarta Pusat, Daerah Khusus Ibukota Jakarta"
    assert label("31.01.02.1002") == (
        "Pulau Tidung, Kec. Kepulauan Seribu Selatan, Kab. Kepulauan Seribu"
    )
    with pytest.raises(KeyError):
        label("31.99")


def test_other_provinces_load_on_demand() -> None:
    bogor = get("32.71")
    assert bogor is not None and short_name(bogor) == "Kota Bogor"
    assert len(aduan_areas.areas("32.71")) > 60
    assert len(children(None)) == 38


def test_area_is_frozen() -> None:
    area = get("31.71")
    assert area is not None
    with pytest.raises(AttributeError):
        area.name = "x"  # type: ignore[misc]


def test_no_point_table_shipped_yet() -> None:
    # No permissively licensed kelurahan points exist in a registry package (D13).
    assert aduan_areas.points() == {}
    assert aduan_areas.point("31.71.01.1001") is None


def test_point_table_format_is_checked() -> None:
    header = "# a comment\ncode,lat,lon,source\n"
    assert _read_points(header) == {}
    # The numbers below only exercise the parser; they are not a claim about any place.
    parsed = _read_points(header + "3171011001,-6.0,106.0,parser fixture\n")
    assert parsed == {"31.71.01.1001": (-6.0, 106.0)}
    for bad in (
        "31.99.01.1001,-6.0,106.0,x\n",  # no such area
        "31.71,-6.0,106.0,x\n",  # not a kelurahan or kecamatan
        "31.71.01.1001,106.0,-6.0,x\n",  # swapped
        "31.71.01.1001,-6.0,106.0,\n",  # no source
        "31.71.01.1001,abc,106.0,x\n",
    ):
        with pytest.raises(ValueError, match="row 2"):
            _read_points(header + bad)
    with pytest.raises(ValueError, match="header"):
        _read_points("code,lon,lat,source\n")
