"""Statements built once and run as built (``CompiledOnce``, ``planned``), and the plain
path that runs a SELECT on the driver's own cursor (``Plain``)."""
from __future__ import annotations

import re
from collections import namedtuple
from typing import Any, Callable

from sqlalchemy.exc import MultipleResultsFound, NoResultFound


class _OneStatementCache(dict):
    """The compiled form of one statement, by dialect (``CompiledOnce``). SQLAlchemy's
    cache is keyed by the statement's whole cache key, a tuple that is hashed again on
    every execution; for a large statement (the API's UNION of a demand's children, the
    list's page details) that hash walked thousands of objects, 80–130 µs a statement
    in a request's cold CPU caches. One statement's key never changes, so this cache
    keeps only what can: the dialect, the parameters' names and the executemany flags."""

    __slots__ = ()

    @staticmethod
    def _short(key: tuple) -> tuple:
        dialect, _statement_key, *rest = key
        return (dialect, *rest)

    def get(self, key, default=None):  # type: ignore[override]
        return dict.get(self, self._short(key), default)

    def __setitem__(self, key, value) -> None:
        if len(self) >= 8:  # one engine per process keeps one or two; a test run makes many
            self.clear()
        dict.__setitem__(self, self._short(key), value)


class CompiledOnce:
    """A statement built once and always executed as built: ``run(connection, params)``.

    A SELECT runs on the driver's cursor (``Plain``), its rows named tuples; any other
    statement through SQLAlchemy's execution, with a compiled cache of its own
    (``_OneStatementCache``)."""

    __slots__ = ("statement", "_options", "_plain")

    def __init__(self, statement) -> None:
        self.statement = statement
        self._options = {"compiled_cache": _OneStatementCache()}
        self._plain: dict[Any, Plain | None] = {}

    def run(self, connection, params: dict):
        dialect = connection.dialect
        try:
            plain = self._plain[dialect]
        except KeyError:
            plain = self._plain[dialect] = Plain.of(self.statement, dialect)
        if plain is None:
            return connection.execute(self.statement, params, execution_options=self._options)
        return plain.run(connection, params)


class Rows(list):
    """A plain statement's rows, read with the calls the desk makes of a SQLAlchemy result."""

    __slots__ = ()

    def all(self) -> list:
        return list(self)

    def first(self):
        return self[0] if self else None

    def one(self):
        if len(self) != 1:
            raise NoResultFound("no row") if not self else MultipleResultsFound("more than one row")
        return self[0]

    def scalar(self):
        return self[0][0] if self else None


