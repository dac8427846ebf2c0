"""The public portal's pure parts: filters, grid snapping, charts, open-data encoding, the
pages' accessibility basics."""

from __future__ import annotations

import csv
import io
import re
import uuid

from aduan_contracts.enums import Channel, ReportStatus
from aduan_contracts.events import PublicReportPublished
from aduan_portal.api import security_headers
from aduan_portal.domain import Filters, PublicReport, bar_chart, parse_filters, snap, trend_chart
from aduan_portal.domain.opendata import COLUMNS, column_docs, to_csv, to_geojson
from aduan_portal.public_gateway import RECEIPT_CODE, TrackedReport
from aduan_portal.rendering import (
    _CHANNEL_NAMES,
    IndexExtras,
    MapConfig,
    render_index,
    render_open_data,
    render_track,
)


def test_filters_parse_keep_valid_values_and_name_the_ignored() -> None:
    filters, ignored = parse_filters(
        {"category": " banjir ", "status": "nope", "from": "2026-13", "to": "2026-02", "x": "1"}
    )
    assert filters == Filters(category="banjir", month_to="2026-02")
    assert ignored == ["status", "from"]
    swapped, _ = parse_filters({"from": "2026-05", "to": "2026-01"})
    assert (swapped.month_from, swapped.month_to) == ("2026-01", "2026-05")
    assert swapped.params() == {"from": "2026-01", "to": "2026-05"}
    assert parse_filters({"status": "completed"})[0].status is ReportStatus.COMPLETED
    assert not Filters().active and Filters(area="Gambir").active


def test_snap_never_keeps_more_than_the_grid() -> None:
    assert snap(-6.17543) == -6.18
    assert snap(106.82718) == 106.83
    assert snap(106.824) == 106.82
    assert snap(0.0) == 0.0


def test_coarse_point_from_an_event_is_snapped() -> None:
    event = PublicReportPublished.model_validate(
        {
            "report_id": uuid.uuid4(),
            "public_id": "P-1234",
            "text": "x",
            "status": ReportStatus.RECEIVED,
            "status_label": "Menunggu",
            "channel": Channel.WEB,
            "month": "2026-01",
            "confidentiality_label": "Publik",
            "coarse_point": {"lat": -6.17543, "lon": 106.82718},
        }
    )
    point = PublicReport.from_event(event).coarse_point
    assert point is not None and (point.lat, point.lon) == (-6.18, 106.83)


def test_bar_chart_is_named_described_escaped_scaled_and_never_cuts_a_label() -> None:
    long = "Dinas Sumber Daya Air Provinsi DKI Jakarta"
    html = str(bar_chart("c1", "Per <kanal>", [("Web & co", 4), (long, 2), ("Nol", 0)]))
    assert html.startswith('<figure class="bars" id="c1" role="img" aria-labelledby="c1-t c1-d"')
    assert '<figcaption id="c1-t" class="bars-title">Per &lt;kanal&gt;</figcaption>' in html
    assert f'id="c1-d" class="visually-hidden">Web &amp; co: 4; {long}: 2; Nol: 0<' in html
    # The whole name as page text (it wraps on a phone), never an SVG label cut short.
    assert f'<span class="bar-label">{long}</span>' in html and "…" not in html
    widths = [float(w) for w in re.findall(r'<rect class="bar" [^>]*width="([\d.]+)"', html)]
    assert widths == [100.0, 50.0, 0.0]


def test_trend_chart_has_a_column_per_month_and_a_line() -> None:
    svg = str(trend_chart("t", "Per bulan", [("2026-01", 1), ("2026-02", 0), ("2026-03", 3)]))
    assert svg.count('<rect class="bar"') == 3 and "<polyline" in svg
    assert '<desc id="t-d">2026-01: 1; 2026-02: 0; 2026-03: 3</desc>' in svg


def test_every_channel_has_a_name() -> None:
    assert set(_CHANNEL_NAMES) == {c.value for c in Channel}


def test_csv_neutralises_formulas_but_not_numbers() -> None:
    body = to_csv([{"public_id": "P-1", "title": "=1+1", "text": "-x", "lat": -6.18, "lon": 1.0}])
    header, row = list(csv.reader(io.StringIO(body)))
    assert tuple(header) == COLUMNS
    record = dict(zip(header, row, strict=True))
    assert record["title"] == "'=1+1" and record["text"] == "'-x" and record["lat"] == "-6.18"
    geo = to_geojson([{"public_id": "P-1", "lat": None, "lon": None}])
    assert geo["features"][0]["geometry"] is None
    assert [c for c, _ in column_docs("en")] == list(COLUMNS)


