"""``desk demo``: a living demo desk for evaluation and benchmarks."""
from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import with_appcontext

from .. import demo
from ..db_session import session_scope
from .common import one_line_errors


@click.command("demo")
@click.option("--demands", "count", type=click.IntRange(min=0), default=2000, show_default=True,
              help="how many demands (1,000,000 takes about three minutes)")
@click.option("--seed", type=int, default=1, show_default=True, help="the same seed gives the same desk")
@click.option("--if-empty", is_flag=True,
              help="load only into an empty desk; otherwise just print the demo logins")
@with_appcontext
@one_line_errors
def demo_command(count, seed, if_empty) -> None:
    """Load a living demo desk: customers, one user per role, N demands over three years."""
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
        if login.customer:
            who = f"customer user of {login.customer}"
        elif login.agency:
            who = f"requester ({login.agency}; /requests/)"
        else:
            who = ", ".join(login.roles)
        click.echo(f"  {login.email:<36} {login.password:<20} {who}")
