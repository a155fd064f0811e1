"""Charts of a frozen report, drawn with ``matplotlib.figure.Figure`` (never pyplot).

Each chart is drawn once and written as an inline-ready SVG string (text kept as text,
ids salted per chart so several can share one page, a ``<title>`` for screen readers)
and, for the PDF, as a PNG. matplotlib is imported inside the functions only, so
importing this module (and the web app) stays fast.
"""
from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Sequence

from requests_desk.vocabulary import REPORT_OUTCOME_TERMS

from .schema import OTHER, OUTCOME_FIELDS, Report, percent
from .wording import country_name, period_name

INK = "#1d2330"
MUTED = "#5b6475"
GRID = "#d9dde5"
NAVY = "#1f3a5f"
OUTCOME_COLOURS = {
    "content_disclosed": "#1f3a5f",
    "non_content_disclosed": "#5b8fd1",
    "no_data_found": "#8e99ab",
    "rejected": "#b8433f",
    "redirected": "#2e7d4f",
    "withdrawn": "#c4932f",
    "preserved": "#7a5ea8",
    "pending": "#c9ced8",
}
OUTCOME_LABELS = REPORT_OUTCOME_TERMS.words("public")
MAX_COUNTRY_BARS = 12
RC = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.edgecolor": GRID,
    "axes.labelcolor": INK,
    "axes.titlesize": 10,
    "xtick.color": MUTED,
    "ytick.color": INK,
    "svg.fonttype": "none",
}


@dataclass(frozen=True)
class HistoryPoint:
    """One published period on the requests-over-time chart."""

    period: str
    requests: int
    version: int | None = None


@dataclass(frozen=True)
class Chart:
    name: str
    title: str
    svg: str
    png: bytes


def outcome_shares(report: Report) -> list[tuple[str, int, object]]:
    """``(outcome, count, percent)`` for every outcome present, in SPEC order."""
    total = report.totals.requests
    return [
        (name, getattr(report.totals, name), percent(getattr(report.totals, name), total))
        for name in OUTCOME_FIELDS
        if getattr(report.totals, name) or name not in ("preserved",)
    ]


def country_bars(report: Report) -> list[tuple[str, int]]:
    """The country chart's bars: the countries with most requests (the table lists all),
    and the merged row ``Other`` when there is one."""
    rows = [(r.country, r.requests) for r in report.by_country]
    if len(rows) <= MAX_COUNTRY_BARS:
        return rows
    other = [row for row in rows if row[0] == OTHER]
    return rows[: MAX_COUNTRY_BARS - len(other)] + other


def country_chart_caption(report: Report) -> str:
    """What the country chart shows, in words: every country, or how many of how many."""
    countries = [r.country for r in report.by_country if r.country != OTHER]
    shown = [code for code, _ in country_bars(report) if code != OTHER]
    other = ", and Other countries" if len(countries) < len(report.by_country) else ""
    if not report.by_country:
        return "No requests in this period."
    if len(shown) == len(countries):
        return (f"Requests from every country in the table{other}; the table also gives the shares of each "
                "country's requests.")
    return (f"The {len(shown)} countries with most requests, of {len(countries)}{other}; the table lists all "
            f"{len(countries)}, with the shares of each country's requests.")


def _short_country(code: str) -> str:
    name = country_name(code)
    return name if len(name) <= 22 else code


def _margins(fig, *, left_labels: Sequence[str] = (), left_title: bool = False, bottom: float = 0.48,
             top: float = 0.12, right: float = 0.2) -> None:
    """Fixed margins in inches from the label lengths: no tight_layout (it costs a draw)."""
    width, height = fig.get_size_inches()
    longest = max((len(label) for label in left_labels), default=4)
    left = 0.18 + longest * 0.068 + (0.25 if left_title else 0)
    fig.subplots_adjust(left=left / width, right=1 - right / width, bottom=bottom / height, top=1 - top / height)


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100)
    fig.patch.set_alpha(0)
    return fig


def _style(ax, *, value_axis: str) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.spines["left"].set_color(GRID)
    ax.spines["bottom"].set_color(GRID)
    ax.set_facecolor("none")
    ax.tick_params(length=0)
    if value_axis == "x":
        ax.xaxis.grid(True, color=GRID, linewidth=0.7)
    else:
        ax.yaxis.grid(True, color=GRID, linewidth=0.7)
    ax.set_axisbelow(True)


def _integer_ticks(axis) -> None:
    from matplotlib.ticker import MaxNLocator, StrMethodFormatter

    axis.set_major_locator(MaxNLocator(nbins=5, integer=True))
    axis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))


def country_figure(report: Report):
    bars = country_bars(report)
    fig = _figure(5.6, 0.8 + 0.26 * max(len(bars), 1))
    ax = fig.add_subplot()
    _style(ax, value_axis="x")
    if not bars:
        ax.text(0.5, 0.5, "No requests in this period", ha="center", va="center", color=MUTED,
                transform=ax.transAxes)
        ax.set_yticks([])
        ax.set_xticks([])
    else:
        labels = [_short_country(c) for c, _ in bars][::-1]
        values = [n for _, n in bars][::-1]
        ax.barh(labels, values, color=NAVY, height=0.62)
        top = max(values) or 1
        for y, value in enumerate(values):
            ax.text(value + top * 0.01, y, f"{value:,}", va="center", ha="left", color=INK, fontsize=8.5)
        ax.set_xlim(0, top * 1.12)
        _integer_ticks(ax.xaxis)
    ax.set_xlabel("Requests")
    _margins(fig, left_labels=[_short_country(c) for c, _ in bars])
    return fig


