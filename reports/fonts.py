"""The report PDF's fonts: DejaVu Sans, embedded, so that every name a report prints (the
provider's, a country's, a data set's) keeps its letters (Łódź, İzmir, Ærø). The PDF's
standard 14 fonts (Helvetica) know only Latin-1: ReportLab would print a black box or
nothing for the rest. The TTF files are the ones matplotlib ships (its charts already
draw in DejaVu Sans), so the PDF's text and its charts share one face and the desk ships
no font of its own. reportlab and matplotlib are imported here when a PDF is made."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

REGULAR = "DeskSans"
BOLD = "DeskSans-Bold"
OBLIQUE = "DeskSans-Oblique"


@lru_cache(maxsize=1)
def register() -> tuple[str, str]:
    """Register the faces with ReportLab (once per process); returns (regular, bold)."""
    import matplotlib
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    for name, file in ((REGULAR, "DejaVuSans.ttf"), (BOLD, "DejaVuSans-Bold.ttf"),
                       (OBLIQUE, "DejaVuSans-Oblique.ttf")):
        pdfmetrics.registerFont(TTFont(name, str(folder / file)))
    # <b> and <i> in a Paragraph find the bold and oblique faces.
    addMapping(REGULAR, 0, 0, REGULAR)
    addMapping(REGULAR, 1, 0, BOLD)
    addMapping(REGULAR, 0, 1, OBLIQUE)
    addMapping(REGULAR, 1, 1, BOLD)
    return REGULAR, BOLD
