"""Start the five services (plus the local provider sinks) as OS processes on their own
topic namespace, databases and Redis prefix, the way `make up` runs them, for a benchmark
or a fault-injection run; stop them and drop what they created afterwards.

Each process can be killed, paused (SIGSTOP) and restarted individually: the chaos runner
needs that, and it runs outside pytest, which is why this is not
`aduan_testing.platform` (the browser and end-to-end tests' launcher, tied to the
`isolated` fixture); the settings below follow it. The secrets the load generator must
know (app key, SMS token, WhatsApp secret, JWT secret) are fixed here and passed to the
services through the environment.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy import make_url

from aduan_kit.messaging import delete_namespace_topics, ensure_topics
from aduan_testing.helpers import free_port

__all__ = ["SERVICES", "Platform", "Secrets"]

# name -> module; started in this order (the sinks first so the first messages land).
SERVICES = {
    "sinks": "aduan_notifier.sinks",
    "gateway": "aduan_gateway",
    "intake": "aduan_intake",
    "workflow": "aduan_workflow",
    "notifier": "aduan_notifier",
    "portal": "aduan_portal",
}
APPS = ("gateway", "intake", "workflow", "notifier", "portal")


@dataclass(frozen=True)
class Secrets:
    """Channel credentials shared by the services and the load generator (bench only)."""

    app_key: str = "bench-app-key-0123456789"
    sms_token: str = "bench-sms-auth-token-0123456789"
    whatsapp_secret: str = "bench-whatsapp-app-secret-0123456789"
    jwt_secret: str = "bench-jwt-secret-" + "0123456789abcdef" * 2


@dataclass
class Platform:
    """One namespaced Aduan on shared (or chaos-owned) Kafka, PostgreSQL and Redis."""

    kafka: str  # what the services are told (the chaos proxy's address during chaos)
    database_url: str  # any database on the server; ours are named from `tag`
    redis_url: str
    workdir: Path
    admin_kafka: str = ""  # where the harness itself creates topics (defaults to `kafka`)
    partitions: int | None = None  # cap per topic; None: the production count
    tag: str = field(default_factory=lambda: "bench" + uuid.uuid4().hex[:8])
    secrets: Secrets = field(default_factory=Secrets)
    extra_env: dict[str, str] = field(default_factory=dict)
    log_level: str = "WARNING"
    ports: dict[str, int] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    starts: dict[str, int] = field(default_factory=dict)
    # The broker's pids when the run owns its broker (bench --own-broker): its CPU is then
    # ours alone; None: the shared kafka.Kafka JVMs on the machine.
    kafka_pids: list[int] | None = None

    def __post_init__(self) -> None:
        self.admin_kafka = self.admin_kafka or self.kafka
        self.workdir.mkdir(parents=True, exist_ok=True)
        for name in SERVICES:
            self.ports.setdefault(name, free_port())
        self.ports.setdefault("smtp_sink", free_port())
        self.ports.setdefault("smtp_intake", free_port())

    # --- addresses --------------------------------------------------------------------------

    @property
    def namespace(self) -> str:
        return self.tag

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def database(self, service: str) -> str:
        u = make_url(self.database_url)
        return u.set(database=f"{self.tag}_{service}").render_as_string(hide_password=False)

    def dsn(self, service: str) -> str:
        """A plain asyncpg DSN for the harness's read-only queries."""
        u = make_url(self.database(service)).set(drivername="postgresql")
        return u.render_as_string(hide_password=False)

    def topic(self, name: str) -> str:
        return f"{self.namespace}.{name}"

    def log_path(self, name: str) -> Path:
        return self.workdir / f"{name}.log"

    # --- environment ------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        s = self.secrets
        for name in APPS:
            p = f"ADUAN_{name.upper()}_"
            env |= {
                p + "KAFKA_BOOTSTRAP_SERVERS": self.kafka,
                p + "DATABASE_URL": self.database(name),
                p + "REDIS_URL": self.redis_url,
                p + "REDIS_PREFIX": f"{self.tag}:{name}:",
                p + "TOPIC_NAMESPACE": self.namespace,
                p + "PORT": str(self.ports[name]),
                p + "ENVIRONMENT": "test",
                p + "LOG_LEVEL": self.log_level,
                # Services that verify gateway tokens (intake's staff entry) share its secret.
                p + "JWT_SECRET": s.jwt_secret,
            }
        sink = self.url("sinks")
        env |= {
            # The generator is one client address sending thousands of reports a minute.
            "ADUAN_INTAKE_RATE_LIMIT_POSTS": "1000000000",
            "ADUAN_INTAKE_APP_KEYS": f'["{s.app_key}"]',
            "ADUAN_INTAKE_SMS_AUTH_TOKEN": s.sms_token,
            "ADUAN_INTAKE_SMS_PUBLIC_URL": f"{self.url('intake')}/v1/channels/sms",
            "ADUAN_INTAKE_WHATSAPP_APP_SECRET": s.whatsapp_secret,
            "ADUAN_INTAKE_WHATSAPP_VERIFY_TOKEN": "bench-verify",
            "ADUAN_INTAKE_WHATSAPP_ACCESS_TOKEN": "bench-access",
            "ADUAN_INTAKE_JWT_SECRET": s.jwt_secret,
            "ADUAN_INTAKE_BLOB_ROOT": str(self.workdir / "blobs"),
            # Inbound e-mail on its own port: the e-mail generator sends complaints to it.
            "ADUAN_INTAKE_SMTP_ENABLED": "true",
            "ADUAN_INTAKE_SMTP_PORT": str(self.ports["smtp_intake"]),
            "ADUAN_GATEWAY_JWT_SECRET": s.jwt_secret,
            "ADUAN_GATEWAY_BLOB_ROOT": str(self.workdir / "blobs"),
            "ADUAN_NOTIFIER_PORTAL_BASE_URL": self.url("portal"),
            "ADUAN_PORTAL_GATEWAY_URL": self.url("gateway"),
            "ADUAN_NOTIFIER_SMTP_PORT": str(self.ports["smtp_sink"]),
            "ADUAN_NOTIFIER_SMS_URL": f"{sink}/sms/send",
            "ADUAN_NOTIFIER_WHATSAPP_BASE_URL": f"{sink}/whatsapp",
            "ADUAN_NOTIFIER_MESSENGER_BASE_URL": f"{sink}/graph",
            "ADUAN_NOTIFIER_INSTAGRAM_BASE_URL": f"{sink}/instagram",
            "ADUAN_NOTIFIER_X_BASE_URL": f"{sink}/x",
            "ADUAN_NOTIFIER_PUSH_URL": f"{sink}/push",
            "ADUAN_NOTIFIER_DELIVERY_LEASE_S": "10",
            "ADUAN_NOTIFIER_RETRY_BASE_S": "0.5",
            "ADUAN_NOTIFIER_RETRY_CAP_S": "5",
            # Two worker processes, as `make up` runs it: one process is one core, and
            # 500 reads/s answered by one had a p99 of 267-495 ms (18 ms with two).
            "ADUAN_GATEWAY_HTTP_WORKERS": os.environ.get("ADUAN_GATEWAY_HTTP_WORKERS", "2"),
        }
        return env | self.extra_env

    def command(self, name: str) -> list[str]:
        cmd = [sys.executable, "-m", SERVICES[name]]
        if name == "sinks":
            cmd += [
                "--dir",
                str(self.workdir / "sinks"),
                "--smtp-port",
                str(self.ports["smtp_sink"]),
                "--http-port",
                str(self.ports["sinks"]),
            ]
        return cmd

    # --- lifecycle --------------------------------------------------------------------------

    async def prepare(self) -> None:
        """Topics for the namespace (the services would create them too, uncapped)."""
        await ensure_topics(self.admin_kafka, self.namespace, max_partitions=self.partitions)

    def spawn(self, name: str) -> None:
        with self.log_path(name).open("ab") as out:
            self.procs[name] = subprocess.Popen(
                self.command(name),
                env=self.env(),
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
                # A group of its own: a signal reaches a service's worker processes too
                # (the gateway runs as uvicorn's supervisor and two workers), as a pod's
                # containers all die together.
                start_new_session=True,
            )
        self.starts[name] = self.starts.get(name, 0) + 1

    async def wait_healthy(self, name: str, timeout: float = 180.0) -> float:
        """Seconds until `name` answered /health with 200."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        path = "/" if name == "sinks" else "/health"
        async with httpx.AsyncClient(timeout=3) as client:
            while loop.time() - started < timeout:
                proc = self.procs[name]
                if proc.poll() is not None:
                    tail = self.log_path(name).read_text(errors="replace")[-3000:]
                    raise RuntimeError(f"{name} exited ({proc.returncode}):\n{tail}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get(self.url(name) + path)).status_code == 200:
                        return loop.time() - started
                await asyncio.sleep(0.25)
        raise RuntimeError(f"{name} not healthy within {timeout:.0f} s")

    async def start(self, names: tuple[str, ...] = tuple(SERVICES)) -> None:
        await self.prepare()
        for name in names:
            self.spawn(name)
        for name in names:
            await self.wait_healthy(name)

    def pid(self, name: str) -> int:
        return self.procs[name].pid

    def signal(self, name: str, sig: signal.Signals) -> None:
        """`sig` to the service's every process (its group)."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.procs[name].pid, sig)

    def kill(self, name: str) -> None:
        """SIGKILL: no shutdown hook runs, in-flight work is cut off."""
        proc = self.procs[name]
        self.signal(name, signal.SIGKILL)
        proc.wait(timeout=10)

    async def restart(self, name: str) -> float:
        self.spawn(name)
        return await self.wait_healthy(name)

    def stop(self) -> dict[str, int | None]:
        """SIGTERM everything (SIGCONT first: a paused process cannot stop), then wait."""
        for name, proc in self.procs.items():
            if proc.poll() is None:
                self.signal(name, signal.SIGCONT)
                self.signal(name, signal.SIGTERM)
        codes: dict[str, int | None] = {}
        for name, proc in self.procs.items():
            try:
                codes[name] = proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.signal(name, signal.SIGKILL)
                codes[name] = proc.wait()
        return codes

    async def cleanup(self) -> None:
        """Drop the databases and topics this run created (best effort)."""
        admin = make_url(self.database_url).set(drivername="postgresql", database="postgres")
        with contextlib.suppress(Exception):
            conn = await asyncpg.connect(admin.render_as_string(hide_password=False))
            try:
                for svc in APPS:
                    await conn.execute(f'DROP DATABASE IF EXISTS "{self.tag}_{svc}" WITH (FORCE)')
            finally:
                await conn.close()
        with contextlib.suppress(Exception):
            await delete_namespace_topics(self.admin_kafka, self.namespace)
