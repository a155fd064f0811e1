"""The backup file's format: its members, the manifest and its signature, and how a
row's values are written database-neutrally and read back.

A backup is a POSIX tar (gzip-compressed when its name ends in ``.gz`` or ``.tgz``) of:

``tables/<table>.jsonl``  one member per table of the models, in ``Base.metadata.sorted_tables``
                          order (parents before children); one JSON list per row, its values in
                          the manifest's column order, rows in primary-key order;
``files.jsonl``           the uploaded files' list: one ``[stored_name, bytes, sha256]`` per file,
                          in the order of their members, ahead of them;
``files/<stored_name>``   each uploaded document and kept production file, byte for byte;
``manifest.json``         what the file holds (below), written after the members it describes;
``manifest.sig``          HMAC-SHA256 of ``manifest.json`` under a key derived from the audit key.

The manifest gives the format and its version, the schema (the Alembic revision of the
desk it was taken from), when and from which kind of database, the audit key's
fingerprint and the audit log's head, for each table its columns, rows, bytes and
SHA-256, for the files' list its files, bytes and SHA-256, and the files the rows name
but the upload folder did not have. The SHA-256s find damage (each file is checked
against the list, the list against the manifest); the signature finds a manifest altered
to fit altered members (whoever rewrites the file needs the audit key to sign it again).
Neither side holds more than a batch of rows or one line of the list at a time, so
memory does not grow with the desk (beyond the names of missing files).

Values: ``null``, booleans, integers and strings as JSON; times as ISO 8601 in UTC with
microseconds and ``Z``; dates as ISO dates; bytes as base64.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import tarfile
from datetime import date, datetime, timezone
from typing import Any, BinaryIO, Callable

from sqlalchemy import Table
from sqlalchemy.types import TypeDecorator

from ..audit import key_id
from ..errors import DeskError

FORMAT = "requests-desk-backup"
VERSION = 1
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
TABLES = "tables/"
FILES = "files/"
INDEX = "files.jsonl"
CHUNK = 1024 * 1024
MAX_MANIFEST = 256 * 1024 * 1024
_SIGNING_LABEL = b"requests-desk backup manifest"
# A stored name as the desk makes them (secrets.token_hex(16)); nothing that could leave
# the upload folder (no "/", no "..").
STORED_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Tables whose rows `desk init` seeds: the rule tables, and the audit log's head (an empty
# chain under the desk's key). A restore replaces their rows with the backup's.
SEEDED = ("data_sets", "process_rules", "audit_head")


class BackupError(DeskError):
    """A backup or restore refused: the file, the desk or the setting is not right.
    Nothing was written (a backup leaves no file, a restore no row and no file)."""

    status = 400
    title = "Backup refused"


def table_member(table: Table) -> str:
    return f"{TABLES}{table.name}.jsonl"


def file_member(stored_name: str) -> str:
    return f"{FILES}{stored_name}"


def add_member(tar: tarfile.TarFile, name: str, size: int, fileobj, when: datetime) -> None:
    """Add one member (0600), then forget it: ``TarFile`` keeps a list of every member it
    has seen, which thousands of uploaded files would make grow."""
    info = tarfile.TarInfo(name)
    info.size = size
    info.mode = 0o600
    info.mtime = int(when.timestamp())
    tar.addfile(info, fileobj)
    tar.members.clear()


def sign(audit_key: bytes, manifest: bytes) -> bytes:
    """The manifest's signature: HMAC-SHA256 under a key derived from the audit key (the
    audit key itself is kept for the audit log's chain)."""
    subkey = hmac.new(audit_key, _SIGNING_LABEL, hashlib.sha256).digest()
    return hmac.new(subkey, manifest, hashlib.sha256).hexdigest().encode()


def signature_ok(audit_key: bytes, manifest: bytes, signature: bytes) -> bool:
    return hmac.compare_digest(sign(audit_key, manifest), signature.strip())


def key_fingerprint(audit_key: bytes) -> str:
    return key_id(audit_key)


# ---------------------------------------------------------------- values


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise TypeError("a naive datetime: the desk keeps UTC-aware times only")
        return value.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (bytes, memoryview)):
        return base64.b64encode(bytes(value)).decode("ascii")
    raise TypeError(f"a {type(value).__name__} value has no backup form")


_ENCODER = json.JSONEncoder(separators=(",", ":"), default=_default)


def encode_row(row) -> bytes:
    """One row as one line: a JSON list of its values, ``\\n``-terminated (ASCII)."""
    return (_ENCODER.encode(list(row)) + "\n").encode("ascii")


def _decoder(column) -> Callable[[Any], Any] | None:
    type_ = column.type
    if isinstance(type_, TypeDecorator):  # UTCDateTime: a DateTime underneath
        type_ = type_.impl_instance
    try:
        kind = type_.python_type
    except NotImplementedError:
        return None
    if kind is datetime:
        return datetime.fromisoformat
    if kind is date:
        return date.fromisoformat
    if kind is bytes:
        return base64.b64decode
    return None


def row_decoder(table: Table) -> Callable[[bytes], list]:
    """A function from one line of the table's member to its values, typed for the table."""
    decoders = [(i, d) for i, column in enumerate(table.columns) if (d := _decoder(column)) is not None]
    width = len(table.columns)
    loads = json.loads

    def decode(line: bytes) -> list:
        values = loads(line)
        if not isinstance(values, list) or len(values) != width:
            raise ValueError(f"a row of {table.name} does not have its {width} columns")
        for i, convert in decoders:
            if values[i] is not None:
                values[i] = convert(values[i])
        return values

    return decode


# ---------------------------------------------------------------- checksums


class HashingReader:
    """Reads a member through, keeping its SHA-256, its size and its lines."""

    def __init__(self, raw: BinaryIO):
        self.raw = raw
        self.digest = hashlib.sha256()
        self.bytes = 0

    def chunks(self):
        while chunk := self.raw.read(CHUNK):
            self.digest.update(chunk)
            self.bytes += len(chunk)
            yield chunk

    def lines(self):
        for line in self.raw:
            self.digest.update(line)
            self.bytes += len(line)
            yield line

    def hexdigest(self) -> str:
        return self.digest.hexdigest()


class HashingWriter:
    """A binary file that keeps the SHA-256 and the size of what goes through it."""

    def __init__(self, raw: BinaryIO):
        self.raw = raw
        self.digest = hashlib.sha256()
        self.bytes = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.bytes += len(data)
        return self.raw.write(data)

    def flush(self) -> None:
        self.raw.flush()

    def hexdigest(self) -> str:
        return self.digest.hexdigest()
