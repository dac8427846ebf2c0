"""Who is asking: short-lived HS256 access tokens and the FastAPI dependencies that read them.

Tokens carry `sub`, `role` (an `aduan_contracts.enums.Role` value), optional `agency_id`,
`name` and (reporters only) `rkey`, the reporter key id that makes a report "their own",
and `exp`. They are deliberately short-lived (15 minutes by default): expiry bounds a stolen
access token; refresh tokens (see `identity`) are stored and revocable.

With `oidc_jwks_url` set, tokens from an external OpenID Connect provider are accepted as
well: asymmetric signatures only, verified against the provider's JWKS (pyjwt's
`PyJWKClient`, which caches keys), issuer and audience checked when configured, role and
agency read from configurable claims.
"""

from __future__ import annotations

import asyncio
import time
from typing import Annotated, Any
from uuid import UUID

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from jwt import PyJWKClient
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aduan_contracts.enums import Role
from aduan_gateway.config import Settings

__all__ = [
    "ALGORITHM",
    "AuthError",
    "CurrentUser",
    "OptionalUser",
    "Principal",
    "bearer_principal",
    "current_user",
    "decode_access_token",
    "decode_any",
    "decode_oidc_token",
    "issue_access_token",
    "optional_user",
    "scoped",
]

ALGORITHM = "HS256"
# Only HS256 is accepted when verifying: never let the token pick its own algorithm.
_ALGORITHMS = [ALGORITHM]


class Principal(BaseModel):
    """The authenticated caller, as the token describes them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    subject: str = Field(min_length=1, max_length=128)
    role: Role
    agency_id: str | None = Field(default=None, max_length=64)
    name: str | None = Field(default=None, max_length=200)
    reporter_key_id: UUID | None = None
    # Issue 19 (D19): a unit head reads their unit's sub-units too. `units` is resolved per
    # request from the unit tree (never from the token: a re-parented unit changes it).
    unit_head: bool = False
    units: frozenset[str] = frozenset()

    @property
    def scope(self) -> frozenset[str]:
        """The units whose reports this agency officer reads (empty: none; full-access
        roles are not scoped by units at all, see `views.visible_to_officer`)."""
        if self.units:
            return self.units
        return frozenset({self.agency_id}) if self.agency_id is not None else frozenset()


class AuthError(Exception):
    """The token is missing, malformed, badly signed or expired; `reason` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def issue_access_token(
    secret: str,
    subject: str,
    role: Role | str,
    agency_id: str | None = None,
    name: str | None = None,
    ttl_s: int = 900,
    reporter_key_id: UUID | None = None,
    unit_head: bool = False,
) -> str:
    now = int(time.time())
    claims: dict[str, Any] = {
        "sub": subject,
        "role": Role(role).value,
        "iat": now,
        "exp": now + ttl_s,
    }
    if agency_id is not None:
        claims["agency_id"] = agency_id
    if name is not None:
        claims["name"] = name
    if reporter_key_id is not None:
        claims["rkey"] = str(reporter_key_id)
    if unit_head:
        claims["uh"] = True
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode_access_token(secret: str, token: str) -> Principal:
    return _decode_access_token(secret, token)[0]


def _decode_access_token(secret: str, token: str) -> tuple[Principal, int]:
    """The token's principal and its `exp` (seconds since the epoch)."""
    try:
        claims = jwt.decode(
            token, secret, algorithms=_ALGORITHMS, options={"require": ["sub", "role", "exp"]}
        )
    except jwt.ExpiredSignatureError as exc:
        raise AuthError("token expired") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise AuthError(f"token lacks the {exc.claim!r} claim") from exc
    except jwt.InvalidSignatureError as exc:
        raise AuthError("token signature invalid") from exc
    except jwt.InvalidTokenError as exc:
        raise AuthError("token invalid") from exc
    try:
        principal = Principal(
            subject=claims["sub"],
            role=claims["role"],
            agency_id=claims.get("agency_id"),
            name=claims.get("name"),
            reporter_key_id=claims.get("rkey"),
            unit_head=claims.get("uh") is True,
        )
    except ValidationError as exc:
        raise AuthError("token claims invalid") from exc
    return principal, int(claims["exp"])


# Verified HS256 tokens, briefly: an officer's client sends the same token with every read,
# and checking its signature and building its Principal was ~7 % of a read's CPU (py-spy,
# issue 18). Only tokens that verified are kept, keyed by secret and token; an entry is used
# until the token's own `exp` (so expiry is as exact as without the cache) and at most
# TOKEN_CACHE_S. Our access tokens have no revocation list (they are short-lived by design,
# see the module docstring; refresh tokens are the revocable part), so nothing a cache could
# miss: a logout revokes the refresh token, which never passes through here.
TOKEN_CACHE_S = 60.0
TOKEN_CACHE_SIZE = 4096
_token_cache: dict[tuple[str, str], tuple[Principal, float]] = {}


