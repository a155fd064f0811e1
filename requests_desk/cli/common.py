"""What every ``desk`` command shares: one-line errors, and the group that keeps them short."""
from __future__ import annotations

from functools import wraps

import click

from ..errors import DeskError


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
