"""The case list's search (``q``) through an index: ``demand_search_terms`` holds each
demand's reference, legal reference and target identifiers, lower-cased, one row each,
keyed (term, demand): a search for the start of any of them is a range of that key, on
SQLite and PostgreSQL alike (the column sorts bytewise there: ``COLLATE "C"``).

Triggers keep the table in step with every write, whichever path makes it (intake, the
requester portal, the import, retention's redaction, a restore, the demo's bulk path):
a demand inserted adds its two values, a target its identifier; a changed reference,
legal reference or identifier, or a target deleted, rewrites that demand's rows. A
bulk load drops the triggers and calls ``absorb`` once (as the report summary does).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

from sqlalchemy import (
    Boolean, ColumnElement, Integer, Select, String, and_, bindparam, distinct, func, literal_column, select, text,
)
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.orm import Session

from .statements import planned
from .models import Demand, DemandSearchTerm
from .services.case import fixed_codes

# How many terms the count reads per demand it may count before it counts distinct
# demands over the whole range (``count_capped``).
REACH = 2

# The table's shape at each migration that changed it: the columns after (term,
# demand_id), each copied from the term's demand. 0009 added the demand's received_at
# (a search's page read from the terms in the list's order), 0010 its process type (the
# compartment: a search leaves out the compartments its reader lacks from the terms alone).
SHAPES: dict[int, tuple[str, ...]] = {7: (), 9: ("received_at",), 10: ("received_at", "process_type")}
LATEST = max(SHAPES)


def _ddl(version: int) -> tuple[list[str], list[str]]:
    """The triggers (SQLite's, PostgreSQL's) writing the terms as migration ``version``
    shaped the table (SHAPES): each term with its demand's columns."""
    copied = SHAPES[version]
    cols = "(term, demand_id" + "".join(f", {c}" for c in copied) + ")"
    ra = "".join(f", {c}" for c in copied)
    d_ra = "".join(f", d.{c}" for c in copied)
    new_ra = "".join(f", NEW.{c}" for c in copied)
    # {d} is only ever NEW.id, OLD.demand_id or NEW.demand_id (below): no input.
    terms_of_demand = f"""
    INSERT INTO demand_search_terms {cols}
    SELECT lower(reference), id{ra} FROM demands WHERE id = {{d}}
    UNION SELECT lower(legal_reference), id{ra} FROM demands WHERE id = {{d}}
    UNION SELECT lower(t.identifier), t.demand_id{d_ra} FROM demand_targets t JOIN demands d ON d.id = t.demand_id
          WHERE t.demand_id = {{d}}"""  # nosec B608 - module constants only
    rewrite = "DELETE FROM demand_search_terms WHERE demand_id = {d};" + terms_of_demand + ";"  # nosec B608
    # A demand's received_at and process type are fixed at intake (report_summary's
    # guard): only a changed reference or legal reference rewrites its terms.
    target_value = (  # module constants only
        f"SELECT lower(NEW.identifier), NEW.demand_id{d_ra} FROM demands d WHERE d.id = NEW.demand_id"  # nosec B608
        if copied else "VALUES (lower(NEW.identifier), NEW.demand_id)")
    sqlite = [
        f"""CREATE TRIGGER search_terms_on_demand AFTER INSERT ON demands BEGIN
        INSERT OR IGNORE INTO demand_search_terms {cols} VALUES (lower(NEW.reference), NEW.id{new_ra});
        INSERT OR IGNORE INTO demand_search_terms {cols} VALUES (lower(NEW.legal_reference), NEW.id{new_ra});
    END""",
        f"""CREATE TRIGGER search_terms_on_demand_change AFTER UPDATE OF reference, legal_reference ON demands
    WHEN NEW.reference IS NOT OLD.reference OR NEW.legal_reference IS NOT OLD.legal_reference BEGIN
        {rewrite.format(d='NEW.id')}
    END""",  # nosec B608 - module constants only
        f"""CREATE TRIGGER search_terms_on_target AFTER INSERT ON demand_targets BEGIN
        INSERT OR IGNORE INTO demand_search_terms {cols} {target_value};
    END""",  # nosec B608 - module constants only
        f"""CREATE TRIGGER search_terms_on_target_change AFTER UPDATE OF identifier, demand_id ON demand_targets BEGIN
        {rewrite.format(d='OLD.demand_id')}
        {rewrite.format(d='NEW.demand_id')}
    END""",  # nosec B608 - module constants only
        f"""CREATE TRIGGER search_terms_on_target_delete AFTER DELETE ON demand_targets BEGIN
        {rewrite.format(d='OLD.demand_id')}
    END""",  # nosec B608 - module constants only
    ]
    # PostgreSQL: statement-level triggers over the transition tables (a bulk insert fires once).
    pg = [
        f"""CREATE FUNCTION search_terms_on_demands() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO demand_search_terms {cols}
        SELECT lower(reference), id{ra} FROM new_demands UNION SELECT lower(legal_reference), id{ra} FROM new_demands
        ORDER BY 1, 2 ON CONFLICT DO NOTHING;
        RETURN NULL;
    END $$""",  # nosec B608 - module constants only
        """CREATE TRIGGER search_terms_on_demands AFTER INSERT ON demands
    REFERENCING NEW TABLE AS new_demands FOR EACH STATEMENT EXECUTE FUNCTION search_terms_on_demands()""",
        f"""CREATE FUNCTION search_terms_on_targets() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO demand_search_terms {cols}
        SELECT DISTINCT lower(t.identifier), t.demand_id{d_ra} FROM new_targets t
        {"JOIN demands d ON d.id = t.demand_id" if copied else ""}
        ORDER BY 1, 2 ON CONFLICT DO NOTHING;
        RETURN NULL;
    END $$""",  # nosec B608 - module constants only
        """CREATE TRIGGER search_terms_on_targets AFTER INSERT ON demand_targets
    REFERENCING NEW TABLE AS new_targets FOR EACH STATEMENT EXECUTE FUNCTION search_terms_on_targets()""",
        # A change (rare: retention's redaction, an edit) rewrites that demand's rows.
        f"""CREATE FUNCTION search_terms_rewrite_demand() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        {rewrite.format(d='NEW.id')}
        RETURN NULL;
    END $$""",  # nosec B608 - module constants only
        f"""CREATE FUNCTION search_terms_rewrite_target() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        {rewrite.format(d='OLD.demand_id')}
        IF TG_OP = 'UPDATE' THEN
            IF NEW.demand_id <> OLD.demand_id THEN
                {rewrite.format(d='NEW.demand_id')}
            END IF;
        END IF;
        RETURN NULL;
    END $$""",  # nosec B608 - module constants only
        """CREATE TRIGGER search_terms_on_demand_change AFTER UPDATE OF reference, legal_reference ON demands
    FOR EACH ROW WHEN (NEW.reference IS DISTINCT FROM OLD.reference
                       OR NEW.legal_reference IS DISTINCT FROM OLD.legal_reference)
    EXECUTE FUNCTION search_terms_rewrite_demand()""",
        """CREATE TRIGGER search_terms_on_target_change AFTER UPDATE OF identifier, demand_id ON demand_targets
    FOR EACH ROW EXECUTE FUNCTION search_terms_rewrite_target()""",
        """CREATE TRIGGER search_terms_on_target_delete AFTER DELETE ON demand_targets
    FOR EACH ROW EXECUTE FUNCTION search_terms_rewrite_target()""",
    ]
    return sqlite, pg


