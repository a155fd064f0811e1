"""The bulk load's database side: one connection, used by the loader's writer thread
only, every call in order. SQLite loads in one transaction, with the loaded tables'
secondary indexes and the report summary's triggers dropped meanwhile and put back at the
end; PostgreSQL commits batch by batch, each commit leaving a consistent desk.

The statements come from the models: ``insert(table)`` compiled for the database (SQLite:
executemany) or the table's columns for ``COPY`` (PostgreSQL)."""
from __future__ import annotations

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from .. import report_summary, search_terms
from ..audit import GENESIS, check_head_key, key_id
from ..models import AuditHead, Document, ReferenceCounter, Requester
from ..services.intake import REQUESTER_IDENTITY
from .rows import LOADED_TABLES


class DeskWriter:
    def __init__(self, engine: Engine, audit_key: bytes):
        self.engine = engine
        self.audit_key = audit_key
        self.sqlite = engine.dialect.name == "sqlite"
        self.conn: Connection | None = None
        self.journal: str | None = None
        self.indexes: list[tuple[str, str]] = []
        self.term_indexes: list[tuple[str, str]] = []
        self.has_head = False
        preparer = engine.dialect.identifier_preparer
        self.statements = {
            t.name: str(insert(t).compile(dialect=engine.dialect)) if self.sqlite else
            f"COPY {preparer.format_table(t)} ({', '.join(preparer.quote(c.name) for c in t.columns)}) FROM STDIN"
            for t in LOADED_TABLES
        }

    # ------------------------------------------------------------ start and end

    def open(self) -> None:
        self.conn = self.engine.connect()
        self.cur = self.conn.connection.driver_connection.cursor()
        if self.sqlite:
            # A rollback journal (crash-safe) instead of WAL while loading: pages that are
            # only appended are written once, not twice. Back to WAL at the end; if another
            # process has the database open, the mode stays WAL and the load is slower.
            self.cur.execute("PRAGMA journal_mode=DELETE")
            self.journal = self.cur.fetchone()[0]
            self.cur.execute("PRAGMA synchronous=OFF")
            self.cur.execute("PRAGMA cache_size=-200000")

    def prepare(self) -> dict:
        """The desk as it is: next ids, the audit head, requesters, reference counters."""
        conn = self.conn
        if self.sqlite:
            self.cur.execute("BEGIN IMMEDIATE")
        next_id = {t.name: conn.scalar(select(func.coalesce(func.max(t.c.id), 0))) + 1 for t in LOADED_TABLES}
        head = conn.execute(select(AuditHead.last_hash, AuditHead.count, AuditHead.key_id)
                            .where(AuditHead.id == 1)).first()
        if head is not None:  # the chain goes on under the key it was made with
            check_head_key(head[2], head[1], self.audit_key)
            head = head[:2]
        self.has_head = head is not None
        if self.sqlite:
            self.indexes = self._drop_for_load()
        identity = [Requester.__table__.c[name] for name in REQUESTER_IDENTITY]
        return {
            "next_id": next_id,
            "head": tuple(head) if head is not None else (GENESIS, 0),
            "requesters": {tuple(r[1:]): r[0] for r in conn.execute(select(Requester.id, *identity))},
            "counters": dict(conn.execute(select(ReferenceCounter.year, ReferenceCounter.last_seq)).all()),
        }

    def finish(self, first_demand: int) -> None:
        if self.sqlite:
            self._restore_after_load(first_demand)
        else:
            for t in LOADED_TABLES:
                self.conn.execute(text(f"SELECT setval(pg_get_serial_sequence(:table, 'id'), MAX(id)) "
                                       f"FROM {t.name} HAVING MAX(id) IS NOT NULL"), {"table": t.name})  # nosec B608 - table names of the models
        self.conn.commit()

    def rollback(self) -> None:
        self.conn.rollback()

    def stored_names(self, names: list[str]) -> set[str]:
        """Which of these document files the desk has rows for (after a rollback)."""
        found: set[str] = set()
        for start in range(0, len(names), 500):
            found.update(self.conn.scalars(select(Document.stored_name).where(
                Document.stored_name.in_(names[start:start + 500]))))
        self.conn.rollback()
        return found

    def close(self) -> None:
        if self.journal == "delete":
            self.cur.execute("PRAGMA journal_mode=WAL")
        self.conn.close()

    # ------------------------------------------------------------ a batch

    def flush(self, batch: dict[str, list[tuple]], head: tuple[str, int], counters: dict[int, int]) -> int:
        """Write a batch of rows with the audit head and reference counters as of its last
        row; on PostgreSQL commit it."""
        cur, written = self.cur, 0
        for table, rows in batch.items():
            if not rows:
                continue
            if self.sqlite:
                cur.executemany(self.statements[table], rows)
            else:
                with cur.copy(self.statements[table]) as copy:
                    write = copy.write_row
                    for row in rows:
                        write(row)
            written += len(rows)
        last_hash, count = head
        if count:
            values = {"last_hash": last_hash, "count": count, "key_id": key_id(self.audit_key)}
            if self.has_head:
                self.conn.execute(update(AuditHead).where(AuditHead.id == 1).values(**values))
            else:
                self.conn.execute(insert(AuditHead).values(id=1, **values))
                self.has_head = True
        if counters:
            upsert = (sqlite.insert if self.sqlite else postgresql.insert)(ReferenceCounter).values(
                [{"year": year, "last_seq": last} for year, last in sorted(counters.items())])
            self.conn.execute(upsert.on_conflict_do_update(index_elements=[ReferenceCounter.year],
                                                           set_={"last_seq": upsert.excluded.last_seq}))
        if not self.sqlite:  # SQLite commits once, at the end
            self.conn.commit()
        return written

    # ------------------------------------------------------------ SQLite: indexes and triggers

    def _drop_for_load(self) -> list[tuple[str, str]]:
        """Inside the load's transaction: drop the loaded tables' secondary indexes and the
        report summary's triggers; returns the indexes' definitions."""
        names = ", ".join(f"'{t.name}'" for t in LOADED_TABLES)
        indexes = [tuple(r) for r in self.conn.execute(text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' "
            f"AND sql IS NOT NULL AND tbl_name IN ({names}) ORDER BY name"))]  # nosec B608 - names are the models' table names
        for name, _sql in indexes:
            self.cur.execute(f'DROP INDEX "{name}"')
        for sql in report_summary.drop_trigger_sql("sqlite") + search_terms.drop_trigger_sql("sqlite"):
            self.cur.execute(sql)
        # The search terms' own secondary indexes too, built again after they are absorbed:
        # one of them, (demand_id, term), took the terms in random order (0.3-0.5 s of 1.6).
        self.term_indexes = [tuple(r) for r in self.conn.execute(text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL "
            "AND tbl_name = 'demand_search_terms' ORDER BY name"))]
        for name, _sql in self.term_indexes:
            self.cur.execute(f'DROP INDEX "{name}"')
        return indexes

    def _restore_after_load(self, first_demand: int) -> None:
        """Build the indexes again (a sort each, instead of a B-tree insert per row and
        index), add the new demands to the report summary in a few set-based statements,
        put its triggers back: still inside the load's transaction. (Adding each batch as
        it is written measured slower: the writer thread then competes with the rest.)"""
        for _name, sql in self.indexes:
            self.cur.execute(sql)
        for sql in report_summary.ABSORB_SQL:
            self.conn.execute(text(sql), {"first": first_demand, "first_target": 0, "first_notice": 0,
                                          "first_gag": 0})
        for ddl in report_summary.trigger_ddl("sqlite"):
            self.cur.execute(ddl)
        search_terms.absorb(self.conn, first_demand)  # the case list's search index, in one statement
        for _name, sql in self.term_indexes:
            self.cur.execute(sql)
        search_terms.install(self.conn)
