"""Reporting periods in UK time, and the previous period each compares with."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from disclosure.reports.periods import BadPeriod, last_financial_year, parse


def test_a_financial_year_runs_from_1_april_to_31_march_in_london() -> None:
    year = parse("2025-26")
    assert (year.first, year.last) == (date(2025, 4, 1), date(2026, 3, 31))
    # Midnight in London is 23:00 UTC in summer time, on both ends of this year.
    assert year.start == datetime(2025, 3, 31, 23, 0, tzinfo=UTC)
    assert year.end == datetime(2026, 3, 31, 23, 0, tzinfo=UTC)
    assert year.previous().key == "2024-25"


def test_quarters_follow_the_financial_year() -> None:
    third = parse("2025-26-Q3")
    assert (third.first, third.last) == (date(2025, 10, 1), date(2025, 12, 31))
    # It starts in summer time and ends in Greenwich Mean Time.
    assert third.start == datetime(2025, 9, 30, 23, 0, tzinfo=UTC)
    assert third.end == datetime(2026, 1, 1, tzinfo=UTC)
    assert parse("2025-26-Q4").last == date(2026, 3, 31)
    assert parse("2025-26-Q1").previous().key == "2024-25-Q4"
    assert parse("2025-26-Q2").previous().key == "2025-26-Q1"


def test_custom_dates_compare_with_as_many_days_before() -> None:
    span = parse("2025-04-01..2025-04-30")
    assert span.previous().key == "2025-03-02..2025-03-31"


@pytest.mark.parametrize("text", ["2025-27", "2025", "2025-26-Q5", "2025-26-Q0", "FY25",
                                  "2025-04-31..2025-05-01", "2025-05-01..2025-04-01", "",
                                  "0001-02", "1900-01", "9999-00", "0001-01-01..0001-01-02",
                                  "2999-12-30..2999-12-31"])
def test_anything_else_is_refused_saying_why(text: str) -> None:
    with pytest.raises(BadPeriod):
        parse(text)


def test_the_last_financial_year_is_the_last_one_ended() -> None:
    assert last_financial_year(date(2026, 11, 21)).key == "2025-26"
    assert last_financial_year(date(2026, 3, 31)).key == "2024-25"
    assert last_financial_year(date(2026, 4, 1)).key == "2025-26"
