"""Reporting periods: a financial year, a quarter of one, or custom dates, in UK time."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from disclosure.schemas import EARLIEST, LATEST

LONDON = ZoneInfo("Europe/London")
_YEAR = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})-(\d{2})-Q([1-4])$")
_DATES = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")
FORMS = "a financial year (2025-26), a quarter (2025-26-Q3) or dates (2025-04-01..2025-06-30)"


class BadPeriod(ValueError):
    """A period that is not one of the three forms, or not a real span of days."""


@dataclass(frozen=True)
class Period:
    """Whole days from `first` to `last` inclusive, as they fall in Europe/London."""

    key: str
    first: date
    last: date

    @property
    def start(self) -> datetime:
        """The first moment of the period, in UTC."""
        return _midnight(self.first)

    @property
    def end(self) -> datetime:
        """The first moment after the period, in UTC."""
        return _midnight(self.last + timedelta(days=1))

    @property
    def label(self) -> str:
        if _YEAR.match(self.key) or _QUARTER.match(self.key):
            return self.key
        return f"{self.first.isoformat()} to {self.last.isoformat()}"

    def previous(self) -> Period:
        """The period before: the year or quarter before, or as many days just before."""
        if match := _YEAR.match(self.key):
            return financial_year(int(match[1]) - 1)
        if match := _QUARTER.match(self.key):
            year, quarter = int(match[1]), int(match[3])
            return quarter_of(year - 1, 4) if quarter == 1 else quarter_of(year, quarter - 1)
        days = (self.last - self.first).days + 1
        last = self.first - timedelta(days=1)
        first = last - timedelta(days=days - 1)
        return Period(f"{first.isoformat()}..{last.isoformat()}", first, last)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), LONDON).astimezone(UTC)


def financial_year(start_year: int) -> Period:
    """1 April of `start_year` to 31 March of the next."""
    return Period(
        f"{start_year}-{(start_year + 1) % 100:02d}",
        date(start_year, 4, 1), date(start_year + 1, 3, 31),
    )


def quarter_of(start_year: int, quarter: int) -> Period:
    """Quarter 1 is April to June of the financial year starting in `start_year`."""
    month = 4 + 3 * (quarter - 1)
    year = start_year + (month - 1) // 12
    month = (month - 1) % 12 + 1
    first = date(year, month, 1)
    after = date(year + (month + 2) // 12, (month + 2) % 12 + 1, 1)
    key = f"{start_year}-{(start_year + 1) % 100:02d}-Q{quarter}"
    return Period(key, first, after - timedelta(days=1))


def parse(text: str) -> Period:
    """A period from its written form; BadPeriod says what is wrong."""
    written = text.strip()
    period = _written(written)
    bounds = f"between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}"
    # The report sets each period beside the one before, so both must be days the service counts.
    try:
        previous = period.previous()
    except (ValueError, OverflowError):
        raise BadPeriod(f"{written}: the period before it must lie {bounds}") from None
    if previous.first < EARLIEST.date() or period.last >= LATEST.date():
        raise BadPeriod(f"{written}: a period and the one before it must lie {bounds}")
    return period


def _written(text: str) -> Period:
    if match := _YEAR.match(text):
        start = int(match[1])
        if int(match[2]) != (start + 1) % 100:
            raise BadPeriod(f"{text}: a financial year is two consecutive years, e.g. 2025-26")
        return _checked(text, financial_year, start)
    if match := _QUARTER.match(text):
        start = int(match[1])
        if int(match[2]) != (start + 1) % 100:
            raise BadPeriod(f"{text}: a quarter's year is two consecutive years, e.g. 2025-26-Q3")
        return _checked(text, quarter_of, start, int(match[3]))
    if match := _DATES.match(text):
        try:
            first, last = date.fromisoformat(match[1]), date.fromisoformat(match[2])
        except ValueError as bad:
            raise BadPeriod(f"{text}: {bad}") from None
        if last < first:
            raise BadPeriod(f"{text}: the last day is before the first")
        if (last - first).days > 3660:
            raise BadPeriod(f"{text}: a period is at most ten years")
        return Period(text, first, last)
    raise BadPeriod(f"{text!r} is not {FORMS}")


def _checked(text: str, make: Callable[..., Period], *years: int) -> Period:
    """A year or quarter whose days the calendar has (year 9999-00 ends in year 10000)."""
    try:
        return make(*years)
    except ValueError:
        raise BadPeriod(f"{text}: its days must lie between {EARLIEST:%Y-%m-%d} and "
                        f"{LATEST:%Y-%m-%d}") from None


def last_financial_year(today: date) -> Period:
    """The last financial year to have ended on `today`."""
    start = today.year - 1 if today.month >= 4 else today.year - 2
    return financial_year(start)
