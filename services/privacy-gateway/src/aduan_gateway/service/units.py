"""Agency units in a hierarchy (issue 19, decisions D19) and the read scope they give.

A unit is an agency row (`unit_id` == `agency_id`): reports, users and routing rules keep
naming agencies, and a unit tree is only `parent_id` links between them, with a kind
(dinas, suku-dinas, kecamatan, kelurahan, other) and the areas each covers.

Scope (what an agency officer may read): their own unit; a unit head's, their unit and
every unit below it. Acting on a report stays with the unit it is assigned to (workflow's
checks). The tree is small (hundreds of units) and read on every officer's request, so it
is cached per process (`UnitTreeCache`) for a few seconds; a change made through this
replica is seen at once (the cache is dropped), another replica's within `TTL_S`.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import aduan_areas
from aduan_contracts.enums import Role
from aduan_gateway.adapters.tables import AGENCIES, USERS

__all__ = [
    "KINDS",
    "TTL_S",
    "Unit",
    "UnitError",
    "UnitTree",
    "UnitTreeCache",
    "clean_area_codes",
    "create_unit",
    "load_tree",
    "officer_counts",
    "update_unit",
]

KINDS = ("dinas", "suku-dinas", "kecamatan", "kelurahan", "other")
TTL_S = 5.0
_UNIT_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
MAX_AREAS = 200


class UnitError(Exception):
    """A refused unit change; `reason` names the field and is safe to show."""

    def __init__(self, reason: str, status: int = 422) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass(frozen=True, slots=True)
class Unit:
    unit_id: str
    name: str
    kind: str = "other"
    parent_id: str | None = None
    area_codes: tuple[str, ...] = ()


@dataclass(frozen=True)
class UnitTree:
    """Every unit, with its children; built once per load, read by many requests."""

    units: dict[str, Unit]
    children: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def of(cls, units: Iterable[Unit]) -> UnitTree:
        by_id = {u.unit_id: u for u in units}
        kids: dict[str, list[str]] = {}
        for u in sorted(by_id.values(), key=lambda u: (u.name.lower(), u.unit_id)):
            if u.parent_id is not None and u.parent_id in by_id:
                kids.setdefault(u.parent_id, []).append(u.unit_id)
        return cls(by_id, {k: tuple(v) for k, v in kids.items()})

    def get(self, unit_id: str | None) -> Unit | None:
        return self.units.get(unit_id) if unit_id is not None else None

    def subtree(self, unit_id: str) -> frozenset[str]:
        """The unit and every unit below it (the unit alone when unknown: a token's agency
        that was never a unit row still scopes to itself, never to nothing or everything)."""
        out = {unit_id}
        todo = [unit_id]
        while todo:
            for child in self.children.get(todo.pop(), ()):
                if child not in out:  # a cycle cannot be stored, but never loop on one
                    out.add(child)
                    todo.append(child)
        return frozenset(out)

    def ancestors(self, unit_id: str) -> list[str]:
        """Parent, grandparent, ... up to the root (nearest first)."""
        out: list[str] = []
        current = self.get(unit_id)
        while current is not None and current.parent_id is not None:
            if current.parent_id in out or current.parent_id == unit_id:
                break
            out.append(current.parent_id)
            current = self.get(current.parent_id)
        return out

    def path(self, unit_id: str) -> list[str]:
        """Unit ids from the root down to this unit, itself included."""
        return [*reversed(self.ancestors(unit_id)), unit_id]

    def ordered(self) -> list[Unit]:
        """Tree order: each root then its descendants depth first, siblings by name."""
        roots = sorted(
            (
                u
                for u in self.units.values()
                if u.parent_id is None or u.parent_id not in self.units
            ),
            key=lambda u: (u.name.lower(), u.unit_id),
        )
        out: list[Unit] = []

        def walk(unit: Unit) -> None:
            out.append(unit)
            for child in self.children.get(unit.unit_id, ()):
                walk(self.units[child])

        for root in roots:
            walk(root)
        return out

    def scope(self, role: Role, agency_id: str | None, unit_head: bool) -> frozenset[str]:
        """The units whose reports an agency officer reads (empty without a unit)."""
        if role is not Role.AGENCY_OFFICER or agency_id is None:
            return frozenset()
        return self.subtree(agency_id) if unit_head else frozenset({agency_id})


def _unit(row: Any) -> Unit:
    return Unit(
        unit_id=row.agency_id,
        name=row.name,
        kind=row.kind,
        parent_id=row.parent_id,
        area_codes=tuple(row.area_codes or ()),
    )


async def load_tree(session: Any) -> UnitTree:
    rows = await session.execute(
        select(
            AGENCIES.c.agency_id,
            AGENCIES.c.name,
            AGENCIES.c.kind,
            AGENCIES.c.parent_id,
            AGENCIES.c.area_codes,
        )
    )
    return UnitTree.of(_unit(r) for r in rows)


class UnitTreeCache:
    """The tree for `TTL_S` seconds per process; `invalidate` after a local change."""

    def __init__(
        self, sessions: Callable[[], async_sessionmaker[AsyncSession]], ttl_s: float = TTL_S
    ) -> None:
        # A callable: the runtime's session factory exists only once it has started.
        self._sessions = sessions
        self._ttl_s = ttl_s
        self._tree: UnitTree | None = None
        self._loaded_at = 0.0
        self._lock = asyncio.Lock()

    async def get(self) -> UnitTree:
        tree = self._tree
        if tree is not None and time.monotonic() - self._loaded_at < self._ttl_s:
            return tree
        async with self._lock:
            # Another request may have loaded it while this one waited.
            if self._tree is not None and time.monotonic() - self._loaded_at < self._ttl_s:
                return self._tree
            async with self._sessions()() as session:
                tree = await load_tree(session)
            self._tree, self._loaded_at = tree, time.monotonic()
            return tree

    def invalidate(self) -> None:
        self._tree = None


def clean_area_codes(codes: Iterable[str]) -> tuple[str, ...]:
    """Dotted Kemendagri codes, checked against the list, deduplicated and sorted."""
    out: set[str] = set()
    for raw in codes:
        code = aduan_areas.normalize_code(raw)
        if code is None or aduan_areas.get(code) is None:
            raise UnitError(f"area_codes: not a Kemendagri area code: {raw!r}")
        out.add(code)
    if len(out) > MAX_AREAS:
        raise UnitError(f"area_codes: at most {MAX_AREAS}")
    return tuple(sorted(out))


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise UnitError(f"kind: one of {', '.join(KINDS)}")


async def _tree_for_update(session: AsyncSession) -> UnitTree:
    # One writer of the tree at a time: two concurrent re-parentings could each pass the
    # cycle check and together make a cycle.
    await session.execute(select(func.pg_advisory_xact_lock(0x41_44_55_4E_49_54)))
    return await load_tree(session)


def check_parent(tree: UnitTree, unit_id: str, parent_id: str | None) -> None:
    if parent_id is None:
        return
    if parent_id not in tree.units:
        raise UnitError("parent_id: no such unit")
    if parent_id == unit_id or unit_id in tree.ancestors(parent_id):
        raise UnitError("parent_id: a unit cannot be its own ancestor (cycle)")


async def create_unit(session: AsyncSession, unit: Unit) -> Unit:
    if not _UNIT_ID.match(unit.unit_id):
        raise UnitError("unit_id: lower-case letters, digits and dashes (at most 64)")
    _check_kind(unit.kind)
    areas = clean_area_codes(unit.area_codes)
    tree = await _tree_for_update(session)
    if unit.unit_id in tree.units:
        raise UnitError("unit_id already taken", status=409)
    check_parent(tree, unit.unit_id, unit.parent_id)
    result = await session.execute(
        insert(AGENCIES)
        .values(
            agency_id=unit.unit_id,
            name=unit.name,
            kind=unit.kind,
            parent_id=unit.parent_id,
            area_codes=list(areas),
        )
        .on_conflict_do_nothing()
        .returning(AGENCIES.c.agency_id)
    )
    if result.first() is None:
        raise UnitError("unit_id already taken", status=409)
    return Unit(unit.unit_id, unit.name, unit.kind, unit.parent_id, areas)


_UNSET: Any = object()


async def update_unit(
    session: AsyncSession,
    unit_id: str,
    *,
    name: str | None = None,
    kind: str | None = None,
    parent_id: str | None = _UNSET,
    area_codes: Iterable[str] | None = None,
) -> Unit:
    tree = await _tree_for_update(session)
    current = tree.get(unit_id)
    if current is None:
        raise UnitError("no such unit", status=404)
    values: dict[str, Any] = {}
    if name is not None:
        values["name"] = name
    if kind is not None:
        _check_kind(kind)
        values["kind"] = kind
    if parent_id is not _UNSET:
        check_parent(tree, unit_id, parent_id)
        values["parent_id"] = parent_id
    if area_codes is not None:
        values["area_codes"] = list(clean_area_codes(area_codes))
    if values:
        await session.execute(
            update(AGENCIES).where(AGENCIES.c.agency_id == unit_id).values(**values)
        )
    return Unit(
        unit_id=unit_id,
        name=values.get("name", current.name),
        kind=values.get("kind", current.kind),
        parent_id=values.get("parent_id", current.parent_id),
        area_codes=tuple(values.get("area_codes", current.area_codes)),
    )


async def officer_counts(session: Any) -> dict[str, tuple[int, int]]:
    """unit id -> (active agency officers, of whom unit heads)."""
    rows = await session.execute(
        select(
            USERS.c.agency_id,
            func.count(),
            func.count().filter(USERS.c.unit_head.is_(True)),
        )
        .where(
            USERS.c.role == Role.AGENCY_OFFICER.value,
            USERS.c.active.is_(True),
            USERS.c.agency_id.is_not(None),
        )
        .group_by(USERS.c.agency_id)
    )
    return {r[0]: (int(r[1]), int(r[2])) for r in rows}
