"""The whole platform as `make up` runs it, for end-to-end and browser tests: the five services
and the local provider sinks, each its own OS process (`python -m <module>`), on the real
Kafka, PostgreSQL and Redis, inside one test isolation (topic namespace, databases, Redis
prefix) and on free ports, so a developer's `make up` on the same machine is never touched.

    async with running_platform(iso, tmp_path) as plat:
        plat.urls["portal"], plat.urls["gateway"], ...
        await plat.run("aduan_gateway.cli", "demo-seed", "--yes-this-is-a-demo")

Every process gets the settings `deploy/scripts/services.sh` relies on (`ADUAN_<SERVICE>_*`
from the environment), pointed at the isolation instead of the defaults; `env` is also what a
CLI run against the platform needs (`Platform.run`, `Platform.run_script`).

`replicas={"workflow": 2}` starts more instances of a service (scale-out tests): the same
settings, so the same database and consumer group, and only a port of their own. The first
instance keeps the plain name; the others are `workflow-2`, ... in `procs`, `logs` and
`instance_urls`.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from aduan_testing.helpers import eventually, free_port
from aduan_testing.infra import repo_root
from aduan_testing.plugin import Isolation

__all__ = [
    "SERVICES",
    "Platform",
    "running_platform",
    "service_of",
    "start_platform",
    "stop_platform",
]

# name -> module, in services.sh's start order (the sinks first, so the notifier's first
# messages land).
SERVICES: dict[str, str] = {
    "gateway": "aduan_gateway",
    "intake": "aduan_intake",
    "workflow": "aduan_workflow",
    "notifier": "aduan_notifier",
    "portal": "aduan_portal",
}
SINKS_MODULE = "aduan_notifier.sinks"


@dataclass
class Platform:
    """Running processes, their URLs and logs, and the environment they were started with.
    `urls` names the five services; the sinks (when started) are at `sinks_url`."""

    urls: dict[str, str]
    sinks_url: str | None
    procs: dict[str, subprocess.Popen[bytes]]
    logs: dict[str, Path]
    env: dict[str, str]
    jwt_secret: str
    smtp_port: int
    directory: Path
    stopped: bool = field(default=False)
    # Every instance's URL by process name (`workflow`, `workflow-2`, ...); `urls` keeps
    # the first instance of each service.
    instance_urls: dict[str, str] = field(default_factory=dict)

    def bearer(
        self,
        sub: str,
        role: str,
        agency: str | None = None,
        *,
        head: bool = False,
        name: str | None = None,
    ) -> dict[str, str]:
        """An officer's Authorization header for this platform's gateway (signed with its
        secret; `name` defaults to `sub`). The gateway's own token minting is imported
        here, not at the top: aduan_testing does not depend on the gateway package, and
        every suite that runs a platform has it installed."""
        from aduan_gateway.auth import issue_access_token

        token = issue_access_token(
            self.jwt_secret, sub, role, agency_id=agency, name=name or sub, unit_head=head
        )
        return {"Authorization": f"Bearer {token}"}

    def log_text(self) -> str:
        """Every process's log so far (for "no personal data in logs" checks)."""
        return "\n".join(p.read_text(errors="replace") for p in self.logs.values())

    def tail(self, name: str, chars: int = 3000) -> str:
        return self.logs[name].read_text(errors="replace")[-chars:]

    async def run(
        self, module: str, *args: str, env: Mapping[str, str] | None = None, timeout: float = 180
    ) -> subprocess.CompletedProcess[str]:
        """`python -m module args` with the platform's settings (e.g. a service's CLI); fails
        with its output when it exits non-zero. After the gateway's `demo-seed`, returns
        once every reader of the category catalogue has the demo categories (a test files
        into them next)."""
        done = await self._run([sys.executable, "-m", module, *args], env, timeout)
        if module == "aduan_gateway.cli" and args[:1] == ("demo-seed",):
            await self.catalogue_ready()
        return done

    async def catalogue_ready(self, timeout: float = 60) -> None:
        """Until intake, the portal and workflow all hold the gateway's category catalogue
        as it is now: intake lists the active codes, the portal's filing form offers them,
        workflow routes each active category that has an agency to that agency (and by each
        of its routes by area). They read
        it from a topic, so a test that just changed it waits here before filing."""
        async with httpx.AsyncClient(timeout=10) as client:
            catalogue = (await client.get(f"{self.urls['gateway']}/v1/categories")).json()
            active = {c["code"] for c in catalogue if c.get("active", True)}
            routes = {
                f"{c['code']}\t{c['agency_id']}"
                for c in catalogue
                if c.get("active", True) and c.get("agency_id")
            }
            # ... and each route by area (issue 19): category, area code, agency.
            routes |= {
                f"{c['code']}\t{r['area_code']}\t{r['agency_id']}"
                for c in catalogue
                if c.get("active", True)
                for r in c.get("area_routes", ())
            }

            async def intake_has() -> bool:
                listed = await client.get(f"{self.urls['intake']}/v1/categories")
                return listed.status_code == 200 and {c["code"] for c in listed.json()} == active

            async def portal_has() -> bool:
                form = (await client.get(f"{self.urls['portal']}/lapor")).text
                return all(f'<option value="{code}"' in form for code in active)

            async def workflow_has() -> bool:
                listed = await self.run("aduan_workflow.cli", "routing", "list")
                return set(listed.stdout.splitlines()) == routes

            for check, what in (
                (intake_has, "intake's catalogue"),
                (portal_has, "the portal's filing form"),
                (workflow_has, "workflow's routing"),
            ):
                await eventually(check, what, timeout=timeout)

    async def run_script(
        self,
        script: str | Path,
        *args: str,
        env: Mapping[str, str] | None = None,
        timeout: float = 300,
    ) -> subprocess.CompletedProcess[str]:
        """`python <script> args` (a path relative to the repository root) likewise."""
        path = Path(script)
        if not path.is_absolute():
            path = repo_root() / path
        return await self._run([sys.executable, str(path), *args], env, timeout)

    async def _run(
        self, argv: list[str], env: Mapping[str, str] | None, timeout: float
    ) -> subprocess.CompletedProcess[str]:
        def call() -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                argv,
                env={**self.env, **(env or {})},
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
                cwd=repo_root(),
            )

        done = await asyncio.to_thread(call)
        if done.returncode != 0:
            raise AssertionError(
                f"{' '.join(argv[1:])} exited {done.returncode}:\n"
                f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            )
        return done


