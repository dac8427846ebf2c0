"""Gateway CPU per read of the bench's mixed read load (issue 18's read target), on one
gateway process alone: its own database and topics, `--reports` complete reports seeded
straight into the read model (public and private, several agencies, three timeline steps,
half with a sealed identity and its reporter's key), then `--reads` reads from
`--concurrency` clients at once in the mix `make bench`'s read phases use (bench/load.py,
`ReadLoad`): public list 30 %, public report 25 %, officer report 30 %, officer list 15 %
(validator, ticket-admin and agency officer). The gateway's CPU from /proc over the loop,
divided by the reads, and the latency of each kind; `--profile` samples the gateway with
py-spy over the loop (collapsed stacks written to `--profile-out`).

A closed loop on purpose: it measures the cost of a read, and the throughput one process
reaches, in seconds rather than a whole platform run; `make bench` keeps the open-loop
phase at 500/s.

    uv run --frozen python -m bench.gateway_mix --reports 2000 --reads 6000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
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
from bench.profiles import summarise
from bench.single import cpu_ms, spawn, stop, wait_healthy

SECRET = "bench-gateway-mix-" + "x" * 32
AGENCIES = ("dbm", "dsda", "dlh", "dishub")
STEPS = (("received", "system", None), ("coordination", "validator", None))
TEXTS = (
    ("Saluran air tersumbat", "Got di depan rumah nomor 12 tersumbat sampah sejak minggu lalu."),
    ("Jalan berlubang", "Lubang besar di jalan dekat pasar, motor sering jatuh malam hari."),
    ("Lampu jalan mati", "Lampu penerangan jalan mati tiga tiang berturut-turut, gelap."),
    ("Sampah menumpuk", "Tumpukan sampah di pinggir kali belum diangkut dua minggu."),
)


async def _seed(dsn: str, n: int, seed: int) -> list[uuid.UUID]:
    """`n` complete reports with three timeline steps each; ~60 % public."""
    rng = random.Random(seed)
    conn = await asyncpg.connect(dsn)
    ids: list[uuid.UUID] = []
    try:
        now = datetime.now(UTC)
        reports, steps, keys = [], [], []
        for i in range(n):
            rid = uuid.uuid4()
            ids.append(rid)
            agency = rng.choice(AGENCIES)
            title, text = rng.choice(TEXTS)
            received = now - timedelta(minutes=n - i)
            key_id: uuid.UUID | None = None
            sealed: str | None = None
            if rng.random() < 0.5:
                key_id, key = uuid.uuid4(), new_key()
                keys.append((key_id, key))
                sealed = seal_identity(
                    {"name": "Budi Santoso", "phone": "+6281234567890"}, key_id, key
                ).model_dump_json()
            status = rng.choice(("dispatched", "in_progress", "completed"))
            location = json.dumps(
                {
                    "point": {"lat": -6.2 + rng.random() / 10, "lon": 106.8 + rng.random() / 10},
                    "address": "Jl. Kebon Sirih 22",
                    "area": "Gambir",
                    "area_code": "31.71.01",
                }
            )
            reports.append(
                (
                    rid,
                    f"ADU-{i:04d}-{rng.randrange(10**4):04d}",
                    "public" if rng.random() < 0.6 else "private",
                    title,
                    text,
                    received,
                    status,
                    agency,
                    location,
                    sealed,
                    key_id,
                )
            )
            for v, (st, role, _) in enumerate((*STEPS, ("dispatched", "validator", None)), 1):
                steps.append((rid, v, st, agency if v == 3 else None, role, received))
        await conn.executemany("INSERT INTO reporter_keys (key_id, key) VALUES ($1, $2)", keys)
        await conn.executemany(
            "INSERT INTO reports (report_id, receipt_code, channel, privacy, has_content, "
            "title, text, public_title, public_text, officer_title, officer_text, "
            "received_at, status, status_version, agency_id, location, sealed_identity, "
            "reporter_key_id) VALUES ($1, $2, 'web', $3, true, $4::text, $5::text, $4, $5, "
            "$4, $5, $6, $7, 3, $8, $9::jsonb, $10::jsonb, $11)",
            reports,
        )
        await conn.executemany(
            "INSERT INTO timeline (report_id, version, status, agency_id, actor_role, "
            "occurred_at) VALUES ($1, $2, $3, $4, $5, $6)",
            steps,
        )
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return ids


async def _store_views(url: str, ids: list[uuid.UUID]) -> int:
    """Store each public report's view as the projector does when it writes a status
    (migration 0024): made by the gateway's own code from the seeded row and timeline."""
    from sqlalchemy.ext.asyncio import create_async_engine

    from aduan_gateway.adapters.publicviews import VIEW_FORMAT
    from aduan_gateway.adapters.readmodel import load_public_many
    from aduan_gateway.domain.views import public_view

    engine = create_async_engine(url)
    stored = 0
    try:
        for i in range(0, len(ids), 500):
            async with engine.begin() as conn:
                views = []
                for rid, record in (await load_public_many(conn, ids[i : i + 500])).items():
                    view = public_view(record)
                    if view is not None:
                        views.append((rid, view.model_dump_json(by_alias=True)))
                driver = (await conn.get_raw_connection()).driver_connection
                assert driver is not None
                await driver.executemany(
                    "UPDATE reports SET public_view = $2, public_view_format = $3 "
                    "WHERE report_id = $1",
                    [(rid, body, VIEW_FORMAT) for rid, body in views],
                )
                stored += len(views)
    finally:
        await engine.dispose()
    return stored


