"""Compile a report from live data: SQL ``GROUP BY`` only, never a loop over demand rows.

Three statements, whatever the number of demands:

1. the process-type table (a dozen rows: report order, which types preserve);
2. one scan of the period's demands, grouped by country × process type × outcome, with
   per group the emergency and enterprise counts and the three flags read from the small
   tables (a notice sent by compile time, a notice held by a gag, any gag) — a few
   hundred rows;
3. the distinct target identifiers (``accounts_specified``) per country, per process
   type and per section, over the targets joined to the period's demands.

Python then only adds up the few hundred grouped rows of (2) into the sections.

Preservation and national-security demands are left out of every section but their
own (SPEC §5), so no exact national-security figure follows by subtraction; that
figure is turned into a band of 500 here and never leaves this module otherwise.
Works on a SQLAlchemy ``Session`` or ``Connection``, SQLite or PostgreSQL; no Flask.
"""
from __future__ import annotations

from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import (
    Boolean,
    DateTime,
    Integer,
    String,
    and_,
    case,
    column,
    func,
    literal,
    select,
    table,
    text,
    union_all,
)
from sqlalchemy.types import TypeDecorator

from .periods import Period
from .schema import (
    NOT_YET_REPORTABLE,
    OTHER,
    OUTCOME_FIELDS,
    CountryRow,
    Emergency,
    Enterprise,
    Figures,
    Gag,
    NationalSecurity,
    Preservation,
    ProcessTypeRow,
    Report,
    percent,
)

NATIONAL_SECURITY = "national_security"


