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
    # The public reports the gateway publishes feed the portal's map and lists: like the
    # gateway's read model, off the reporter's path, so its polls are paced at 200 ms under
    # load (issue 18, nineteenth step; aduan_kit.batching); a lone record never waits.
    kafka_poll_pace_ms: int = Field(default=200, ge=0, le=1_000)

    # --- officer console (aduan_portal.console) and "track my report" ----------------------
    # The privacy gateway's HTTP API: the console's only source of report data.
    gateway_url: str = "http://127.0.0.1:8000"
    # Intake's HTTP entrance: what a citizen writes on the portal (an answer to an
    # officer's question) enters through intake like every channel (docs/decisions.md).
    intake_url: str = "http://127.0.0.1:8001"
    gateway_timeout_s: float = Field(default=20.0, gt=0, le=120)
    # How long an idle console session lives in Redis (each request extends it).
    console_session_ttl_s: int = Field(default=8 * 3600, ge=60, le=7 * 24 * 3600)
    # Secure cookies need HTTPS; local `make up` serves plain HTTP, production sets this.
    console_cookie_secure: bool = False
    # Per photo the console accepts before forwarding to the gateway (which checks again).
    console_max_photo_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)

    # --- public portal: map and "track my report" -------------------------------------------
    # Any XYZ tile server; the page works without tiles (markers on a blank background).
    map_tile_url: str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png"
    map_tile_attribution: str = (
        '&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'
    )
    # Where the map opens when no report has a point (Jakarta).
    map_center_lat: float = Field(default=-6.2, ge=-90, le=90)
    map_center_lon: float = Field(default=106.82, ge=-180, le=180)
    map_zoom: int = Field(default=11, ge=1, le=18)
    # The public track page waits this long for the gateway, then says it is unavailable.
    track_timeout_s: float = Field(default=5.0, gt=0, le=60)
    # Photos a citizen may attach on the portal's form (intake's limit: keep them equal).
    file_max_photos: int = Field(default=5, ge=0, le=20)

    # --- Open311 GeoReport v2 root (aduan_portal.open311, docs/open311.md) -----------------
    # The root's public URL as discovery lists it (e.g. https://aduan.example.org/open311/v2);
    # empty: the base URL each request came to.
    open311_url: str | None = None
    # The one jurisdiction served; a request naming another gets the spec's 404.
    open311_jurisdiction_id: str = "jakarta.go.id"
    open311_contact: str = "The operators of this Aduan installation (see its portal)"
    open311_key_service: str = "Ask the operators for an api_key (intake's OPEN311_API_KEYS)"
