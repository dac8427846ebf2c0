"""The public portal on real Kafka and PostgreSQL, from known events through the real
subscriber: filters, pagination, map data, statistics, downloads, the track page's failure
modes, and no exact time on any page.

One seeded portal per module (five live reports and one withdrawn), so the figures below
are computed by hand from the events in SEED.
"""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from aiokafka import AIOKafkaProducer
from sqlalchemy import func, select

from aduan_contracts import encode
from aduan_contracts.enums import Channel, ReportStatus
from aduan_contracts.events import (
    PublicReportPublished,
    PublicReportWithdrawn,
    PublicTimelineEntry,
)
from aduan_contracts.topics import PUBLIC_REPORTS
from aduan_portal import api as portal_api
from aduan_portal.bootstrap import build
from aduan_portal.config import Settings
from aduan_portal.domain.opendata import COLUMNS
from aduan_portal.readmodel import ReadModel
from aduan_portal.tables import PUBLIC_REPORTS as TABLE
from aduan_testing.helpers import eventually, free_port
from aduan_testing.plugin import Infra, isolation

pytestmark = pytest.mark.integration

LABEL = "Publik — detail laporan dan data pelapor tidak boleh disebarluaskan"
# The events' exact time: a date and a clock time that must never reach a page.
AT = datetime(2026, 4, 17, 9, 41, 27, tzinfo=UTC)
TIME_OF_DAY = re.compile(r"\b\d{1,2}:\d{2}\b")
ISO_DAY = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")


@dataclass(frozen=True)
class Seed:
    key: str
    title: str
    category: str | None
    agency: str | None
    status: ReportStatus
    channel: Channel
    area: str | None
    month: str
    hours: float | None
    point: tuple[float, float] | None  # precise (as a producer might send it)


SEED = (
    Seed("A", "Jalan berlubang Gambir", "jalan-rusak", "dinas-bina-marga",
         ReportStatus.COMPLETED, Channel.WEB, "Gambir", "2026-01", 10.0, (-6.17543, 106.82718)),
    Seed("B", "Aspal mengelupas Menteng", "jalan-rusak", "dinas-bina-marga",
         ReportStatus.COMPLETED, Channel.WHATSAPP, "Menteng", "2026-03", 30.0,
         (-6.19412, 106.83391)),
    Seed("C", "Banjir di Tanah Abang", "banjir", "dinas-sda",
         ReportStatus.IN_PROGRESS, Channel.WHATSAPP, "Tanah Abang", "2026-03", None, None),
    Seed("D", "=HYPERLINK(\"http://x\")", "sampah", None,
         ReportStatus.RECEIVED, Channel.WEB, "Gambir Selatan", "2026-04", None, (-6.18, 106.81)),
    Seed("E", "Saluran mampet", "banjir", "dinas-sda",
         ReportStatus.COMPLETED, Channel.SMS, "Cempaka Putih", "2026-04", 50.0, (-6.17, 106.87)),
)  # fmt: skip
WITHDRAWN_TITLE = "Laporan yang ditarik"
# The area codes intake resolved (D's "Gambir Selatan" is no kelurahan: none).
AREA_CODES = {"A": "31.71.01.1001", "B": "31.71.06.1001", "C": "31.71.07", "E": "31.71.05"}


@dataclass
class Seeded:
    client: httpx.AsyncClient
    model: ReadModel
    public_ids: dict[str, str]
    vendor: Path


def event(seed: Seed, report_id: uuid.UUID) -> PublicReportPublished:
    fields: dict[str, Any] = {
        "report_id": report_id,
        "public_id": f"P-{seed.key}{report_id.hex[:6].upper()}",
        "title": seed.title,
        "text": f"Isi laporan {seed.key}.",
        "category": seed.category,
        "agency_id": seed.agency,
        "status": seed.status,
        "status_label": seed.status.label_id,
        "channel": seed.channel,
        "area": seed.area,
        "area_code": AREA_CODES.get(seed.key),
        "month": seed.month,
        "confidentiality_label": LABEL,
        "timeline": (
            PublicTimelineEntry(status=ReportStatus.RECEIVED, label="Menunggu", month=seed.month),
            PublicTimelineEntry(status=seed.status, label=seed.status.label_id, month=seed.month),
        ),
        "completed_hours": seed.hours,
        "occurred_at": AT,
    }
    if seed.point is not None:
        fields["coarse_point"] = {"lat": seed.point[0], "lon": seed.point[1]}
    return PublicReportPublished.model_validate(fields)


