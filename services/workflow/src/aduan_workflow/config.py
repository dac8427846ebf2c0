"""Workflow settings (env prefix `ADUAN_WORKFLOW_`). Dicts and lists are JSON in the
environment, e.g. `ADUAN_WORKFLOW_SLA_CATEGORY_DAYS='{"jalan": {"follow_up": 10}}'`."""

from __future__ import annotations

from datetime import date, time, timedelta

from pydantic import Field, field_validator
from pydantic_settings import SettingsConfigDict

from aduan_contracts.enums import SlaStage
from aduan_kit.settings import ServiceSettings
from aduan_workflow.domain.sla import SlaPolicy, WorkingCalendar

__all__ = ["Settings"]

# LAPOR!'s rules (SPEC): triage within 3 working days, follow-up within 5 working days of the
# dispatch. Taking a dispatched report up and validating a TL have no LAPOR! figure; these
# are our defaults, to be set per deployment.
DEFAULT_SLA_DAYS: dict[SlaStage, int] = {
    SlaStage.TRIAGE: 3,
    SlaStage.DISPATCH: 2,
    SlaStage.FOLLOW_UP: 5,
    SlaStage.VALIDATION: 3,
}


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ADUAN_WORKFLOW_", extra="ignore")

    service_name: str = "workflow"
    port: int = 8002
    database_url: str = "postgresql+asyncpg://postgres:postgres@127.0.0.1:5432/aduan_workflow"
    # A consumer downstream of intake polls again no sooner than 120 ms after a poll that
    # brought records (issue 18, tenth and nineteenth steps; `aduan_kit.batching`): what
    # arrives meanwhile shares one fetch, one transaction and one relay pass. A quiet
    # consumer's first record never waits. Since a paced poll also takes what reached the
    # broker during the pace (nineteenth step), 120 ms here and in the notifier cost no more
    # end to end than 40 ms did before (p50 ~180-210 ms, p99 330-430 ms at 100/s on a slow
    # machine) and saved ~20 % of the platform's CPU (docs/performance.md). The gateway and
    # the portal, off the reporter's path, pace at 200 ms; intake, which answers people on
    # HTTP, keeps the kit's 0.
    kafka_poll_pace_ms: int = Field(default=120, ge=0, le=1_000)

    reopen_window_days: int = Field(
        default=7, ge=0, le=365, description="how long a reporter may reopen a completed report"
    )

    # --- SLA clocks ---
    sla_days: dict[SlaStage, int] = Field(
        default_factory=lambda: dict(DEFAULT_SLA_DAYS),
        description="target in working days per stage (missing stages take the default)",
    )
    sla_category_days: dict[str, dict[SlaStage, int]] = Field(
        default_factory=dict, description="per-category overrides of `sla_days`"
    )
    sla_reminder_lead_hours: float = Field(
        default=8.0, gt=0, le=200, description="working hours before a deadline to remind"
    )
    calendar_timezone: str = "Asia/Jakarta"
    calendar_country: str | None = Field(
        default="ID", description="public holidays of this country (`holidays` library)"
    )
    calendar_subdivision: str | None = None
    calendar_extra_holidays: list[date] = Field(
        default_factory=list, description="extra non-working dates: cuti bersama, local days"
    )
    calendar_workdays: list[int] = Field(
        default_factory=lambda: [0, 1, 2, 3, 4], description="0 = Monday ... 6 = Sunday"
    )
    calendar_opens: time = time(8, 0)
    calendar_closes: time = time(16, 0)
    sla_scan_interval_s: float = Field(
        default=30.0, gt=0, description="how often the SLA scanner looks for due clocks"
    )
    sla_scan_batch: int = Field(default=500, ge=1, le=10000)

    # --- routing by place (issue 19) ---
    area_route_min_confidence: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="a category's area routes apply only when intake was at least this sure "
        "of the report's area; below it the category's own agency takes the report",
    )

    # --- evidence check on follow-ups ---
    evidence_max_distance_m: float = Field(
        default=200.0, gt=0, description="after-photos farther than this from the report fail"
    )

    @field_validator("sla_days", "sla_category_days", mode="after")
    @classmethod
    def _positive(cls, value: dict[str, object]) -> dict[str, object]:
        def check(days: object) -> None:
            if isinstance(days, dict):
                for v in days.values():
                    check(v)
            elif not isinstance(days, int) or days < 1:
                raise ValueError("SLA targets are whole working days, at least 1")

        check(value)
        return value

    @property
    def reopen_window(self) -> timedelta:
        return timedelta(days=self.reopen_window_days)

    def calendar(self) -> WorkingCalendar:
        return WorkingCalendar(
            timezone=self.calendar_timezone,
            country=self.calendar_country,
            subdivision=self.calendar_subdivision,
            extra_holidays=self.calendar_extra_holidays,
            workdays=self.calendar_workdays,
            opens=self.calendar_opens,
            closes=self.calendar_closes,
        )

    def sla_policy(self) -> SlaPolicy:
        return SlaPolicy(
            calendar=self.calendar(),
            days={**DEFAULT_SLA_DAYS, **self.sla_days},
            category_days=self.sla_category_days,
            reminder_lead_hours=self.sla_reminder_lead_hours,
        )
