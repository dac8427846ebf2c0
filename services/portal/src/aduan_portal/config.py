"""Portal settings (env prefix `ADUAN_PORTAL_`)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from aduan_kit.settings import ServiceSettings

__all__ = ["Settings"]


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ADUAN_PORTAL_", extra="ignore")

    service_name: str = "portal"
    port: int = 8080
    database_url: str = "postgresql+asyncpg://postgres:postgres@127.0.0.1:5432/aduan_portal"
    page_size: int = Field(default=50, ge=1, le=500)