@pytest_asyncio.fixture(scope="module")
async def seeded(infra: Infra, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Seeded]:
    async with isolation(infra) as iso:
        settings = Settings(
            kafka_bootstrap_servers=iso.kafka,
            database_url=iso.database("portal"),
            redis_url=iso.redis_url,
            redis_prefix=iso.redis_prefix,
            topic_namespace=iso.namespace,
            environment="test",
            page_size=2,
            # Nothing listens here: the track page and the category names must cope.
            gateway_url=f"http://127.0.0.1:{free_port()}",
        )
        app, runtime = build(settings)
        await runtime.start()
        producer = AIOKafkaProducer(bootstrap_servers=iso.kafka)
        await producer.start()
        topic = f"{iso.namespace}.{PUBLIC_REPORTS.name}"
        try:
            public_ids: dict[str, str] = {}
            for seed in SEED:
                e = event(seed, uuid.uuid4())
                public_ids[seed.key] = e.public_id
                await producer.send_and_wait(topic, encode(e), key=str(e.report_id).encode())
            gone_id = uuid.uuid4()
            gone = event(
                Seed("F", WITHDRAWN_TITLE, "banjir", "dinas-sda", ReportStatus.COMPLETED,
                     Channel.SMS, "Gambir", "2026-02", 5.0, (-6.2, 106.8)),
                gone_id,
            )  # fmt: skip
            await producer.send_and_wait(topic, encode(gone), key=str(gone_id).encode())
            withdrawal = PublicReportWithdrawn(
                report_id=gone_id, public_id=gone.public_id, occurred_at=AT + timedelta(hours=1)
            )
            await producer.send_and_wait(topic, encode(withdrawal), key=str(gone_id).encode())

            async def all_applied() -> bool:
                async with runtime.sessions() as session:
                    rows = await session.scalar(select(func.count()).select_from(TABLE))
                    withdrawn = await session.scalar(
                        select(func.count()).select_from(TABLE).where(TABLE.c.withdrawn)
                    )
                return rows == 6 and withdrawn == 1

            await eventually(all_applied, "the seeded events")
            vendor = tmp_path_factory.mktemp("vendor")
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://portal") as client:
                yield Seeded(client, ReadModel(lambda: runtime.sessions), public_ids, vendor)
        finally:
            await producer.stop()
            await runtime.stop()


def listed(html: str, seeded: Seeded) -> set[str]:
    return {key for key, pid in seeded.public_ids.items() if f"/reports/{pid}" in html}


