"""What opening one report costs workflow and its PostgreSQL backends (issue 18).

A micro benchmark of workflow alone: starts `python -m aduan_workflow` as an OS process on
the real Kafka and PostgreSQL with its own topic namespace and database, publishes a
category with an agency and area routes (so most reports are auto-dispatched, the common
path), warms up, then replays `--reports` ReportSubmitted events onto the intake topic at
once (a backlog) or at `--rate` per second (a live day), and waits until every report
is open, its dispatch recorded and the outbox relayed. Prints workflow's CPU-ms per report
and its PostgreSQL backends' (from /proc), reports per second and checks (each report
opened once, received before dispatched). No timing is asserted anywhere.

    uv run --frozen python -m bench.workflow_apply --reports 2000
    uv run --frozen python -m bench.workflow_apply --reports 400 --rate 20
    # an older workflow: `git archive <commit> services/workflow/src | tar -x -C /tmp/wf-before`
    uv run --frozen python -m bench.workflow_apply --pythonpath /tmp/wf-before/services/workflow/src
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer
from sqlalchemy import make_url

from aduan_contracts.enums import Channel
from aduan_contracts.events import AreaRoute, CategoryPublished, ReportSubmitted
from aduan_contracts.serialization import encode
from aduan_contracts.topics import CATEGORIES, REPORT_INTAKE
from aduan_contracts.values import GeoPoint, Location
from aduan_testing.helpers import free_port
from aduan_testing.infra import Infra
from aduan_testing.platform import service_env
from aduan_testing.plugin import isolation
from bench.profiles import profile_services
from bench.single import cpu_ms, postgres_cpu_ms, spawn, stop, wait_healthy

__all__ = ["main", "run"]

_CHANNELS = (Channel.WEB, Channel.WHATSAPP, Channel.SMS, Channel.APP)


def report(n: int) -> ReportSubmitted:
    """A mix like the bench's: 3 in 4 in the routed category (half of those with a sure
    area, routed by place), 1 in 4 uncategorised (waits in triage); most with a point."""
    category = "jalan" if n % 4 else None
    location = None
    if n % 5:
        location = Location(
            point=GeoPoint(lat=-6.17 + (n % 100) / 10_000, lon=106.82),
            area_code="31.71.01.1001" if n % 2 else None,
            area_how="code" if n % 2 else None,
            area_confidence=0.9 if n % 2 else None,
        )
    return ReportSubmitted(
        report_id=uuid.uuid4(),
        receipt_code=f"ADU-{uuid.uuid4().hex[:4].upper()}-{uuid.uuid4().hex[:4].upper()}",
        channel=_CHANNELS[n % len(_CHANNELS)],
        channel_message_id=f"bench-{uuid.uuid4().hex}",
        text="Jalan berlubang di depan sekolah",
        category_hint=category,
        location=location,
        received_at=datetime.now(UTC),
    )


async def _wait(dsn: str, reports: int, proc: subprocess.Popen[bytes], within: float) -> None:
    """Until `reports` reports are open and the outbox is empty (everything relayed)."""
    conn = await asyncpg.connect(dsn)
    try:
        deadline = time.monotonic() + within
        while True:
            if proc.poll() is not None:
                raise SystemExit("workflow exited")
            try:
                opened = await conn.fetchval("SELECT count(*) FROM reports")
                queued = await conn.fetchval("SELECT count(*) FROM outbox")
            except asyncpg.UndefinedTableError:
                opened, queued = 0, 1  # not migrated yet
            if opened >= reports and queued == 0:
                return
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out: {opened}/{reports} open, {queued} queued")
            await asyncio.sleep(0.05)
    finally:
        await conn.close()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    infra = Infra.obtain()
    async with isolation(infra) as iso:
        port = free_port()
        env = dict(os.environ) | service_env(iso, "workflow", port, log_level="WARNING")
        if args.pythonpath:
            env["PYTHONPATH"] = os.pathsep.join(
                [args.pythonpath, *filter(None, [env.get("PYTHONPATH")])]
            )
        for extra in args.env:
            name, _, value = extra.partition("=")
            env["ADUAN_WORKFLOW_" + name] = value
        proc = spawn([sys.executable, "-m", "aduan_workflow"], env, Path(args.log))
        db = make_url(iso.database("workflow")).set(drivername="postgresql")
        dsn = db.render_as_string(hide_password=False)
        producer = AIOKafkaProducer(bootstrap_servers=iso.kafka, acks="all", linger_ms=5)
        await producer.start()
        intake = f"{iso.namespace}.{REPORT_INTAKE.name}"
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
                await wait_healthy(client, proc, "workflow", args.log)
            category = CategoryPublished(
                code="jalan",
                version=1,
                name_id="Jalan",
                name_en="Roads",
                agency_id="dinas-bina-marga",
                area_routes=(AreaRoute(area_code="31.71", agency_id="sudin-bm-jakpus"),),
                active=True,
                updated_at=datetime.now(UTC),
            )
            await producer.send_and_wait(
                f"{iso.namespace}.{CATEGORIES.name}", encode(category), key=b"jalan"
            )
            warm = 50
            for n in range(warm):
                event = report(n)
                await producer.send(intake, encode(event), key=str(event.report_id).encode())
            await producer.flush()
            await _wait(dsn, warm, proc, 120)
            await asyncio.sleep(1.0)
            # What the process costs with nothing to do (polls, relay, scanner), per second.
            i0, s0 = cpu_ms(proc.pid), time.monotonic()
            await asyncio.sleep(args.settle_s)
            idle = (cpu_ms(proc.pid) - i0) / (time.monotonic() - s0)
            events = [report(n) for n in range(warm, warm + args.reports)]
            profile = None
            if args.profile:
                # Sampled from outside (py-spy, not blocking the process) over the window.
                seconds = args.reports / args.rate if args.rate else args.profile_s
                profile = asyncio.create_task(
                    profile_services({"workflow": proc.pid}, seconds, Path(args.profile))
                )
            pg0 = postgres_cpu_ms(db.database or "")
            c0, t0 = cpu_ms(proc.pid), time.monotonic()
            for n, event in enumerate(events):
                await producer.send(intake, encode(event), key=str(event.report_id).encode())
                if args.rate:
                    # Steady arrivals (a live day), not a backlog: batches stay small.
                    await asyncio.sleep(max(0.0, t0 + (n + 1) / args.rate - time.monotonic()))
            await producer.flush()
            await _wait(dsn, warm + args.reports, proc, 600)
            window = time.monotonic() - t0
            used = cpu_ms(proc.pid) - c0
            pg_used = postgres_cpu_ms(db.database or "") - pg0
            profiled = (await profile)["workflow"] if profile is not None else None
            conn = await asyncpg.connect(dsn)
            try:
                opened_once = await conn.fetchval(
                    "SELECT count(*) = count(DISTINCT report_id) FROM status_history "
                    "WHERE version = 1"
                )
                dispatched = await conn.fetchval(
                    "SELECT count(*) FROM reports WHERE status = 'dispatched'"
                )
                in_order = await conn.fetchval(
                    "SELECT bool_and(o.occurred_at <= d.occurred_at) FROM status_history o "
                    "JOIN status_history d ON d.report_id = o.report_id "
                    "AND o.version = 1 AND d.version = 2"
                )
            finally:
                await conn.close()
        finally:
            await producer.stop()
            stop(proc)
    n = args.reports
    return {
        "code": args.pythonpath or "this checkout",
        "load": f"{n} ReportSubmitted "
        + (f"at {args.rate}/s" if args.rate else "replayed at once")
        + f" (after {warm} warm-up)",
        "opened_once": opened_once,
        "dispatched": dispatched,
        "received_before_dispatched": in_order,
        "reports_per_s": round(n / window, 1),
        "workflow_cpu_ms_per_report": round(used / n, 3),
        "postgres_cpu_ms_per_report": round(pg_used / n, 3),
        "workflow_idle_cpu_ms_per_s": round(idle, 2),
    } | ({"profile": profiled} if profiled is not None else {})


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--reports", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=0, help="per second; 0: all at once")
    parser.add_argument("--settle-s", type=float, default=3.0, help="idle CPU measured")
    parser.add_argument("--profile", default="", help="py-spy the window; stacks in this dir")
    parser.add_argument("--profile-s", type=float, default=3.0, help="without --rate")
    parser.add_argument("--pythonpath", default="", help="run workflow from this source dir")
    parser.add_argument("--log", default=str(Path(tempfile.gettempdir()) / "bench_workflow.log"))
    parser.add_argument(
        "--env", action="append", default=[], help="NAME=VALUE: ADUAN_WORKFLOW_NAME for it"
    )
    print(json.dumps(asyncio.run(run(parser.parse_args())), indent=2))


if __name__ == "__main__":
    main()
