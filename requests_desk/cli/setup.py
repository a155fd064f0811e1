"""``desk init``: create or upgrade the schema, seed the rule tables, key the audit chain
and give its events their payload digests."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from ..audit import rekey
from ..audit_redaction import digest_payloads
from ..db_session import session_scope
from ..migrate import upgrade_schema
from ..rules import load_rules
from .common import one_line_errors


@click.command("init")
@with_appcontext
@one_line_errors
def init_command() -> None:
    """Create or upgrade the schema, seed the rule tables, key the audit chain and give its
    events payload digests (idempotent)."""
    upgrade_schema(current_app.extensions["desk"]["engine"])
    with session_scope() as session:
        load_rules(session)
    with session_scope() as session:
        rekeyed = rekey(session)
    if rekeyed is not None:
        click.echo(f"Audit log re-keyed: {rekeyed} events hashed again under the audit key.")
    with session_scope() as session:
        digested = digest_payloads(session)
    if digested is not None:
        click.echo(f"Audit log: {digested} events given payload digests, the chain hashed again once "
                   "(a redaction by desk purge then keeps it whole).")
    click.echo("Database ready.")
