"""FastAPI dependencies shared by the gateway's routers, and the checks every route uses."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, NoReturn

from fastapi import Depends, HTTPException, Request, status
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from aduan_contracts.enums import Role
from aduan_gateway.adapters.accesslog import AccessLog
from aduan_gateway.adapters.publicviews import PublicViews
from aduan_gateway.adapters.reportcache import ReportCache
from aduan_gateway.auth import Principal
from aduan_gateway.config import Settings
from aduan_gateway.domain.model import ReportRecord
from aduan_gateway.service.commands import CommandBus
from aduan_gateway.service.grants import GrantCache
from aduan_gateway.service.officerviews import OfficerViews
from aduan_gateway.service.units import UnitTree, UnitTreeCache
from aduan_kit.blobs import FilesystemBlobStore
from aduan_kit.runtime import ServiceRuntime

__all__ = [
    "NOT_FOUND",
    "AccessLogDep",
    "BlobsDep",
    "BusDep",
    "GrantsDep",
    "OfficerReadDep",
    "OfficerReadParts",
    "OfficerViewsDep",
    "PublicViewsDep",
    "ReadSessionsDep",
    "RuntimeDep",
    "SessionsDep",
    "SettingsDep",
    "UnitTreeDep",
    "forbidden",
    "not_found",
    "owns",
    "require_role",
    "unit_filter",
]

# One body for "private", "not yet complete", "other agency" and "does not exist": a caller
# must not learn that a report exists from the answer (SPEC rule 4).
NOT_FOUND = "report not found"


# Every dependency is `async def`: FastAPI runs a plain `def` dependency in its thread pool,
# and these few attribute lookups cost a thread hop each (a profile under read load found the
# hops and their locks at ~15 % of the gateway's samples).


def _runtime_of(request: Request) -> ServiceRuntime:
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


async def _runtime(request: Request) -> ServiceRuntime:
    return _runtime_of(request)


async def _sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    return _runtime_of(request).sessions


async def _read_sessions(request: Request) -> Callable[[], AsyncConnection]:
    sessions: Callable[[], AsyncConnection] | None = request.app.state.gateway.read_sessions
    assert sessions is not None, "gateway not started"
    return sessions


async def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def _bus(request: Request) -> CommandBus:
    bus: CommandBus = request.app.state.command_bus
    return bus


async def _blobs(request: Request) -> FilesystemBlobStore:
    blobs: FilesystemBlobStore = request.app.state.blobs
    return blobs


async def _access_log(request: Request) -> AccessLog:
    access_log: AccessLog | None = request.app.state.gateway.access_log
    assert access_log is not None, "gateway not started"
    return access_log


async def _public_views(request: Request) -> PublicViews:
    views: PublicViews | None = request.app.state.gateway.public_views
    assert views is not None, "gateway not started"
    return views


async def _grants(request: Request) -> GrantCache:
    grants: GrantCache = request.app.state.gateway.grants()
    return grants


async def _unit_tree(request: Request) -> UnitTree:
    cache: UnitTreeCache = request.app.state.units
    return await cache.get()


@dataclass(frozen=True, slots=True)
class OfficerReadParts:
    """What a hot read route needs, as ONE dependency: FastAPI solves every dependency of
    a route per request (a cache key, a call, a scope check each), and the separate
    ones of `GET /v1/reports/{id}` were a visible part of its profile (issue 18)."""

    sessions: Callable[[], AsyncConnection]
    grants: GrantCache
    access_log: AccessLog
    views: OfficerViews
    # The rows views are made from, kept while the database's notices say they are
    # current (adapters/reportcache.py; turned off, it keeps nothing).
    rows: ReportCache


async def _officer_views(request: Request) -> OfficerViews:
    views: OfficerViews | None = request.app.state.gateway.officer_views
    assert views is not None, "gateway not started"
    return views


async def _officer_read_parts(request: Request) -> OfficerReadParts:
    parts: OfficerReadParts | None = request.app.state.gateway.officer_read_parts()
    assert parts is not None, "gateway not started"
    return parts


RuntimeDep = Annotated[ServiceRuntime, Depends(_runtime)]
OfficerReadDep = Annotated[OfficerReadParts, Depends(_officer_read_parts)]
OfficerViewsDep = Annotated[OfficerViews, Depends(_officer_views)]
SessionsDep = Annotated[async_sessionmaker[AsyncSession], Depends(_sessions)]
# Connections without a transaction, for routes that only read (see bootstrap).
ReadSessionsDep = Annotated[Callable[[], AsyncConnection], Depends(_read_sessions)]
SettingsDep = Annotated[Settings, Depends(_settings)]
BusDep = Annotated[CommandBus, Depends(_bus)]
BlobsDep = Annotated[FilesystemBlobStore, Depends(_blobs)]
GrantsDep = Annotated[GrantCache, Depends(_grants)]
AccessLogDep = Annotated[AccessLog, Depends(_access_log)]
PublicViewsDep = Annotated[PublicViews, Depends(_public_views)]
UnitTreeDep = Annotated[UnitTree, Depends(_unit_tree)]


def not_found(detail: str = NOT_FOUND) -> NoReturn:
    raise HTTPException(status_code=status.HTTP_404_NOT_FOUND, detail=detail)


def forbidden(detail: str) -> NoReturn:
    raise HTTPException(status_code=status.HTTP_403_FORBIDDEN, detail=detail)


def require_role(user: Principal, roles: frozenset[Role] | set[Role], what: str) -> None:
    if user.role not in roles:
        forbidden(f"role {user.role.value!r} may not {what}")


def unit_filter(user: Principal, tree: UnitTree, unit: str | None) -> frozenset[str] | None:
    """The units a `unit=` filter covers (the unit and its sub-units), checked against the
    caller's scope: an agency officer only inside theirs (403 with the reason), full-access
    roles any unit (issue 19, D19). None without a filter."""
    if unit is None:
        return None
    if unit not in tree.units:
        raise HTTPException(status_code=422, detail="unit: no such unit")
    if user.role is Role.AGENCY_OFFICER and unit not in user.scope:
        forbidden(f"unit {unit} is outside your scope")
    return tree.subtree(unit)


def owns(user: Principal, record: ReportRecord) -> bool:
    """A reporter's own report: the token's reporter key is the report's."""
    return (
        user.role is Role.REPORTER
        and user.reporter_key_id is not None
        and record.reporter_key_id == user.reporter_key_id
    )
