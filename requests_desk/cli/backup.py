"""``desk backup PATH`` and ``desk restore PATH`` (requests_desk/backup)."""
from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from ..backup import restore_backup, write_backup
from .common import one_line_errors


class _Bars:
    """One click progress bar per phase, on stderr."""

    def __init__(self) -> None:
        self.bar = None

    def phase(self, label: str, total: int) -> None:
        self.close()
        self.bar = click.progressbar(length=max(total, 1), label=label, file=sys.stderr)
        self.bar.__enter__()

    def advance(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _desk():
    app = current_app
    return (app.extensions["desk"]["engine"], Path(app.config["DESK_UPLOAD_DIR"]),
            str(app.config["DESK_AUDIT_KEY"]).encode())


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, writable=True))
@with_appcontext
@one_line_errors
def backup_command(path: str) -> None:
    """Write a backup of the whole desk (rows and uploaded files) to PATH, a new file
    (gzip-compressed if PATH ends in .gz or .tgz), from one consistent snapshot."""
    engine, upload_dir, key = _desk()
    bars = _Bars()
    missing: list[str] = []
    try:
        result = write_backup(engine, upload_dir, path, key,
                              on_start=lambda total: bars.phase("Backing up", total),
                              on_progress=bars.advance, on_missing=missing.append)
    finally:
        bars.close()
    for name in missing:
        click.echo(f"Warning: file {name} is named by a row but missing from {upload_dir}; "
                   "the backup lists it as missing.", err=True)
    click.echo(f"Backed up {result.rows:,} rows of {result.tables} tables and {result.files:,} files to "
               f"{result.path} ({result.bytes / 1e6:,.1f} MB) in {result.seconds:.1f} s.")
    click.echo(f"SHA-256 of the file: {result.sha256}")


@click.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@with_appcontext
@one_line_errors
def restore_command(path: str) -> None:
    """Restore the backup PATH into this desk, which must be new and empty (desk init on
    an empty database); every checksum is checked first, and a damaged file writes nothing."""
    engine, upload_dir, key = _desk()
    bars = _Bars()
    try:
        result = restore_backup(engine, upload_dir, path, key, on_phase=bars.phase, on_progress=bars.advance)
    finally:
        bars.close()
    made = result.manifest
    click.echo(f"Restored {result.rows:,} rows of {result.tables} tables and {result.files:,} files in "
               f"{result.seconds:.1f} s (backup of {made['created_at']}, from {made['database']}, "
               f"schema {made['schema']}).")
    for name in result.missing_files:
        click.echo(f"Warning: file {name} was missing when the backup was made; it is missing here too.", err=True)
    head = made.get("audit_head")
    if head:
        click.echo(f"Audit log: {head['count']} events, head {head['last_hash']}; "
                   "desk verify-audit should print the same.")
