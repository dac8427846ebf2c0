"""The category catalogue, owned by the gateway: names for the portal and the console, and
the agency each category is routed to. A change of a category's agency queues a routing
command for workflow in the same transaction (outbox), so workflow's auto-dispatch follows
the catalogue without the gateway ever touching workflow's database."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from aduan_contracts.commands import RemoveRoutingRule, SetRoutingRule
from aduan_contracts.values import Actor
from aduan_gateway.tables import AGENCIES, CATEGORIES, OUTBOX
from aduan_kit.messaging import add_to_outbox

__all__ = [
    "CATEGORY_CODE",
    "Category",
    "CategoryError",
    "delete_category",
    "list_categories",
    "put_category",
]

CATEGORY_CODE = re.compile(r"^[a-z0-9][a-z0-9\-]{0,99}$")


class CategoryError(Exception):
    """A refused catalogue change; `reason` is safe to show the caller."""

    def __init__(self, reason: str, status: int = 422) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True, slots=True)
class Category:
    code: str
    name_id: str
    name_en: str
    agency_id: str | None


async def list_categories(session: AsyncSession) -> list[Category]:
    rows = await session.execute(select(CATEGORIES).order_by(CATEGORIES.c.code))
    return [Category(r.code, r.name_id, r.name_en, r.agency_id) for r in rows]


async def _route(
    session: AsyncSession, topic: str, actor: Actor, code: str, agency_id: str | None
) -> None:
    command: SetRoutingRule | RemoveRoutingRule = (
        SetRoutingRule(actor=actor, category=code, agency_id=agency_id)
        if agency_id is not None
        else RemoveRoutingRule(actor=actor, category=code)
    )
    # Keyed by category: every change to one category lands on one partition, in order.
    await add_to_outbox(session, OUTBOX, topic, command, key=code)


async def put_category(
    session: AsyncSession, routing_topic: str, actor: Actor, category: Category
) -> bool:
    """Create or replace a category. True when anything changed (a routing command was
    queued when its agency changed); an identical PUT changes nothing and sends nothing."""
    if not CATEGORY_CODE.match(category.code):
        raise CategoryError("category code: lower-case letters, digits and dashes")
    if category.agency_id is not None:
        known = await session.scalar(
            select(AGENCIES.c.agency_id).where(AGENCIES.c.agency_id == category.agency_id)
        )
        if known is None:
            raise CategoryError(f"unknown agency {category.agency_id!r}")
    old = (
        await session.execute(
            select(CATEGORIES).where(CATEGORIES.c.code == category.code).with_for_update()
        )
    ).first()
    if old is not None and (old.name_id, old.name_en, old.agency_id) == (
        category.name_id,
        category.name_en,
        category.agency_id,
    ):
        return False
    values = {
        "name_id": category.name_id,
        "name_en": category.name_en,
        "agency_id": category.agency_id,
        "updated_at": func.now(),
    }
    stmt = insert(CATEGORIES).values(code=category.code, **values)
    await session.execute(
        stmt.on_conflict_do_update(index_elements=[CATEGORIES.c.code], set_=values)
    )
    old_agency = old.agency_id if old is not None else None
    if old_agency != category.agency_id:
        await _route(session, routing_topic, actor, category.code, category.agency_id)
    return True


async def delete_category(
    session: AsyncSession, routing_topic: str, actor: Actor, code: str
) -> bool:
    """False when there was no such category. Its routing rule goes with it."""
    gone = (
        await session.execute(
            delete(CATEGORIES).where(CATEGORIES.c.code == code).returning(CATEGORIES.c.agency_id)
        )
    ).first()
    if gone is None:
        return False
    if gone.agency_id is not None:
        await _route(session, routing_topic, actor, code, None)
    return True
