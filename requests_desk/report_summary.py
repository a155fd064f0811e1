"""What the transparency report needs beyond one scan of the demands, kept by the database.

Two figures of a report cannot come from a GROUP BY over the period's demands alone:

* ``accounts_specified``, the distinct target identifiers per country, per process type
  and per section: counting them at compile time means hashing every target of the
  period three times, several times the cost of the whole scan of demands;
* the enterprise and gag flags (a notice sent by compile time, a notice held by a gag,
  a gag recorded): reading them from ``notices`` and ``gags`` at compile time costs a
  scan of those tables.

So the database keeps them as rows are written, whoever writes them (the service path,
the demo's bulk loader, a benchmark writing straight into the tables), with triggers:

``report_accounts``        one row per (period, dimension, member, identifier), each pair once;
``report_account_counts``  per (period, dimension, member), how many identifiers that makes;
``report_marks``           per demand and kind ('notified', 'gag_held', 'gag'), with the
                           demand's period, whether it counts in the main sections, whether
                           it concerns an enterprise customer, and for 'notified' when the
                           first notice went out;
``report_mark_counts``     per (period, kind), how many marks the report counts: of demands
                           in the main sections, for a gag all of them, for the notice marks
                           those concerning an enterprise customer.

A demand's period, country, process type and enterprise flag are fixed at intake (a
trigger refuses to change them afterwards, as nothing in the desk does) and targets are
only ever added, so these rows only grow. The triggers read the demand's
section from ``process_rules`` through the view ``report_demand_keys``;
``load_rules`` rebuilds everything if a process type's preservation flag ever changes.

PostgreSQL runs statement-level triggers over transition tables (one set-based INSERT per
COPY or executemany); SQLite runs row-level triggers. ``rebuild`` recomputes all of it
from the base tables in a few set-based statements: the migration uses it to fill the
tables of an existing desk, and the tests compare its result with what the triggers kept.
"""
from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection

# A demand's half-year, as reports.periods.Period.code spells it ("2026-H1"), in UTC.
_PERIOD = {
    # The desk stores naive UTC text on SQLite: "2026-06-30 23:59:59.000000".
    "sqlite": "substr(d.received_at, 1, 4) || CASE WHEN substr(d.received_at, 6, 2) <= '06' "
              "THEN '-H1' ELSE '-H2' END",
    "postgresql": "to_char(d.received_at AT TIME ZONE 'UTC', 'YYYY') || CASE WHEN "
                  "extract(month FROM d.received_at AT TIME ZONE 'UTC') <= 6 THEN '-H1' ELSE '-H2' END",
}


def _views(dialect: str) -> list[str]:
    return [
        f"""CREATE VIEW report_demand_keys AS
        SELECT d.id AS demand_id, {_PERIOD[dialect]} AS period,
               CASE WHEN d.process_type = 'national_security' THEN 'national_security'
                    WHEN r.preservation THEN 'preservation' ELSE 'main' END AS section,
               d.country AS country, d.process_type AS process_type, d.concerns_enterprise AS enterprise
        FROM demands d JOIN process_rules r ON r.code = d.process_type""",  # nosec B608 - names are module constants, values are bound
        # The keys a target of the demand counts under: its section; in the main section
        # also its country and its process type.
        """CREATE VIEW report_account_keys AS
        SELECT demand_id, period, 'section' AS dimension, section AS member FROM report_demand_keys
        UNION ALL
        SELECT demand_id, period, 'country', country FROM report_demand_keys WHERE section = 'main'
        UNION ALL
        SELECT demand_id, period, 'process_type', process_type FROM report_demand_keys WHERE section = 'main'""",
    ]


_MARK_COLUMNS = "(demand_id, kind, period, main, enterprise, at)"
_MARK_FROM_KEYS = "k.demand_id, '{kind}', k.period, k.section = 'main', k.enterprise"

_FIXED = ("received_at", "country", "process_type", "concerns_enterprise")
_FIXED_MESSAGE = "a demand's received_at, country, process_type and concerns_enterprise are fixed at intake"

