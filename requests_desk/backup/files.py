"""The uploaded files in a backup, one at a time however many there are.

Backing up: the snapshot's stored names are spooled to a temporary file; each file is
hashed into the list (``files.jsonl``), which goes into the archive ahead of the files;
then each file is added, hashed again on the way (a file changed meanwhile stops the
backup). Restoring: the list is spooled to a temporary file as it is read, and each file
member that follows is checked against its line.
"""
from __future__ import annotations

import hashlib
import json
import os
import tarfile
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

from sqlalchemy import String, literal_column, select, union
from sqlalchemy.engine import Connection

from ..models import Document, ProductionFile
from ..private_files import create_private
from .archive import FILES, INDEX, STORED_NAME, BackupError, HashingReader, HashingWriter, add_member, \
    file_member

Progress = Callable[[int], None]


def index_line(name: str, size: int, sha: str) -> bytes:
    return (json.dumps([name, size, sha], separators=(",", ":")) + "\n").encode("ascii")


def parse_line(line: bytes) -> tuple[str, int, str]:
    """One line of the list: a stored name the desk could have made, a size, a SHA-256."""
    try:
        name, size, sha = json.loads(line)
        if isinstance(name, str) and STORED_NAME.fullmatch(name) and isinstance(size, int) and size >= 0 \
                and isinstance(sha, str) and len(sha) == 64:
            return name, size, sha
    except ValueError:
        pass
    raise BackupError(f"the backup's list of files ({INDEX}) is damaged; nothing was restored")


def entries(path: Path) -> Iterator[tuple[str, int, str]]:
    """The spooled list, line by line."""
    with open(path, "rb") as fh:
        for line in fh:
            yield parse_line(line)


# ---------------------------------------------------------------- backing up


def spool_names(conn: Connection, path: Path) -> int:
    """Write the stored names the snapshot's documents and production files point to,
    each once, sorted, one a line; returns how many."""
    columns = (Document.__table__.c.stored_name, ProductionFile.__table__.c.stored_name)
    query = union(*(select(c.label("name")).where(c.is_not(None)) for c in columns))
    name = literal_column("name", String)
    if conn.dialect.name == "postgresql":
        name = name.collate("C")
    query = select(query.subquery().c.name).order_by(name).execution_options(yield_per=5000)
    count = 0
    with create_private(path) as out:
        for stored in conn.scalars(query):
            if not STORED_NAME.fullmatch(stored):
                raise BackupError(f"stored file name {stored!r} is not one the desk makes; no backup written")
            out.write(stored.encode() + b"\n")
            count += 1
    return count


def write_index(names: Path, upload_dir: Path, index: Path, on_missing: Callable[[str], None],
                on_progress: Progress | None) -> dict:
    """Hash each named file into the list; a file the folder lacks goes to ``on_missing``.
    Returns the list's files, bytes and SHA-256."""
    count = 0
    with open(names, "rb") as fh, create_private(index) as raw:
        out = HashingWriter(raw)
        for line in fh:
            name = line.decode().strip()
            try:
                with open(upload_dir / name, "rb") as source:
                    reader = HashingReader(source)
                    for _chunk in reader.chunks():
                        pass
            except FileNotFoundError:
                on_missing(name)
            else:
                out.write(index_line(name, reader.bytes, reader.hexdigest()))
                count += 1
            if on_progress:
                on_progress(1)
    return {"member": INDEX, "files": count, "bytes": out.bytes, "sha256": out.hexdigest()}


def add_files(tar: tarfile.TarFile, index: Path, upload_dir: Path, when: datetime,
              on_progress: Progress | None) -> None:
    """The list, then each file as listed: a file that changed since it was hashed stops
    the backup (the backup would not restore)."""
    with open(index, "rb") as fh:
        add_member(tar, INDEX, os.fstat(fh.fileno()).st_size, fh, when)
    for name, size, sha in entries(index):
        try:
            source = open(upload_dir / name, "rb")
        except FileNotFoundError:
            raise BackupError(f"file {name} was deleted while it was backed up (a purge at the same time?); "
                              "no backup written: run it again") from None
        with source:
            reader = _Hashing(source)
            add_member(tar, file_member(name), size, reader, when)
        if reader.digest.hexdigest() != sha or reader.bytes != size:
            raise BackupError(f"file {name} changed while it was backed up; no backup written")
        if on_progress:
            on_progress(1)


class _Hashing:
    """A file read through by the archive, its SHA-256 kept on the way."""

    def __init__(self, fh: BinaryIO):
        self.fh, self.digest, self.bytes = fh, hashlib.sha256(), 0

    def read(self, size: int = -1) -> bytes:
        data = self.fh.read(size)
        self.digest.update(data)
        self.bytes += len(data)
        return data


# ---------------------------------------------------------------- restoring


class ListedFiles:
    """The list of files as it is read from the archive (spooled to ``path``), and the
    file members after it, each checked against its line."""

    def __init__(self, path: Path):
        self.path = path
        self.sha256, self.bytes, self.lines = "", 0, 0
        self.spooled = False
        self._lines: Iterator[tuple[str, int, str]] | None = None
        self.checked = 0

    def spool(self, fh: BinaryIO) -> None:
        reader = HashingReader(fh)
        with create_private(self.path, replace=True) as out:
            for chunk in reader.chunks():
                out.write(chunk)
                self.lines += chunk.count(b"\n")
        self.sha256, self.bytes = reader.hexdigest(), reader.bytes
        self.spooled = True
        self._lines = entries(self.path)

    def next_file(self, member: str) -> tuple[str, int, str]:
        """The line of the file member ``member``, which must be the next one listed."""
        line = next(self._lines, None) if self._lines is not None else None
        if line is None or file_member(line[0]) != member:
            raise BackupError(f"the backup file holds {member} where its list of files does not: damaged or "
                              "altered; nothing was restored")
        self.checked += 1
        return line

    def check(self, fh: BinaryIO, member: str, write_to: Path | None = None) -> None:
        """Read the file member through (into ``write_to``, 0600, when given) and check it
        against its line."""
        name, size, sha = self.next_file(member)
        reader = HashingReader(fh)
        out = create_private(write_to) if write_to is not None else None
        try:
            for chunk in reader.chunks():
                if out is not None:
                    out.write(chunk)
        finally:
            if out is not None:
                out.close()
        if (reader.hexdigest(), reader.bytes) != (sha, size):
            raise BackupError(f"{FILES}{name} does not match its checksum in the backup's list of files: the "
                              "file is damaged or changed; nothing was restored")

    def finish(self) -> None:
        """Every listed file was there."""
        missing = next(self._lines, None) if self._lines is not None else None
        if missing is not None:
            raise BackupError(f"the backup file lacks {file_member(missing[0])}: it is damaged or truncated; "
                              "nothing was restored")

