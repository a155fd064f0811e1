"""The staff home's queue: what needs the signed-in user's attention, counted in SQL.

Each list is a bounded query (``limit``) plus its total from the same conditions, so
the home page costs a fixed number of queries however many demands there are. The
same conditions filter the case list when a user follows a list's "see all" link
(``/desk/demands?queue=overdue&scope=mine``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from typing import Any, Collection

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    bindparam,
    exists,
    false,
    func,
    literal_column,
    not_,
    or_,
    select,
)
from sqlalchemy.orm import Session

from .. import search_terms
from ..access import hidden_process_types
from ..db import UTCDateTime, utcnow
from ..errors import FieldErrors
from ..models import Demand, Gag, Notice, PreservationHold, User
from ..statements import planned
from ..vocabulary import OPEN_STATES
from .case import DUE_SOON, fixed_codes, visible_to
from .case_list import DemandFilters, list_rows
from .demand_rows import rows_query, to_rows
from .keyset import COUNT_CAP, ListPage, count_up_to
from .queue_gags import GAG_EXPIRY, gag_count, gag_parts, gag_rows, gag_visible

HOLD_LAPSE = timedelta(days=14)
SCOPES = ("mine", "all")

QUEUE_TITLES = {
    "emergency": "Emergencies",
    "overdue": "Overdue",
    "due_soon": "Due within 48 hours",
    "later": "Open, due later",
    "approval": "Awaiting my approval",
    "holds": "Preservation holds lapsing within 14 days",
    "gags_expiring": "Gags expiring within 30 days",
    "gags_review": "Gags to review for challenge (no end, or over 365 days)",
    "notices_counsel": "Notices awaiting counsel's release",
}


# ---------------------------------------------------------------- conditions


@dataclass(frozen=True)
class Moments:
    """What a list's conditions compare with: the reader's id and the times, as values
    (``at``: a "see all" list, built for its request) or as the named parameters of the
    home's statements (``PARAMS``: built once per shape of queue, run with ``values``)."""

    user: Any
    now: Any
    soon: Any  # now + DUE_SOON
    hold_end: Any  # now + HOLD_LAPSE
    gag_end: Any  # now + GAG_EXPIRY

    @classmethod
    def at(cls, user_id: int, now: datetime) -> Moments:
        return cls(user_id, now, now + DUE_SOON, now + HOLD_LAPSE, now + GAG_EXPIRY)

    def values(self) -> dict[str, Any]:
        """The parameters' values (``PARAMS``' names) for these moments."""
        return {f"queue_{name}": getattr(self, name) for name in self.__dataclass_fields__}


PARAMS = Moments(bindparam("queue_user", type_=Integer), *[bindparam(f"queue_{name}", type_=UTCDateTime())
                                                           for name in ("now", "soon", "hold_end", "gag_end")])


def _mine(at: Moments) -> ColumnElement[bool]:
    """Assigned to me, or to nobody yet (so nothing falls between chairs)."""
    return or_(Demand.assignee_id == at.user, Demand.assignee_id.is_(None))


@cache
def _open() -> ColumnElement[bool]:
    """Open: the states written into the statement, in the order the partial index
    ``ix_demands_open_due`` says them, so that either database can read the lists from
    it (neither proves a partial index's WHERE from parameters). Built once: a clause
    is never changed by the statements that hold it."""
    return Demand.status.in_(fixed_codes(OPEN_STATES))


WORK_LISTS = ("emergency", "overdue", "due_soon", "later")


def _approval(at: Moments) -> list[ColumnElement[bool]]:
    """A scope another person proposed, awaiting this approver's decision."""
    return [Demand.status == "scoped", or_(Demand.proposed_by_id.is_(None), Demand.proposed_by_id != at.user)]


def _work(user: User, at: Moments, acts_on: Collection[str] | None) -> list[ColumnElement[bool]]:
    """The open demands the work lists show ``user``: only in states where the user may
    act (``acts_on``, from workflow.states_acted_on; None: all), and not those awaiting
    the user's approval, which "Awaiting my approval" lists (each demand once)."""
    conds: list[ColumnElement[bool]] = [_open()]
    if acts_on is not None and not set(OPEN_STATES) <= set(acts_on):
        # (Only when it narrows: PostgreSQL multiplies each IN's selectivity, and with
        # one IN too many it thought a list held one demand and chose the wrong index.)
        conds.append(Demand.status.in_(sorted(set(acts_on) & set(OPEN_STATES))))
    if user.has_role("approver"):
        conds.append(not_(and_(*_approval(at))))
    return conds


