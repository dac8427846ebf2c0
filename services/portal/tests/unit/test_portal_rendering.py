"""Server-rendered pages: labels shown, language switch, escaping, no invented data."""

from __future__ import annotations

import uuid

from aduan_contracts.enums import Channel, ReportStatus
from aduan_contracts.events import PublicReportPublished, PublicTimelineEntry
from aduan_portal.domain import Filters, PublicReport, month_name, pick_language, ui_strings
from aduan_portal.readmodel import Stats
from aduan_portal.rendering import (
    IndexExtras,
    render_index,
    render_not_found,
    render_report,
    render_stats,
    render_track,
)

CONFIDENTIAL = "Publik — detail laporan dan data pelapor tidak boleh disebarluaskan"


def published(**overrides: object) -> PublicReportPublished:
    fields: dict[str, object] = {
        "report_id": uuid.uuid4(),
        "public_id": "P-7K3M9Q",
        "title": "Jalan berlubang di Gambir",
        "text": "Lubang besar di depan sekolah.",
        "category": "jalan",
        "agency_id": "bina-marga",
        "status": ReportStatus.IN_PROGRESS,
        "status_label": "Dalam Proses",
        "channel": Channel.WEB,
        "area": "Gambir",
        "month": "2026-03",
        "confidentiality_label": CONFIDENTIAL,
        "timeline": (
            PublicTimelineEntry(status=ReportStatus.RECEIVED, label="Menunggu", month="2026-03"),
            PublicTimelineEntry(
                status=ReportStatus.IN_PROGRESS,
                label="Dalam Proses",
                month="2026-03",
                agency_id="bina-marga",
            ),
        ),
    }
    fields.update(overrides)
    return PublicReportPublished.model_validate(fields)


def report(**overrides: object) -> PublicReport:
    return PublicReport.from_event(published(**overrides))


def test_report_page_shows_text_labels_area_month_and_timeline() -> None:
    html = render_report(report(), "id")
    assert '<html lang="id">' in html
    assert "Lubang besar di depan sekolah." in html
    assert "Sedang dikerjakan" in html and "Dalam Proses" not in html
    assert CONFIDENTIAL not in html  # the officers' label is not for the public
    assert "Gambir" in html
    assert "Maret 2026" in html
    assert "Diterima" in html  # the timeline's first step
    assert "Riwayat" in html


def test_english_switch_translates_ui_and_status_but_not_content() -> None:
    html = render_report(report(), "en")
    assert '<html lang="en">' in html
    assert "Timeline" in html and "Riwayat" not in html
    assert "Being worked on" in html and "Dalam Proses" not in html
    assert "March 2026" in html
    # Content is shown as the gateway published it.
    assert "Lubang besar di depan sekolah." in html
    assert CONFIDENTIAL not in html
    # Links keep the chosen language; the switch offers the way back.
    assert 'href="/?lang=en"' in html
    assert 'href="/reports/P-7K3M9Q"' in html


def test_what_the_gateway_hid_is_said_in_the_pages_language() -> None:
    hid = report(
        title="Laporan [disembunyikan]",
        text="Nama saya [disembunyikan], lubang besar di depan sekolah.",
    )
    english = render_report(hid, "en") + render_index([hid], "en")
    assert "[disembunyikan]" not in english
    assert "Nama saya [hidden], lubang besar" in english and "Laporan [hidden]" in english
    indonesian = render_report(hid, "id")
    assert "Nama saya [disembunyikan], lubang besar" in indonesian and "[hidden]" not in indonesian


def test_index_lists_reports_with_status_and_no_officers_label() -> None:
    reports = [
        report(),
        report(
            public_id="P-2222", title=None, status=ReportStatus.COMPLETED, status_label="Selesai"
        ),
    ]
    html = render_index(reports, "id")
    assert "Laporan publik" in html
    assert "Sedang dikerjakan" in html and "Selesai" in html
    assert html.count(CONFIDENTIAL) == 0
    assert 'href="/reports/P-7K3M9Q"' in html
    assert "Laporan tanpa judul" in html
    html_en = render_index(reports, "en")
    assert "Public reports" in html_en and "Resolved" in html_en
    assert 'href="/reports/P-7K3M9Q?lang=en"' in html_en