_COUNTED = "{t}.main AND ({t}.kind = 'gag' OR {t}.enterprise)"

_SQLITE_GUARDS = [
    f"""CREATE TRIGGER demands_fixed_at_intake BEFORE UPDATE OF {', '.join(_FIXED)} ON demands
    WHEN {' OR '.join(f'NEW.{c} IS NOT OLD.{c}' for c in _FIXED)} BEGIN
        SELECT RAISE(ABORT, 'CHECK constraint failed: {_FIXED_MESSAGE.replace("'", "''")}');
    END""",
]

_SQLITE_TRIGGERS = [
    f"""CREATE TRIGGER report_mark_counts_on_mark AFTER INSERT ON report_marks
    WHEN {_COUNTED.format(t='NEW')} BEGIN
        INSERT INTO report_mark_counts (period, kind, n) VALUES (NEW.period, NEW.kind, 1)
        ON CONFLICT (period, kind) DO UPDATE SET n = n + 1;
    END""",  # nosec B608 - names are module constants, values are bound
    """CREATE TRIGGER report_accounts_on_target AFTER INSERT ON demand_targets BEGIN
        INSERT INTO report_account_counts (period, dimension, member, n)
        SELECT k.period, k.dimension, k.member, 1 FROM report_account_keys k
        WHERE k.demand_id = NEW.demand_id AND NOT EXISTS (
            SELECT 1 FROM report_accounts a
            WHERE a.period = k.period AND a.dimension = k.dimension AND a.member = k.member
              AND a.identifier = NEW.identifier)
        ON CONFLICT (period, dimension, member) DO UPDATE SET n = n + 1;
        INSERT INTO report_accounts (period, dimension, member, identifier)
        SELECT k.period, k.dimension, k.member, NEW.identifier FROM report_account_keys k
        WHERE k.demand_id = NEW.demand_id
        ON CONFLICT DO NOTHING;
    END""",
    *(
        f"""CREATE TRIGGER report_marks_on_notice_{event} AFTER {event.upper()}{columns} ON notices
        WHEN NEW.sent_at IS NOT NULL OR NEW.gag_held BEGIN
            INSERT INTO report_marks {_MARK_COLUMNS}
            SELECT {_MARK_FROM_KEYS.format(kind='notified')}, NEW.sent_at FROM report_demand_keys k
            WHERE k.demand_id = NEW.demand_id AND NEW.sent_at IS NOT NULL
            ON CONFLICT (demand_id, kind) DO UPDATE SET at = min(at, excluded.at);
            INSERT INTO report_marks {_MARK_COLUMNS}
            SELECT {_MARK_FROM_KEYS.format(kind='gag_held')}, NULL FROM report_demand_keys k
            WHERE k.demand_id = NEW.demand_id AND NEW.gag_held
            ON CONFLICT (demand_id, kind) DO NOTHING;
        END"""  # nosec B608 - names are module constants, values are bound
        for event, columns in (("insert", ""), ("update", " OF sent_at, gag_held"))
    ),
    f"""CREATE TRIGGER report_marks_on_gag AFTER INSERT ON gags BEGIN
        INSERT INTO report_marks {_MARK_COLUMNS}
        SELECT {_MARK_FROM_KEYS.format(kind='gag')}, NULL FROM report_demand_keys k
        WHERE k.demand_id = NEW.demand_id
        ON CONFLICT (demand_id, kind) DO NOTHING;
    END""",  # nosec B608 - names are module constants, values are bound
]

# Rows are taken in key order so that two transactions never wait on each other's rows
# in opposite orders.
_PG_GUARDS = [
    f"""CREATE FUNCTION demands_fixed_at_intake() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION USING ERRCODE = 'check_violation', MESSAGE = '{_FIXED_MESSAGE.replace("'", "''")}';
    END $$""",
    f"""CREATE TRIGGER demands_fixed_at_intake BEFORE UPDATE OF {', '.join(_FIXED)} ON demands
    FOR EACH ROW WHEN ({' OR '.join(f'NEW.{c} IS DISTINCT FROM OLD.{c}' for c in _FIXED)})
    EXECUTE FUNCTION demands_fixed_at_intake()""",
]