_NAMES = {
    "sqlite": [("search_terms_on_demand", None), ("search_terms_on_demand_change", None),
               ("search_terms_on_target", None), ("search_terms_on_target_change", None),
               ("search_terms_on_target_delete", None)],
    "postgresql": [("search_terms_on_demands", "demands"), ("search_terms_on_targets", "demand_targets"),
                   ("search_terms_on_demand_change", "demands"), ("search_terms_on_target_change", "demand_targets"),
                   ("search_terms_on_target_delete", "demand_targets")],
}
_PG_FUNCTIONS = ("search_terms_on_demands", "search_terms_on_targets", "search_terms_rewrite_demand",
                 "search_terms_rewrite_target")


def trigger_ddl(dialect: str, version: int = LATEST) -> list[str]:
    sqlite, pg = _ddl(version)
    return sqlite if dialect == "sqlite" else pg


def drop_trigger_sql(dialect: str) -> list[str]:
    functions = _PG_FUNCTIONS if dialect == "postgresql" else ()
    return ([f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if table else "") for name, table in _NAMES[dialect]]
            + [f"DROP FUNCTION IF EXISTS {name}()" for name in functions])


def install(conn: Connection, version: int = LATEST) -> None:
    for ddl in trigger_ddl(conn.dialect.name, version):
        conn.exec_driver_sql(ddl)


def uninstall(conn: Connection) -> None:
    for sql in drop_trigger_sql(conn.dialect.name):
        conn.exec_driver_sql(sql)


