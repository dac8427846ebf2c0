"""Notifier settings (env prefix `ADUAN_NOTIFIER_`).

Every delivery adapter is configured here; an adapter whose URL (or SMTP host) is empty is
off, and the fallback order skips it. The defaults point at the local sinks that `make up`
starts (`python -m aduan_notifier.sinks`: SMTP on 8025, HTTP on 8090), so a person can see
what would have been sent; production sets the providers' real addresses and secrets.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from aduan_contracts.enums import SlaStage
from aduan_kit.settings import ServiceSettings

__all__ = ["Settings"]

SINK_HTTP = "http://127.0.0.1:8090"
_DEV_SECRET = "dev-local-sink-token"  # noqa: S105 - a placeholder refused in production


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ADUAN_NOTIFIER_", extra="ignore")

    service_name: str = "notifier"
    port: int = 8003
    database_url: str = "postgresql+asyncpg://postgres:postgres@127.0.0.1:5432/aduan_notifier"
    # Downstream of intake: polls again no sooner than 120 ms after a poll that brought
    # records (issue 18, tenth and nineteenth steps; see aduan_workflow.config).
    kafka_poll_pace_ms: int = Field(default=120, ge=0, le=1_000)
    # Where reporters track their report: `{portal_base_url}/track/{receipt_code}`.
    portal_base_url: str = "http://127.0.0.1:8080"

    # SLA stages (triage, dispatch, follow_up, validation) whose breach earns the reporter an
    # apology; empty: none. JSON list, e.g. '["follow_up"]'.
    sla_apology_stages: list[SlaStage] = Field(default_factory=list)

    # --- the delivery worker ------------------------------------------------------------------
    delivery_enabled: bool = True
    # The worker is woken by the commits that record deliveries and by the retries it
    # schedules; this poll is only a safety net: rows recorded by another replica whose
    # worker is busy or off, and leases left behind by a worker that died.
    delivery_poll_interval_s: float = Field(default=5.0, gt=0)
    # Claimed per transaction, and the most provider calls in flight at once.
    delivery_batch_size: int = Field(default=20, ge=1, le=500)
    # Outcomes wait up to this long for the other calls in flight to finish, so that one
    # statement records several (0: each write takes what is ready). Nobody waits on an
    # outcome but its own delivery task; a lone delivery never waits.
    delivery_outcome_linger_ms: float = Field(default=20.0, ge=0.0, le=1000.0)
    # A claimed delivery whose worker died is taken over once its lease ran out.
    delivery_lease_s: float = Field(default=60.0, gt=0)
    delivery_max_attempts: int = Field(default=8, ge=1, le=50)
    retry_base_s: float = Field(default=5.0, gt=0)
    retry_cap_s: float = Field(default=900.0, gt=0)
    # A status change can overtake intake's event (who the reporter is) or the key that
    # opens it; how long to wait for them before giving up.
    recipient_wait_s: float = Field(default=3600.0, gt=0)
    recipient_poll_s: float = Field(default=2.0, gt=0)
    http_timeout_s: float = Field(default=10.0, gt=0)
    # How long each provider's client keeps an idle connection for the next message.
    http_keepalive_s: float = Field(default=30.0, ge=0)

    # --- e-mail (SMTP, aiosmtplib) ------------------------------------------------------------
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_security: Literal["none", "starttls", "tls"] = "none"
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    email_from: str = "Aduan <no-reply@aduan.localhost>"
    # Kept SMTP sessions (one message at a time each), replaced after this many messages
    # or this long unused (servers drop idle clients after a few minutes).
    smtp_pool_size: int = Field(default=4, ge=1, le=100)
    smtp_session_messages: int = Field(default=100, ge=1)
    smtp_idle_s: float = Field(default=30.0, ge=0)

    # --- SMS gateway (generic HTTP API with an API key) --------------------------------------
    sms_url: str = f"{SINK_HTTP}/sms/send"
    sms_api_key: SecretStr = SecretStr(_DEV_SECRET)
    # "Authorization" sends `Authorization: Bearer <key>`; any other name sends the raw key.
    sms_api_key_header: str = "Authorization"
    sms_format: Literal["json", "form"] = "json"
    sms_sender_id: str = "ADUAN"

    # --- WhatsApp Cloud API -------------------------------------------------------------------
    whatsapp_base_url: str = f"{SINK_HTTP}/whatsapp"  # production: https://graph.facebook.com
    whatsapp_api_version: str = "v21.0"
    whatsapp_phone_number_id: str = "100000000000001"
    whatsapp_token: SecretStr = SecretStr(_DEV_SECRET)
    # Our template -> the name of a template Meta approved for this number, used outside
    # the 24-hour window with the receipt code as parameter {{1}}. None approved: outside
    # the window WhatsApp is skipped and the fallback (SMS, e-mail) is used.
    whatsapp_templates: dict[str, str] = Field(default_factory=dict)

    # --- Messenger / Instagram Send API ---------------------------------------------------------
    messenger_base_url: str = f"{SINK_HTTP}/graph"  # production: https://graph.facebook.com
    messenger_api_version: str = "v21.0"
    messenger_page_id: str = "100000000000002"
    messenger_token: SecretStr = SecretStr(_DEV_SECRET)
    # Outside the 24-hour window Meta allows a message only with a tag your page may use
    # (e.g. ACCOUNT_UPDATE, HUMAN_AGENT); empty: fall back instead.
    messenger_message_tag: str = ""
    instagram_base_url: str = f"{SINK_HTTP}/instagram"  # production: https://graph.instagram.com
    instagram_api_version: str = "v21.0"
    instagram_account_id: str = "100000000000003"
    instagram_token: SecretStr = SecretStr(_DEV_SECRET)
    instagram_message_tag: str = ""

    # --- X direct messages --------------------------------------------------------------------
    x_base_url: str = f"{SINK_HTTP}/x"  # production: https://api.x.com
    x_token: SecretStr = SecretStr(_DEV_SECRET)  # OAuth 2.0 user-context token, dm.write

    # --- the citizen app's push webhook -------------------------------------------------------
    push_url: str = f"{SINK_HTTP}/push"
    push_token: SecretStr = SecretStr(_DEV_SECRET)

    @field_validator(
        "portal_base_url",
        "whatsapp_base_url",
        "messenger_base_url",
        "instagram_base_url",
        "x_base_url",
    )
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _no_placeholders_in_production(self) -> Settings:
        if self.environment != "production":
            return self
        # (secret, whether its adapter is on)
        in_use = {
            "sms_api_key": bool(self.sms_url),
            "whatsapp_token": bool(self.whatsapp_base_url),
            "messenger_token": bool(self.messenger_base_url),
            "instagram_token": bool(self.instagram_base_url),
            "x_token": bool(self.x_base_url),
            "push_token": bool(self.push_url),
        }
        for name, on in in_use.items():
            if on and getattr(self, name).get_secret_value() == _DEV_SECRET:
                raise ValueError(f"refusing the development placeholder for {name} in production")
        return self