def queue_conditions(session: Session, name: str, user: User, now: datetime | Moments,
                     acts_on: Collection[str] | None = None) -> list[ColumnElement[bool]]:
    """The WHERE clauses of one queue list, over ``Demand`` (and what it joins by EXISTS);
    ``now``: a time, or the ``Moments`` to compare with."""
    at = now if isinstance(now, Moments) else Moments.at(user.id, now)
    if name == "emergency":
        return _work(user, at, acts_on) + [Demand.emergency.is_(True)]
    if name == "overdue":
        return _work(user, at, acts_on) + [Demand.emergency.is_(False), Demand.due_at < at.now]
    if name == "due_soon":
        return _work(user, at, acts_on) + [Demand.emergency.is_(False), Demand.due_at >= at.now,
                                           Demand.due_at <= at.soon]
    if name == "later":
        return _work(user, at, acts_on) + [Demand.emergency.is_(False), Demand.due_at > at.soon]
    if name == "approval":
        return _approval(at)
    if name == "holds":
        if acts_on is not None and "closed" not in acts_on:  # only counsel extends a hold
            return [false()]
        return [exists().where(
            PreservationHold.demand_id == Demand.id,
            PreservationHold.ends_at > at.now,
            PreservationHold.ends_at <= at.hold_end,
        )]
    if name in ("gags_expiring", "gags_review"):
        return [exists().where(Gag.demand_id == Demand.id, *gag_conditions(session, name, at))]
    if name == "notices_counsel":
        return awaiting_counsel_conditions()
    raise KeyError(name)


def awaiting_counsel_conditions() -> list[ColumnElement[bool]]:
    """Over ``Demand``: counsel has not released its notices and one is waiting."""
    return [Demand.notices_released_at.is_(None),
            exists().where(Notice.demand_id == Demand.id, Notice.state == "held")]


def gag_conditions(session: Session, name: str, at: Moments) -> list[ColumnElement[bool]]:
    """Over ``Gag``: the gags of the list ``gags_expiring`` (active, ending within 30
    days) or ``gags_review`` (active, with no end or in force over 365 days): any of the
    list's parts (``_gag_parts``)."""
    return [or_(*[and_(*part) for part, _order in gag_parts(session.get_bind().dialect.name, name, at.now,
                                                            at.gag_end)])]


def scoped(name: str) -> bool:
    """Lists narrowed to "mine and unassigned" by default (approvals, gags and notices
    awaiting counsel are desk-wide)."""
    return name in ("emergency", "overdue", "due_soon", "later", "holds")


# ---------------------------------------------------------------- the home page


@dataclass
class QueueList:
    key: str
    title: str
    total: int
    rows: list[Any]  # DemandRow (services/demand_rows.py); holds and gags add ``extra`` columns
    link: dict[str, str] = field(default_factory=dict)


@dataclass
class Queue:
    scope: str
    lists: list[QueueList]
    status_counts: dict[str, int]  # each up to COUNT_CAP + 1
    open_total: int  # their sum over the open states, each counted at most COUNT_CAP
    open_capped: bool = False  # some open state has more: open_total is "at least"

    def get(self, key: str) -> QueueList | None:
        return next((q for q in self.lists if q.key == key), None)


def visible_lists(user: User, acts_on: Collection[str] | None = None) -> list[str]:
    """The lists of ``user``'s queue: the work lists where the user may act on an open
    demand, approvals for approvers, holds for those who may extend one (``acts_on``
    holds "closed"), gags and notices awaiting counsel for counsel (and admins: gags)."""
    work = acts_on is None or bool(set(acts_on) & set(OPEN_STATES))
    keys = ["emergency", "overdue", "due_soon"] if work else []
    if user.has_role("approver"):
        keys.append("approval")
    if acts_on is None or "closed" in acts_on:
        keys.append("holds")
    if work:
        keys.append("later")
    if user.has_role("counsel", "admin"):
        keys += ["gags_expiring", "gags_review"]
    if user.has_role("counsel"):
        keys.append("notices_counsel")
    return keys


