"""Notifier settings (env prefix `ADUAN_NOTIFIER_`)."""

from __future__ import annotations

from pydantic import field_validator
from pydantic_settings import SettingsConfigDict

from aduan_kit.settings import ServiceSettings

__all__ = ["Settings"]


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ADUAN_NOTIFIER_", extra="ignore")

    service_name: str = "notifier"
    port: int = 8003
    database_url: str = "postgresql+asyncpg://postgres:postgres@127.0.0.1:5432/aduan_notifier"
    # Where reporters track their report: `{portal_base_url}/track/{receipt_code}`.
    portal_base_url: str = "http://127.0.0.1:8080"

    @field_validator("portal_base_url")
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")
