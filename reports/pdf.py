"""The report as a PDF (reportlab): a cover with the provider (name and logo), period and
version, a summary, the tables with their charts, the methodology, and "Page x of y" on
every page. Its metadata name the provider as Author and carry the publication time as
CreationDate, so the same frozen report always gives the same bytes.

reportlab is imported inside the functions only (importing the web app stays fast).
"""
from __future__ import annotations

import io
from typing import Mapping, Sequence

from . import wording
from .charts import Chart, HistoryPoint, country_chart_caption, outcome_shares
from .fonts import BOLD, REGULAR, register
from .pdf_cover import DEFAULT_PROVIDER, NAVY, draw_cover, pdf_date, pdf_title
from .periods import Period
from .schema import Report

INK = "#1d2330"
MUTED = "#5b6475"
LINE = "#d9dde5"
HEAD_BG = "#eef1f5"


def render_pdf(report: Report, history: Sequence[HistoryPoint], charts: Mapping[str, Chart], *,
               logo: bytes | None = None) -> bytes:
    """The PDF; ``logo`` is the provider's PNG for the cover (None: the name alone)."""
    register()
    from reportlab import rl_config
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_RIGHT
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas as pdfcanvas
    from reportlab.platypus import (
        BaseDocTemplate,
        CondPageBreak,
        Frame,
        Image,
        KeepTogether,
        ListFlowable,
        ListItem,
        NextPageTemplate,
        PageBreak,
        PageTemplate,
        Paragraph,
        Spacer,
        Table,
        TableStyle,
    )

    rl_config.useA85 = 0  # binary streams: smaller, and no slow pure-Python ASCII85 pass
    period = Period.parse(report.period)
    provider = report.provider or DEFAULT_PROVIDER
    created = pdf_date(report.published_at or report.compiled_at)
    columns = wording.outcome_columns(report)
    page_w, page_h = A4
    wide_w, wide_h = landscape(A4)
    margin = 18 * mm
    width = page_w - 2 * margin
    wide_width = wide_w - 2 * margin

    base = getSampleStyleSheet()
    # A layout table's cells hold flowables, but ReportLab still sets each cell's font
    # (Helvetica unless told): name ours, so no page refers to a standard-14 font.
    LAYOUT_FONT = ("FONT", (0, 0), (-1, -1), REGULAR)
    body = ParagraphStyle("body", parent=base["BodyText"], fontName=REGULAR, fontSize=9.5, leading=13.5,
                          textColor=colors.HexColor(INK), spaceAfter=5)
    method = ParagraphStyle("method", parent=body, fontSize=9, leading=12.4, spaceAfter=4)
    small = ParagraphStyle("small", parent=body, fontSize=8, leading=10.5, textColor=colors.HexColor(MUTED))
    h1 = ParagraphStyle("h1", parent=body, fontName=BOLD, fontSize=16, leading=20,
                        textColor=colors.HexColor(NAVY), spaceBefore=4, spaceAfter=8)
    h2 = ParagraphStyle("h2", parent=h1, fontSize=12.5, leading=16, spaceBefore=12, spaceAfter=6)
    h3 = ParagraphStyle("h3", parent=h1, fontSize=10, leading=13, spaceBefore=8, spaceAfter=3)
    head = ParagraphStyle("head", parent=body, fontName=BOLD, fontSize=7, leading=8.6, spaceAfter=0)
    head_num = ParagraphStyle("headnum", parent=head, alignment=TA_RIGHT)
    head_group = ParagraphStyle("headgroup", parent=head, alignment=1, textColor=colors.HexColor(MUTED))
    sub_head = ParagraphStyle("subhead", parent=head, fontName=REGULAR, fontSize=6.4, leading=7.8,
                              alignment=TA_RIGHT)

    def esc(text: object) -> str:
        return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")

    def grid(rows, col_widths, *, header_rows=1, footer=False, font_size=7.6, extra=()):
        """A table of plain strings (fast), numbers right-aligned from column 1 on."""
        table = Table(rows, colWidths=col_widths, repeatRows=header_rows, hAlign="LEFT")
        style = [
            ("FONT", (0, 0), (-1, -1), REGULAR, font_size),
            ("TEXTCOLOR", (0, 0), (-1, -1), colors.HexColor(INK)),
            ("ALIGN", (1, header_rows), (-1, -1), "RIGHT"),
            ("BACKGROUND", (0, 0), (-1, header_rows - 1), colors.HexColor(HEAD_BG)),
            ("LINEBELOW", (0, header_rows - 1), (-1, header_rows - 1), 0.8, colors.HexColor("#9aa3b2")),
            ("LINEBELOW", (0, header_rows), (-1, -1), 0.3, colors.HexColor(LINE)),
            ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ("TOPPADDING", (0, 0), (-1, -1), 2.4),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ("LEFTPADDING", (0, 0), (-1, -1), 3.5),
            ("RIGHTPADDING", (0, 0), (-1, -1), 3.5),
        ]
        if footer:
            style += [("LINEABOVE", (0, -1), (-1, -1), 0.8, colors.HexColor("#9aa3b2")),
                      ("BACKGROUND", (0, -1), (-1, -1), colors.HexColor("#f6f7f9")),
                      ("FONT", (0, -1), (-1, -1), BOLD, font_size)]
        table.setStyle(TableStyle(style + list(extra)))
        return table

    def h(text, style=head_num):
        return Paragraph(text, style)

    def chart_image(name: str, max_width: float):
        png = charts[name].png
        iw, ih = ImageReader(io.BytesIO(png)).getSize()
        return Image(io.BytesIO(png), width=max_width, height=max_width * ih / iw, mask=None)

    def side_by_side(left, right, left_width, total=width):
        t = Table([[left, right]], colWidths=[left_width, total - left_width], hAlign="LEFT")
        t.setStyle(TableStyle([LAYOUT_FONT, ("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                               ("RIGHTPADDING", (0, 0), (0, 0), 10), ("RIGHTPADDING", (1, 0), (1, 0), 0)]))
        return t

    n = wording.number
    share_fields = ("pct_content_disclosed", "pct_non_content_disclosed", "pct_no_data_found", "pct_rejected")

    def figures_table(first_label: str, rows, label_of):
        """Every figure of a breakdown, on a landscape page."""
        k = len(columns)
        head1 = [h(first_label, head), h("Requests"), h("Accounts specified")]
        head1 += [h("Outcome (requests)", head_group)] + [""] * (k - 1)
        head1 += [h("Share of requests (%)", head_group)] + [""] * 3
        head2 = ["", "", ""] + [h(wording.OUTCOME_SHORT[f], sub_head) for f in columns]
        head2 += [h(x, sub_head) for x in ("Content", "Non-content", "No data", "Rejected")]

        def line(label, row):
            return ([label, n(row.requests), n(row.accounts_specified)]
                    + [n(getattr(row, f)) for f in columns] + [str(getattr(row, f)) for f in share_fields])

        data = [head1, head2] + [line(label_of(r), r) for r in rows] + [line("Total", report.totals)]
        first = 48 * mm
        rest = (wide_width - first) / (len(head2) - 1)
        spans = [("LEFTPADDING", (1, 0), (-1, -1), 2.5), ("RIGHTPADDING", (1, 0), (-1, -1), 2.5),
                 ("SPAN", (0, 0), (0, 1)), ("SPAN", (1, 0), (1, 1)), ("SPAN", (2, 0), (2, 1)),
                 ("SPAN", (3, 0), (2 + k, 0)), ("SPAN", (3 + k, 0), (6 + k, 0)),
                 ("LINEBEFORE", (3, 0), (3, -1), 0.6, colors.HexColor(LINE)),
                 ("LINEBEFORE", (3 + k, 0), (3 + k, -1), 0.6, colors.HexColor(LINE)),
                 ("VALIGN", (0, 0), (-1, 1), "BOTTOM")]
        return grid(data, [first] + [rest] * (len(head2) - 1), header_rows=2, footer=True, extra=spans)

    def kv_table(title: str, pairs, col=(56 * mm, 26 * mm)):
        data = [[h(esc(title), head), ""]] + [[k, v] for k, v in pairs]
        return grid(data, list(col), extra=[("SPAN", (0, 0), (1, 0))])

    # ---------------------------------------------------------------- page furniture

    version_text = (f"Version {report.version}" if report.status == "published" else "Draft – not published")
    published_text = (f"Published {_day(report.published_at)}" if report.published_at
                      else f"Compiled {_day(report.compiled_at)}")

    class NumberedCanvas(pdfcanvas.Canvas):
        """Draws "Page x of y" once the number of pages is known."""

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._saved: list[dict] = []
            # invariant=1 keeps the bytes reproducible; the dates are the publication's, not 2000-01-01.
            self._doc.setDateFormatter(lambda *_: created)

        def showPage(self):
            self._saved.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            total = len(self._saved)
            for state in self._saved:
                self.__dict__.update(state)
                self._footer(total)
                super().showPage()
            super().save()

        def _footer(self, total: int):
            w = self._pagesize[0]
            self.saveState()
            self.setFont(REGULAR, 7.5)
            self.setFillColor(colors.HexColor(MUTED))
            self.drawRightString(w - margin, 10 * mm, f"Page {self._pageNumber} of {total}")
            self.drawString(margin, 10 * mm, f"{provider} · Transparency report {period.short_label} · {version_text}")
            self.restoreState()

    def cover(canv, doc):
        draw_cover(canv, provider=provider, logo=logo, period=period, lines=(version_text, published_text),
                   margin=margin)

    def running_head(canv, doc):
        w, hgt = canv._pagesize
        canv.saveState()
        canv.setFont(REGULAR, 7.5)
        canv.setFillColor(colors.HexColor(MUTED))
        right = f"{period.short_label} ({period.label})"
        room = w - 2 * margin - canv.stringWidth(right, REGULAR, 7.5) - 8 * mm
        left = f"{provider} – transparency report, requests for customer data"
        if canv.stringWidth(left, REGULAR, 7.5) > room:  # a long provider name: the name alone,
            left = provider                                 # cut short if it must be
            while len(left) > 1 and canv.stringWidth(left + "…", REGULAR, 7.5) > room:
                left = left[:-1]
            left = left if left == provider else left.rstrip() + "…"
        canv.drawString(margin, hgt - 12 * mm, left)
        canv.drawRightString(w - margin, hgt - 12 * mm, right)
        canv.setStrokeColor(colors.HexColor(LINE))
        canv.setLineWidth(0.5)
        canv.line(margin, hgt - 14 * mm, w - margin, hgt - 14 * mm)
        canv.restoreState()

    buffer = io.BytesIO()
    doc = BaseDocTemplate(
        buffer, pagesize=A4, leftMargin=margin, rightMargin=margin, topMargin=20 * mm, bottomMargin=18 * mm,
        title=pdf_title(report), author=provider, subject=f"{provider}: requests for customer data",
        creator="Requests Desk", producer="Requests Desk (ReportLab)", invariant=1,
        initialFontName=REGULAR,  # the canvas's starting font too: no page names a standard-14 font
    )
    doc.addPageTemplates([
        PageTemplate(id="cover", frames=[Frame(margin, 18 * mm, width, page_h - 140 * mm - 18 * mm, id="c")],
                     onPage=cover, pagesize=A4),
        PageTemplate(id="body", frames=[Frame(margin, 16 * mm, width, page_h - 36 * mm, id="b")],
                     onPage=running_head, pagesize=A4),
        PageTemplate(id="wide", frames=[Frame(margin, 16 * mm, wide_width, wide_h - 36 * mm, id="w")],
                     onPage=running_head, pagesize=landscape(A4)),
    ])

    t = report.totals
    story: list = []
    # ------------------------------------------------ cover: headline figures
    kpis = [
        ("Requests", n(t.requests)),
        ("Accounts specified", n(t.accounts_specified)),
        ("Content disclosed", wording.pct(t.pct_content_disclosed)),
        ("Non-content disclosed", wording.pct(t.pct_non_content_disclosed)),
        ("No data found", wording.pct(t.pct_no_data_found)),
        ("Rejected", wording.pct(t.pct_rejected)),
    ]
    kpi_value = ParagraphStyle("kpiv", parent=body, fontName=BOLD, fontSize=18, leading=22,
                               textColor=colors.HexColor(NAVY), spaceAfter=0)
    kpi_label = ParagraphStyle("kpil", parent=small, spaceAfter=0)
    cells = [[Paragraph(esc(v), kpi_value), Paragraph(esc(k), kpi_label)] for k, v in kpis]
    kpi_table = Table([[cells[i], cells[i + 1], cells[i + 2]] for i in (0, 3)], colWidths=[width / 3] * 3,
                      hAlign="LEFT")
    kpi_table.setStyle(TableStyle([LAYOUT_FONT, 
        ("BOX", (0, 0), (-1, -1), 0.5, colors.HexColor(LINE)),
        ("INNERGRID", (0, 0), (-1, -1), 0.5, colors.HexColor(LINE)),
        ("TOPPADDING", (0, 0), (-1, -1), 8), ("BOTTOMPADDING", (0, 0), (-1, -1), 8),
        ("LEFTPADDING", (0, 0), (-1, -1), 10), ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]))
    story += [Paragraph("At a glance", h2), kpi_table, Spacer(1, 10)]
    if report.note:
        story.append(Paragraph(f"<b>Correction in this version:</b> {esc(report.note)}", body))
    story.append(Paragraph(
        "This report counts the legal demands for customer data that we received in the period, what we did "
        "with them, and how often the customers concerned were told. The methodology at the end explains "
        "what is counted, when, what is left out, and how figures are rounded and banded.", small))
    story += [NextPageTemplate("body"), PageBreak()]

    # ------------------------------------------------ summary and outcomes
    story.append(Paragraph("Summary", h1))
    story += [Paragraph(esc(line), body) for line in wording.summary_sentences(report)]

    outcome_rows = [["Outcome", h("Requests"), h("Share")]]
    outcome_rows += [[wording.OUTCOME_LABELS[name], n(count), wording.pct(share)]
                     for name, count, share in outcome_shares(report)]
    outcome_rows += [["All requests", n(t.requests), ""]]
    left_w = 74 * mm
    story += [Paragraph("Outcome of requests", h2), side_by_side(
        grid(outcome_rows, [38 * mm, 18 * mm, 18 * mm], footer=True,
             extra=[("FONT", (0, 0), (0, 0), BOLD, 7.6)]),
        chart_image("outcomes", width - left_w), left_w)]

    # ------------------------------------------------ countries
    story += [CondPageBreak(110 * mm), Paragraph("Requests by country", h2)]
    country_rows = [[h("Country", head), h("Requests"), h("Accounts specified"), h("Content disclosed"),
                     h("Non-content disclosed"), h("No data found"), h("Rejected")]]
    for r in list(report.by_country) + [None]:
        row = t if r is None else r
        country_rows.append(["Total" if r is None else wording.country_name(r.country), n(row.requests),
                             n(row.accounts_specified)] + [wording.pct(getattr(row, f)) for f in share_fields])
    story.append(chart_image("country", width * 0.78))
    story.append(Paragraph(esc(country_chart_caption(report)), small))
    story.append(Spacer(1, 6))
    story.append(grid(country_rows, [50 * mm] + [(width - 50 * mm) / 6] * 6, footer=True))
    story.append(Paragraph("Percentages are shares of each country's requests. Every outcome by country and by "
                           "type of legal process follows on landscape pages.", small))

    # ------------------------------------------------ wide tables
    story += [NextPageTemplate("wide"), PageBreak(),
              Paragraph("Every outcome by country", h2),
              figures_table("Country", report.by_country, lambda r: wording.country_name(r.country)),
              CondPageBreak(60 * mm),
              Paragraph("Requests by type of legal process", h2),
              figures_table("Legal process", report.by_process_type, lambda r: wording.process_label(r.process_type)),
              Paragraph("Preservation requests and national security process are reported separately.", small),
              NextPageTemplate("body"), PageBreak()]

    # ------------------------------------------------ special sections
    ns = report.national_security
    ns_pairs = ([("Requests", ns.requests), ("Accounts specified", ns.accounts_specified)]
                if report.national_security_reportable
                else [("Requests", "Not yet reportable"), ("Accounts specified", "Not yet reportable")])
    e = report.enterprise
    blocks = [
        kv_table("Enterprise customers", [
            ("Requests", n(e.requests)), ("Redirected to the customer", n(e.redirected)),
            ("Customer notified", n(e.customer_notified)), ("Notice delayed by a gag", n(e.notice_delayed_by_gag)),
            ("Content disclosed", n(e.content_disclosed)), ("Non-content disclosed", n(e.non_content_disclosed)),
            ("Rejected", n(e.rejected))]),
        kv_table("Emergency requests", [
            ("Requests", n(report.emergency.requests)), ("Data disclosed", n(report.emergency.disclosed)),
            ("Rejected", n(report.emergency.rejected)),
            ("Of which found fraudulent", n(report.emergency.fraudulent))]),
        kv_table("Preservation requests and orders", [
            ("Requests", n(report.preservation.requests)),
            ("Accounts specified", n(report.preservation.accounts_specified))]),
        kv_table("Gag (non-disclosure) orders", [
            ("Requests with a gag", n(report.gag.requests_with_gag)),
            ("Share of requests", wording.pct(report.gag.pct_with_gag))]),
        kv_table("National security process (bands of 500)", ns_pairs),
    ]
    pairs = Table([[blocks[0], [blocks[1], Spacer(1, 10), blocks[2]]], [blocks[3], blocks[4]]],
                  colWidths=[width / 2] * 2, hAlign="LEFT")
    pairs.setStyle(TableStyle([LAYOUT_FONT, ("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (-1, -1), 0),
                               ("BOTTOMPADDING", (0, 0), (-1, -1), 12)]))
    story += [Paragraph("Enterprise customers, emergencies, preservation and gag orders", h1), pairs]
    if not report.national_security_reportable:
        story.append(Paragraph(
            f"National security figures for {period.short_label} may be published only once 180 days have passed "
            "since the end of the period; they will appear in a later version of this report.", small))

    # ------------------------------------------------ over time
    time_rows = [["Period", h("Requests")]] + [[wording.period_name(p.period), n(p.requests)] for p in history]
    story += [CondPageBreak(85 * mm), Paragraph("Requests over time", h2),
              side_by_side(grid(time_rows, [24 * mm, 24 * mm], extra=[("FONT", (0, 0), (0, 0), BOLD, 7.6)]),
                           chart_image("timeline", width - 58 * mm), 58 * mm)]

    # ------------------------------------------------ methodology
    story += [PageBreak(), Paragraph("Methodology", h1)]
    for heading, paragraphs in wording.methodology(report):
        items = [Paragraph(esc(text), method) for text in paragraphs]
        story.append(KeepTogether([Paragraph(esc(heading), h3), items[0]]))
        story += items[1:]
    story.append(Spacer(1, 6))
    story.append(Paragraph("Definitions of outcomes", h3))
    story.append(ListFlowable(
        [ListItem(Paragraph(f"<b>{esc(wording.OUTCOME_LABELS[k])}</b>: {esc(v)}", method), leftIndent=10)
         for k, v in wording.OUTCOME_DEFINITIONS.items()],
        bulletType="bullet", start="•", leftIndent=10, bulletFontName=REGULAR, bulletFontSize=8))

    doc.build(story, canvasmaker=NumberedCanvas)
    return buffer.getvalue()


def _day(moment) -> str:
    return f"{moment.day} {moment:%B %Y}"

