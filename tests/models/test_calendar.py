"""Norwegian working days and holidays, in the reader's language."""

from datetime import date

import pytest

from models.calendar import (
    day_off_name,
    effective_deadline,
    is_working_day,
    working_day_on_or_before,
)


@pytest.mark.parametrize(
    ("day", "nb", "nn", "en"),
    [
        (date(2020, 6, 1), "2. pinsedag", "2. pinsedag", "Pentecost Monday"),
        (date(2020, 5, 17), "Grunnlovsdag", "Grunnlovsdagen", "Constitution Day"),
        (date(2020, 5, 30), "lørdag", "laurdag", "Saturday"),
        (date(2020, 4, 9), "Skjærtorsdag", "Skjærtorsdag", "Maundy Thursday"),
        (date(2020, 6, 2), None, None, None),
    ],
)
def test_day_off_names(day, nb, nn, en):
    assert (day_off_name(day, "nb"), day_off_name(day, "nn"), day_off_name(day, "en")) == (
        nb,
        nn,
        en,
    )


def test_easter_2020_has_four_days_off_in_the_week():
    week = [date(2020, 4, d) for d in range(6, 14)]
    assert [is_working_day(d) for d in week] == [
        True,
        True,
        True,
        False,
        False,
        False,
        False,
        False,
    ]


def test_deadline_on_whit_monday_is_read_as_the_tuesday():
    assert effective_deadline(date(2020, 6, 1)) == date(2020, 6, 2)
    assert working_day_on_or_before(date(2020, 6, 1)) == date(2020, 5, 29)


def test_deadline_on_new_years_eve_2020_is_a_working_day():
    assert effective_deadline(date(2020, 12, 31)) == date(2020, 12, 31)
    assert effective_deadline(date(2022, 12, 31)) == date(2023, 1, 2)
