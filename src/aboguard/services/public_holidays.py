"""Public holidays for legal deadlines (§ 193 BGB): a period that would end on a Saturday, a Sunday or a public
holiday at the place where the declaration is received -- the merchant's -- ends on the next working day.

Germany's holidays differ by state: ``ABOGUARD_MERCHANT_REGION`` (e.g. ``BY``) adds the state's own (Epiphany,
Corpus Christi, ...) to the nationwide ones. The dates come from the ``holidays`` package.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from functools import lru_cache

import holidays

from aboguard.errors import InvalidInput

HolidayCheck = Callable[[date], bool]


def check_region(country: str, region: str | None) -> None:
    """Raise InvalidInput unless ``region`` is one of ``country``'s subdivisions the calendar knows."""
    supported = holidays.list_supported_countries()
    if country not in supported:
        if region:
            raise InvalidInput(f"no public-holiday calendar for {country}; leave ABOGUARD_MERCHANT_REGION unset")
        return
    if region and region not in supported[country]:
        raise InvalidInput(f"ABOGUARD_MERCHANT_REGION={region!r} is no region of {country}; use one of "
                           f"{', '.join(supported[country])}")


def calendar(country: str = "DE", region: str | None = None) -> HolidayCheck:
    """``is_holiday(day)`` for the merchant's place (weekends are not counted here)."""
    check_region(country, region)
    if country not in holidays.list_supported_countries():
        return lambda day: False
    return lambda day: day in _holidays(country, region, day.year)


@lru_cache(maxsize=64)
def _holidays(country: str, region: str | None, year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays(country, subdiv=region, years=year))
