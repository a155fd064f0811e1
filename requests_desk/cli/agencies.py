"""``desk agencies load FILE.csv``: the verified agencies (SPEC §9) as data."""
from __future__ import annotations

import click
from flask.cli import with_appcontext

from ..db_session import session_scope
from ..services.agencies import load_agencies, parse_csv
from .common import one_line_errors


@click.group("agencies")
def agencies() -> None:
    """Verified agencies: the domains whose officers may use the requester portal."""


@agencies.command("load")
@click.argument("path", type=click.Path(dir_okay=False))
@with_appcontext
@one_line_errors
def load_command(path) -> None:
    """Load FILE.csv (columns domain,agency,country). Every row is checked first; nothing
    is loaded unless all pass. Known domains get the file's name and country."""
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            text = fh.read()
    except FileNotFoundError:
        raise click.ClickException(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise click.ClickException(f"{path}: not UTF-8 text (save the spreadsheet as CSV UTF-8)") from None
    except OSError as err:
        raise click.ClickException(f"{path}: cannot be read ({err.strerror or err})") from None
    rows = parse_csv(text)
    with session_scope() as session:
        result = load_agencies(session, None, rows)
    click.echo(f"Agencies: {result.added} added, {result.updated} updated, {result.unchanged} unchanged "
               f"({len(rows)} in {path}).")