def _picker(ids: list[uuid.UUID], seed: int, kinds: frozenset[str] = frozenset()) -> Any:
    """The read mix of bench/load.py's ReadLoad (only `kinds` of it, when given: each
    kind's own cost)."""
    rng = random.Random(seed)
    tokens = {
        "validator": issue_access_token(SECRET, "bench-val", Role.VALIDATOR, ttl_s=7200),
        "ticket-admin": issue_access_token(SECRET, "bench-adm", Role.TICKET_ADMIN, ttl_s=7200),
        "agency-officer": issue_access_token(
            SECRET, "bench-off", Role.AGENCY_OFFICER, agency_id="dbm", ttl_s=7200
        ),
    }

    def pick() -> tuple[str, str, dict[str, str]]:
        while kinds:
            got = one()
            if got[0] in kinds or got[0].rsplit("-", 1)[-1] in kinds:
                return got
        return one()

    def one() -> tuple[str, str, dict[str, str]]:
        rid = rng.choice(ids)
        x = rng.random()
        if x < 0.3:
            return "public-list", "/v1/public/reports?limit=20", {}
        if x < 0.55:
            return "public-get", f"/v1/public/reports/{rid}", {}
        role = rng.choice(list(tokens))
        auth = {"Authorization": f"Bearer {tokens[role]}"}
        if x < 0.85:
            return f"{role}-get", f"/v1/reports/{rid}", auth
        return f"{role}-list", "/v1/reports?limit=20", auth

    return pick


