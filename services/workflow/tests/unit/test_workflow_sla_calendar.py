"""The working-day calendar and SLA policy, on real 2026 Indonesian holidays (the `holidays`
library) plus configured extra dates. Expected dates are worked out by hand in comments."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aduan_contracts.enums import ReportStatus, SlaStage
from aduan_workflow.config import Settings
from aduan_workflow.domain.sla import SlaPolicy, WorkingCalendar, clock_changes, stages_for

WIB = ZoneInfo("Asia/Jakarta")
S = ReportStatus


def wib(y: int, m: int, d: int, h: int = 0, mi: int = 0) -> datetime:
    return datetime(y, m, d, h, mi, tzinfo=WIB)


CAL = WorkingCalendar()


def test_indonesian_public_holidays_and_weekends_are_not_working_days() -> None:
    assert CAL.is_working_day(date(2026, 3, 18))  # a Wednesday
    assert not CAL.is_working_day(date(2026, 3, 21))  # Saturday (and Idul Fitri)
    assert not CAL.is_working_day(date(2026, 3, 19))  # Nyepi, a Thursday
    assert not CAL.is_working_day(date(2026, 8, 17))  # Independence Day, a Monday
    assert CAL.holiday_name(date(2026, 8, 17)) == "Independence Day"


def test_extra_holidays_from_settings() -> None:
    cal = WorkingCalendar(extra_holidays=[date(2026, 3, 20)])  # cuti bersama, a Friday
    assert CAL.is_working_day(date(2026, 3, 20))
    assert not cal.is_working_day(date(2026, 3, 20))
    assert cal.holiday_name(date(2026, 3, 20)) == "extra holiday (settings)"


def test_triage_target_of_three_working_days() -> None:
    # Friday 13 March 20:00: Mon 16 (1), Tue 17 (2), Wed 18 (3) -> Wed 16:00.
    assert CAL.add_working_days(wib(2026, 3, 13, 20), 3) == wib(2026, 3, 18, 16)
    # Monday 16 March 09:00: the day itself does not count -> Tue, Wed, Fri (Thu is Nyepi).
    assert CAL.add_working_days(wib(2026, 3, 16, 9), 3) == wib(2026, 3, 20, 16)
    # Given in UTC: 2026-03-16 01:00 UTC is 08:00 WIB the same Monday.
    assert CAL.add_working_days(datetime(2026, 3, 16, 1, tzinfo=UTC), 1) == wib(2026, 3, 17, 16)


def test_follow_up_across_lebaran_and_extra_days() -> None:
    cal = WorkingCalendar(extra_holidays=[date(2026, 3, 20), date(2026, 3, 23)])
    # Dispatched Wed 18 March: Thu 19 Nyepi, Fri 20 and Mon 23 extra, Sat-Sun Idul Fitri
    # -> Tue 24 (1), Wed 25 (2), Thu 26 (3), Fri 27 (4), Mon 30 (5).
    assert cal.add_working_days(wib(2026, 3, 18, 10), 5) == wib(2026, 3, 30, 16)


def test_configurable_week_and_office_hours() -> None:
    six_day = WorkingCalendar(workdays=range(6), opens=time(7, 30), closes=time(13, 0))
    # Friday 3 July (no holiday): Saturday now works.
    assert six_day.add_working_days(wib(2026, 7, 3, 10), 1) == wib(2026, 7, 4, 13)
    no_holidays = WorkingCalendar(country=None)
    assert no_holidays.is_working_day(date(2026, 8, 17))
    with pytest.raises(ValueError, match="close after"):
        WorkingCalendar(opens=time(16), closes=time(8))
    with pytest.raises(ValueError, match="at least one"):
        CAL.add_working_days(wib(2026, 7, 3), 0)


def test_reminder_is_working_hours_before_the_deadline() -> None:
    due = wib(2026, 3, 18, 16)  # Wednesday close
    assert CAL.subtract_working_hours(due, 8) == wib(2026, 3, 18, 8)
    assert CAL.subtract_working_hours(due, 2) == wib(2026, 3, 18, 14)
    # 10 h: 8 h of Wednesday, then 2 h from Tuesday's close.
    assert CAL.subtract_working_hours(due, 10) == wib(2026, 3, 17, 14)
    # Due Friday 20 March close; 12 h back skips Nyepi (Thu): Fri 8 h + Wed 4 h.
    assert CAL.subtract_working_hours(wib(2026, 3, 20, 16), 12) == wib(2026, 3, 18, 12)
    # From a non-working moment (Saturday), counting starts at Friday's close.
    assert CAL.subtract_working_hours(wib(2026, 7, 4, 10), 1) == wib(2026, 7, 3, 15)


@given(
    start=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 1)),
    days=st.integers(min_value=1, max_value=15),
)
def test_a_deadline_is_at_close_on_a_working_day_exactly_n_working_days_on(
    start: datetime, days: int
) -> None:
    begun = start.replace(tzinfo=WIB)
    due = CAL.add_working_days(begun, days)
    assert due.timetz().replace(tzinfo=None) == time(16)
    assert CAL.is_working_day(due.date())
    between = [
        begun.date() + timedelta(days=i) for i in range(1, (due.date() - begun.date()).days + 1)
    ]
    assert sum(CAL.is_working_day(d) for d in between) == days
    reminder = CAL.subtract_working_hours(due, 8)
    assert reminder < due
    assert CAL.is_working_day(reminder.date())


def test_policy_per_stage_and_category() -> None:
    policy = SlaPolicy(
        calendar=CAL,
        days={
            SlaStage.TRIAGE: 3,
            SlaStage.DISPATCH: 2,
            SlaStage.FOLLOW_UP: 5,
            SlaStage.VALIDATION: 3,
        },
        category_days={"jalan": {SlaStage.FOLLOW_UP: 10}},
    )
    assert policy.target_days(SlaStage.FOLLOW_UP, "jalan") == 10
    assert policy.target_days(SlaStage.TRIAGE, "jalan") == 3
    assert policy.target_days(SlaStage.FOLLOW_UP, "sampah") == 5
    due = policy.due(SlaStage.TRIAGE, None, wib(2026, 7, 3, 10))
    # Friday: Mon 6, Tue 7, Wed 8 July.
    assert due.due_at == wib(2026, 7, 8, 16)
    assert due.remind_at == wib(2026, 7, 8, 8)
    # A reminder never precedes the start of its own clock.
    late = SlaPolicy(CAL, {SlaStage.TRIAGE: 1}, {}, reminder_lead_hours=40)
    start = wib(2026, 7, 3, 15)
    assert late.due(SlaStage.TRIAGE, None, start).remind_at == start


def test_settings_build_lapor_defaults_and_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ADUAN_WORKFLOW_SLA_CATEGORY_DAYS", '{"jalan": {"follow_up": 10}}')
    monkeypatch.setenv("ADUAN_WORKFLOW_CALENDAR_EXTRA_HOLIDAYS", '["2026-03-20"]')
    monkeypatch.setenv("ADUAN_WORKFLOW_SLA_DAYS", '{"validation": 4}')
    policy = Settings().sla_policy()
    assert policy.target_days(SlaStage.TRIAGE, None) == 3  # LAPOR!
    assert policy.target_days(SlaStage.FOLLOW_UP, None) == 5  # LAPOR!
    assert policy.target_days(SlaStage.VALIDATION, None) == 4
    assert policy.target_days(SlaStage.FOLLOW_UP, "jalan") == 10
    assert not policy.calendar.is_working_day(date(2026, 3, 20))
    monkeypatch.setenv("ADUAN_WORKFLOW_SLA_DAYS", '{"triage": 0}')
    with pytest.raises(ValueError, match="at least 1"):
        Settings()


def test_clocks_per_status() -> None:
    assert clock_changes(None, S.RECEIVED) == (frozenset(), {SlaStage.TRIAGE})
    assert clock_changes(S.RECEIVED, S.COORDINATION) == (frozenset(), frozenset())
    assert clock_changes(S.COORDINATION, S.DISPATCHED) == (
        {SlaStage.TRIAGE},
        {SlaStage.DISPATCH, SlaStage.FOLLOW_UP},
    )
    # Accepting stops the dispatch clock; the follow-up clock keeps its due date.
    assert clock_changes(S.DISPATCHED, S.IN_PROGRESS) == ({SlaStage.DISPATCH}, frozenset())
    assert clock_changes(S.DISPATCHED, S.COORDINATION) == (
        {SlaStage.DISPATCH, SlaStage.FOLLOW_UP},
        {SlaStage.TRIAGE},
    )
    assert clock_changes(S.IN_PROGRESS, S.AWAITING_VALIDATION) == (
        {SlaStage.FOLLOW_UP},
        {SlaStage.VALIDATION},
    )
    assert clock_changes(S.AWAITING_VALIDATION, S.FIELD_VERIFICATION) == (
        frozenset(),
        frozenset(),
    )
    assert clock_changes(S.AWAITING_VALIDATION, S.FOLLOWUP_REJECTED) == (
        {SlaStage.VALIDATION},
        {SlaStage.FOLLOW_UP},
    )
    assert clock_changes(S.COMPLETED, S.IN_PROGRESS) == (frozenset(), {SlaStage.FOLLOW_UP})
    for final in (S.COMPLETED, S.REJECTED, S.MERGED):
        assert stages_for(final) == frozenset()
    assert {s for status in ReportStatus for s in stages_for(status)} == set(SlaStage)
