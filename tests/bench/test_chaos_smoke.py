"""`make chaos` in miniature, inside `make test`: the real fault runner
(`python -m bench.chaos --smoke`) with its own broker behind its TCP proxy, at a few
reports a second, SIGKILLing workflow once, SIGSTOPping the notifier past its session
timeout and cutting the broker off for 12 s, with 1 in 100 arrivals a malformed record.

Only faults on processes the run owns: the shared broker and PostgreSQL are never stopped
here (other tests use them); `make chaos` adds those faults on its own broker and cluster.
Asserted: nothing accepted is missing anywhere or applied twice, the faults caused
redeliveries, every malformed record reached the dead-letter topic within 3 attempts.
Recovery figures are printed, not asserted."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from aduan_testing.infra import Infra, repo_root

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]

SERVICES = "gateway,intake,workflow,notifier"


def test_chaos_smoke_loses_nothing_and_dead_letters_poison(infra: Infra, tmp_path: Path) -> None:
    out = tmp_path / "chaos.json"
    env = dict(os.environ) | {"DATABASE_URL": infra.database_url, "REDIS_URL": infra.redis_url}
    cmd = [
        sys.executable, "-m", "bench.chaos", "--smoke", "--services", SERVICES,
        "--malformed-every", "50", "--output", str(out),
    ]  # fmt: skip
    proc = subprocess.run(
        cmd, cwd=repo_root(), env=env, capture_output=True, text=True, timeout=410, check=False
    )
    print(proc.stdout[-6000:])
    assert out.exists(), proc.stdout[-3000:] + proc.stderr[-5000:]
    result = json.loads(out.read_text())

    rec = result["reconciliation"]
    assert rec["accepted"] > 0
    assert rec["ok"], rec
    assert not any(rec["missing"].values()) and not any(rec["applied_twice"].values())

    # The faults happened: a workflow restart, and a pause and an outage were timed.
    assert result["process_starts"]["workflow"] == 2
    names = [f["fault"] for f in result["recovery"]]
    assert names.count("SIGKILL workflow") == 1
    assert any(n.startswith("SIGSTOP notifier") for n in names)
    assert any(n.startswith("broker unreachable") for n in names)
    # ... and bit: some messages were delivered again (and applied once, per the above).
    assert result["redeliveries"]["total"] > 0, result["redeliveries"]

    dlq = result["dead_letters"]
    assert dlq["injected"] > 0
    assert dlq["missing"] == 0, dlq
    assert dlq["dead_lettered"] == dlq["injected"]
    assert 1 <= dlq["max_attempts"] <= 3
    assert result["ok"] and proc.returncode == 0, proc.stderr[-3000:]
