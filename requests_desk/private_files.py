"""Files at rest readable by the service's user only (SPEC): uploads, the outbox, the
instance key files and the SQLite database are created 0600 in 0700 folders.

The modes are set explicitly (``os.open`` with the mode, then ``fchmod``/``chmod``), not
left to the umask: a umask of 022 would otherwise leave every file world-readable."""
from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import BinaryIO

FILE_MODE = 0o600
DIR_MODE = 0o700


def private_dir(path: str | os.PathLike) -> Path:
    """Create the folder (and missing parents) 0700; tighten it if it exists wider.

    A folder that is not ours to chmod (another owner) is left as it is: the files the
    desk writes into it are 0600 all the same."""
    path = Path(path)
    missing = []
    parent = path
    while not parent.exists():
        missing.append(parent)
        parent = parent.parent
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=DIR_MODE)
        except FileExistsError:
            pass  # made by another worker just now
    tighten(path, DIR_MODE)
    return path


def tighten(path: str | os.PathLike, mode: int = FILE_MODE) -> None:
    """Drop the group's and others' bits of an existing file or folder (nothing if absent)."""
    try:
        current = stat.S_IMODE(os.stat(path).st_mode)
        if current & 0o077:
            os.chmod(path, mode)
    except (FileNotFoundError, PermissionError):
        pass


def create_private(path: str | os.PathLike, *, replace: bool = False) -> BinaryIO:
    """Open a new file for writing, 0600 from its first byte. ``replace=False`` refuses an
    existing file (``FileExistsError``); ``replace=True`` truncates it and sets 0600."""
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if replace else os.O_EXCL) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags, FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)  # the umask may have taken bits; an existing file keeps its old mode
        return os.fdopen(fd, "wb")
    except BaseException:
        os.close(fd)
        raise


def write_private(path: str | os.PathLike, data: bytes) -> None:
    """Write a new file of ``data``, 0600 from its first byte (an existing file is refused,
    ``FileExistsError``); cheaper than ``create_private`` for many small files."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), FILE_MODE)
    try:
        os.fchmod(fd, FILE_MODE)
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)