async def test_filters_count_pagination_and_labels(seeded: Seeded) -> None:
    c = seeded.client
    # Everything, newest change first, two per page: 5 reports on 3 pages.
    first = (await c.get("/")).text
    assert "5 laporan ditemukan" in first and "Halaman 1 dari 3" in first
    assert len(listed(first, seeded)) == 2
    third = (await c.get("/?page=3")).text
    assert len(listed(third, seeded)) == 1
    all_pages = set()
    for page in (1, 2, 3):
        all_pages |= listed((await c.get(f"/?page={page}")).text, seeded)
    assert all_pages == {"A", "B", "C", "D", "E"}
    assert WITHDRAWN_TITLE not in first + third

    async def keys(query: str) -> tuple[set[str], str]:
        collected: set[str] = set()
        html = ""
        for page in (1, 2, 3):
            html = (await c.get(f"/?{query}&page={page}")).text
            collected |= listed(html, seeded)
        return collected, (await c.get(f"/?{query}")).text

    assert (await keys("category=jalan-rusak"))[0] == {"A", "B"}
    assert (await keys("agency=dinas-sda"))[0] == {"C", "E"}
    assert (await keys("status=completed&from=2026-03"))[0] == {"B", "E"}
    assert (await keys("area=gambir"))[0] == {"A", "D"}  # contains, case-insensitive
    # By area code: a kota or kecamatan and everything inside it.
    assert (await keys("wilayah=31.71"))[0] == {"A", "B", "C", "E"}
    found, html = await keys("wilayah=31.71.01")
    assert found == {"A"} and '<option value="31.71.01" selected>' in html
    assert (await keys("wilayah=31.72"))[0] == set()
    assert (await keys("from=2026-03&to=2026-03"))[0] == {"B", "C"}
    assert (await keys("from=2026-04&to=2026-01"))[0] == {"A", "B", "C", "D", "E"}
    found, html = await keys("category=banjir&status=in_progress")
    assert found == {"C"} and "1 laporan ditemukan" in html
    # The form shows the chosen values, and the list's links carry the filters.
    assert '<option value="banjir" selected>' in html
    assert f"/reports/{seeded.public_ids['C']}?category=banjir&amp;status=in_progress" in html
    # An invalid value is ignored with a notice, not a 422 page.
    bad = await c.get("/?status=bogus&from=2026-13")
    assert bad.status_code == 200
    assert "diabaikan" in bad.text and "status" in bad.text and "5 laporan ditemukan" in bad.text
    bad = await c.get("/?wilayah=Gambir")
    assert "diabaikan" in bad.text and "5 laporan ditemukan" in bad.text
    # English keeps the language on filter and pagination links.
    en = (await c.get("/?lang=en&category=jalan-rusak")).text
    assert "2 reports found" in en
    assert 'name="lang" value="en"' in en
    assert "/open-data/reports.csv?category=jalan-rusak&amp;lang=en" in en

    # Every listed report shows its status badge; the officers' confidentiality label is
    # not for the public (SPEC Revision 2).
    page = (await c.get("/?status=completed")).text
    assert page.count(LABEL) == 0 and page.count('class="status status-completed"') == 2


async def test_report_page_timeline_and_back_link(seeded: Seeded) -> None:
    pid = seeded.public_ids["B"]
    html = (await seeded.client.get(f"/reports/{pid}?category=jalan-rusak&page=2&lang=en")).text
    assert "Aspal mengelupas Menteng" in html and "Isi laporan B." in html
    assert LABEL not in html and "Resolved" in html and "March 2026" in html
    assert "dinas-bina-marga" in html and "Menteng" in html and "WhatsApp" in html
    assert 'href="/?category=jalan-rusak&amp;page=2&amp;lang=en"' in html  # back, filters kept
    assert html.count('<time datetime="2026-03">') == 3  # the month, and two timeline steps
    missing = await seeded.client.get("/reports/P-NOPE")
    assert missing.status_code == 404 and "Laporan tidak ditemukan" in missing.text


