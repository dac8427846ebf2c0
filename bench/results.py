"""Result files: `bench/results/latest.json` (or `chaos-latest.json`), a markdown table next
to it, one line per run appended to a history file, raw histograms under `raw/`."""

from __future__ import annotations

import json
import os
import platform as host
import subprocess
import time
from pathlib import Path
from typing import Any

__all__ = ["RESULTS", "machine", "write"]

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    """What the figures were taken on, so they can be compared across machines."""
    load = os.getloadavg()
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        capture_output=True,
        text=True,
        check=False,
        cwd=RESULTS.parent.parent,
    ).stdout.strip()
    return {
        "cpus": os.cpu_count(),
        "python": host.python_version(),
        "kernel": host.release(),
        "loadavg_at_start": [round(x, 2) for x in load],
        "commit": commit or None,
    }


def write(kind: str, result: dict[str, Any], table: str) -> Path:
    """`kind` is 'bench', 'chaos' or 'chaos-worst' (the worst of repeated chaos runs).
    Returns the JSON path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    prefix = "" if kind == "bench" else f"{kind}-"
    result = {"kind": kind, "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())} | result
    path = RESULTS / f"{prefix}latest.json"
    path.write_text(json.dumps(result, indent=2, sort_keys=False) + "\n")
    (RESULTS / f"{prefix}latest.md").write_text(table)
    with (RESULTS / f"{prefix}history.jsonl").open("a") as history:
        history.write(json.dumps(result, sort_keys=False) + "\n")
    return path


def raw_dir(run: str) -> Path:
    path = RESULTS / "raw" / run
    path.mkdir(parents=True, exist_ok=True)
    return path
