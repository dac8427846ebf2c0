"""Agency units in a hierarchy (issue 19, decisions D19): administrators build the tree
(Dinas -> Suku Dinas per kota; kecamatan -> kelurahan), each unit with the areas it
covers; every staff role lists the units in its scope. A unit is an agency row, so
`unit_id` and `agency_id` are the same string everywhere."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Path, Request, status
from pydantic import BaseModel, ConfigDict, Field

import aduan_areas
from aduan_contracts.enums import Role
from aduan_contracts.http_gateway import UnitView
from aduan_gateway.auth import CurrentUser
from aduan_gateway.domain.views import FULL_ACCESS_ROLES, OFFICER_ROLES
from aduan_gateway.entrypoints.deps import SessionsDep, require_role
from aduan_gateway.service.units import (
    KINDS,
    Unit,
    UnitError,
    UnitTree,
    UnitTreeCache,
    create_unit,
    load_tree,
    officer_counts,
    update_unit,
)
from aduan_kit.db import transaction
from aduan_kit.logging import get_logger

__all__ = ["UnitBody", "UnitPatch", "UnitView", "units_router"]

log = get_logger(__name__)

_AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing, invalid or expired token"},
    403: {"description": "the role may not do this"},
}


class UnitBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    unit_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)
    kind: str = Field(default="other", description=" | ".join(KINDS))
    parent_id: str | None = Field(default=None, max_length=64)
    area_codes: list[str] = Field(default_factory=list, max_length=200)


class UnitPatch(BaseModel):
    """Any of the fields; `parent_id: null` makes the unit a root."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    kind: str | None = None
    parent_id: str | None = Field(default=None, max_length=64)
    area_codes: list[str] | None = Field(default=None, max_length=200)


def _label(code: str) -> str:
    area = aduan_areas.get(code)
    return aduan_areas.label(area) if area is not None else code


def _view(tree: UnitTree, unit: Unit, counts: dict[str, tuple[int, int]]) -> UnitView:
    path = tree.path(unit.unit_id)
    officers, heads = counts.get(unit.unit_id, (0, 0))
    return UnitView(
        unit_id=unit.unit_id,
        agency_id=unit.unit_id,
        name=unit.name,
        kind=unit.kind,
        parent_id=unit.parent_id,
        area_codes=list(unit.area_codes),
        area_labels=[_label(c) for c in unit.area_codes],
        depth=len(path) - 1,
        path=path,
        officer_count=officers,
        head_count=heads,
    )


def _error(exc: UnitError) -> HTTPException:
    return HTTPException(status_code=exc.status, detail=exc.reason)


def _invalidate(request: Request) -> None:
    cache: UnitTreeCache | None = getattr(request.app.state, "units", None)
    if cache is not None:
        cache.invalidate()


def units_router() -> APIRouter:
    router = APIRouter(tags=["administration"])

    async def _listing(sessions: Any, only: frozenset[str] | None) -> list[UnitView]:
        async with sessions() as session:
            tree = await load_tree(session)
            counts = await officer_counts(session)
        return [_view(tree, u, counts) for u in tree.ordered() if only is None or u.unit_id in only]

    @router.get("/v1/units", response_model=list[UnitView], responses=_AUTH_ERRORS)
    async def my_units(user: CurrentUser, sessions: SessionsDep) -> list[UnitView]:
        """The units in the caller's scope, in tree order: an agency officer's unit (a unit
        head's, with every unit below it); ticket-admins, validators and administrators
        every unit."""
        require_role(user, OFFICER_ROLES, "list units")
        only = None if user.role in FULL_ACCESS_ROLES else user.scope
        return await _listing(sessions, only)

    @router.get("/v1/admin/units", response_model=list[UnitView], responses=_AUTH_ERRORS)
    async def all_units(user: CurrentUser, sessions: SessionsDep) -> list[UnitView]:
        """Every unit in tree order (parents before children, siblings by name)."""
        require_role(user, {Role.ADMINISTRATOR}, "manage units")
        return await _listing(sessions, None)

    @router.post(
        "/v1/admin/units",
        response_model=UnitView,
        status_code=status.HTTP_201_CREATED,
        responses={
            **_AUTH_ERRORS,
            409: {"description": "unit_id already taken"},
            422: {"description": "bad id, kind, parent or area code (the field is named)"},
        },
    )
    async def add_unit(
        body: Annotated[UnitBody, Body()],
        user: CurrentUser,
        sessions: SessionsDep,
        request: Request,
    ) -> UnitView:
        """Create a unit under a parent (or as a root), with the areas it covers."""
        require_role(user, {Role.ADMINISTRATOR}, "manage units")
        try:
            async with transaction(sessions) as session:
                await create_unit(
                    session,
                    Unit(
                        body.unit_id, body.name, body.kind, body.parent_id, tuple(body.area_codes)
                    ),
                )
        except UnitError as exc:
            raise _error(exc) from None
        _invalidate(request)
        log.info("unit created", unit=body.unit_id, parent=body.parent_id, kind=body.kind)
        found = await _listing(sessions, frozenset({body.unit_id}))
        return found[0]

    @router.patch(
        "/v1/admin/units/{unit_id}",
        response_model=UnitView,
        responses={
            **_AUTH_ERRORS,
            404: {"description": "no such unit"},
            422: {"description": "bad kind, parent (unknown, or a cycle) or area code"},
        },
    )
    async def change_unit(
        unit_id: Annotated[str, Path(max_length=64)],
        body: Annotated[UnitPatch, Body()],
        user: CurrentUser,
        sessions: SessionsDep,
        request: Request,
    ) -> UnitView:
        """Rename, re-kind, move (a new parent; no cycles) or change the areas of a unit.
        Moving a unit changes its officers' and heads' scopes within seconds (every
        gateway replica reloads the tree at least every few seconds)."""
        require_role(user, {Role.ADMINISTRATOR}, "manage units")
        fields = body.model_fields_set
        if not fields:
            raise HTTPException(status_code=422, detail="nothing to change")
        if "name" in fields and body.name is None:
            raise HTTPException(status_code=422, detail="name: a unit has a name")
        if "area_codes" in fields and body.area_codes is None:
            raise HTTPException(status_code=422, detail="area_codes: a list (may be empty)")
        try:
            async with transaction(sessions) as session:
                await update_unit(
                    session,
                    unit_id,
                    name=body.name,
                    kind=body.kind,
                    area_codes=body.area_codes,
                    **({"parent_id": body.parent_id} if "parent_id" in fields else {}),
                )
        except UnitError as exc:
            raise _error(exc) from None
        _invalidate(request)
        log.info("unit changed", unit=unit_id, fields=sorted(fields))
        found = await _listing(sessions, frozenset({unit_id}))
        return found[0]

    return router