async def test_map_section_and_geojson_use_coarse_points_only(
    seeded: Seeded, monkeypatch: pytest.MonkeyPatch
) -> None:
    c = seeded.client
    # Without Leaflet installed, the page says so and the list still works.
    monkeypatch.setattr(portal_api, "VENDOR_LEAFLET", seeded.vendor / "absent")
    html = (await c.get("/")).text
    assert "Peta tidak tersedia" in html and 'id="map"' not in html
    assert "5 laporan ditemukan" in html
    assert (await c.get("/static/vendor/leaflet/leaflet.js")).status_code == 404

    # With it, the map is configured with the filters and the tile server setting.
    for name in ("leaflet.js", "leaflet.css", ".integrity"):
        (seeded.vendor / name).write_text(f"/* {name} */")
    monkeypatch.setattr(portal_api, "VENDOR_LEAFLET", seeded.vendor)
    html = (await c.get("/?category=banjir")).text
    assert 'id="map"' in html and 'data-geojson="/api/map.geojson?category=banjir"' in html
    assert 'data-tiles="https://tile.openstreetmap.org/{z}/{x}/{y}.png"' in html
    assert '<script src="/static/vendor/leaflet/leaflet.js" defer>' in html
    # Scripts only from the portal itself; images also from the tile server.
    csp = (await c.get("/")).headers["content-security-policy"]
    assert (
        "script-src 'self';" in csp
        and "img-src 'self' data: https://tile.openstreetmap.org;" in csp
    )
    assert "<script>" not in html  # no inline script for the CSP to allow
    served = await c.get("/static/vendor/leaflet/leaflet.js")
    assert served.status_code == 200 and served.text == "/* leaflet.js */"
    assert (await c.get("/static/vendor/leaflet/.integrity")).status_code == 404
    assert (await c.get("/static/map.js")).status_code == 200

    data = (await c.get("/api/map.geojson")).json()
    by_id = {f["properties"]["public_id"]: f for f in data["features"]}
    # C has no point; the withdrawn report is gone.
    assert set(by_id) == {seeded.public_ids[k] for k in ("A", "B", "D", "E")}
    assert by_id[seeded.public_ids["A"]]["geometry"]["coordinates"] == [106.83, -6.18]
    assert by_id[seeded.public_ids["B"]]["geometry"]["coordinates"] == [106.83, -6.19]
    for feature in data["features"]:
        lon, lat = feature["geometry"]["coordinates"]
        assert round(lat * 100) == pytest.approx(lat * 100) and round(lon * 100) == pytest.approx(
            lon * 100
        )
    body = (await c.get("/api/map.geojson")).text
    assert "6.17543" not in body and "106.82718" not in body and "6.19412" not in body
    popup = by_id[seeded.public_ids["B"]]["properties"]
    assert popup["status_label"] == "Selesai" and popup["month_label"] == "Maret 2026"
    assert popup["url"] == f"/reports/{seeded.public_ids['B']}"
    filtered = (await c.get("/api/map.geojson?category=banjir&lang=en")).json()
    assert [f["properties"]["public_id"] for f in filtered["features"]] == [seeded.public_ids["E"]]
    assert filtered["features"][0]["properties"]["url"].endswith("?category=banjir&lang=en")


async def test_statistics_are_computed_from_the_events(seeded: Seeded) -> None:
    stats = await seeded.model.stats()
    assert stats.total == 5 and stats.completed == 3
    assert stats.median_completed_hours == pytest.approx(30.0)  # of 10, 30 and 50 hours
    assert sorted(stats.by_channel) == [("sms", 1), ("web", 2), ("whatsapp", 2)]
    assert sorted(stats.by_agency, key=str) == [
        ("dinas-bina-marga", 2),
        ("dinas-sda", 2),
        (None, 1),
    ]
    assert sorted(stats.by_category) == [("banjir", 2), ("jalan-rusak", 2), ("sampah", 1)]
    assert stats.by_month == [("2026-01", 1), ("2026-02", 0), ("2026-03", 2), ("2026-04", 2)]
    assert stats.by_area == [("31.71", 4), (None, 1)]

    html = (await seeded.client.get("/stats")).text
    assert '<dd id="fig-total">5</dd>' in html
    assert '<dd id="fig-completed">60% (3/5)</dd>' in html
    assert '<dd id="fig-median">30,0 jam</dd>' in html
    assert html.count('role="img"') == 5 and html.count("<table>") == 5
    assert "Kota Jakarta Pusat" in html and "Wilayah belum diketahui" in html
    assert 'id="by-channel-d" class="visually-hidden">Situs web: 2; WhatsApp: 2; SMS: 1<' in html
    assert '<tr><th scope="row">Februari 2026</th><td>0</td></tr>' in html
    assert "(belum ditetapkan)" in html  # the report without an agency
    en = (await seeded.client.get("/stats?lang=en")).text
    assert '<dd id="fig-median">30.0 hours</dd>' in en and "Reports per month" in en


