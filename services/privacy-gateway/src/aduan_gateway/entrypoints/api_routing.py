"""Routing rules by place (issue 19): category x area -> agency, managed by administrators.

A rule is kept on its category (decisions D18): `categories.area_routes`, published with
the category's full state on `gateway.categories.v1`, so workflow routes from the one
record it already reads and a rule can never outlive or contradict its category. These
routes are a view of the rules one by one (`category|area`), for the console and for
scripts; a change goes through `put_category` like any catalogue change: checked (the
category, the area in the Kemendagri list, the agency), stamped with who made it
(`updated_by`), its new version queued through the outbox in the same transaction.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, HTTPException, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field

import aduan_areas
from aduan_contracts.enums import Role
from aduan_contracts.topics import CATEGORIES
from aduan_contracts.values import Actor
from aduan_gateway.auth import CurrentUser, Principal
from aduan_gateway.entrypoints.deps import RuntimeDep, SessionsDep, require_role
from aduan_gateway.service.categories import (
    CategoryError,
    area_route,
    get_category,
    list_categories,
    put_category,
)
from aduan_kit.db import transaction
from aduan_kit.logging import get_logger

__all__ = ["RoutingRuleBody", "RoutingRuleView", "routing_router"]

log = get_logger(__name__)

_ADMIN = frozenset({Role.ADMINISTRATOR})
_AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing, invalid or expired token"},
    403: {"description": "the role may not do this"},
}


class RoutingRuleView(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str = Field(description='"category|area": the rule\'s identity')
    category: str
    area_code: str
    area_label: str = Field(description="the area's name, e.g. Kec. Gambir, Kota Jakarta Pusat")
    agency_id: str
    category_active: bool
    unit_id: str | None = Field(default=None, description="== agency_id (issue 19)")


class RoutingRuleBody(BaseModel):
    """The unit (an agency) the rule routes to: `unit_id` or `agency_id`, the same thing."""

    model_config = ConfigDict(extra="forbid")

    agency_id: str | None = Field(default=None, min_length=1, max_length=64)
    unit_id: str | None = Field(default=None, min_length=1, max_length=64)

    @property
    def target(self) -> str:
        return self.unit_id or self.agency_id or ""


def _label(code: str) -> str:
    area = aduan_areas.get(code)
    return aduan_areas.label(area) if area is not None else code


def _actor(user: Principal) -> Actor:
    return Actor(id=user.subject, role=user.role, agency_id=user.agency_id, display_name=user.name)


def routing_router() -> APIRouter:
    router = APIRouter()

    @router.get(
        "/v1/admin/routing-rules",
        response_model=list[RoutingRuleView],
        responses=_AUTH_ERRORS,
        tags=["administration"],
    )
    async def rules(
        user: CurrentUser,
        sessions: SessionsDep,
        category: Annotated[str | None, Query(max_length=100)] = None,
    ) -> list[RoutingRuleView]:
        """Every routing rule by place, by category then area code (retired categories'
        rules included: they route nothing until the category is active again)."""
        require_role(user, _ADMIN, "manage routing rules")
        async with sessions() as session:
            found = await list_categories(session)
        return [
            RoutingRuleView(
                key=f"{c.code}|{r.area_code}",
                category=c.code,
                area_code=r.area_code,
                area_label=_label(r.area_code),
                agency_id=r.agency_id,
                unit_id=r.agency_id,
                category_active=c.active,
            )
            for c in found
            if category is None or c.code == category
            for r in c.area_routes
        ]

    @router.put(
        "/v1/admin/routing-rules/{category}/{area_code}",
        response_model=RoutingRuleView,
        responses={
            **_AUTH_ERRORS,
            404: {"description": "no such category"},
            422: {"description": "not a Kemendagri area code, or an unknown agency"},
        },
        tags=["administration"],
    )
    async def put_rule(
        category: Annotated[str, Path(max_length=100)],
        area_code: Annotated[str, Path(max_length=20)],
        body: Annotated[RoutingRuleBody, Body()],
        user: CurrentUser,
        sessions: SessionsDep,
        runtime: RuntimeDep,
    ) -> RoutingRuleView:
        """Route new reports of `category` whose area lies inside `area_code` (a kota,
        kecamatan or kelurahan) to the agency; replaces that area's rule if there is one."""
        require_role(user, _ADMIN, "manage routing rules")
        if body.unit_id and body.agency_id and body.unit_id != body.agency_id:
            raise HTTPException(status_code=422, detail="unit_id and agency_id differ: give one")
        if not body.target:
            raise HTTPException(status_code=422, detail="unit_id: the unit the rule routes to")
        try:
            route = area_route(area_code, body.target)
            async with transaction(sessions) as session:
                current = await get_category(session, category, lock=True)
                if current is None:
                    raise HTTPException(status_code=404, detail="no such category")
                others = tuple(r for r in current.area_routes if r.area_code != route.area_code)
                stored = await put_category(
                    session,
                    runtime.topic(CATEGORIES.name),
                    _actor(user),
                    current.with_routes((*others, route)),
                )
        except CategoryError as exc:
            raise HTTPException(status_code=exc.status, detail=exc.reason) from None
        log.info(
            "routing rule saved",
            category=category,
            area=route.area_code,
            agency=route.agency_id,
            changed=stored is not None,
        )
        return RoutingRuleView(
            key=f"{category}|{route.area_code}",
            category=category,
            area_code=route.area_code,
            area_label=_label(route.area_code),
            agency_id=route.agency_id,
            unit_id=route.agency_id,
            category_active=current.active,
        )

    @router.delete(
        "/v1/admin/routing-rules/{category}/{area_code}",
        status_code=status.HTTP_204_NO_CONTENT,
        response_class=Response,
        responses={**_AUTH_ERRORS, 404: {"description": "no such category or rule"}},
        tags=["administration"],
    )
    async def delete_rule(
        category: Annotated[str, Path(max_length=100)],
        area_code: Annotated[str, Path(max_length=20)],
        user: CurrentUser,
        sessions: SessionsDep,
        runtime: RuntimeDep,
    ) -> Response:
        """Remove one rule: the category's reports in that area fall back to a wider rule,
        else the category's agency."""
        require_role(user, _ADMIN, "manage routing rules")
        code = aduan_areas.normalize_code(area_code) or area_code
        async with transaction(sessions) as session:
            current = await get_category(session, category, lock=True)
            if current is None or all(r.area_code != code for r in current.area_routes):
                raise HTTPException(status_code=404, detail="no such routing rule")
            await put_category(
                session,
                runtime.topic(CATEGORIES.name),
                _actor(user),
                current.with_routes(tuple(r for r in current.area_routes if r.area_code != code)),
            )
        log.info("routing rule removed", category=category, area=code)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    return router
