"""CPU cost of one notifier process, idle and under a modest load (issue 8).

Starts `python -m aduan_notifier` as an OS process on the real Kafka and PostgreSQL, with
its own topic namespace and database (`aduan_testing.plugin.isolation`), delivering app
pushes to an in-process HTTP sink. Reads the process's user+system CPU from /proc:

1. idle: after a warm-up, CPU-ms per second over `--idle-s` seconds;
2. load: `--rate` reports a second for `--seconds` seconds (per report: the reporter's key,
   intake's ReportSubmitted and workflow's `received` status change, as the real services
   publish them), until every notification was sent (the provider answered and the row is
   'sent'): CPU-ms per notification, also net of the idle rate over the same window.

    uv run python services/notifier/scripts/measure_cpu.py --rate 20 --seconds 15
    # the same against another copy of the package (e.g. an older checkout's src):
    uv run python services/notifier/scripts/measure_cpu.py --pythonpath /tmp/old/src
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import signal
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

from aduan_contracts import encode
from aduan_contracts.enums import Channel, ReportStatus, Role
from aduan_contracts.events import ReporterKeyIssued, ReportStatusChanged, ReportSubmitted
from aduan_contracts.topics import REPORT_INTAKE, REPORTER_KEYS, STATUS_CHANGED
from aduan_kit.crypto import new_key, seal_identity
from aduan_notifier.sinks import HttpSink
from aduan_testing.helpers import free_port
from aduan_testing.infra import Infra
from aduan_testing.plugin import isolation

_TICK = os.sysconf("SC_CLK_TCK")


def cpu_ms(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) * 1000.0 / _TICK


def spawn(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """Started before the measured window (its own cost is not the notifier's)."""
    with log.open("ab") as out:
        # Our own command lines: the notifier module, py-spy from uv's tool cache.
        return subprocess.Popen(cmd, env=env, stdout=out, stderr=out)  # noqa: S603


async def run(args: argparse.Namespace) -> dict[str, Any]:
    infra = Infra.obtain()
    sink = HttpSink()
    base = await sink.start()
    async with isolation(infra) as iso:
        port = free_port()
        p = "ADUAN_NOTIFIER_"
        env = dict(os.environ) | {
            p + "KAFKA_BOOTSTRAP_SERVERS": iso.kafka,
            p + "DATABASE_URL": iso.database("notifier"),
            p + "REDIS_URL": iso.redis_url,
            p + "REDIS_PREFIX": iso.redis_prefix,
            p + "TOPIC_NAMESPACE": iso.namespace,
            p + "PORT": str(port),
            p + "ENVIRONMENT": "test",
            p + "LOG_LEVEL": "WARNING",
            p + "PUSH_URL": f"{base}/push",
        }
        if args.poll is not None:
            env[p + "DELIVERY_POLL_INTERVAL_S"] = str(args.poll)
        for extra in args.env:
            name, _, value = extra.partition("=")
            env[p + name] = value
        if args.pythonpath:
            env["PYTHONPATH"] = os.pathsep.join(
                [args.pythonpath, *filter(None, [env.get("PYTHONPATH")])]
            )
        log = Path(args.log)
        proc = spawn([sys.executable, "-m", "aduan_notifier"], env, log)
        producer = AIOKafkaProducer(bootstrap_servers=iso.kafka, linger_ms=5)
        await producer.start()
        db = make_url(iso.database("notifier")).set(drivername="postgresql")
        try:
            async with httpx.AsyncClient(timeout=5) as client:
                for _ in range(600):
                    if proc.poll() is not None:
                        raise SystemExit(f"notifier exited; see {log}")
                    try:
                        if (await client.get(f"http://127.0.0.1:{port}/health")).is_success:
                            break
                    except httpx.HTTPError:
                        pass
                    await asyncio.sleep(0.2)
            await asyncio.sleep(args.warmup_s)

            c0, t0 = cpu_ms(proc.pid), time.monotonic()
            await asyncio.sleep(args.idle_s)
            idle = (cpu_ms(proc.pid) - c0) / (time.monotonic() - t0)

            total = int(args.rate * args.seconds)
            spy = None
            if args.py_spy:
                spy = spawn(
                    ["uv", "tool", "run", "py-spy", "record", "--pid", str(proc.pid),
                     "--duration", str(int(args.seconds)), "--rate", "50", "--nonblocking",
                     "--format", "raw", "-o", args.py_spy],
                    dict(os.environ), Path(os.devnull),
                )  # fmt: skip
            c0, t0 = cpu_ms(proc.pid), time.monotonic()
            for n in range(total):
                due = t0 + n / args.rate
                if (wait := due - time.monotonic()) > 0:
                    await asyncio.sleep(wait)
                await publish_report(producer, iso.namespace, n)
            conn = await asyncpg.connect(db.render_as_string(hide_password=False))
            try:
                deadline = time.monotonic() + args.timeout_s
                while True:
                    sent = await conn.fetchval(
                        "SELECT count(*) FROM deliveries WHERE state = 'sent'"
                    )
                    if sent >= total:
                        break
                    if time.monotonic() > deadline:
                        raise SystemExit(f"only {sent}/{total} sent after {args.timeout_s} s")
                    await asyncio.sleep(0.05)
                busy = await conn.fetchval("SELECT count(*) FROM deliveries WHERE state <> 'sent'")
            finally:
                await conn.close()
            window = time.monotonic() - t0
            used = cpu_ms(proc.pid) - c0
            if spy is not None:
                spy.wait()
        finally:
            await producer.stop()
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
            await sink.stop()
    return {
        "pythonpath": args.pythonpath or "(workspace)",
        "poll_interval_s": args.poll,
        "idle_cpu_ms_per_s": round(idle, 1),
        "load": f"{total} reports at {args.rate}/s",
        "drained_in_s": round(window, 1),
        "cpu_ms": round(used),
        "cpu_ms_per_notification": round(used / total, 2) if total else None,
        "cpu_ms_per_notification_net_of_idle": (
            round((used - idle * window) / total, 2) if total else None
        ),
        "provider_requests": len(sink.requests),
        "not_sent": busy,
    }


async def publish_report(producer: AIOKafkaProducer, namespace: str, n: int) -> None:
    rid, key_id, key = uuid.uuid4(), uuid.uuid4(), new_key()
    receipt = f"ADU-{uuid.uuid4().hex[:4].upper()}-{uuid.uuid4().hex[:4].upper()}"
    identity = {"name": None, "contact": None, "handle": f"device-{n}"}
    events: list[tuple[str, Any, uuid.UUID]] = [
        (
            REPORTER_KEYS.name,
            ReporterKeyIssued(key_id=key_id, key=base64.b64encode(key).decode()),
            key_id,
        ),
        (
            REPORT_INTAKE.name,
            ReportSubmitted(
                report_id=rid,
                receipt_code=receipt,
                channel=Channel.APP,
                channel_message_id=uuid.uuid4().hex,
                text="Lampu jalan mati",
                received_at=datetime.now(UTC),
                reporter=seal_identity(identity, key_id, key),
            ),
            rid,
        ),
        (
            STATUS_CHANGED.name,
            ReportStatusChanged.model_validate(
                {
                    "report_id": rid,
                    "receipt_code": receipt,
                    "channel": Channel.APP,
                    "version": 1,
                    "from_status": None,
                    "to_status": ReportStatus.RECEIVED,
                    "actor": {"id": "workflow", "role": Role.SYSTEM},
                }
            ),
            rid,
        ),
    ]
    for topic, event, key_ in events:
        await producer.send(f"{namespace}.{topic}", encode(event), key=str(key_).encode())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=20.0, help="reports per second")
    parser.add_argument(
        "--seconds", type=float, default=15.0, help="how long to send (0: idle only)"
    )
    parser.add_argument("--idle-s", type=float, default=20.0, help="idle sampling window")
    parser.add_argument("--warmup-s", type=float, default=5.0)
    parser.add_argument("--timeout-s", type=float, default=120.0, help="drain deadline")
    parser.add_argument("--poll", type=float, default=None, help="DELIVERY_POLL_INTERVAL_S")
    parser.add_argument("--pythonpath", default="", help="prepended for the notifier process")
    parser.add_argument("--log", default=str(Path(tempfile.gettempdir()) / "measure_notifier.log"))
    parser.add_argument(
        "--env", action="append", default=[], help="NAME=VALUE: ADUAN_NOTIFIER_NAME for it"
    )
    parser.add_argument("--py-spy", default="", help="profile the load phase into this file")
    print(json.dumps(asyncio.run(run(parser.parse_args())), indent=2))


if __name__ == "__main__":
    main()
