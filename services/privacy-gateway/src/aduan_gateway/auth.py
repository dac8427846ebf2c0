"""Who is asking: short-lived HS256 access tokens and the FastAPI dependencies that read them.

Tokens carry `sub`, `role` (an `aduan_contracts.enums.Role` value), optional `agency_id` and
`name`, and `exp`. They are deliberately short-lived (15 minutes by default): the gateway
keeps no session state, so expiry is what bounds a stolen token.
"""

from __future__ import annotations

import time
from typing import Annotated, Any

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aduan_contracts.enums import Role
from aduan_gateway.config import Settings

__all__ = [
    "ALGORITHM",
    "AuthError",
    "CurrentUser",
    "OptionalUser",
    "Principal",
    "current_user",
    "decode_access_token",
    "issue_access_token",
    "optional_user",
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
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def decode_access_token(secret: str, token: str) -> Principal:
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
        return Principal(
            subject=claims["sub"],
            role=claims["role"],
            agency_id=claims.get("agency_id"),
            name=claims.get("name"),
        )
    except ValidationError as exc:
        raise AuthError("token claims invalid") from exc


_bearer = HTTPBearer(auto_error=False, description="Access token from the gateway")


def _unauthorized(reason: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=reason,
        headers={"WWW-Authenticate": "Bearer"},
    )


def _secret(request: Request) -> str:
    settings: Settings = request.app.state.settings
    return settings.jwt_secret


async def optional_user(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal | None:
    """The caller, or None without an Authorization header; a bad token is still a 401."""
    if credentials is None:
        return None
    try:
        return decode_access_token(_secret(request), credentials.credentials)
    except AuthError as exc:
        raise _unauthorized(exc.reason) from exc


async def current_user(
    principal: Annotated[Principal | None, Depends(optional_user)],
) -> Principal:
    if principal is None:
        raise _unauthorized("missing bearer token")
    return principal


CurrentUser = Annotated[Principal, Depends(current_user)]
OptionalUser = Annotated[Principal | None, Depends(optional_user)]
