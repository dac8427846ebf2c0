"""The after-photo on the citizen's side (issue 15's last gap, issue 20), in Debian's
Chromium on a phone: once a public report is completed, its public page and its tracking
page show the agency's after-photo, with faces and number plates blurred (never the stored
original), and it fits the phone's width."""

from __future__ import annotations

import hashlib
import io
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
import skimage.data as samples
from PIL import Image
from playwright.async_api import Browser, Page, ViewportSize

from aduan_testing.browser import shot
from aduan_testing.helpers import eventually
from aduan_testing.platform import Platform

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(600)]

PHONE: ViewportSize = {"width": 390, "height": 844}


def after_photo() -> bytes:
    """The repaired street: a parked car's plate and a passer-by's face (scikit-image's
    public-domain astronaut), both to be blurred before the public sees it."""
    load: Callable[[], Any] = samples.astronaut
    img = np.ascontiguousarray(load())
    plate = np.full((60, 190, 3), 18, np.uint8)
    cv2.putText(plate, "B 4321 KZT", (8, 40), cv2.FONT_HERSHEY_DUPLEX, 0.95, (245,) * 3, 2)
    img[420:480, 300:490] = plate
    img[0:4, 0:4] = uuid.uuid4().int % 256  # its own hash in a shared platform
    out = io.BytesIO()
    Image.fromarray(img).save(out, format="JPEG", quality=92)
    return out.getvalue()


async def complete_with_after_photo(p: Platform, photo: bytes) -> tuple[str, str, str]:
    """File a public report, move it to completed with a follow-up carrying `photo`;
    its id, receipt code and the after-photo's hash."""
    validator = p.bearer("val-after", "validator")
    ticket = p.bearer("tiket-after", "ticket-admin")
    async with httpx.AsyncClient(base_url=p.urls["gateway"], timeout=20) as gw:
        filed = await gw.post(
            f"{p.urls['intake']}/v1/channels/web",
            data={
                "title": "Lubang di depan halte",
                "text": "Lubang besar di depan halte bus, berbahaya untuk motor.",
                "category": "jalan-rusak",
                "contact": "citra.after@example.org",
                "area": "Menteng",
                "public": "on",
                "submission_id": str(uuid.uuid4()),
            },
            headers={"Accept": "application/json"},
        )
        assert filed.status_code == 201, filed.text
        rid, receipt = filed.json()["report_id"], filed.json()["receipt_code"]

        async def view(wanted: str | None = None) -> Any:
            r = await gw.get(f"/v1/reports/{rid}", headers=validator)
            if r.status_code != 200:
                return None
            v = r.json()
            return v if wanted is None or v["status"] == wanted else None

        async def act(action: str, headers: dict[str, str], **body: Any) -> None:
            r = await gw.post(f"/v1/reports/{rid}/{action}", json=body, headers=headers)
            assert r.status_code == 200, (action, r.text)

        v = await eventually(view, "the report", timeout=60)
        if v["status"] != "dispatched":
            await act("dispatch", ticket, agency_id="dinas-bina-marga")
        v = await eventually(lambda: view("dispatched"), "dispatched", timeout=60)
        crew = p.bearer("crew-after", "agency-officer", v["agency_id"])
        await act("accept", crew)
        r = await gw.post(
            f"/v1/reports/{rid}/follow-ups",
            data={"note": "Lubang sudah ditambal dan diratakan."},
            files={"photos": ("sesudah.jpg", photo, "image/jpeg")},
            headers=crew,
        )
        assert r.status_code == 200, r.text
        await eventually(lambda: view("awaiting_validation"), "awaiting validation", timeout=60)
        await act("validate", validator)
        done = await eventually(lambda: view("completed"), "completed", timeout=60)
        tl = next(t["follow_up"] for t in done["timeline"] if t["follow_up"])
        return rid, receipt, tl["photos"][0]["sha256"]


async def shown(page: Page, url: str) -> None:
    """Open `url` until the after-photo is there and loaded (the portal's copy of the
    report and the blurred copy both arrive asynchronously)."""

    async def loaded() -> bool:
        await page.goto(url)
        if await page.locator("img.after-photo").count() == 0:
            return False
        return bool(
            await page.evaluate(
                "() => { const i = document.querySelector('img.after-photo'); "
                "return i.complete && i.naturalWidth > 0 }"
            )
        )

    await eventually(loaded, f"the after-photo on {url}", timeout=90, every=1.0)


async def test_completed_public_report_shows_its_blurred_after_photo(
    platform: Platform, browser: Browser
) -> None:
    photo = after_photo()
    rid, receipt, sha = await complete_with_after_photo(platform, photo)
    original = (Path(platform.env["ADUAN_GATEWAY_BLOB_ROOT"]) / sha[:2] / sha).read_bytes()
    portal = platform.urls["portal"]
    ctx = await browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
    try:
        page = await ctx.new_page()
        await shown(page, f"{portal}/reports/{rid}")
        img = page.locator("img.after-photo").first
        assert await img.get_attribute("data-sha256") == sha
        alt = await img.get_attribute("alt") or ""
        assert "disamarkan" in alt  # says the faces and plates are blurred
        src = await img.get_attribute("src")
        assert src is not None and "size=thumb" in src
        served = await page.request.get(f"{portal}{src}")
        assert served.status == 200 and served.headers["content-type"] == "image/webp"
        body = await served.body()
        assert body != original and hashlib.sha256(body).hexdigest() != sha
        # It fits the phone: no wider than the viewport, no sideways scrolling.
        width = await img.evaluate("i => i.getBoundingClientRect().width")
        assert 0 < width <= PHONE["width"]
        assert await page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
        await img.scroll_into_view_if_needed()
        await shot(page, "portal-after-photo-phone", full_page=False, update_docs=False)

        # The tracking page by the receipt code shows it too.
        await shown(page, f"{portal}/track/{receipt}")
        assert await page.locator("img.after-photo").first.get_attribute("data-sha256") == sha
    finally:
        await ctx.close()
