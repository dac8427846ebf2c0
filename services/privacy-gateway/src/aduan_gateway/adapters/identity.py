"""Users, agencies and sessions in the gateway's own database.

Passwords are hashed with argon2id (argon2-cffi's defaults, rehashed when those change).
Login gives a short-lived access token and a refresh token; refresh tokens are random,
stored only as SHA-256 digests, rotated on every use, and revocable. Presenting a refresh
token that was already used revokes its whole family: someone holds a stolen copy.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from aduan_contracts.enums import Role
from aduan_gateway.adapters.tables import AGENCIES, REFRESH_TOKENS, USERS
from aduan_gateway.auth import issue_access_token
from aduan_gateway.config import Settings

__all__ = [
    "STAFF_ROLES",
    "Account",
    "IdentityError",
    "Tokens",
    "User",
    "create_agency",
    "create_user",
    "list_agencies",
    "list_agency_officers",
    "list_users",
    "login",
    "refresh",
    "revoke",
    "revoke_family",
    "set_active",
]

# Reporters and the public never have accounts here: reporters prove themselves per report
# (receipt code and contact), the public needs no login.
STAFF_ROLES = frozenset(
    {Role.AGENCY_OFFICER, Role.VALIDATOR, Role.TICKET_ADMIN, Role.ADMINISTRATOR}
)
_AGENCY_ID = re.compile(r"^[a-z0-9][a-z0-9\-]{0,63}$")
_hasher = PasswordHasher()
# Verified against when the user does not exist, so a wrong username costs the same time
# as a wrong password (no user enumeration by timing).
_DUMMY_HASH = _hasher.hash("not-a-real-password")


class IdentityError(Exception):
    """A refused identity operation; `reason` is safe to show the caller."""

    def __init__(self, reason: str, status: int = 400, family_id: UUID | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        # Set when a used refresh token came back: the caller revokes this family in a
        # transaction of its own (this one rolls back with the error).
        self.family_id = family_id


@dataclass(frozen=True, slots=True)
class User:
    user_id: str
    username: str
    role: Role
    agency_id: str | None
    display_name: str | None
    unit_head: bool = False


@dataclass(frozen=True, slots=True)
class Tokens:
    access_token: str
    refresh_token: str
    expires_in: int
    user: User


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_agency(session: AsyncSession, agency_id: str, name: str) -> bool:
    """False when the agency already exists."""
    if not _AGENCY_ID.match(agency_id):
        raise IdentityError("agency id: lower-case letters, digits and dashes")
    result = await session.execute(
        insert(AGENCIES)
        .values(agency_id=agency_id, name=name)
        .on_conflict_do_nothing()
        .returning(AGENCIES.c.agency_id)
    )
    return result.first() is not None


async def create_user(
    session: AsyncSession,
    username: str,
    password: str,
    role: Role,
    agency_id: str | None = None,
    display_name: str | None = None,
    unit_head: bool = False,
) -> User:
    if role not in STAFF_ROLES:
        raise IdentityError(f"role {role.value!r} has no accounts")
    if len(password) < 12:
        raise IdentityError("password: at least 12 characters")
    if role is Role.AGENCY_OFFICER:
        if agency_id is None:
            raise IdentityError("an agency officer belongs to an agency")
        known = await session.scalar(
            select(AGENCIES.c.agency_id).where(AGENCIES.c.agency_id == agency_id)
        )
        if known is None:
            raise IdentityError(f"unknown agency {agency_id!r}")
    elif agency_id is not None:
        raise IdentityError("only agency officers belong to an agency")
    if unit_head and role is not Role.AGENCY_OFFICER:
        raise IdentityError("unit_head: only an agency officer heads a unit")
    user = User(f"u-{uuid4().hex[:12]}", username, role, agency_id, display_name, unit_head)
    result = await session.execute(
        insert(USERS)
        .values(
            user_id=user.user_id,
            username=username,
            password_hash=_hasher.hash(password),
            role=role.value,
            agency_id=agency_id,
            display_name=display_name,
            unit_head=unit_head,
        )
        .on_conflict_do_nothing()
        .returning(USERS.c.user_id)
    )
    if result.first() is None:
        raise IdentityError("username taken", status=409)
    return user


def _user(row: object) -> User:
    return User(
        user_id=row.user_id,  # type: ignore[attr-defined]
        username=row.username,  # type: ignore[attr-defined]
        role=Role(row.role),  # type: ignore[attr-defined]
        agency_id=row.agency_id,  # type: ignore[attr-defined]
        display_name=row.display_name,  # type: ignore[attr-defined]
        unit_head=row.unit_head,  # type: ignore[attr-defined]
    )


async def _issue(session: AsyncSession, settings: Settings, user: User, family_id: UUID) -> Tokens:
    refresh_token = secrets.token_urlsafe(32)
    await session.execute(
        REFRESH_TOKENS.insert().values(
            token_hash=_digest(refresh_token),
            user_id=user.user_id,
            family_id=family_id,
            expires_at=datetime.now(UTC) + timedelta(seconds=settings.refresh_ttl_s),
        )
    )
    access = issue_access_token(
        settings.jwt_secret,
        user.user_id,
        user.role,
        agency_id=user.agency_id,
        name=user.display_name,
        ttl_s=settings.jwt_ttl_s,
        unit_head=user.unit_head,
    )
    return Tokens(access, refresh_token, settings.jwt_ttl_s, user)


async def login(session: AsyncSession, settings: Settings, username: str, password: str) -> Tokens:
    row = (await session.execute(select(USERS).where(USERS.c.username == username))).first()
    try:
        _hasher.verify(row.password_hash if row is not None else _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        raise IdentityError("wrong username or password", status=401) from None
    if row is None or not row.active:
        raise IdentityError("wrong username or password", status=401)
    if _hasher.check_needs_rehash(row.password_hash):
        await session.execute(
            update(USERS)
            .where(USERS.c.user_id == row.user_id)
            .values(password_hash=_hasher.hash(password))
        )
    return await _issue(session, settings, _user(row), uuid4())


async def refresh(session: AsyncSession, settings: Settings, refresh_token: str) -> Tokens:
    now = datetime.now(UTC)
    row = (
        await session.execute(
            select(REFRESH_TOKENS)
            .where(REFRESH_TOKENS.c.token_hash == _digest(refresh_token))
            .with_for_update()
        )
    ).first()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        raise IdentityError("refresh token invalid, expired or revoked", status=401)
    if row.used_at is not None:
        raise IdentityError(
            "refresh token already used; session revoked", status=401, family_id=row.family_id
        )
    await session.execute(
        update(REFRESH_TOKENS)
        .where(REFRESH_TOKENS.c.token_hash == row.token_hash)
        .values(used_at=now)
    )
    user_row = (await session.execute(select(USERS).where(USERS.c.user_id == row.user_id))).first()
    if user_row is None or not user_row.active:
        raise IdentityError("account disabled", status=401)
    return await _issue(session, settings, _user(user_row), row.family_id)


async def revoke_family(session: AsyncSession, family_id: UUID) -> None:
    await session.execute(
        update(REFRESH_TOKENS)
        .where(REFRESH_TOKENS.c.family_id == family_id, REFRESH_TOKENS.c.revoked_at.is_(None))
        .values(revoked_at=datetime.now(UTC))
    )


async def revoke(session: AsyncSession, refresh_token: str) -> bool:
    """Log out: revoke the token's whole family. False when the token is unknown."""
    family = await session.scalar(
        select(REFRESH_TOKENS.c.family_id).where(
            REFRESH_TOKENS.c.token_hash == _digest(refresh_token)
        )
    )
    if family is None:
        return False
    await revoke_family(session, family)
    return True


