"""Workflow settings (env prefix `ADUAN_WORKFLOW_`)."""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from aduan_kit.settings import ServiceSettings

__all__ = ["Settings"]


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ADUAN_WORKFLOW_", extra="ignore")

    service_name: str = "workflow"
    port: int = 8002
    database_url: str = "postgresql+asyncpg://postgres:postgres@127.0.0.1:5432/aduan_workflow"

    reopen_window_days: int = Field(
        default=7, ge=0, le=365, description="how long a reporter may reopen a completed report"
    )

    @property
    def reopen_window(self) -> timedelta:
        return timedelta(days=self.reopen_window_days)
