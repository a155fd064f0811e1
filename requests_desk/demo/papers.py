"""The demo's legal-process PDFs: the warrant, subpoena, order, emergency request or
preservation letter a demand arrived with, carrying its requester, issuer, legal
reference, accounts and requested records, and the desk's receipt stamp (the LD-
reference and when it was received).

Drawing a page with reportlab takes a millisecond or more, too slow for 100,000 demands.
So reportlab draws one page template per process type and country style (the
letterhead's rule, the receipt stamp's frame, the title, the footer, the four standard
fonts, which are never embedded) and wraps the fixed paragraphs, once per process;
each demand's paper is that template with its own lines added to the page's content
stream (text operators only, compressed) and the cross-reference table written anew.
A paper is a pure function of the log step's body and the desk's reference, so the
service path (``store_document``) and the bulk path write the same bytes, about 2 KB.
"""
from __future__ import annotations

import hashlib
import io
import re
import unicodedata
import zlib
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from ..rules import DEFAULT_RULES
from ..vocabulary import country_name
from .authorities import FISC, is_court
from .paper_forms import FOOTER, FORMS, TO_LINE, Form, gag_words
from .people import FIRST, LAST

DATA_SET_LABELS = {code: label for code, _tier, label in DEFAULT_RULES.data_sets}
MARGIN = 64
TOP_OF_FLOW = 178  # points below the page's top where the demand's own lines start
BOTTOM = 84  # the flow stops above the footer
LEADING = 12.5


def form_of(ptype: str, country: str) -> Form:
    us = country == "US"
    return FORMS.get((ptype, us)) or FORMS[(ptype, not us)]


# ---------------------------------------------------------------- text in a PDF string

_FALLBACK = str.maketrans({"ı": "i", "İ": "I", "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ş": "s", "Ş": "S",
                           "ğ": "g", "Ğ": "G", "ą": "a", "ę": "e", "ń": "n", "ś": "s", "ź": "z", "ż": "z",
                           "ć": "c", "ő": "o", "ű": "u", "’": "'"})


def _latin(text: str) -> bytes:
    """``text`` in the standard fonts' WinAnsi encoding (letters it lacks lose their marks)."""
    try:
        return text.encode("cp1252")
    except UnicodeEncodeError:
        plain = "".join(c for c in unicodedata.normalize("NFKD", text.translate(_FALLBACK))
                        if not unicodedata.combining(c))
        return unicodedata.normalize("NFC", plain).encode("cp1252", errors="replace")


def pdf_string(text: str) -> bytes:
    """``text`` as a PDF string literal (parentheses and backslashes escaped)."""
    if "(" in text or ")" in text or "\\" in text:
        text = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return b"(" + _latin(text) + b")"


# ---------------------------------------------------------------- the templates


@dataclass(eq=False)
class Template:
    width: float
    height: float
    fonts: dict[str, bytes]  # base font → its name in the page's resources (b"/F1")
    head: bytes  # the file's header, before its first object
    objects: list[bytes]  # every object as written ("n 0 obj … endobj"), in number order
    info: int  # index in ``objects`` of the Info dictionary
    root: bytes
    before: bytes = b""  # the file up to the Info, and the cross-reference entries of its objects
    before_entries: bytes = b""

    def __post_init__(self) -> None:
        self.before = self.head + b"".join(self.objects[: self.info])
        pos, entries = len(self.head), []
        for whole in self.objects[: self.info]:
            entries.append(b"%010d 00000 n \n" % pos)
            pos += len(whole)
        self.before_entries = b"".join(entries)


_OBJECT = re.compile(rb"(\d+) 0 obj\n(.*?)\nendobj\n", re.S)
_FONT = re.compile(rb"/BaseFont /([\w-]+) /Encoding /WinAnsiEncoding /Name (/F\d+)")


