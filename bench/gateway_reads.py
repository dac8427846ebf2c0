"""Gateway CPU per officer read (issue 18): one gateway process on its own database and
topics, one dispatched report with a sealed identity and its reporter's key in the read
model, then a loop of authenticated officer reads of it (GET /v1/reports/{id}); the
process's CPU from /proc over the loop, divided by the reads.

    uv run --frozen python -m bench.gateway_reads --reads 500
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy import make_url

from aduan_contracts.enums import Role
from aduan_gateway.auth import issue_access_token
from aduan_kit.crypto import new_key, seal_identity
from aduan_testing.helpers import free_port
from aduan_testing.infra import Infra
from aduan_testing.platform import service_env
from aduan_testing.plugin import isolation
from bench.single import cpu_ms, spawn, stop, wait_healthy

SECRET = "bench-gateway-reads-" + "x" * 32
AGENCY = "dbm"


async def _seed(dsn: str, report_id: uuid.UUID) -> None:
    """A dispatched report straight into the read model, with its reporter's key: the read
    path is what is measured (the consumers are idle)."""
    key_id, key = uuid.uuid4(), new_key()
    sealed = seal_identity({"name": "Budi Santoso", "phone": "+6281234567890"}, key_id, key)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("INSERT INTO reporter_keys (key_id, key) VALUES ($1, $2)", key_id, key)
        await conn.execute(
            "INSERT INTO reports (report_id, receipt_code, channel, privacy, has_content, "
            "title, text, officer_title, officer_text, received_at, status, status_version, "
            "agency_id, sealed_identity, reporter_key_id) VALUES ($1, 'ADU-0001', 'web', "
            "'private', true, 'Jalan rusak', 'Jalan berlubang di depan pasar', 'Jalan rusak', "
            "'Jalan berlubang di depan pasar', $2, 'dispatched', 2, $3, $4::jsonb, $5)",
            report_id,
            datetime.now(UTC),
            AGENCY,
            sealed.model_dump_json(),
            key_id,
        )
        await conn.execute(
            "INSERT INTO timeline (report_id, version, status, actor_role, occurred_at) "
            "VALUES ($1, 1, 'received', 'system', $2)",
            report_id,
            datetime.now(UTC),
        )
    finally:
        await conn.close()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    infra = Infra.obtain()
    async with isolation(infra) as iso:
        port = free_port()
        blobs = tempfile.mkdtemp(prefix="gateway-reads-")
        env = dict(os.environ) | service_env(
            iso, "gateway", port, log_level="WARNING", JWT_SECRET=SECRET, BLOB_ROOT=blobs
        )
        proc = spawn([sys.executable, "-m", "aduan_gateway"], env, Path(args.log))
        dsn = (
            make_url(iso.database("gateway"))
            .set(drivername="postgresql")
            .render_as_string(hide_password=False)
        )
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                await wait_healthy(client, proc, "gateway", args.log)
                report_id = uuid.uuid4()
                await _seed(dsn, report_id)
                token = issue_access_token(
                    SECRET, "officer-1", Role.AGENCY_OFFICER, agency_id=AGENCY
                )
                headers = {"Authorization": f"Bearer {token}"}
                url = f"/v1/reports/{report_id}"
                for _ in range(args.warm):
                    r = await client.get(url, headers=headers)
                    r.raise_for_status()
                shown = r.json()
                await asyncio.sleep(1.0)
                i0, s0 = cpu_ms(proc.pid), time.monotonic()
                await asyncio.sleep(args.settle_s)
                idle = (cpu_ms(proc.pid) - i0) / (time.monotonic() - s0)
                latencies: list[float] = []
                c0, t0 = cpu_ms(proc.pid), time.monotonic()
                for _ in range(args.reads):
                    started = time.perf_counter()
                    r = await client.get(url, headers=headers)
                    r.raise_for_status()
                    latencies.append(time.perf_counter() - started)
                window = time.monotonic() - t0
                used = cpu_ms(proc.pid) - c0 - idle * window
        finally:
            stop(proc)
    return {
        "reads": args.reads,
        "reads_per_s": round(args.reads / window, 1),
        "gateway_cpu_ms_per_read": round(used / args.reads, 3),
        # One client, one read at a time: the latency of a lone read, not under load.
        "p50_ms": round(_quantile(latencies, 0.50) * 1000, 2),
        "p99_ms": round(_quantile(latencies, 0.99) * 1000, 2),
        "gateway_idle_cpu_ms_per_s": round(idle, 2),
        "name_shown_to_officer": "Budi" in json.dumps(shown),
    }


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reads", type=int, default=500)
    parser.add_argument("--warm", type=int, default=50)
    parser.add_argument("--settle-s", type=float, default=3.0)
    parser.add_argument("--log", default=tempfile.gettempdir() + "/bench-gateway-reads.log")
    print(json.dumps(asyncio.run(run(parser.parse_args())), indent=2))


if __name__ == "__main__":
    main()
