"""``desk restore``: a checked backup into a new desk, in one transaction.

Pass one (``check``) reads the whole file and checks every checksum, the manifest's
signature, the schema and that the desk is empty; nothing is written before it passes.
Pass two reads the file again and, in one transaction, replaces the rows ``desk init``
seeds (the rule tables, the empty audit log's head) with the backup's and inserts every table's rows in dependency order (SQLite:
executemany in batches; PostgreSQL: ``COPY``), hashing each member again on the way
(a file changed between the passes rolls everything back). The report summary's tables
are restored as they were, with their triggers dropped meanwhile (firing them on top
would count every target twice) and created again before the commit. PostgreSQL's
sequences are moved past the restored ids. Uploaded files are written 0600 into a
staging folder inside the upload folder and moved into place after the commit; if
anything fails they are removed and the transaction rolled back.
"""
from __future__ import annotations

import binascii
import os
import secrets
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from sqlalchemy import Integer, delete, insert, text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, StatementError

from .. import report_summary, search_terms
from ..db import Base
from ..private_files import private_dir
from .archive import FILES, INDEX, MANIFEST, SEEDED, SIGNATURE, BackupError, HashingReader, row_decoder
from .check import DAMAGE, check_desk, check_manifest, damaged, desk_revision, members, open_archive, \
    read_members, refuse_data
from .files import ListedFiles, entries

BATCH = 5000
Phase = Callable[[str, int], None]
Progress = Callable[[int], None]


@dataclass
class RestoreResult:
    manifest: dict
    rows: int = 0
    tables: int = 0
    files: int = 0
    seconds: float = 0.0
    missing_files: list[str] = field(default_factory=list)


def restore_backup(engine: Engine, upload_dir: str | os.PathLike, path: str | os.PathLike, audit_key: bytes, *,
                   on_phase: Phase | None = None, on_progress: Progress | None = None) -> RestoreResult:
    """Restore the backup file ``path`` into this (empty) desk; see the module's doc.
    ``on_phase(label, total)`` starts a phase (checking: bytes; restoring: rows and
    files), ``on_progress(n)`` advances it."""
    path, upload_dir = Path(path), Path(upload_dir)
    started = time.perf_counter()
    if not path.is_file():
        raise BackupError(f"{path} is not a file")
    with engine.connect() as conn:  # the cheap refusals first
        desk_revision(conn)
        refuse_data(conn)
    with tempfile.TemporaryDirectory(prefix="desk-restore-") as work:
        if on_phase:
            on_phase("Checking the backup", path.stat().st_size)
        checked = ListedFiles(Path(work) / "checked")
        seen, manifest_bytes, signature = read_members(path, checked, on_progress)
        manifest = check_manifest(seen, checked, manifest_bytes, signature, audit_key)
        with engine.connect() as conn:
            check_desk(conn, manifest, checked, upload_dir)
        if on_phase:
            on_phase("Restoring", sum(t["rows"] for t in manifest["tables"]) + manifest["files"]["files"])
        result = RestoreResult(manifest, tables=len(manifest["tables"]),
                               missing_files=list(manifest.get("missing_files", [])))
        staging = private_dir(upload_dir) / f".restore-{secrets.token_hex(8)}"
        private_dir(staging)
        listed = ListedFiles(Path(work) / "loaded")
        try:
            _load(engine, path, manifest, listed, staging, result, on_progress)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        for name, _size, _sha in entries(listed.path):
            os.replace(staging / name, upload_dir / name)
        staging.rmdir()
    with engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE")  # fresh statistics for the query planner
    result.seconds = time.perf_counter() - started
    return result


