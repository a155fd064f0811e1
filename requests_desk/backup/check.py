"""A backup file checked before anything is written: every member's SHA-256, size and
rows against the manifest, the manifest against its signature, the key, the schema and
the tables against the desk that is to receive it."""
from __future__ import annotations

import gzip
import json
import tarfile
import zlib
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from sqlalchemy import literal, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from ..db import Base
from ..models import AuditHead
from .archive import (
    FILES,
    FORMAT,
    INDEX,
    MANIFEST,
    MAX_MANIFEST,
    SEEDED,
    SIGNATURE,
    TABLES,
    VERSION,
    BackupError,
    HashingReader,
    key_fingerprint,
    signature_ok,
)
from .files import ListedFiles, entries

# What reading a damaged or truncated archive raises (tarfile, gzip, zlib, the file).
DAMAGE = (tarfile.TarError, EOFError, OSError, zlib.error, gzip.BadGzipFile, UnicodeDecodeError)
GZIP_MAGIC = b"\x1f\x8b"


def damaged(err: BaseException) -> BackupError:
    if isinstance(err, OSError) and err.errno is not None:  # the disk, not the file (a full disk, a permission)
        return BackupError(f"reading the backup or writing its files failed ({err}); nothing was restored")
    return BackupError(f"the backup file is damaged, truncated or not a desk backup ({err or type(err).__name__}); "
                       "nothing was restored")


@contextmanager
def open_archive(path: Path, on_read: Callable[[int], None] | None = None) -> Iterator[tarfile.TarFile]:
    """The archive as a stream of members (gzip or not, told by its first bytes).
    ``on_read(n)`` hears of each n bytes read from the file."""
    raw = open(path, "rb")
    source = _Counting(raw, on_read) if on_read else raw
    try:
        compressed = raw.read(2) == GZIP_MAGIC
        raw.seek(0)
        inner = gzip.GzipFile(fileobj=source, mode="rb") if compressed else source
        with tarfile.open(fileobj=inner, mode="r|") as tar:
            yield tar
    finally:
        raw.close()


def members(tar: tarfile.TarFile) -> Iterator[tarfile.TarInfo]:
    """The archive's members in order, each forgotten once read (``TarFile`` keeps a list
    of every member it has seen: thousands of uploaded files would make it grow)."""
    while (member := tar.next()) is not None:
        tar.members.clear()
        yield member


class _Counting:
    def __init__(self, raw, on_read: Callable[[int], None]):
        self.raw, self.on_read = raw, on_read

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.on_read(len(data))
        return data


def read_members(path: Path, listed: ListedFiles, on_read: Callable[[int], None] | None = None
                 ) -> tuple[dict, bytes, bytes]:
    """Pass one: read the whole file; the list of files goes to ``listed``, which checks
    each file against it. Returns ``{member: (sha256, bytes, lines)}`` for the tables,
    the manifest's bytes and the signature."""
    seen: dict[str, tuple[str, int, int]] = {}
    manifest = signature = None
    try:
        with open_archive(path, on_read) as tar:
            for member in members(tar):
                name = member.name
                if not member.isfile():
                    raise BackupError(f"the backup file holds {name!r}, which is not a file: not a desk backup")
                if name in seen or (name == MANIFEST and manifest is not None) or \
                        (name == SIGNATURE and signature is not None) or (name == INDEX and listed.spooled):
                    raise BackupError(f"the backup file holds {name!r} twice: damaged or altered")
                fh = tar.extractfile(member)
                if name == MANIFEST:
                    if member.size > MAX_MANIFEST:
                        raise BackupError("the backup's manifest is implausibly large: damaged or not a desk backup")
                    manifest = fh.read()
                elif name == SIGNATURE:
                    signature = fh.read(256)
                elif name == INDEX:
                    listed.spool(fh)
                elif name.startswith(FILES):
                    listed.check(fh, name)
                elif name.startswith(TABLES) and name.endswith(".jsonl"):
                    reader = HashingReader(fh)
                    lines = sum(chunk.count(b"\n") for chunk in reader.chunks())
                    seen[name] = (reader.hexdigest(), reader.bytes, lines)
                else:
                    raise BackupError(f"the backup file holds {name!r}, which no desk backup has")
    except BackupError:
        raise
    except DAMAGE as err:
        raise damaged(err) from None
    if manifest is None or signature is None:
        raise BackupError("the backup file has no manifest or no signature at its end: it is truncated or "
                          "not a desk backup; nothing was restored")
    return seen, manifest, signature


