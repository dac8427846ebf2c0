"""From a chosen code, a place name or an address to a kelurahan, with how and how sure."""

from __future__ import annotations

import pytest

from aduan_areas import resolve

GAMBIR = "31.71.01.1001"


def test_a_chosen_code_wins_over_everything() -> None:
    r = resolve("Kelurahan Cideng", point=(-6.2, 106.8), kelurahan_code="3171011001")
    assert r is not None
    assert (r.area.code, r.how, r.confidence) == (GAMBIR, "code", 1.0)
    assert r.label == "Gambir, Kec. Gambir, Kota Jakarta Pusat"
    assert r.kelurahan == r.area


def test_an_unknown_or_foreign_code_falls_back_to_the_text() -> None:
    r = resolve("Kelurahan Cideng", kelurahan_code="31.99.01.1001")
    assert r is not None and (r.area.name, r.how) == ("Cideng", "name")
    r = resolve("Kelurahan Cideng", kelurahan_code="32.71.04.1001")  # Bogor: outside Jakarta
    assert r is not None and r.area.name == "Cideng"
    assert resolve(kelurahan_code="garbage") is None


def test_a_point_alone_resolves_nothing_without_a_point_table() -> None:
    assert resolve(point=(-6.17, 106.82)) is None
    r = resolve("Gambir", point=(-6.17, 106.82))
    assert r is not None and r.how == "name"


def test_nothing_given() -> None:
    assert resolve() is None
    assert resolve("   ") is None
    assert resolve("tolong segera diperbaiki") is None
    assert resolve("Bekasi") is None  # outside DKI Jakarta


def test_address_from_the_issue() -> None:
    r = resolve("Jl. Kebon Sirih No. 12, Gambir, Jakarta Pusat")
    assert r is not None
    assert (r.area.code, r.how) == (GAMBIR, "address")
    # Kebon Sirih is a kelurahan too (in Menteng), but here it is the street's name.
    assert "31.71.06.1005" not in {a.code for a in r.alternatives}
    assert 0.5 <= r.confidence < 0.8


def test_explicit_kelurahan_name() -> None:
    r = resolve("kelurahan gambir")
    assert r is not None
    assert (r.area.code, r.how, r.alternatives) == (GAMBIR, "name", ())
    assert r.confidence >= 0.8


def test_misspelt_name_is_found_less_surely() -> None:
    exact, misspelt = resolve("Gambir"), resolve("Gambirr")
    assert exact is not None and misspelt is not None
    assert misspelt.area.code == GAMBIR and misspelt.how == "name"
    assert misspelt.confidence < exact.confidence


def test_kecamatan_and_kelurahan_of_one_name() -> None:
    # "Kebon Jeruk" is a kecamatan of Jakarta Barat and a kelurahan inside it.
    plain = resolve("Kebon Jeruk")
    assert plain is not None
    assert plain.area.code == "31.73.05.1001"
    assert [a.code for a in plain.alternatives] == ["31.73.05"]
    kec = resolve("Kecamatan Kebon Jeruk")
    kel = resolve("Kel. Kebon Jeruk")
    assert kec is not None and kec.area.code == "31.73.05" and kec.kelurahan is None
    assert kel is not None and kel.area.code == "31.73.05.1001"
    assert plain.confidence < kec.confidence
    assert plain.confidence < kel.confidence


def test_other_names_in_the_text_decide() -> None:
    # Sukabumi Utara lies in Kecamatan Kebon Jeruk: both names agree on it.
    r = resolve("Sukabumi Utara, Kebon Jeruk")
    assert r is not None
    assert (r.area.code, r.alternatives) == ("31.73.05.1002", ())
    assert r.confidence > 0.8


def test_one_name_for_unrelated_areas() -> None:
    # "Jatinegara" is a kecamatan of Jakarta Timur and a kelurahan of Kecamatan Cakung.
    alone = resolve("Jatinegara")
    assert alone is not None
    assert {alone.area.code, *(a.code for a in alone.alternatives)} == {
        "31.75.06.1001",
        "31.75.03",
    }
    assert alone.confidence < 0.5
    with_cakung = resolve("Jatinegara, Cakung")
    assert with_cakung is not None and with_cakung.area.code == "31.75.06.1001"
    assert with_cakung.confidence > alone.confidence
    # Here it is the kecamatan around Kampung Melayu.
    r = resolve("Kampung Melayu, Jatinegara, Jakarta Timur")
    assert r is not None and r.area.code == "31.75.03.1001" and r.confidence > 0.8