@lru_cache(maxsize=None)
def template(ptype: str, us: bool) -> Template:
    """The page of one process type, U.S. style or not, drawn with reportlab (its own
    content stream compressed once); a demand's lines are a second content stream."""
    from reportlab.lib.pagesizes import A4, LETTER  # the demo only: not at every worker's start
    from reportlab.pdfgen import canvas

    form = FORMS.get((ptype, us)) or FORMS[(ptype, not us)]
    width, height = LETTER if us else A4
    buf = io.BytesIO()
    c = canvas.Canvas(buf, pagesize=(width, height), invariant=1, pageCompression=1)
    c.setTitle("@@TITLE@@")
    c.setAuthor("@@AUTHOR@@")
    c.setCreator("Requests Desk demo")
    c.setSubject(FOOTER)
    for font in ("Helvetica", "Helvetica-Bold", "Helvetica-Oblique", "Courier"):  # in the page's resources
        c.setFont(font, 7.5)
        c.drawString(0, -20, ".")
    c.setFont("Helvetica", 7.5)
    c.setFillGray(0.35)
    c.drawString(MARGIN, 40, FOOTER)
    c.setFont("Helvetica-Oblique", 7.5)
    c.drawRightString(width - MARGIN, 40, "Page 1 of 1")
    c.setFillGray(0)
    c.setFont("Helvetica-Bold", 14)
    c.drawCentredString(width / 2, height - 134, form.title)
    c.setLineWidth(0.8)
    c.line(MARGIN, height - 112, width - MARGIN, height - 112)
    c.line(MARGIN, 56, width - MARGIN, 56)
    c.setStrokeColorRGB(0.7, 0.1, 0.1)
    c.setLineWidth(1.2)
    c.roundRect(width - MARGIN - 176, height - 62, 176, 34, 4)
    c.showPage()
    c.save()
    return _parse(buf.getvalue(), width, height)


def _parse(data: bytes, width: float, height: float) -> Template:
    """The template's objects, its page's contents made an array that ends with the
    demand's own stream (a new last object, written by ``assemble``)."""
    found = [(int(m.group(1)), m.group(0)) for m in _OBJECT.finditer(data)]
    if [n for n, _whole in found] != list(range(1, len(found) + 1)):
        raise ValueError("the template's objects are not numbered 1, 2, … in order")
    objects = [whole for _n, whole in found]
    page = next(i for i, whole in enumerate(objects) if b"/Type /Page\n" in whole)
    objects[page] = re.sub(rb"/Contents (\d+) 0 R", lambda m: b"/Contents [%s 0 R %d 0 R]" % (
        m.group(1), len(objects) + 1), objects[page])
    trailer = data[data.index(b"trailer"):]
    info = int(re.search(rb"/Info (\d+) 0 R", trailer).group(1)) - 1
    root = re.search(rb"/Root \d+ 0 R", trailer).group(0)
    fonts = {name.decode(): ref for name, ref in _FONT.findall(data)}
    _BASE_FONT.update({ref: name for name, ref in fonts.items()})
    return Template(width, height, fonts,
                    data[: data.index(b"1 0 obj")], objects, info, root)


@lru_cache(maxsize=None)
def _char_widths(font: str) -> dict[str, float]:
    from reportlab.pdfbase.pdfmetrics import getFont

    widths = getFont(font).widths  # by WinAnsi code
    return {bytes([k]).decode("cp1252", errors="ignore") or "?": w for k, w in enumerate(widths)}


def _quick_width(text: str, font: str, size: float) -> float:
    """stringWidth of an ASCII text from the font's width table (reportlab's own,
    without its pure-Python loop); anything else is measured by reportlab."""
    if not text.isascii():
        return _width(text, font, size)
    widths = _char_widths(font)
    return sum(map(widths.__getitem__, text)) * size / 1000


@lru_cache(maxsize=16384)
def _width(text: str, font: str, size: float) -> float:
    from reportlab.pdfbase.pdfmetrics import stringWidth

    return stringWidth(text, font, size)


@lru_cache(maxsize=8192)
def _block(text: str, font: bytes, size: float, width: float, gap: float = 0.0) -> tuple[bytes, int]:
    """A paragraph as text operators on the page's flow (wrapped by reportlab): in
    ``font`` (its resource name), each line moved one line down from the last, the first
    ``gap`` more; and the number of lines."""
    from reportlab.lib.utils import simpleSplit

    base = _BASE_FONT[font]
    lines = simpleSplit(text, base, size, width) if _width(text, base, size) > width else [text]
    ops = [b"%s %g Tf" % (font, size)]
    for k, line in enumerate(lines):
        ops.append(b"0 %g Td %s Tj" % (-(LEADING + (gap if k == 0 else 0)), pdf_string(line)))
    return b"\n".join(ops), len(lines)


_BASE_FONT: dict[bytes, str] = {}


# ---------------------------------------------------------------- one paper


