"""``desk create-user`` and ``desk token``."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from ..db_session import session_scope
from ..services import two_factor
from ..services.users import create_user, issue_token, revoke_tokens, user_by_email
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
@click.option("--expires-in", "expires_in", type=int, default=90, show_default=True,
              help="days until the token stops working")
@with_appcontext
@one_line_errors
def token_command(email, expires_in) -> None:
    """Print one new API token for an active user, alone on stdout."""
    with session_scope() as session:
        token = issue_token(session, None, user_by_email(session, email), expires_in)
    click.echo(token)


@click.command("revoke-tokens")
@click.argument("email")
@with_appcontext
@one_line_errors
def revoke_tokens_command(email) -> None:
    """Revoke every API token of a user (audited)."""
    with session_scope() as session:
        count = revoke_tokens(session, None, user_by_email(session, email))
    click.echo(f"Revoked {count} token(s) of {email.strip().lower()}.")


@click.command("reset-2fa")
@click.argument("email")
@with_appcontext
@one_line_errors
def reset_two_factor_command(email) -> None:
    """Turn a user's two-factor sign-in off (lost device); they enrol again at next sign-in."""
    with session_scope() as session:
        user = user_by_email(session, email)
        two_factor.reset(session, None, user)
    click.echo(f"Two-factor sign-in reset for {user.email}; every session of the account ended.")
