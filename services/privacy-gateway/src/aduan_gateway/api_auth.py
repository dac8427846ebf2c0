"""Sign-in for staff (username and password, then refresh), reporter self-service sign-in
(receipt code plus proof of contact), and administrators' user and agency management."""

from __future__ import annotations

import hmac
from typing import Any

import phonenumbers
from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, ConfigDict, Field

from aduan_contracts.enums import Role
from aduan_gateway.auth import CurrentUser, issue_access_token
from aduan_gateway.deps import RuntimeDep, SessionsDep, SettingsDep, require_role
from aduan_gateway.domain.redaction import pseudonym
from aduan_gateway.identity import (
    IdentityError,
    create_agency,
    create_user,
    login,
    refresh,
    revoke,
    revoke_family,
)
from aduan_gateway.readmodel import find_by_receipt, get_key
from aduan_kit.crypto import open_identity
from aduan_kit.db import transaction
from aduan_kit.logging import get_logger

__all__ = ["auth_router", "normalize_contact"]

log = get_logger(__name__)

# Same answer for an unknown receipt code, a wrong contact, a report without a contact and
# an erased identity: the endpoint must not confirm that a receipt code exists.
_NO_MATCH = "no report matches that receipt code and contact"


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=128)
    password: str = Field(min_length=1, max_length=512)


class RefreshBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    refresh_token: str = Field(min_length=16, max_length=256)


class TokenPair(BaseModel):
    model_config = ConfigDict(frozen=True)
    access_token: str
    refresh_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int
    user_id: str
    role: Role
    agency_id: str | None


class ReporterSessionBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    receipt_code: str = Field(min_length=5, max_length=32)
    contact: str = Field(min_length=3, max_length=254, description="the phone or e-mail given")


class ReporterToken(BaseModel):
    model_config = ConfigDict(frozen=True)
    access_token: str
    token_type: str = "bearer"  # noqa: S105 - the OAuth2 token type, not a secret
    expires_in: int
    pseudonym: str


class AgencyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    agency_id: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1, max_length=200)


class UserBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=3, max_length=128)
    password: str = Field(min_length=12, max_length=512)
    role: Role
    agency_id: str | None = Field(default=None, max_length=64)
    display_name: str | None = Field(default=None, max_length=200)


class UserView(BaseModel):
    model_config = ConfigDict(frozen=True)
    user_id: str
    username: str
    role: Role
    agency_id: str | None
    display_name: str | None


def normalize_contact(raw: str) -> str | None:
    """The contact written as intake writes it (E.164 phone, lower-case e-mail)."""
    text = raw.strip()
    if "@" in text:
        return text.lower()
    try:
        number = phonenumbers.parse(text, "ID")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _identity_error(exc: IdentityError) -> HTTPException:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    return HTTPException(status_code=exc.status, detail=exc.reason, headers=headers)


def _pair(tokens: Any) -> TokenPair:
    return TokenPair(
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_in=tokens.expires_in,
        user_id=tokens.user.user_id,
        role=tokens.user.role,
        agency_id=tokens.user.agency_id,
    )


