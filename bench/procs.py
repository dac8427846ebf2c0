"""CPU time and memory of processes, read from /proc (Linux only, no extra dependency).

CPU is user+system time including reaped children (PostgreSQL's postmaster reaps its
backends, so their CPU lands in its `cutime`/`cstime` once they exit).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "ProcessGroup",
    "backend_database",
    "cpu_delta",
    "cpu_ms",
    "find_pids",
    "jit_cpu_ms",
    "parse_stat",
    "per_item",
    "rss_kb",
    "stat_cpu_ms",
]

_TICK = os.sysconf("SC_CLK_TCK")


def parse_stat(raw: str) -> list[str]:
    """The fields of a /proc/<pid>/stat line after the command name (state first). The name
    may hold spaces and parentheses: split after the last ')'."""
    return raw[raw.rfind(")") + 2 :].split()


def _stat(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return parse_stat(raw)


def stat_cpu_ms(fields: list[str], children: bool = True, tick: int = _TICK) -> float:
    """CPU ms from parsed stat fields: state(0) ppid(1) ... utime(11) stime(12) cutime(13)
    cstime(14); children = reaped children's time too."""
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks * 1000.0 / tick


def cpu_ms(pid: int, children: bool = True) -> float:
    """User+system CPU milliseconds used so far by `pid` (0 when it is gone)."""
    fields = _stat(pid)
    if fields is None:
        return 0.0
    return stat_cpu_ms(fields, children)


def jit_cpu_ms(pids: list[int]) -> float:
    """CPU ms used so far by the JIT compiler threads of these (JVM) processes: the broker's
    C1/C2 threads, named "C1 CompilerThre" / "C2 CompilerThre" in /proc (a thread's name
    is cut at 15 characters). A fresh broker compiles its hot code for minutes on a slow
    machine (issue 18, eighteenth step: half the broker's CPU in a 100/s step after a 30-s
    warm-up); a long-running one has done so long ago, so each step shows this part."""
    total = 0.0
    for pid in pids:
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                name = Path(f"/proc/{pid}/task/{tid}/comm").read_text().strip()
                if "CompilerThre" in name:
                    raw = Path(f"/proc/{pid}/task/{tid}/stat").read_text()
                    total += stat_cpu_ms(parse_stat(raw), children=False)
            except OSError:
                continue  # the thread ended between the listing and the read
    return total


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU ms per process between two readings (a process missing before counts from 0; a
    process whose reading went down was restarted: its new total is what it used).

    Readings named `name@pid` (one PostgreSQL backend each, `ProcessGroup.cpu`) are
    compared pid by pid and summed under `name`: a backend that closed in between (a pool
    shrinking after a burst) is simply not there, where a sum taken over the backends
    would have gone down, looked like a restart, and counted every live backend's whole
    life (it put 7-11 PostgreSQL CPU-ms on each read of the read-load phase, more CPU than
    two cores have)."""
    out: dict[str, float] = {}
    for key, now in after.items():
        was = before.get(key, 0.0)
        name = key.split("@", 1)[0]
        out[name] = out.get(name, 0.0) + (now - was if now >= was else now)
    return {name: round(ms, 1) for name, ms in out.items()}


def per_item(cpu: dict[str, float], items: int, exclude: tuple[str, ...] = ()) -> dict[str, float]:
    """CPU ms per item (report, read) per process, and their `total` (minus `exclude`d)."""
    if items <= 0:
        return {}
    out = {name: round(ms / items, 3) for name, ms in cpu.items() if name not in exclude}
    out["total"] = round(sum(ms for n, ms in cpu.items() if n not in exclude) / items, 3)
    return out


def rss_kb(pid: int) -> tuple[int, int]:
    """(current RSS, peak RSS) in KiB; (0, 0) when the process is gone."""
    current = peak = 0
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                current = int(line.split()[1])
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1])
    except OSError:
        pass
    return current, peak


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return []


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def find_pids(kind: str) -> list[int]:
    """Pids of shared infrastructure: 'kafka' (kafka.Kafka JVMs), 'postgres' (the
    postmasters: their children's CPU is counted through them), 'redis'."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        pid = int(entry.name)
        if kind == "kafka":
            if "kafka.Kafka" in _cmdline(pid):
                found.append(pid)
        elif kind == "postgres":
            stat = _stat(pid)
            # The postmaster is the postgres process whose parent is not postgres.
            if _comm(pid) == "postgres" and stat is not None and _comm(int(stat[1])) != "postgres":
                found.append(pid)
        elif kind == "redis" and _comm(pid).startswith("redis-server"):
            found.append(pid)
    return sorted(found)


def backend_database(cmdline: str) -> str | None:
    """The database of a PostgreSQL backend from its process title
    ("postgres: user dbname 127.0.0.1(33522) idle"); None for the server's own workers."""
    parts = cmdline.replace("\0", " ").split()
    if len(parts) >= 4 and parts[0] == "postgres:" and "(" in parts[3]:
        return parts[2]
    return None


def _backends_ms(postmaster: int, prefix: str) -> dict[int, float]:
    """CPU of each of the postmaster's live backends connected to a database named
    `prefix...`, by pid."""
    total: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            pid = int(entry.name)
            stat = _stat(pid)
            if stat is None or int(stat[1]) != postmaster:
                continue
            db = backend_database(" ".join(_cmdline(pid)))
            if db is not None and db.startswith(prefix):
                total[pid] = cpu_ms(pid)
    return total


def _children(parent: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and int(stat[1]) == parent:
                found.append(int(entry.name))
    return found


def _tree_ms(parent: int) -> float:
    """A process's own and reaped children's CPU plus its live children's (a postmaster
    and its backends; uvicorn's supervisor and its workers)."""
    return cpu_ms(parent) + sum(cpu_ms(child) for child in _children(parent))


@dataclass
class ProcessGroup:
    """Named processes whose CPU and memory a benchmark step reports."""

    pids: dict[str, list[int]] = field(default_factory=dict)
    # names whose children count (a postmaster; a service run as several HTTP workers)
    trees: set[str] = field(default_factory=set)
    # name -> database prefix: only the backends serving those databases count (a shared
    # PostgreSQL also serves other people's tests; their CPU is not ours).
    backends: dict[str, str] = field(default_factory=dict)

    def add(self, name: str, pids: list[int], tree: bool = False, databases: str = "") -> None:
        self.pids[name] = pids
        if tree:
            self.trees.add(name)
        if databases:
            self.backends[name] = databases

    def cpu(self) -> dict[str, float]:
        """CPU ms per name; backends per pid, as `name@pid` (compare with `cpu_delta`)."""
        out: dict[str, float] = {}
        for name, pids in self.pids.items():
            if name in self.backends:
                out[name] = 0.0  # present even with no backend open
                for p in pids:
                    for pid, ms in _backends_ms(p, self.backends[name]).items():
                        out[f"{name}@{pid}"] = ms
            elif name in self.trees:
                out[name] = sum(_tree_ms(p) for p in pids)
            else:
                out[name] = sum(cpu_ms(p) for p in pids)
        return out

    def peak_rss_mb(self) -> dict[str, float]:
        out = {}
        for name, pids in self.pids.items():
            every = [*pids]
            if name in self.trees and name not in self.backends:
                every += [child for p in pids for child in _children(p)]
            out[name] = round(sum(rss_kb(p)[1] for p in every) / 1024, 1)
        return out
