"""Settlement periods: month, quarter, year and (for previews) a single day."""

from __future__ import annotations

from datetime import date

import pytest

from allocator.errors import InputError
from allocator.periods import parse_period


@pytest.mark.parametrize(("text", "start", "end", "days"), [
    ("2020-06", date(2020, 6, 1), date(2020, 7, 1), 30),
    ("2020Q1", date(2020, 1, 1), date(2020, 4, 1), 91),  # a leap year's February
    ("2021", date(2021, 1, 1), date(2022, 1, 1), 365),
    ("2020-06-21", date(2020, 6, 21), date(2020, 6, 22), 1),
])
def test_parse(text: str, start: date, end: date, days: int) -> None:
    p = parse_period(text)
    assert (p.start, p.end, p.days, p.label) == (start, end, days, text)


def test_next_keeps_the_kind_and_crosses_years() -> None:
    assert parse_period("2020-12").next().label == "2021-01"
    assert parse_period("2020Q4").next().label == "2021Q1"
    assert parse_period("2020-12-31").next().label == "2021-01-01"


@pytest.mark.parametrize("bad", ["2020-13", "2020-02-30", "20Q1", "2020Q5", "June"])
def test_bad_periods_say_what_is_expected(bad: str) -> None:
    with pytest.raises(InputError, match=repr(bad)):
        parse_period(bad)