_PG_TRIGGERS = [
    # An INSERT … ON CONFLICT's transition table holds the rows it inserted, not those it updated.
    f"""CREATE FUNCTION report_mark_counts_on_marks() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO report_mark_counts (period, kind, n)
        SELECT period, kind, count(*) FROM new_marks m WHERE {_COUNTED.format(t='m')}
        GROUP BY 1, 2 ORDER BY 1, 2
        ON CONFLICT (period, kind) DO UPDATE SET n = report_mark_counts.n + EXCLUDED.n;
        RETURN NULL;
    END $$""",  # nosec B608 - names are module constants, values are bound
    """CREATE TRIGGER report_mark_counts_on_marks AFTER INSERT ON report_marks
    REFERENCING NEW TABLE AS new_marks FOR EACH STATEMENT EXECUTE FUNCTION report_mark_counts_on_marks()""",
    """CREATE FUNCTION report_accounts_on_targets() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        WITH added AS (
            INSERT INTO report_accounts (period, dimension, member, identifier)
            SELECT DISTINCT k.period, k.dimension, k.member, t.identifier
            FROM new_targets t JOIN report_account_keys k ON k.demand_id = t.demand_id
            ORDER BY 1, 2, 3, 4
            ON CONFLICT DO NOTHING
            RETURNING period, dimension, member)
        INSERT INTO report_account_counts (period, dimension, member, n)
        SELECT period, dimension, member, count(*) FROM added GROUP BY 1, 2, 3 ORDER BY 1, 2, 3
        ON CONFLICT (period, dimension, member) DO UPDATE SET n = report_account_counts.n + EXCLUDED.n;
        RETURN NULL;
    END $$""",
    """CREATE TRIGGER report_accounts_on_targets AFTER INSERT ON demand_targets
    REFERENCING NEW TABLE AS new_targets FOR EACH STATEMENT EXECUTE FUNCTION report_accounts_on_targets()""",
    f"""CREATE FUNCTION report_marks_on_notices() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO report_marks {_MARK_COLUMNS}
        SELECT {_MARK_FROM_KEYS.format(kind='notified')}, n.first
        FROM (SELECT demand_id, min(sent_at) AS first FROM new_notices
              WHERE sent_at IS NOT NULL GROUP BY demand_id) n
        JOIN report_demand_keys k ON k.demand_id = n.demand_id
        ORDER BY 1
        ON CONFLICT (demand_id, kind) DO UPDATE SET at = EXCLUDED.at WHERE EXCLUDED.at < report_marks.at;
        INSERT INTO report_marks {_MARK_COLUMNS}
        SELECT {_MARK_FROM_KEYS.format(kind='gag_held')}, NULL
        FROM (SELECT DISTINCT demand_id FROM new_notices WHERE gag_held) n
        JOIN report_demand_keys k ON k.demand_id = n.demand_id
        ORDER BY 1
        ON CONFLICT (demand_id, kind) DO NOTHING;
        RETURN NULL;
    END $$""",  # nosec B608 - names are module constants, values are bound
    *(
        f"""CREATE TRIGGER report_marks_on_notice_{event} AFTER {event.upper()} ON notices
        REFERENCING NEW TABLE AS new_notices FOR EACH STATEMENT EXECUTE FUNCTION report_marks_on_notices()"""
        for event in ("insert", "update")
    ),
    f"""CREATE FUNCTION report_marks_on_gags() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO report_marks {_MARK_COLUMNS}
        SELECT {_MARK_FROM_KEYS.format(kind='gag')}, NULL
        FROM (SELECT DISTINCT demand_id FROM new_gags) g
        JOIN report_demand_keys k ON k.demand_id = g.demand_id
        ORDER BY 1
        ON CONFLICT (demand_id, kind) DO NOTHING;
        RETURN NULL;
    END $$""",  # nosec B608 - names are module constants, values are bound
    """CREATE TRIGGER report_marks_on_gags AFTER INSERT ON gags
    REFERENCING NEW TABLE AS new_gags FOR EACH STATEMENT EXECUTE FUNCTION report_marks_on_gags()""",
]

