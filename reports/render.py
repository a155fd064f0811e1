"""Every public output of one report version, rendered once from the frozen report."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Sequence

from .charts import HistoryPoint, render_charts
from .html import render_body
from .pdf import render_pdf
from .schema import Report
from .writers import report_csv, report_json

MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
}


@dataclass(frozen=True)
class Artifact:
    kind: str
    content: bytes

    @property
    def etag(self) -> str:
        return hashlib.sha256(self.content).hexdigest()

    @property
    def media_type(self) -> str:
        return MEDIA_TYPES[self.kind]


def render_html(report: Report, history: Sequence[HistoryPoint]) -> str:
    """The page body with its inline SVG charts (no PNGs: used for draft previews too)."""
    return render_body(report, history, render_charts(report, history, png=False))


def render_all(report: Report, history: Sequence[HistoryPoint], *, logo: bytes | None = None) -> dict[str, Artifact]:
    """JSON, CSV, the HTML body with inline SVG charts, and the PDF: each chart drawn once.
    ``logo`` is the provider's PNG logo for the PDF's cover, as it is at publication."""
    charts = render_charts(report, history)
    return {
        "json": Artifact("json", report_json(report)),
        "csv": Artifact("csv", report_csv(report)),
        "html": Artifact("html", render_body(report, history, charts).encode("utf-8")),
        "pdf": Artifact("pdf", render_pdf(report, history, charts, logo=logo)),
    }
