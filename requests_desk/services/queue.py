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
    Select,
    and_,
    exists,
    false,
    func,
    literal_column,
    not_,
    or_,
    select,
    union_all,
)
from sqlalchemy.orm import Session

from .. import search_terms
from ..access import hidden_process_types
from ..db import utcnow
from ..errors import FieldErrors
from ..models import Demand, Gag, Notice, PreservationHold, Requester, User
from ..vocabulary import OPEN_STATES
from .case import DUE_SOON, fixed_codes, visible_to
from .case_list import DemandFilters, list_rows
from .demand_rows import N_COLUMNS, row_columns, rows_query, to_rows
from .keyset import COUNT_CAP, ListPage, count_up_to

HOLD_LAPSE = timedelta(days=14)
GAG_EXPIRY = timedelta(days=30)
LONG_GAG_DAYS = 365
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


def _mine(user: User) -> ColumnElement[bool]:
    """Assigned to me, or to nobody yet (so nothing falls between chairs)."""
    return or_(Demand.assignee_id == user.id, Demand.assignee_id.is_(None))


@cache
def _open() -> ColumnElement[bool]:
    """Open: the states written into the statement, in the order the partial index
    ``ix_demands_open_due`` says them, so that either database can read the lists from
    it (neither proves a partial index's WHERE from parameters). Built once: a clause
    is never changed by the statements that hold it."""
    return Demand.status.in_(fixed_codes(OPEN_STATES))


def _longer_than(session: Session, start, end, days: int) -> ColumnElement[bool]:
    """``end - start > days`` on either backend."""
    if session.get_bind().dialect.name == "sqlite":
        return func.julianday(end) - func.julianday(start) > days
    return end - start > timedelta(days=days)


WORK_LISTS = ("emergency", "overdue", "due_soon", "later")


def _approval(user: User) -> list[ColumnElement[bool]]:
    """A scope another person proposed, awaiting this approver's decision."""
    return [Demand.status == "scoped", or_(Demand.proposed_by_id.is_(None), Demand.proposed_by_id != user.id)]


def _work(user: User, acts_on: Collection[str] | None) -> list[ColumnElement[bool]]:
    """The open demands the work lists show ``user``: only in states where the user may
    act (``acts_on``, from workflow.states_acted_on; None: all), and not those awaiting
    the user's approval, which "Awaiting my approval" lists (each demand once)."""
    conds: list[ColumnElement[bool]] = [_open()]
    if acts_on is not None and not set(OPEN_STATES) <= set(acts_on):
        # (Only when it narrows: PostgreSQL multiplies each IN's selectivity, and with
        # one IN too many it thought a list held one demand and chose the wrong index.)
        conds.append(Demand.status.in_(sorted(set(acts_on) & set(OPEN_STATES))))
    if user.has_role("approver"):
        conds.append(not_(and_(*_approval(user))))
    return conds


def queue_conditions(session: Session, name: str, user: User, now: datetime,
                     acts_on: Collection[str] | None = None) -> list[ColumnElement[bool]]:
    """The WHERE clauses of one queue list, over ``Demand`` (and what it joins by EXISTS)."""
    if name == "emergency":
        return _work(user, acts_on) + [Demand.emergency.is_(True)]
    if name == "overdue":
        return _work(user, acts_on) + [Demand.emergency.is_(False), Demand.due_at < now]
    if name == "due_soon":
        return _work(user, acts_on) + [Demand.emergency.is_(False), Demand.due_at >= now,
                                       Demand.due_at <= now + DUE_SOON]
    if name == "later":
        return _work(user, acts_on) + [Demand.emergency.is_(False), Demand.due_at > now + DUE_SOON]
    if name == "approval":
        return _approval(user)
    if name == "holds":
        if acts_on is not None and "closed" not in acts_on:  # only counsel extends a hold
            return [false()]
        return [exists().where(
            PreservationHold.demand_id == Demand.id,
            PreservationHold.ends_at > now,
            PreservationHold.ends_at <= now + HOLD_LAPSE,
        )]
    if name in ("gags_expiring", "gags_review"):
        return [exists().where(Gag.demand_id == Demand.id, *gag_conditions(session, name, now))]
    if name == "notices_counsel":
        return awaiting_counsel_conditions()
    raise KeyError(name)


def awaiting_counsel_conditions() -> list[ColumnElement[bool]]:
    """Over ``Demand``: counsel has not released its notices and one is waiting."""
    return [Demand.notices_released_at.is_(None),
            exists().where(Notice.demand_id == Demand.id, Notice.state == "held")]