async def test_downloads_have_the_documented_columns_and_coarse_points(seeded: Seeded) -> None:
    c = seeded.client
    response = await c.get("/open-data/reports.csv?status=completed")
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert tuple(rows[0]) == COLUMNS
    records = [dict(zip(COLUMNS, r, strict=True)) for r in rows[1:]]
    assert {r["public_id"] for r in records} == {seeded.public_ids[k] for k in ("A", "B", "E")}
    a = next(r for r in records if r["public_id"] == seeded.public_ids["A"])
    assert (a["lat"], a["lon"], a["completed_hours"]) == ("-6.18", "106.83", "10.0")
    assert a["url"] == f"http://portal/reports/{seeded.public_ids['A']}"
    assert a["confidentiality_label"] == LABEL and a["month"] == "2026-01"
    assert a["area_code"] == AREA_CODES["A"]  # the Kemendagri code beside the area's name
    # Cut by area like the pages (`wilayah=`): a kecamatan's reports only.
    cut = await c.get("/open-data/reports.csv?wilayah=31.71.01")  # Kecamatan Gambir
    cut_rows = list(csv.DictReader(io.StringIO(cut.text)))
    assert [(r["public_id"], r["area_code"]) for r in cut_rows] == [
        (seeded.public_ids["A"], "31.71.01.1001")
    ]

    every = list(csv.DictReader(io.StringIO((await c.get("/open-data/reports.csv")).text)))
    assert len(every) == 5
    d = next(r for r in every if r["public_id"] == seeded.public_ids["D"])
    assert d["title"] == '\'=HYPERLINK("http://x")'  # no formula in a spreadsheet
    assert WITHDRAWN_TITLE not in (await c.get("/open-data/reports.csv")).text

    geo = json.loads((await c.get("/open-data/reports.geojson?agency=dinas-sda")).text)
    features = {f["properties"]["public_id"]: f for f in geo["features"]}
    assert set(features) == {seeded.public_ids["C"], seeded.public_ids["E"]}
    assert features[seeded.public_ids["C"]]["geometry"] is None
    assert features[seeded.public_ids["E"]]["geometry"]["coordinates"] == [106.87, -6.17]
    assert set(features[seeded.public_ids["E"]]["properties"]) == set(COLUMNS) - {"lat", "lon"}

    page = (await c.get("/open-data?category=banjir&lang=en")).text
    assert "/open-data/reports.geojson?category=banjir&amp;lang=en" in page
    for column in COLUMNS:
        assert f"<code>{column}</code>" in page


async def test_track_page_copes_with_an_unreachable_gateway(seeded: Seeded) -> None:
    c = seeded.client
    form = await c.get("/track")
    assert form.status_code == 200 and 'for="receipt"' in form.text
    redirect = await c.get("/track?code=%20adu-7k3m-9q2p%20&lang=en")
    assert redirect.status_code == 303
    assert redirect.headers["location"] == "/track/ADU-7K3M-9Q2P?lang=en"
    invalid = await c.get("/track?code=<script>")
    assert invalid.status_code == 400 and "hanya berisi huruf" in invalid.text
    assert "<script>" not in invalid.text
    down = await c.get("/track/ADU-7K3M-9Q2P")
    assert down.status_code == 503 and down.headers["retry-after"] == "30"
    assert "tidak dapat dihubungi" in down.text and "Traceback" not in down.text
    assert down.headers["content-type"].startswith("text/html")
    assert "cannot be reached" in (await c.get("/track/ADU-7K3M-9Q2P?lang=en")).text


async def test_no_exact_time_or_hidden_data_on_any_public_surface(seeded: Seeded) -> None:
    pid = seeded.public_ids["A"]
    paths = [
        "/",
        "/?lang=en",
        "/?page=2",
        f"/reports/{pid}",
        f"/reports/{pid}?lang=en",
        "/stats",
        "/stats?lang=en",
        "/open-data",
        "/open-data/reports.csv",
        "/open-data/reports.geojson",
        "/api/map.geojson",
        "/api/reports",
        f"/api/reports/{pid}",
        "/track",
        "/track/ADU-7K3M-9Q2P",
    ]
    for path in paths:
        body = (await seeded.client.get(path)).text
        assert not TIME_OF_DAY.search(body), path
        assert not ISO_DAY.search(body), path
        assert "2026-04-17" not in body and "09:41" not in body, path
        assert "updated_at" not in body and "occurred_at" not in body, path
        # Precise points were sent; only the grid ever leaves the portal.
        assert "6.17543" not in body and "106.82718" not in body, path
        assert WITHDRAWN_TITLE not in body, path
