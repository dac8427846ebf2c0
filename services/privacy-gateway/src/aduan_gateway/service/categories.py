"""The category catalogue, owned by the gateway: names (Indonesian and English),
descriptions, keywords, group, the agency each category is routed to, active or retired.

Every change bumps the category's `version` and queues its full state
(`CategoryPublished`) to the compacted topic `gateway.categories.v1` through the outbox in
the same transaction, so the topic never says anything the catalogue did not commit and
never misses a change. Intake (which codes a structured channel may file under), the
portal (filing form, filters, names) and workflow (auto-routing to the agency) read it from
there. Categories are never deleted, only retired: a retired category is refused for new
reports and still names the old ones."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

import aduan_areas
from aduan_contracts.envelope import utcnow
from aduan_contracts.events import AreaRoute, CategoryPublished
from aduan_contracts.values import Actor
from aduan_gateway.adapters.tables import AGENCIES, CATEGORIES, OUTBOX
from aduan_kit.messaging import add_to_outbox

__all__ = [
    "CATEGORY_CODE",
    "AreaRoute",
    "Category",
    "CategoryError",
    "area_route",
    "get_category",
    "list_categories",
    "put_category",
    "republish_categories",
    "retire_category",
]

CATEGORY_CODE = re.compile(r"^[a-z0-9][a-z0-9\-]{0,99}$")
MAX_KEYWORDS = 50
MAX_AREA_ROUTES = 500


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
    description_id: str = ""
    description_en: str = ""
    keywords: tuple[str, ...] = ()
    group: str | None = None
    active: bool = True
    # Routing by place (issue 19): area code -> agency, sorted by area code, one per area.
    area_routes: tuple[AreaRoute, ...] = ()
    # Set by the store: what the reader gets back, ignored on a write.
    version: int = field(default=0, compare=False)
    updated_at: datetime | None = field(default=None, compare=False)

    def with_routes(self, routes: tuple[AreaRoute, ...]) -> Category:
        return replace(self, area_routes=routes)

    def content(self) -> tuple[Any, ...]:
        """What an administrator edits (a PUT with the same content changes nothing)."""
        return (
            self.name_id,
            self.name_en,
            self.agency_id,
            self.description_id,
            self.description_en,
            self.keywords,
            self.group,
            self.active,
            self.area_routes,
        )


def clean_keywords(words: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Lower-case, trimmed, without duplicates, in the order given."""
    seen: dict[str, None] = {}
    for word in words:
        w = " ".join(word.lower().split())
        if w:
            seen.setdefault(w[:100], None)
    if len(seen) > MAX_KEYWORDS:
        raise CategoryError(f"at most {MAX_KEYWORDS} keywords")
    return tuple(seen)


def area_route(area_code: str, agency_id: str) -> AreaRoute:
    """A route from what an administrator typed: the code in any accepted shape (dotted,
    undotted), checked against the Kemendagri list."""
    code = aduan_areas.normalize_code(area_code)
    if code is None or aduan_areas.get(code) is None:
        raise CategoryError("area code is not a Kemendagri area code (e.g. 31.71.01)")
    if not agency_id or len(agency_id) > 64:
        raise CategoryError("agency: 1 to 64 characters")
    return AreaRoute(area_code=code, agency_id=agency_id)


def clean_area_routes(routes: tuple[AreaRoute, ...] | list[AreaRoute]) -> tuple[AreaRoute, ...]:
    """Codes normalized to the dotted form and checked against the Kemendagri list, one
    route per area, sorted by area code (so the same routes always compare equal)."""
    by_area: dict[str, AreaRoute] = {}
    for route in routes:
        code = aduan_areas.normalize_code(route.area_code)
        if code is None or aduan_areas.get(code) is None:
            raise CategoryError(f"area {route.area_code!r} is not a Kemendagri area code")
        if code in by_area:
            raise CategoryError(f"area {code} has two routes: keep one")
        by_area[code] = AreaRoute(area_code=code, agency_id=route.agency_id)
    if len(by_area) > MAX_AREA_ROUTES:
        raise CategoryError(f"at most {MAX_AREA_ROUTES} area routes per category")
    return tuple(by_area[c] for c in sorted(by_area))


def _of(row: Any) -> Category:
    return Category(
        code=row.code,
        name_id=row.name_id,
        name_en=row.name_en,
        agency_id=row.agency_id,
        description_id=row.description_id,
        description_en=row.description_en,
        keywords=tuple(row.keywords or ()),
        group=row.category_group,
        active=row.active,
        area_routes=tuple(AreaRoute.model_validate(r) for r in row.area_routes or ()),
        version=row.version,
        updated_at=row.updated_at,
    )


