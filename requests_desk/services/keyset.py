"""Paging a list by key, not by OFFSET: a page is the rows after (or before) one demand in
the list's order, so page 1,000 costs what page 1 costs, and the count stops at a cap.

The order is the sort column, then (for status and country, which many demands share)
the date received, then the id, all one way (ascending or descending), so that each
sort walks an index: ``received_at``, ``due_at``, ``reference``, ``(status, received_at)``,
``(country, received_at)``. A cursor is a demand's id: ``after=ID`` is the page following
that demand, ``before=ID`` the page preceding it, ``last=1`` the end of the list.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from sqlalchemy import ColumnElement, Select, and_, bindparam, func, literal_column, or_, select
from sqlalchemy.orm import Session

from .. import search_terms
from ..statements import planned as planned_statement
from ..models import Demand, DemandSearchTerm

# What a page says of the total: counted up to this, then "1,000+". Counting is bounded
# by the cap (an index range of at most CAP + 1 entries), however many demands match.
COUNT_CAP = 1_000

SORT_KEYS: dict[str, tuple[Any, ...]] = {
    "received_at": (Demand.received_at,),
    "due_at": (Demand.due_at,),
    "reference": (Demand.reference,),
    "status": (Demand.status, Demand.received_at),
    "country": (Demand.country, Demand.received_at),
}


@dataclass
class ListPage:
    """One page of a list, and what its pager needs."""

    rows: list[Any]
    total: int  # matches, counted up to COUNT_CAP + 1
    per_page: int
    number: int | None = None  # the page's number when known (1, or carried along by the links)
    has_prev: bool = False
    has_next: bool = False
    first_id: int | None = None  # cursors for the previous and next links
    last_id: int | None = None
    extra: dict = field(default_factory=dict)

    @property
    def capped(self) -> bool:
        return self.total > COUNT_CAP

    @property
    def pages(self) -> int | None:
        """How many pages, when the count is exact."""
        return None if self.capped else max(1, -(-self.total // self.per_page))


def order_columns(sort: str) -> tuple[list[Any], bool]:
    """The key columns of ``sort`` (``-`` prefix: descending), the id last; descending?"""
    return [*SORT_KEYS[sort.lstrip("-")], Demand.id], sort.startswith("-")


def _near(column: Any, value: Any, less: bool) -> ColumnElement[bool]:
    """``column`` <= ``value`` (``less``), or >=: the first key's bound on its own, where
    an index scan can start (``_beyond``'s OR is no such bound)."""
    return column <= value if less else column >= value


def _beyond(columns: Sequence[Any], values: Sequence[Any], less: bool) -> ColumnElement[bool]:
    """(c1, c2, …) < (v1, v2, …) lexicographically (``less``), or >."""
    column, value = columns[0], values[0]
    step = column < value if less else column > value
    if len(columns) == 1:
        return step
    return or_(step, and_(column == value, _beyond(columns[1:], values[1:], less)))


def count_up_to(cap: int, source: Any, *where: ColumnElement[bool]) -> Select:
    """SELECT how many rows of ``source`` meet ``where``, counted up to ``cap`` + 1 (an
    index range of at most that many entries, however many match). The rows counted
    carry no column (``SELECT 1``): reading each one's id cost SQLite a fifth of the count."""
    # Its LIMIT has a name of its own, and it never correlates: a page's statement carries
    # it as a column (``page``), beside that page's own LIMIT and rows.
    inner = (select(literal_column("1")).select_from(source).where(*where)
             .limit(search_terms.fixed(cap + 1)).correlate(None))
    return select(func.count()).select_from(inner.subquery())


def page(session: Session, build: Callable[[], tuple[Select, Sequence[ColumnElement[bool]],
                                                      Sequence[ColumnElement[bool]]]], *,
         sort: str, per_page: int, after: int | None = None, before: int | None = None, last: bool = False,
         number: int | None = None, offset_page: int = 1, search: str | None = None,
         hidden: tuple[str, ...] = (), shape: tuple | None = None,
         values: dict[str, Any] | None = None, filtered: bool = True) -> tuple[list[Any], ListPage]:
    """One page of a list in ``sort``'s order, with its capped count. ``build()`` gives the
    list's statement (rows whose first column is the demand's id), its conditions, and
    those conditions less the viewer's compartments (``hidden``). ``offset_page`` > 1
    without a cursor: that page by OFFSET (an old link's ``page=N``). ``search``: the
    list's ``q``, counted from the search index's side, over the conditions less the
    compartments, which it applies to the terms' demand ids. Neither the statement nor
    the conditions has the search's own clause: it is added here, the way the count says
    is cheapest.

    ``shape``: a key for what ``build`` gives, whose named parameters take ``values``:
    the statements are then built once per shape (and, for a search, per way its count
    says to read it) and run as built, the search's prefix a parameter too; an OFFSET's
    are built for each request. ``filtered``: whether the conditions less the
    compartments hold any (with a shape; else ``build`` says)."""
    columns, descending = order_columns(sort)
    cursor_id = after or before
    params: dict[str, Any] = dict(values or {})
    built: list[Any] = []

    def parts() -> tuple[Select, Sequence[ColumnElement[bool]], Sequence[ColumnElement[bool]]]:
        if not built:
            built.extend(build())
        return built[0], built[1], built[2]

    by_offset = not cursor_id and not last and offset_page > 1
    planned = shape is not None and not by_offset
    if search:
        params["q"] = search
    # Plain rows, executed on the session's connection: the ORM's execution path (for
    # statements that load no entity) cost a tenth of a millisecond more a statement.
    db = session.connection()

    def run(kind: tuple, make: Callable[[], Any]):
        if planned:
            return planned_statement((shape, *kind), make).run(db, params)
        return db.execute(make(), params)

    tally = search_terms.tally(session, search, lambda: parts()[2], COUNT_CAP, hidden=hidden,
                               plan=(shape, values or {}, filtered) if planned else None) if search else None

    def count() -> int:
        return run(("count",), lambda: count_up_to(COUNT_CAP, Demand, *parts()[1])).scalar() or 0

    # Without a search, the count rides in the page's own statement (a column computed
    # once, not per row): one round trip fewer. The last page needs it first.
    folded = tally is None and not last
    info = ListPage([], tally.total if tally else (0 if folded else count()), per_page)
    if last and not cursor_id and info.pages is not None:
        # While the count is exact, the last page is page N as the links number it (by
        # OFFSET, at most COUNT_CAP rows); beyond the cap, the last ``per_page`` rows.
        last, offset_page, by_offset, planned = False, info.pages, info.pages > 1, planned and info.pages <= 1
    backwards = bool(before) or last
    less = descending != backwards
    keys = [bindparam(f"key_{i}", type_=column.type) for i, column in enumerate(columns)]
    if cursor_id:
        # Within the list (its filters and the viewer's need to know), or not at all.
        params["cursor_id"] = cursor_id
        found = run(("cursor", sort), lambda: select(*columns).where(
            Demand.id == bindparam("cursor_id", type_=Demand.id.type), *parts()[1])).first()
        if found is None:  # the cursor's demand is gone, hidden or no longer listed: the top
            cursor_id, backwards, less = None, False, descending
        else:
            params.update({key.key: value for key, value in zip(keys, found)})

    # The search's own clause, now that its count says how many terms match: a page in the
    # default order from the terms alone (their range sorted, or when too many to sort,
    # the terms walked by date), the matches as a whole (by id, when few), or the list's
    # order walked and each demand's terms probed.
    mode = None
    if tally is not None:
        by_date = columns[0] is Demand.received_at and not by_offset
        if tally.terms_first and by_date:
            mode = "terms-first"
        elif search_terms.few_terms(session, search, tally.terms):
            mode = "few"
        else:  # in the default order and unfiltered, the terms walked by date; else the demands
            mode = "terms-walk" if by_date and tally.terms is not None else "many"

    def statement() -> Select:
        stmt = parts()[0]
        if cursor_id:
            stmt = stmt.where(_near(columns[0], keys[0], less), _beyond(columns, keys, less))
        if mode in ("terms-first", "terms-walk"):
            t = DemandSearchTerm
            # The date's bound on its own too: a walk by date starts there, not at the end.
            beyond = [_near(t.received_at, keys[0], less),
                      _beyond([t.received_at, t.demand_id], keys, less)] if cursor_id else []
            stmt = stmt.where(search_terms.newest_first(search, hidden, beyond, less, per_page + 1,
                                                        walk=mode == "terms-walk"))
        elif mode:
            stmt = stmt.where(search_terms.matching(search, mode == "few"))
        stmt = stmt.order_by(*[c.desc() if less else c.asc() for c in columns]).limit(
            search_terms.fixed(per_page + 1))
        if by_offset:
            stmt = stmt.offset((offset_page - 1) * per_page)
        if folded:
            stmt = stmt.add_columns(count_up_to(COUNT_CAP, Demand, *parts()[1]).scalar_subquery().label("list_total"))
        return stmt

    raw = list(run(("page", sort, bool(cursor_id), less, per_page, mode, folded), statement))
    if folded:
        # No row: none on the first page means none at all; a page past a cursor or an
        # offset that came back empty asks for the count on its own.
        info.total = raw[0][-1] if raw else (count() if cursor_id or by_offset else 0)
        raw = [r[:-1] for r in raw]
    if by_offset:
        number = offset_page
    more = len(raw) > per_page
    raw = raw[:per_page]
    if backwards:
        raw.reverse()
        info.has_prev, info.has_next = more, bool(cursor_id)
        if last and info.pages is not None:
            number = info.pages
    else:
        info.has_prev = bool(cursor_id) or (offset_page > 1 and not cursor_id)
        info.has_next = more
        if not cursor_id and offset_page <= 1:
            number = 1
    info.number = number
    if raw:
        info.first_id, info.last_id = raw[0][0], raw[-1][0]
    return raw, info
