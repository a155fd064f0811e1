"""Backup and restore (SPEC §8): one portable, checksummed file of every table's rows in a
database-neutral form and the uploaded files, taken from a consistent snapshot while
the desk runs, restored into an empty desk of either kind (SQLite or PostgreSQL).

``archive`` is the file's format, ``dump`` writes it (``desk backup``), ``check`` and
``load`` read it back (``desk restore``). See docs/cli.md and the README's Operations.
"""
from __future__ import annotations

from .archive import BackupError
from .dump import BackupResult, snapshot, write_backup
from .load import RestoreResult, restore_backup

__all__ = ["BackupError", "BackupResult", "RestoreResult", "restore_backup", "snapshot", "write_backup"]
