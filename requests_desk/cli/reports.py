"""``desk report compile|publish PERIOD``: thin wrappers over the report service.

Each command runs in one transaction; a refusal (bad period, period not started or not
ended, no draft) is one line on stderr and exit status 1, with nothing changed.
"""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from reports.schema import Report as ReportDoc

from ..db_session import session_scope
from ..services.reports import Publisher, compile_report, publish_report
from .common import one_line_errors


@click.group("report")
def report() -> None:
    """Transparency reports: compile a draft, publish it as a frozen version."""


@report.command("compile")
@click.argument("period")
@with_appcontext
@one_line_errors
def compile_command(period: str) -> None:
    """Compile (again) the draft of PERIOD (e.g. 2026-H1) from live data."""
    with session_scope() as session:
        row = compile_report(session, "cli", period,
                             min_country=current_app.config.get("DESK_REPORT_MIN_COUNTRY", 0))
        doc = ReportDoc.from_json(row.body)
    click.echo(f"Compiled the draft of {doc.period} at {doc.compiled_at:%Y-%m-%d %H:%M:%S} UTC: "
               f"{doc.totals.requests} requests, {len(doc.by_country)} countries. "
               f"Preview it at /desk/reports/{doc.period}; publish with: desk report publish {doc.period}")


@report.command("publish")
@click.argument("period")
@click.option("--note", default=None, help="what this version corrects (shown with the report)")
@with_appcontext
@one_line_errors
def publish_command(period: str, note: str | None) -> None:
    """Publish the latest draft of PERIOD as its next version."""
    with session_scope() as session:
        row = publish_report(session, "cli", period, note, publisher=Publisher.from_config(current_app.config))
        period_code, version = row.period, row.version
    base = current_app.config.get("DESK_BASE_URL", "").rstrip("/")
    click.echo(f"Published {period_code} version {version}: {base}/transparency/{period_code}/v{version}")