_GUARD_NAMES = {"sqlite": [("demands_fixed_at_intake", None)], "postgresql": [("demands_fixed_at_intake", "demands")]}
_TRIGGER_NAMES = {
    "sqlite": [("report_mark_counts_on_mark", None), ("report_accounts_on_target", None),
               ("report_marks_on_notice_insert", None), ("report_marks_on_notice_update", None),
               ("report_marks_on_gag", None)],
    "postgresql": [("report_mark_counts_on_marks", "report_marks"), ("report_accounts_on_targets", "demand_targets"),
                   ("report_marks_on_notice_insert", "notices"), ("report_marks_on_notice_update", "notices"),
                   ("report_marks_on_gags", "gags")],
}
_PG_FUNCTIONS = ("report_mark_counts_on_marks", "report_accounts_on_targets", "report_marks_on_notices",
                 "report_marks_on_gags")


def _dialect(conn: Connection) -> str:
    name = conn.dialect.name
    if name not in _PERIOD:
        raise RuntimeError(f"the report summary supports SQLite and PostgreSQL, not {name}")
    return name


def trigger_ddl(dialect: str) -> list[str]:
    """The statements that create the summary's triggers (and their functions)."""
    return list(_SQLITE_TRIGGERS if dialect == "sqlite" else _PG_TRIGGERS)


def _drop_triggers(names: list[tuple[str, str | None]], functions: tuple[str, ...]) -> list[str]:
    """DROP statements for triggers (name, table on PostgreSQL) and their functions."""
    return ([f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if table else "") for name, table in names]
            + [f"DROP FUNCTION IF EXISTS {name}()" for name in functions])


def drop_trigger_sql(dialect: str) -> list[str]:
    """The statements that drop the summary's triggers (and their functions)."""
    return _drop_triggers(_TRIGGER_NAMES[dialect], _PG_FUNCTIONS if dialect == "postgresql" else ())


def install(conn: Connection) -> None:
    """Create the views, the intake guard and the summary's triggers (the tables come from
    the migration)."""
    dialect = _dialect(conn)
    for ddl in _views(dialect) + (_SQLITE_GUARDS if dialect == "sqlite" else _PG_GUARDS) + trigger_ddl(dialect):
        conn.exec_driver_sql(ddl)


def uninstall(conn: Connection) -> None:
    """Drop the triggers, the guard and the views (not the tables)."""
    dialect = _dialect(conn)
    guard_functions = ("demands_fixed_at_intake",) if dialect == "postgresql" else ()
    for sql in drop_trigger_sql(dialect) + _drop_triggers(_GUARD_NAMES[dialect], guard_functions):
        conn.exec_driver_sql(sql)
    conn.exec_driver_sql("DROP VIEW IF EXISTS report_account_keys")
    conn.exec_driver_sql("DROP VIEW IF EXISTS report_demand_keys")


