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


# ---------------------------------------------------------------- the audit chain's order
#
# The bulk path queues every event under an order key and chains them in key order; the
# keys put them where the service path meets them. A key is the second, then:
# - the dispatcher's run at that second (it runs before any step at the same second):
#   first its releases in notice order, then its sends and give-ups in the order it
#   claims them (by next attempt, then notice);
# - then the cases' steps, by case and step, each step with up to four slots (its own
#   event; the log's gag and legal process or an action's release after it), and in a
#   slot, after its event, the notices that slot released, in notice order.
# A notice's order is the order of its id in the service path: by the slot that made
# it, then its customer's position.

TIME_SHIFT = 130
STEP_PHASE = 1 << 128  # a case's steps come after the dispatcher's run of the same second
RUN_SENDS = 1 << 127  # in a run: releases, then sends and give-ups
SLOT = 1 << 16  # the next slot of a step (its events' own positions are below)


def order_key(at_s: int, index: int, number: int = 0) -> int:
    """The key of step ``number`` of case ``index`` at second ``at_s`` (its first slot;
    ``+ SLOT`` for the next ones, up to ``+ 3 * SLOT``)."""
    if number >= 64:
        raise ValueError("a case has at most 64 steps")
    return (at_s << TIME_SHIFT) | STEP_PHASE | (((index << 8) | (number << 2)) * SLOT)


def key_time(key: int) -> int:
    """The second of an order key."""
    return key >> TIME_SHIFT


def notice_order(slot_key: int, position: int) -> int:
    """A notice's place among all notices (its id's order): the slot that made it, then
    its customer's position among the demand's customers."""
    return (key_time(slot_key) << 40) | (((slot_key // SLOT) & 0xFFFFFFFF) << 8) | position


def run_key(r: int, order: int, next_s: int | None = None) -> int:
    """A dispatcher run's event at second ``r`` about the notice of ``order``: a release
    (``next_s`` None), or a send or give-up of a notice due since ``next_s``."""
    if next_s is None:
        return (r << TIME_SHIFT) | order
    return (r << TIME_SHIFT) | RUN_SENDS | (next_s << 80) | order
