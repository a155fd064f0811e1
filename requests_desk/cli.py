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


class OneLineGroup(click.Group):
    """Bad arguments to a subcommand are one ``Error: ...`` line too (exit status 2),
    not click's usage block, so scripts and operators see what is wrong at a glance."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.UsageError as err:
            if err.ctx is not None and err.ctx.command is self:
                raise  # `desk` itself misused (unknown command): keep click's help hint
            short = click.ClickException(f"{err.format_message()} (see --help)")
            short.exit_code = err.exit_code
            raise short from None


@click.group("desk", cls=OneLineGroup)
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


@desk.command("dispatch")
@click.option("--now", "now_text", default=None, metavar="ISO8601",
              help="judge gags, deferrals and due times at this time instead of the clock (this run only)")
@click.option("--every", "every_text", default=None, metavar="SECONDS",
              help="keep running: one pass every SECONDS (a worker; stop it with SIGTERM or Ctrl-C)")
@with_appcontext
def dispatch_command(now_text, every_text) -> None:
    """Release notices whose gag ended, send due notices, retry failed attempts.

    Prints the counts. Exits 0 when it ran, failed deliveries included (they are
    recorded for retry); non-zero only when it could not run."""
    import signal
    import time

    from sqlalchemy.exc import SQLAlchemyError

    from .notices.dispatcher import dispatcher_for
    from .notices.mailer import ConfigError
    from .services.parsing import parse_datetime_value

    now = None
    if now_text is not None:
        try:
            now = parse_datetime_value(now_text)
        except (ValueError, TypeError):
            raise click.ClickException(
                f"--now must be an ISO 8601 date and time such as 2026-03-01T09:30:00Z (got {now_text!r})"
            ) from None
    every = None
    if every_text is not None:
        try:
            every = float(every_text)
        except ValueError:
            every = -1.0
        if not every > 0:
            raise click.ClickException(f"--every must be a positive number of seconds (got {every_text!r})")
        if now is not None:
            raise click.ClickException("--now applies to one run; it cannot be combined with --every")
    try:
        dispatcher = dispatcher_for(current_app)
    except ConfigError as err:
        raise click.ClickException(str(err)) from None

    def one_pass() -> None:
        counts = dispatcher.run_once(now)
        stamp = "" if every is None else time.strftime("%Y-%m-%dT%H:%M:%SZ ", time.gmtime())
        click.echo(f"{stamp}Notices: {counts.line()}.")

    if every is None:
        try:
            one_pass()
        except SQLAlchemyError as err:
            raise click.ClickException(f"database error, nothing more was sent ({type(err).__name__}: "
                                       f"{str(err.orig if hasattr(err, 'orig') else err).splitlines()[0][:200]})") from None
        return

    stopping = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(True))
    click.echo(f"Dispatching every {every:g} s via {dispatcher.mailer.describe()}; SIGTERM or Ctrl-C stops.")
    try:
        while not stopping:
            try:
                one_pass()
            except SQLAlchemyError as err:  # a worker outlives a database restart
                click.echo(f"Pass skipped: cannot reach the database ({type(err).__name__}).", err=True)
            deadline = time.monotonic() + every
            while not stopping and time.monotonic() < deadline:
                time.sleep(min(0.5, max(deadline - time.monotonic(), 0)))
    except KeyboardInterrupt:
        pass
    click.echo("Dispatcher stopped.")

desk.add_command(__import__("requests_desk.report_cli", fromlist=["report"]).report)  # desk report compile|publish


@desk.command("demo")
@click.option("--demands", "count", type=click.IntRange(min=0), default=2000, show_default=True,
              help="how many demands (1,000,000 takes about three minutes)")
@click.option("--seed", type=int, default=1, show_default=True, help="the same seed gives the same desk")
@click.option("--if-empty", is_flag=True,
              help="load only into an empty desk; otherwise just print the demo logins")
@with_appcontext
@one_line_errors
def demo_command(count, seed, if_empty) -> None:
    """Load a living demo desk: customers, one user per role, N demands over three years."""
    from . import demo

    app = current_app._get_current_object()
    with session_scope() as session:
        state = demo.desk_state(session)
    if state != "empty":
        if not if_empty:
            raise click.ClickException("desk demo loads into an empty desk, and this one has data "
                                       "(make clean-db, then desk init, starts afresh).")
        if state == "demo":
            click.echo("The demo desk is already loaded.")
            _print_logins(demo.demo_logins())
        else:
            click.echo("The desk has data of its own; no demo loaded.")
        return
    with click.progressbar(length=count, label=f"Loading {count:,} demands", show_pos=True,
                           file=sys.stderr) as bar:
        result = demo.load_demo(app, count, seed, on_progress=bar.update)
    click.echo(f"Loaded {result.demands:,} demands, {result.events:,} audit events and {result.rows:,} rows "
               f"in {result.seconds:.1f} s (seed {seed}).")
    if result.reports:
        click.echo(f"Published the transparency reports for {', '.join(result.reports)}.")
    _print_logins(demo.demo_logins())


def _print_logins(logins) -> None:
    click.echo("Demo logins (e-mail / password):")
    for login in logins:
        who = f"customer user of {login.customer}" if login.customer else ", ".join(login.roles)
        click.echo(f"  {login.email:<36} {login.password:<20} {who}")
