"""``desk create-user`` and ``desk token``."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from ..db_session import session_scope
from ..services.users import create_user, issue_token, user_by_email
from .common import one_line_errors


@click.command("create-user")
@click.argument("email")
@click.option("--role", "roles", multiple=True, required=True, help="intake, counsel, approver, admin or customer")
@click.option("--customer", "customer_id", type=int, default=None, help="the customer id (customer users)")
@click.option("--password", default=None, help="without it, one is generated and printed")
@click.option("--name", default="")
@with_appcontext
@one_line_errors
def create_user_command(email, roles, customer_id, password, name) -> None:
    """Create a user with one or more roles."""
    with session_scope() as session:
        user, pw = create_user(session, None, email, list(roles), customer_id=customer_id,
                               password=password, name=name)
    click.echo(f"Created {user.email} ({', '.join(sorted(user.roles))}).")
    if password is None:
        click.echo(f"Password: {pw}")


@click.command("token")
@click.argument("email")
@with_appcontext
@one_line_errors
def token_command(email) -> None:
    """Print one new API token for a user, alone on stdout."""
    with session_scope() as session:
        token = issue_token(session, None, user_by_email(session, email))
    click.echo(token)
