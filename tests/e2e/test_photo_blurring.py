"""Photos safe to publish (issue 20), every service a real OS process on real Kafka,
PostgreSQL and Redis, the photo worker its own process (`python -m aduan_gateway.photos`,
as services.sh and the gateway-photos Deployment run it):

- before the worker has run, a photo is "being prepared" (202 with the reason), for
  officers and for the public after-photo alike; after it, the blurred copy is served;
- no view (validator, agency officer, reporter-facing public page) ever gets the original:
  bytes compared with the stored original and its hash;
- the original opens only for a validator, after the audited "open photos" action, and
  both the opening and the read of the original are in the access log;
- a completed public report's after-photo (the follow-up's, blurred) is on the portal's
  public report page and on the tracking page, passed through the portal.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import cv2
import httpx
import numpy as np
import pytest
import pytest_asyncio
import skimage.data as samples
from PIL import Image

from aduan_testing.helpers import eventually, free_port
from aduan_testing.infra import repo_root
from aduan_testing.platform import Platform, running_platform
from aduan_testing.plugin import Isolation

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

EMAIL = "wati.photo@example.org"
OUTCOME = "Lubang ditambal; foto sesudah terlampir."


@pytest_asyncio.fixture
async def platform(isolated: Isolation, tmp_path: Path) -> AsyncIterator[Platform]:
    # The worker does not run inside the gateway here: it is started by the test, so the
    # "being prepared" state can be seen first.
    async with running_platform(
        isolated, tmp_path, extra_env={"ADUAN_GATEWAY_PHOTO_WORKER_IN_PROCESS": "false"}
    ) as plat:
        await plat.run("aduan_gateway.cli", "demo-seed", "--yes-this-is-a-demo")
        yield plat


def street_photo(seed: int) -> bytes:
    """A JPEG of a street scene stand-in: the astronaut (a face) beside a parked car's
    plate "B 1234 XYZ" (white on black), on scikit-image's public-domain photo."""
    load: Callable[[], Any] = samples.astronaut
    img = np.ascontiguousarray(load())
    plate = np.full((60, 190, 3), 18, np.uint8)
    cv2.putText(plate, "B 1234 XYZ", (8, 40), cv2.FONT_HERSHEY_DUPLEX, 0.95, (245,) * 3, 2)
    img[420:480, 300:490] = plate
    img[0:4, 0:4] = seed  # a different photo (hash) per call
    out = io.BytesIO()
    Image.fromarray(img).save(out, format="JPEG", quality=92)
    return out.getvalue()


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def start_worker(p: Platform) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = p.directory / "photos.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "aduan_gateway.photos"],
            env={**p.env, "ADUAN_GATEWAY_PHOTOS_PORT": str(port)},
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=repo_root(),
        )
    url = f"http://127.0.0.1:{port}"
    async with httpx.AsyncClient(timeout=5) as client:

        async def healthy() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"photo worker exited:\n{log.read_text()[-3000:]}")
            try:
                return (await client.get(f"{url}/health")).status_code == 200
            except httpx.HTTPError:
                return False

        await eventually(healthy, "photo worker /health", timeout=120)
    return proc, url


