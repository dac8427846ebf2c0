"""PostgreSQL's time by statement across every service's database (issue 18, eighth step):
what `pg_stat_statements` counted since the last reset, grouped by the service whose
database ran it, the statements that took the most first.

    make down; ADUAN_PG_STAT_STATEMENTS=1 deploy/scripts/infra.sh up
    uv run --frozen python -m bench.pg_statements reset
    uv run --frozen python -m bench.run --rates 40,100 ... --keep   # --keep: databases stay
    uv run --frozen python -m bench.pg_statements report --per 5410  # per complaint

The times are wall time inside the executor (lock waits and, on a busy machine, waiting
for a core are in them): they rank statements, they are not CPU. Calls and rows are exact.
The server must have been started with the library loaded (`ADUAN_PG_STAT_STATEMENTS=1`
for deploy/scripts/postgres.sh); without it the command says so and exits 2.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
from dataclasses import dataclass

import asyncpg
from sqlalchemy import make_url

DEFAULT_URL = "postgresql://postgres:postgres@127.0.0.1:5432/postgres"

_REPORT = """
    SELECT d.datname, s.calls, s.rows, s.total_exec_time, s.query
    FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
    ORDER BY s.total_exec_time DESC
"""


@dataclass(frozen=True)
class Statement:
    service: str
    calls: int
    rows: int
    ms: float
    query: str


def service_of(database: str) -> str:
    """The service a database belongs to: the bench's and tests' databases are named
    `<prefix>_<service>` (bench1a2b3c4d_gateway), make up's `aduan_<service>`."""
    return database.rsplit("_", 1)[-1] if "_" in database else database


def one_line(query: str, width: int) -> str:
    text = re.sub(r"\s+", " ", query).strip()
    return text if len(text) <= width else text[: width - 1] + "…"


def render(statements: list[Statement], top: int, per: int | None, width: int) -> str:
    """A Markdown report: the totals by service, then the `top` statements."""
    by_service: dict[str, list[Statement]] = {}
    for s in statements:
        by_service.setdefault(s.service, []).append(s)
    unit = f" / {per}" if per else ""
    lines = [
        f"| service | calls{unit} | ms{unit} |",
        "|---|---|---|",
    ]
    totals = sorted(
        (
            (name, sum(s.calls for s in group), sum(s.ms for s in group))
            for name, group in by_service.items()
        ),
        key=lambda t: -t[2],
    )
    for name, calls, ms in totals:
        lines.append(f"| {name} | {_scaled(calls, per)} | {_scaled(ms, per)} |")
    lines += [
        "",
        "| service | calls | rows | ms | ms a call | statement |",
        "|---|---|---|---|---|---|",
    ]
    for s in sorted(statements, key=lambda s: -s.ms)[:top]:
        lines.append(
            f"| {s.service} | {s.calls} | {s.rows} | {s.ms:.0f} | {s.ms / max(s.calls, 1):.3f} "
            f"| `{one_line(s.query, width).replace('|', '¦')}` |"
        )
    return "\n".join(lines)


def _scaled(value: float, per: int | None) -> str:
    return f"{value / per:.3f}" if per else f"{value:.0f}"


async def _connect(url: str) -> asyncpg.Connection:
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    return await asyncpg.connect(dsn)


async def _loaded(conn: asyncpg.Connection) -> bool:
    libraries = await conn.fetchval("SHOW shared_preload_libraries")
    if "pg_stat_statements" not in libraries:
        return False
    await conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
    return True


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["reset", "report"])
    parser.add_argument("--url", default=os.environ.get("DATABASE_URL", DEFAULT_URL))
    parser.add_argument("--top", type=int, default=25, help="statements listed")
    parser.add_argument("--per", type=int, help="divide the totals by this (complaints)")
    parser.add_argument("--width", type=int, default=110, help="characters of each statement")
    args = parser.parse_args(argv)
    conn = await _connect(args.url)
    try:
        if not await _loaded(conn):
            print(
                "pg_stat_statements is not loaded: start PostgreSQL with "
                "ADUAN_PG_STAT_STATEMENTS=1 deploy/scripts/infra.sh up (after make down)",
                file=sys.stderr,
            )
            return 2
        if args.action == "reset":
            await conn.execute("SELECT pg_stat_statements_reset()")
            print("pg_stat_statements reset")
            return 0
        rows = await conn.fetch(_REPORT)
        statements = [
            Statement(
                service_of(r["datname"]), r["calls"], r["rows"], r["total_exec_time"], r["query"]
            )
            for r in rows
        ]
        print(render(statements, args.top, args.per, args.width))
        return 0
    finally:
        await conn.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