def build_queue(session: Session, user: User, *, scope: str = "mine", limit: int = 8,
                now: datetime | None = None, acts_on: Collection[str] | None = None) -> Queue:
    """``user``'s queue; ``acts_on`` (workflow.states_acted_on) narrows it to the demands
    the user may act on (None: every open demand, as before roles are known).

    Its statements are built once per shape of queue (the lists shown, the scope, the
    compartments the user lacks, the states acted on, whether an approver, the page's
    length, the database) and run with the user's id and the times as parameters
    (``PARAMS``): built for each request, keyed and looked up in SQLAlchemy's cache, they
    cost more CPU than the database took to answer them (about 6 ms of the home's 24 on
    PostgreSQL at 100,000 demands)."""
    now = now or utcnow()
    scope = scope if scope in SCOPES else "mine"
    keys = tuple(visible_lists(user, acts_on))
    hidden = hidden_process_types(user)
    shape = ("queue", session.get_bind().dialect.name, keys, scope, hidden,
             None if acts_on is None else frozenset(acts_on), user.has_role("approver"), limit, COUNT_CAP)
    values = Moments.at(user.id, now).values()
    db = session.connection()

    def counts() -> Select:
        return select(*[stmt.scalar_subquery() for _key, stmt in _counted(session, user, keys, scope, acts_on)])

    # Every list's total in one statement, each counted up to COUNT_CAP + 1 (shown as
    # "1,000+"): a count reads at most that many entries of its index range, however
    # many demands the desk holds. Counted exactly, the open demands' lists and the
    # active gags were read whole on every visit (84 ms at a million demands).
    got = planned((*shape, "counts"), counts).run(db, values).one()
    totals = dict.fromkeys(keys, 0)
    for key, n in zip(_counted_keys(keys), got):
        totals[key] += int(n or 0)

    raw_lists = [(key, planned((*shape, key), lambda key=key: _rows_of(session, user, key, scope, acts_on, limit))
                  .run(db, values)) for key in keys]
    # Every list's rows, their targets and customers read for all lists at once.
    every = to_rows(session, [r for _k, raw in raw_lists for r in raw], now)
    lists: list[QueueList] = []
    at = 0
    for key, raw in raw_lists:
        rows, at = every[at:at + len(raw)], at + len(raw)
        link = {"queue": key}
        if scoped(key):
            link["scope"] = scope
        lists.append(QueueList(key, QUEUE_TITLES[key], int(totals[key]), rows, link))

    status_counts = count_by_status(session, user)
    open_counts = [v for k, v in status_counts.items() if k in OPEN_STATES]
    return Queue(scope, lists, status_counts, sum(min(v, COUNT_CAP) for v in open_counts),
                 any(v > COUNT_CAP for v in open_counts))


def _conditions(session: Session, user: User, key: str, scope: str,
                acts_on: Collection[str] | None) -> list[ColumnElement[bool]]:
    """A list's conditions over ``Demand`` as the home runs them (``PARAMS``)."""
    conds = queue_conditions(session, key, user, PARAMS, acts_on) + visible_to(user)
    if scope == "mine" and scoped(key):
        conds.append(_mine(PARAMS))
    return conds


def _counted_keys(keys: tuple[str, ...]) -> list[str]:
    """The list of each count ``_counted`` makes, in order (a gag list's parts apart)."""
    return [k for key in keys for k in ([key] * (2 if key == "gags_review" else 1))]


def _counted(session: Session, user: User, keys: tuple[str, ...], scope: str,
             acts_on: Collection[str] | None) -> list[tuple[str, Select]]:
    """Each list's count (``_counted_keys``' order), over ``PARAMS``."""
    visible, gags_seen, at = visible_to(user), gag_visible(user), PARAMS
    dialect = session.get_bind().dialect.name
    counted: list[tuple[str, Select]] = []
    for key in keys:
        if key == "holds":
            stmt = select(func.count(PreservationHold.demand_id.distinct())).where(
                PreservationHold.ends_at > at.now, PreservationHold.ends_at <= at.hold_end)
            if scope == "mine" or visible:
                stmt = stmt.join(Demand, Demand.id == PreservationHold.demand_id).where(*visible)
            if scope == "mine":
                stmt = stmt.where(_mine(at))
            counted.append((key, stmt))
        elif key in ("gags_expiring", "gags_review"):
            counted += [(key, gag_count(part, gags_seen, COUNT_CAP))
                        for part, _order in gag_parts(dialect, key, at.now, at.gag_end)]
        elif key == "notices_counsel":
            # Counted from the held notices (an index on their state; a few thousand at
            # 100,000 demands) rather than by testing every demand for one (a scan).
            counted.append((key, select(func.count(Notice.demand_id.distinct()))
                            .join(Demand, Demand.id == Notice.demand_id)
                            .where(Notice.state == "held", Demand.notices_released_at.is_(None), *visible)))
        else:
            counted.append((key, count_up_to(COUNT_CAP, Demand, *_few_open(session),
                                             *_conditions(session, user, key, scope, acts_on))))
    return counted


