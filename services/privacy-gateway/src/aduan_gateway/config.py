"""Gateway settings (env prefix `ADUAN_GATEWAY_`)."""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from aduan_kit.settings import ServiceSettings

__all__ = ["DEV_JWT_SECRET", "DEV_PSEUDONYM_SECRET", "Settings"]

# Development defaults: long enough for HS256 (RFC 7518 wants >= 256 bits) so local runs do
# not warn, and refused in production by the validator below.
DEV_JWT_SECRET = "dev-only-aduan-gateway-jwt-secret-not-for-production"  # noqa: S105
DEV_PSEUDONYM_SECRET = "dev-only-aduan-gateway-pseudonym-secret-not-for-production"  # noqa: S105


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ADUAN_GATEWAY_", extra="ignore")

    service_name: str = "gateway"
    port: int = 8000
    database_url: str = "postgresql+asyncpg://postgres:postgres@127.0.0.1:5432/aduan_gateway"

    jwt_secret: str = Field(default=DEV_JWT_SECRET, min_length=32)
    jwt_ttl_s: int = Field(default=900, ge=30, le=24 * 3600)
    # Separate from the JWT secret: rotating token keys must not change every reporter's
    # pseudonym, and a leaked token key must not let anyone link pseudonyms to key ids.
    pseudonym_secret: str = Field(default=DEV_PSEUDONYM_SECRET, min_length=32)

    @model_validator(mode="after")
    def _no_dev_secrets_in_production(self) -> Settings:
        if self.environment == "production":
            if self.jwt_secret == DEV_JWT_SECRET:
                raise ValueError("refusing the development JWT secret in production")
            if self.pseudonym_secret == DEV_PSEUDONYM_SECRET:
                raise ValueError("refusing the development pseudonym secret in production")
        return self
