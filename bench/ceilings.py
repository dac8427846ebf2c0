"""This machine's own ceilings, measured in the same run as the platform so its figures can
be read as fractions: what the pieces a complaint passes through can do with nothing of
Aduan in between.

- A bare FastAPI endpoint under one uvicorn process (bench/bare_app.py), hit by the same
  compiled generator as the platform (vegeta, closed loop at 32 workers) and by `wrk`
  (Debian's, `-t1 -c32`): two generators agreeing shows the figure is the server's, not a
  client's limit.
- The generator's own capacity: vegeta offering 1,000 complaints/s open-loop to that
  server (the real signed channel payloads, answered without filing), with its CPU in
  cores.
- Raw aiokafka on the same broker: 300-byte keyed records (idempotent, acks=all, as the
  outbox relay sends) produced and consumed back, batched (pipelined sends, `getmany`) and
  one at a time (`send_and_wait`, then `getone` and a commit per record).
- Raw asyncpg: the three rows a subscriber writes per event (inbox claim, state row, outbox
  row), one event per transaction on 8 connections, and set-based (`INSERT ... SELECT FROM
  unnest(...)`, 500 events per transaction).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from sqlalchemy import make_url

from aduan_testing.helpers import free_port
from bench.payloads import HTTP_CHANNELS, HttpRequest, complaint, plan
from bench.platform import Secrets
from bench.vegeta import ROOT, Attack, cpus, generator_env, histogram, intended_latencies

__all__ = [
    "asyncpg_ceiling",
    "bare_fastapi",
    "fastapi_ceilings",
    "kafka_ceiling",
    "parse_wrk",
    "wrk_binary",
]

PAYLOAD = b"x" * 300


async def _topic(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=6, replication_factor=1)])
    finally:
        await admin.close()


async def _drop_topic(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    with contextlib.suppress(Exception):
        await admin.start()
        await admin.delete_topics([topic])
    with contextlib.suppress(Exception):
        await admin.close()


async def kafka_ceiling(
    bootstrap: str, namespace: str, messages: int, one_at_a_time: bool = False
) -> dict[str, Any]:
    """Produce `messages` records and consume them back; records per second over both."""
    mode = "single" if one_at_a_time else "batched"
    topic = f"{namespace}.ceiling-{mode}"
    await _topic(bootstrap, topic)
    # One at a time waits for each acknowledgement: no linger to wait out before a send.
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap,
        enable_idempotence=True,
        acks="all",
        linger_ms=0 if one_at_a_time else 2,
    )
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"{namespace}.ceiling-{mode}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await producer.start()
    await consumer.start()
    try:
        started = time.perf_counter()
        if one_at_a_time:
            for i in range(messages):
                await producer.send_and_wait(topic, PAYLOAD, key=str(i % 1000).encode())
        else:
            futures = [
                await producer.send(topic, PAYLOAD, key=str(i % 1000).encode())
                for i in range(messages)
            ]
            await asyncio.gather(*futures)
        produced = time.perf_counter() - started
        got = 0
        while got < messages:
            if one_at_a_time:
                await asyncio.wait_for(consumer.getone(), 30)
                await consumer.commit()
                got += 1
            else:
                batch = await consumer.getmany(timeout_ms=1000, max_records=5000)
                got += sum(len(v) for v in batch.values())
                if batch:
                    await consumer.commit()
        total = time.perf_counter() - started
    finally:
        await consumer.stop()
        await producer.stop()
        await _drop_topic(bootstrap, topic)
    return {
        "messages": messages,
        "produce_per_s": round(messages / produced),
        "produce_consume_per_s": round(messages / total),
    }


async def asyncpg_ceiling(
    database_url: str, seconds: float, workers: int = 8, batch: int = 500
) -> dict[str, Any]:
    """Events per second written as (inbox, state, outbox) rows: one event per transaction
    on `workers` connections, then `batch` events per transaction with unnest()."""
    base = make_url(database_url).set(drivername="postgresql")
    name = f"bench_ceiling_{uuid.uuid4().hex[:8]}"
    admin_dsn = base.set(database="postgres").render_as_string(hide_password=False)
    admin = await asyncpg.connect(admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    dsn = base.set(database=name).render_as_string(hide_password=False)
    out: dict[str, Any] = {"workers": workers, "batch": batch}
    try:
        pool = await asyncpg.create_pool(dsn, min_size=workers, max_size=workers)
        async with pool.acquire() as conn:
            await conn.execute(
                "CREATE TABLE inbox (event_id uuid PRIMARY KEY, at timestamptz DEFAULT now());"
                "CREATE TABLE state (id uuid PRIMARY KEY, status text, version int);"
                "CREATE TABLE outbox (id bigserial PRIMARY KEY, payload bytea);"
            )

        async def single(conn: asyncpg.Connection) -> int:
            async with conn.transaction():
                await conn.execute("INSERT INTO inbox (event_id) VALUES ($1)", uuid.uuid4())
                await conn.execute("INSERT INTO state VALUES ($1, 'received', 1)", uuid.uuid4())
                await conn.execute("INSERT INTO outbox (payload) VALUES ($1)", PAYLOAD)
            return 1

        async def set_based(conn: asyncpg.Connection) -> int:
            events = [uuid.uuid4() for _ in range(batch)]
            states = [uuid.uuid4() for _ in range(batch)]
            async with conn.transaction():
                await conn.execute(
                    "INSERT INTO inbox (event_id) SELECT * FROM unnest($1::uuid[])", events
                )
                await conn.execute(
                    "INSERT INTO state SELECT id, 'received', 1 FROM unnest($1::uuid[]) AS id",
                    states,
                )
                await conn.execute(
                    "INSERT INTO outbox (payload) SELECT * FROM unnest($1::bytea[])",
                    [PAYLOAD] * batch,
                )
            return batch

        for label, work, n_workers in (
            ("single_row", single, workers),
            ("set_based", set_based, 1),
        ):
            count = 0
            deadline = time.perf_counter() + seconds

            async def loop(w: Any = work, until: float = deadline) -> None:
                nonlocal count
                async with pool.acquire() as conn:
                    while time.perf_counter() < until:
                        count += await w(conn)

            started = time.perf_counter()
            await asyncio.gather(*(loop() for _ in range(n_workers)))
            out[f"{label}_events_per_s"] = round(count / (time.perf_counter() - started))
        out["set_based_connections"] = 1
        await pool.close()
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    return out


class bare_fastapi:
    """`async with bare_fastapi() as url`: bench/bare_app.py under uvicorn on a free port."""

    def __init__(self) -> None:
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    async def __aenter__(self) -> str:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.bare_app", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=ROOT,
        )
        url = f"http://127.0.0.1:{self.port}"
        async with httpx.AsyncClient(timeout=2) as client:
            for _ in range(200):
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(f"{url}/health")).status_code == 200:
                        return url
                await asyncio.sleep(0.1)
        raise RuntimeError("bench.bare_app did not answer /health")

    async def __aexit__(self, *exc: object) -> None:
        if self.proc:
            self.proc.terminate()
            self.proc.wait(timeout=10)

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid


def wrk_binary() -> str | None:
    """wrk's path (deploy/scripts/wrk.sh installs it from `make bench`), or None."""
    got = subprocess.run(
        [str(ROOT / "deploy" / "scripts" / "wrk.sh"), "path"],
        capture_output=True,
        text=True,
        check=False,
    )
    return got.stdout.strip() or None if got.returncode == 0 else None


