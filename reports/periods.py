"""Reporting periods: half-years, ``2026-H1`` (1 Jan–30 Jun) and ``2026-H2`` (1 Jul–31 Dec), UTC.

A period covers ``start <= received_at < end``: ``end`` is the first instant of the
next period, so 2026-06-30T23:59:59.999999Z is in 2026-H1 and 2026-07-01T00:00:00Z is
in 2026-H2, exactly to the second (and below).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

PERIOD_RE = re.compile(r"^([0-9]{4})-H([12])$")
FIRST_YEAR = 1990
LAST_YEAR = 9998
# National-security figures are reportable only once the period ended this long ago.
NATIONAL_SECURITY_DELAY = timedelta(days=180)


class PeriodError(ValueError):
    """A period that is not ``YYYY-H1`` or ``YYYY-H2``."""


@dataclass(frozen=True, order=True)
class Period:
    year: int
    half: int

    @classmethod
    def parse(cls, text: object) -> "Period":
        if not isinstance(text, str):
            raise PeriodError("a period is text such as 2026-H1")
        match = PERIOD_RE.fullmatch(text.strip()) if len(text) <= 20 else None
        if not match:
            raise PeriodError(f"{text!r} is not a period: use YYYY-H1 (January–June) or YYYY-H2 (July–December)")
        year, half = int(match.group(1)), int(match.group(2))
        if not FIRST_YEAR <= year <= LAST_YEAR:
            raise PeriodError(f"{text!r} is not a period: the year must be between {FIRST_YEAR} and {LAST_YEAR}")
        return cls(year, half)

    @classmethod
    def containing(cls, moment: datetime) -> "Period":
        moment = _utc(moment)
        return cls(moment.year, 1 if moment.month <= 6 else 2)

    @property
    def code(self) -> str:
        return f"{self.year}-H{self.half}"

    def __str__(self) -> str:
        return self.code

    @property
    def start(self) -> datetime:
        return datetime(self.year, 1 if self.half == 1 else 7, 1, tzinfo=timezone.utc)

    @property
    def end(self) -> datetime:
        """The first instant after the period (exclusive bound)."""
        return self.next().start

    @property
    def last_day(self) -> datetime:
        return self.end - timedelta(days=1)

    def next(self) -> "Period":
        return Period(self.year, 2) if self.half == 1 else Period(self.year + 1, 1)

    def previous(self) -> "Period":
        return Period(self.year, 1) if self.half == 2 else Period(self.year - 1, 2)

    def has_started(self, now: datetime) -> bool:
        return _utc(now) >= self.start

    def has_ended(self, now: datetime) -> bool:
        return _utc(now) >= self.end

    def national_security_reportable(self, now: datetime) -> bool:
        """True once the period ended at least 180 days before ``now``."""
        return _utc(now) >= self.end + NATIONAL_SECURITY_DELAY

    @property
    def label(self) -> str:
        """``1 January – 30 June 2026``."""
        first = "1 January" if self.half == 1 else "1 July"
        last = "30 June" if self.half == 1 else "31 December"
        return f"{first} – {last} {self.year}"

    @property
    def short_label(self) -> str:
        """``H1 2026``."""
        return f"H{self.half} {self.year}"


def _utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("naive datetime given; periods are judged in UTC")
    return moment.astimezone(timezone.utc)