def _load(engine: Engine, path: Path, manifest: dict, listed: ListedFiles, staging: Path, result: RestoreResult,
          on_progress: Progress | None) -> None:
    dialect = engine.dialect.name
    tables = {t.name: t for t in Base.metadata.sorted_tables}
    with engine.connect() as conn:
        if dialect == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock now, and DDL inside the transaction
        try:
            refuse_data(conn)  # again, inside the transaction
            for sql in report_summary.drop_trigger_sql(dialect) + search_terms.drop_trigger_sql(dialect):
                conn.exec_driver_sql(sql)
            for name in reversed(SEEDED):  # desk init's rows, replaced by the backup's
                conn.execute(delete(tables[name]))
            expected_tables = iter(manifest["tables"])
            try:
                with open_archive(path) as tar:
                    for member in members(tar):
                        name = member.name
                        if name in (MANIFEST, SIGNATURE):
                            continue
                        fh = tar.extractfile(member)
                        if name == INDEX:
                            listed.spool(fh)
                            if (listed.sha256, listed.bytes) != (manifest["files"]["sha256"],
                                                                 manifest["files"]["bytes"]):
                                raise _changed(INDEX)
                        elif name.startswith(FILES):
                            try:
                                listed.check(fh, name, write_to=staging / name[len(FILES):])
                            except BackupError:
                                raise _changed(name) from None
                            result.files += 1
                            if on_progress:
                                on_progress(1)
                        else:
                            entry = next(expected_tables, None)
                            _expect(name, entry and entry["member"])
                            result.rows += _load_table(conn, tables[entry["name"]], fh, entry, on_progress)
            except DAMAGE as err:
                raise damaged(err) from None
            listed.finish()
            if next(expected_tables, None) is not None or not listed.spooled:
                raise BackupError("the backup file changed while it was restored (members are missing); "
                                  "nothing was restored")
            for ddl in report_summary.trigger_ddl(dialect):
                conn.exec_driver_sql(ddl)
            # The search index made again from what was restored (a backup from before it
            # existed has none), then its triggers.
            search_terms.rebuild(conn)
            search_terms.install(conn)
            if dialect == "postgresql":
                _advance_sequences(conn)
            conn.commit()
        except BaseException:
            conn.rollback()
            raise


def _expect(name: str, expected: str | None) -> None:
    if name != expected:
        raise BackupError(f"the backup file changed while it was restored ({name} is not the member expected); "
                          "nothing was restored")


def _changed(member: str) -> BackupError:
    return BackupError(f"{member} changed since it was checked; nothing was restored")


def _load_table(conn: Connection, table, fh, entry: dict, on_progress: Progress | None) -> int:
    """Insert one member's rows; returns how many."""
    decode = row_decoder(table)
    reader = HashingReader(fh)
    names = [c.name for c in table.columns]
    sqlite = conn.dialect.name == "sqlite"
    copy_sql = None if sqlite else _copy_sql(conn, table)
    rows = 0
    batch: list = []

    def flush() -> None:
        if not batch:
            return
        try:
            if sqlite:
                conn.execute(insert(table), [dict(zip(names, values)) for values in batch])
            else:
                with conn.connection.driver_connection.cursor() as cur, cur.copy(copy_sql) as copy:
                    for values in batch:
                        copy.write_row(values)
        except (DBAPIError, StatementError) as err:
            raise BackupError(f"the database refused a row of {table.name}: {str(err.orig).splitlines()[0]}; "
                              "nothing was restored") from None
        if on_progress:
            on_progress(len(batch))
        batch.clear()

    for line in reader.lines():
        try:
            batch.append(decode(line))
        except (ValueError, TypeError, binascii.Error) as err:
            raise BackupError(f"row {rows + len(batch) + 1} of {table.name} cannot be read ({err}); "
                              "nothing was restored") from None
        if len(batch) >= BATCH:
            rows += len(batch)
            flush()
    rows += len(batch)
    flush()
    if (reader.hexdigest(), reader.bytes, rows) != (entry["sha256"], entry["bytes"], entry["rows"]):
        raise _changed(entry["member"])
    return rows


def _copy_sql(conn: Connection, table) -> str:
    quote = conn.dialect.identifier_preparer
    return f"COPY {quote.format_table(table)} ({', '.join(quote.quote(c.name) for c in table.columns)}) FROM STDIN"


def _advance_sequences(conn: Connection) -> None:
    """Each serial id's sequence past the restored rows: new rows get fresh ids."""
    for table in Base.metadata.sorted_tables:
        pk = list(table.primary_key.columns)
        if len(pk) != 1 or not isinstance(pk[0].type, Integer) or pk[0].autoincrement is False:
            continue
        sequence = conn.scalar(text("SELECT pg_get_serial_sequence(:table, :column)"),
                               {"table": table.name, "column": pk[0].name})
        if sequence:
            conn.execute(text(f"SELECT setval(:sequence, coalesce((SELECT max({pk[0].name}) FROM {table.name}), 0) "
                              "+ 1, false)"), {"sequence": sequence})  # nosec B608 - names of the models' tables