async def stop_worker(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(proc.wait, 30)
        except subprocess.TimeoutExpired:
            proc.kill()


async def test_photos_are_served_blurred_and_the_original_only_through_the_audited_action(
    platform: Platform,
) -> None:
    p, u = platform, platform.urls
    ticket = p.bearer("tiket-1", "ticket-admin")
    crew = p.bearer("binamarga-1", "agency-officer", "dinas-bina-marga")
    validator = p.bearer("val-1", "validator")
    admin = p.bearer("admin-1", "administrator")
    citizen_photo = street_photo(1)
    after_photo = street_photo(2)
    blobs = Path(p.env["ADUAN_GATEWAY_BLOB_ROOT"])
    worker: subprocess.Popen[bytes] | None = None
    async with httpx.AsyncClient(base_url=u["gateway"], timeout=30) as gw:
        filed = await gw.post(
            f"{u['intake']}/v1/channels/web",
            data={
                "title": "Jalan berlubang dekat parkiran",
                "text": "Lubang besar di Jl. Cikini Raya, mobil terparkir di sampingnya.",
                "name": "Wati",
                "contact": EMAIL,
                "area": "Menteng",
                "public": "on",
                "submission_id": str(uuid.uuid4()),
            },
            files={"photos": ("jalan.jpg", citizen_photo, "image/jpeg")},
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

        v = await eventually(view, "the report in the gateway", timeout=60)
        citizen_sha = v["photos"][0]["sha256"]
        stored_citizen = (blobs / citizen_sha[:2] / citizen_sha).read_bytes()
        assert sha(stored_citizen) == citizen_sha

        # Before the worker has run: being prepared, with the reason, never the original.
        r = await gw.get(f"/v1/reports/{rid}/photos/{citizen_sha}", headers=validator)
        assert r.status_code == 202, r.text
        assert "being prepared" in r.json()["detail"] and r.headers["retry-after"]

        try:
            worker, _ = await start_worker(p)

            async def blurred() -> httpx.Response | None:
                got = await gw.get(f"/v1/reports/{rid}/photos/{citizen_sha}", headers=validator)
                return got if got.status_code == 200 else None

            got = await eventually(blurred, "the blurred copy", timeout=90)
            assert got.headers["content-type"] == "image/jpeg"
            assert got.content != stored_citizen and sha(got.content) != citizen_sha
            assert got.content != citizen_photo
            with Image.open(io.BytesIO(got.content)) as img:
                assert img.size == (512, 512)
            thumb = await gw.get(
                f"/v1/reports/{rid}/photos/{citizen_sha}",
                params={"size": "thumb"},
                headers=validator,
            )
            assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/webp"
            with Image.open(io.BytesIO(thumb.content)) as img:
                assert max(img.size) <= 480

            # The agency's officer, once dispatched: the blurred copy, never the original.
            view_now = await view()
            if view_now["status"] != "dispatched":
                await act("dispatch", ticket, agency_id="dinas-bina-marga")
            await eventually(lambda: view("dispatched"), "dispatched")
            as_agency = await gw.get(f"/v1/reports/{rid}/photos/{citizen_sha}", headers=crew)
            assert as_agency.status_code == 200 and as_agency.content == got.content
            for headers in (crew, validator):
                r = await gw.get(
                    f"/v1/reports/{rid}/photos/{citizen_sha}",
                    params={"original": "true"},
                    headers=headers,
                )
                assert r.status_code == 403 and "open photos" in r.json()["detail"]

            # The validator's audited opening: then, and only for them, the original.
            opened = await gw.post(
                f"/v1/reports/{rid}/photos/open",
                json={"reason": "membandingkan foto warga dengan lokasi"},
                headers=validator,
            )
            assert opened.status_code == 201, opened.text
            original = await gw.get(
                f"/v1/reports/{rid}/photos/{citizen_sha}",
                params={"original": "true"},
                headers=validator,
            )
            assert original.status_code == 200 and original.content == stored_citizen
            still_blurred = await gw.get(f"/v1/reports/{rid}/photos/{citizen_sha}", headers=crew)
            assert still_blurred.content == got.content
            log = await gw.get("/v1/audit/access-log", params={"report_id": rid}, headers=admin)
            assert log.status_code == 200
            entries = [(e["subject"], tuple(e["fields"])) for e in log.json()]
            assert any(s == "val-1" and "photos.open" in f for s, f in entries), entries
            assert ("val-1", (f"photo.original:{citizen_sha}",)) in entries, entries
            assert ("binamarga-1", (f"photo:{citizen_sha}",)) in entries, entries

            # The follow-up's after-photo, then completion.
            await act("accept", crew)
            r = await gw.post(
                f"/v1/reports/{rid}/follow-ups",
                data={"note": OUTCOME},
                files={"photos": ("sesudah.jpg", after_photo, "image/jpeg")},
                headers=crew,
            )
            assert r.status_code == 200, r.text
            await eventually(lambda: view("awaiting_validation"), "awaiting validation")
            await act("validate", validator)
            done = await eventually(lambda: view("completed"), "completed")
            tl_sha = next(t["follow_up"] for t in done["timeline"] if t["follow_up"])["photos"][0][
                "sha256"
            ]
            stored_after = (blobs / tl_sha[:2] / tl_sha).read_bytes()

            async def listed() -> Any:
                r = await gw.get(f"/v1/public/reports/{rid}/after-photos")
                if r.status_code != 200 or not r.json() or not r.json()[0]["ready"]:
                    return None
                return r.json()

            after = await eventually(listed, "the public after-photo", timeout=90)
            assert [a["sha256"] for a in after] == [tl_sha]
            public = await gw.get(f"/v1/public/reports/{rid}/photos/{tl_sha}")
            assert public.status_code == 200 and public.headers["content-type"] == "image/webp"
            assert public.content != stored_after and sha(public.content) != tl_sha
            # The citizen's own photo is not public, blurred or not; nor any original.
            assert (
                await gw.get(f"/v1/public/reports/{rid}/photos/{citizen_sha}")
            ).status_code == 404
            assert (
                await gw.get(f"/v1/public/reports/{rid}/photos/{tl_sha}?original=true")
            ).content != stored_after
        finally:
            if worker is not None:
                await stop_worker(worker)

    # The portal: the after-photo on the public report page and on the tracking page.
    async with httpx.AsyncClient(base_url=u["portal"], timeout=30) as portal:

        async def page_with_photo() -> str | None:
            r = await portal.get(f"/reports/{rid}")
            return r.text if r.status_code == 200 and 'class="after-photo"' in r.text else None

        page = await eventually(page_with_photo, "the report page's after-photo", timeout=60)
        src = re.search(r'class="after-photo" src="([^"]+)"', page)
        assert src is not None and tl_sha in src[1]
        served = await portal.get(src[1].replace("&amp;", "&"))
        assert served.status_code == 200 and served.headers["content-type"] == "image/webp"
        assert served.content != stored_after and sha(served.content) != tl_sha
        with Image.open(io.BytesIO(served.content)) as shown:
            assert max(shown.size) <= 480
        track = await portal.get(f"/track/{receipt}")
        assert track.status_code == 200 and 'class="after-photo"' in track.text
        assert citizen_sha not in page and citizen_sha not in track.text
    assert EMAIL not in p.log_text()  # nor in any service's log