class _UTC(TypeDecorator):
    """Binds aware UTC datetimes the way the desk stores them (naive UTC on SQLite)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value


# Lightweight table clauses: this package reads the desk's tables without importing the app.
demands = table(
    "demands",
    column("id", Integer),
    column("received_at", _UTC()),
    column("country", String),
    column("process_type", String),
    column("status", String),
    column("outcome", String),
    column("emergency", Boolean),
    column("concerns_enterprise", Boolean),
)
demand_targets = table("demand_targets", column("demand_id", Integer), column("identifier", String))
gags = table("gags", column("demand_id", Integer))
notices = table(
    "notices", column("demand_id", Integer), column("sent_at", _UTC()), column("gag_held", Boolean)
)
process_rules = table(
    "process_rules", column("code", String), column("preservation", Boolean), column("position", Integer)
)


@dataclass(frozen=True)
class ProcessTypes:
    """The process-type table as the report needs it."""

    ordered: tuple[str, ...]  # report order (position), every code
    preservation: tuple[str, ...]  # preservation and eu_preservation_order

    @property
    def excluded(self) -> tuple[str, ...]:
        """Types that count only in their own section."""
        return self.preservation + (NATIONAL_SECURITY,)

    @property
    def reported(self) -> tuple[str, ...]:
        """Rows of ``by_process_type``."""
        return tuple(code for code in self.ordered if code not in self.excluded)


def load_process_types(db) -> ProcessTypes:
    rows = db.execute(
        select(process_rules.c.code, process_rules.c.preservation)
        .order_by(process_rules.c.position, process_rules.c.code)
    ).all()
    return ProcessTypes(
        ordered=tuple(code for code, _ in rows),
        preservation=tuple(code for code, preserves in rows if preserves),
    )


def _in_period(period: Period):
    return and_(demands.c.received_at >= period.start, demands.c.received_at < period.end)


def _truthy(col):
    return case((col, 1), else_=0)


# Sorting and hashing the period's targets needs more than the databases' small defaults
# (PostgreSQL work_mem 4 MB, SQLite 2 MB of page cache): with them the distinct-account
# step spills to temporary files. These settings hold only while a report compiles.
PG_SETTINGS = {"work_mem": "64MB", "jit": "off"}  # JIT costs more than it saves on sub-second queries
SQLITE_CACHE_KIB = 65536


def _dialect(db) -> str:
    bind = db if hasattr(db, "dialect") else db.get_bind()
    return bind.dialect.name


@contextmanager
def reporting_settings(db):
    """Give the compile's statements room to sort and hash, then put the settings back."""
    name = _dialect(db)
    if name == "postgresql":
        keys = list(PG_SETTINGS)
        old = db.execute(text("SELECT " + ", ".join(f"current_setting('{k}')" for k in keys))).one()
        params = {f"v{i}": PG_SETTINGS[k] for i, k in enumerate(keys)}
        db.execute(text("SELECT " + ", ".join(f"set_config('{k}', :v{i}, true)" for i, k in enumerate(keys))), params)
        try:
            yield
        finally:
            restore = {f"v{i}": value for i, value in enumerate(old)}
            db.execute(text("SELECT " + ", ".join(f"set_config('{k}', :v{i}, true)" for i, k in enumerate(keys))),
                       restore)
    elif name == "sqlite":
        old = db.execute(text("PRAGMA cache_size")).scalar()
        db.execute(text(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}"))
        try:
            yield
        finally:
            db.execute(text(f"PRAGMA cache_size = {int(old)}"))
    else:
        yield


def compile_report(db, period: Period, now: datetime, *, min_country: int = 0) -> Report:
    """A draft of ``period`` from live data as of ``now`` (outcomes, notices sent by then)."""
    with reporting_settings(db):
        return _compile(db, period, now, min_country)


def cube_statement(period: Period, now: datetime):
    """Country × process type × outcome over one scan of the period's demands, with the
    emergency and enterprise counts and the three flags per group. The flags come from the
    small tables through uncorrelated IN subqueries, which both databases evaluate once
    (PostgreSQL: a hashed subplan; SQLite: an ephemeral index)."""
    outcome = case((demands.c.status != "closed", literal("pending")), else_=demands.c.outcome).label("outcome")
    ent = demands.c.concerns_enterprise
    notified = demands.c.id.in_(
        select(notices.c.demand_id).where(notices.c.sent_at.is_not(None), notices.c.sent_at <= now))
    delayed = demands.c.id.in_(select(notices.c.demand_id).where(notices.c.gag_held))
    gagged = demands.c.id.in_(select(gags.c.demand_id))
    return (
        select(
            demands.c.country,
            demands.c.process_type,
            outcome,
            func.count().label("n"),
            func.sum(_truthy(demands.c.emergency)).label("emergency"),
            func.sum(_truthy(ent)).label("enterprise"),
            func.sum(_truthy(and_(ent, notified))).label("notified"),
            func.sum(_truthy(and_(ent, delayed))).label("delayed"),
            func.sum(_truthy(gagged)).label("gagged"),
        )
        .where(_in_period(period))
        .group_by(demands.c.country, demands.c.process_type, outcome)
    )


def _compile(db, period: Period, now: datetime, min_country: int) -> Report:
    kinds = load_process_types(db)
    excluded = kinds.excluded
    in_period = _in_period(period)
    main = demands.c.process_type.not_in(excluded)

    # (2) The cube: one scan of the period's demands.
    cube = db.execute(cube_statement(period, now)).all()

    totals: dict[str, int] = defaultdict(int)
    per_country: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    per_type: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    emergency: dict[str, int] = defaultdict(int)
    enterprise: dict[str, int] = defaultdict(int)
    flags: dict[str, int] = defaultdict(int)
    preservation_requests = 0
    national_security_requests = 0
    for country, process_type, oc, n, n_emergency, n_enterprise, n_notified, n_delayed, n_gagged in cube:
        n = int(n)
        if process_type in kinds.preservation:
            preservation_requests += n
            continue
        if process_type == NATIONAL_SECURITY:
            national_security_requests += n
            continue
        totals[oc] += n
        per_country[country][oc] += n
        per_type[process_type][oc] += n
        emergency[oc] += int(n_emergency or 0)
        enterprise[oc] += int(n_enterprise or 0)
        flags["notified"] += int(n_notified or 0)
        flags["delayed"] += int(n_delayed or 0)
        flags["gagged"] += int(n_gagged or 0)

    country_requests = {code: sum(counts.values()) for code, counts in per_country.items()}
    small = sorted(code for code, n in country_requests.items() if n < min_country)

    # (3) Distinct accounts per country, process type and section, in one statement.
    accounts = _accounts(db, in_period, kinds, small)

    def figures(kind, counts, accounts_specified, **extra):
        return kind.from_counts(counts, accounts_specified, **extra)

    by_country = [
        figures(CountryRow, per_country[code], accounts.get(("country", code), 0), country=code)
        for code in sorted((c for c in per_country if c not in small), key=lambda c: (-country_requests[c], c))
    ]
    if small:
        merged: dict[str, int] = defaultdict(int)
        for code in small:
            for oc, n in per_country[code].items():
                merged[oc] += n
        by_country.append(figures(CountryRow, merged, accounts.get(("country", OTHER), 0), country=OTHER))

    totals_row = figures(Figures, totals, accounts.get(("section", "main"), 0))
    ns_reportable = period.national_security_reportable(now)
    return Report(
        period=period.code,
        status="draft",
        version=None,
        published_at=None,
        compiled_at=now.astimezone(timezone.utc),
        note=None,
        totals=totals_row,
        by_country=by_country,
        by_process_type=[
            figures(ProcessTypeRow, per_type.get(code, {}), accounts.get(("process_type", code), 0),
                    process_type=code)
            for code in kinds.reported
        ],
        enterprise=Enterprise(
            requests=sum(enterprise.values()),
            redirected=enterprise["redirected"],
            customer_notified=flags["notified"],
            notice_delayed_by_gag=flags["delayed"],
            content_disclosed=enterprise["content_disclosed"],
            non_content_disclosed=enterprise["non_content_disclosed"],
            rejected=enterprise["rejected"],
        ),
        emergency=Emergency(
            requests=sum(emergency.values()),
            disclosed=emergency["content_disclosed"] + emergency["non_content_disclosed"],
            rejected=emergency["rejected"],
        ),
        preservation=Preservation(
            requests=preservation_requests,
            accounts_specified=accounts.get(("section", "preservation"), 0),
        ),
        gag=Gag(
            requests_with_gag=flags["gagged"],
            pct_with_gag=percent(flags["gagged"], totals_row.requests),
        ),
        national_security=(
            NationalSecurity.from_counts(national_security_requests,
                                         accounts.get(("section", NATIONAL_SECURITY), 0))
            if ns_reportable else NOT_YET_REPORTABLE
        ),
    )


def _accounts(db, in_period, kinds: ProcessTypes, small: list[str]) -> dict[tuple[str, str], int]:
    """``{(grouping, key): distinct identifiers}`` for grouping country / process_type / section.

    Each grouping reads the period's targets (an index join), removes duplicate
    ``(key, identifier)`` pairs with a GROUP BY (hashed on PostgreSQL) and counts them,
    which both databases do faster than ``COUNT(DISTINCT …)``. Reading the join three
    times is cheaper than keeping it in a materialised CTE (measured on both)."""

    def distinct_per(grouping: str, key_of, *, main_only: bool):
        t = (
            select(demands.c.country, demands.c.process_type, demand_targets.c.identifier)
            .select_from(demand_targets.join(demands, demands.c.id == demand_targets.c.demand_id))
            .where(in_period, *((demands.c.process_type.not_in(kinds.excluded),) if main_only else ()))
            .subquery()
        ).c
        key = key_of(t)
        pairs = select(key.label("key"), t.identifier).group_by(key, t.identifier).subquery()
        return select(literal(grouping).label("grouping"), pairs.c.key, func.count().label("n")).group_by(pairs.c.key)

    def country_key(t):
        return case((t.country.in_(small), literal(OTHER)), else_=t.country) if small else t.country

    def section_key(t):
        whens = [(t.process_type == NATIONAL_SECURITY, literal(NATIONAL_SECURITY))]
        if kinds.preservation:
            whens.append((t.process_type.in_(kinds.preservation), literal("preservation")))
        return case(*whens, else_=literal("main"))

    rows = db.execute(union_all(
        distinct_per("country", country_key, main_only=True),
        distinct_per("process_type", lambda t: t.process_type, main_only=True),
        distinct_per("section", section_key, main_only=False),
    )).all()
    return {(grouping, key): int(n) for grouping, key, n in rows}


__all__ = ["compile_report", "load_process_types", "ProcessTypes", "NATIONAL_SECURITY"]
