"""One complaint through all five services, each a real OS process, on real Kafka,
PostgreSQL and Redis: filed on the web form, stored by workflow, served (redacted) by the
privacy gateway, shown by the portal, and acknowledged to the reporter by the notifier."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import pytest_asyncio

from aduan_gateway.auth import issue_access_token
from aduan_testing.helpers import eventually, free_port
from aduan_testing.plugin import Isolation

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

SERVICES = {
    "gateway": "aduan_gateway",
    "intake": "aduan_intake",
    "workflow": "aduan_workflow",
    "notifier": "aduan_notifier",
    "portal": "aduan_portal",
}
JWT_SECRET = "e2e-secret-" + uuid.uuid4().hex
PHONE = "081234567890"
REPORTER_NAME = "Siti Rahmawati"
REPORTER_EMAIL = "siti.rahma@example.org"


@dataclass
class Platform:
    urls: dict[str, str]
    procs: dict[str, subprocess.Popen[bytes]]
    logs: dict[str, Path]

    def log_text(self) -> str:
        return "\n".join(p.read_text(errors="replace") for p in self.logs.values())


@pytest_asyncio.fixture
async def platform(isolated: Isolation, tmp_path: Path) -> AsyncIterator[Platform]:
    ports = {name: free_port() for name in SERVICES}
    env = dict(os.environ)
    for name in SERVICES:
        p = f"ADUAN_{name.upper()}_"
        env |= {
            p + "KAFKA_BOOTSTRAP_SERVERS": isolated.kafka,
            p + "DATABASE_URL": isolated.database(name),
            p + "REDIS_URL": isolated.redis_url,
            p + "REDIS_PREFIX": f"{isolated.redis_prefix}{name}:",
            p + "TOPIC_NAMESPACE": isolated.namespace,
            p + "PORT": str(ports[name]),
            p + "ENVIRONMENT": "test",
            p + "LOG_LEVEL": "INFO",
        }
    env["ADUAN_GATEWAY_JWT_SECRET"] = JWT_SECRET
    env["ADUAN_NOTIFIER_PORTAL_BASE_URL"] = f"http://127.0.0.1:{ports['portal']}"
    procs: dict[str, subprocess.Popen[bytes]] = {}
    logs: dict[str, Path] = {}
    for name, module in SERVICES.items():
        logs[name] = tmp_path / f"{name}.log"
        with logs[name].open("wb") as out:
            procs[name] = subprocess.Popen(
                [sys.executable, "-m", module], env=env, stdout=out, stderr=subprocess.STDOUT
            )
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    plat = Platform(urls=urls, procs=procs, logs=logs)
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            for name, url in urls.items():

                async def healthy(name: str = name, url: str = url) -> bool:
                    if procs[name].poll() is not None:
                        raise AssertionError(f"{name} exited:\n{logs[name].read_text()[-3000:]}")
                    return (await client.get(f"{url}/health")).status_code == 200

                await eventually(healthy, f"{name} /health", timeout=120)
        yield plat
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name, proc in procs.items():
            try:
                code = proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise AssertionError(f"{name} ignored SIGTERM for 30 s") from None
            # uvicorn finishes the lifespan shutdown, then re-raises SIGTERM (exit -15).
            log = logs[name].read_text()
            assert code in (0, -signal.SIGTERM), f"{name} exited {code}:\n{log[-2000:]}"
            assert "Application shutdown complete" in log, f"{name} did not shut down cleanly"


async def test_one_report_through_all_five_services(platform: Platform) -> None:
    u = platform.urls
    async with httpx.AsyncClient(timeout=10) as client:
        # --- intake: the public web form ------------------------------------------------
        form = {
            "title": "Jalan berlubang di Jl. Kebon Sirih",
            "text": f"Lubang besar di depan sekolah, hampir membuat motor jatuh. Hubungi {PHONE}.",
            "category": "jalan",
            "name": REPORTER_NAME,
            "contact": REPORTER_EMAIL,
            "public": "on",
            "lat": "-6.1862",
            "lon": "106.8341",
            "address": "Jl. Kebon Sirih No. 12",
            "area": "Gambir",
            "submission_id": str(uuid.uuid4()),
        }
        r = await client.post(
            f"{u['intake']}/v1/channels/web", data=form, headers={"Accept": "application/json"}
        )
        assert r.status_code == 201, r.text
        filed = r.json()
        report_id, receipt = filed["report_id"], filed["receipt_code"]
        assert receipt.startswith("ADU-")

        # The same form delivered twice is filed once, with the same receipt.
        again = await client.post(
            f"{u['intake']}/v1/channels/web", data=form, headers={"Accept": "application/json"}
        )
        assert again.status_code == 200, again.text
        assert again.json()["receipt_code"] == receipt
        assert again.json()["duplicate"] is True

        private_form = form | {
            "submission_id": str(uuid.uuid4()),
            "public": "",
            "title": "Pungutan liar di kantor kelurahan",
        }
        r = await client.post(
            f"{u['intake']}/v1/channels/web",
            data=private_form,
            headers={"Accept": "application/json"},
        )
        assert r.status_code == 201, r.text
        private_id = r.json()["report_id"]

        # --- workflow: stored as received (Menunggu) ------------------------------------
        async def stored() -> Any:
            resp = await client.get(f"{u['workflow']}/internal/reports/{report_id}")
            return resp.json() if resp.status_code == 200 else None

        wf = await eventually(stored, "workflow to store the report")
        assert wf["status"] == "received"
        assert wf["status_label"] == "Menunggu"
        assert wf["receipt_code"] == receipt
        assert [h["to_status"] for h in wf["history"]] == ["received"]

        # --- gateway: public view is redacted; private needs authorization ---------------
        async def public_view() -> Any:
            resp = await client.get(f"{u['gateway']}/v1/public/reports/{report_id}")
            return resp.json() if resp.status_code == 200 else None

        view = await eventually(public_view, "gateway public view")
        body = str(view)
        assert view["status"] == "received"
        assert PHONE not in body
        assert REPORTER_NAME not in body and REPORTER_EMAIL not in body
        assert "Jl. Kebon Sirih No. 12" not in body  # precise address is re-identifying
        assert "-6.1862" not in body
        assert view["confidentiality_label"]

        async def private_known() -> Any:
            token = issue_access_token(JWT_SECRET, "val-1", "validator", name="Validator Satu")
            resp = await client.get(
                f"{u['gateway']}/v1/reports/{private_id}",
                headers={"Authorization": f"Bearer {token}"},
            )
            return resp.json() if resp.status_code == 200 else None

        officer_view = await eventually(private_known, "gateway officer view of private report")
        assert officer_view["confidentiality_label"] == "Privat"
        assert REPORTER_NAME not in str(officer_view) and REPORTER_EMAIL not in str(officer_view)
        resp = await client.get(f"{u['gateway']}/v1/public/reports/{private_id}")
        assert resp.status_code == 404
        resp = await client.get(f"{u['gateway']}/v1/reports/{private_id}")
        assert resp.status_code == 401

        # --- portal: the public report has a page; the private one does not -----------------
        async def page() -> Any:
            resp = await client.get(f"{u['portal']}/reports/{report_id}")
            return resp.text if resp.status_code == 200 else None

        html = await eventually(page, "portal page")
        assert "Jalan berlubang" in html
        assert PHONE not in html and REPORTER_NAME not in html
        assert (await client.get(f"{u['portal']}/reports/{private_id}")).status_code == 404

        # --- notifier: the reporter is told their receipt code, once -------------------------
        async def delivered() -> Any:
            resp = await client.get(
                f"{u['notifier']}/v1/deliveries", params={"report_id": report_id}
            )
            items = resp.json() if resp.status_code == 200 else []
            return items or None

        deliveries = await eventually(delivered, "notifier delivery record")
        assert len(deliveries) == 1
        assert deliveries[0]["template"] == "received"
        assert deliveries[0]["receipt_code"] == receipt

        # --- every service says it is healthy and exports metrics ----------------------------
        for name, url in u.items():
            assert (await client.get(f"{url}/health")).status_code == 200, name
            metrics = await client.get(f"{url}/metrics")
            assert metrics.status_code == 200 and "aduan_" in metrics.text, name

    # No personal data in any service's logs.
    logs = platform.log_text()
    for secret in (PHONE, REPORTER_NAME, REPORTER_EMAIL, "Jl. Kebon Sirih No. 12"):
        assert secret not in logs, f"{secret!r} leaked into logs"
