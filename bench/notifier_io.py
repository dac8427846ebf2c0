"""What one notification costs the notifier: CPU, PostgreSQL rows read, Kafka records.

A micro benchmark of the notifier alone (issue 18, "notifier provider I/O"): starts
`python -m aduan_notifier` as an OS process on the real Kafka and PostgreSQL with its own
topic namespace and database (`aduan_testing.plugin.isolation`), delivering to local
provider sinks in this process (`aduan_notifier.sinks`: a real SMTP server for e-mail, an
HTTP server for the SMS gateway, WhatsApp and app push). Per report it publishes what the
real services publish (the reporter's key, intake's ReportSubmitted, workflow's `received`
status change), a quarter each from the web form (e-mail), the app (push), SMS and
WhatsApp, at `--rate` for `--seconds`, and waits until every notification was sent.

Prints, per notification: the notifier process's CPU-ms (from /proc, and net of its idle
rate over the same window), rows PostgreSQL read by sequential scan and by index in the
notifier's database (`pg_stat_user_tables`, per table), the records the notifier produced
(every topic in the namespace it owns), SMTP connections opened. It asserts no timing.

    uv run --frozen python -m bench.notifier_io --rate 20 --seconds 15
    # the same against another copy of the notifier (e.g. an older commit's source):
    git archive <commit> services/notifier/src | tar -x -C /tmp/old
    uv run --frozen python -m bench.notifier_io --pythonpath /tmp/old/services/notifier/src
    # the provider I/O alone: CPU per e-mail, SMS and push message through the adapters
    uv run --frozen python -m bench.notifier_io --adapters-only [--pythonpath ...]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import shutil
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
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import make_url

from aduan_contracts import encode
from aduan_contracts.enums import Channel, ReportStatus, Role
from aduan_contracts.events import ReporterKeyIssued, ReportStatusChanged, ReportSubmitted
from aduan_contracts.topics import ALL_TOPICS, REPORT_INTAKE, REPORTER_KEYS, STATUS_CHANGED
from aduan_kit.crypto import new_key, seal_identity
from aduan_kit.db import ensure_database
from aduan_notifier.sinks import HttpSink, MailSink
from aduan_testing.helpers import free_port
from aduan_testing.infra import Infra
from aduan_testing.platform import service_env
from aduan_testing.plugin import isolation
from bench.single import cpu_ms, postgres_cpu_ms, spawn, stop, wait_healthy

__all__ = ["main", "run"]

_TICK = os.sysconf("SC_CLK_TCK")
# A quarter of the reports each: which channel, and what the reporter left to be reached.
_MIX = (Channel.WEB, Channel.APP, Channel.SMS, Channel.WHATSAPP)


class CountingMailSink(MailSink):
    """The mail sink, counting the SMTP connections the notifier opens."""

    connections = 0

    async def handle_EHLO(
        self, server: SMTP, session: Session, envelope: Envelope, hostname: str, responses: Any
    ) -> Any:
        CountingMailSink.connections += 1
        session.host_name = hostname
        return responses


async def _table_reads(db: str) -> dict[str, tuple[int, int]]:
    """Rows read so far per table: (by sequential scan, by index)."""
    conn = await asyncpg.connect(db)
    try:
        rows = await conn.fetch(
            "SELECT relname, coalesce(seq_tup_read, 0) AS seq,"
            " coalesce(idx_tup_fetch, 0) AS idx FROM pg_stat_user_tables"
        )
    finally:
        await conn.close()
    return {r["relname"]: (int(r["seq"]), int(r["idx"])) for r in rows}


async def _records(kafka: str, topics: list[str]) -> int:
    """Every record ever written to `topics` (end offsets)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=kafka, group_id=None)
    await consumer.start()
    try:
        total = 0
        for name in topics:
            partitions = consumer.partitions_for_topic(name) or set()
            if not partitions:
                await consumer._client.force_metadata_update()
                partitions = consumer.partitions_for_topic(name) or set()
            if partitions:
                ends = await consumer.end_offsets([TopicPartition(name, p) for p in partitions])
                total += int(sum(ends.values()))
        return total
    finally:
        await consumer.stop()