def test_index_has_labelled_filters_landmarks_and_map_fallback() -> None:
    html = render_index([], "id", extras=IndexExtras(total=0, map=MapConfig(available=False)))
    for control in ("f-category", "f-agency", "f-status", "f-area", "f-from", "f-to"):
        assert f'<label for="{control}">' in html and f'id="{control}"' in html
    assert '<a class="skip" href="#main">' in html and '<main id="main"' in html
    assert 'aria-label="Navigasi utama"' in html and "<footer" in html
    assert "Peta tidak tersedia" in html and "leaflet.js" not in html
    assert "0 laporan ditemukan" in html


def test_track_page_shows_status_and_months_only() -> None:
    tracked = TrackedReport.model_validate(
        {
            "receipt_code": "ADU-7K3M-9Q2P",
            "status": "in_progress",
            "status_label": "Dalam Proses",
            "status_label_en": "In progress",
            "month": "2026-03",
            "public_id": None,
            "timeline": [{"status": "received", "label": "Menunggu", "month": "2026-03"}],
            "unknown_future_field": 1,
        }
    )
    html = render_track("en", "ADU-7K3M-9Q2P", tracked)
    # Plain words in the page's language, never the officers' terms.
    assert "Being worked on" in html and "March 2026" in html and "Received" in html
    assert "Menunggu" not in html and "Dalam Proses" not in html
    assert "not public" in html
    assert RECEIPT_CODE.match("ADU-7K3M-9Q2P") and not RECEIPT_CODE.match("../etc")


def test_open_data_page_documents_every_column() -> None:
    html = render_open_data("en", Filters(category="banjir"))
    assert all(f"<code>{c}</code>" in html for c in COLUMNS)
    assert "/open-data/reports.csv?category=banjir&amp;lang=en" in html


def test_csp_allows_only_the_configured_tile_server() -> None:
    osm = security_headers("https://tile.openstreetmap.org/{z}/{x}/{y}.png")
    assert "img-src 'self' data: https://tile.openstreetmap.org;" in osm["Content-Security-Policy"]
    sub = security_headers("https://{s}.tiles.example.id/{z}/{x}/{y}.png")
    assert "img-src 'self' data: https://*.tiles.example.id;" in sub["Content-Security-Policy"]
    odd = security_headers("{proto}://tiles/{z}/{x}/{y}")
    assert "img-src 'self' data: https:;" in odd["Content-Security-Policy"]
    assert "script-src 'self';" in osm["Content-Security-Policy"]


def test_area_box_suggestions_are_shipped_with_the_portal() -> None:
    """The filing form's kelurahan/kecamatan suggestions come from data shipped with the
    portal (aduan_areas), not an outside geocoder: Jakarta's 267 kelurahan and 44
    kecamatan, each with a label naming its kecamatan and kota."""
    import json

    from aduan_portal.api import area_index

    entries = json.loads(area_index())
    assert len(entries) >= 311
    labels = {e["label"] for e in entries}
    assert "Gambir, Kec. Gambir, Kota Jakarta Pusat" in labels
    assert all({"code", "name", "label"} <= set(e) for e in entries)


def test_the_reporters_own_timeline_gives_days_as_the_city_knew_them() -> None:
    """Filed at 02:03 WIB on 6 December (19:03 UTC on the 5th): the reporter knows it as
    the 6th, as the console's officers see it."""
    tracked = TrackedReport.model_validate(
        {
            "receipt_code": "ADU-7K3M-9Q2P",
            "status": "completed",
            "status_label": "Selesai",
            "status_label_en": "Resolved",
            "month": "2026-12",
            "public_id": None,
            "timeline": [{"status": "received", "label": "Menunggu", "month": "2026-12"}],
        }
    )
    own = {
        "report_id": str(uuid.uuid4()),
        "title": "Jalan berlubang",
        "category": "jalan",
        "location": None,
        "text": "Lubang besar di depan rumah nomor 12.",
        "status": "in_progress",
        "status_version": 3,
        "rating": None,
        "timeline": [
            {
                "status": "received",
                "label": "Menunggu",
                "occurred_at": "2026-12-05T19:03:00Z",
                "reason": None,
                "follow_up": None,
            },
            {
                "status": "in_progress",
                "label": "Dalam Proses",
                "occurred_at": "2026-12-06T16:59:59+00:00",
                "reason": None,
                "follow_up": None,
            },
        ],
    }
    for lang, day in (("id", "6 Desember 2026"), ("en", "6 December 2026")):
        html = render_track(lang, "ADU-7K3M-9Q2P", tracked, reporter=own, csrf="x")
        mine = html[html.index('id="mine-timeline"') :]
        assert mine.count(day) == 2, mine[:600]
        assert "5 Desember" not in mine and "5 December" not in mine
    # 17:00 UTC is already the next day in Jakarta.
    own["timeline"][1]["occurred_at"] = "2026-12-06T17:00:00+00:00"
    html = render_track("en", "ADU-7K3M-9Q2P", tracked, reporter=own, csrf="x")
    assert "7 December 2026" in html
