"""`python -m aduan_workflow.cli`: operator commands.

- `diagram [--doc docs/workflow.md] [--print]` regenerates the lifecycle diagram from the
  code's transition table.
- `routing list` prints the routing workflow applies: each active category of its copy of
  the catalogue that has an agency (category TAB agency). Routing is edited where the
  catalogue is, in the gateway's console (administrators); then each route by area
  (category TAB area code TAB agency: the most specific one holding a report's area wins,
  when intake was sure enough of the area); the ticket-admin overrides it
  per report with a DispatchReport. Uses the service's settings
  (`ADUAN_WORKFLOW_DATABASE_URL`).
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import select

from aduan_contracts.events import CategoryPublished
from aduan_kit.db import make_engine, make_sessionmaker, migrate
from aduan_workflow.adapters.tables import CATALOGUE
from aduan_workflow.config import Settings
from aduan_workflow.diagram import mermaid, render_into

__all__ = ["area_routing_list", "main", "routing_list"]


async def routing_list(database_url: str) -> list[tuple[str, str]]:
    """(category, agency) for every active category with an agency, by category."""
    await migrate(database_url, "aduan_workflow:migrations")
    engine = make_engine(database_url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            rows = await session.execute(
                select(CATALOGUE.c.code, CATALOGUE.c.agency_id)
                .where(CATALOGUE.c.active.is_(True), CATALOGUE.c.agency_id.is_not(None))
                .order_by(CATALOGUE.c.code)
            )
            return [(row.code, row.agency_id) for row in rows]
    finally:
        await engine.dispose()


async def area_routing_list(database_url: str) -> list[tuple[str, str, str]]:
    """(category, area code, agency) for every route by area of an active category."""
    await migrate(database_url, "aduan_workflow:migrations")
    engine = make_engine(database_url, pool_size=1)
    try:
        async with make_sessionmaker(engine)() as session:
            rows = await session.execute(
                select(CATALOGUE.c.record)
                .where(CATALOGUE.c.active.is_(True))
                .order_by(CATALOGUE.c.code)
            )
            found: list[tuple[str, str, str]] = []
            for row in rows:
                category = CategoryPublished.model_validate(row.record)
                found += [(category.code, r.area_code, r.agency_id) for r in category.area_routes]
            return found
    finally:
        await engine.dispose()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m aduan_workflow.cli", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    diagram = sub.add_parser("diagram", help="regenerate the lifecycle diagram in the docs")
    diagram.add_argument("--doc", type=Path, default=Path("docs/workflow.md"))
    diagram.add_argument("--print", action="store_true", help="print it instead")
    routing = sub.add_parser("routing", help="category -> agency, from the catalogue")
    rsub = routing.add_subparsers(dest="action", required=True)
    rsub.add_parser("list")
    args = parser.parse_args(argv)

    if args.command == "diagram":
        if args.print:
            print(mermaid())
            return 0
        changed = render_into(args.doc)
        print(f"{args.doc}: {'updated' if changed else 'already up to date'}")
        return 0
    url = Settings().database_url
    for category, agency in asyncio.run(routing_list(url)):
        print(f"{category}\t{agency}")
    for category, area, agency in asyncio.run(area_routing_list(url)):
        print(f"{category}\t{area}\t{agency}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