def outcome_figure(report: Report):
    shares = outcome_shares(report)
    fig = _figure(5.0, 0.8 + 0.27 * len(shares))
    ax = fig.add_subplot()
    _style(ax, value_axis="x")
    labels = [OUTCOME_LABELS[name] for name, _, _ in shares][::-1]
    values = [float(pct) for _, _, pct in shares][::-1]
    colours = [OUTCOME_COLOURS[name] for name, _, _ in shares][::-1]
    ax.barh(labels, values, color=colours, height=0.62)
    for y, (_, count, pct) in enumerate(shares[::-1]):
        ax.text(float(pct) + 1, y, f"{pct} %  ({count:,})", va="center", ha="left", color=INK, fontsize=8.5)
    ax.set_xlim(0, 118)
    ax.set_xticks([0, 25, 50, 75, 100])
    ax.set_xticklabels(["0 %", "25 %", "50 %", "75 %", "100 %"])
    ax.set_xlabel("Share of requests")
    _margins(fig, left_labels=labels)
    return fig


def timeline_figure(history: Sequence[HistoryPoint], current: str | None = None):
    fig = _figure(5.4, 2.6)
    ax = fig.add_subplot()
    _style(ax, value_axis="y")
    if not history:
        ax.text(0.5, 0.5, "No published periods yet", ha="center", va="center", color=MUTED,
                transform=ax.transAxes)
        ax.set_xticks([])
        ax.set_yticks([])
    else:
        labels = [period_name(p.period) for p in history]
        values = [p.requests for p in history]
        colours = [NAVY if p.period == current else "#9db2cc" for p in history]
        ax.bar(labels, values, color=colours, width=0.6)
        top = max(values) or 1
        for x, value in enumerate(values):
            ax.text(x, value + top * 0.02, f"{value:,}", ha="center", va="bottom", color=INK, fontsize=8.5)
        ax.set_ylim(0, top * 1.18)
        pad = max(0, 4 - len(values)) / 2  # few periods: keep the bars slim and centred
        ax.set_xlim(-0.6 - pad, len(values) - 0.4 + pad)
        _integer_ticks(ax.yaxis)
        if len(labels) > 8:
            for tick in ax.get_xticklabels():
                tick.set_rotation(45)
                tick.set_ha("right")
    ax.set_ylabel("Requests")
    tallest = max((len(f"{p.requests:,}") for p in history), default=1)
    _margins(fig, left_labels=["0" * tallest], left_title=True, bottom=0.75 if len(history) > 8 else 0.4)
    return fig


_SVG_HEAD = re.compile(r"^.*?(<svg\b)", re.S)
_SIZE = re.compile(r'\s(width|height)="[^"]*"')


def to_svg(fig, name: str, title: str) -> str:
    """The figure as an ``<svg>`` element to inline: no XML prolog, scalable, titled."""
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({**RC, "svg.hashsalt": f"chart-{name}"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None, "Creator": None})
    svg = _SVG_HEAD.sub(r"\1", buffer.getvalue(), count=1)
    head_end = svg.index(">")
    head = _SIZE.sub("", svg[:head_end])
    title_id = f"chart-{name}-title"
    head += f' class="chart" role="img" aria-labelledby="{title_id}" preserveAspectRatio="xMidYMid meet"'
    body = svg[head_end + 1:]
    escaped = title.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f'{head}><title id="{title_id}">{escaped}</title>{body}'.strip()


def to_png(fig, dpi: int = 170) -> bytes:
    """An opaque RGB PNG (the PDF embeds it as is, with no alpha channel to check)."""
    import matplotlib
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    alpha, old_dpi = fig.patch.get_alpha(), fig.dpi
    fig.patch.set_alpha(1)
    fig.patch.set_facecolor("white")
    fig.set_dpi(dpi)
    try:
        canvas = FigureCanvasAgg(fig)
        with matplotlib.rc_context(RC):
            canvas.draw()
        size = canvas.get_width_height(physical=True)
        image = Image.frombuffer("RGBA", size, bytes(canvas.buffer_rgba()), "raw", "RGBA", 0, 1).convert("RGB")
    finally:
        fig.set_dpi(old_dpi)
        fig.patch.set_alpha(alpha)
    out = io.BytesIO()
    image.save(out, format="PNG", compress_level=3)
    return out.getvalue()


def render_charts(report: Report, history: Sequence[HistoryPoint], *, png: bool = True) -> dict[str, Chart]:
    """The three charts of a report, each as SVG (and PNG for the PDF)."""
    import matplotlib

    name = period_name(report.period)
    shown = [code for code, _ in country_bars(report) if code != OTHER]
    countries = sum(1 for r in report.by_country if r.country != OTHER)
    top = f", top {len(shown)} of {countries} countries" if len(shown) < countries else ""
    specs = (
        ("country", f"Requests by country, {name}{top}", lambda: country_figure(report)),
        ("outcomes", f"Outcome of requests, {name}, share of all requests", lambda: outcome_figure(report)),
        ("timeline", "Requests per published period", lambda: timeline_figure(history, report.period)),
    )
    charts: dict[str, Chart] = {}
    for name, title, draw in specs:
        with matplotlib.rc_context(RC):
            fig = draw()
        charts[name] = Chart(name, title, to_svg(fig, name, title), to_png(fig) if png else b"")
    return charts
