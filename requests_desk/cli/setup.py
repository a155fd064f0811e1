"""``desk init``: create or upgrade the schema and seed the rule tables."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from ..db_session import session_scope
from ..migrate import upgrade_schema
from ..rules import load_rules
from .common import one_line_errors


@click.command("init")
@with_appcontext
@one_line_errors
def init_command() -> None:
    """Create or upgrade the schema and seed the rule tables (idempotent)."""
    upgrade_schema(current_app.extensions["desk"]["engine"])
    with session_scope() as session:
        load_rules(session)
    click.echo("Database ready.")
