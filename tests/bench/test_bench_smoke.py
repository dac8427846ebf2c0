"""`make bench` in miniature, inside `make test`: the real harness (`python -m bench.run`)
against its own four services on the real Kafka, PostgreSQL and Redis, at a few reports a
second. Figures are printed, never asserted (the machine is shared); correctness is:
every complaint intake accepted reached workflow, the gateway and the notifier exactly
once, and the replayed backlog lost nothing and applied nothing twice."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from aduan_testing.infra import Infra, repo_root

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(330)]

# The portal only renders what the gateway publishes: it is not on the measured path, and
# one process fewer keeps the smoke run short on a two-core machine. `make bench` runs all.
SERVICES = "gateway,intake,workflow,notifier"


def test_bench_smoke_prints_figures_and_loses_nothing(infra: Infra, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    env = dict(os.environ) | {
        "KAFKA_BOOTSTRAP_SERVERS": infra.kafka,
        "DATABASE_URL": infra.database_url,
        "REDIS_URL": infra.redis_url,
    }
    cmd = [
        sys.executable, "-m", "bench.run",
        "--rates", "4,8", "--step-seconds", "5", "--keep-going",
        "--read-rate", "8", "--read-seconds", "3", "--replay", "100", "--partitions", "2",
        "--ceiling-seconds", "1", "--ceiling-messages", "1000",
        "--drain-timeout", "120", "--services", SERVICES,
        "--scale", "smoke (make test)", "--output", str(out),
    ]  # fmt: skip
    proc = subprocess.run(
        cmd, cwd=repo_root(), env=env, capture_output=True, text=True, timeout=320, check=False
    )
    print(proc.stdout[-6000:])
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(out.read_text())

    steps = result["steps"]
    assert [s["rate"] for s in steps] == [4, 8]
    for s in steps:
        # Open loop: every planned complaint was sent and answered 2xx (with retries on a
        # 5xx, as a provider would redeliver), and reached the notifier.
        assert s["accepted"] == s["sent"] > 0, s
        assert s["reached_notifier"] == s["accepted"], s
        assert s["latency_ms"]["recorded"]["count"] == s["accepted"]
        assert s["cpu_ms_per_report"] > 0
        reads = s["reads"]
        assert reads["latency_ms"]["count"] > 0
        assert not [code for code in reads["statuses"] if code.startswith("5")], reads
        assert "200" in reads["statuses"]

    alone = result["reads_alone"]
    assert alone["reads"] == 24 and alone["latency_ms"]["count"] == 24, alone
    assert not [code for code in alone["statuses"] if code.startswith("5")], alone
    assert alone["gateway_cpu_ms_per_read"] > 0
    for s in steps:  # the reads' share taken out of the per-report CPU, never below zero
        assert 0 <= s["cpu_ms_per_report_without_reads"] <= s["cpu_ms_per_report"], s
    assert "Gateway reads alone" in proc.stdout

    rec = result["reconciliation"]
    assert rec["accepted"] == result["warmup_reports"] + sum(s["accepted"] for s in steps)
    assert rec["ok"], rec
    assert not any(rec["missing"].values()) and not any(rec["applied_twice"].values())

    replay = result["replay"]
    assert replay["workflow_opened"] == replay["notifier_recorded"] == 100
    assert (replay["lost"], replay["applied_twice"]) == (0, 0)

    ceilings = result["ceilings"]
    assert ceilings["kafka"]["produce_consume_per_s"] > 0
    assert ceilings["asyncpg"]["tx_per_s"] > 0
    assert ceilings["fastapi"]["req_per_s"] > 0
    assert len(result["ratios_table"]) == 3
    assert set(result["peak_rss_mb"]) >= {"gateway", "intake", "workflow", "notifier", "kafka"}
    assert "Highest sustained rate" in proc.stdout
