"""``flask --app wsgi desk …``: thin wrappers over the services.

Every command runs in one transaction: it commits on success and rolls back on any
error, which it reports as one line on stderr with a non-zero exit.
"""
from __future__ import annotations

import sys
from functools import wraps

import click
from flask import current_app
from flask.cli import with_appcontext

from .db_session import session_scope
from .errors import DeskError


def one_line_errors(fn):
    """A domain error becomes ``Error: <what is wrong>`` and exit status 1."""

    @wraps(fn)
    def wrapped(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except DeskError as err:
            raise click.ClickException(err.detail.replace("\n", " ")) from None

    return wrapped


@click.group("desk")
def desk() -> None:
    """Requests Desk administration."""


@desk.command("init")
@with_appcontext
@one_line_errors
def init_command() -> None:
    """Create or upgrade the schema and seed the rule tables (idempotent)."""
    from .migrate import upgrade_schema
    from .rules import load_rules

    upgrade_schema(current_app.extensions["desk"]["engine"])
    with session_scope() as session:
        load_rules(session)
    click.echo("Database ready.")


@desk.command("create-user")
@click.argument("email")
@click.option("--role", "roles", multiple=True, required=True, help="intake, counsel, approver, admin or customer")
@click.option("--customer", "customer_id", type=int, default=None, help="the customer id (customer users)")
@click.option("--password", default=None, help="without it, one is generated and printed")
@click.option("--name", default="")
@with_appcontext
@one_line_errors
def create_user_command(email, roles, customer_id, password, name) -> None:
    """Create a user with one or more roles."""
    from .services.users import create_user

    with session_scope() as session:
        user, pw = create_user(session, None, email, list(roles), customer_id=customer_id,
                               password=password, name=name)
    click.echo(f"Created {user.email} ({', '.join(sorted(user.roles))}).")
    if password is None:
        click.echo(f"Password: {pw}")


@desk.command("token")
@click.argument("email")
@with_appcontext
@one_line_errors
def token_command(email) -> None:
    """Print one new API token for a user, alone on stdout."""
    from .services.users import issue_token, user_by_email

    with session_scope() as session:
        token = issue_token(session, None, user_by_email(session, email))
    click.echo(token)


@desk.command("verify-audit")
@with_appcontext
@one_line_errors
def verify_audit_command() -> None:
    """Check the audit log's hash chain; non-zero naming the first bad event."""
    from .audit import verify

    with session_scope() as session:
        result = verify(session)
    if not result.ok:
        click.echo(f"Audit log broken: {result.problem} ({result.count} events verified before it).", err=True)
        sys.exit(1)
    click.echo(f"Audit log intact: {result.count} events.")