def service_env(
    iso: Isolation,
    name: str,
    port: int,
    *,
    redis_prefix: str | None = None,
    log_level: str = "INFO",
    **settings: str,
) -> dict[str, str]:
    """The `ADUAN_<NAME>_*` variables that put one service process on `iso`'s broker,
    database, Redis and topic namespace, on `port`; `settings` adds more of its own
    (`SMTP_HOST="..."` becomes `ADUAN_<NAME>_SMTP_HOST`)."""
    p = f"ADUAN_{name.upper()}_"
    return {
        p + "KAFKA_BOOTSTRAP_SERVERS": iso.kafka,
        p + "DATABASE_URL": iso.database(name),
        p + "REDIS_URL": iso.redis_url,
        p + "REDIS_PREFIX": iso.redis_prefix if redis_prefix is None else redis_prefix,
        p + "TOPIC_NAMESPACE": iso.namespace,
        p + "PORT": str(port),
        p + "ENVIRONMENT": "test",
        p + "LOG_LEVEL": log_level,
    } | {p + key: value for key, value in settings.items()}


def platform_env(
    iso: Isolation, directory: Path, jwt_secret: str
) -> tuple[dict[str, str], dict[str, int]]:
    """The environment and ports for one platform in `iso` (files under `directory`)."""
    ports = {name: free_port() for name in (*SERVICES, "sinks", "sinks_smtp", "intake_smtp")}
    env = dict(os.environ)
    for name in SERVICES:
        # Services that verify gateway tokens (intake's staff entry) share its secret.
        env |= service_env(
            iso,
            name,
            ports[name],
            redis_prefix=f"{iso.redis_prefix}{name}:",
            JWT_SECRET=jwt_secret,
        )
    sinks = f"http://127.0.0.1:{ports['sinks']}"
    blobs = str(directory / "blobs")
    env |= {
        # Intake stores photos, the gateway serves them: one store, as `.run/blobs` in make up.
        "ADUAN_INTAKE_BLOB_ROOT": blobs,
        "ADUAN_GATEWAY_BLOB_ROOT": blobs,
        "ADUAN_INTAKE_SMTP_PORT": str(ports["intake_smtp"]),
        "ADUAN_PORTAL_GATEWAY_URL": f"http://127.0.0.1:{ports['gateway']}",
        "ADUAN_PORTAL_INTAKE_URL": f"http://127.0.0.1:{ports['intake']}",
        "ADUAN_NOTIFIER_PORTAL_BASE_URL": f"http://127.0.0.1:{ports['portal']}",
        # The notifier's providers are this platform's sinks, not a `make up` sink on 8090.
        "ADUAN_NOTIFIER_SMTP_PORT": str(ports["sinks_smtp"]),
        "ADUAN_NOTIFIER_SMS_URL": f"{sinks}/sms/send",
        "ADUAN_NOTIFIER_WHATSAPP_BASE_URL": f"{sinks}/whatsapp",
        "ADUAN_NOTIFIER_MESSENGER_BASE_URL": f"{sinks}/graph",
        "ADUAN_NOTIFIER_INSTAGRAM_BASE_URL": f"{sinks}/instagram",
        "ADUAN_NOTIFIER_X_BASE_URL": f"{sinks}/x",
        "ADUAN_NOTIFIER_PUSH_URL": f"{sinks}/push",
        "ADUAN_SINKS_DIR": str(directory / "sinks"),
        "ADUAN_SINKS_HTTP_PORT": str(ports["sinks"]),
        "ADUAN_SINKS_SMTP_PORT": str(ports["sinks_smtp"]),
    }
    return env, ports


