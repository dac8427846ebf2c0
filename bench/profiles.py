"""A py-spy profile of every service while complaints arrive (`make bench`'s profile step).

Issue 18 asks where each service's CPU goes after the rebuild, per service, from the same
run as the figures. py-spy samples the running processes from outside (no code change, no
restart); its own sampling costs CPU, so the profile is a step of its own whose CPU figures
are not used. Each service's collapsed stacks are kept (`bench/results/profiles/`, one
`<service>.txt` a run, loadable in speedscope or flamegraph.pl) and summarised here:

- by area: the share of the service's samples whose innermost frame belongs to a package
  (PostgreSQL driver, SQLAlchemy, Kafka client, pydantic, the web stack, logging, asyncio's
  loop, Aduan's own code, other);
- the frames with the most samples of their own (self time), and Aduan's functions with the
  most samples below them (inclusive), which is where a change would go.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

__all__ = ["AREAS", "profile_services", "summarise"]

# Innermost frame's file path fragment -> area. Order matters: the first match wins.
# py-spy names a frame `function (package/module.py:line)`.
AREAS: list[tuple[str, str]] = [
    ("asyncpg/", "asyncpg"),
    ("sqlalchemy/", "sqlalchemy"),
    ("aiokafka/", "aiokafka"),
    ("kafka/", "aiokafka"),
    ("faststream/", "faststream"),
    ("pydantic", "pydantic"),
    ("structlog/", "logging"),
    ("logging/", "logging"),
    ("uvicorn/", "web"),
    ("starlette/", "web"),
    ("fastapi/", "web"),
    ("h11/", "web"),
    ("httpx/", "http client"),
    ("httpcore/", "http client"),
    ("jinja2/", "templates"),
    ("cryptography/", "crypto"),
    ("redis/", "redis"),
    ("asyncio/", "asyncio loop"),
    ("selectors.py", "asyncio loop"),
    ("aduan_", "aduan code"),
]

_LINE = re.compile(r":\d+\)$")


def _area(frame: str) -> str:
    for fragment, area in AREAS:
        if f"({fragment}" in frame or f"/{fragment}" in frame:
            return area
    return "other"


def _function(frame: str) -> str:
    """`f (pkg/mod.py:12)` -> `f (pkg/mod.py)`: one entry per function, not per line."""
    return _LINE.sub(")", frame)


def summarise(collapsed: str, top: int = 15) -> dict[str, Any]:
    """Areas and top frames of one process's collapsed stacks (`a;b;c 12` lines)."""
    self_samples: Counter[str] = Counter()
    own_inclusive: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    total = 0
    for line in collapsed.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_function(f) for f in stack.split(";")]
        if frames[0].startswith("process "):
            # `--subprocesses` names the process first (`process 123:"python -m ..."`).
            frames = frames[1:] or frames
        total += count
        inner = frames[-1]
        self_samples[inner] += count
        areas[_area(inner)] += count
        for frame in dict.fromkeys(f for f in frames if "aduan_" in f):
            own_inclusive[frame] += count
    if not total:
        return {"samples": 0}

    def share(n: int) -> float:
        return round(100 * n / total, 1)

    return {
        "samples": total,
        "areas_pct": {a: share(n) for a, n in areas.most_common()},
        "top_self_pct": [(f, share(n)) for f, n in self_samples.most_common(top)],
        "top_aduan_inclusive_pct": [(f, share(n)) for f, n in own_inclusive.most_common(top)],
    }


async def profile_services(
    pids: dict[str, int], seconds: float, outdir: Path, rate_hz: int = 100
) -> dict[str, Any]:
    """Sample every service for `seconds` at once; the summaries by service name."""
    spy = shutil.which("py-spy")
    if spy is None:
        return {"error": "py-spy is not installed (make deps installs it)"}
    await asyncio.to_thread(outdir.mkdir, parents=True, exist_ok=True)
    procs: dict[str, asyncio.subprocess.Process] = {}
    for name, pid in pids.items():
        procs[name] = await asyncio.create_subprocess_exec(
            spy, "record", "--pid", str(pid), "--duration", str(int(seconds)),
            "--rate", str(rate_hz), "--format", "raw", "--nonblocking",
            "--subprocesses",  # the gateway's HTTP workers are its supervisor's children
            "--output", str(outdir / f"{name}.txt"),
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
    out: dict[str, Any] = {}
    for name, proc in procs.items():
        try:
            _, err = await asyncio.wait_for(proc.communicate(), timeout=seconds + 60)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            out[name] = {"error": "py-spy did not finish"}
            continue
        path = outdir / f"{name}.txt"
        try:
            collapsed = await asyncio.to_thread(path.read_text)
        except OSError:
            collapsed = ""
        if proc.returncode != 0 or not collapsed:
            out[name] = {"error": (err or b"").decode(errors="replace")[-300:]}
            continue
        out[name] = summarise(collapsed) | {"file": str(path)}
    return out