def test_a_name_repeated_across_kota_and_provinces() -> None:
    # Kelurahan Menteng exists in Jakarta Pusat and in Kota Bogor (and elsewhere).
    anywhere = resolve("Menteng", within=None)
    assert anywhere is not None
    assert "32.71.04.1001" in {a.code for a in anywhere.alternatives}
    bogor = resolve("Menteng, Bogor", within=None)
    jakarta = resolve("Menteng, Jakarta Pusat", within=None)
    assert bogor is not None and bogor.area.code == "32.71.04.1001"
    assert jakarta is not None and jakarta.area.code == "31.71.06.1001"
    assert anywhere.confidence < min(bogor.confidence, jakarta.confidence)


def test_a_contradicting_kota_lowers_confidence() -> None:
    agree, clash = resolve("Gambir, Jakarta Pusat"), resolve("Gambir, Jakarta Selatan")
    assert agree is not None and clash is not None
    assert clash.area.code == GAMBIR
    assert clash.confidence < agree.confidence - 0.2


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("RT 05 RW 02 Kel. Cipinang Besar Utara Kec. Jatinegara", "31.75.03.1008"),
        ("Jl Tebet Raya 10, Tebet Timur, Jaksel", "31.74.01.1001"),
        ("jl. h. agus salim, kebon sirih, menteng jakpus 10340", "31.71.06.1005"),
        ("Kota Bambu Selatan, Palmerah", "31.73.07.1006"),
        ("Pulau Tidung, Kepulauan Seribu", "31.01.02.1002"),
        ("lampu jalan baru rusak di depan sekolah, Kelurahan Cideng", "31.71.01.1002"),
        ("Sampah menumpuk di Pasar Minggu", "31.74.04.1001"),
        ("Kel Kebon Jerukk Kec Kebon Jeruk", "31.73.05.1001"),
    ],
)
def test_addresses(text: str, code: str) -> None:
    r = resolve(text)
    assert r is not None and r.area.code == code and r.how == "address"


def test_a_name_only_in_a_street_counts_for_little() -> None:
    r = resolve("Jl. Kebon Sirih no 5")
    assert r is not None and r.area.code == "31.71.06.1005"
    assert r.confidence <= 0.4


def test_kode_pos() -> None:
    r = resolve("Jalan rusak dekat kantor pos 10110")
    assert r is not None and r.area.code == GAMBIR and r.confidence <= 0.6


def test_only_the_city_named() -> None:
    r = resolve("Jakarta")
    assert r is not None and r.area.code == "31" and r.confidence <= 0.3


def test_a_kecamatan_is_the_most_specific_area_found() -> None:
    r = resolve("banjir di kecamatan Tebet")
    assert r is not None and r.area.code == "31.74.01" and r.kelurahan is None


def test_confidence_is_a_probability_like_number() -> None:
    for text in ("Gambir", "x Gambir y", "Gambir, Gambir, Jakarta Pusat 10110", "Kel. Gambir"):
        r = resolve(text)
        assert r is not None and 0.0 < r.confidence <= 0.97


def test_kelurahan_named_like_everyday_words() -> None:
    # Kelurahan Baru (Pasar Rebo): the name alone is the place; in a sentence, "baru" is
    # the word "new" and a real name elsewhere in the text wins.
    alone = resolve("Baru")
    assert alone is not None and alone.area.code == "31.75.05.1002" and alone.confidence >= 0.5
    sentence = resolve("lampu baru sudah mati lagi, Cideng")
    assert sentence is not None and sentence.area.name == "Cideng"
    vague = resolve("lampu baru sudah mati lagi")
    assert vague is None or vague.confidence < 0.3


def test_remembered_comparisons_give_the_same_answer_and_stay_bounded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The words already compared with the index are remembered (complaints repeat the same
    words): the second reading answers the same, and the memo never outgrows its bound."""
    import aduan_areas._resolve as resolving

    text = "Lampu jalan mati di dekat Kebon Sirh, Gambirr, Jakarta Pusat"
    first = resolve(text)
    again = resolve(text)
    assert first is not None and again == first
    assert (first.area.code, first.how) == (GAMBIR, "address")  # misspelt, still found
    monkeypatch.setattr(resolving, "_CLOSE_MEMO_MAX", 3)
    resolve("Sampah menumpuk di trotoar depan pasar tradisional dekat stasiun kereta")
    assert len(resolving.name_index("31").close) <= 3
