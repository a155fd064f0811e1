"""The staff home's queue: what needs the signed-in user's attention, counted in SQL.

Each list is a bounded query (``limit``) plus its total from the same conditions, so
the home page costs a fixed number of queries however many demands there are. The
same conditions filter the case list when a user follows a list's "see all" link
(``/desk/demands?queue=overdue&scope=mine``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Collection

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    case,
    exists,
    false,
    func,
    literal_column,
    not_,
    or_,
    select,
)
from sqlalchemy.orm import Session

from ..access import hidden_process_types
from ..db import utcnow
from ..errors import FieldErrors
from ..models import Demand, DemandTarget, Gag, Notice, PreservationHold, User
from ..vocabulary import OPEN_STATES
from .case import DUE_SOON, visible_by_id, visible_to
from .case_list import DemandFilters, filtered_query, list_rows
from .demand_rows import rows_query, to_rows
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


def _open() -> ColumnElement[bool]:
    return Demand.status.in_(OPEN_STATES)


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
    if acts_on is not None:
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
    days) or ``gags_review`` (active, with no end or in force over 365 days)."""
    if name == "gags_expiring":
        return [Gag.active_condition(now), Gag.expires_at <= now + GAG_EXPIRY]
    return [
        Gag.active_condition(now),
        or_(Gag.expires_at.is_(None), _longer_than(session, Gag.set_at, Gag.expires_at, LONG_GAG_DAYS)),
    ]


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
    status_counts: dict[str, int]
    open_total: int

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
    the user may act on (None: every open demand, as before roles are known)."""
    now = now or utcnow()
    scope = scope if scope in SCOPES else "mine"
    keys = visible_lists(user, acts_on)

    visible = visible_to(user)
    gags_visible = visible_by_id(Gag.demand_id, hidden_process_types(user))

    def conditions(key: str) -> list[ColumnElement[bool]]:
        conds = queue_conditions(session, key, user, now, acts_on) + visible
        if scope == "mine" and scoped(key):
            conds.append(_mine(user))
        return conds

    # One aggregate query counts the open-demand lists, over the open demands only (an
    # index range, not the whole table); holds and gags are counted from their own
    # tables (a count of demands with a matching row, as the lists' EXISTS say).
    on_table = [k for k in keys if k not in ("holds", "gags_expiring", "gags_review", "notices_counsel")]
    counters = [
        func.coalesce(func.sum(case((and_(*conditions(k)), 1), else_=0)), 0).label(k) for k in on_table
    ]
    totals = session.execute(select(*counters).select_from(Demand).where(_rare(session, _open()))).one()._asdict()
    for key in keys:
        if key == "holds":
            stmt = select(func.count(PreservationHold.demand_id.distinct())).where(
                PreservationHold.ends_at > now, PreservationHold.ends_at <= now + HOLD_LAPSE)
            if scope == "mine" or visible:
                stmt = stmt.join(Demand, Demand.id == PreservationHold.demand_id).where(*visible)
            if scope == "mine":
                stmt = stmt.where(_mine(user))
            totals[key] = session.scalar(stmt)
        elif key in ("gags_expiring", "gags_review"):
            stmt = select(func.count(Gag.demand_id.distinct())).where(*gag_conditions(session, key, now))
            stmt = stmt.where(*gags_visible)
            totals[key] = session.scalar(stmt)
        elif key == "notices_counsel":
            # Counted from the held notices (an index on their state; a few thousand at
            # 100,000 demands) rather than by testing every demand for one (a scan).
            totals[key] = session.scalar(
                select(func.count(Notice.demand_id.distinct()))
                .join(Demand, Demand.id == Notice.demand_id)
                .where(Notice.state == "held", Demand.notices_released_at.is_(None), *visible))

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
        elif key in ("gags_expiring", "gags_review"):
            stmt = (rows_query(now, [*gag_conditions(session, key, now), *gags_visible],
                               Gag.order_ref, Gag.issued_by, Gag.set_at, Gag.expires_at)
                    .join(Gag, Gag.demand_id == Demand.id)
                    .order_by(Gag.expires_at.is_(None).desc(), Gag.expires_at, Gag.set_at, Demand.id))
        else:
            # The open demands are few: told so, SQLite searches (status, due) instead of
            # walking every due date from the oldest (21 ms -> under 1 at 100,000).
            stmt = rows_query(now, [_rare(session, _open()), *conditions(key)]).order_by(Demand.due_at, Demand.id)
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
    open_total = sum(v for k, v in status_counts.items() if k in OPEN_STATES)
    return Queue(scope, lists, status_counts, open_total)


def _rare(session: Session, clause: ColumnElement[bool]) -> ColumnElement[bool]:
    """``clause``, which few demands meet (open ones, a compartment's). SQLite's planner
    keeps no per-value statistics and cannot know it; told so, it searches the clause's
    index instead of reading the whole table or scanning by status (150 ms -> 3 ms for
    the open demands at 100,000)."""
    if session.get_bind().dialect.name == "sqlite":
        return func.likelihood(clause, literal_column("0.01"))
    return clause


def count_by_status(session: Session, user: User) -> dict[str, int]:
    """How many demands ``user`` may know of are in each state: the open states exactly
    (a range of the status index: the open demands are few), ``closed`` up to the list's
    cap (``COUNT_CAP`` + 1, which the page shows as "1,000+"). Counting every closed
    demand read the whole status index, and grew with the archive (7 ms at 100,000 on
    SQLite, ten times that at a million)."""
    visible = visible_to(user)
    counts = {status: int(n) for status, n in session.execute(
        select(Demand.status, func.count()).where(_rare(session, _open()), *visible).group_by(Demand.status))}
    counts["closed"] = session.scalar(count_up_to(COUNT_CAP, Demand, Demand.status == "closed", *visible)) or 0
    return {k: v for k, v in counts.items() if v}


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