@dataclass(frozen=True, slots=True)
class Account:
    """A staff account as administrators list it (never the password hash)."""

    user_id: str
    username: str
    display_name: str | None
    role: Role
    agency_id: str | None
    active: bool
    unit_head: bool = False


def _account(row: object) -> Account:
    return Account(
        user_id=row.user_id,  # type: ignore[attr-defined]
        username=row.username,  # type: ignore[attr-defined]
        display_name=row.display_name,  # type: ignore[attr-defined]
        role=Role(row.role),  # type: ignore[attr-defined]
        agency_id=row.agency_id,  # type: ignore[attr-defined]
        active=row.active,  # type: ignore[attr-defined]
        unit_head=row.unit_head,  # type: ignore[attr-defined]
    )


async def list_users(session: AsyncSession) -> list[Account]:
    rows = await session.execute(select(USERS).order_by(USERS.c.username))
    return [_account(r) for r in rows]


async def set_active(session: AsyncSession, user_id: str, active: bool) -> Account | None:
    """(De)activate an account; None when it does not exist. Deactivating also revokes
    every refresh token of the account, so no session outlives it by more than one access
    token's lifetime (login and refresh both refuse an inactive account)."""
    row = (
        await session.execute(
            update(USERS).where(USERS.c.user_id == user_id).values(active=active).returning(USERS)
        )
    ).first()
    if row is None:
        return None
    if not active:
        await session.execute(
            update(REFRESH_TOKENS)
            .where(REFRESH_TOKENS.c.user_id == user_id, REFRESH_TOKENS.c.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        )
    return _account(row)


_KEEP: Any = object()


async def set_unit(
    session: AsyncSession, user_id: str, unit_id: str | None = _KEEP, unit_head: bool | None = None
) -> Account | None:
    """Move an account to a unit and/or make it (not) the unit's head; None when the account
    does not exist. Only agency officers belong to a unit (and head one). A change of unit
    or headship revokes the account's refresh tokens: the next access token (at most one
    lifetime away) carries the new scope."""
    row = (await session.execute(select(USERS).where(USERS.c.user_id == user_id))).first()
    if row is None:
        return None
    values: dict[str, Any] = {}
    if unit_id is not _KEEP:
        if Role(row.role) is not Role.AGENCY_OFFICER and unit_id is not None:
            raise IdentityError("unit_id: only agency officers belong to a unit", status=422)
        if Role(row.role) is Role.AGENCY_OFFICER and unit_id is None:
            raise IdentityError("unit_id: an agency officer belongs to a unit", status=422)
        if unit_id is not None:
            known = await session.scalar(
                select(AGENCIES.c.agency_id).where(AGENCIES.c.agency_id == unit_id)
            )
            if known is None:
                raise IdentityError("unit_id: no such unit", status=422)
        values["agency_id"] = unit_id
    if unit_head is not None:
        if unit_head and Role(row.role) is not Role.AGENCY_OFFICER:
            raise IdentityError("unit_head: only an agency officer heads a unit", status=422)
        values["unit_head"] = unit_head
    changed = any(getattr(row, k) != v for k, v in values.items())
    if changed:
        row = (
            await session.execute(
                update(USERS).where(USERS.c.user_id == user_id).values(**values).returning(USERS)
            )
        ).first()
        await session.execute(
            update(REFRESH_TOKENS)
            .where(REFRESH_TOKENS.c.user_id == user_id, REFRESH_TOKENS.c.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        )
    return _account(row)


async def list_agencies(session: AsyncSession) -> list[tuple[str, str]]:
    rows = await session.execute(
        select(AGENCIES.c.agency_id, AGENCIES.c.name).order_by(AGENCIES.c.agency_id)
    )
    return [(r.agency_id, r.name) for r in rows]


async def find_account(session: AsyncSession, user_id: str) -> Account | None:
    row = (await session.execute(select(USERS).where(USERS.c.user_id == user_id))).first()
    return _account(row) if row is not None else None


async def list_agency_officers(session: AsyncSession, agency_id: str) -> list[Account]:
    """The active agency officers of one agency (whom a validator may grant photo access)."""
    rows = await session.execute(
        select(USERS)
        .where(
            USERS.c.agency_id == agency_id,
            USERS.c.role == Role.AGENCY_OFFICER.value,
            USERS.c.active.is_(True),
        )
        .order_by(USERS.c.username)
    )
    return [_account(r) for r in rows]