def _verified(secret: str, token: str) -> Principal:
    now = time.time()
    hit = _token_cache.get((secret, token))
    if hit is not None:
        if now < hit[1]:
            return hit[0]
        del _token_cache[(secret, token)]
    principal, exp = _decode_access_token(secret, token)
    if len(_token_cache) >= TOKEN_CACHE_SIZE:
        # Crude but bounded: many distinct tokens in a minute only cost re-verification.
        _token_cache.clear()
    _token_cache[(secret, token)] = (principal, min(float(exp), now + TOKEN_CACHE_S))
    return principal


_OIDC_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]
_jwks_clients: dict[str, PyJWKClient] = {}


def decode_oidc_token(settings: Settings, token: str) -> Principal:
    """Verify a token from the configured OpenID Connect provider."""
    assert settings.oidc_jwks_url is not None
    client = _jwks_clients.get(settings.oidc_jwks_url)
    if client is None:
        client = _jwks_clients[settings.oidc_jwks_url] = PyJWKClient(
            settings.oidc_jwks_url, cache_keys=True, lifespan=300
        )
    try:
        signing_key = client.get_signing_key_from_jwt(token)
        claims = jwt.decode(
            token,
            signing_key.key,
            algorithms=_OIDC_ALGORITHMS,
            audience=settings.oidc_audience,
            issuer=settings.oidc_issuer,
            options={
                "require": ["sub", "exp"],
                "verify_aud": settings.oidc_audience is not None,
            },
        )
    except jwt.ExpiredSignatureError as exc:
        raise AuthError("token expired") from exc
    except (jwt.PyJWKClientError, jwt.InvalidTokenError) as exc:
        raise AuthError("token invalid") from exc
    role = claims.get(settings.oidc_role_claim)
    if role is None:
        raise AuthError(f"token lacks the {settings.oidc_role_claim!r} claim")
    if role == Role.REPORTER.value:
        # Reporters prove who they are with a receipt code and their contact, not a
        # provider's account: an external token never opens a reporter's data.
        raise AuthError("reporter tokens come from reporter self-service only")
    try:
        return Principal(
            subject=f"oidc:{claims['sub']}"[:128],
            role=role,
            agency_id=claims.get(settings.oidc_agency_claim),
            name=claims.get("name"),
            unit_head=claims.get(settings.oidc_unit_head_claim) in (True, "true"),
        )
    except ValidationError as exc:
        raise AuthError("token claims invalid") from exc


def decode_any(settings: Settings, token: str) -> Principal:
    """Our own HS256 tokens, or the OIDC provider's when one is configured."""
    if settings.oidc_jwks_url:
        try:
            alg = jwt.get_unverified_header(token).get("alg")
        except jwt.InvalidTokenError as exc:
            raise AuthError("token invalid") from exc
        if alg in _OIDC_ALGORITHMS:
            return decode_oidc_token(settings, token)
    return decode_access_token(settings.jwt_secret, token)


_bearer = HTTPBearer(auto_error=False, description="Access token from the gateway")


def _unauthorized(reason: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=reason,
        headers={"WWW-Authenticate": "Bearer"},
    )


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def optional_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    """The caller, or None without an Authorization header; a bad token is still a 401."""
    if credentials is None:
        return None
    try:
        settings = _settings(request)
        if settings.oidc_jwks_url:
            # PyJWKClient fetches keys synchronously on a cache miss: off the event loop.
            return await asyncio.to_thread(decode_any, settings, credentials.credentials)
        return _verified(settings.jwt_secret, credentials.credentials)
    except AuthError as exc:
        raise _unauthorized(exc.reason) from exc


async def with_units(request: Request, principal: Principal) -> Principal:
    """The principal with its unit scope resolved from the (cached) unit tree: an
    agency officer's unit, and a head's sub-units (issue 19, D19)."""
    return await scoped(getattr(request.app.state, "units", None), principal)


async def scoped(cache: Any, principal: Principal) -> Principal:
    """`with_units` given the app's unit-tree cache (None: none kept)."""
    if principal.role is not Role.AGENCY_OFFICER or principal.agency_id is None:
        return principal
    if cache is None:
        return principal.model_copy(update={"units": frozenset({principal.agency_id})})
    tree = await cache.get()
    units = tree.scope(principal.role, principal.agency_id, principal.unit_head)
    return principal.model_copy(update={"units": units})


def bearer_principal(settings: Settings, authorization: bytes | None) -> Principal | None:
    """The caller of a direct route (aduan_kit.direct) from the `Authorization` header as
    `optional_user` reads it, or None for anything it would not simply accept (no header,
    another scheme, a token that fails, an OIDC provider's token): the route then declines
    and FastAPI's dependencies give their own answer (a 401 with its reason)."""
    if authorization is None or settings.oidc_jwks_url:
        return None
    scheme, _, token = authorization.decode("latin-1").partition(" ")
    token = token.strip()  # as FastAPI's HTTPBearer reads it
    if scheme.lower() != "bearer" or not token:
        return None
    try:
        return _verified(settings.jwt_secret, token)
    except AuthError:
        return None


async def current_user(
    request: Request,
    principal: Annotated[Principal | None, Depends(optional_user)],
) -> Principal:
    if principal is None:
        raise _unauthorized("missing bearer token")
    return await with_units(request, principal)


CurrentUser = Annotated[Principal, Depends(current_user)]
OptionalUser = Annotated[Principal | None, Depends(optional_user)]
