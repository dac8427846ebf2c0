"""Service-level clocks (SPEC: "Service-level targets per stage and category"): a working-day
calendar and which stage clocks a status keeps running. Pure: no I/O, no wall clock.

A target of N working days means "by the end of the N-th working day after the day the clock
started" (LAPOR!'s reading: a report received on Friday evening with a 3-day triage target is
due on Wednesday at the close of office hours). A reminder goes out `reminder_lead_hours`
working hours before the deadline, so by default at the opening of the last working day.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays

from aduan_contracts.enums import ReportStatus, SlaStage

__all__ = [
    "STAGES_BY_STATUS",
    "DueDates",
    "SlaPolicy",
    "WorkingCalendar",
    "clock_changes",
    "stages_for",
]

S = ReportStatus

STAGES_BY_STATUS: dict[ReportStatus, frozenset[SlaStage]] = {
    # The triage clock runs from receipt until a ticket-admin (or routing) decides; a report
    # an agency returns gets a fresh one (its first one was closed by the dispatch).
    S.RECEIVED: frozenset({SlaStage.TRIAGE}),
    S.COORDINATION: frozenset({SlaStage.TRIAGE}),
    # Once dispatched the agency must take it up (dispatch clock) and, LAPOR!'s rule, follow
    # up within N working days of the dispatch (follow-up clock, which starts at once).
    S.DISPATCHED: frozenset({SlaStage.DISPATCH, SlaStage.FOLLOW_UP}),
    S.IN_PROGRESS: frozenset({SlaStage.FOLLOW_UP}),
    # A rejected TL sends the agency back to work: the follow-up clock starts again.
    S.FOLLOWUP_REJECTED: frozenset({SlaStage.FOLLOW_UP}),
    S.AWAITING_VALIDATION: frozenset({SlaStage.VALIDATION}),
    S.FIELD_VERIFICATION: frozenset({SlaStage.VALIDATION}),
    S.COMPLETED: frozenset(),
    S.REJECTED: frozenset(),
    S.MERGED: frozenset(),
}


def stages_for(status: ReportStatus) -> frozenset[SlaStage]:
    """The stage clocks that run while a report is in `status`."""
    return STAGES_BY_STATUS[status]


class WorkingCalendar:
    """Working days and office hours in one time zone, minus public holidays (the `holidays`
    library's Indonesian calendar by default) and any extra dates (cuti bersama, regional
    holidays) the deployment lists."""

    def __init__(
        self,
        timezone: str = "Asia/Jakarta",
        country: str | None = "ID",
        subdivision: str | None = None,
        extra_holidays: Iterable[date] = (),
        workdays: Iterable[int] = (0, 1, 2, 3, 4),
        opens: time = time(8, 0),
        closes: time = time(16, 0),
    ) -> None:
        if closes <= opens:
            raise ValueError("office hours must close after they open")
        self.zone = ZoneInfo(timezone)
        self.workdays = frozenset(workdays)
        if not self.workdays or not self.workdays <= set(range(7)):
            raise ValueError("workdays are weekday numbers 0 (Monday) to 6 (Sunday)")
        self.opens = opens
        self.closes = closes
        self._country = country
        self._subdivision = subdivision
        self._extra = frozenset(extra_holidays)
        self._public: dict[int, holidays.HolidayBase] = {}

    def _holidays(self, year: int) -> holidays.HolidayBase | None:
        if self._country is None:
            return None
        if year not in self._public:
            self._public[year] = holidays.country_holidays(
                self._country, subdiv=self._subdivision, years=year
            )
        return self._public[year]

    def holiday_name(self, day: date) -> str | None:
        if day in self._extra:
            return "extra holiday (settings)"
        public = self._holidays(day.year)
        if public is not None and day in public:
            return str(public.get(day))
        return None

    def is_working_day(self, day: date) -> bool:
        return day.weekday() in self.workdays and self.holiday_name(day) is None

    def _next_working_day(self, day: date) -> date:
        day += timedelta(days=1)
        # Bounded: no year is without working days, but a bad configuration must not hang.
        for _ in range(366):
            if self.is_working_day(day):
                return day
            day += timedelta(days=1)
        raise ValueError("no working day within a year: check workdays and holidays")

    def _previous_working_day(self, day: date) -> date:
        day -= timedelta(days=1)
        for _ in range(366):
            if self.is_working_day(day):
                return day
            day -= timedelta(days=1)
        raise ValueError("no working day within a year: check workdays and holidays")

    def _at(self, day: date, moment: time) -> datetime:
        return datetime.combine(day, moment, tzinfo=self.zone)

    def add_working_days(self, start: datetime, days: int) -> datetime:
        """The close of office hours on the `days`-th working day after `start`'s day (the
        day itself never counts: a clock started at 15:59 must not be due at 16:00)."""
        if days < 1:
            raise ValueError("a target is at least one working day")
        day = start.astimezone(self.zone).date()
        for _ in range(days):
            day = self._next_working_day(day)
        return self._at(day, self.closes)

    def subtract_working_hours(self, moment: datetime, hours: float) -> datetime:
        """`hours` of office time before `moment` (used for reminders before a deadline)."""
        remaining = timedelta(hours=hours)
        local = moment.astimezone(self.zone)
        day = local.date()
        if not self.is_working_day(day) or local.time() <= self.opens:
            day = self._previous_working_day(day)
            cursor = self._at(day, self.closes)
        else:
            cursor = min(local, self._at(day, self.closes))
        while True:
            available = cursor - self._at(day, self.opens)
            if remaining <= available:
                return cursor - remaining
            remaining -= available
            day = self._previous_working_day(day)
            cursor = self._at(day, self.closes)


@dataclass(frozen=True, slots=True)
class DueDates:
    due_at: datetime
    remind_at: datetime


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    """Targets in working days per stage, overridden per category; and the reminder lead."""

    calendar: WorkingCalendar
    days: Mapping[SlaStage, int]
    category_days: Mapping[str, Mapping[SlaStage, int]]
    reminder_lead_hours: float = 8.0

    def target_days(self, stage: SlaStage, category: str | None) -> int:
        if category is not None and stage in self.category_days.get(category, {}):
            return self.category_days[category][stage]
        return self.days[stage]

    def due(self, stage: SlaStage, category: str | None, started_at: datetime) -> DueDates:
        due_at = self.calendar.add_working_days(started_at, self.target_days(stage, category))
        remind_at = self.calendar.subtract_working_hours(due_at, self.reminder_lead_hours)
        # A reminder never precedes the clock's own start (a 1-day target started at 15:00).
        return DueDates(due_at=due_at, remind_at=max(remind_at, started_at))


def clock_changes(
    before: ReportStatus | None, after: ReportStatus
) -> tuple[frozenset[SlaStage], frozenset[SlaStage]]:
    """(stages whose clock stops, stages whose clock starts) on `before -> after`; a stage
    running in both keeps its clock (dispatched -> in_progress keeps the follow-up due date)."""
    running = stages_for(before) if before is not None else frozenset()
    wanted = stages_for(after)
    return running - wanted, wanted - running
