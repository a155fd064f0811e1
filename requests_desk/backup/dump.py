"""``desk backup``: every table's rows and the uploaded files, from one consistent
snapshot, streamed into one file.

The snapshot is one read transaction: on SQLite an explicit ``BEGIN`` on one connection
(in WAL mode the desk's writers go on; the reader sees the database as it was at its
first read), on PostgreSQL one ``REPEATABLE READ, READ ONLY`` transaction. Rows are read
in batches (a server-side cursor on PostgreSQL) and written as they come: each table goes
to a temporary file first (a tar member's size comes before its bytes), then into the
archive, so memory stays flat however large the desk. The archive is written beside
its final name and renamed into place at the end: an interrupted backup leaves no file
that looks whole.
"""
from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import tarfile
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

from sqlalchemy import String, func, select, text
from sqlalchemy.engine import Connection, Engine

from ..audit import AuditKeyMismatch, check_head_key
from ..db import Base, iso, utcnow
from ..models import AuditHead
from ..private_files import create_private
from .archive import (
    FORMAT,
    INDEX,
    MANIFEST,
    SIGNATURE,
    VERSION,
    BackupError,
    HashingWriter,
    add_member,
    encode_row,
    key_fingerprint,
    sign,
    table_member,
)
from .files import add_files, spool_names, write_index

BATCH = 5000
Progress = Callable[[int], None]


@dataclass
class BackupResult:
    path: Path
    rows: int = 0
    tables: int = 0
    files: int = 0
    bytes: int = 0
    sha256: str = ""
    seconds: float = 0.0
    missing_files: list[str] = field(default_factory=list)


@contextmanager
def snapshot(engine: Engine) -> Iterator[Connection]:
    """One connection reading one consistent state of the desk."""
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("BEGIN")  # a read transaction: one WAL snapshot from its first read
            try:
                yield conn
            finally:
                conn.rollback()
        return
    with engine.connect().execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True) as conn:
        with conn.begin():
            yield conn


def schema_revision(conn: Connection) -> str:
    revision = conn.scalar(text("SELECT version_num FROM alembic_version"))
    if not revision:
        raise BackupError("the database has no schema revision: run desk init first")
    return revision


def write_backup(engine: Engine, upload_dir: str | os.PathLike, path: str | os.PathLike, audit_key: bytes, *,
                 on_start: Progress | None = None, on_progress: Progress | None = None,
                 on_missing: Callable[[str], None] | None = None) -> BackupResult:
    """Write the backup file ``path`` (refusing one that exists); see the module's doc.
    ``on_start(total)`` gets the rows and files to write, ``on_progress(n)`` each batch."""
    path, upload_dir = Path(path), Path(upload_dir)
    if path.exists():
        raise BackupError(f"{path} exists already: a backup never overwrites a file")
    if not path.parent.is_dir():
        raise BackupError(f"{path.parent} is not a folder")
    started = time.perf_counter()
    result = BackupResult(path)
    work = Path(tempfile.mkdtemp(prefix=".desk-backup-", dir=path.parent))  # 0700; same disk as path
    try:
        partial = work / "backup.partial"
        with create_private(partial) as raw:
            out = HashingWriter(raw)
            compressed = gzip.GzipFile(filename="", mode="wb", fileobj=out, compresslevel=6, mtime=0) \
                if path.name.endswith((".gz", ".tgz")) else None
            with tarfile.open(fileobj=compressed or out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
                manifest = _write_members(engine, tar, work, upload_dir, audit_key, result,
                                          on_start, on_progress, on_missing)
                _add_bytes(tar, MANIFEST, manifest)
                _add_bytes(tar, SIGNATURE, sign(audit_key, manifest))
            if compressed is not None:
                compressed.close()
            raw.flush()
            os.fsync(raw.fileno())
        result.bytes, result.sha256 = out.bytes, out.hexdigest()
        os.replace(partial, path)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    result.seconds = time.perf_counter() - started
    return result


def _write_members(engine: Engine, tar: tarfile.TarFile, work: Path, upload_dir: Path, audit_key: bytes,
                   result: BackupResult, on_start, on_progress, on_missing) -> bytes:
    tables = Base.metadata.sorted_tables
    names = work / "names"
    with snapshot(engine) as conn:
        created = utcnow()
        revision = schema_revision(conn)
        head = conn.execute(select(AuditHead.count, AuditHead.last_hash, AuditHead.key_id)
                            .where(AuditHead.id == 1)).first()
        if head is not None:
            try:
                check_head_key(head.key_id, head.count, audit_key)
            except AuditKeyMismatch as err:
                raise BackupError(f"{err.detail}; a backup signed with this key could not be restored "
                                  "with the log's own key") from None
        counts = {t.name: conn.scalar(select(func.count()).select_from(t)) for t in tables}
        files = spool_names(conn, names)
        if on_start:
            on_start(sum(counts.values()) + 2 * files)  # each file is read twice: hashed, then added
        described = []
        for table in tables:
            described.append(_dump_table(conn, tar, work, table, created, on_progress))
            result.rows += described[-1]["rows"]
        result.tables = len(tables)

    def missing(name: str) -> None:
        result.missing_files.append(name)
        if on_missing:
            on_missing(name)
        if on_progress:
            on_progress(1)  # it will not be added

    index = write_index(names, upload_dir, work / INDEX, missing, on_progress)
    add_files(tar, work / INDEX, upload_dir, created, on_progress)
    result.files = index["files"]
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "schema": revision,
        "created_at": iso(created),
        "database": engine.dialect.name,
        "audit_key_id": key_fingerprint(audit_key),
        "audit_head": None if head is None else {"count": head.count, "last_hash": head.last_hash,
                                                 "key_id": head.key_id},
        "tables": described,
        "files": index,
        "missing_files": result.missing_files,
    }
    return json.dumps(manifest, indent=1).encode()


def _dump_table(conn: Connection, tar: tarfile.TarFile, work: Path, table, created, on_progress) -> dict:
    """Write one table's rows to a temporary file, then as one member of the archive."""
    spool = work / f"{table.name}.jsonl"
    rows = 0
    stmt = select(table).order_by(*_key_order(conn, table)).execution_options(yield_per=BATCH)
    with create_private(spool) as raw:
        out = HashingWriter(raw)
        result = conn.execute(stmt)
        for batch in result.partitions():
            out.write(b"".join(encode_row(row) for row in batch))
            rows += len(batch)
            if on_progress:
                on_progress(len(batch))
    with open(spool, "rb") as fh:
        add_member(tar, table_member(table), out.bytes, fh, created)
    spool.unlink()
    return {"name": table.name, "member": table_member(table), "columns": [c.name for c in table.columns],
            "rows": rows, "bytes": out.bytes, "sha256": out.hexdigest()}


def _key_order(conn: Connection, table) -> list:
    """The primary key, text compared byte by byte on PostgreSQL as on SQLite: a table's
    member is the same whichever database it comes from."""
    if conn.dialect.name != "postgresql":
        return list(table.primary_key.columns)
    return [c.collate("C") if isinstance(c.type, String) else c for c in table.primary_key.columns]


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    add_member(tar, name, len(data), io.BytesIO(data), utcnow())
