"""The report's HTML body (tables, inline SVG charts, methodology), rendered from a
``Report`` with plain Jinja2: no Flask, so a publish renders it once and stores it."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Mapping, Sequence

from . import wording
from .charts import Chart, HistoryPoint, country_chart_caption, outcome_shares
from .schema import Report

TEMPLATES = Path(__file__).resolve().parent / "templates"


@lru_cache(maxsize=1)
def _environment():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = wording.number
    env.filters["pct"] = wording.pct
    env.filters["country"] = wording.country_name
    env.filters["process"] = wording.process_label
    env.filters["period"] = wording.period_name
    env.globals.update(OUTCOME_LABELS=wording.OUTCOME_LABELS, OUTCOME_SHORT=wording.OUTCOME_SHORT)
    return env


def render_body(report: Report, history: Sequence[HistoryPoint], charts: Mapping[str, Chart]) -> str:
    """The HTML body of a report page (no ``<html>``, no navigation, no download links)."""
    return _environment().get_template("report_body.html").render(
        r=report,
        t=report.totals,
        period=wording.period_name(report.period),
        columns=wording.outcome_columns(report),
        country_caption=country_chart_caption(report),
        history=list(history),
        charts=charts,
        shares=outcome_shares(report),
        summary=wording.summary_sentences(report),
        methodology=wording.methodology(report),
        definitions=wording.OUTCOME_DEFINITIONS,
        version_line=wording.version_line(report),
    )
