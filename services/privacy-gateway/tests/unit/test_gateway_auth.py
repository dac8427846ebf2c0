"""Access tokens: issue, verify, expiry, tampering; settings refuse dev secrets in prod."""

from __future__ import annotations

import time

import jwt
import pytest
from pydantic import ValidationError

from aduan_contracts.enums import Role
from aduan_gateway.auth import AuthError, decode_access_token, issue_access_token
from aduan_gateway.config import Settings

SECRET = "unit-test-secret-that-is-long-enough-for-hs256"


def test_issue_and_verify_roundtrip() -> None:
    token = issue_access_token(SECRET, "u1", Role.AGENCY_OFFICER, agency_id="dbm", name="Sari")
    principal = decode_access_token(SECRET, token)
    assert principal.subject == "u1"
    assert principal.role is Role.AGENCY_OFFICER
    assert principal.agency_id == "dbm"
    assert principal.name == "Sari"


def test_default_lifetime_is_short() -> None:
    claims = jwt.decode(issue_access_token(SECRET, "u1", "validator"), SECRET, algorithms=["HS256"])
    assert 0 < claims["exp"] - time.time() <= 900


def test_expired_token_is_refused() -> None:
    token = issue_access_token(SECRET, "u1", Role.VALIDATOR, ttl_s=-5)
    with pytest.raises(AuthError, match="expired"):
        decode_access_token(SECRET, token)


def test_wrong_secret_is_refused() -> None:
    token = issue_access_token("another-secret-also-long-enough-for-hs256!", "u1", "validator")
    with pytest.raises(AuthError, match="signature"):
        decode_access_token(SECRET, token)


def test_garbage_and_unknown_role_are_refused() -> None:
    with pytest.raises(AuthError):
        decode_access_token(SECRET, "not-a-token")
    token = jwt.encode({"sub": "u1", "role": "mayor", "exp": time.time() + 60}, SECRET)
    with pytest.raises(AuthError, match="claims"):
        decode_access_token(SECRET, token)


def test_missing_claim_and_alg_none_are_refused() -> None:
    token = jwt.encode({"sub": "u1", "exp": time.time() + 60}, SECRET)
    with pytest.raises(AuthError, match="role"):
        decode_access_token(SECRET, token)
    unsigned = jwt.encode(
        {"sub": "u1", "role": "administrator", "exp": time.time() + 60}, None, algorithm="none"
    )
    with pytest.raises(AuthError):
        decode_access_token(SECRET, unsigned)


def test_settings_refuse_dev_secrets_in_production() -> None:
    prod_db = "postgresql+asyncpg://gw:pw@db:5432/aduan_gateway"
    with pytest.raises(ValidationError, match="JWT secret"):
        Settings(environment="production", database_url=prod_db, pseudonym_secret="p" * 40)
    with pytest.raises(ValidationError, match="pseudonym secret"):
        Settings(environment="production", database_url=prod_db, jwt_secret="j" * 40)
    ok = Settings(
        environment="production",
        database_url=prod_db,
        jwt_secret="j" * 40,
        pseudonym_secret="p" * 40,
    )
    assert ok.service_name == "gateway"
    assert ok.port == 8000
    assert Settings().jwt_secret  # development default allowed


def test_token_cache_keeps_expiry_exact_and_never_caches_a_refusal() -> None:
    """The per-token cache (auth._verified) answers from memory only until the token's own
    `exp`: a token used just before it expires is refused just after, as without the
    cache. A bad token is refused every time, and the secret is part of the key."""
    from aduan_gateway import auth

    auth._token_cache.clear()
    token = issue_access_token(SECRET, "u1", Role.AGENCY_OFFICER, agency_id="dbm", ttl_s=1)
    exp = jwt.decode(token, SECRET, algorithms=["HS256"])["exp"]
    assert auth._verified(SECRET, token).subject == "u1"
    assert auth._token_cache[(SECRET, token)][1] == exp  # kept no longer than the token
    assert auth._verified(SECRET, token).subject == "u1"  # from the cache
    time.sleep(max(0.0, exp - time.time()) + 0.05)
    with pytest.raises(AuthError, match="expired"):
        auth._verified(SECRET, token)
    assert (SECRET, token) not in auth._token_cache
    fresh = issue_access_token(SECRET, "u1", Role.AGENCY_OFFICER, agency_id="dbm")
    auth._verified(SECRET, fresh)
    with pytest.raises(AuthError, match="signature"):
        auth._verified("another-secret-also-long-enough-for-hs256!", fresh)
    assert list(auth._token_cache) == [(SECRET, fresh)]
