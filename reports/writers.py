"""Writers for the frozen report: JSON (the stored text itself) and CSV (SPEC §5)."""
from __future__ import annotations

import csv
import io
from decimal import Decimal

from .schema import FIGURE_FIELDS, TOTAL, Figures, Report

CSV_COLUMNS = ("country",) + FIGURE_FIELDS


def report_json(report: Report) -> bytes:
    """The report's JSON text, as stored in ``reports.body`` and served."""
    return report.to_json().encode("utf-8")


def _cell(value: int | Decimal) -> str:
    if isinstance(value, Decimal):
        return format(value.quantize(Decimal("0.01")), "f")
    return str(int(value))


def _row(country: str, figures: Figures) -> list[str]:
    return [country] + [_cell(getattr(figures, name)) for name in FIGURE_FIELDS]


def report_csv(report: Report) -> bytes:
    """One row per country (``country``, then the by_country fields in SPEC order; integers
    plain, percentages with two decimals), then a last row ``Total``. UTF-8, CRLF."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in report.by_country:
        writer.writerow(_row(row.country, row))
    writer.writerow(_row(TOTAL, report.totals))
    return out.getvalue().encode("utf-8")