def test_empty_index_and_not_found_page() -> None:
    assert "Belum ada laporan publik." in render_index([], "id")
    assert "No public reports yet." in render_index([], "en")
    assert "Laporan tidak ditemukan" in render_not_found("id", "/reports/x")
    assert "Report not found" in render_not_found("en", "/reports/x")


def test_content_is_escaped() -> None:
    html = render_report(report(text='<script>alert("x")</script>'), "id")
    assert "<script>alert" not in html
    assert "&lt;script&gt;" in html


def test_nothing_beyond_the_event_is_shown() -> None:
    event = published()
    html = render_report(PublicReport.from_event(event), "id")
    # The event's exact time never reaches the page (SPEC privacy rule 6).
    assert event.occurred_at.isoformat() not in html
    assert event.occurred_at.strftime("%H:%M") not in html
    assert "occurred_at" not in PublicReport.model_fields


def test_language_choice_and_month_names() -> None:
    assert pick_language(None) == "id"
    assert pick_language("EN") == "en"
    assert pick_language("fr") == "id"
    assert month_name("2026-12", "id") == "Desember 2026"
    assert month_name("2026-12", "en") == "December 2026"
    assert month_name("garbage", "en") == "garbage"


# --- agency names (from the gateway's public agency list) ---------------------------------

NAMES = {"bina-marga": "Dinas Bina Marga"}


def test_agency_names_replace_codes_on_the_report_page() -> None:
    html = render_report(report(), "id", agency_names=NAMES)
    assert "<dd>Dinas Bina Marga</dd>" in html
    assert '<span class="agency">Dinas Bina Marga</span>' in html  # the timeline step
    assert "bina-marga" not in html
    # Gateway down: no names, the code is shown rather than nothing.
    html = render_report(report(), "id")
    assert "<dd>bina-marga</dd>" in html


def test_agency_names_in_the_list_and_its_filter() -> None:
    extras = IndexExtras(total=1, choices={"agency": ["bina-marga", "satpol"]}, agency_names=NAMES)
    html = render_index([report()], "id", extras=extras)
    assert '<option value="bina-marga">Dinas Bina Marga</option>' in html
    assert '<option value="satpol">satpol</option>' in html  # no name known: the code
    assert "<dd>Dinas Bina Marga</dd>" in html
    filtered = render_index([report()], "id", filters=Filters(agency="bina-marga"), extras=extras)
    assert '<option value="bina-marga" selected>Dinas Bina Marga</option>' in filtered


def test_agency_names_in_the_statistics() -> None:
    stats = Stats(
        total=3,
        completed=1,
        median_completed_hours=5.0,
        by_channel=[("web", 3)],
        by_agency=[("bina-marga", 2), ("satpol", 1), (None, 0)],
        by_category=[("jalan", 3)],
        by_month=[("2026-03", 3)],
    )
    html = render_stats(stats, "id", {}, NAMES)
    assert "Dinas Bina Marga" in html and "satpol" in html
    assert ">bina-marga<" not in html
    assert "Dinas Bina Marga" not in render_stats(stats, "id", {})


def test_a_filtered_list_offers_to_clear_the_filters_in_words() -> None:
    # `t.clear` in a template is the dict's own method: the link read
    # "<built-in method clear of dict object at 0x...>".
    for lang, words in (("id", "Hapus saringan"), ("en", "Clear filters")):
        html = render_index([report()], lang, filters=Filters(category="jalan-rusak"))
        assert f">{words}</a>" in html
        assert "built-in method" not in html


def test_a_code_being_recorded_says_so_and_reloads_in_both_languages() -> None:
    for lang, words in (("id", "sedang dicatat"), ("en", "recording it")):
        page = render_track(lang, "ADU-7K3M-9Q2P", pending=ui_strings(lang)["track_pending"])
        assert '<meta http-equiv="refresh" content="3">' in page
        assert 'id="track-pending" class="notice" role="status"' in page and words in page
        assert 'role="alert"' not in page  # not an error: nothing is wrong
    unknown = render_track("id", "ADU-7K3M-9Q2P", message=ui_strings("id")["track_unknown"])
    assert 'http-equiv="refresh"' not in unknown and 'id="track-pending"' not in unknown