def absorb(conn: Connection, first_demand: int = 0, version: int = LATEST) -> None:
    """Add the terms of the demands numbered ``first_demand`` and up (and their targets)
    in one statement: after a bulk load that ran with the triggers dropped. ``version``:
    the table as that migration shaped it (SHAPES)."""
    copied = SHAPES[version]
    cols = "".join(f", {c}" for c in copied)
    d_cols = "".join(f", d.{c}" for c in copied)
    sql = (f"INSERT INTO demand_search_terms (term, demand_id{cols}) "  # nosec B608 - SHAPES' names only
           f"SELECT lower(reference), id{cols} FROM demands WHERE id >= :first "
           f"UNION SELECT lower(legal_reference), id{cols} FROM demands WHERE id >= :first "
           f"UNION SELECT lower(t.identifier), t.demand_id{d_cols} FROM demand_targets t "
           "JOIN demands d ON d.id = t.demand_id WHERE t.demand_id >= :first ORDER BY 1, 2")
    conn.execute(text(sql), {"first": int(first_demand)})


def rebuild(conn: Connection, version: int = LATEST) -> None:
    """Every demand's terms again, from the demands and their targets."""
    conn.exec_driver_sql("DELETE FROM demand_search_terms")
    absorb(conn, 0, version)


# A search matching at most this many terms is answered from the terms (their demands,
# then sorted). A broader one, in the list's default order and with no other filter,
# walks the terms by date (index received_at, demand_id, term, process_type: each
# entry's term tested as it is read, as far as a page's demands: ``newest_first``,
# walking); in another order or with other filters, it walks the list's sort index and
# probes each demand's terms (index ``demand_id, term``). Either walk stops after a page:
# each plan where it is cheap. A walk costs about 51 × terms / matches entries read, the
# same for a prefix that matches as large a share of a bigger desk: "charle" at a
# million demands (23,310 terms) read 6,231 entries, 1.1 ms on PostgreSQL, where the
# probes of 2,100 demands took 3.2 ms.
FEW = 2_000
# A search of at most this many terms reads its page in the list's default order (by
# received_at) from the terms alone (``newest_first``): the prefix's range in the index
# (term, received_at, demand_id), sorted, then only the page's demands. On PostgreSQL
# the walk of the demands (or a hash of the matches) read each matching demand's row:
# 12.9 against 1.7 ms for 2,570 of them. The walk of the terms by date reads fewer
# entries than the range only for a broad prefix. On SQLite the walk of the terms by
# date is quicker than the range for "charle" at 100,000 demands (2,562 terms: 0.63
# ms a page): SQLite reads at most FEW matches by id, else walks.
TERMS_FIRST = {"postgresql": 5_000, "sqlite": 0}


def fixed(limit: int) -> ColumnElement[int]:
    """A LIMIT written into the statement: prepared with the limit as a parameter,
    PostgreSQL's generic plan assumes a small one and merge-joins the whole demands
    table's index to stop early (24 ms instead of 9 for a broad search's count). Written
    when the statement is compiled, not on each execution (a parameter rendered at
    execution, ``literal_execute``, has SQLAlchemy rewrite the statement's text each
    time): the statements that hold one are built for their limits (``statements.planned``)."""
    return literal_column(str(int(limit)), Integer)


def _range(q: str) -> list[ColumnElement[bool]]:
    """The terms that begin with ``q`` (any case): a range of the terms' key."""
    return _range_of(DemandSearchTerm.term, _low(q))


def _low(q: str) -> ColumnElement[str]:
    """``q`` lower-cased by the database, as the terms are."""
    # The prefix is written into the statement (escaped by SQLAlchemy, as any literal):
    # PostgreSQL then plans each search for its own prefix. As a parameter, the statement
    # is prepared once and run with a generic plan that cannot know how many terms a
    # prefix covers (28 ms instead of 9 for a broad one at 100,000 demands).
    return func.lower(bindparam("q", q, type_=String, literal_execute=True))


def _range_of(term: ColumnElement[str], low: ColumnElement[str]) -> list[ColumnElement[bool]]:
    # The range's end (the prefix and the last code point) is written in too: as a
    # parameter, PostgreSQL could not tell how wide the range is without it, found its
    # generic plan dearer than each custom one, and planned every search's count and
    # page again on each execution (1.6 ms of its 5.7 ms for "charle").
    return [term >= low, term < low + literal_column("'\U0010ffff'", String)]


