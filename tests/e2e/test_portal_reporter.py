"""The reporter's side of tracking on the portal, every service a real OS process on real
Kafka, PostgreSQL and Redis: prove the contact given with the report, see the rejection
reason and the agency's follow-up in plain words, rate the result, reopen it, download one's
data and erase one's identity; a wrong contact or a form without its CSRF token does
nothing."""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio
from PIL import Image

from aduan_testing.helpers import eventually
from aduan_testing.platform import Platform, running_platform
from aduan_testing.plugin import Isolation

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

EMAIL = "budi.santoso@example.org"
OUTCOME = "Lubang sudah ditambal dengan aspal panas dan dipadatkan."
REJECTION = "Lokasi berada di jalan tol, wewenang operator tol."


@pytest_asyncio.fixture
async def platform(isolated: Isolation, tmp_path: Path) -> AsyncIterator[Platform]:
    async with running_platform(isolated, tmp_path) as plat:
        await plat.run("aduan_gateway.cli", "demo-seed", "--yes-this-is-a-demo")
        yield plat


def jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 30), (30, 160, 60)).save(out, format="JPEG")
    return out.getvalue()


async def file(client: httpx.AsyncClient, p: Platform, text: str) -> tuple[str, str]:
    r = await client.post(
        f"{p.urls['intake']}/v1/channels/web",
        data={
            "title": "Jalan berlubang",
            "text": text,
            "name": "Budi Santoso",
            "contact": EMAIL,
            "area": "Menteng",
            "submission_id": str(uuid.uuid4()),
        },
        headers={"Accept": "application/json"},
    )
    assert r.status_code == 201, r.text
    return r.json()["report_id"], r.json()["receipt_code"]


def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None, "no CSRF token on the reporter's forms"
    return found[1]


