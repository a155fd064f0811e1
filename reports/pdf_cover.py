"""The PDF's cover (the provider's name and logo, the period, the version) and its
metadata: the title, and the publication time as the document's dates."""
from __future__ import annotations

import io

from . import wording
from .fonts import BOLD, REGULAR, register
from .periods import Period
from .schema import Report

NAVY = "#1f3a5f"
ACCENT = "#b08d57"
DEFAULT_PROVIDER = "Example Provider"  # a report published before the provider was kept


def pdf_title(report: Report) -> str:
    """The PDF's Title: ``Transparency report H1 2026, version 2``."""
    version = f"version {report.version}" if report.status == "published" else "draft"
    return f"Transparency report {wording.period_name(report.period)}, {version}"


def pdf_date(moment) -> str:
    """A PDF date (``D:20260703091244+00'00'``): when the version was published, in UTC."""
    return f"D:{moment:%Y%m%d%H%M%S}+00'00'"


def draw_cover(canv, *, provider: str, logo: bytes | None, period: Period, lines: tuple[str, str],
               margin: float) -> None:
    """The navy band of the first page: provider (and its PNG logo on a white card at the
    top right, whatever the logo's colours), title, period, version and date."""
    from reportlab.lib import colors
    from reportlab.lib.units import mm
    from reportlab.lib.utils import ImageReader

    register()
    page_w, page_h = canv._pagesize
    canv.saveState()
    canv.setFillColor(colors.HexColor(NAVY))
    canv.rect(0, page_h - 118 * mm, page_w, 118 * mm, stroke=0, fill=1)
    canv.setFillColor(colors.HexColor(ACCENT))
    canv.rect(0, page_h - 121 * mm, page_w, 3 * mm, stroke=0, fill=1)
    canv.setFillColor(colors.white)
    text_right = page_w - margin
    if logo:
        box_w, box_h, pad = 56 * mm, 24 * mm, 3 * mm
        image = ImageReader(io.BytesIO(logo))
        lw, lh = image.getSize()
        scale = min((box_w - 2 * pad) / lw, (box_h - 2 * pad) / lh)
        x, y = page_w - margin - box_w, page_h - 14 * mm - box_h
        canv.roundRect(x, y, box_w, box_h, 2 * mm, stroke=0, fill=1)
        canv.drawImage(image, x + (box_w - lw * scale) / 2, y + (box_h - lh * scale) / 2, lw * scale, lh * scale,
                       mask="auto")
        text_right = x - 6 * mm
    canv.setFont(BOLD, _fit(provider, BOLD, 15, text_right - margin))
    canv.drawString(margin, page_h - 24 * mm, provider)
    canv.setFont(REGULAR, 10)
    canv.drawString(margin, page_h - 32 * mm, "REQUESTS FOR CUSTOMER DATA")
    canv.setFont(BOLD, 34)
    canv.drawString(margin, page_h - 52 * mm, "Transparency Report")
    canv.setFont(BOLD, 26)
    canv.drawString(margin, page_h - 76 * mm, period.short_label)
    canv.setFont(REGULAR, 13)
    canv.drawString(margin, page_h - 86 * mm, period.label)
    canv.setFont(REGULAR, 10.5)
    canv.setFillColor(colors.HexColor("#cfd8ea"))
    canv.drawString(margin, page_h - 104 * mm, "  ·  ".join(lines))
    canv.restoreState()


def _fit(text: str, font: str, size: float, width: float) -> float:
    """The font size, from ``size`` down to 9, at which ``text`` fits in ``width`` points."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    while size > 9 and stringWidth(text, font, size) > width:
        size -= 0.5
    return size
