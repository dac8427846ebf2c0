"""One service started alone as an OS process, for the per-service micro benchmarks
(`bench.intake_filing`, `bench.workflow_apply`, `bench.notifier_io`, `bench.gateway_reads`):
start it, wait until it answers /health, read its CPU and its PostgreSQL backends' from
/proc, stop it."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from pathlib import Path

import httpx

from bench import procs

__all__ = ["cpu_ms", "postgres_cpu_ms", "spawn", "stop", "wait_healthy"]


def cpu_ms(pid: int) -> float:
    """The process's own CPU (user + system), without reaped children."""
    return procs.cpu_ms(pid, children=False)


def spawn(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(cmd, env=env, stdout=out, stderr=out)


async def wait_healthy(
    client: httpx.AsyncClient, proc: subprocess.Popen[bytes], name: str, log: str | Path
) -> None:
    """Until `client`'s /health answers 2xx (2 minutes at most); fails at once, naming the
    log, when the process exits instead."""
    for _ in range(600):
        if proc.poll() is not None:
            raise SystemExit(f"{name} exited; see {log}")
        try:
            if (await client.get("/health")).is_success:
                return
        except httpx.HTTPError:
            pass
        await asyncio.sleep(0.2)
    raise SystemExit(f"{name} did not answer /health in 2 minutes; see {log}")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM (the service's orderly shutdown), killed after 30 s."""
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def postgres_cpu_ms(database: str, exclude: frozenset[int] = frozenset()) -> float:
    """CPU of the live PostgreSQL backends connected to `database` (the service's pool:
    its connections live through the run), from their process titles."""
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in exclude:
            continue
        try:
            title = (entry / "cmdline").read_bytes().decode(errors="replace")
            if procs.backend_database(title) == database:
                total += cpu_ms(int(entry.name))
        except OSError:
            continue  # ended meanwhile
    return total