def gag_conditions(session: Session, name: str, now: datetime) -> list[ColumnElement[bool]]:
    """Over ``Gag``: the gags of the list ``gags_expiring`` (active, ending within 30
    days) or ``gags_review`` (active, with no end or in force over 365 days): any of the
    list's parts (``_gag_parts``)."""
    return [or_(*[and_(*part) for part, _order in _gag_parts(session, name, now)])]


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


def _gag_parts(session: Session, name: str, now: datetime) -> list[tuple[list[ColumnElement[bool]], tuple]]:
    """Over ``Gag``: the parts of a gag list and their order, listed one after the other.
    "Gags to review" lists the gags with no end first (by when set), then the long ones
    by their end: each part is one range of the unlifted gags' index, read in its order
    only as far as the page. As one statement ordered by ``expires_at IS NULL`` first,
    every active gag was read and sorted (130 ms at a million demands on PostgreSQL)."""
    # The index's own order (ix_gags_unlifted_end), in both parts: among the no-end
    # gags, expires_at (NULL in each) orders nothing, but said, PostgreSQL reads the
    # range in the index's order instead of sorting it (it takes no IS NULL for "=").
    active, order = Gag.lifted_at.is_(None), (Gag.expires_at, Gag.set_at, Gag.demand_id, Gag.id)
    if name == "gags_expiring":
        return [([active, Gag.expires_at > now, Gag.expires_at <= now + GAG_EXPIRY], order)]
    return [([active, Gag.expires_at.is_(None)], order),
            ([active, Gag.expires_at > now, _longer_than(session, Gag.set_at, Gag.expires_at, LONG_GAG_DAYS)],
             order)]


def _gag_count(part: list[ColumnElement[bool]], visible: list[ColumnElement[bool]]) -> Select:
    """How many demands have a gag of ``part``, counted among its first COUNT_CAP + 1
    gags (a demand has one active gag: ``gags.set_gag`` refuses a second), from the
    gags' index alone: ``visible`` tests each gag's own copy of its demand's process
    type (``_gag_visible``)."""
    inner = select(Gag.demand_id).where(*part, *visible).limit(search_terms.fixed(COUNT_CAP + 1)).subquery()
    return select(func.count(inner.c.demand_id.distinct()))


def _gag_visible(user: User) -> list[ColumnElement[bool]]:
    """Over ``Gag``: the gags of demands ``user`` may know of, by the compartment each gag
    carries (``Gag.process_type``, its demand's). Tested on each gag's demand, joined by
    id, a count read up to 1,001 demands' rows (5.5 of the home's 8.4 ms of counting on
    PostgreSQL at 100,000 demands); against a hash of the hidden compartments' demand
    ids, that hash grew with the desk."""
    hidden = hidden_process_types(user)
    return [Gag.process_type.not_in(fixed_codes(hidden))] if hidden else []


def _gag_rows(session: Session, name: str, now: datetime, visible: list[ColumnElement[bool]], limit: int) -> Select:
    """The first ``limit`` rows of a gag list (the demand's row columns, then the gag's
    order, issuer, start and end), in one statement. Each part is read from the gags'
    side in its own index order (``visible``: the viewer's compartments, tested on the
    gags, ``_gag_visible``), ``limit`` at most, its gags' demands joined by id; the parts
    are then put one after the other (a few rows sorted)."""
    parts = []
    for n, (part, order) in enumerate(_gag_parts(session, name, now)):
        parts.append(select(*row_columns(now), Gag.order_ref, Gag.issued_by, Gag.set_at, Gag.expires_at,
                            literal_column(str(n)).label("part"), Gag.id.label("gag_id"))
                     .select_from(Gag).join(Demand, Demand.id == Gag.demand_id)
                     .outerjoin(Requester, Requester.id == Demand.requester_id)
                     .where(*part, *visible).order_by(*order).limit(search_terms.fixed(limit)))
    if len(parts) == 1:
        return parts[0].with_only_columns(*parts[0].selected_columns[:N_COLUMNS + 4])
    both = union_all(*[select(p.subquery()) for p in parts]).subquery()
    return (select(*both.c[:N_COLUMNS + 4])
            .order_by(both.c.part, both.c.expires_at, both.c.set_at, both.c.id, both.c.gag_id).limit(limit))


