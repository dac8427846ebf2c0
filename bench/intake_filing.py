"""What one filing costs intake and its PostgreSQL backends, with and without group commit.

A micro benchmark of intake alone (issue 18): starts `python -m aduan_intake` as an OS
process on the real Kafka, PostgreSQL and Redis with its own namespace and database, and
posts `--filings` web-form complaints from `--concurrency` clients at once (closed loop,
keep-alive connections), or with `--rate` at that many a second (open loop: each sent at its
time whatever the answers, as citizens send them), each with a contact (a reporter key per
filing). Prints intake's
CPU-ms per filing and its PostgreSQL backends' (from /proc), filings per second and the
answers; every filing is checked stored once. No timing is asserted anywhere.

    uv run --frozen python -m bench.intake_filing                      # group commit (default)
    uv run --frozen python -m bench.intake_filing --env FILING_GROUP_MAX=1   # one per transaction
    uv run --frozen python -m bench.intake_filing --rate 100 --filings 3000  # open loop
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
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from sqlalchemy import make_url

from aduan_testing.helpers import free_port
from aduan_testing.infra import Infra
from aduan_testing.platform import service_env
from aduan_testing.plugin import isolation
from bench.single import cpu_ms, postgres_cpu_ms, spawn, stop, wait_healthy

__all__ = ["main", "run"]

TEXT = "Lampu penerangan jalan di depan sekolah mati sejak tiga hari, gelap sekali malam hari."


async def run(args: argparse.Namespace) -> dict[str, Any]:
    infra = Infra.obtain()
    async with isolation(infra) as iso:
        port = free_port()
        p = "ADUAN_INTAKE_"
        env = dict(os.environ) | service_env(
            iso,
            "intake",
            port,
            log_level="WARNING",
            SMTP_ENABLED="false",
            RATE_LIMIT_POSTS="1000000",
            BLOB_ROOT=tempfile.mkdtemp(prefix="intake-filing-blobs-"),
        )
        for extra in args.env:
            name, _, value = extra.partition("=")
            env[p + name] = value
        proc = spawn([sys.executable, "-m", "aduan_intake"], env, Path(args.log))
        db = make_url(iso.database("intake")).set(drivername="postgresql")
        dsn = db.render_as_string(hide_password=False)
        base = f"http://127.0.0.1:{port}"
        # Idle connections dropped before uvicorn drops them (its keep-alive is 5 s): a
        # request sent on a connection the server is closing is reset, not answered.
        limits = httpx.Limits(max_connections=args.concurrency, keepalive_expiry=4.0)
        try:
            async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
                await wait_healthy(client, proc, "intake", args.log)
                await asyncio.sleep(args.warmup_s)
                forms = [
                    {
                        "text": f"{TEXT} ({n})",
                        "submission_id": str(uuid.uuid4()),
                        "contact": f"warga{n}@example.id",
                    }
                    for n in range(args.filings)
                ]
                for form in forms[:20]:  # warm: first connections, statement caches
                    await client.post("/v1/channels/web", data=form, headers=_JSON)
                work = forms[20:]
                pending = iter(work)
                statuses: Counter[int] = Counter()
                latencies: dict[int, list[float]] = {}

                async def post(form: dict[str, str], since: float) -> None:
                    """One filing; its answer's latency counted from `since`."""
                    answer = await client.post("/v1/channels/web", data=form, headers=_JSON)
                    statuses[answer.status_code] += 1
                    latencies.setdefault(answer.status_code, []).append(time.monotonic() - since)

                async def client_loop() -> None:
                    for form in pending:
                        await post(form, time.monotonic())

                async def send_at(form: dict[str, str], due: float) -> None:
                    await asyncio.sleep(max(0.0, due - time.monotonic()))
                    # From the intended time: a late send counts against the answer.
                    await post(form, min(time.monotonic(), due))

                pg0 = postgres_cpu_ms(db.database or "")
                c0, t0 = cpu_ms(proc.pid), time.monotonic()
                if args.rate:
                    start = t0 + 0.05
                    await asyncio.gather(
                        *(send_at(form, start + i / args.rate) for i, form in enumerate(work))
                    )
                else:
                    await asyncio.gather(*(client_loop() for _ in range(args.concurrency)))
                window = time.monotonic() - t0
                used = cpu_ms(proc.pid) - c0
                pg_used = postgres_cpu_ms(db.database or "") - pg0
            conn = await asyncpg.connect(dsn)
            try:
                stored = await conn.fetchval(
                    "SELECT count(DISTINCT channel_message_id) FROM submissions"
                )
                rows = await conn.fetchval("SELECT count(*) FROM submissions")
            finally:
                await conn.close()
        finally:
            stop(proc)
    n = len(work)
    return {
        "settings": args.env or ["(defaults)"],
        "load": f"{n} web filings with a contact, "
        + (f"{args.rate}/s (open loop)" if args.rate else f"{args.concurrency} clients at once"),
        "answers": dict(statuses),
        # Every accepted filing (and the warm-up's 20) stored once; nothing of a refused one.
        "stored_once": stored == rows == 20 + statuses[201] + statuses[200],
        "answer_ms_p50_p99_max": {
            str(code): [round(1000 * _pct(times, q), 1) for q in (0.5, 0.99, 1.0)]
            for code, times in latencies.items()
        },
        "filings_per_s": round(n / window, 1),
        "intake_cpu_ms_per_filing": round(used / n, 2),
        "postgres_cpu_ms_per_filing": round(pg_used / n, 2),
    }


_JSON = {"Accept": "application/json"}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--filings", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rate", type=float, default=0.0, help="filings a second, open loop")
    parser.add_argument("--warmup-s", type=float, default=2.0)
    parser.add_argument("--log", default=str(Path(tempfile.gettempdir()) / "bench_intake.log"))
    parser.add_argument(
        "--env", action="append", default=[], help="NAME=VALUE: ADUAN_INTAKE_NAME for it"
    )
    print(json.dumps(asyncio.run(run(parser.parse_args())), indent=2))


if __name__ == "__main__":
    main()
