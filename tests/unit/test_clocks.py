"""Due dates: working days, bank holidays, clock changes, leap days, extensions and status."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import holidays
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from disclosure.clocks import (
    Deadline,
    Extension,
    ExtensionRefused,
    add_limit,
    extend,
    request_clock,
    status,
)
from disclosure.policy import NATIONS, Limit, PolicyError, load_policy_book

LONDON = ZoneInfo("Europe/London")
BOOK = load_policy_book(None).book


def london(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=LONDON)


def end_of_london_day(day: date) -> datetime:
    return datetime.combine(day, time.max, tzinfo=LONDON).astimezone(UTC)


def granted(days: int, reason: str = "awaiting partner agency response") -> Extension:
    return Extension(
        days=days, category="partner_agency", reason=reason, granted_at=london(2026, 5, 1, 9)
    )


# --- working days and bank holidays ---------------------------------------------------------


def test_friday_evening_before_spring_bank_holiday_counts_from_tuesday() -> None:
    received = london(2026, 5, 22, 18, 30)

    deadline = add_limit(received, Limit(10, "working_days"), nation="england")

    assert deadline.due_at == datetime(2026, 6, 8, 22, 59, 59, 999999, tzinfo=UTC)
    assert deadline.due_at.astimezone(LONDON).date() == date(2026, 6, 8)
    assert deadline.holidays_skipped == [(date(2026, 5, 25), "Spring Bank Holiday")]
    assert deadline.weekend_days_skipped == 6
    assert deadline.calendar == "working days (england)"
    assert deadline.explanation == (
        "Due by 23:59 on Monday 8 June 2026: received 18:30 Friday 22 May 2026, plus 10 working "
        "days in England, skipping 6 weekend days and Spring Bank Holiday (25 May)."
    )


def test_first_working_day_after_a_bank_holiday_weekend_is_tuesday() -> None:
    deadline = add_limit(london(2026, 5, 22, 18, 30), Limit(1, "working_days"), nation="england")

    assert deadline.due_at.astimezone(LONDON).date() == date(2026, 5, 26)


@pytest.mark.parametrize(
    ("received", "amount", "england", "scotland"),
    [
        # 2 January is a bank holiday in Scotland only.
        (london(2025, 12, 31, 10), 1, date(2026, 1, 2), date(2026, 1, 5)),
        # St Andrew's Day, Monday 30 November 2026.
        (london(2026, 11, 27, 16), 1, date(2026, 11, 30), date(2026, 12, 1)),
        # Summer bank holiday: first Monday of August in Scotland, last Monday in England.
        (london(2026, 7, 31, 9), 10, date(2026, 8, 14), date(2026, 8, 17)),
        (london(2026, 8, 21, 9), 10, date(2026, 9, 7), date(2026, 9, 4)),
        # Easter Monday is not a Scottish bank holiday.
        (london(2026, 4, 2, 12), 2, date(2026, 4, 8), date(2026, 4, 7)),
    ],
)
def test_english_and_scottish_calendars_give_different_due_dates(
    received: datetime, amount: int, england: date, scotland: date
) -> None:
    limit = Limit(amount, "working_days")

    assert add_limit(received, limit, nation="england").due_at == end_of_london_day(england)
    assert add_limit(received, limit, nation="scotland").due_at == end_of_london_day(scotland)


def test_scottish_deadline_lists_the_scottish_holidays_it_skipped() -> None:
    deadline = add_limit(london(2025, 12, 31, 10), Limit(1, "working_days"), nation="scotland")

    assert deadline.holidays_skipped == [
        (date(2026, 1, 1), "New Year's Day"),
        (date(2026, 1, 2), "New Year Holiday"),
    ]
    assert deadline.weekend_days_skipped == 2
    assert "in Scotland" in deadline.explanation


def test_st_patricks_day_is_skipped_in_northern_ireland_only() -> None:
    received = london(2026, 3, 16, 9)
    limit = Limit(1, "working_days")

    assert add_limit(received, limit, nation="england").due_at == end_of_london_day(
        date(2026, 3, 17)
    )
    assert add_limit(received, limit, nation="northern_ireland").due_at == end_of_london_day(
        date(2026, 3, 18)
    )


def test_unknown_nation_is_refused() -> None:
    with pytest.raises(PolicyError, match="unknown nation 'france'"):
        add_limit(london(2026, 1, 5, 9), Limit(1, "working_days"), nation="france")


def test_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        add_limit(datetime(2026, 1, 5, 9), Limit(1, "hours"), nation="england")


# --- clock changes ---------------------------------------------------------------------------


def test_24_hours_across_the_march_clock_change_is_24_real_hours() -> None:
    received = london(2026, 3, 28, 10, 15)  # GMT; clocks go forward at 01:00 on Sunday 29th

    deadline = add_limit(received, Limit(24, "hours"), nation="england")

    assert deadline.due_at == datetime(2026, 3, 29, 10, 15, tzinfo=UTC)
    assert deadline.due_at.astimezone(LONDON).hour == 11
    assert deadline.explanation == (
        "Due by 11:15 on Sunday 29 March 2026: received 10:15 Saturday 28 March 2026, "
        "plus 24 hours across the clock change."
    )


def test_24_hours_across_the_october_clock_change_is_24_real_hours() -> None:
    received = london(2026, 10, 24, 10, 15)  # BST; clocks go back at 02:00 on Sunday 25th

    deadline = add_limit(received, Limit(24, "hours"), nation="england")

    assert deadline.due_at == datetime(2026, 10, 25, 9, 15, tzinfo=UTC)
    assert deadline.due_at.astimezone(LONDON).hour == 9


def test_24_hours_without_a_clock_change_keeps_the_local_hour() -> None:
    deadline = add_limit(london(2026, 6, 10, 10, 15), Limit(24, "hours"), nation="england")

    assert deadline.due_at.astimezone(LONDON) == london(2026, 6, 11, 10, 15)
    assert "clock change" not in deadline.explanation


@pytest.mark.parametrize(
    ("received", "amount", "due_utc"),
    [
        # Received in GMT, due in BST: end of day is 22:59:59.999999 UTC.
        (london(2026, 3, 28, 10, 15), 1, datetime(2026, 3, 29, 22, 59, 59, 999999, tzinfo=UTC)),
        (london(2026, 3, 20, 23, 30), 28, datetime(2026, 4, 17, 22, 59, 59, 999999, tzinfo=UTC)),
        # Received in BST, due in GMT: end of day is 23:59:59.999999 UTC.
        (london(2026, 10, 24, 10, 15), 1, datetime(2026, 10, 25, 23, 59, 59, 999999, tzinfo=UTC)),
        (london(2026, 10, 20, 0, 5), 28, datetime(2026, 11, 17, 23, 59, 59, 999999, tzinfo=UTC)),
    ],
)
def test_calendar_days_end_at_local_midnight_across_clock_changes(
    received: datetime, amount: int, due_utc: datetime
) -> None:
    deadline = add_limit(received, Limit(amount, "calendar_days"), nation="england")

    assert deadline.due_at == due_utc
    assert deadline.due_at.astimezone(LONDON).time() == time.max
    assert deadline.holidays_skipped == []
    assert deadline.weekend_days_skipped == 0


def test_calendar_days_count_from_the_london_date_not_the_utc_date() -> None:
    # 00:30 BST on 1 June is still 31 May in UTC.
    received = datetime(2026, 5, 31, 23, 30, tzinfo=UTC)

    deadline = add_limit(received, Limit(1, "calendar_days"), nation="england")

    assert deadline.due_at.astimezone(LONDON).date() == date(2026, 6, 2)


# --- leap years ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("received", "due"),
    [
        (london(2028, 2, 29, 14), date(2028, 3, 28)),
        (london(2028, 2, 1, 14), date(2028, 2, 29)),
        (london(2027, 2, 1, 14), date(2027, 3, 1)),
    ],
)
def test_28_calendar_days_around_29_february(received: datetime, due: date) -> None:
    deadline = add_limit(received, Limit(28, "calendar_days"), nation="england")

    assert deadline.due_at == end_of_london_day(due)


# --- extensions ------------------------------------------------------------------------------


def test_extension_within_cap_moves_the_due_date_and_is_explained() -> None:
    deadline = add_limit(london(2026, 4, 24, 10, 15), Limit(10, "working_days"), nation="england")

    extended = extend(deadline, granted(7), cap_days=28, policy_code="dvds-2023")

    assert deadline.due_at == end_of_london_day(date(2026, 5, 11))
    assert extended.due_at == end_of_london_day(date(2026, 5, 18))
    assert extended.base_due_at == deadline.due_at
    assert extended.extensions == [granted(7)]
    assert extended.explanation == (
        "Due by 23:59 on Monday 18 May 2026: received 10:15 Friday 24 April 2026, plus 10 "
        "working days in England, skipping 6 weekend days and May Day (4 May), plus a 7-day "
        "extension (awaiting partner agency response)."
    )


def test_extensions_accumulate_up_to_the_cap() -> None:
    deadline = add_limit(london(2026, 6, 1, 9), Limit(28, "calendar_days"), nation="england")

    once = extend(deadline, granted(21), cap_days=28)
    twice = extend(once, granted(7, "interpreter booked"), cap_days=28)

    assert twice.due_at == end_of_london_day(date(2026, 7, 27))
    assert twice.explanation.endswith(
        "plus extensions of 21 days (awaiting partner agency response) and 7 days "
        "(interpreter booked)."
    )


def test_extension_beyond_cap_is_refused_with_the_reason() -> None:
    deadline = add_limit(london(2026, 6, 1, 9), Limit(28, "calendar_days"), nation="england")
    once = extend(deadline, granted(21), cap_days=28)

    with pytest.raises(ExtensionRefused) as refused:
        extend(once, granted(14), cap_days=28, policy_code="dvds-2023")

    assert str(refused.value) == (
        "extend_deadline: the extensions would total 35 days, over the policy cap of 28 days "
        "(dvds-2023)"
    )


@pytest.mark.parametrize(
    ("extension", "message"),
    [
        (granted(0), "at least 1 day, got 0"),
        (granted(-2), "at least 1 day, got -2"),
        (granted(3, "  "), "needs a reason"),
    ],
)
def test_malformed_extension_is_refused(extension: Extension, message: str) -> None:
    deadline = add_limit(london(2026, 6, 1, 9), Limit(28, "calendar_days"), nation="england")

    with pytest.raises(ExtensionRefused, match=message):
        extend(deadline, extension, cap_days=28)


def test_extension_across_the_october_clock_change_stays_end_of_day() -> None:
    deadline = add_limit(london(2026, 10, 1, 9), Limit(19, "calendar_days"), nation="england")

    extended = extend(deadline, granted(7), cap_days=28)

    assert extended.due_at == end_of_london_day(date(2026, 10, 27))
    assert extended.due_at.astimezone(LONDON).time() == time.max


# --- a request's clock -----------------------------------------------------------------------


def test_request_received_under_dvds_2016_keeps_35_days() -> None:
    received = london(2023, 3, 31, 23, 59, 59)
    policy = BOOK.version_for("dvds", received)

    clock = request_clock(
        policy,
        received_at=received,
        stage_starts={"initial_checks": received},
        extensions=[],
        nation="england",
    )

    assert clock.policy_code == "dvds-2016"
    assert clock.overall is not None
    assert clock.overall.due_at == end_of_london_day(date(2023, 5, 5))
    assert clock.stages == {}


def test_request_received_the_day_after_the_switch_gets_28_days_and_stage_targets() -> None:
    received = london(2023, 4, 1, 0, 0)
    initial_checks_done = london(2023, 4, 3, 11)
    policy = BOOK.version_for("dvds", received)

    clock = request_clock(
        policy,
        received_at=received,
        stage_starts={"initial_checks": received, "meeting": initial_checks_done},
        extensions=[],
        nation="england",
    )

    assert clock.policy_code == "dvds-2023"
    assert clock.overall is not None
    assert clock.overall.due_at == end_of_london_day(date(2023, 4, 29))
    assert clock.stages["initial_checks"].due_at == london(2023, 4, 2, 0, 0).astimezone(UTC)
    # Good Friday 7 April and Easter Monday 10 April 2023 are skipped.
    meeting = clock.stages["meeting"]
    assert meeting.due_at == end_of_london_day(date(2023, 4, 19))
    assert [day for day, _ in meeting.holidays_skipped] == [date(2023, 4, 7), date(2023, 4, 10)]
    assert meeting.explanation.startswith(
        "Due by 23:59 on Wednesday 19 April 2023: initial checks completed 11:00 Monday 3 April"
    )


def test_recorded_extensions_apply_to_the_overall_due_date_only() -> None:
    received = london(2026, 6, 1, 9)

    clock = request_clock(
        BOOK.by_code("dvds-2023"),
        received_at=received,
        stage_starts={"initial_checks": received},
        extensions=[granted(7)],
        nation="england",
    )

    assert clock.overall is not None
    assert clock.overall.due_at == end_of_london_day(date(2026, 7, 6))
    assert clock.stages["initial_checks"].due_at == london(2026, 6, 2, 9).astimezone(UTC)
    assert clock.stages["initial_checks"].extensions == []


def test_mappa_due_date_is_the_one_agreed_at_the_meeting() -> None:
    agreed = london(2026, 6, 12, 17)

    clock = request_clock(
        BOOK.by_code("mappa"),
        received_at=london(2026, 6, 1, 10),
        stage_starts={},
        extensions=[],
        nation="england",
        agreed_due_at=agreed,
    )

    assert clock.overall is not None
    assert clock.overall.due_at == agreed.astimezone(UTC)
    assert clock.overall.limit is None
    assert clock.overall.explanation == (
        "Due by 17:00 on Friday 12 June 2026: agreed at the MAPP meeting, request received "
        "10:00 Monday 1 June 2026."
    )


def test_mappa_without_an_agreed_date_has_no_due_date_to_extend() -> None:
    def clock(extensions: list[Extension]) -> Deadline | None:
        return request_clock(
            BOOK.by_code("mappa"),
            received_at=london(2026, 6, 1, 10),
            stage_starts={},
            extensions=extensions,
            nation="england",
        ).overall

    assert clock([]) is None
    with pytest.raises(ExtensionRefused, match="until the MAPP meeting agrees one"):
        clock([granted(3)])


def test_unknown_stage_start_is_refused() -> None:
    with pytest.raises(PolicyError, match="unknown stage 'review'"):
        request_clock(
            BOOK.by_code("dvds-2023"),
            received_at=london(2026, 6, 1, 10),
            stage_starts={"review": london(2026, 6, 1, 10)},
            extensions=[],
            nation="england",
        )


# --- status ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        (london(2026, 6, 24, 23, 59, 59), "on_time"),
        (london(2026, 6, 25, 0, 0), "due_soon"),
        (london(2026, 6, 29, 23, 59, 59), "due_soon"),
        (london(2026, 6, 30, 0, 0), "overdue"),
    ],
)
def test_status_around_the_due_date(now: datetime, expected: str) -> None:
    deadline = add_limit(london(2026, 6, 1, 9), Limit(28, "calendar_days"), nation="england")

    assert status(deadline, now, timedelta(days=5)) == expected


# --- properties ------------------------------------------------------------------------------


def _is_working_day(day: date, nation: str) -> bool:
    subdivision = {"england": "ENG", "wales": "WLS", "scotland": "SCT", "northern_ireland": "NIR"}
    calendar = holidays.country_holidays("GB", subdiv=subdivision[nation], years=day.year)
    return day.weekday() < 5 and day not in calendar


# No deadline: tests never assert wall-clock times, and a year's holidays loaded for the first
# time can take longer than hypothesis's default on a busy machine.
@settings(deadline=None)
@given(
    start=st.datetimes(
        min_value=datetime(2015, 1, 1), max_value=datetime(2035, 12, 31), timezones=st.just(UTC)
    ),
    amount=st.integers(min_value=1, max_value=60),
    nation=st.sampled_from(NATIONS),
)
def test_working_day_due_date_is_exactly_n_working_days_later(
    start: datetime, amount: int, nation: str
) -> None:
    deadline = add_limit(start, Limit(amount, "working_days"), nation=nation)

    start_day = start.astimezone(LONDON).date()
    due = deadline.due_at.astimezone(LONDON)
    assert due.time() == time.max
    assert _is_working_day(due.date(), nation)
    assert due.date() > start_day
    span = [start_day + timedelta(days=i) for i in range(1, (due.date() - start_day).days + 1)]
    assert sum(_is_working_day(day, nation) for day in span) == amount
    assert len(span) == amount + deadline.weekend_days_skipped + len(deadline.holidays_skipped)
