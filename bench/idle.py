"""Idle CPU per process: start the platform, let it settle, sample /proc twice.

`uv run python -m bench.idle [--seconds 20]` prints CPU-ms per second per process with no
load at all: what a quiet city's Aduan costs, and what polling loops cost (docs/performance.md,
"Profiling notes")."""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
from pathlib import Path

from bench.platform import APPS, Platform
from bench.procs import cpu_ms
from bench.run import infra


async def measure(seconds: float, settle: float) -> dict[str, float]:
    kafka, database_url, redis_url = infra()
    platform = Platform(
        kafka=kafka,
        database_url=database_url,
        redis_url=redis_url,
        workdir=Path(tempfile.mkdtemp(prefix="aduan-idle-")),
    )
    try:
        await platform.start()
        await asyncio.sleep(settle)
        before = {name: cpu_ms(platform.pid(name)) for name in APPS}
        await asyncio.sleep(seconds)
        after = {name: cpu_ms(platform.pid(name)) for name in APPS}
        return {name: round((after[name] - before[name]) / seconds, 1) for name in APPS}
    finally:
        platform.stop()
        await platform.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--settle", type=float, default=10.0)
    args = parser.parse_args()
    figures = asyncio.run(measure(args.seconds, args.settle))
    figures["services total"] = round(sum(figures.values()), 1)
    print(json.dumps({"idle_cpu_ms_per_s": figures}))


if __name__ == "__main__":
    main()
