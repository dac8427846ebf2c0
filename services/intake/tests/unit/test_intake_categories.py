"""The category rules every channel follows (issue 16), without infrastructure: a
structured channel's category must be an active code of the one catalogue (else a 422
naming the valid codes, never echoing what was typed); no category means triage; a retired
category takes no new reports but still names old ones; free-text channels never set a
category; the web form offers the catalogue's codes, not a text box; LAPOR!'s own labels
are dropped unless they are our codes; a keyword suggestion is only a suggestion."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from aduan_contracts.enums import Role
from aduan_contracts.events import CategoryPublished
from aduan_contracts.values import Actor
from aduan_intake.adapters.catalogue import checked_category, known_category
from aduan_intake.domain import InvalidField
from aduan_intake.entrypoints.channels.app import AppReport, normalize_app_report
from aduan_intake.entrypoints.channels.lapor import normalize_lapor_record
from aduan_intake.entrypoints.channels.staff import StaffReport, normalize_staff_report
from aduan_intake.entrypoints.channels.web import normalize_web_form, render_form
from aduan_kit.catalogue import Catalogue, CategoryRefused

NOW = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)


def category(code: str, version: int = 1, active: bool = True, **kw: object) -> CategoryPublished:
    return CategoryPublished(
        code=code,
        version=version,
        name_id=kw.pop("name_id", code.title()),  # type: ignore[arg-type]
        name_en=kw.pop("name_en", code.title()),  # type: ignore[arg-type]
        active=active,
        updated_at=NOW,
        **kw,  # type: ignore[arg-type]
    )


def catalogue() -> Catalogue:
    return Catalogue(
        [
            category("jalan-rusak", group="Infrastruktur", keywords=("jalan", "lubang", "aspal")),
            category("banjir", group="Air", keywords=("banjir", "genangan")),
            category("saluran", group="Air", keywords=("got", "saluran", "tersumbat")),
            category("pohon-tumbang", version=2, active=False, name_id="Pohon tumbang"),
        ]
    )


def test_an_active_code_is_kept_and_nothing_means_triage() -> None:
    cat = catalogue()
    assert checked_category(cat, "banjir") == "banjir"
    assert checked_category(cat, " banjir ") == "banjir"
    assert checked_category(cat, None) is None
    assert checked_category(cat, "  ") is None


def test_free_text_is_refused_naming_the_valid_codes_without_echoing_it() -> None:
    with pytest.raises(InvalidField) as refused:
        checked_category(catalogue(), "jalan di depan rumah Budi berlubang")
    assert refused.value.field == "category"
    assert refused.value.reason == (
        "is not a code of the category catalogue; valid codes: banjir, jalan-rusak, saluran"
    )
    assert "Budi" not in str(refused.value)


def test_a_retired_category_takes_no_new_reports_but_still_names_old_ones() -> None:
    cat = catalogue()
    with pytest.raises(InvalidField) as refused:
        checked_category(cat, "pohon-tumbang")
    assert refused.value.reason.startswith("is retired: it takes no new reports")
    assert "pohon-tumbang" not in refused.value.reason.split("valid codes:")[1]
    old = cat.get("pohon-tumbang")
    assert old is not None and old.name_id == "Pohon tumbang" and not old.active
    assert [c.code for c in cat.active()] == ["banjir", "saluran", "jalan-rusak"]  # by group


def test_only_a_newer_version_changes_a_category() -> None:
    cat = catalogue()
    assert cat.apply(category("pohon-tumbang", version=3, active=True)) is True
    assert checked_category(cat, "pohon-tumbang") == "pohon-tumbang"
    # A late copy of an older version (a republish, a replay) changes nothing.
    assert cat.apply(category("pohon-tumbang", version=2, active=False)) is False
    assert cat.get("pohon-tumbang").active  # type: ignore[union-attr]
    with pytest.raises(CategoryRefused) as refused:
        cat.require_active("nope")
    assert refused.value.valid_codes == ("banjir", "jalan-rusak", "pohon-tumbang", "saluran")


def test_each_structured_channel_applies_the_catalogue() -> None:
    cat = catalogue()
    web = normalize_web_form(
        {"text": "Jalan berlubang besar", "category": "jalan-rusak"}, NOW, catalogue=cat
    )
    assert web.category_hint == "jalan-rusak"
    with pytest.raises(InvalidField):
        normalize_web_form(
            {"text": "Jalan berlubang besar", "category": "jalan"}, NOW, catalogue=cat
        )
    # No catalogue known yet: a category cannot be checked, so it is refused, not let in.
    with pytest.raises(InvalidField):
        normalize_web_form({"text": "Jalan berlubang besar", "category": "banjir"}, NOW)

    app = AppReport.model_validate(
        {
            "client_report_id": str(uuid.uuid4()),
            "text": "Genangan setinggi lutut",
            "category": "banjir",
            "reporter": {"user_id": "u-1"},
        }
    )
    assert normalize_app_report(app, NOW, catalogue=cat).category_hint == "banjir"
    with pytest.raises(InvalidField) as refused:
        normalize_app_report(
            app.model_copy(update={"category": "pohon-tumbang"}), NOW, catalogue=cat
        )
    assert "retired" in refused.value.reason

    staff = StaffReport.model_validate(
        {
            "channel": "call_centre",
            "entry_id": str(uuid.uuid4()),
            "text": "Penelpon melapor got tersumbat",
            "category": "saluran",
        }
    )
    officer = Actor(id="u-tiket", role=Role.TICKET_ADMIN)
    assert normalize_staff_report(staff, officer, NOW, catalogue=cat).category_hint == "saluran"
    with pytest.raises(InvalidField):
        normalize_staff_report(
            staff.model_copy(update={"category": "Got mampet"}), officer, NOW, catalogue=cat
        )


def test_lapor_labels_are_kept_only_when_they_are_our_codes() -> None:
    cat = catalogue()
    assert known_category(cat, "banjir") == "banjir"
    assert known_category(cat, "Infrastruktur") is None
    assert known_category(cat, "pohon-tumbang") is None
    record = {
        "id": "L-1",
        "isi": "Jalan di depan pasar berlubang dan membahayakan pengendara",
        "kategori": "Pekerjaan Umum",
        "created_at": "2026-12-01T08:00:00+07:00",
    }
    report = normalize_lapor_record(record, catalogue=cat)
    assert report.category_hint is None
    assert "berlubang" in report.text  # the words stay; the ticket-admin triages it
    assert (
        normalize_lapor_record({**record, "kategori": "jalan-rusak"}, catalogue=cat).category_hint
        == "jalan-rusak"
    )


def test_the_web_form_offers_the_active_codes_and_no_free_text() -> None:
    page = render_form(str(uuid.uuid4()), catalogue=catalogue())
    assert '<select id="category" name="category">' in page
    assert '<input id="category"' not in page
    assert '<option value="jalan-rusak">' in page and '<option value="banjir">' in page
    assert "pohon-tumbang" not in page
    assert '<option value="" selected>' in page  # "not sure": the ticket-admin triages


def test_a_keyword_suggestion_is_the_clear_best_match_or_nothing() -> None:
    cat = catalogue()
    assert cat.suggest("Got di gang kami tersumbat, air meluap") == "saluran"
    assert cat.suggest("Aspal jalan berlubang, lubang dalam") == "jalan-rusak"
    assert cat.suggest("Lampu taman mati") is None
    # One keyword each: a tie suggests nothing rather than guess.
    assert cat.suggest("banjir karena got") is None
    # Whole words only: "gotong" is not "got".
    assert cat.suggest("kerja bakti gotong royong") is None
    # Retired categories are never suggested.
    assert (
        Catalogue([category("pohon-tumbang", active=False, keywords=("pohon",))]).suggest(
            "pohon tumbang"
        )
        is None
    )