async def test_reporter_sees_outcome_rates_reopens_exports_and_erases(
    platform: Platform,
) -> None:
    p, u = platform, platform.urls
    ticket = p.bearer("tiket-1", "ticket-admin")
    crew = p.bearer("binamarga-1", "agency-officer", "dinas-bina-marga")
    validator = p.bearer("val-1", "validator")
    async with httpx.AsyncClient(timeout=20) as api:
        rid, receipt = await file(api, p, "Lubang besar di Jl. Cikini Raya dekat stasiun.")
        rejected_id, rejected_receipt = await file(
            api, p, "Jalan tol dalam kota berlubang di km 5 arah Cawang."
        )

        async def status(report_id: str, wanted: str | None = None) -> Any:
            r = await api.get(f"{u['gateway']}/v1/reports/{report_id}", headers=validator)
            if r.status_code != 200:
                return None
            view = r.json()
            return view if wanted is None or view["status"] == wanted else None

        async def act(report_id: str, action: str, headers: dict[str, str], **body: Any) -> Any:
            r = await api.post(
                f"{u['gateway']}/v1/reports/{report_id}/{action}", json=body, headers=headers
            )
            assert r.status_code == 200, (action, r.text)
            return r.json()

        # The lifecycle, as officers would run it.
        await eventually(lambda: status(rejected_id), "the second report", timeout=60)
        await act(rejected_id, "reject", ticket, reason=REJECTION)
        view = await eventually(lambda: status(rid), "the report", timeout=60)
        if view["status"] != "dispatched":
            await act(rid, "dispatch", ticket, agency_id="dinas-bina-marga")
        await eventually(lambda: status(rid, "dispatched"), "dispatched")
        await act(rid, "accept", crew)
        r = await api.post(
            f"{u['gateway']}/v1/reports/{rid}/follow-ups",
            data={"note": OUTCOME},
            files={"photos": ("after.jpg", jpeg(), "image/jpeg")},
            headers=crew,
        )
        assert r.status_code == 200, r.text
        await eventually(lambda: status(rid, "awaiting_validation"), "awaiting validation")
        await act(rid, "validate", validator)
        await eventually(lambda: status(rid, "completed"), "completed")

    async with httpx.AsyncClient(base_url=u["portal"], timeout=20) as browser:

        async def track(code: str) -> str:
            page = await browser.get(f"/track/{code}")
            assert page.status_code == 200, page.text[:500]
            return page.text

        # Before proving the contact: status only, in plain words, and the way to prove it.
        page = await track(receipt)
        assert "Selesai" in page and OUTCOME not in page and 'id="prove-form"' in page

        # A wrong contact shows nothing more.
        wrong = await browser.post(f"/track/{receipt}/masuk", data={"contact": "orang@lain.id"})
        assert wrong.status_code == 404 and "tidak cocok" in wrong.text
        assert OUTCOME not in wrong.text

        # The contact given with the report: the report, its outcome, the forms.
        ok = await browser.post(f"/track/{receipt}/masuk", data={"contact": EMAIL.upper()})
        assert ok.status_code == 303
        page = await track(receipt)
        assert "Laporan Anda" in page and "Lubang besar di Jl. Cikini Raya" in page
        assert OUTCOME in page and "Hasil tindak lanjut" in page
        assert 'id="rate-form"' in page and 'id="reopen-form"' in page
        csrf = csrf_of(page)
        report_id = re.search(r'name="report_id" value="([0-9a-f-]{36})"', page)
        assert report_id is not None and report_id[1] == rid
        version = re.search(r'name="version" value="(\d+)"', page)
        assert version is not None

        # A forged form (no CSRF token) does nothing.
        forged = await browser.post(
            f"/track/{receipt}/nilai", data={"score": "1", "report_id": rid}
        )
        assert forged.status_code == 401 and "belum dilakukan" in forged.text

        # Rate the result.
        rated = await browser.post(
            f"/track/{receipt}/nilai",
            data={"csrf": csrf, "report_id": rid, "score": "4", "comment": "Cepat, terima kasih"},
        )
        assert rated.status_code == 303
        page = await browser.get(rated.headers["location"])
        assert "Terima kasih atas penilaian Anda" in page.text and "4 dari 5" in page.text
        async with httpx.AsyncClient(timeout=10) as api:
            r = await api.get(f"{u['gateway']}/v1/reports/{rid}/rating", headers=validator)
            assert r.status_code == 200 and r.json()["score"] == 4

        # Reopen: a reason is needed; then the report is worked on again.
        short = await browser.post(
            f"/track/{receipt}/buka-kembali",
            data={"csrf": csrf, "report_id": rid, "version": version[1], "reason": "rusak"},
        )
        assert short.status_code == 422 and "paling sedikit 10 karakter" in short.text
        reopened = await browser.post(
            f"/track/{receipt}/buka-kembali",
            data={
                "csrf": csrf,
                "report_id": rid,
                "version": version[1],
                "reason": "Tambalan sudah retak lagi setelah hujan deras semalam.",
            },
        )
        assert reopened.status_code == 303, reopened.text[:2000]
        page = await browser.get(reopened.headers["location"])
        assert "dibuka kembali" in page.text

        # The reporter's own data, with who read it.
        export = await browser.get(f"/track/{receipt}/data.json")
        assert export.status_code == 200
        assert "attachment" in export.headers["content-disposition"]
        data = export.json()
        assert data["identity"]["contact"] == EMAIL

        # The rejected report: the reason, in the reporter's view only.
        assert (
            await browser.post(f"/track/{rejected_receipt}/masuk", data={"contact": EMAIL})
        ).status_code == 303
        page = await track(rejected_receipt)
        assert "Tidak dapat diproses" in page and REJECTION in page

        # Erase: only with the box ticked; then signed out and the contact opens nothing.
        csrf = csrf_of(page)
        unconfirmed = await browser.post(
            f"/track/{rejected_receipt}/hapus-data", data={"csrf": csrf}
        )
        assert unconfirmed.status_code == 422
        erased = await browser.post(
            f"/track/{rejected_receipt}/hapus-data", data={"csrf": csrf, "confirm": "yes"}
        )
        assert erased.status_code == 303
        page = await browser.get(erased.headers["location"])
        assert "Permintaan penghapusan diterima" in page.text and 'id="prove-form"' in page.text

        async def identity_gone() -> bool:
            r = await browser.post(f"/track/{receipt}/masuk", data={"contact": EMAIL})
            return r.status_code == 404

        await eventually(identity_gone, "the identity erased everywhere", timeout=60)

    logs = p.log_text()
    assert EMAIL not in logs and "Budi Santoso" not in logs
