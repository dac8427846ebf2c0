"""The search box: forgiving of case, punctuation, prefixes, spacing and misspellings."""

from __future__ import annotations

import pytest

from aduan_areas import search


def first(query: str, **kwargs: object) -> tuple[str, str]:
    hits = search(query, **kwargs)  # type: ignore[arg-type]
    assert hits, query
    return hits[0].area.code, hits[0].label


@pytest.mark.parametrize(
    "query",
    ["gambir", "GAMBIR", " Gambir ", "Kel. Gambir", "kelurahan gambir", "Jakarta Gambir"],
)
def test_exact_name_with_case_and_prefixes(query: str) -> None:
    assert first(query) == ("31.71.01.1001", "Gambir, Kec. Gambir, Kota Jakarta Pusat")
    assert search(query)[0].score == 1.0


def test_kelurahan_before_the_kecamatan_of_the_same_name_unless_asked() -> None:
    assert [h.area.code for h in search("gambir", limit=2)] == ["31.71.01.1001", "31.71.01"]
    assert [h.area.code for h in search("Kec. Gambir", limit=2)] == ["31.71.01", "31.71.01.1001"]
    assert first("kecamatan kebon jeruk")[0] == "31.73.05"


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("Gambirr", "31.71.01.1001"),
        ("gambri", "31.71.01.1001"),
        ("kebon jerok", "31.73.05.1001"),
        ("Tanjung Priuk", "31.72.02.1001"),
        ("cengkarang barat", "31.73.01.1001"),
        ("Kelapa Gadding Timur", "31.72.06.1001"),
    ],
)
def test_misspellings(query: str, code: str) -> None:
    hit = search(query)[0]
    assert hit.area.code == code
    assert 0.6 <= hit.score < 1.0


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("palmerah", "31.73.07.1001"),
        ("Pal Merah", "31.73.07.1001"),
        ("Kramat Jati", "31.75.04.1001"),
    ],
)
def test_spacing_does_not_matter(query: str, code: str) -> None:
    assert first(query)[0] == code


def test_typing_in_progress_finds_by_prefix() -> None:
    hits = search("cempaka pu")
    assert {h.area.name for h in hits[:3]} >= {"Cempaka Putih Timur", "Cempaka Putih Barat"}
    assert all(0.9 <= h.score < 1.0 for h in hits[:3])


def test_kota_bambu_is_a_name_not_a_prefix() -> None:
    assert search("Kota Bambu Selatan")[0].area.code == "31.73.07.1006"


def test_context_after_a_comma_or_a_trailing_kota_prefers_areas_inside_it() -> None:
    # Kelurahan Menteng is in Jakarta Pusat; Menteng Atas and Menteng Dalam in Jakarta Selatan.
    top = {h.area.name for h in search("Menteng, Jakarta Selatan", limit=2)}
    assert top == {"Menteng Atas", "Menteng Dalam"}
    assert first("menteng jaksel")[1].endswith("Kota Jakarta Selatan")
    assert first("Menteng")[0] == "31.71.06.1001"


def test_only_a_kota_lists_its_kecamatan() -> None:
    hits = search("Jakarta Pusat", limit=20)
    assert len(hits) == 8
    assert all(h.area.level == "district" and h.label.endswith("Jakarta Pusat") for h in hits)


def test_nothing_matches_nonsense_or_empty() -> None:
    assert search("qxzw") == []
    assert search("") == []
    assert search("   ") == []
    assert search("gambir", limit=0) == []


def test_limit_scope_and_labels() -> None:
    hits = search("utara", limit=5)
    assert len(hits) == 5
    assert all(h.label.count(",") >= 1 for h in hits)
    inside = search("utara", limit=50, within="31.72")
    assert inside and all(h.area.code.startswith("31.72.") for h in inside)
    assert search("Gambir", within="31.74") == [] or search("Gambir", within="31.74")[0].score < 1


def test_whole_country_when_asked() -> None:
    hits = search("Menteng", within=None, limit=10)
    codes = {h.area.code for h in hits if h.score == 1.0}
    assert {"31.71.06.1001", "32.71.04.1001"} <= codes
