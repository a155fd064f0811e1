"""``desk verify-audit``."""
from __future__ import annotations

import sys

import click
from flask.cli import with_appcontext

from ..audit import verify
from ..db_session import session_scope
from .common import one_line_errors


@click.command("verify-audit")
@with_appcontext
@one_line_errors
def verify_audit_command() -> None:
    """Check the audit log's chain under the audit key; print the head to record
    elsewhere, or exit non-zero naming the first bad event (or a key that does not match)."""
    with session_scope() as session:
        result = verify(session)
    if not result.ok:
        click.echo(f"Audit log broken: {result.problem} ({result.count} events verified before it).", err=True)
        sys.exit(1)
    click.echo(f"Audit log intact: {result.count} events; {result.head_line()}")
