"""Dates as people in Norway read them: today in Oslo, working days, public holidays.

A reminder that falls on a day off is sent on the previous working day; a deadline that
falls on a day off is read as the next working day (and shown as falling on a day off)."""

from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from models.settings import get_settings

# The holidays package has bokmål and English names; nynorsk differs for a few.
_NYNORSK = {
    "Første nyttårsdag": "1. nyttårsdag",
    "Skjærtorsdag": "Skjærtorsdag",
    "Langfredag": "Langfredag",
    "Første påskedag": "1. påskedag",
    "Andre påskedag": "2. påskedag",
    "Arbeidernes dag": "Arbeidarane sin dag",
    "Grunnlovsdag": "Grunnlovsdagen",
    "Kristi himmelfartsdag": "Kristi himmelfartsdag",
    "Første pinsedag": "1. pinsedag",
    "Andre pinsedag": "2. pinsedag",
    "Første juledag": "1. juledag",
    "Andre juledag": "2. juledag",
}
_BOKMAL_SHORT = {"Første": "1.", "Andre": "2."}
_WEEKEND = {
    "nb": ("lørdag", "søndag"),
    "nn": ("laurdag", "sundag"),
    "en": ("Saturday", "Sunday"),
}


def today() -> date:
    """Today in the configured time zone (Europe/Oslo), not in UTC."""
    return datetime.now(ZoneInfo(get_settings().timezone)).date()


@lru_cache(maxsize=64)
def _holidays(year: int, language: str) -> holidays.HolidayBase:
    return holidays.Norway(years=year, language=language)


def holiday_name(day: date, language: str = "nb") -> str | None:
    """The public holiday on ``day`` in the reader's language ("2. pinsedag"), or None."""
    name = _holidays(day.year, "en_US" if language == "en" else "no").get(day)
    if name is None or language == "en":
        return name
    if language == "nn":
        return _NYNORSK.get(name, name)
    first, _, rest = name.partition(" ")
    return f"{_BOKMAL_SHORT[first]} {rest}" if first in _BOKMAL_SHORT else name


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _holidays(day.year, "no")


def day_off_name(day: date, language: str = "nb") -> str | None:
    """Why ``day`` is not a working day (a holiday's name, or the weekday), or None."""
    if (name := holiday_name(day, language)) is not None:
        return name
    if day.weekday() >= 5:
        return _WEEKEND[language][day.weekday() - 5]
    return None


@lru_cache(maxsize=8192)
def working_day_on_or_before(day: date) -> date:
    while not is_working_day(day):
        day -= timedelta(days=1)
    return day


@lru_cache(maxsize=8192)
def working_day_on_or_after(day: date) -> date:
    while not is_working_day(day):
        day += timedelta(days=1)
    return day


def effective_deadline(deadline: date) -> date:
    """A deadline on a day off is commonly read as the next working day."""
    return working_day_on_or_after(deadline)