# Adds the demands numbered :first and up (with their targets, notices and gags, which are
# numbered from :first_target, :first_notice and :first_gag) to the summary in a few
# set-based statements, with the summary's triggers dropped. Their marks are new; their
# account pairs may exist already (an account named in an older demand).
ABSORB_SQL = [
    # EXCEPT sorts both sides once: faster here than a probe per new pair (measured).
    """CREATE TEMP TABLE report_new_pairs AS
    SELECT k.period, k.dimension, k.member, t.identifier
    FROM demand_targets t JOIN report_account_keys k ON k.demand_id = t.demand_id
    WHERE t.id >= :first_target AND k.demand_id >= :first
    EXCEPT
    SELECT period, dimension, member, identifier FROM report_accounts""",
    # In key order: appended to the table's B-tree rather than scattered through it.
    """INSERT INTO report_accounts (period, dimension, member, identifier)
    SELECT period, dimension, member, identifier FROM report_new_pairs ORDER BY 1, 2, 3, 4""",
    """INSERT INTO report_account_counts (period, dimension, member, n)
    SELECT period, dimension, member, count(*) FROM report_new_pairs WHERE true GROUP BY period, dimension, member
    ON CONFLICT (period, dimension, member) DO UPDATE SET n = report_account_counts.n + excluded.n""",
    "DROP TABLE report_new_pairs",
    f"""INSERT INTO report_marks {_MARK_COLUMNS}
    SELECT {_MARK_FROM_KEYS.format(kind='notified')}, n.first
    FROM (SELECT demand_id, min(sent_at) AS first FROM notices
          WHERE id >= :first_notice AND demand_id >= :first AND sent_at IS NOT NULL GROUP BY demand_id) n
    JOIN report_demand_keys k ON k.demand_id = n.demand_id""",  # nosec B608 - names are module constants, values are bound
    f"""INSERT INTO report_marks {_MARK_COLUMNS}
    SELECT {_MARK_FROM_KEYS.format(kind='gag_held')}, NULL
    FROM (SELECT DISTINCT demand_id FROM notices WHERE id >= :first_notice AND demand_id >= :first AND gag_held) n
    JOIN report_demand_keys k ON k.demand_id = n.demand_id""",  # nosec B608 - names are module constants, values are bound
    f"""INSERT INTO report_marks {_MARK_COLUMNS}
    SELECT {_MARK_FROM_KEYS.format(kind='gag')}, NULL
    FROM (SELECT DISTINCT demand_id FROM gags WHERE id >= :first_gag AND demand_id >= :first) g
    JOIN report_demand_keys k ON k.demand_id = g.demand_id""",  # nosec B608 - names are module constants, values are bound
    f"""INSERT INTO report_mark_counts (period, kind, n)
    SELECT period, kind, count(*) FROM report_marks m
    WHERE m.demand_id >= :first AND {_COUNTED.format(t='m')} GROUP BY period, kind
    ON CONFLICT (period, kind) DO UPDATE SET n = report_mark_counts.n + excluded.n""",  # nosec B608 - names are module constants, values are bound
]


def rebuild(conn: Connection) -> None:
    """Recompute the summary tables from demands, targets, notices and gags, in the
    caller's transaction (its triggers are dropped meanwhile and created again)."""
    dialect = _dialect(conn)
    for sql in drop_trigger_sql(dialect):
        conn.exec_driver_sql(sql)
    for table in ("report_account_counts", "report_accounts", "report_mark_counts", "report_marks"):
        conn.exec_driver_sql(f"DELETE FROM {table}")  # nosec B608 - table from the fixed tuple above
    for sql in ABSORB_SQL:
        conn.execute(text(sql), {"first": 0, "first_target": 0, "first_notice": 0, "first_gag": 0})
    for ddl in trigger_ddl(dialect):
        conn.exec_driver_sql(ddl)


def snapshot(conn: Connection) -> dict[str, list[tuple]]:
    """The summary tables' rows, sorted (for comparing what the triggers kept with ``rebuild``)."""
    return {
        "report_accounts": sorted(tuple(r) for r in conn.execute(text(
            "SELECT period, dimension, member, identifier FROM report_accounts"))),
        "report_account_counts": sorted(tuple(r) for r in conn.execute(text(
            "SELECT period, dimension, member, n FROM report_account_counts"))),
        "report_marks": sorted(tuple(r) for r in conn.execute(text(
            "SELECT demand_id, kind, period, main, enterprise, at FROM report_marks"))),
        "report_mark_counts": sorted(tuple(r) for r in conn.execute(text(
            "SELECT period, kind, n FROM report_mark_counts"))),
    }
