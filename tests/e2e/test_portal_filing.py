"""Filing a complaint on the portal (the citizen's front door), every service a real OS
process on real Kafka, PostgreSQL and Redis: the form posts through intake's web channel;
a resend of the same form (Back + send, double click) files once and shows the same
receipt; a different complaint from the same form is a new report; bad input comes back as
a page in the citizen's language that keeps what was typed, never JSON; the
acknowledgement links to tracking and summarises what was filed."""

from __future__ import annotations

import io
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
import pytest_asyncio
from PIL import Image

from aduan_gateway.auth import issue_access_token
from aduan_testing.helpers import eventually
from aduan_testing.platform import Platform, running_platform
from aduan_testing.plugin import Isolation

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

TEXT = "Lampu jalan di depan pasar mati sejak seminggu, gelap sekali di malam hari."


@pytest_asyncio.fixture
async def platform(isolated: Isolation, tmp_path: Path) -> AsyncIterator[Platform]:
    async with running_platform(isolated, tmp_path) as plat:
        await plat.run("aduan_gateway.cli", "demo-seed", "--yes-this-is-a-demo")
        yield plat


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (200, 120, 40)).save(out, format="JPEG")
    return out.getvalue()


def submission_of(page: str) -> str:
    found = re.search(r'name="submission_id" value="([0-9a-f-]{36})"', page)
    assert found is not None, page[:2000]
    return found[1]


