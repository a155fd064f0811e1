"""``desk purge``: the retention period (SPEC §8), a dry run unless ``--apply``."""
from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy.engine import Engine

from ..db import utcnow
from ..services.parsing import parse_datetime_value
from ..services.retention import Plan, Result, plan, purge
from .common import one_line_errors

SHOWN = 50  # references printed; the rest are counted
# The tables a purge rewrites: on PostgreSQL their dead row versions keep the old values
# until VACUUM FULL rewrites them (README, Retention).
PURGED_TABLES = ("demands", "requesters", "demand_targets", "demand_items", "documents", "production_files",
                 "access_grants", "assignments", "due_date_changes", "gags", "gag_events", "notice_deferrals",
                 "notices", "audit_events", "report_accounts")


def _refs(refs: list[str]) -> str:
    shown = ", ".join(refs[:SHOWN])
    return shown + (f" and {len(refs) - SHOWN:,} more" if len(refs) > SHOWN else "")


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def _kept_line(p: Plan) -> str | None:
    kept = []
    if p.gagged:
        kept.append(f"{len(p.gagged):,} under an active gag ({_refs(p.gagged)})")
    if p.held:
        kept.append(f"{len(p.held):,} under a preservation hold still running ({_refs(p.held)})")
    return ("Kept: " + "; ".join(kept) + ".") if kept else None


@click.command("purge")
@click.option("--apply", "apply_", is_flag=True, help="purge (without it: a dry run that changes nothing)")
@click.option("--now", "now_text", default=None, metavar="ISO8601",
              help="judge the retention period, gags and holds at this time instead of the clock")
@with_appcontext
@one_line_errors
def purge_command(apply_: bool, now_text: str | None) -> None:
    """Purge demands closed more than DESK_RETENTION_DAYS days ago (no active gag, no
    preservation hold still running): delete their files, redact their target
    identifiers and requester everywhere, audit events included. A dry run unless --apply."""
    now = utcnow()
    if now_text is not None:
        try:
            now = parse_datetime_value(now_text)
        except (ValueError, TypeError):
            raise click.ClickException(
                f"--now must be an ISO 8601 date and time such as 2026-03-01T09:30:00Z (got {now_text!r})") from None
    config, desk = current_app.config, current_app.extensions["desk"]
    days = int(config["DESK_RETENTION_DAYS"])
    engine: Engine = desk["engine"]
    sqlite = engine.dialect.name == "sqlite"
    click.echo(f"Retention: {days:,} days; demands closed before {plan_cutoff(now, days)} UTC.")
    with engine.connect() as conn:
        if sqlite and apply_:
            # Freed cells and pages are overwritten with zeros as the purge frees them.
            conn.exec_driver_sql("PRAGMA secure_delete=ON")
            conn.commit()
        session = desk["sessionmaker"](bind=conn)
        try:
            the_plan = plan(session, now, days)
            if not apply_:
                _print_plan(the_plan)
                session.rollback()
                return
            result = purge(session, the_plan, upload_dir=Path(config["DESK_UPLOAD_DIR"]),
                           outbox_dir=Path(config["DESK_OUTBOX_DIR"]))
            deleted = _delete_files(result.files)
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
            if sqlite and apply_:
                conn.exec_driver_sql("PRAGMA secure_delete=OFF")
                conn.commit()
    _print_result(the_plan, result, deleted)
    if sqlite:
        click.echo(_compact_sqlite(engine, vacuum=bool(result.purged)))
    elif result.purged:
        click.echo("PostgreSQL keeps the old values in dead row versions until they are rewritten: run "
                       f"VACUUM FULL {', '.join(PURGED_TABLES)} in a quiet hour (README, Retention).")


def plan_cutoff(now, days: int) -> str:
    return Plan(now=now, days=days).cutoff.strftime("%Y-%m-%d %H:%M")


def _print_plan(p: Plan) -> None:
    if not p.purge:
        click.echo("Nothing to purge.")
    else:
        click.echo(f"Would purge {_plural(len(p.purge), 'demand')}: {_refs([r for _i, r in p.purge])}.")
        click.echo(f"  with {_plural(p.documents, 'document')}, {_plural(p.kept_files, 'kept production file')}, "
                   f"the outbox copies of {_plural(p.notices, 'notice')} and "
                   f"{_plural(p.events, 'audit event')} to redact.")
        if p.undigested:
            click.echo(f"  {_plural(p.undigested, 'audit event')} still without a payload digest: --apply gives "
                       "them one first (the chain is hashed again once, so its head changes).")
    kept = _kept_line(p)
    if kept:
        click.echo(kept)
    click.echo("Dry run: nothing was changed (desk purge --apply purges).")


def _print_result(p: Plan, r: Result, deleted: int) -> None:
    if not r.purged:
        click.echo("Nothing to purge.")
    else:
        if r.digested:
            click.echo(f"Audit log: {_plural(r.digested, 'event')} given payload digests first (audit.digested).")
        click.echo(f"Purged {_plural(len(r.purged), 'demand')}: {_refs(r.purged)}.")
        click.echo(f"  Deleted {_plural(r.documents, 'document')}, {_plural(r.kept_files, 'kept production file')} "
                   f"({_plural(deleted, 'file')} on disk, outbox copies included); redacted "
                   f"{_plural(r.identifiers, 'target identifier')}, {_plural(r.requesters, 'requester')}, "
                   f"{_plural(r.values, 'other value')} in their rows and {_plural(r.events, 'audit event')}; "
                   f"{_plural(r.accounts, 'report account row')} re-spelled.")
    kept = _kept_line(p)
    if kept:
        click.echo(kept)


def _delete_files(paths: list[Path]) -> int:
    """Delete the purged demands' files (before the commit: see services/retention.py)."""
    deleted = 0
    for path in paths:
        try:
            path.unlink()
            deleted += 1
        except FileNotFoundError:
            pass
        except OSError as err:  # rolled back: the next run purges these demands again
            raise click.ClickException(f"cannot delete {path} ({err.strerror or err}); nothing was purged, "
                                       f"{deleted} of the files were deleted already") from None
    return deleted


def _compact_sqlite(engine: Engine, *, vacuum: bool) -> str:
    """After a purge, rebuild the SQLite file without the purged values: VACUUM (which also
    drops the old keys that index pages keep as separators); on every run, a checkpoint
    that empties the WAL file (which holds earlier versions of pages)."""
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        if vacuum:
            conn.exec_driver_sql("PRAGMA secure_delete=ON")
            conn.exec_driver_sql("VACUUM")
            conn.exec_driver_sql("PRAGMA secure_delete=OFF")
        busy = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").first()
    done = "freed pages overwritten (secure_delete), the file rebuilt (VACUUM)" if vacuum else "nothing purged"
    if busy is not None and busy[0]:
        return (f"SQLite: {done}, but a reader kept the WAL file from being emptied: run desk purge --apply "
                "again when the desk is quiet.")
    return f"SQLite: {done}; the WAL file emptied."
