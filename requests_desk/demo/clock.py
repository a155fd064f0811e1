"""The demo's clock: the planner and the replay count time in whole epoch seconds (UTC),
and a modelled dispatcher runs every 15 minutes."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

UTC = timezone.utc
DAY = 86400
HOUR = 3600
DISPATCH_EVERY = 900  # the modelled dispatcher runs every 15 minutes
YEARS = 3  # the demo's demands span the last three years

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_ORDINAL = 719163  # date(1970, 1, 1).toordinal()


def seconds(dt: datetime) -> int:
    """An aware datetime as whole epoch seconds."""
    return int(dt.timestamp())


def seconds_or_none(dt: datetime | None) -> int | None:
    return None if dt is None else int(dt.timestamp())


def at(s: float) -> datetime:
    """Epoch seconds as an aware UTC datetime (whole seconds)."""
    return EPOCH + timedelta(seconds=int(s))


def midnight(s: float) -> datetime:
    """The start (00:00 UTC) of the day that ``s`` falls in."""
    return at(int(s) // DAY * DAY)


def day(n: int) -> date:
    """Day ``n`` counted from 1970-01-01."""
    return date.fromordinal(n + _EPOCH_ORDINAL)


def next_run(s: int) -> int:
    """The first dispatcher run at or after ``s``."""
    return -(-s // DISPATCH_EVERY) * DISPATCH_EVERY