async def test_file_on_the_portal_once_whatever_the_browser_does(platform: Platform) -> None:
    p, u = platform, platform.urls
    async with httpx.AsyncClient(base_url=u["portal"], timeout=20) as browser:
        form_page = await browser.get("/lapor")
        assert form_page.status_code == 200
        assert 'name="visibility" value="private" checked' in form_page.text

        # Categories come from the one catalogue, by name, with "other" for triage.
        async def named() -> Any:
            page = await browser.get("/lapor")
            return page.text if "Jalan Rusak" in page.text or "jalan" in page.text else None

        page_text = await eventually(named, "category names on the form")
        assert 'value="jalan-rusak"' in page_text and "Lainnya / tidak tahu" in page_text
        sid = submission_of(page_text)
        fields = {
            "submission_id": sid,
            "category": "jalan-rusak",
            "title": "Lampu jalan mati",
            "text": TEXT,
            "area": "Gambir",
            "address": "Depan Pasar Baru",
            "lat": "-6.1664",
            "lon": "106.8340",
            "name": "Dewi Lestari",
            "contact": "nomor saya nol delapan",
            "visibility": "private",
        }
        files = {"photos": ("lampu.jpg", jpeg(), "image/jpeg")}

        # A contact intake cannot use: a page in Indonesian that keeps the text, never JSON.
        bad = await browser.post("/lapor", data=fields, files=files)
        assert bad.status_code == 422 and bad.headers["content-type"].startswith("text/html")
        assert "Kontak ini tidak dapat kami pakai" in bad.text
        assert TEXT in bad.text and "Depan Pasar Baru" in bad.text
        assert "pilih lagi sebelum mengirim" in bad.text  # photos must be chosen again
        assert bad.text.lstrip().startswith("<!doctype html>")

        # ... and in English with ?lang=en.
        bad_en = await browser.post("/lapor?lang=en", data=fields, files=files)
        assert "We cannot use this contact" in bad_en.text and TEXT in bad_en.text

        # Six photos: refused in words before anything is sent.
        six = [("photos", (f"p{i}.jpg", jpeg(), "image/jpeg")) for i in range(6)]
        too_many = await browser.post("/lapor", data=fields | {"contact": ""}, files=six)
        assert too_many.status_code in (400, 422) and "Paling banyak 5 foto" in too_many.text

        # Filed: Post/Redirect/Get to the acknowledgement.
        good = fields | {"contact": "dewi.lestari@example.org"}
        first = await browser.post("/lapor", data=good, files=files)
        assert first.status_code == 303, first.text
        ack_url = first.headers["location"]
        ack = await browser.get(ack_url)
        code = re.search(r'id="receipt-code" class="receipt-code">(ADU-[0-9A-Z-]+)<', ack.text)
        assert code is not None, ack.text[:3000]
        receipt = code[1]
        assert f'href="/track/{receipt}"' in ack.text
        assert "Lampu jalan mati" in ack.text and "Gambir" in ack.text
        assert "Dewi Lestari" not in ack.text and "dewi.lestari" not in ack.text

        # "Track" tapped at once, before the gateway has the report: never "there is no
        # report with this code" for a code just given out, but the report or "being
        # recorded" (that page reloads itself); a code nobody was given is still unknown.
        at_once = await browser.get(f"/track/{receipt}")
        assert at_once.status_code == 200, at_once.text[:2000]
        assert "Tidak ada laporan dengan kode" not in at_once.text
        if 'id="track-pending"' in at_once.text:
            assert '<meta http-equiv="refresh" content="3">' in at_once.text
            assert "sedang dicatat" in at_once.text
        else:
            assert 'id="tracked-heading"' in at_once.text
        nobody = await browser.get("/track/ADU-ZZZZ-ZZZ9")
        assert nobody.status_code == 404 and "Tidak ada laporan dengan kode" in nobody.text

        # Back + send again (the form reloaded from the server carries the cookie's id):
        # the same receipt, marked as already sent.
        reloaded = await browser.get("/lapor")
        assert submission_of(reloaded.text) == sid
        again = await browser.post("/lapor", data=good | {"submission_id": sid}, files=files)
        assert again.status_code == 303
        ack_again = await browser.get(again.headers["location"])
        assert receipt in ack_again.text and "sudah terkirim sebelumnya" in ack_again.text

        # Another complaint written on the same form: a new report, a new receipt.
        other = await browser.post(
            "/lapor",
            data=good
            | {"title": "Trotoar", "text": "Trotoar rusak parah di depan stasiun Juanda."},
        )
        assert other.status_code == 303
        other_ack = await browser.get(other.headers["location"])
        other_code = re.search(r'class="receipt-code">(ADU-[0-9A-Z-]+)<', other_ack.text)
        assert other_code is not None and other_code[1] != receipt

        # The tracking link works (once the gateway has the report).
        async def tracked() -> Any:
            page = await browser.get(f"/track/{receipt}")
            return page.text if page.status_code == 200 else None

        assert receipt in await eventually(tracked, "the tracking page", timeout=60)

    # Filed once, private, with the point, the photo and the catalogue's category; the
    # reporter told once.
    token = issue_access_token(p.jwt_secret, "val-1", "validator", name="Validator")
    async with httpx.AsyncClient(timeout=10) as client:

        async def listed() -> Any:
            r = await client.get(
                f"{u['gateway']}/v1/reports",
                params={"q": "Lampu jalan"},
                headers={"Authorization": f"Bearer {token}"},
            )
            items = r.json().get("items", r.json()) if r.status_code == 200 else []
            return [i for i in items if i.get("receipt_code") == receipt] or None

        [item] = await eventually(listed, "the filed report in the gateway", timeout=60)
        r = await client.get(
            f"{u['gateway']}/v1/reports/{item['report_id']}",
            headers={"Authorization": f"Bearer {token}"},
        )
        view = r.json()
        assert view["privacy"] == "private" and view["category"] == "jalan-rusak"
        assert view["location"]["point"] == {"lat": -6.1664, "lon": 106.834}
        assert view["photos"] == [] and view["photos_locked"] is True  # private: locked
        # Three posts of the same form made one report.
        r = await client.get(
            f"{u['gateway']}/v1/reports",
            params={"q": "Lampu jalan"},
            headers={"Authorization": f"Bearer {token}"},
        )
        body = r.json()
        items = body.get("items", body) if isinstance(body, dict) else body
        assert [i["receipt_code"] for i in items] == [receipt]
    assert "Dewi Lestari" not in p.log_text() and "dewi.lestari@example.org" not in p.log_text()