class Plain:
    """A SELECT compiled once for a database and run on the driver's own cursor.

    SQLAlchemy's execution of a compiled statement costs 0.10-0.15 ms of CPU a statement
    over the driver's (an execution context, the result's metadata from the cursor's
    description, which psycopg builds anew as an object per column, a fetch per row): a
    sixth of the API's GET and of the case page's statements. This does what that path does
    for a SELECT, with the same compiled SQL (an expanding IN or a written-in value finished
    on each run by SQLAlchemy's own code), the same bind and result processors (the column
    types' own: UTC datetimes, SQLite's dates and booleans), and the engine's cursor
    events (what counts statements sees these too)."""

    __slots__ = ("sql", "compiled", "binds", "escaped", "positions", "expands", "row", "processors", "native",
                 "order", "raw_cursor")

    def __init__(self, compiled) -> None:
        self.compiled = compiled
        self.sql = compiled.string
        self.binds = compiled._bind_processors
        self.escaped = compiled.escaped_bind_names or None
        self.positions = compiled.positiontup if compiled.positional else None
        # An expanding IN (SQLite's ``among``) or a value written into the text (the
        # search's prefix): the text is finished on each run, as SQLAlchemy does it.
        self.expands = bool(compiled.literal_execute_params or compiled.post_compile_params)
        self.row = namedtuple("Row", [column.keyname for column in compiled._result_columns],  # type: ignore[misc]
                              rename=True)
        self.processors: list[tuple[int, Callable]] | None = None  # on the first run: they may need its types
        # psycopg turns ``%(name)s`` into PostgreSQL's ``$1`` on each execution, and keeps
        # the result only for a statement under 4,096 bytes and 50 parameters: the case
        # page's read (8 KB) was parsed anew on every request (0.3 ms). Turned once here,
        # it runs on psycopg's RawCursor (PostgreSQL's own placeholders, nothing parsed).
        self.native = self.order = self.raw_cursor = None
        if compiled.dialect.driver == "psycopg" and not self.expands:
            from psycopg import RawCursor

            self.native, self.order = _native_placeholders(self.sql)
            self.raw_cursor = RawCursor

    @classmethod
    def of(cls, statement, dialect) -> Plain | None:
        if not getattr(statement, "is_select", False):
            return None
        compiled = statement.compile(dialect=dialect)
        return cls(compiled) if compiled._result_columns else None

    def run(self, connection, params: dict) -> Rows:
        values = self.compiled.construct_params(params, escape_names=False)
        sql, positions, binds = self.sql, self.positions, self.binds
        if self.expands:
            finished = self.compiled._process_parameters_for_postcompile(values)  # ``values`` too
            sql, positions, binds = finished.statement, finished.positiontup, {**binds, **finished.processors}
        for name, process in binds.items():
            if name in values:  # not an expanded or written-in one
                values[name] = process(values[name])
        if positions is not None:
            parameters: Any = [values[name] for name in positions]
        elif self.escaped:
            parameters = {self.escaped.get(name, name): value for name, value in values.items()}
        else:
            parameters = values
        if not connection.in_transaction():
            connection.begin()  # as SQLAlchemy's execution begins one (its "autobegin")
        events = connection._has_events or connection.engine._has_events
        driver = connection.connection.driver_connection
        cursor = driver.cursor() if self.native is None else self.raw_cursor(driver)
        if events:
            for before in connection.dispatch.before_cursor_execute:
                before(connection, cursor, sql, parameters, None, False)
        try:
            if self.native is None:
                cursor.execute(sql, parameters)
            else:
                cursor.execute(self.native, [parameters[name] for name in self.order])
            found = cursor.fetchall()
            if self.processors is None:
                self.processors = self._processors(connection.dialect, cursor.description)
        except Exception as error:
            connection._handle_dbapi_exception(error, sql, parameters, cursor, None)
            raise  # pragma: no cover - the line above raises SQLAlchemy's wrapping of it
        finally:
            cursor.close()
        if events:
            for after in connection.dispatch.after_cursor_execute:
                after(connection, cursor, sql, parameters, None, False)
        make, processors = self.row._make, self.processors
        if not processors:
            return Rows(map(make, found))
        rows = Rows()
        for raw in found:
            raw = list(raw)
            for i, process in processors:
                raw[i] = process(raw[i])
            rows.append(make(raw))
        return rows

    def _processors(self, dialect, description) -> list[tuple[int, Callable]]:
        """Each column's result processor (by its type and the driver's type code)."""
        found = []
        for i, (column, described) in enumerate(zip(self.compiled._result_columns, description)):
            process = column.type._cached_result_processor(dialect, described[1])
            if process is not None:
                found.append((i, process))
        return found


_PYFORMAT = re.compile(r"%%|%\(([^)]+)\)s")


def _native_placeholders(sql: str) -> tuple[bytes, list[str]]:
    """``sql`` with SQLAlchemy's ``%(name)s`` placeholders (and ``%%`` for a percent
    sign) written as PostgreSQL's ``$1``, ``$2`` …, one number per name; and the names in
    that order."""
    order: list[str] = []

    def number(match: re.Match) -> str:
        name = match.group(1)
        if name is None:
            return "%"
        if name not in order:
            order.append(name)
        return f"${order.index(name) + 1}"

    return _PYFORMAT.sub(number, sql).encode(), order


# Statements built once per key and run as built (``planned``): a list's statements for
# each shape of its filters (services/keyset.py). A list's count and page built anew for
# each request, then keyed and looked up in SQLAlchemy's cache, cost about 1 ms of the
# case list's 4 (against 0.4 ms run as built). Bounded: a shape is a combination of
# filters, compartments, sort, direction, page size and the search's plan.
_PLANS: dict[tuple, CompiledOnce] = {}
PLANS_KEPT = 256


def planned(key: tuple, make: Callable[[], Any]) -> CompiledOnce:
    """The statement ``make()`` builds for ``key``, built the first time it is asked for.
    Every value that differs between requests of one key must be a named parameter."""
    found = _PLANS.get(key)
    if found is None:
        if len(_PLANS) >= PLANS_KEPT:
            _PLANS.clear()
        found = _PLANS[key] = CompiledOnce(make())
    return found