def _profile(pid: int, path: str) -> subprocess.Popen[bytes]:
    """py-spy sampling the notifier at 100 Hz from outside until SIGINT (collapsed stacks,
    the format of bench/results/profiles/); its own CPU is not the notifier's."""
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    return subprocess.Popen(
        [spy, "record", "-r", "100", "-f", "raw", "-o", path, "--pid", str(pid)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def _auto_explain(url: str) -> None:
    """Every statement of the notifier's sessions logged with its plan (PostgreSQL's
    auto_explain, loaded per session for this database only) to find sequential scans."""
    await ensure_database(url)
    target = make_url(url)
    conn = await asyncpg.connect(
        target.set(drivername="postgresql").render_as_string(hide_password=False)
    )
    try:
        name = target.database
        await conn.execute(f'ALTER DATABASE "{name}" SET session_preload_libraries = auto_explain')
        await conn.execute(f'ALTER DATABASE "{name}" SET auto_explain.log_min_duration = 0')
    finally:
        await conn.close()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    infra = Infra.obtain()
    sink = HttpSink()
    base = await sink.start()
    mail = CountingMailSink()
    smtp_port = free_port()
    controller = mail.controller("127.0.0.1", smtp_port)
    controller.start()
    async with isolation(infra) as iso:
        port = free_port()
        p = "ADUAN_NOTIFIER_"
        env = dict(os.environ) | service_env(
            iso,
            "notifier",
            port,
            log_level="WARNING",
            SMTP_HOST="127.0.0.1",
            SMTP_PORT=str(smtp_port),
            SMS_URL=f"{base}/sms/send",
            WHATSAPP_BASE_URL=f"{base}/whatsapp",
            PUSH_URL=f"{base}/push",
            MESSENGER_BASE_URL="",
            INSTAGRAM_BASE_URL="",
            X_BASE_URL="",
        )
        for extra in args.env:
            name, _, value = extra.partition("=")
            env[p + name] = value
        if args.pythonpath:
            env["PYTHONPATH"] = os.pathsep.join(
                [args.pythonpath, *filter(None, [env.get("PYTHONPATH")])]
            )
        if args.auto_explain:
            await _auto_explain(iso.database("notifier"))
        log = Path(args.log)
        proc = spawn([sys.executable, "-m", "aduan_notifier"], env, log)
        producer = AIOKafkaProducer(bootstrap_servers=iso.kafka, linger_ms=5)
        await producer.start()
        db = make_url(iso.database("notifier")).set(drivername="postgresql")
        dsn = db.render_as_string(hide_password=False)
        owned = [t.qualified(iso.namespace) for t in ALL_TOPICS if t.owner == "notifier"]
        owned += [f"{name}.dlq" for name in owned]
        try:
            async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:
                await wait_healthy(client, proc, "notifier", log)
            await asyncio.sleep(args.warmup_s)

            c0, t0 = cpu_ms(proc.pid), time.monotonic()
            await asyncio.sleep(args.idle_s)
            idle = (cpu_ms(proc.pid) - c0) / (time.monotonic() - t0)

            total = int(args.rate * args.seconds)
            reads0 = await _table_reads(dsn)
            records0 = await _records(iso.kafka, owned)
            connections0 = CountingMailSink.connections
            watch = await asyncpg.connect(dsn)
            mine = frozenset({int(await watch.fetchval("SELECT pg_backend_pid()"))})
            pg0 = postgres_cpu_ms(db.database or "", mine)
            spy = _profile(proc.pid, args.profile) if args.profile else None
            c0, t0 = cpu_ms(proc.pid), time.monotonic()
            for n in range(total):
                due = t0 + n / args.rate
                if (wait := due - time.monotonic()) > 0:
                    await asyncio.sleep(wait)
                await publish_report(producer, iso.namespace, n)
            await producer.flush()
            conn = watch
            try:
                deadline = time.monotonic() + args.timeout_s
                while True:
                    # Index-only looks (the unfinished rows' partial index, the primary
                    # key's maximum): the watcher's own reads stay out of the row counts.
                    recorded, unfinished = await conn.fetchrow(
                        "SELECT (SELECT coalesce(max(id), 0) FROM deliveries),"
                        " (SELECT count(*) FROM deliveries"
                        "  WHERE state IN ('pending', 'sending'))"
                    )
                    if recorded >= total and unfinished == 0:
                        break
                    if time.monotonic() > deadline:
                        raise SystemExit(f"{unfinished} of {total} unsent after {args.timeout_s} s")
                    await asyncio.sleep(0.05)
                window = time.monotonic() - t0
                used = cpu_ms(proc.pid) - c0
                if spy is not None:
                    spy.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
                    spy.wait(timeout=30)
                pg_used = postgres_cpu_ms(db.database or "", mine) - pg0
                # Let the relay publish what the last outcomes queued before counting.
                await asyncio.sleep(1.0)
                reads1 = await _table_reads(dsn)
                records1 = await _records(iso.kafka, owned)
                transports = dict(
                    await conn.fetch(
                        "SELECT transport, count(*) FROM deliveries WHERE state = 'sent'"
                        " GROUP BY transport"
                    )
                )
                if sum(transports.values()) != total:
                    raise SystemExit(f"sent {transports}, expected {total}")
            finally:
                await conn.close()
        finally:
            await producer.stop()
            stop(proc)
            await sink.stop()
            controller.stop()
    seq = {
        t: round((reads1[t][0] - reads0.get(t, (0, 0))[0]) / total, 1)
        for t in reads1
        if reads1[t][0] - reads0.get(t, (0, 0))[0]
    }
    idx = {
        t: round((reads1[t][1] - reads0.get(t, (0, 0))[1]) / total, 1)
        for t in reads1
        if reads1[t][1] - reads0.get(t, (0, 0))[1]
    }
    return {
        "pythonpath": args.pythonpath or "(workspace)",
        "load": f"{total} reports at {args.rate}/s ({', '.join(c.value for c in _MIX)})",
        "sent_by_transport": transports,
        "drained_in_s": round(window, 1),
        "idle_cpu_ms_per_s": round(idle, 1),
        "cpu_ms_per_notification": round(used / total, 2),
        "cpu_ms_per_notification_net_of_idle": round((used - idle * window) / total, 2),
        "postgres_cpu_ms_per_notification": round(pg_used / total, 2),
        "pg_rows_seq_scanned_per_notification": round(sum(seq.values()), 1),
        "pg_rows_seq_scanned_per_notification_by_table": seq,
        "pg_rows_by_index_per_notification": round(sum(idx.values()), 1),
        "records_produced_per_notification": round((records1 - records0) / total, 2),
        "smtp_connections": CountingMailSink.connections - connections0,
        "emails": len(mail.messages),
        "http_provider_requests": len(sink.requests),
    }


async def publish_report(producer: AIOKafkaProducer, namespace: str, n: int) -> None:
    rid, key_id, key = uuid.uuid4(), uuid.uuid4(), new_key()
    receipt = f"ADU-{uuid.uuid4().hex[:4].upper()}-{uuid.uuid4().hex[:4].upper()}"
    channel = _MIX[n % len(_MIX)]
    phone = f"+62812{n % 100000:05d}{n % 7:03d}"
    identity: dict[str, Any] = {
        Channel.WEB: {"name": None, "contact": f"warga{n}@example.id", "handle": None},
        Channel.APP: {"name": None, "contact": None, "handle": f"device-{n}"},
        Channel.SMS: {"name": None, "contact": phone, "handle": None},
        Channel.WHATSAPP: {"name": None, "contact": phone, "handle": phone.lstrip("+")},
    }[channel]
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
                channel=channel,
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
                    "channel": channel,
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


async def adapters_child(smtp_port: int, http_port: int, n: int) -> dict[str, Any]:
    """In a child process (the notifier package on its PYTHONPATH): `n` e-mails and `n` SMS
    through the adapters to the sinks, one at a time; this process's CPU per message."""
    import inspect

    from aduan_notifier.adapters.providers import Outgoing, build_adapters
    from aduan_notifier.config import Settings
    from aduan_notifier.domain import Route, Template, Transport, render

    base = f"http://127.0.0.1:{http_port}"
    settings = Settings.model_validate(
        {
            "environment": "test",
            "smtp_host": "127.0.0.1",
            "smtp_port": smtp_port,
            "sms_url": f"{base}/sms/send",
            "push_url": f"{base}/push",
        }
    )
    client = None
    client_param = inspect.signature(build_adapters).parameters.get("client")
    if client_param is not None and client_param.default is inspect.Parameter.empty:
        # The older notifier: one client made by its composition root, passed in.
        client = httpx.AsyncClient(timeout=settings.http_timeout_s, follow_redirects=False)
        adapters = build_adapters(settings, client)  # type: ignore[call-arg]  # its signature
    else:
        adapters = build_adapters(settings)
    figures: dict[str, Any] = {}
    for transport, address, channel in (
        (Transport.EMAIL, "warga@example.id", Channel.WEB),
        (Transport.SMS, "+6281234567890", Channel.SMS),
        (Transport.PUSH, "device-1", Channel.APP),
    ):
        adapter = adapters[transport]
        message = render(Template.RECEIVED, channel, "id", "ADU-7K3M-9QXZ", "http://portal")
        outs = [
            Outgoing(Route(transport, address), message, str(uuid.uuid4()), "ADU-7K3M-9QXZ")
            for _ in range(n + 5)
        ]
        for out in outs[:5]:  # warm: imports, first connection
            await adapter.send(out)
        c0, t0 = time.process_time(), time.monotonic()
        for out in outs[5:]:
            await adapter.send(out)
        figures[transport.value] = {
            "cpu_ms_per_message": round((time.process_time() - c0) * 1000 / n, 3),
            "wall_ms_per_message": round((time.monotonic() - t0) * 1000 / n, 3),
        }
    for adapter in adapters.values():
        await adapter.close()
    if client is not None:
        await client.aclose()
    return figures


def adapters_only(args: argparse.Namespace) -> dict[str, Any]:
    """The provider I/O alone: the sinks in their own process (their CPU is not counted),
    the adapters of the notifier on `--pythonpath` (default: this checkout) in another."""
    smtp_port, http_port = free_port(), free_port()
    env = dict(os.environ) | {
        "ADUAN_SINKS_DIR": tempfile.mkdtemp(prefix="notifier-io-sinks-"),
        "ADUAN_SINKS_SMTP_PORT": str(smtp_port),
        "ADUAN_SINKS_HTTP_PORT": str(http_port),
    }
    sinks = spawn([sys.executable, "-m", "aduan_notifier.sinks"], env, Path(args.log))
    try:
        for _ in range(100):
            try:
                httpx.get(f"http://127.0.0.1:{http_port}/health", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        child_env = dict(os.environ)
        if args.pythonpath:
            child_env["PYTHONPATH"] = os.pathsep.join(
                [args.pythonpath, *filter(None, [child_env.get("PYTHONPATH")])]
            )
        done = subprocess.run(
            [sys.executable, "-m", "bench.notifier_io", "--child", str(smtp_port),
             str(http_port), str(args.messages)],
            env=child_env, capture_output=True, check=True, text=True,
        )  # fmt: skip
    finally:
        sinks.send_signal(signal.SIGTERM)
        sinks.wait(timeout=10)
    figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        "pythonpath": args.pythonpath or "(workspace)",
        "messages": args.messages,
        "per_transport": figures,
    }


def main() -> None:
    if len(sys.argv) == 5 and sys.argv[1] == "--child":
        smtp_port, http_port, n = (int(a) for a in sys.argv[2:])
        print(json.dumps(asyncio.run(adapters_child(smtp_port, http_port, n))))
        return
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument(
        "--adapters-only",
        action="store_true",
        help="only the provider I/O: messages through the adapters to sinks in another process",
    )
    parser.add_argument("--messages", type=int, default=300, help="--adapters-only: per transport")
    parser.add_argument("--rate", type=float, default=20.0, help="reports per second")
    parser.add_argument("--seconds", type=float, default=15.0, help="how long to send")
    parser.add_argument("--idle-s", type=float, default=10.0, help="idle sampling window")
    parser.add_argument("--warmup-s", type=float, default=5.0)
    parser.add_argument("--timeout-s", type=float, default=120.0, help="drain deadline")
    parser.add_argument("--pythonpath", default="", help="prepended for the notifier process")
    parser.add_argument(
        "--auto-explain",
        action="store_true",
        help="log every statement's plan in PostgreSQL's log (auto_explain; slows the run)",
    )
    parser.add_argument(
        "--profile", default="", help="a py-spy profile of the notifier over the load (path)"
    )
    parser.add_argument("--log", default=str(Path(tempfile.gettempdir()) / "bench_notifier_io.log"))
    parser.add_argument(
        "--env", action="append", default=[], help="NAME=VALUE: ADUAN_NOTIFIER_NAME for it"
    )
    args = parser.parse_args()
    result = adapters_only(args) if args.adapters_only else asyncio.run(run(args))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
