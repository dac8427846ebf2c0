"""Intake settings (env prefix `ADUAN_INTAKE_`)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict

from aduan_kit.localsecrets import DEFAULT_SECRETS_DIR, installation_secret
from aduan_kit.settings import ServiceSettings

__all__ = ["DEFAULT_BLOB_ROOT", "DEV_CONTACT_PEPPER", "DEV_JWT_SECRET", "Settings"]

# `.run/blobs` at the repository root: the directory the gateway serves photos from by
# default, whatever directory either service was started in.
DEFAULT_BLOB_ROOT = str(Path(__file__).resolve().parents[4] / ".run" / "blobs")

# Public placeholders, in the repository: refused in production, and in development replaced
# by this installation's own secrets (`.run/secrets/`, aduan_kit.localsecrets; the JWT one is
# the gateway's file, so `make up` tokens verify here). Only `ENVIRONMENT=test` keeps them.
DEV_CONTACT_PEPPER = "dev-only-aduan-intake-contact-pepper-not-for-production"
DEV_JWT_SECRET = "dev-only-aduan-gateway-jwt-secret-not-for-production"  # noqa: S105


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ADUAN_INTAKE_", extra="ignore")

    service_name: str = "intake"
    port: int = 8001
    database_url: str = "postgresql+asyncpg://postgres:postgres@127.0.0.1:5432/aduan_intake"

    # The secret in HMAC(pepper, normalized contact): the digest lets one reporter reuse one
    # key without the database holding a contact that a dictionary attack could recover.
    contact_pepper: str = Field(default=DEV_CONTACT_PEPPER, min_length=32)
    # Where development secrets left at their placeholders are kept (the gateway's too).
    secrets_dir: str = DEFAULT_SECRETS_DIR

    # Fixed-window rate limit per sender (client address) on every channel POST.
    rate_limit_posts: int = Field(default=30, ge=1)
    rate_limit_window_s: int = Field(default=60, ge=1, le=24 * 3600)
    # Only behind a proxy that sets X-Forwarded-For itself; otherwise a sender could
    # pick a new "address" for every post and escape the limit.
    trust_forwarded_for: bool = False
    # Peers that post on citizens' behalf and pass their address in X-Forwarded-For (the
    # portal's filing and answer forms): behind them the nearest untrusted hop counts, so
    # one citizen's flood does not lock every portal user out. Anyone else is limited by
    # their own address.
    trusted_proxies: tuple[str, ...] = ("127.0.0.1", "::1")

    # Phone numbers written without a country code are read as numbers of this region.
    default_phone_region: str = Field(default="ID", min_length=2, max_length=2)

    # Kelurahan boundaries (GeoJSON FeatureCollection, the Kemendagri code in the feature
    # property `area_boundaries_code_property`) to resolve a map point to its area. None
    # ship with the project (docs/decisions.md, D13): without a file, points are not used.
    area_boundaries: Path | None = None
    area_boundaries_code_property: str = "code"
    # A point this close to a border (GPS, a tap) is less sure and names the neighbour too.
    area_boundaries_margin_m: float = Field(default=25.0, ge=0, le=1000)

    # --- photos (every channel) ----------------------------------------------------------
    # Content-addressed store shared with the gateway, which serves the photos.
    blob_root: str = DEFAULT_BLOB_ROOT
    photo_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    photo_max_count: int = Field(default=5, ge=0, le=20)
    # Biggest request body any HTTP channel accepts (photos included).
    max_body_bytes: int = Field(default=30 * 1024 * 1024, ge=1024)

    # --- citizen app (REST) ---------------------------------------------------------------
    # Keys the official apps send in `X-App-Key`; empty refuses every app request.
    app_keys: list[SecretStr] = Field(default_factory=list)

    # --- e-mail (inbound SMTP, inside the intake process) ---------------------------------
    smtp_enabled: bool = True
    smtp_host: str = "127.0.0.1"
    # None: 2525, or an ephemeral port (0) under ENVIRONMENT=test, so test services and a
    # `make up` intake on the same machine never fight over one port.
    smtp_port: int | None = Field(default=None, ge=0, le=65535)
    smtp_max_bytes: int = Field(default=25 * 1024 * 1024, ge=1024)
    # Recipient domains the listener accepts mail for; empty accepts any recipient.
    smtp_domains: list[str] = Field(default_factory=list)

    # --- SMS gateway (Twilio-compatible form webhook) -------------------------------------
    sms_auth_token: SecretStr | None = None
    # The public URL the gateway posts to and signs; behind a proxy the URL this process
    # sees differs, so it must be configured. None: the request's own URL.
    sms_public_url: str | None = None

    # --- WhatsApp Cloud API ----------------------------------------------------------------
    whatsapp_verify_token: SecretStr | None = None
    whatsapp_app_secret: SecretStr | None = None
    whatsapp_access_token: SecretStr | None = None
    whatsapp_graph_url: str = "https://graph.facebook.com/v21.0"

    # --- X Account Activity API ------------------------------------------------------------
    x_consumer_secret: SecretStr | None = None

    # --- Facebook Messenger and Instagram (Meta webhooks) ---------------------------------
    facebook_verify_token: SecretStr | None = None
    facebook_app_secret: SecretStr | None = None
    instagram_verify_token: SecretStr | None = None
    instagram_app_secret: SecretStr | None = None
    # Attachment URLs in Meta payloads are fetched only from these host suffixes (the
    # payload is signed, but a fetch to an arbitrary host would still be an SSRF door).
    meta_media_hosts: list[str] = Field(
        default_factory=lambda: ["fbcdn.net", "fbsbx.com", "cdninstagram.com"]
    )

    # --- LAPOR! SP4N sync ------------------------------------------------------------------
    lapor_api_url: str | None = None
    lapor_api_token: SecretStr | None = None
    lapor_poll_interval_s: float = Field(default=300.0, ge=0.05)
    lapor_page_limit: int = Field(default=20, ge=1, le=1000)

    # --- staff entry (call centre, walk-in counter, scanned letter) -----------------------
    # HS256 tokens issued by the gateway: the same secret as its `jwt_secret`.
    jwt_secret: str = Field(default=DEV_JWT_SECRET, min_length=32)
    staff_roles: list[str] = Field(default_factory=lambda: ["ticket-admin", "administrator"])

    # --- Open311 GeoReport v2 ------------------------------------------------------------
    open311_api_keys: list[SecretStr] = Field(default_factory=list)
    # Categories are not configured here: they are the gateway's catalogue, read from the
    # topic gateway.categories.v1 (aduan_intake.adapters.catalogue).

    # How long after an officer's question the reporter's next SMS or WhatsApp message is
    # taken as the answer (the answer link in the question works for as long as it is open).
    answer_window_days: int = Field(default=14, ge=1, le=90)

    # Timeout for fetching media from providers (WhatsApp, Meta) and for LAPOR! pulls.
    provider_timeout_s: float = Field(default=10.0, gt=0)

    # --- load shedding (aduan_intake.admission) -------------------------------------------
    # Filings worked on at once (each holds a database connection while it does). Beyond
    # it a filing waits at most `filing_admission_wait_s`, then is refused with 503 +
    # Retry-After (451 on SMTP): every sender retries, and a quick refusal beats a 30-s
    # wait for a connection ending in a 500. None: `database_pool_size`, which leaves the
    # pool's overflow to the consumers and the outbox relay, so a filing never queues for
    # a connection.
    filing_max_in_flight: int | None = Field(default=None, ge=1)
    filing_admission_wait_s: float = Field(default=1.0, ge=0.0, le=30.0)
    # POSTs in progress at once (body reading, parsing, filing); past it a POST gets 503 +
    # Retry-After before anything runs. None: 4 x the filing bound.
    max_posts_in_progress: int | None = Field(default=None, ge=1)
    # What a refused sender is told to wait (`Retry-After`, seconds).
    overload_retry_after_s: int = Field(default=2, ge=1, le=3600)
    # Group commit (aduan_intake.service.filing): filings that arrive while others are being
    # written share the next transaction, at most this many (1: each its own); none is
    # answered before its group committed. At most `filing_group_concurrency` groups are
    # written at once (never more than `filing_max_in_flight`).
    filing_group_max: int = Field(default=32, ge=1, le=1000)
    filing_group_concurrency: int = Field(default=4, ge=1, le=100)
    # While filings arrive closer together than this (a moving average of the gaps), a
    # group waits up to this long for company before its transaction begins (0: never).
    # At a steady 100/s, 40 ms puts four or five filings in a transaction instead of one
    # (20 ms, the default until issue 18's twenty-first step: two or three; docs/intake.md).
    filing_group_linger_ms: float = Field(default=40.0, ge=0.0, le=1000.0)

    @property
    def filing_limit(self) -> int:
        return self.filing_max_in_flight or self.database_pool_size

    @property
    def smtp_bind_port(self) -> int:
        if self.smtp_port is not None:
            return self.smtp_port
        return 0 if self.environment == "test" else 2525

    @model_validator(mode="after")
    def _filings_fit_the_pool(self) -> Settings:
        # The kit's pool holds database_pool_size connections plus half as many overflow;
        # a bound above that would let filings wait for connections again (the 30-s 500).
        capacity = self.database_pool_size + max(self.database_pool_size // 2, 1)
        if self.filing_limit >= capacity:
            raise ValueError(
                f"filing_max_in_flight ({self.filing_limit}) must stay below the database "
                f"pool's {capacity} connections (database_pool_size and its overflow), so "
                "the consumers and the outbox relay keep a connection"
            )
        return self

    @model_validator(mode="after")
    def _no_public_secrets(self) -> Settings:
        if self.environment == "production":
            if self.contact_pepper == DEV_CONTACT_PEPPER:
                raise ValueError("refusing the development contact pepper in production")
            if self.jwt_secret == DEV_JWT_SECRET:
                raise ValueError("refusing the development JWT secret in production")
        elif self.environment == "development":
            # Only placeholders nobody set: a value given (even the placeholder, as a test
            # sharing it with a CLI run does) is used as given.
            given = self.model_fields_set
            if self.contact_pepper == DEV_CONTACT_PEPPER and "contact_pepper" not in given:
                self.contact_pepper = installation_secret("contact_pepper", self.secrets_dir)
            if self.jwt_secret == DEV_JWT_SECRET and "jwt_secret" not in given:
                self.jwt_secret = installation_secret("jwt_secret", self.secrets_dir)
        return self
