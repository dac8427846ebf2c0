"""`make bench` in miniature, inside `make test`: the real harness (`python -m bench.run`,
vegeta and the SMTP generator) against its own four services on the real Kafka, PostgreSQL
and Redis, at a few reports a second. Figures are printed, never asserted (the machine is
shared); correctness is: every complaint the generators offered (on every channel, e-mail
included) was accepted and reached workflow, the gateway and the notifier exactly once,
and the replayed backlog lost nothing and applied nothing twice. vegeta comes from
`make deps` (deploy/scripts/vegeta.sh)."""

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
        "--read-load-rate", "40", "--read-load-seconds", "2",
        "--ceiling-seconds", "1", "--ceiling-messages", "1000",
        "--drain-timeout", "120", "--services", SERVICES, "--idle-seconds", "2",
        "--warmup-seconds", "3", "--warmup-rate", "4",
        "--generator-rate", "200", "--soak-minutes", "0.1", "--soak-rate", "4",
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
    channels: set[str] = set()
    for s in steps:
        # Open loop: every planned complaint was sent and answered 2xx, and reached the
        # notifier.
        assert s["accepted"] == s["sent"] > 0, s
        assert not s["failures"], s["failures"]
        assert s["reached_notifier"] == s["accepted"], s
        assert s["latency_ms"]["recorded"]["count"] == s["accepted"]
        assert s["latency_ms"]["accepted"]["count"] == s["accepted"]
        channels |= set(s["accepted_by_channel"])
        # Every process is counted, the sinks too; the generator apart.
        per = s["cpu_ms_per_report_by_process"]
        assert {"sinks", "intake", "workflow", "kafka", "postgres", "total"} <= set(per), per
        assert per["total"] > 0 and s["generator_cpu_ms"] > 0
        # The broker's JIT compiling is shown apart, as a part of the broker's own figure.
        assert 0 <= s["kafka_jit_cpu_ms"] <= s["cpu_ms"]["kafka"] + 0.1, s
        reads = s["reads"]
        assert reads["latency_ms"]["count"] == reads["reads"] > 0
        assert not [code for code in reads["statuses"] if code.startswith("5")], reads
        assert "200" in reads["statuses"]
    assert channels == {"web", "app", "whatsapp", "sms", "email"}, channels

    alone = result["reads_alone"]
    assert alone["reads"] == 24 and alone["latency_ms"]["count"] == 24, alone
    assert not [code for code in alone["statuses"] if code.startswith("5")], alone
    assert alone["gateway_cpu_ms_per_read"] > 0
    load = result["reads_load"]  # the read target's phase, at its own rate
    assert load["rate"] == 40 and load["reads"] == 80 == load["latency_ms"]["count"], load
    assert not [code for code in load["statuses"] if code.startswith("5")], load
    for s in steps:  # the reads' share taken out per process, never below zero
        out = s["cpu_ms_per_report_without_reads"]
        assert 0 <= out["total"] <= s["cpu_ms_per_report"] + 0.01, s
    assert "Gateway reads alone" in proc.stdout

    soak = result["soak"]  # 6 s at 4/s: one per-minute window
    assert soak["accepted"] == soak["sent"] == 24, soak
    assert [w["complaints"] for w in soak["windows"]] == [24]

    warm = result["warmup"]  # measured apart, counted in the reconciliation
    assert warm["accepted"] == 12 and warm["cpu_ms_per_report"] > 0, warm
    assert "warm-up, 4/s for 3 s (not counted)" in proc.stdout

    rec = result["reconciliation"]
    assert rec["accepted"] == result["warmup_reports"] + soak["accepted"] + sum(
        s["accepted"] for s in steps
    )
    assert rec["ok"], rec
    assert not any(rec["missing"].values()) and not any(rec["applied_twice"].values())

    replay = result["replay"]
    assert replay["workflow_opened"] == replay["notifier_recorded"] == 100
    assert (replay["lost"], replay["applied_twice"]) == (0, 0)

    c = result["ceilings"]
    assert c["fastapi"]["vegeta"]["req_per_s"] > 0
    assert c["fastapi"]["generator"]["codes"] == {"201": c["fastapi"]["generator"]["requests"]}
    assert c["kafka_batched"]["produce_consume_per_s"] > 0
    assert c["kafka_one_at_a_time"]["produce_consume_per_s"] > 0
    assert c["asyncpg"]["single_row_events_per_s"] > 0
    assert c["asyncpg"]["set_based_events_per_s"] > 0
    # wrk is installed by `make bench`, not `make test`: its row is there when it is.
    assert len(result["ratios_table"]) >= 5
    assert set(result["peak_rss_mb"]) >= {
        "sinks", "gateway", "intake", "workflow", "notifier", "kafka"
    }  # fmt: skip
    assert "Highest sustained rate" in proc.stdout
    assert "Generator capacity" in proc.stdout