async def _loop(
    client: httpx.AsyncClient, pick: Any, reads: int, concurrency: int
) -> tuple[dict[str, list[float]], dict[str, int]]:
    latencies: dict[str, list[float]] = {}
    statuses: dict[str, int] = {}
    left = reads

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            kind, url, headers = pick()
            started = time.perf_counter()
            r = await client.get(url, headers=headers)
            latencies.setdefault(kind, []).append(time.perf_counter() - started)
            statuses[str(r.status_code)] = statuses.get(str(r.status_code), 0) + 1
            if r.status_code not in (200, 404):
                raise RuntimeError(f"{url}: {r.status_code} {r.text[:200]}")

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, statuses


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def run(args: argparse.Namespace) -> dict[str, Any]:
    infra = Infra.obtain()
    async with isolation(infra) as iso:
        port = free_port()
        blobs = tempfile.mkdtemp(prefix="gateway-mix-")
        env = dict(os.environ) | service_env(
            iso, "gateway", port, log_level="WARNING", JWT_SECRET=SECRET, BLOB_ROOT=blobs
        )
        proc = spawn([sys.executable, "-m", "aduan_gateway"], env, Path(args.log))
        dsn = (
            make_url(iso.database("gateway"))
            .set(drivername="postgresql")
            .render_as_string(hide_password=False)
        )
        spy: subprocess.Popen[bytes] | None = None
        try:
            limits = httpx.Limits(max_connections=args.concurrency)
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", limits=limits, timeout=30
            ) as client:
                await wait_healthy(client, proc, "gateway", args.log)
                ids = await _seed(dsn, args.reports, args.seed)
                if args.views == "stored":
                    await _store_views(iso.database("gateway"), ids)
                # Warm: every code path once, and the pool at its working size.
                kinds = frozenset(k for k in args.kinds.split(",") if k)
                warm = _picker(ids, args.seed + 1, kinds)
                await _loop(client, warm, args.warm, args.concurrency)
                await asyncio.sleep(1.0)
                i0, s0 = cpu_ms(proc.pid), time.monotonic()
                await asyncio.sleep(args.settle_s)
                idle = (cpu_ms(proc.pid) - i0) / (time.monotonic() - s0)
                if args.profile:
                    exe = shutil.which("py-spy")
                    if exe is None:
                        raise SystemExit("py-spy is not installed (make deps installs it)")
                    spy = subprocess.Popen(
                        [exe, "record", "--pid", str(proc.pid), "--rate", "200", "--format",
                         "raw", "--output", args.profile_out, "--nonblocking"],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                    )  # fmt: skip
                    await asyncio.sleep(1.0)
                c0, t0 = cpu_ms(proc.pid), time.monotonic()
                latencies, statuses = await _loop(
                    client, _picker(ids, args.seed + 2, kinds), args.reads, args.concurrency
                )
                window = time.monotonic() - t0
                used = cpu_ms(proc.pid) - c0 - idle * window
                if spy is not None:
                    spy.send_signal(2)
                    spy.wait(timeout=60)
        finally:
            stop(proc)
    everything = [x for v in latencies.values() for x in v]
    out: dict[str, Any] = {
        "reports": args.reports,
        "reads": args.reads,
        "concurrency": args.concurrency,
        "reads_per_s": round(args.reads / window, 1),
        "gateway_cpu_ms_per_read": round(used / args.reads, 3),
        "p50_ms": round(_quantile(everything, 0.5) * 1000, 2),
        "p99_ms": round(_quantile(everything, 0.99) * 1000, 2),
        "statuses": statuses,
        "by_kind_p50_ms": {
            k: round(_quantile(v, 0.5) * 1000, 2) for k, v in sorted(latencies.items())
        },
    }
    if args.profile:
        out["profile"] = summarise(Path(args.profile_out).read_text())  # noqa: ASYNC240
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reports", type=int, default=2000)
    parser.add_argument("--reads", type=int, default=6000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--warm", type=int, default=1000)
    parser.add_argument("--settle-s", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument(
        "--kinds",
        default="",
        help="only these kinds, comma-separated (public-list, validator-get, or a suffix: "
        "get, list)",
    )
    parser.add_argument(
        "--views",
        choices=("stored", "absent"),
        default="stored",
        help="public views stored as the projector leaves them (default), or absent: each "
        "report's first public read builds and stores it (the path before migration 0024)",
    )
    parser.add_argument("--profile", action="store_true", help="py-spy the gateway")
    parser.add_argument("--profile-out", default=tempfile.gettempdir() + "/gateway-mix.txt")
    parser.add_argument("--log", default=tempfile.gettempdir() + "/bench-gateway-mix.log")
    print(json.dumps(asyncio.run(run(parser.parse_args())), indent=2))


if __name__ == "__main__":
    main()
