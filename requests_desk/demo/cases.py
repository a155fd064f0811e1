"""Case specs: what happened to one demand, step by step, as the API would have been told;
and the demo's showcase of fates forced on a few cases so that every state shows."""
from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple, Protocol

from ..workflow import TRANSITIONS
from .clock import DAY, DISPATCH_EVERY, HOUR

# The actions that close an open demand (extend-preservation acts on a closed one).
CLOSING = frozenset(t.action for t in TRANSITIONS if t.target == "closed" and "closed" not in t.sources)


class Step(NamedTuple):
    """One thing that happened to a demand: ``action`` is ``log``, a workflow action
    (SPEC §3, ``assign`` and ``set-due`` included), ``gag.set``, ``gag.extend``,
    ``gag.lift`` or ``defer-notices``; ``body`` is what the API would take."""

    at: datetime
    action: str
    actor: str  # a key of World.users
    body: dict


@dataclass
class CaseSpec:
    index: int  # cases are loaded in index order (the order they were logged)
    steps: list[Step]  # steps[0] is the log; all in time order

    @property
    def logged_at(self) -> datetime:
        return self.steps[0].at


@dataclass(frozen=True)
class Fate:
    """Choices forced on one case (everything else is drawn at random), so that a short
    list of cases shows every state: the demo's showcase cases and the tests use it.

    ``end`` is an open state (``received`` … ``approved``) or an outcome; ``gag`` is
    ``none``, ``active``, ``no_end``, ``expired``, ``lifted``, ``extended`` or ``later``
    (set after intake, still active)."""

    end: str | None = None
    process_type: str | None = None
    country: str | None = None
    customer: str | None = None
    emergency: bool | None = None
    gag: str | None = None
    defer: bool | None = None
    returned: bool | None = None
    assign: bool | None = None
    reassign: bool | None = None
    set_due: bool | None = None
    extend_hold: bool | None = None
    quick: bool = False  # steps minutes apart: a case logged an hour ago reaches its end


NO_FATE = Fate()

# The demo's showcase: cases with forced choices, placed at the age where they make
# sense, so that even a small desk shows every state, outcome, gag and notice state.
SHOWCASE: tuple[tuple[float, Fate], ...] = (  # (age in days, fate)
    (0.02, Fate(end="received", customer="Contoso Ltd", gag="none", quick=True)),
    (0.05, Fate(end="in_review", customer="Litware Bank", gag="none", quick=True)),  # notice retrying
    (0.1, Fate(end="redirecting", customer="Fabrikam Inc", quick=True)),
    (0.3, Fate(end="scoped", customer="Northwind Traders", gag="active", quick=True)),
    (0.5, Fate(end="in_review", process_type="emergency", customer="Woodgrove Health", defer=True,
               quick=True)),
    (1.0, Fate(end="approved", customer="Contoso Ltd", process_type="search_warrant", quick=True)),
    (1.6, Fate(end="content_disclosed", customer="Litware Bank", gag="none", quick=True)),  # failed
    (4, Fate(end="scoped", returned=True, set_due=True)),
    (9, Fate(end="in_review", customer="Wide World Importers", gag="later")),
    (30, Fate(end="in_review", reassign=True, assign=True)),
    (82, Fate(end="preserved", extend_hold=False, customer="Fabrikam Inc")),  # its hold lapses soon
    (120, Fate(end="redirected", customer="Contoso Ltd")),
    (150, Fate(end="preserved", process_type="eu_preservation_order", extend_hold=True)),
    (200, Fate(end="content_disclosed", customer="Contoso Ltd", gag="expired")),
    (250, Fate(end="non_content_disclosed", customer="Northwind Traders", gag="extended")),
    (300, Fate(end="non_content_disclosed", customer="Fabrikam Inc", gag="lifted")),
    (400, Fate(end="rejected", customer="Woodgrove Health")),
    (450, Fate(end="no_data_found", customer="Contoso Ltd")),
    (500, Fate(end="non_content_disclosed", process_type="national_security", customer="Contoso Ltd",
               gag="no_end")),
    (600, Fate(end="withdrawn", customer="Blue Yonder Bakery")),
    (700, Fate(end="content_disclosed", process_type="mlat", country="BR")),
    (800, Fate(end="non_content_disclosed", process_type="other", customer="Proseware Studio")),
)


class _Planner(Protocol):
    now_s: int


def showcase(planner: _Planner, times: list[tuple[int, int]]) -> dict[int, Fate]:
    """Put each showcase fate on its own case, moved to the fate's age (``times`` is
    changed in place and stays sorted); returns the fates by case index."""
    logged = [t[0] for t in times]
    taken: dict[int, Fate] = {}
    for age, fate in SHOWCASE:
        if len(taken) >= len(times):
            break
        center = min(bisect_left(logged, planner.now_s - int(age * DAY)), len(times) - 1)
        i, k = center, 0
        while i in taken:  # the nearest case not taken yet
            k += 1
            i = next((c for c in (center - k, center + k) if 0 <= c < len(times) and c not in taken), i)
        taken[i] = fate
        at = planner.now_s - int(age * DAY)
        if at % DISPATCH_EVERY == 0:
            at += 1
        times[i] = (at, at - min(int(age * DAY) // 4, 2 * HOUR) - 60)
    pinned = {times[i]: fate for i, fate in taken.items()}
    times.sort()
    return {i: pinned[t] for i, t in enumerate(times) if t in pinned}
