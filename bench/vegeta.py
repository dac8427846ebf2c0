"""The compiled load generator: vegeta (github.com/tsenart/vegeta/v12, pinned and built by
deploy/scripts/vegeta.sh from `make deps`), driven from Python.

A run writes its pre-built targets (bench/payloads.py) to a file, starts `vegeta attack`
at a constant rate (open loop: vegeta adds workers rather than waiting for answers), reads
every result back (`vegeta encode -to json`: sequence number, send time, latency, status,
response body and headers) and its CPU from the kernel (`wait4`'s rusage of the process).

Latency is counted from the *intended* send time: request `seq` is due at
`t0 + seq / rate` (vegeta's constant pacer), `t0` being the attack's start; a generator or
server that falls behind shows as latency, never as a lower rate (no coordinated omission).
vegeta's own latency (from its actual send) is kept beside it as `service`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from hdrh.histogram import HdrHistogram

from bench.payloads import HttpRequest, vegeta_line

__all__ = [
    "Attack",
    "Hit",
    "binary",
    "histogram",
    "intended_latencies",
    "parse_hits",
    "rate_flag",
    "receipt",
]

ROOT = Path(__file__).resolve().parent.parent


def binary() -> str:
    """Path of the pinned vegeta (VEGETA overrides); clear advice when it is missing."""
    if env := os.environ.get("VEGETA"):
        return env
    script = ROOT / "deploy" / "scripts" / "vegeta.sh"
    got = subprocess.run([str(script), "path"], capture_output=True, text=True, check=False)
    if got.returncode != 0 or not got.stdout.strip():
        raise RuntimeError("vegeta is not installed: run `make deps` (deploy/scripts/vegeta.sh)")
    return got.stdout.strip()


def generator_env() -> dict[str, str]:
    """The Go runtime's settings for the generator (measured at 1,000 requests/s against the
    bare endpoint, `bench.ceilings --generator-reps`; docs/performance.md, "The generator's
    own cost"):

    - `GODEBUG=schedtrace=3600000`: with a scheduler trace configured, Go's `sysmon` thread
      never parks in its deep sleep. Without it, at 1,000 requests/s the process goes idle
      between requests (every Go thread idle, `sysmon` parked until the next timer), each
      request's first syscall wakes `sysmon` again and resets its poll to 20 µs, so it
      spins through ~20 `usleep`s per request: ~40 % of vegeta's CPU and three quarters
      of its context switches. Kept awake it backs off to its 10-ms poll. The trace prints
      one `SCHED` line at start (the interval is an hour), which `Attack` drops.
    - `GOGC=400`: fewer collections of the (small) heap; a few percent.

    The thread count is vegeta's `-cpus` flag (its default, every CPU, overrides the
    GOMAXPROCS variable): see `cpus()`. BENCH_GODEBUG / GOGC override."""
    env = dict(os.environ)
    env["GODEBUG"] = os.environ.get("BENCH_GODEBUG", "schedtrace=3600000")
    env.setdefault("GOGC", "400")
    return env


def cpus() -> int:
    """OS threads running Go code in vegeta (its `-cpus`, default 1, BENCH_GOMAXPROCS): one
    is enough at these rates and costs a third less CPU than two, which wake each other."""
    return max(1, int(os.environ.get("BENCH_GOMAXPROCS", "1")))


def _stderr_text(raw: bytes) -> str:
    """vegeta's stderr without the Go scheduler trace's `SCHED` lines (generator_env)."""
    lines = raw.decode(errors="replace").splitlines()
    return "\n".join(line for line in lines if not line.startswith("SCHED "))


def rate_flag(rate: float) -> str:
    """vegeta's `-rate` takes an integer per duration: 47.5/s is 47500/1000s."""
    if float(rate).is_integer():
        return f"{int(rate)}/1s"
    return f"{round(rate * 1000)}/1000s"


@dataclass
class Hit:
    """One request's result as vegeta recorded it (times in epoch seconds)."""

    seq: int
    code: int
    sent: float
    latency_s: float
    error: str
    body: bytes
    headers: dict[str, list[str]]
    url: str = ""

    @property
    def done(self) -> float:
        return self.sent + self.latency_s


def _epoch(stamp: str) -> float:
    # RFC 3339 with nanoseconds ("2026-12-04T06:40:01.123456789Z"): Python takes microseconds.
    head, _, frac = stamp.partition(".")
    if not frac:
        return datetime.fromisoformat(stamp).timestamp()
    digits = "".join(c for c in frac if c.isdigit())
    zone = frac[len(digits) :]
    return datetime.fromisoformat(f"{head}.{digits[:6]:0<6}{zone}").timestamp()


def parse_hits(lines: Iterable[str]) -> list[Hit]:
    """vegeta's JSON results (one object a line) as Hits, in sequence order."""
    hits = []
    for line in lines:
        if not line.strip():
            continue
        r = json.loads(line)
        hits.append(
            Hit(
                seq=int(r["seq"]),
                code=int(r["code"]),
                sent=_epoch(r["timestamp"]),
                latency_s=int(r["latency"]) / 1e9,
                error=r.get("error") or "",
                body=base64.b64decode(r["body"]) if r.get("body") else b"",
                headers=r.get("headers") or {},
                url=r.get("url") or "",
            )
        )
    return sorted(hits, key=lambda h: h.seq)


def start_of(hits: list[Hit], rate: float) -> float:
    """The schedule's t0: the earliest `sent - seq / rate` (the pacer never sends early, so
    the request that left closest to its slot places the schedule)."""
    return min(h.sent - h.seq / rate for h in hits)


