"""Gateway CPU per read-model event (issue 18): one gateway process on its own database and
topics; complaints fed at a steady rate as the platform sends them (per complaint: the
reporter's key, the public submission and three workflow steps, 5 events); the process's
CPU from /proc from the first event until every event is applied (in the inbox) and the
outbox is empty (every public event sent), less its idle rate, divided by the events; the
same for the PostgreSQL backends serving its database.

    uv run --frozen python -m bench.gateway_projection --complaints 300 --rate 20

(Run it with PYTHONPATH pointing at another checkout's services/privacy-gateway/src to
measure that gateway on the same machine.)
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer
from sqlalchemy import make_url

import aduan_gateway
from aduan_contracts.enums import Channel, Privacy, ReportStatus, Role
from aduan_contracts.events import ReporterKeyIssued, ReportStatusChanged, ReportSubmitted
from aduan_contracts.serialization import encode
from aduan_contracts.topics import PUBLIC_REPORTS, REPORT_INTAKE, REPORTER_KEYS, STATUS_CHANGED
from aduan_contracts.values import Actor, GeoPoint, Location
from aduan_kit.crypto import new_key, seal_identity
from aduan_testing.helpers import free_port
from aduan_testing.infra import Infra
from aduan_testing.kafka import read_topic
from aduan_testing.platform import service_env
from aduan_testing.plugin import isolation
from bench.single import cpu_ms, postgres_cpu_ms, spawn, stop, wait_healthy

SECRET = "bench-gateway-projection-" + "x" * 32
STEPS = (ReportStatus.RECEIVED, ReportStatus.COORDINATION, ReportStatus.DISPATCHED)


def _complaint(i: int) -> list[tuple[str, Any, uuid.UUID]]:
    """(topic, event, key) of one complaint, in the order the platform sends them."""
    key_id, key = uuid.uuid4(), new_key()
    report_id = uuid.uuid4()
    now = datetime.now(UTC)
    submitted = ReportSubmitted(
        report_id=report_id,
        receipt_code=f"ADU-{i:04d}-BNCH",
        channel=Channel.WEB,
        channel_message_id=f"web.{uuid.uuid4().hex}",
        title="Jalan rusak",
        text="Nama saya Budi Santoso, jalan berlubang di depan pasar. Telepon 0812-3456-7890.",
        category_hint="jalan",
        location=Location(point=GeoPoint(lat=-6.1951, lon=106.8231), area="Menteng"),
        privacy=Privacy.PUBLIC,
        received_at=now,
        reporter=seal_identity({"name": "Budi Santoso", "phone": "+6281234567890"}, key_id, key),
    )
    events: list[tuple[str, Any, uuid.UUID]] = [
        (
            REPORTER_KEYS.name,
            ReporterKeyIssued(key_id=key_id, key=base64.b64encode(key).decode()),
            key_id,
        ),
        (REPORT_INTAKE.name, submitted, report_id),
    ]
    for version, status in enumerate(STEPS, start=1):
        step = ReportStatusChanged(
            report_id=report_id,
            receipt_code=submitted.receipt_code,
            channel=Channel.WEB,
            version=version,
            from_status=STEPS[version - 2] if version > 1 else None,
            to_status=status,
            actor=Actor(id="workflow", role=Role.SYSTEM),
            category="jalan",
            agency_id="dbm",
            occurred_at=now + timedelta(seconds=version),
        )
        events.append((STATUS_CHANGED.name, step, report_id))
    return events


async def _pending(dsn: str) -> tuple[int, int]:
    """(events applied, outbox rows not yet sent)."""
    conn = await asyncpg.connect(dsn)
    try:
        inbox = await conn.fetchval("SELECT count(*) FROM inbox")
        outbox = await conn.fetchval("SELECT count(*) FROM outbox")
        return int(inbox), int(outbox)
    finally:
        await conn.close()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    infra = Infra.obtain()
    async with isolation(infra) as iso:
        port = free_port()
        blobs = tempfile.mkdtemp(prefix="gateway-projection-")
        env = dict(os.environ) | service_env(
            iso,
            "gateway",
            port,
            log_level="WARNING",
            JWT_SECRET=SECRET,
            BLOB_ROOT=blobs,
        )
        proc = spawn([sys.executable, "-m", "aduan_gateway"], env, Path(args.log))
        dsn = (
            make_url(iso.database("gateway"))
            .set(drivername="postgresql")
            .render_as_string(hide_password=False)
        )
        producer = AIOKafkaProducer(bootstrap_servers=iso.kafka, linger_ms=1)
        await producer.start()
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                await wait_healthy(client, proc, "gateway", args.log)
            complaints = [_complaint(i) for i in range(args.complaints)]
            total = 5 * args.complaints
            await asyncio.sleep(2.0)
            database = make_url(dsn).database or ""
            i0, p0, s0 = cpu_ms(proc.pid), postgres_cpu_ms(database), time.monotonic()
            await asyncio.sleep(args.settle_s)
            settled = time.monotonic() - s0
            idle = (cpu_ms(proc.pid) - i0) / settled
            pg_idle = (postgres_cpu_ms(database) - p0) / settled
            c0, q0, t0 = cpu_ms(proc.pid), postgres_cpu_ms(database), time.monotonic()
            # Each complaint's events spread over its interval: key and content first,
            # then the steps (as intake and workflow send them, a few ms apart).
            gap = 1.0 / args.rate
            for n, events in enumerate(complaints):
                for topic, event, key in events:
                    await producer.send(
                        f"{iso.namespace}.{topic}", encode(event), key=str(key).encode()
                    )
                    await asyncio.sleep(gap / len(events))
                lag = t0 + (n + 1) * gap - time.monotonic()
                if lag > 0:
                    await asyncio.sleep(lag)
            await producer.flush()
            deadline = time.monotonic() + 120
            while True:
                inbox, unsent = await _pending(dsn)
                if (inbox >= total and unsent == 0) or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.05)
            window = time.monotonic() - t0
            used = cpu_ms(proc.pid) - c0 - idle * window
            # The gateway's own PostgreSQL backends (its pool's connections; this bench's
            # counting connections are short-lived and gone by now).
            pg_used = postgres_cpu_ms(database) - q0 - pg_idle * window
            public = len(
                await read_topic(
                    iso.kafka, f"{iso.namespace}.{PUBLIC_REPORTS.name}", settle=2.0, timeout=60
                )
            )
        finally:
            await producer.stop()
            stop(proc)
    return {
        "gateway": str(Path(aduan_gateway.__file__).parent),
        "complaints": args.complaints,
        "rate_per_s": args.rate,
        "events": total,
        "events_applied": inbox,
        "public_events": public,
        "window_s": round(window, 2),
        "gateway_cpu_ms_per_event": round(used / max(inbox, 1), 3),
        "gateway_cpu_ms_per_complaint": round(used / max(inbox, 1) * 5, 3),
        "gateway_idle_cpu_ms_per_s": round(idle, 2),
        "postgres_cpu_ms_per_event": round(pg_used / max(inbox, 1), 3),
        "postgres_cpu_ms_per_complaint": round(pg_used / max(inbox, 1) * 5, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--complaints", type=int, default=300)
    parser.add_argument("--rate", type=float, default=20.0, help="complaints per second")
    parser.add_argument("--settle-s", type=float, default=3.0)
    parser.add_argument("--log", default=tempfile.gettempdir() + "/bench-gateway-projection.log")
    print(json.dumps(asyncio.run(run(parser.parse_args())), indent=2))


if __name__ == "__main__":
    main()
