"""Intake settings (env prefix `ADUAN_INTAKE_`)."""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from aduan_kit.settings import ServiceSettings

__all__ = ["DEV_CONTACT_PEPPER", "Settings"]

# Long enough for HMAC-SHA256 and refused in production by the validator below.
DEV_CONTACT_PEPPER = "dev-only-aduan-intake-contact-pepper-not-for-production"


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ADUAN_INTAKE_", extra="ignore")

    service_name: str = "intake"
    port: int = 8001
    database_url: str = "postgresql+asyncpg://postgres:postgres@127.0.0.1:5432/aduan_intake"

    # The secret in HMAC(pepper, normalized contact): the digest lets one reporter reuse one
    # key without the database holding a contact that a dictionary attack could recover.
    contact_pepper: str = Field(default=DEV_CONTACT_PEPPER, min_length=32)

    # Fixed-window rate limit per sender (client address) on every channel POST.
    rate_limit_posts: int = Field(default=30, ge=1)
    rate_limit_window_s: int = Field(default=60, ge=1, le=24 * 3600)
    # Only behind a proxy that sets X-Forwarded-For itself; otherwise a sender could
    # pick a new "address" for every post and escape the limit.
    trust_forwarded_for: bool = False

    # Phone numbers written without a country code are read as numbers of this region.
    default_phone_region: str = Field(default="ID", min_length=2, max_length=2)

    @model_validator(mode="after")
    def _no_dev_secrets_in_production(self) -> Settings:
        if self.environment == "production" and self.contact_pepper == DEV_CONTACT_PEPPER:
            raise ValueError("refusing the development contact pepper in production")
        return self