def matches(session: Session, q: str, terms: int | None = None) -> ColumnElement[bool]:
    """Over ``Demand``: ``q`` (any case) begins its reference, its legal reference or one
    of its target identifiers. Lower-cased by the database on both sides, so each
    database compares like with like; a range of the terms' primary key. ``terms``: how
    many terms match, when the caller knows (``tally``); else counted here up to FEW."""
    return matching(q, few_terms(session, q, terms))


def few_terms(session: Session, q: str, terms: int | None = None) -> bool:
    """Whether ``q`` matches at most FEW terms (``terms``, when the caller has counted
    them; else counted here, up to FEW + 1)."""
    if terms is None:
        found = select(DemandSearchTerm.demand_id).where(*_range(q))
        terms = session.scalar(select(func.count()).select_from(found.limit(FEW + 1).subquery())) or 0
    return terms <= FEW


def matching(q: str, few: bool) -> ColumnElement[bool]:
    """``matches``' clause: the matching demands' ids (``few`` terms), or a probe of each
    demand's terms."""
    if few:  # (never correlated: the count's own FROM has the terms table too)
        return Demand.id.in_(select(DemandSearchTerm.demand_id).where(*_range(q)).correlate(None))
    # Each demand's terms probed through the (demand_id, term) index alone: the range is
    # said of ``term || ''``, which no index on the term serves. Said of the term,
    # PostgreSQL weighed the range's size from ANALYZE's sample: on one desk of a million
    # demands it estimated 1,228 of 23,190 terms and joined them all to their demands
    # instead of walking the list's order (145-212 ms a page against 4), and fenced, it
    # probed each demand through the (term, received_at) index (3 s a page).
    return (select(literal_column("1")).where(DemandSearchTerm.demand_id == Demand.id,
                                              _Probe(DemandSearchTerm.term, _low(q)))
            .correlate_except(DemandSearchTerm).exists())


class _Probe(FunctionElement[bool]):
    """``term`` begins with ``low``, said so that no index on the term serves it (each
    demand's terms are probed through the (demand_id, term) index): on PostgreSQL the
    range of ``_range`` said of ``term || ''``; on SQLite ``substr(term, 1, length(low))
    = low``, which SQLite tests on the index's own entry without building a string for
    each (a walk at a million demands: 2.9 against 1.9 ms, with ``SELECT 1`` rather
    than ``SELECT *`` in its EXISTS, which lets SQLite read the index alone)."""

    type = Boolean()
    name = "desk_probe_prefix"
    inherit_cache = True
    _is_implicitly_boolean = True  # a condition as it stands (no "= 1" where booleans are integers)


@compiles(_Probe)
def _probe_range(element: _Probe, compiler, **kw) -> str:
    term, low = element.clauses
    return compiler.process(and_(*_range_of(term.op("||")(literal_column("''", String)), low)), **kw)


@compiles(_Probe, "sqlite")
def _probe_substr(element: _Probe, compiler, **kw) -> str:
    term, low = element.clauses
    return compiler.process(func.substr(term, literal_column("1"), func.length(low)) == low, **kw)


def term_demands(q: str, hidden: tuple[str, ...], conditions: Sequence[ColumnElement[bool]] = ()) -> Select:
    """The demand id of each term ``q`` begins, outside the compartments ``hidden``; its
    demand looked up only when ``conditions`` (over ``Demand``) ask about it."""
    stmt = select(DemandSearchTerm.demand_id).where(*_range(q), *_visible(hidden))
    return stmt.join(Demand, Demand.id == DemandSearchTerm.demand_id).where(*conditions) if conditions else stmt


def _visible(hidden: tuple[str, ...]) -> list[ColumnElement[bool]]:
    """The terms of demands outside the compartments ``hidden``, by the process type each
    term carries. Before migration 0010 the terms left them out by demand id, against a
    hash of the hidden compartments' demands built for each statement; it grew with the
    desk (11,796 ids at a million demands: 3.2 ms a search on PostgreSQL)."""
    return [DemandSearchTerm.process_type.not_in(fixed_codes(hidden))] if hidden else []


