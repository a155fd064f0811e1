"""Compile a report from live data: SQL ``GROUP BY`` only, never a loop over demand rows.

Four statements, whatever the number of demands:

1. the process-type table (a dozen rows: report order, which types preserve);
2. one scan of the period's demands, grouped by country × process type × outcome,
   with the emergency and enterprise counts summed per group (a few hundred rows);
3. one statement with three counts over the small tables (gags, notices) joined to the
   period's demands: demands with a gag, enterprise demands notified, enterprise demands
   whose notice a gag held;
4. one statement of distinct target identifiers (``accounts_specified``) per country,
   per process type and per section, over the targets joined to the period's demands.

Python then only adds up the few hundred grouped rows of (2) into the sections.

Preservation and national-security demands are left out of every section but their
own (SPEC §5), so no exact national-security figure follows by subtraction; that
figure is turned into a band of 500 here and never leaves this module otherwise.
Works on a SQLAlchemy ``Session`` or ``Connection``, SQLite or PostgreSQL; no Flask.
"""
from __future__ import annotations

from collections import defaultdict
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
    exists,
    func,
    literal,
    select,
    table,
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


def compile_report(db, period: Period, now: datetime, *, min_country: int = 0) -> Report:
    """A draft of ``period`` from live data as of ``now`` (outcomes, notices sent by then)."""
    kinds = load_process_types(db)
    excluded = kinds.excluded
    in_period = _in_period(period)
    main = demands.c.process_type.not_in(excluded)

    # (2) The cube: country × process type × outcome, one scan of the period's demands.
    outcome = case((demands.c.status != "closed", literal("pending")), else_=demands.c.outcome).label("outcome")
    cube = db.execute(
        select(
            demands.c.country,
            demands.c.process_type,
            outcome,
            func.count().label("n"),
            func.sum(_truthy(demands.c.emergency)).label("emergency"),
            func.sum(_truthy(demands.c.concerns_enterprise)).label("enterprise"),
        )
        .where(in_period)
        .group_by(demands.c.country, demands.c.process_type, outcome)
    ).all()

    totals: dict[str, int] = defaultdict(int)
    per_country: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    per_type: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    emergency: dict[str, int] = defaultdict(int)
    enterprise: dict[str, int] = defaultdict(int)
    preservation_requests = 0
    national_security_requests = 0
    for country, process_type, oc, n, n_emergency, n_enterprise in cube:
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

    country_requests = {code: sum(counts.values()) for code, counts in per_country.items()}
    small = sorted(code for code, n in country_requests.items() if n < min_country)

    # (3) The flags, over the small tables joined to the period's demands.
    ent_main = and_(in_period, main, demands.c.concerns_enterprise)
    flags = db.execute(
        select(
            select(func.count()).select_from(demands)
            .where(in_period, main, exists().where(gags.c.demand_id == demands.c.id))
            .scalar_subquery().label("with_gag"),
            select(func.count()).select_from(demands)
            .where(ent_main, exists().where(notices.c.demand_id == demands.c.id,
                                            notices.c.sent_at.is_not(None), notices.c.sent_at <= now))
            .scalar_subquery().label("notified"),
            select(func.count()).select_from(demands)
            .where(ent_main, exists().where(notices.c.demand_id == demands.c.id, notices.c.gag_held))
            .scalar_subquery().label("delayed"),
        )
    ).one()

    # (4) Distinct accounts per country, process type and section, in one statement.
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
            customer_notified=int(flags.notified or 0),
            notice_delayed_by_gag=int(flags.delayed or 0),
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
            requests_with_gag=int(flags.with_gag or 0),
            pct_with_gag=percent(int(flags.with_gag or 0), totals_row.requests),
        ),
        national_security=(
            NationalSecurity.from_counts(national_security_requests,
                                         accounts.get(("section", NATIONAL_SECURITY), 0))
            if ns_reportable else NOT_YET_REPORTABLE
        ),
    )


def _accounts(db, in_period, kinds: ProcessTypes, small: list[str]) -> dict[tuple[str, str], int]:
    """``{(grouping, key): distinct identifiers}`` for grouping country / process_type / section."""
    targets = (
        select(demands.c.country, demands.c.process_type, demand_targets.c.identifier)
        .select_from(demand_targets.join(demands, demands.c.id == demand_targets.c.demand_id))
        .where(in_period)
        .cte("period_targets")
    )
    main = targets.c.process_type.not_in(kinds.excluded)
    country_key = (
        case((targets.c.country.in_(small), literal(OTHER)), else_=targets.c.country) if small
        else targets.c.country
    )
    section = case(
        (targets.c.process_type == NATIONAL_SECURITY, literal(NATIONAL_SECURITY)),
        (targets.c.process_type.in_(kinds.preservation), literal("preservation")),
        else_=literal("main"),
    ) if kinds.preservation else case(
        (targets.c.process_type == NATIONAL_SECURITY, literal(NATIONAL_SECURITY)), else_=literal("main")
    )
    distinct = func.count(targets.c.identifier.distinct())
    by_country = select(literal("country").label("grouping"), country_key.label("key"), distinct.label("n")) \
        .where(main).group_by(country_key)
    by_type = select(literal("process_type"), targets.c.process_type, distinct) \
        .where(main).group_by(targets.c.process_type)
    by_section = select(literal("section"), section, distinct).group_by(section)
    rows = db.execute(union_all(by_country, by_type, by_section)).all()
    return {(grouping, key): int(n) for grouping, key, n in rows}


__all__ = ["compile_report", "load_process_types", "ProcessTypes", "NATIONAL_SECURITY"]