def published(category: Category) -> CategoryPublished:
    return CategoryPublished(
        code=category.code,
        version=category.version,
        name_id=category.name_id,
        name_en=category.name_en,
        description_id=category.description_id,
        description_en=category.description_en,
        keywords=category.keywords,
        group=category.group,
        agency_id=category.agency_id,
        area_routes=category.area_routes,
        active=category.active,
        updated_at=category.updated_at or utcnow(),
    )


async def _publish(session: AsyncSession, topic: str, category: Category) -> None:
    # Keyed by code: compaction keeps each category's latest record, in order.
    await add_to_outbox(session, OUTBOX, topic, published(category), key=category.code)


async def list_categories(session: AsyncSession) -> list[Category]:
    """Every category, retired included (the caller decides what to show)."""
    rows = await session.execute(select(CATEGORIES).order_by(CATEGORIES.c.code))
    return [_of(r) for r in rows]


async def get_category(session: AsyncSession, code: str, *, lock: bool = False) -> Category | None:
    """One category; `lock`: held until the transaction ends (a read-modify-write of its
    routes must not lose a concurrent administrator's change)."""
    query = select(CATEGORIES).where(CATEGORIES.c.code == code)
    row = (await session.execute(query.with_for_update() if lock else query)).first()
    return _of(row) if row is not None else None


async def put_category(
    session: AsyncSession, topic: str, actor: Actor, category: Category
) -> Category | None:
    """Create or replace a category and queue its new state. Returns the stored category,
    or None when nothing changed (an identical PUT sends nothing)."""
    if not CATEGORY_CODE.match(category.code):
        raise CategoryError("category code: lower-case letters, digits and dashes")
    category = replace(
        category,
        keywords=clean_keywords(category.keywords),
        area_routes=clean_area_routes(category.area_routes),
    )
    agencies = {r.agency_id for r in category.area_routes}
    if category.agency_id is not None:
        agencies.add(category.agency_id)
    if agencies:
        known = set(
            await session.scalars(
                select(AGENCIES.c.agency_id).where(AGENCIES.c.agency_id.in_(agencies))
            )
        )
        unknown = sorted(agencies - known)
        if unknown:
            raise CategoryError(f"unknown agency {unknown[0]!r}")
    old_row = (
        await session.execute(
            select(CATEGORIES).where(CATEGORIES.c.code == category.code).with_for_update()
        )
    ).first()
    old = _of(old_row) if old_row is not None else None
    if old is not None and old.content() == category.content():
        return None
    values = {
        "name_id": category.name_id,
        "name_en": category.name_en,
        "agency_id": category.agency_id,
        "description_id": category.description_id,
        "description_en": category.description_en,
        "keywords": list(category.keywords),
        "category_group": category.group,
        "active": category.active,
        "area_routes": [r.model_dump(mode="json") for r in category.area_routes],
        "version": (old.version if old is not None else 0) + 1,
        "updated_at": func.now(),
        "updated_by": actor.id,
    }
    stmt = insert(CATEGORIES).values(code=category.code, **values)
    row = (
        await session.execute(
            stmt.on_conflict_do_update(index_elements=[CATEGORIES.c.code], set_=values).returning(
                *CATEGORIES.c
            )
        )
    ).one()
    stored = _of(row)
    await _publish(session, topic, stored)
    return stored


async def retire_category(session: AsyncSession, topic: str, actor: Actor, code: str) -> bool:
    """Retire a category: refused for new reports from now on, still the name of old ones.
    False when there is no such category (retiring a retired one changes nothing)."""
    row = (
        await session.execute(
            update(CATEGORIES)
            .where(CATEGORIES.c.code == code, CATEGORIES.c.active.is_(True))
            .values(
                active=False,
                version=CATEGORIES.c.version + 1,
                updated_at=func.now(),
                updated_by=actor.id,
            )
            .returning(*CATEGORIES.c)
        )
    ).first()
    if row is None:
        return await get_category(session, code) is not None
    await _publish(session, topic, _of(row))
    return True


async def republish_categories(session: AsyncSession, topic: str) -> int:
    """Queue every category's current state again (same versions: readers that have it
    change nothing). Done at every gateway start, so categories created before the topic
    existed, or a topic recreated empty, reach every reader without an administrator."""
    categories = await list_categories(session)
    for category in categories:
        await _publish(session, topic, category)
    return len(categories)