def service_of(name: str) -> str | None:
    """The service a process name belongs to (`workflow-2` -> `workflow`); None for sinks."""
    if name in SERVICES:
        return name
    base, _, n = name.rpartition("-")
    return base if base in SERVICES and n.isdigit() else None


def _spawn(
    modules: Mapping[str, str],
    env: dict[str, str],
    directory: Path,
    envs: Mapping[str, Mapping[str, str]] | None = None,
) -> tuple[dict[str, subprocess.Popen[bytes]], dict[str, Path]]:
    directory.mkdir(parents=True, exist_ok=True)
    procs: dict[str, subprocess.Popen[bytes]] = {}
    logs: dict[str, Path] = {}
    for name, module in modules.items():
        logs[name] = directory / f"{name}.log"
        with logs[name].open("wb") as out:
            procs[name] = subprocess.Popen(
                [sys.executable, "-m", module],
                env=env | dict((envs or {}).get(name, {})),
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=repo_root(),
            )
    return procs, logs


async def start_platform(
    iso: Isolation,
    directory: Path,
    *,
    extra_env: Mapping[str, str] | None = None,
    sinks: bool = True,
    timeout: float = 120,
    replicas: Mapping[str, int] | None = None,
) -> Platform:
    """Start the processes and wait until each answers /health (a process that exits fails
    the start with its log). `replicas` runs that many instances of a service."""
    jwt_secret = "e2e-secret-" + uuid.uuid4().hex
    env, ports = platform_env(iso, directory, jwt_secret)
    env |= dict(extra_env or {})
    modules = ({"sinks": SINKS_MODULE} if sinks else {}) | SERVICES
    extra: dict[str, dict[str, str]] = {}
    for service, count in (replicas or {}).items():
        if service not in SERVICES:
            raise ValueError(f"unknown service {service!r}")
        for n in range(2, count + 1):
            name = f"{service}-{n}"
            modules = modules | {name: SERVICES[service]}
            ports[name] = free_port()
            extra[name] = {f"ADUAN_{service.upper()}_PORT": str(ports[name])}
    procs, logs = _spawn(modules, env, directory, extra)
    urls = {name: f"http://127.0.0.1:{ports[name]}" for name in modules}
    plat = Platform(
        urls={name: urls[name] for name in SERVICES},
        sinks_url=urls.get("sinks"),
        procs=procs,
        logs=logs,
        env=env,
        jwt_secret=jwt_secret,
        smtp_port=ports["intake_smtp"],
        directory=directory,
        instance_urls={name: url for name, url in urls.items() if service_of(name)},
    )
    try:
        async with httpx.AsyncClient(timeout=5) as client:
            for name, url in urls.items():

                async def healthy(name: str = name, url: str = url) -> bool:
                    if procs[name].poll() is not None:
                        raise AssertionError(f"{name} exited:\n{plat.tail(name)}")
                    return (await client.get(f"{url}/health")).status_code == 200

                await eventually(healthy, f"{name} /health", timeout=timeout)
    except BaseException:
        await stop_platform(plat, check=False)
        raise
    return plat


async def stop_platform(plat: Platform, *, check: bool = True) -> None:
    """SIGTERM every process; with `check`, each service must exit cleanly within 30 s
    (uvicorn finishes the lifespan shutdown, then re-raises SIGTERM: exit -15)."""
    if plat.stopped:
        return
    plat.stopped = True
    for proc in plat.procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    problems: list[str] = []
    for name, proc in plat.procs.items():
        try:
            code = await asyncio.to_thread(proc.wait, 30)
        except subprocess.TimeoutExpired:
            proc.kill()
            await asyncio.to_thread(proc.wait)
            problems.append(f"{name} ignored SIGTERM for 30 s")
            continue
        if not check or service_of(name) is None:
            continue
        log = plat.logs[name].read_text(errors="replace")
        if code not in (0, -signal.SIGTERM):
            problems.append(f"{name} exited {code}:\n{log[-2000:]}")
        elif "Application shutdown complete" not in log:
            problems.append(f"{name} did not shut down cleanly")
    if check and problems:
        raise AssertionError("\n".join(problems))


@asynccontextmanager
async def running_platform(
    iso: Isolation,
    directory: Path,
    *,
    extra_env: Mapping[str, str] | None = None,
    sinks: bool = True,
    replicas: Mapping[str, int] | None = None,
) -> AsyncIterator[Platform]:
    """The platform for the `with` block; stopped (and checked for a clean shutdown) after.
    A process the test killed on purpose is left out of that check when the test removes it
    from `procs`."""
    plat = await start_platform(iso, directory, extra_env=extra_env, sinks=sinks, replicas=replicas)
    try:
        yield plat
    except BaseException:
        await stop_platform(plat, check=False)
        raise
    await stop_platform(plat)