def intended_latencies(hits: list[Hit], rate: float) -> list[tuple[Hit, float, float]]:
    """(hit, intended send time, seconds from intended send to answer) per hit."""
    if not hits:
        return []
    t0 = start_of(hits, rate)
    out = []
    for h in hits:
        intended = t0 + h.seq / rate
        out.append((h, intended, max(h.done - intended, 1e-6)))
    return out


def receipt(channel: str, hit: Hit) -> tuple[str, str | None] | None:
    """(receipt code, report id) from intake's answer to a complaint; None when refused."""
    if not 200 <= hit.code < 300:
        return None
    if channel == "sms":
        for name, values in hit.headers.items():
            if name.lower() == "x-aduan-receipt-code" and values:
                return values[0], None
        return None
    body = json.loads(hit.body)
    if channel == "whatsapp":
        filed = body["filed"][0]
        return filed["receipt_code"], filed["report_id"]
    return body["receipt_code"], body["report_id"]


def histogram(values_s: Iterable[float]) -> HdrHistogram:
    """Microseconds from 1 µs to 10 minutes, 3 significant digits (as bench.load)."""
    h = HdrHistogram(1, 600_000_000, 3)
    for v in values_s:
        h.record_value(min(600_000_000, max(1, int(v * 1e6))))
    return h


@dataclass
class Attack:
    """One `vegeta attack` of pre-built requests at a constant rate."""

    name: str
    requests: list[HttpRequest]
    rate: float  # per second; 0 = as fast as `max_workers` allow (a closed-loop ceiling)
    workdir: Path
    max_workers: int | None = None
    max_connections: int = 512
    timeout_s: float = 120.0
    duration_s: float | None = None  # default: len(requests) / rate (each sent once)
    keep_bodies: bool = True
    hits: list[Hit] = field(default_factory=list)
    cpu_ms: float = 0.0  # the vegeta process's user+system CPU (rusage at exit)
    cpu_sys_ms: float = 0.0  # of which in the kernel (loopback TCP, timers)
    wall_s: float = 0.0
    returncode: int | None = None

    def duration(self) -> float:
        """Each target sent once: vegeta's pacer sends hit k at (k + 1) / rate and stops at
        the first hit due after the duration, so half an interval short of the last slot."""
        if self.duration_s:
            return self.duration_s
        return (len(self.requests) - 0.5) / self.rate

    def _command(self, targets: Path, output: Path) -> list[str]:
        cmd = [
            binary(),
            f"-cpus={cpus()}",
            "attack",
            "-format=json",
            f"-targets={targets}",
            f"-output={output}",
            f"-name={self.name}",
            f"-timeout={self.timeout_s:g}s",
            f"-max-connections={self.max_connections}",
            f"-max-body={-1 if self.keep_bodies else 0}",
            "-http2=false",
        ]
        if self.rate > 0:
            cmd += [f"-rate={rate_flag(self.rate)}", f"-duration={self.duration():.6f}s"]
        else:
            cmd += ["-rate=0", f"-duration={self.duration_s or 5:g}s"]
        if self.max_workers:
            cmd.append(f"-max-workers={self.max_workers}")
            if self.rate <= 0:
                cmd.append(f"-workers={self.max_workers}")
        return cmd

    def _run(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        targets = self.workdir / f"{self.name}.targets.jsonl"
        output = self.workdir / f"{self.name}.results.bin"
        with targets.open("w") as f:
            for req in self.requests:
                f.write(vegeta_line(req) + "\n")
        started = time.perf_counter()
        proc = subprocess.Popen(
            self._command(targets, output),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env=generator_env(),
        )
        # wait4 gives the child's own rusage: the generator's CPU, apart from the harness's.
        _, status, usage = os.wait4(proc.pid, 0)
        self.wall_s = time.perf_counter() - started
        proc.returncode = self.returncode = os.waitstatus_to_exitcode(status)
        err = _stderr_text(proc.stderr.read()) if proc.stderr else ""
        if proc.stderr:
            proc.stderr.close()
        if self.returncode != 0:
            raise RuntimeError(f"vegeta attack {self.name} exited {self.returncode}: {err[-2000:]}")
        self.cpu_ms = (usage.ru_utime + usage.ru_stime) * 1000
        self.cpu_sys_ms = usage.ru_stime * 1000
        encoded = subprocess.run(
            [binary(), "encode", "-to=json", str(output)],
            capture_output=True,
            text=True,
            check=True,
        )
        self.hits = parse_hits(encoded.stdout.splitlines())
        # The results file is scratch; the figures go into the JSON.
        output.unlink(missing_ok=True)
        targets.unlink(missing_ok=True)

    async def run(self) -> Attack:
        await asyncio.get_running_loop().run_in_executor(None, self._run)
        return self

    def codes(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for h in self.hits:
            key = str(h.code) if h.code else (h.error.split(":")[-1].strip() or "error")[:60]
            out[key] = out.get(key, 0) + 1
        return out

    def summary(self) -> dict[str, Any]:
        """Throughput, and the generator's own cost (CPU-ms per request, cores)."""
        n = len(self.hits)
        span = (max(h.done for h in self.hits) - min(h.sent for h in self.hits)) if n else 0.0
        return {
            "requests": n,
            "rate": self.rate,
            "wall_s": round(self.wall_s, 2),
            "answered_per_s": round(n / span, 1) if span else None,
            "codes": self.codes(),
            "generator_cpu_ms": round(self.cpu_ms, 1),
            "generator_cpu_sys_ms": round(self.cpu_sys_ms, 1),
            "generator_cpu_ms_per_request": round(self.cpu_ms / n, 4) if n else None,
            "generator_cores": round(self.cpu_ms / 1000 / self.wall_s, 3) if self.wall_s else None,
        }
