"""Sign-in for staff (username and password, then refresh), reporter self-service sign-in
(receipt code plus proof of contact), and administrators' user and agency management."""

from __future__ import annotations

import hmac
from typing import Any

import phonenumbers
from fastapi import APIRouter, HTTPException, Request, status
from pydantic import BaseModel, ConfigDict, Field

from aduan_contracts.enums import Role
from aduan_contracts.http_gateway import TokenPair
from aduan_contracts.values import normalize_receipt_code
from aduan_gateway.adapters.identity import (
    IdentityError,
    create_agency,
    create_user,
    login,
    refresh,
    revoke,
    revoke_family,
)
from aduan_gateway.adapters.readmodel import find_by_receipt, get_key
from aduan_gateway.adapters.throttle import Backoff, Throttle
from aduan_gateway.auth import CurrentUser, issue_access_token
from aduan_gateway.config import Settings
from aduan_gateway.domain.redaction import pseudonym
from aduan_gateway.entrypoints.api_console import client_address
from aduan_gateway.entrypoints.deps import RuntimeDep, SessionsDep, SettingsDep, require_role
from aduan_kit.crypto import open_identity
from aduan_kit.db import transaction
from aduan_kit.logging import get_logger
from aduan_kit.runtime import ServiceRuntime

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
    unit_head: bool = False


class UserView(BaseModel):
    model_config = ConfigDict(frozen=True)
    user_id: str
    username: str
    role: Role
    agency_id: str | None
    display_name: str | None
    unit_head: bool = False


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


def _throttle(runtime: ServiceRuntime, settings: Settings) -> Throttle:
    return Throttle(runtime.redis, settings.redis_prefix, settings.pseudonym_secret)


def _too_many(wait_s: int, detail: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_429_TOO_MANY_REQUESTS,
        detail=f"{detail}; try again in {wait_s} s",
        headers={"Retry-After": str(wait_s)},
    )


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
        unit_id=tokens.user.agency_id,
        unit_head=tokens.user.unit_head,
    )


async def _proof_failed(throttle: Throttle, settings: Settings, receipt: str, source: str) -> None:
    base, cap = settings.throttle_base_s, settings.throttle_max_wait_s
    await throttle.failed(
        Backoff(settings.reporter_proof_source_failures, base, cap), "proof-source", source
    )
    # The receipt's own count decides how long the failing address waits on it: a receipt
    # under attack from many addresses makes each of them wait longer, while an address
    # that has not failed on it (its reporter) is still checked at once.
    per_receipt = Backoff(settings.reporter_proof_attempts, base, cap)
    failures = await throttle.count(per_receipt.window_s, "proof-receipt-count", receipt)
    await throttle.block(per_receipt.wait_s(failures), "proof-receipt", receipt, source)
    log.warning("reporter proof failed", receipt=receipt, source=source, failures=failures)


def auth_router() -> APIRouter:
    router = APIRouter()

    @router.post("/v1/auth/login", response_model=TokenPair, tags=["auth"])
    async def sign_in(
        body: LoginBody,
        request: Request,
        sessions: SessionsDep,
        settings: SettingsDep,
        runtime: RuntimeDep,
    ) -> TokenPair:
        """Staff sign-in: a short-lived access token and a rotating refresh token. Wrong
        passwords make the account and the address wait, longer with each one (429)."""
        throttle = _throttle(runtime, settings)
        # Keyed hashes: the logs and Redis show that an account or an address is being
        # guessed at, never which username or address it is.
        account = throttle.tag("account:" + body.username.strip().lower())
        source = throttle.tag("address:" + client_address(request, settings.trusted_proxies))
        wait_s = max(
            await throttle.wait("login-account", account),
            await throttle.wait("login-source", source),
        )
        if wait_s:
            log.warning("sign-in refused: waiting after failures", account=account, source=source)
            raise _too_many(wait_s, "too many failed sign-ins")
        try:
            async with transaction(sessions) as session:
                tokens = await login(session, settings, body.username, body.password)
        except IdentityError as exc:
            base, cap = settings.throttle_base_s, settings.throttle_max_wait_s
            per_account = Backoff(
                settings.login_account_failures, base, min(cap, settings.login_account_max_wait_s)
            )
            failures = await throttle.failed(per_account, "login-account", account)
            await throttle.failed(
                Backoff(settings.login_source_failures, base, cap), "login-source", source
            )
            log.warning("sign-in failed", account=account, source=source, failures=failures)
            raise _identity_error(exc) from None
        # The account's count starts again; the address's stays (one right password must not
        # wash out an address's guesses at other accounts).
        await throttle.clear("login-account", account)
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
        request: Request,
        sessions: SessionsDep,
        settings: SettingsDep,
        runtime: RuntimeDep,
    ) -> ReporterToken:
        """Reporter self-service: the receipt code plus the contact given with the report
        (compared after opening the sealed identity) give a short token for own reports.

        Guessers wait, not the reporter: an address waits after its own wrong contacts (any
        receipt), and once a receipt code has had `reporter_proof_attempts` wrong contacts,
        every address that gets one wrong for it waits too, longer with each. An address
        without failures is always checked, so whoever holds a receipt code cannot lock
        its reporter out by failing on purpose."""
        # As typed or read aloud (case, spaces, O/0, I/L/1); unknown shapes stay as given so
        # they still count as failures against the address.
        code = normalize_receipt_code(body.receipt_code) or body.receipt_code.strip().upper()
        throttle = _throttle(runtime, settings)
        receipt = throttle.tag("receipt:" + code)
        source = throttle.tag("address:" + client_address(request, settings.trusted_proxies))
        wait_s = max(
            await throttle.wait("proof-source", source),
            await throttle.wait("proof-receipt", receipt, source),
        )
        if wait_s:
            log.warning("reporter proof refused: waiting after failures", source=source)
            raise _too_many(wait_s, "too many wrong contacts from this address")
        wanted = normalize_contact(body.contact)
        async with sessions() as session:
            record = await find_by_receipt(session, code)
            sealed = record.sealed_identity if record is not None else None
            key = await get_key(session, sealed.key_id) if sealed is not None else None
        given = open_identity(sealed, key).get("contact") if sealed and key else None
        if (
            record is None
            or sealed is None
            or wanted is None
            or not isinstance(given, str)
            or not hmac.compare_digest(given.encode(), wanted.encode())
        ):
            await _proof_failed(throttle, settings, receipt, source)
            raise HTTPException(status_code=404, detail=_NO_MATCH)
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
                    unit_head=body.unit_head,
                )
        except IdentityError as exc:
            raise _identity_error(exc) from None
        return UserView(
            user_id=created.user_id,
            username=created.username,
            role=created.role,
            agency_id=created.agency_id,
            display_name=created.display_name,
            unit_head=created.unit_head,
        )

    return router
