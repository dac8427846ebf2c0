"""`python -m aduan_workflow.cli`: operator commands.

- `diagram [--doc docs/workflow.md] [--print]` regenerates the lifecycle diagram from the
  code's transition table.
- `routing list | set <category> <agency> | delete <category>` edits the routing rules
  (category -> agency), which are data, not code; the ticket-admin overrides them per report
  with a DispatchReport. Uses the service's settings (`ADUAN_WORKFLOW_DATABASE_URL`).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert

from aduan_kit.db import make_engine, make_sessionmaker, migrate, transaction
from aduan_workflow.config import Settings
from aduan_workflow.diagram import mermaid, render_into
from aduan_workflow.tables import ROUTING_RULES

__all__ = ["main", "routing_delete", "routing_list", "routing_set"]


async def routing_set(database_url: str, category: str, agency_id: str) -> None:
    await migrate(database_url, "aduan_workflow:migrations")
    engine = make_engine(database_url, pool_size=1)
    try:
        async with transaction(make_sessionmaker(engine)) as session:
            stmt = insert(ROUTING_RULES).values(category=category, agency_id=agency_id)
            await session.execute(
                stmt.on_conflict_do_update(
                    index_elements=[ROUTING_RULES.c.category],
                    set_={"agency_id": stmt.excluded.agency_id},
                )
            )
    finally:
        await engine.dispose()


async def routing_delete(database_url: str, category: str) -> bool:
    await migrate(database_url, "aduan_workflow:migrations")
    engine = make_engine(database_url, pool_size=1)
    try:
        async with transaction(make_sessionmaker(engine)) as session:
            gone = await session.execute(
                delete(ROUTING_RULES)
                .where(ROUTING_RULES.c.category == category)
                .returning(ROUTING_RULES.c.category)
            )
            return gone.first() is not None
    finally:
        await engine.dispose()


async def routing_list(database_url: str) -> list[tuple[str, str]]:
    await migrate(database_url, "aduan_workflow:migrations")
    engine = make_engine(database_url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            rows = await session.execute(select(ROUTING_RULES).order_by(ROUTING_RULES.c.category))
            return [(row.category, row.agency_id) for row in rows]
    finally:
        await engine.dispose()


def _nonempty(limit: int) -> Callable[[str], str]:
    def check(value: str) -> str:
        value = value.strip()
        if not value or len(value) > limit:
            raise argparse.ArgumentTypeError(f"1 to {limit} characters")
        return value

    return check


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aduan_workflow.cli", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    diagram = sub.add_parser("diagram", help="regenerate the lifecycle diagram in the docs")
    diagram.add_argument("--doc", type=Path, default=Path("docs/workflow.md"))
    diagram.add_argument("--print", action="store_true", help="print it instead")
    routing = sub.add_parser("routing", help="category -> agency rules")
    rsub = routing.add_subparsers(dest="action", required=True)
    rsub.add_parser("list")
    set_ = rsub.add_parser("set")
    set_.add_argument("category", type=_nonempty(100))
    set_.add_argument("agency", type=_nonempty(64))
    delete_ = rsub.add_parser("delete")
    delete_.add_argument("category", type=_nonempty(100))
    args = parser.parse_args(argv)

    if args.command == "diagram":
        if args.print:
            print(mermaid())
            return 0
        changed = render_into(args.doc)
        print(f"{args.doc}: {'updated' if changed else 'already up to date'}")
        return 0
    url = Settings().database_url
    if args.action == "set":
        asyncio.run(routing_set(url, args.category, args.agency))
        print(f"routing: {args.category} -> {args.agency}")
    elif args.action == "delete":
        if not asyncio.run(routing_delete(url, args.category)):
            print(f"routing: no rule for {args.category}", file=sys.stderr)
            return 1
        print(f"routing: {args.category} removed")
    else:
        for category, agency in asyncio.run(routing_list(url)):
            print(f"{category}\t{agency}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