async def test_already_reported_me_too_follows_the_open_report(platform: Platform) -> None:
    """ "Sudah dilaporkan?": an open public report of the same category near the point is
    offered; "me too" files a report that workflow merges into it at once, and its reporter
    hears what happens to that report."""
    p, u = platform, platform.urls
    ticket = issue_access_token(p.jwt_secret, "tiket-1", "ticket-admin", name="Tiket")
    admin_headers = {"Authorization": f"Bearer {ticket}"}
    async with httpx.AsyncClient(timeout=20) as client:
        r = await client.post(
            f"{u['intake']}/v1/channels/web",
            data={
                "title": "Saluran tersumbat di Jl. Sabang",
                "text": "Saluran tersumbat sampah, air meluap ke jalan tiap hujan.",
                "category": "saluran",
                "public": "on",
                "lat": "-6.1850",
                "lon": "106.8260",
                "submission_id": str(uuid4()),
            },
            headers={"Accept": "application/json"},
        )
        assert r.status_code == 201, r.text
        primary = r.json()["report_id"]

        async def offered() -> Any:
            r = await client.get(
                f"{u['portal']}/api/nearby",
                params={"category": "saluran", "lat": "-6.1852", "lon": "106.8262"},
            )
            items = r.json() if r.status_code == 200 else []
            return [i for i in items if i["report_id"] == primary] or None

        [item] = await eventually(offered, "the open report offered nearby", timeout=60)
        assert item["title"] == "Saluran tersumbat di Jl. Sabang" and item["distance_m"] <= 1500
        # Another category, or far away: not offered.
        far = await client.get(
            f"{u['portal']}/api/nearby",
            params={"category": "saluran", "lat": "-6.30", "lon": "106.90"},
        )
        assert far.json() == []

    async with httpx.AsyncClient(base_url=u["portal"], timeout=20) as browser:
        page = await browser.get("/lapor")
        filed = await browser.post(
            "/lapor",
            data={
                "submission_id": submission_of(page.text),
                "category": "saluran",
                "text": "Sama, saluran di depan toko saya juga meluap tiap hujan.",
                "lat": "-6.1852",
                "lon": "106.8262",
                "contact": "yanti.me2@example.org",
                "visibility": "private",
                "follows": primary,
            },
        )
        assert filed.status_code == 303, filed.text[:2000]
        ack = await browser.get(filed.headers["location"])
        assert 'id="filed-follows"' in ack.text
        code = re.search(r'class="receipt-code">(ADU-[0-9A-Z-]+)<', ack.text)
        assert code is not None
        follower_receipt = code[1]

    async with httpx.AsyncClient(timeout=20) as client:

        async def follower() -> Any:
            r = await client.get(
                f"{u['gateway']}/v1/reports",
                params={"receipt_code": follower_receipt},
                headers=admin_headers,
            )
            items = r.json()["items"] if r.status_code == 200 else []
            return items[0] if items and items[0]["status"] == "merged" else None

        merged = await eventually(follower, "the me-too report merged", timeout=60)
        # The primary moves on: the follower's reporter is told (the merged report follows).
        # (It may already be auto-routed to Dinas SDA; then the agency accepts it.)
        state = (
            await client.get(f"{u['gateway']}/v1/reports/{primary}", headers=admin_headers)
        ).json()["status"]
        if state in ("received", "coordination"):
            r = await client.post(
                f"{u['gateway']}/v1/reports/{primary}/dispatch",
                json={"agency_id": "dinas-sda"},
                headers=admin_headers,
            )
        else:
            sda = issue_access_token(
                p.jwt_secret, "sda-1", "agency-officer", agency_id="dinas-sda", name="SDA"
            )
            r = await client.post(
                f"{u['gateway']}/v1/reports/{primary}/accept",
                json={},
                headers={"Authorization": f"Bearer {sda}"},
            )
        assert r.status_code == 200, r.text
        moved_to = "dispatched" if state in ("received", "coordination") else "in_progress"

        async def told() -> Any:
            r = await client.get(
                f"{u['notifier']}/v1/deliveries", params={"report_id": merged["report_id"]}
            )
            items = r.json() if r.status_code == 200 else []
            return [i for i in items if i["template"] == moved_to] or None

        await eventually(told, "the follower told what happened to the report", timeout=60)