def build_queue(session: Session, user: User, *, scope: str = "mine", limit: int = 8,
                now: datetime | None = None, acts_on: Collection[str] | None = None) -> Queue:
    """``user``'s queue; ``acts_on`` (workflow.states_acted_on) narrows it to the demands
    the user may act on (None: every open demand, as before roles are known)."""
    now = now or utcnow()
    scope = scope if scope in SCOPES else "mine"
    keys = visible_lists(user, acts_on)

    visible, gag_visible = visible_to(user), _gag_visible(user)

    def conditions(key: str) -> list[ColumnElement[bool]]:
        conds = queue_conditions(session, key, user, now, acts_on) + visible
        if scope == "mine" and scoped(key):
            conds.append(_mine(user))
        return conds

    # Every list's total in one statement, each counted up to COUNT_CAP + 1 (shown as
    # "1,000+"): a count reads at most that many entries of its index range, however
    # many demands the desk holds. Counted exactly, the open demands' lists and the
    # active gags were read whole on every visit (84 ms at a million demands).
    counted: list[tuple[str, Select]] = []  # (list, count): a gag list's parts are counted apart
    for key in keys:
        if key == "holds":
            stmt = select(func.count(PreservationHold.demand_id.distinct())).where(
                PreservationHold.ends_at > now, PreservationHold.ends_at <= now + HOLD_LAPSE)
            if scope == "mine" or visible:
                stmt = stmt.join(Demand, Demand.id == PreservationHold.demand_id).where(*visible)
            if scope == "mine":
                stmt = stmt.where(_mine(user))
            counted.append((key, stmt))
        elif key in ("gags_expiring", "gags_review"):
            counted += [(key, _gag_count(part, gag_visible)) for part, _order in _gag_parts(session, key, now)]
        elif key == "notices_counsel":
            # Counted from the held notices (an index on their state; a few thousand at
            # 100,000 demands) rather than by testing every demand for one (a scan).
            counted.append((key, select(func.count(Notice.demand_id.distinct()))
                            .join(Demand, Demand.id == Notice.demand_id)
                            .where(Notice.state == "held", Demand.notices_released_at.is_(None), *visible)))
        else:
            counted.append((key, count_up_to(COUNT_CAP, Demand, *_few_open(session), *conditions(key))))
    got = session.execute(select(*[stmt.scalar_subquery() for _key, stmt in counted])).one()
    totals = dict.fromkeys(keys, 0)
    for (key, _stmt), n in zip(counted, got):
        totals[key] += int(n or 0)

    lists: list[QueueList] = []
    raw_lists: list[tuple[str, list]] = []
    for key in keys:
        if key == "holds":
            hold_conds = [PreservationHold.ends_at > now, PreservationHold.ends_at <= now + HOLD_LAPSE]
            if scope == "mine":
                hold_conds.append(_mine(user))
            stmt = (rows_query(now, [*hold_conds, *visible], PreservationHold.ends_at)
                    .join(PreservationHold, PreservationHold.demand_id == Demand.id)
                    .order_by(PreservationHold.ends_at, Demand.id))
            raw_lists.append((key, list(session.execute(stmt.limit(limit)))))
        elif key in ("gags_expiring", "gags_review"):
            raw_lists.append((key, session.execute(_gag_rows(session, key, now, gag_visible, limit)).all()))
        else:
            # A walk of the open demands' partial index (ix_demands_open_due) in due
            # order, stopping at the page. (Not told that open demands are few, as the
            # counts are: SQLite then read and sorted every open one that matched.)
            stmt = rows_query(now, conditions(key)).order_by(Demand.due_at, Demand.id)
            raw_lists.append((key, list(session.execute(stmt.limit(limit)))))
    # Every list's rows, their targets and customers read for all lists at once.
    every = to_rows(session, [r for _k, raw in raw_lists for r in raw], now)
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


def _few_open(session: Session) -> list[ColumnElement[bool]]:
    """On SQLite, that few demands are open: its planner keeps no per-value statistics
    and cannot know it; told so, it searches the open demands' index instead of reading
    the whole table or scanning by status (150 ms -> 3 ms at 100,000). PostgreSQL knows
    from its statistics (and would count the clause twice)."""
    return _FEW_OPEN if session.get_bind().dialect.name == "sqlite" else []


_FEW_OPEN = [func.likelihood(_open(), literal_column("0.01"))]


def count_by_status(session: Session, user: User) -> dict[str, int]:
    """How many demands ``user`` may know of are in each state, each up to the list's cap
    (``COUNT_CAP`` + 1, which the page shows as "1,000+"), in one statement: a range of
    the status index of at most that many entries. Counting every closed demand read the
    whole status index, and grew with the archive (7 ms at 100,000 on SQLite, ten times
    that at a million); counting the open ones exactly read each (19 ms at a million on
    PostgreSQL)."""
    visible = visible_to(user)
    got = session.execute(select(*[
        count_up_to(COUNT_CAP, Demand, Demand.status == status, *visible).scalar_subquery().label(status)
        for status in (*OPEN_STATES, "closed")])).one()._asdict()
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
    conds = queue_conditions(session, name, user, now, acts_on)
    if scope == "mine" and scoped(name):
        conds.append(_mine(user))
    return conds