class _Flow:
    """The demand's lines as text operators in one text object: a few placed on the
    page, then the flow down from the top, each line moved to from the last."""

    def __init__(self, t: Template):
        self.t = t
        self.width = t.width - 2 * MARGIN
        self.ops: list[bytes] = [b"BT"]
        self.y = 0.0  # the baseline of the flow's last line

    def place(self, x: float, y: float, words: str, font: str, size: float) -> None:
        self.ops.append(b"%s %g Tf 1 0 0 1 %.2f %.2f Tm %s Tj" % (self.t.fonts[font], size, x, y, pdf_string(words)))

    def centred(self, y: float, words: str, font: str, size: float) -> None:
        self.place((self.t.width - _quick_width(words, font, size)) / 2, y, words, font, size)

    def start(self, y: float, words: str) -> None:
        self.place(MARGIN, y, words, "Helvetica", 9.5)
        self.y = y

    def block(self, words: str, font: str = "Helvetica", size: float = 9.5, gap: float = 0.0) -> None:
        ops, count = _block(words, self.t.fonts[font], size, self.width, gap)
        self.ops.append(ops)
        self.y -= count * LEADING + gap

    def lines(self, lines: list[str], font: str, size: float, gap: float = 0.0) -> None:
        """Lines known to fit (monospaced, or measured when the template was made)."""
        ops = self.ops
        ops.append(b"%s %g Tf" % (self.t.fonts[font], size))
        first = True
        for line in lines:
            ops.append(b"0 %g Td %s Tj" % (-(LEADING + gap) if first else -LEADING, pdf_string(line)))
            first = False
        self.y -= len(lines) * LEADING + (gap if lines else 0)

    def content(self) -> bytes:
        self.ops.append(b"ET")
        return b"\n".join(self.ops)


def paper_date(value: datetime, us: bool) -> str:
    return f"{value:%B} {value.day}, {value.year}" if us else f"{value.day} {value:%B %Y}"


def _signer(body: dict, form: Form) -> tuple[str, str]:
    """(name, capacity) of whoever signed the paper; a judge's or prosecutor's name is
    drawn from the legal reference (the same every time)."""
    requester, issued_by = body["requester"], body["issuing_authority"]
    if form.signer == "agency" or issued_by == requester["agency"] and not is_court(issued_by):
        return requester["name"], requester["agency"]
    n = int(hashlib.blake2s(body["legal_reference"].encode(), digest_size=4).hexdigest(), 16)
    name = f"{FIRST[n % len(FIRST)].title()} {LAST[n // 97 % len(LAST)].title()}"
    if issued_by == FISC:
        return f"Hon. {name}", f"Judge, {FISC}"
    if issued_by.startswith("U.S. District Court"):
        return f"Hon. {name}", "United States Magistrate Judge"
    if is_court(issued_by):
        return f"Judge {name}", issued_by
    return name, f"Prosecutor, {issued_by}"


_LABELS = {code: _latin(label) for code, label in DATA_SET_LABELS.items()}
_DOT = "  ·  ".encode("cp1252")


def _records(body: dict, numbers: dict[str, int]) -> list[bytes]:
    """One line per requested item (the text shown, WinAnsi, without parentheses): the
    longest data-set label fits the page's width."""
    labels = _LABELS
    return [b"Account %d%s%s%s%s to %s" % (numbers[i["target"]], _DOT, labels[i["data_set"]], _DOT,
                                           i["from"].isoformat().encode(), i["to"].isoformat().encode())
            for i in body["requested"]]


@lru_cache(maxsize=4096)
def _heading(t: Template, issued_by: str, country: str) -> bytes:
    """The issuer and the country, centred on the page (the same for many demands)."""
    page = _Flow(t)
    page.ops.clear()
    page.centred(t.height - 84, issued_by, "Helvetica-Bold", 12)
    page.centred(t.height - 100, country_name(country), "Helvetica", 9)
    return b"\n".join(page.ops)