def _rows_of(session: Session, user: User, key: str, scope: str, acts_on: Collection[str] | None,
             limit: int) -> Select:
    """The first ``limit`` rows of one list, over ``PARAMS``."""
    at = PARAMS
    if key == "holds":
        hold_conds = [PreservationHold.ends_at > at.now, PreservationHold.ends_at <= at.hold_end]
        if scope == "mine":
            hold_conds.append(_mine(at))
        return (rows_query(at.now, [*hold_conds, *visible_to(user)], PreservationHold.ends_at)
                .join(PreservationHold, PreservationHold.demand_id == Demand.id)
                .order_by(PreservationHold.ends_at, Demand.id).limit(search_terms.fixed(limit)))
    if key in ("gags_expiring", "gags_review"):
        return gag_rows(session.get_bind().dialect.name, key, at.now, at.gag_end, gag_visible(user), limit)
    # A walk of the open demands' partial index (ix_demands_open_due) in due order,
    # stopping at the page. (Not told that open demands are few, as the counts are:
    # SQLite then read and sorted every open one that matched.)
    return (rows_query(at.now, _conditions(session, user, key, scope, acts_on))
            .order_by(Demand.due_at, Demand.id).limit(search_terms.fixed(limit)))


def _few_open(session: Session) -> list[ColumnElement[bool]]:
    """On SQLite, that few demands are open: its planner keeps no per-value statistics
    and cannot know it; told so, it searches the open demands' index instead of reading
    the whole table or scanning by status (150 ms -> 3 ms at 100,000). PostgreSQL knows
    from its statistics (and would count the clause twice)."""
    return _FEW_OPEN if session.get_bind().dialect.name == "sqlite" else []


_FEW_OPEN = [func.likelihood(_open(), literal_column("0.01"))]


def count_by_status(session: Session, user: User) -> dict[str, int]:
    """How many demands ``user`` may know of are in each state, each up to the list's cap
    (``COUNT_CAP`` + 1, which the page shows as "1,000+"), in one statement (built once
    per set of compartments the user lacks): a range of the status index of at most that
    many entries. Counting every closed demand read the whole status index, and grew
    with the archive (7 ms at 100,000 on SQLite, ten times that at a million); counting
    the open ones exactly read each (19 ms at a million on PostgreSQL)."""
    hidden = hidden_process_types(user)

    def counts() -> Select:
        return select(*[count_up_to(COUNT_CAP, Demand, Demand.status == status, *visible_to(user))
                        .scalar_subquery().label(status)
                        for status in (*OPEN_STATES, "closed")])

    got = planned(("queue-status", hidden, COUNT_CAP), counts).run(session.connection(), {}).one()._asdict()
    return {k: int(v) for k, v in got.items() if v}


# ---------------------------------------------------------------- "see all"


def parse_queue_args(args: Any, errors: FieldErrors) -> tuple[str | None, str]:
    name = args.get("queue") or None
    if name and name not in QUEUE_TITLES:
        errors.add("queue", "is not a known queue")
        name = None
    scope = args.get("scope") or "all"
    if scope not in SCOPES:
        errors.add("scope", "must be mine or all")
        scope = "all"
    return name, scope


def list_queue(session: Session, f: DemandFilters, name: str, scope: str, user: User,
               now: datetime | None = None, acts_on: Collection[str] | None = None) -> ListPage:
    """The case list narrowed to one queue: the list's filters, sort and paging apply too."""
    now = now or utcnow()
    return list_rows(session, f, user, now, also=queue_narrowing(session, name, scope, user, now, acts_on))


def queue_narrowing(session: Session, name: str, scope: str, user: User, now: datetime,
                    acts_on: Collection[str] | None = None) -> list[ColumnElement[bool]]:
    """The conditions one queue (and "mine", when asked) adds to the case list's filters."""
    at = Moments.at(user.id, now)
    conds = queue_conditions(session, name, user, at, acts_on)
    if scope == "mine" and scoped(name):
        conds.append(_mine(at))
    return conds

