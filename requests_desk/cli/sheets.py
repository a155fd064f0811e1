"""``desk import FILE``: demands from a spreadsheet (.csv or .xlsx), all or nothing."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from ..errors import NotFound, ValidationError
from ..models import User
from ..services.import_check import SheetErrors, check_sheet
from ..services.importing import import_plan
from ..services.sheet_files import read_sheet, sheet_format
from .backup import _Bars
from .common import one_line_errors


@click.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--by", "by_email", metavar="EMAIL",
              help="the staff user the import is recorded as (needs role intake or counsel; only a cleared "
                   "user imports national-security demands); without it, the operator (system)")
@with_appcontext
@one_line_errors
def import_command(path: str, by_email: str | None) -> None:
    """Import the demands of PATH (.csv or .xlsx; columns in the README, "Import and export").
    Every row is checked first; any problem is listed as "row N, column C: …" and nothing
    is imported (exit status 1)."""
    fmt = sheet_format(path)
    sessions = current_app.extensions["desk"]["sessionmaker"]
    bars = _Bars()
    with sessions() as session:
        actor = None
        if by_email:
            actor = session.scalar(select(User).where(User.email == by_email.strip().lower()))
            if actor is None or not actor.active:
                raise NotFound(f"There is no active user {by_email}.")
        try:
            with open(path, "rb") as stream:
                sheet = read_sheet(stream, fmt)
            bars.phase(f"Checking {len(sheet.rows):,} rows", len(sheet.rows))
            plan = check_sheet(session, actor, sheet, on_progress=bars.advance)
            bars.phase(f"Importing {len(plan.demands):,} demands", plan.rows)
            result = import_plan(session, actor, plan, on_progress=bars.advance)
            session.commit()
        except SheetErrors as err:
            session.rollback()
            bars.close()
            for problem in err.problems:
                click.echo(problem.line(), err=True)
            raise click.ClickException(err.detail) from None
        except ValidationError as err:  # the file itself: not a sheet, too many rows
            session.rollback()
            bars.close()
            raise click.ClickException(f"{path}: {err.detail.removeprefix('file: ')}") from None
        except BaseException:
            session.rollback()
            raise
        finally:
            bars.close()
    click.echo(f"Imported {result.demands:,} demands ({result.closed:,} closed, {result.demands - result.closed:,} "
               f"open) from {result.rows:,} rows"
               + (f": {result.first_reference} to {result.last_reference}." if result.first_reference else "."))
    if result.demands - result.closed:
        click.echo("The open ones' customer notices wait for counsel's release, as at intake.")
