"""Gateway settings (env prefix `ADUAN_GATEWAY_`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from aduan_kit.localsecrets import DEFAULT_SECRETS_DIR, installation_secret
from aduan_kit.settings import ServiceSettings

__all__ = ["DEFAULT_BLOB_ROOT", "DEV_JWT_SECRET", "DEV_PSEUDONYM_SECRET", "Settings"]

# The same directory intake writes photos to by default (`.run/blobs` at the repository
# root), so a local `make up` serves what intake stored.
DEFAULT_BLOB_ROOT = str(Path(__file__).resolve().parents[4] / ".run" / "blobs")

# Public placeholders, in the repository: refused in production, and in development replaced
# by this installation's own secrets (`.run/secrets/`, aduan_kit.localsecrets), so nobody who
# reads the code can mint tokens for a running demo. Only `ENVIRONMENT=test` keeps them.
DEV_JWT_SECRET = "dev-only-aduan-gateway-jwt-secret-not-for-production"  # noqa: S105
DEV_PSEUDONYM_SECRET = "dev-only-aduan-gateway-pseudonym-secret-not-for-production"  # noqa: S105


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ADUAN_GATEWAY_", extra="ignore")

    service_name: str = "gateway"
    port: int = 8000
    database_url: str = "postgresql+asyncpg://postgres:postgres@127.0.0.1:5432/aduan_gateway"
    # Off the complaint's path to its reporter (workflow -> notifier): the read model polls
    # again no sooner than 200 ms after a poll that brought records (issue 18, nineteenth
    # step; see aduan_workflow.config). Under load a change shows in the console and on the
    # tracking page up to ~0.2 s later (the console says "being applied" meanwhile); a quiet
    # consumer's first record never waits. At 100 complaints/s: gateway CPU 2.5 -> 1.5 ms.
    kafka_poll_pace_ms: int = Field(default=200, ge=0, le=1_000)

    jwt_secret: str = Field(default=DEV_JWT_SECRET, min_length=32)
    # Where development secrets left at their placeholders are kept (shared with intake,
    # which verifies the gateway's tokens with the same `jwt_secret` file).
    secrets_dir: str = DEFAULT_SECRETS_DIR
    jwt_ttl_s: int = Field(default=900, ge=30, le=24 * 3600)
    # Separate from the JWT secret: rotating token keys must not change every reporter's
    # pseudonym, and a leaked token key must not let anyone link pseudonyms to key ids.
    pseudonym_secret: str = Field(default=DEV_PSEUDONYM_SECRET, min_length=32)
    refresh_ttl_s: int = Field(default=14 * 24 * 3600, ge=60)
    # Reporter self-service tokens are shorter still: they open a person's own data.
    reporter_token_ttl_s: int = Field(default=600, ge=30, le=3600)
    # Sign-in throttling (aduan_gateway.adapters.throttle): only failures count; past the free ones
    # the failing subject waits, from `throttle_base_s` doubling up to the cap.
    # Reporter proof (receipt code + contact): wrong contacts on one receipt code before every
    # address that fails on it waits (the reporter, from an address without failures, is
    # still let in), and wrong contacts from one address, any receipt, before it waits.
    reporter_proof_attempts: int = Field(default=5, ge=1, le=100)
    reporter_proof_source_failures: int = Field(default=10, ge=1, le=1000)
    # Staff sign-in: wrong passwords per account (waits at most `login_account_max_wait_s`,
    # so a stranger cannot lock an officer out for long) and per address (any account).
    login_account_failures: int = Field(default=5, ge=1, le=100)
    login_account_max_wait_s: int = Field(default=900, ge=1, le=24 * 3600)
    login_source_failures: int = Field(default=20, ge=1, le=10_000)
    throttle_base_s: int = Field(default=30, ge=1, le=3600)
    throttle_max_wait_s: int = Field(default=3600, ge=1, le=24 * 3600)

    # Optional external identity provider (OpenID Connect): tokens signed with a key from
    # this JWKS URL are accepted too; role and agency come from the named claims.
    oidc_jwks_url: str | None = None
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_role_claim: str = "aduan_role"
    oidc_agency_claim: str = "aduan_agency"
    # True (a JSON boolean, or the string "true") when the officer heads their unit and so
    # reads its sub-units' reports too (issue 19); absent or anything else: not a head.
    oidc_unit_head_claim: str = "aduan_unit_head"

    blob_root: str = DEFAULT_BLOB_ROOT
    max_photo_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    max_photos_per_follow_up: int = Field(default=6, ge=1, le=20)
    # The photo worker (aduan_gateway.photos: faces and plates blurred): inside this process
    # (a laptop, the tests) or as its own (`python -m aduan_gateway.photos`, on
    # `photos_port`: services.sh and the gateway-photos Deployment turn this off).
    photo_worker_in_process: bool = True
    photos_port: int = 8004

    # "Track my report" lookups per client address per minute: a receipt code is short,
    # so guessing them must be slow.
    track_per_minute: int = Field(default=30, ge=1, le=10_000)
    # Peers whose X-Forwarded-For is believed (the portal calls track on a citizen's
    # behalf and passes the citizen's address); anyone else is limited by their own.
    trusted_proxies: tuple[str, ...] = ("127.0.0.1", "::1")

    # What each process keeps in memory of reports it read (adapters/reportcache.py),
    # evicted by the database's change notices: public answers (1-2 KB each) and the rows
    # officers' views are made from (2-5 KB each). 0 and 0 turn the cache off.
    report_cache_public: int = Field(default=10_000, ge=0, le=1_000_000)
    report_cache_officer: int = Field(default=4_096, ge=0, le=1_000_000)

    # How long the caller waits for workflow's verdict on a command before a 504.
    command_timeout_s: float = Field(default=10.0, gt=0, le=120)
    max_grant_hours: int = Field(default=72, ge=1, le=24 * 30)

    @model_validator(mode="after")
    def _no_public_secrets(self) -> Settings:
        if self.environment == "production":
            if self.jwt_secret == DEV_JWT_SECRET:
                raise ValueError("refusing the development JWT secret in production")
            if self.pseudonym_secret == DEV_PSEUDONYM_SECRET:
                raise ValueError("refusing the development pseudonym secret in production")
        elif self.environment == "development":
            # Only placeholders nobody set: a value given (even the placeholder, as a test
            # sharing it with a CLI run does) is used as given.
            given = self.model_fields_set
            if self.jwt_secret == DEV_JWT_SECRET and "jwt_secret" not in given:
                self.jwt_secret = installation_secret("jwt_secret", self.secrets_dir)
            if self.pseudonym_secret == DEV_PSEUDONYM_SECRET and "pseudonym_secret" not in given:
                self.pseudonym_secret = installation_secret("pseudonym_secret", self.secrets_dir)
        return self
