"""Compile a report from live data: SQL ``GROUP BY`` only, never a loop over demand rows.

Three statements, whatever the number of demands:

1. the process-type table (a dozen rows: report order, which types preserve);
2. one scan of the period's demands, grouped by country × process type × outcome, with
   per group the emergency and enterprise counts — a few hundred rows;
3. the period's rows of the report summary the database keeps as rows are written
   (requests_desk/report_summary.py): the distinct target identifiers
   (``accounts_specified``) per country, per process type and per section, and how many
   demands had a notice sent (by compile time), a notice held by a gag, a gag — a few
   dozen rows. Only when small countries merge into ``Other`` does a fourth statement
   count their distinct identifiers together.

Python then only adds up the few hundred grouped rows into the sections.

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
    column,
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
FRAUDULENT = "fraudulent"  # an outcome the report counts as rejected (section 9 of the spec)


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
process_rules = table(
    "process_rules", column("code", String), column("preservation", Boolean), column("position", Integer)
)
# The report summary (requests_desk/report_summary.py).
report_accounts = table(
    "report_accounts", column("period", String), column("dimension", String), column("member", String),
    column("identifier", String),
)
report_account_counts = table(
    "report_account_counts", column("period", String), column("dimension", String), column("member", String),
    column("n", Integer),
)
report_marks = table(
    "report_marks", column("demand_id", Integer), column("kind", String), column("period", String),
    column("main", Boolean), column("enterprise", Boolean), column("at", _UTC()),
)
report_mark_counts = table(
    "report_mark_counts", column("period", String), column("kind", String), column("n", Integer),
)
MARK, LATE = "mark", "late"  # the dimensions under which statement 3 returns the marks


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


def compile_report(db, period: Period, now: datetime, *, min_country: int = 0) -> Report:
    """A draft of ``period`` from live data as of ``now`` (outcomes, notices sent by then)."""
    return _compile(db, period, now, min_country)


def cube_statement(period: Period):
    """Country × process type × outcome over one scan of the period's demands, with the
    emergency and enterprise counts per group. An open demand has no outcome (a rule the
    schema holds), so NULL is the report's ``pending``."""
    return (
        select(
            demands.c.country,
            demands.c.process_type,
            demands.c.outcome,
            func.count().label("n"),
            func.count().filter(demands.c.emergency).label("emergency"),
            func.count().filter(demands.c.concerns_enterprise).label("enterprise"),
        )
        .where(_in_period(period))
        .group_by(demands.c.country, demands.c.process_type, demands.c.outcome)
    )


def summary_statement(period: Period, now: datetime):
    """The period's rows of the report summary, as (dimension, member, n): the account
    counts; under ``mark``, how many demands the report counts with each mark; under
    ``late``, how many of the ``notified`` ones had their first notice sent after ``now``
    (none, unless a report is compiled as of a past moment)."""
    counts = select(report_account_counts.c.dimension, report_account_counts.c.member,
                    report_account_counts.c.n).where(report_account_counts.c.period == period.code)
    marks = select(literal(MARK), report_mark_counts.c.kind, report_mark_counts.c.n).where(
        report_mark_counts.c.period == period.code)
    late = select(literal(LATE), literal("notified"), func.count()).where(
        report_marks.c.period == period.code,
        report_marks.c.kind == "notified",
        report_marks.c.at > now,
        report_marks.c.main,
        report_marks.c.enterprise,
    )
    return union_all(counts, marks, late)


def _compile(db, period: Period, now: datetime, min_country: int) -> Report:
    kinds = load_process_types(db)

    # (2) The cube: one scan of the period's demands.
    cube = db.execute(cube_statement(period)).all()
    # (3) The summary: account counts and marks.
    accounts: dict[tuple[str, str], int] = {}
    for dimension, member, n in db.execute(summary_statement(period, now)):
        accounts[(dimension, member)] = int(n)

    # A few thousand grouped rows at most (countries × types × outcomes): added up here.
    per_country: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    per_type: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    emergency: dict[str, int] = defaultdict(int)
    enterprise: dict[str, int] = defaultdict(int)
    preservation = set(kinds.preservation)
    preservation_requests = 0
    national_security_requests = 0
    for country, process_type, oc, n, n_emergency, n_enterprise in cube:
        if process_type in preservation:
            preservation_requests += n
        elif process_type == NATIONAL_SECURITY:
            national_security_requests += n
        else:
            oc = oc or "pending"
            if oc == FRAUDULENT:  # counted as rejected in every outcome table; apart only here
                emergency[FRAUDULENT] += n_emergency
                oc = "rejected"
            per_country[country][oc] += n
            per_type[process_type][oc] += n
            if n_emergency:
                emergency[oc] += n_emergency
            if n_enterprise:
                enterprise[oc] += n_enterprise
    totals: dict[str, int] = defaultdict(int)
    for counts in per_type.values():
        for oc, n in counts.items():
            totals[oc] += n
    flags = {
        "notified": accounts.get((MARK, "notified"), 0) - accounts.get((LATE, "notified"), 0),
        "delayed": accounts.get((MARK, "gag_held"), 0),
        "gagged": accounts.get((MARK, "gag"), 0),
    }

    country_requests = {code: sum(counts.values()) for code, counts in per_country.items()}
    small = sorted(code for code, n in country_requests.items() if n < min_country)
    if small:
        # (4) Countries under the minimum merge into Other: their distinct identifiers together.
        accounts[("country", OTHER)] = int(db.execute(
            select(func.count(report_accounts.c.identifier.distinct())).where(
                report_accounts.c.period == period.code,
                report_accounts.c.dimension == "country",
                report_accounts.c.member.in_(small),
            )
        ).scalar() or 0)

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
            requests=sum(n for oc, n in emergency.items() if oc != FRAUDULENT),
            disclosed=emergency["content_disclosed"] + emergency["non_content_disclosed"],
            rejected=emergency["rejected"],
            fraudulent=emergency[FRAUDULENT],
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


__all__ = ["compile_report", "load_process_types", "ProcessTypes", "NATIONAL_SECURITY"]