def legal_process(body: dict, reference: str) -> tuple[str, bytes]:
    """(file name, PDF bytes) of the legal process a demand was logged with: ``body`` is
    the log step's body (the API's), ``reference`` the desk's LD- reference."""
    country, ptype = body["country"], body["process_type"]
    us = country == "US"
    form = form_of(ptype, country)
    t = template(ptype, us if (ptype, us) in FORMS else not us)
    page = _Flow(t)
    top, ops = t.height, page.ops
    received: datetime = body["received_at"]
    legal_reference, requester, issued_by = body["legal_reference"], body["requester"], body["issuing_authority"]
    # The desk's receipt stamp, in red, in its frame; the issuer and the number.
    x = t.width - MARGIN - 168
    ops.append(b".7 .1 .1 rg %s 8 Tf 1 0 0 1 %g %g Tm (RECEIVED %s UTC) Tj %s 8 Tf 0 -12 Td %s Tj 0 0 0 rg" % (
        t.fonts["Helvetica-Bold"], x, top - 43, received.strftime("%Y-%m-%d %H:%M").encode(),
        t.fonts["Helvetica"], pdf_string(f"{reference}  ·  Requests Desk")))
    ops.append(_heading(t, issued_by, country))
    page.centred(top - 152, f"No. {legal_reference}", "Helvetica-Bold", 10)
    page.start(top - TOP_OF_FLOW, TO_LINE)
    phone = f"  ·  {requester['phone']}" if requester.get("phone") else ""
    page.block(f"From: {requester['name']}, {requester['agency']}  ·  {requester['email']}{phone}")
    page.block(form.body, gap=5)
    if body.get("justification"):
        page.block("Nature of the emergency", "Helvetica-Bold", gap=8)
        page.block(body["justification"])
    targets = body["targets"]
    page.block("Attachment A: accounts", "Helvetica-Bold", gap=8)
    page.lines([f"{k}.  {target}" for k, target in enumerate(targets, 1)], "Courier", 9)
    page.block("Attachment B: records", "Helvetica-Bold", gap=8)
    gag = body.get("gag")
    room = int((page.y - BOTTOM - 110 - (70 if gag else 0)) // LEADING)
    records = _records(body, {target: k for k, target in enumerate(targets, 1)})
    if len(records) > room:
        shown = max(1, room - 1)
        records = records[:shown] + [_latin(f"… and {len(records) - shown} more records described in the "
                                            "application")]
    ops.append(b"%s 9.5 Tf\n0 -%g Td (" % (t.fonts["Helvetica"], LEADING + 0) + b") Tj\n0 -12.5 Td (".join(records)
               + b") Tj")
    page.y -= LEADING * len(records)
    page.block(form.command, gap=5)
    if gag:
        until = (f"until {paper_date(gag['expires_at'], us)}" if gag.get("expires_at")
                 else "until further order of the court")
        page.block("Order of non-disclosure", "Helvetica-Bold", gap=8)
        page.block(f"{gag['order_ref']}, by {gag['issued_by']}: " + gag_words(ptype, us).format(until=until))
    name, capacity = _signer(body, form)
    sign_at = max(page.y - 34, BOTTOM + 14)
    page.place(MARGIN, sign_at, f"Dated: {paper_date(received, us)}", "Helvetica", 9.5)
    page.place(t.width / 2, sign_at, f"/s/ {name}", "Helvetica-Oblique", 10)
    page.place(t.width / 2, sign_at - LEADING, capacity[:80], "Helvetica", 8.5)
    return f"{legal_reference}.pdf", assemble(t, page.content(), f"{form.title.title()} {legal_reference}",
                                              issued_by, legal_reference)


def assemble(t: Template, lines: bytes, title: str, author: str, ident: str) -> bytes:
    """The template's file with the demand's lines as the page's last content stream,
    the Info's title and author filled in, and the cross-reference table written anew
    (the objects before the Info keep their places)."""
    stream = zlib.compress(lines, 1)
    info = t.objects[t.info].replace(b"(@@TITLE@@)", pdf_string(title)).replace(
        b"(@@AUTHOR@@)", pdf_string(author))
    after = t.objects[t.info + 1:] + [b"%d 0 obj\n<<\n/Filter /FlateDecode /Length %d\n>>\nstream\n%s\nendstream"
                                      b"\nendobj\n" % (len(t.objects) + 1, len(stream), stream)]
    pos = len(t.before)
    entries = [b"%010d 00000 n \n" % pos]
    pos += len(info)
    for whole in after:
        entries.append(b"%010d 00000 n \n" % pos)
        pos += len(whole)
    size = len(t.objects) + 2
    digest = hashlib.md5(ident.encode(), usedforsecurity=False).hexdigest().encode()
    return b"".join((
        t.before, info, *after,
        b"xref\n0 %d\n0000000000 65535 f \n" % size, t.before_entries, *entries,
        b"trailer\n<<\n/ID [<%s><%s>]\n/Info %d 0 R\n%s\n/Size %d\n>>\nstartxref\n%d\n%%%%EOF\n"
        % (digest, digest, t.info + 1, t.root, size, pos),
    ))