def newest_first(q: str, hidden: tuple[str, ...], beyond: Sequence[ColumnElement[bool]], newest: bool,
                 limit: int, walk: bool = False) -> ColumnElement[bool]:
    """Over ``Demand``: the next ``limit`` demands ``q`` matches in the order of
    (received_at, id), newest first (``newest``) or oldest, after the cursor ``beyond``
    (said of the terms' received_at and demand_id), read from the terms' indexes alone:
    for a search of at most TERMS_FIRST terms (``tally``), the prefix's range, sorted;
    for a broader one (``walk``), the terms in date order (index received_at, demand_id,
    term, process_type), each tested as it is read, as far as ``limit`` demands."""
    t = DemandSearchTerm
    order = (t.received_at.desc(), t.demand_id.desc()) if newest else (t.received_at.asc(), t.demand_id.asc())
    # Walking, the prefix is tested as the probe tests it: said of the term itself, the
    # planner could weigh the range from its sample and read it through the term's index.
    prefix = [_Probe(t.term, _low(q))] if walk else _range(q)
    ids = (select(t.demand_id).where(*prefix, *_visible(hidden), *beyond)
           .group_by(t.received_at, t.demand_id).order_by(*order).limit(fixed(limit)))
    return Demand.id.in_(ids.correlate(None))


@dataclass(frozen=True)
class Tally:
    total: int  # the demands matching, counted up to the cap + 1
    # The terms matching, when no other filter applies: exact when fewer than the count
    # read at most, else that many (as many or more). ``matches`` chooses by it.
    terms: int | None
    terms_first: bool  # few enough to read the page from the terms (``newest_first``)


def count_capped(session: Session, q: str, conditions: Sequence[ColumnElement[bool]], cap: int,
                 hidden: tuple[str, ...] = ()) -> int:
    """How many demands match ``q`` and ``conditions``, up to ``cap`` + 1 (``tally``)."""
    return tally(session, q, lambda: conditions, cap, hidden).total


def tally(session: Session, q: str, conditions: Callable[[], Sequence[ColumnElement[bool]]], cap: int,
          hidden: tuple[str, ...] = (), plan: tuple[tuple, dict, bool] | None = None) -> Tally:
    """How many demands match ``q`` and ``conditions()``, up to ``cap`` + 1, read from the
    terms' range so the count costs what the matches do however rare they are in the
    table. Each term's demand is looked up only when ``conditions`` ask about it; the
    compartments the viewer lacks (``hidden``) are left out by the terms' own process type
    (a join to every matching demand cost 58 ms for 23,000 terms).

    A demand can match by several terms (two targets of one name), so the terms are
    counted distinct; but a DISTINCT reads its whole input before a LIMIT stops it, and
    the count would grow with the matches (23,000 terms at a million demands). So it
    counts distinct demands among the first ``REACH`` × (cap + 1) terms only (the
    window): all the matches in the window means the distinct count is exact; more than
    ``cap`` distinct demands in it is "cap+". Only a range whose window the terms of a
    few demands fill is counted whole (distinct, capped). Without other filters the
    window reaches TERMS_FIRST + 1 terms where that is more, so that the same count of
    its terms tells the list which way to read its page. One read of the range: a plain
    count of the first TERMS_FIRST + 1 terms beside a DISTINCT over the first 2 × (cap +
    1) read the range twice (PostgreSQL's CPU for the count of "charle" at 100,000
    demands 0.96 ms, against 0.57 for the DISTINCT over all 2,566 terms at once; for
    "kenji." at a million, 1.37 against 1.32 ms).

    ``plan``: a key naming ``conditions`` and ``hidden`` (``statements.planned``), the values of
    the conditions' parameters, and whether there are any: the first count is then built
    once per key (``conditions`` is called only to build it)."""
    filtered = plan[2] if plan is not None else bool(conditions())

    def matching_terms() -> Select:
        return term_demands(q, hidden, conditions() if filtered else ())

    db = session.connection()
    most = 0 if filtered else TERMS_FIRST.get(db.dialect.name, 0)  # the terms' count serves only unfiltered
    window = max(REACH * (cap + 1), most + 1)

    def first_count() -> Select:
        first = matching_terms().limit(fixed(window)).subquery()
        return select(func.count(), func.count(distinct(first.c.demand_id)))

    if plan is None:
        read, demands = db.execute(first_count()).one()
    else:
        key, values, _ = plan
        read, demands = planned(("search-count", *key, filtered, window, cap), first_count).run(
            db, {**values, "q": q}).one()
    terms = None if filtered else read
    terms_first = terms is not None and read <= most
    if read < window or demands > cap:  # every match in the window, or "cap+"
        return Tally(min(demands, cap + 1), terms, terms_first)
    whole = matching_terms().distinct().limit(fixed(cap + 1)).subquery()
    return Tally(db.scalar(select(func.count()).select_from(whole)) or 0, terms, terms_first)