def auth_router() -> APIRouter:
    router = APIRouter()

    @router.post("/v1/auth/login", response_model=TokenPair, tags=["auth"])
    async def sign_in(body: LoginBody, sessions: SessionsDep, settings: SettingsDep) -> TokenPair:
        """Staff sign-in: a short-lived access token and a rotating refresh token."""
        try:
            async with transaction(sessions) as session:
                tokens = await login(session, settings, body.username, body.password)
        except IdentityError as exc:
            raise _identity_error(exc) from None
        log.info("signed in", user_id=tokens.user.user_id, role=tokens.user.role.value)
        return _pair(tokens)

    @router.post("/v1/auth/refresh", response_model=TokenPair, tags=["auth"])
    async def refresh_tokens(
        body: RefreshBody, sessions: SessionsDep, settings: SettingsDep
    ) -> TokenPair:
        """Trade a refresh token for a new pair; the old one stops working (rotation)."""
        try:
            async with transaction(sessions) as session:
                tokens = await refresh(session, settings, body.refresh_token)
        except IdentityError as exc:
            if exc.family_id is not None:
                async with transaction(sessions) as session:
                    await revoke_family(session, exc.family_id)
                log.warning("refresh token reused; session revoked")
            raise _identity_error(exc) from None
        return _pair(tokens)

    @router.post("/v1/auth/logout", status_code=status.HTTP_204_NO_CONTENT, tags=["auth"])
    async def sign_out(body: RefreshBody, sessions: SessionsDep) -> None:
        """Revoke the session behind a refresh token (idempotent)."""
        async with transaction(sessions) as session:
            await revoke(session, body.refresh_token)

    @router.post(
        "/v1/reporter/session",
        response_model=ReporterToken,
        responses={404: {"description": _NO_MATCH}, 429: {"description": "too many tries"}},
        tags=["reporters"],
    )
    async def reporter_sign_in(
        body: ReporterSessionBody,
        sessions: SessionsDep,
        settings: SettingsDep,
        runtime: RuntimeDep,
    ) -> ReporterToken:
        """Reporter self-service: the receipt code plus the contact given with the report
        (compared after opening the sealed identity) give a short token for own reports."""
        code = body.receipt_code.strip().upper()
        tries_key = f"{settings.redis_prefix}proof:{code}"
        tries = await runtime.redis.incr(tries_key)
        if tries == 1:
            await runtime.redis.expire(tries_key, 3600)
        if tries > settings.reporter_proof_attempts:
            raise HTTPException(status_code=429, detail="too many tries; wait an hour")
        wanted = normalize_contact(body.contact)
        async with sessions() as session:
            record = await find_by_receipt(session, code)
            sealed = record.sealed_identity if record is not None else None
            key = await get_key(session, sealed.key_id) if sealed is not None else None
        if record is None or sealed is None or key is None or wanted is None:
            raise HTTPException(status_code=404, detail=_NO_MATCH)
        given = open_identity(sealed, key).get("contact")
        if not isinstance(given, str) or not hmac.compare_digest(given.encode(), wanted.encode()):
            raise HTTPException(status_code=404, detail=_NO_MATCH)
        await runtime.redis.delete(tries_key)
        name = pseudonym(settings.pseudonym_secret, str(sealed.key_id))
        token = issue_access_token(
            settings.jwt_secret,
            name,
            Role.REPORTER,
            ttl_s=settings.reporter_token_ttl_s,
            reporter_key_id=sealed.key_id,
        )
        log.info("reporter signed in", report_id=str(record.report_id))
        return ReporterToken(
            access_token=token, expires_in=settings.reporter_token_ttl_s, pseudonym=name
        )

    # --- administrators ------------------------------------------------------------------

    @router.post("/v1/admin/agencies", status_code=status.HTTP_201_CREATED, tags=["administration"])
    async def add_agency(
        body: AgencyBody, user: CurrentUser, sessions: SessionsDep
    ) -> dict[str, str]:
        """Create an agency (OPD)."""
        require_role(user, {Role.ADMINISTRATOR}, "manage agencies")
        try:
            async with transaction(sessions) as session:
                created = await create_agency(session, body.agency_id, body.name)
        except IdentityError as exc:
            raise _identity_error(exc) from None
        if not created:
            raise HTTPException(status_code=409, detail="agency exists")
        return {"agency_id": body.agency_id, "name": body.name}

    @router.post(
        "/v1/admin/users",
        response_model=UserView,
        status_code=status.HTTP_201_CREATED,
        tags=["administration"],
    )
    async def add_user(body: UserBody, user: CurrentUser, sessions: SessionsDep) -> UserView:
        """Create a staff account."""
        require_role(user, {Role.ADMINISTRATOR}, "manage users")
        try:
            async with transaction(sessions) as session:
                created = await create_user(
                    session,
                    body.username,
                    body.password,
                    body.role,
                    body.agency_id,
                    body.display_name,
                )
        except IdentityError as exc:
            raise _identity_error(exc) from None
        return UserView(
            user_id=created.user_id,
            username=created.username,
            role=created.role,
            agency_id=created.agency_id,
            display_name=created.display_name,
        )

    return router
