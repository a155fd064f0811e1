"""``desk dispatch``: release notices whose gag ended and send due notices, once or as a worker."""
from __future__ import annotations

import signal
import time

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.exc import SQLAlchemyError

from ..notices.dispatcher import dispatcher_for
from ..notices.mailer import ConfigError
from ..services.parsing import parse_datetime_value


@click.command("dispatch")
@click.option("--now", "now_text", default=None, metavar="ISO8601",
              help="judge gags, deferrals and due times at this time instead of the clock (this run only)")
@click.option("--every", "every_text", default=None, metavar="SECONDS",
              help="keep running: one pass every SECONDS (a worker; stop it with SIGTERM or Ctrl-C)")
@with_appcontext
def dispatch_command(now_text, every_text) -> None:
    """Release notices whose gag ended, send due notices, retry failed attempts.

    Prints the counts. Exits 0 when it ran, failed deliveries included (they are
    recorded for retry); non-zero only when it could not run."""
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