def parse_wrk(text: str) -> dict[str, Any]:
    """Requests/s, total requests, non-2xx count from wrk's summary."""
    out: dict[str, Any] = {}
    if m := re.search(r"Requests/sec:\s+([0-9.]+)", text):
        out["req_per_s"] = round(float(m.group(1)))
    if m := re.search(r"(\d+) requests in", text):
        out["requests"] = int(m.group(1))
    m = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    out["non_2xx"] = int(m.group(1)) if m else 0
    return out


_WRK_LUA = """wrk.method = "POST"
wrk.body = '{"id": "x"}'
wrk.headers["Content-Type"] = "application/json"
"""


def _echo(url: str, n: int) -> list[HttpRequest]:
    return [
        HttpRequest(
            "echo",
            str(i),
            "POST",
            f"{url}/v1/echo",
            b'{"id": "%d"}' % i,
            {"Content-Type": "application/json"},
        )
        for i in range(n)
    ]


def _machine_jiffies() -> tuple[int, int]:
    """(all, idle) jiffies of the whole machine since boot (/proc/stat's cpu line)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    return sum(fields), fields[3] + fields[4]  # idle + iowait


def _spread(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "min": round(ordered[0], 3),
        "median": round(statistics.median(ordered), 3),
        "max": round(ordered[-1], 3),
    }


async def generator_capacity(
    url: str, workdir: Path, offer_rate: float, seconds: float, reps: int
) -> dict[str, Any]:
    """vegeta offering `offer_rate` complaints/s (the real signed channel payloads, open
    loop, as in the steps) to the bare endpoint for `seconds`, `reps` times: its own CPU
    seconds (wait4's rusage, user + system, target loading included) over the attack's
    wall seconds, per repetition and min/median/max. Each repetition also records what
    the rest of the machine was doing (load average, busy cores from /proc/stat), because
    the machine may be shared. Bodies are not kept (`-max-body=0`): the bare answer has no
    receipt to reconcile."""
    n = max(1, round(offer_rate * seconds))
    rng = random.Random(5)
    complaints = [
        complaint(Secrets(), url, "capacity", i, ch, rng) for i, ch in plan(n, 5, HTTP_CHANNELS)
    ]
    runs: list[dict[str, Any]] = []
    for rep in range(max(1, reps)):
        load1 = os.getloadavg()[0]
        all0, idle0 = _machine_jiffies()
        offered = await Attack(
            f"generator-capacity-{rep}", complaints, offer_rate, workdir, keep_bodies=False
        ).run()
        all1, idle1 = _machine_jiffies()
        s = offered.summary()
        lat = histogram(x[2] for x in intended_latencies(offered.hits, offer_rate))
        busy = 1 - (idle1 - idle0) / max(1, all1 - all0)
        runs.append(
            {
                "answered_per_s": s["answered_per_s"],
                "requests": s["requests"],
                "codes": s["codes"],
                "generator_cores": s["generator_cores"],
                "generator_user_cores": round(
                    (s["generator_cpu_ms"] - s["generator_cpu_sys_ms"]) / 1000 / offered.wall_s, 3
                ),
                "generator_sys_cores": round(s["generator_cpu_sys_ms"] / 1000 / offered.wall_s, 3),
                "generator_cpu_ms_per_request": s["generator_cpu_ms_per_request"],
                "p99_ms_from_intended": round(lat.get_value_at_percentile(99) / 1000, 2)
                if lat.get_total_count()
                else None,
                "machine_loadavg_1m": round(load1, 2),
                "machine_busy_cores": round(busy * (os.cpu_count() or 1), 2),
            }
        )
    cores = [r["generator_cores"] for r in runs if r["generator_cores"] is not None]
    median_run = sorted(runs, key=lambda r: r["generator_cores"] or 0)[len(runs) // 2]
    return {
        "offered_per_s": offer_rate,
        "seconds": seconds,
        "repetitions": len(runs),
        "cpus": cpus(),
        "godebug": generator_env().get("GODEBUG"),
        # The median repetition's figures at the top level, every repetition below.
        **{
            k: median_run[k]
            for k in (
                "answered_per_s",
                "requests",
                "codes",
                "generator_cpu_ms_per_request",
                "p99_ms_from_intended",
            )
        },
        "generator_cores": median_run["generator_cores"],
        "generator_cores_spread": _spread(cores) if cores else None,
        "runs": runs,
    }


async def fastapi_ceilings(
    workdir: Path,
    seconds: float,
    offer_rate: float = 1000.0,
    concurrency: int = 32,
    generator_reps: int = 3,
) -> dict[str, Any]:
    """The bare endpoint's ceiling with vegeta and with wrk (closed loop, `concurrency`
    connections), and vegeta offering `offer_rate`/s open loop, `generator_reps` times of
    at least 10 s: the generator's own cost."""
    out: dict[str, Any] = {}
    async with bare_fastapi() as url:
        atk = await Attack(
            "ceiling-fastapi",
            _echo(url, 1000),
            0,
            workdir,
            max_workers=concurrency,
            max_connections=concurrency,
            duration_s=seconds,
            keep_bodies=False,
        ).run()
        s = atk.summary()
        out["vegeta"] = {
            "concurrency": concurrency,
            "req_per_s": s["answered_per_s"],
            "codes": s["codes"],
            "generator_cores": s["generator_cores"],
        }
        wrk = wrk_binary()
        if wrk is None:
            out["wrk"] = {"skipped": "wrk not installed (make bench installs it)"}
        else:
            script = workdir / "echo.lua"
            script.write_text(_WRK_LUA)
            ran = await asyncio.to_thread(
                subprocess.run,
                [
                    wrk,
                    "-t1",
                    f"-c{concurrency}",
                    f"-d{max(1, round(seconds))}s",
                    "-s",
                    str(script),
                    f"{url}/v1/echo",
                ],
                capture_output=True,
                text=True,
                check=False,
            )
            out["wrk"] = {"concurrency": concurrency, "threads": 1} | parse_wrk(ran.stdout)
        out["generator"] = await generator_capacity(
            url, workdir, offer_rate, max(seconds, 10.0), generator_reps
        )
    return out


def main(argv: list[str] | None = None) -> None:
    """`uv run --frozen python -m bench.ceilings`: the bare FastAPI ceilings and the
    generator's capacity alone, without starting the platform."""
    import argparse
    import json
    import tempfile

    p = argparse.ArgumentParser(prog="python -m bench.ceilings", description=main.__doc__)
    p.add_argument("seconds", nargs="?", type=float, default=5.0, help="closed-loop ceilings")
    p.add_argument("--generator-rate", type=float, default=1000.0)
    p.add_argument("--generator-seconds", type=float, default=10.0)
    p.add_argument("--generator-reps", type=int, default=5)
    p.add_argument("--generator-only", action="store_true", help="skip the closed-loop ceilings")
    args = p.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="aduan-ceilings-"))

    async def go() -> dict[str, Any]:
        if not args.generator_only:
            return await fastapi_ceilings(
                workdir, args.seconds, args.generator_rate, generator_reps=args.generator_reps
            )
        async with bare_fastapi() as url:
            return {
                "generator": await generator_capacity(
                    url,
                    workdir,
                    args.generator_rate,
                    args.generator_seconds,
                    args.generator_reps,
                )
            }

    print(json.dumps(asyncio.run(go()), indent=2))


if __name__ == "__main__":
    main()
