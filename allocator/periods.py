"""Settlement periods: a month (``2020-06``), a quarter (``2020Q2``) or a year (``2020``).

A single day (``2020-06-21``) is accepted too, for daily previews before a month closes.

A period never crosses a calendar year, so yearly amounts are prorated with one
``days_in_year`` (365 or 366) per period.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from allocator.errors import InputError

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_QUARTER = re.compile(r"^(\d{4})[Qq]([1-4])$")
_YEAR = re.compile(r"^(\d{4})$")
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")


@dataclass(frozen=True, order=True)
class Period:
    """Days ``start`` (inclusive) to ``end`` (exclusive), labelled as the user wrote it."""

    start: date
    end: date
    label: str

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    @property
    def year(self) -> int:
        return self.start.year

    @property
    def days_in_year(self) -> int:
        return 366 if calendar.isleap(self.start.year) else 365

    def dates(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(self.days)]

    def index(self, day: date) -> int:
        """Day number inside the period (may be outside 0..days-1)."""
        return (day - self.start).days

    def split(self, day: date) -> tuple[Period, Period]:
        """Two custom periods [start, day) and [day, end); used to compare split runs."""
        if not self.start < day < self.end:
            raise InputError(f"cannot split period {self.label} at {day}")
        return (Period(self.start, day, f"{self.label}<{day}"),
                Period(day, self.end, f"{self.label}>={day}"))

    @property
    def kind(self) -> str:
        """``month``, ``quarter``, ``year``, ``day`` (a preview) or ``custom`` (a split)."""
        for kind, pattern in (("month", _MONTH), ("quarter", _QUARTER), ("year", _YEAR),
                              ("day", _DAY)):
            if pattern.match(self.label):
                return kind
        return "custom"

    def next(self) -> Period:
        """The following period of the same kind (month, quarter or year)."""
        if _MONTH.match(self.label):
            return parse_period(f"{self.end.year}-{self.end.month:02d}")
        if _QUARTER.match(self.label):
            return parse_period(f"{self.end.year}Q{(self.end.month - 1) // 3 + 1}")
        if _YEAR.match(self.label):
            return parse_period(str(self.end.year))
        if _DAY.match(self.label):
            return parse_period(self.end.isoformat())
        raise InputError(f"period {self.label} has no successor")


def _month_end(year: int, month: int) -> date:
    return date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)


def parse_period(text: str) -> Period:
    """Parse ``2020-06``, ``2020Q2`` or ``2020``; anything else is an InputError."""
    text = text.strip()
    if m := _MONTH.match(text):
        year, month = int(m[1]), int(m[2])
        if not 1 <= month <= 12:
            raise InputError(f"period {text!r}: month must be 01..12")
        return Period(date(year, month, 1), _month_end(year, month), text)
    if m := _QUARTER.match(text):
        year, q = int(m[1]), int(m[2])
        first = 3 * (q - 1) + 1
        return Period(date(year, first, 1), _month_end(year, first + 2), f"{year}Q{q}")
    if m := _YEAR.match(text):
        year = int(m[1])
        return Period(date(year, 1, 1), date(year + 1, 1, 1), text)
    if m := _DAY.match(text):
        try:
            day = date(int(m[1]), int(m[2]), int(m[3]))
        except ValueError as e:
            raise InputError(f"period {text!r}: {e}") from None
        return Period(day, day + timedelta(days=1), text)
    raise InputError(f"period {text!r}: expected YYYY-MM, YYYYQn, YYYY or YYYY-MM-DD")


def check_period_ended(period: Period, timezone: str, provisional: bool,
                       today: date | None = None) -> None:
    """Refuse a period whose last day has not ended yet in ``timezone`` (its energy is not
    all in), unless ``provisional``. ``today`` defaults to the clock."""
    if today is None:
        today = datetime.now(ZoneInfo(timezone)).date()
    if period.end <= today or provisional:
        return
    when = "has not started yet" if period.start > today else "has not ended yet"
    raise InputError(
        f"period {period.label} {when}: it runs {period.start}..{period.end - timedelta(days=1)}"
        f" and today is {today} ({timezone}), so its energy is not all in. Allocate it after "
        f"it ends, or give --provisional for a preview marked provisional in every file")