def check_manifest(seen: dict, listed: ListedFiles, manifest_bytes: bytes, signature: bytes,
                   audit_key: bytes) -> dict:
    """The manifest, once it is the one that was signed under this audit key and every
    member matches it; otherwise a BackupError saying what is wrong."""
    try:
        manifest = json.loads(manifest_bytes)
    except ValueError:
        manifest = None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError("the file is not a Requests Desk backup (its manifest is not one); nothing was restored")
    if manifest.get("version") != VERSION:
        raise BackupError(f"the backup is of format version {manifest.get('version')!r}; this desk reads "
                          f"version {VERSION}")
    ours = key_fingerprint(audit_key)
    if manifest.get("audit_key_id") != ours:
        raise BackupError(f"the backup was made under another audit key (fingerprint "
                          f"{manifest.get('audit_key_id')}; this desk's key is {ours}): configure the key it was "
                          "made with, kept apart from the backups (DESK_AUDIT_KEY or <instance>/audit_key)")
    if not signature_ok(audit_key, manifest_bytes, signature):
        raise BackupError("the backup's manifest does not match its signature: the file was altered or damaged; "
                          "nothing was restored")
    for table in manifest["tables"]:
        _matches(seen, table["member"], table["sha256"], table["bytes"], table["rows"])
    files = manifest["files"]
    if listed.spooled:
        seen[INDEX] = (listed.sha256, listed.bytes, listed.lines)
    _matches(seen, INDEX, files["sha256"], files["bytes"], files["files"])
    listed.finish()  # and every file listed was there, as listed
    if seen:
        raise BackupError(f"the backup file holds {min(seen)}, which its manifest does not list: altered; "
                          "nothing was restored")
    return manifest


def _matches(seen: dict, member: str, sha: str, size: int, rows: int | None) -> None:
    """The member was read, with this SHA-256, size (and rows); forgotten once checked."""
    got = seen.pop(member, None)
    if got is None:
        raise BackupError(f"the backup file lacks {member}: it is damaged or truncated; nothing was restored")
    if got[:2] != (sha, size) or (rows is not None and got[2] != rows):
        raise BackupError(f"{member} does not match its checksum in the manifest: the file is damaged; "
                          "nothing was restored")


def check_desk(conn: Connection, manifest: dict, listed: ListedFiles, upload_dir: Path) -> None:
    """The desk can take this backup: same schema and tables, empty, no file in the way."""
    revision = desk_revision(conn)
    if manifest["schema"] != revision:
        raise BackupError(f"the backup is of schema {manifest['schema']} and this desk is at {revision}: restore "
                          "into a desk of the version that made the backup (desk init with that code)")
    ours = [(t.name, [c.name for c in t.columns]) for t in Base.metadata.sorted_tables]
    theirs = [(t["name"], t["columns"]) for t in manifest["tables"]]
    if ours != theirs:
        raise BackupError("the backup's tables and columns are not this desk's; nothing was restored")
    refuse_data(conn)
    for name, _size, _sha in entries(listed.path):
        if (upload_dir / name).exists():
            raise BackupError(f"the upload folder {upload_dir} holds {name} already: restore into a new "
                              "desk with an empty upload folder")


def desk_revision(conn: Connection) -> str:
    try:
        revision = conn.scalar(text("SELECT version_num FROM alembic_version"))
    except DBAPIError:
        revision = None
        conn.rollback()
    if not revision:
        raise BackupError("this database has no desk schema: run desk init first, then restore")
    return revision


def refuse_data(conn: Connection) -> None:
    """A restore goes into a new desk only: no row in any table but the rule tables and
    the empty audit log's head that ``desk init`` seeds (the backup's rows keep their ids,
    and those ids must be free)."""
    for table in Base.metadata.sorted_tables:
        query = select(literal(1)).select_from(table).limit(1)
        if table.name == "audit_head":
            query = query.where(AuditHead.count > 0)
        elif table.name in SEEDED:
            continue
        if conn.scalar(query):
            raise BackupError(f"this desk is not empty ({table.name} has rows): a backup is restored only into a "
                              "new desk (an empty database after desk init); nothing was restored")
