"""Spreadsheet files, read and written: ``.csv`` (UTF-8, a BOM allowed) and ``.xlsx``
(openpyxl). Reading gives each row as ``{column: text}`` with its row number as a
spreadsheet program shows it (the header is row 1); writing streams (an export of
100,000 rows never holds them all). Any cell that a spreadsheet program would read as a
formula is neutralised on the way out (``safe_cell``)."""
from __future__ import annotations

import csv
import io
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import IO, Any, Iterable, Iterator

from ..errors import ValidationError

FORMATS = ("csv", "xlsx")
MAX_ROWS = 100_000  # rows of one import (the header aside)
MAX_CELL = 20_000  # characters in one cell (a demand's notes are the longest field)
# OWASP "CSV injection": a cell starting with one of these is a formula to Excel,
# LibreOffice or Google Sheets (tab and carriage return too); a leading ' makes it text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def sheet_format(filename: str) -> str:
    """``csv`` or ``xlsx`` from a file's name; any other is a 422."""
    ext = os.path.splitext(filename or "")[1].lower().lstrip(".")
    if ext not in FORMATS:
        raise ValidationError({"file": ["must be a .csv or .xlsx file"]})
    return ext


@dataclass
class Sheet:
    """A file's header (lower-cased, trimmed) and its non-blank rows."""

    header: list[str]
    rows: list[tuple[int, dict[str, str]]] = field(default_factory=list)


def cell_text(value: Any) -> str:
    """A cell as text: dates as ISO 8601 (a date-time cell without a zone is UTC),
    whole numbers without ``.0``, booleans as yes/no, nothing as ""."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        if (value.hour, value.minute, value.second, value.microsecond) == (0, 0, 0, 0):
            return value.date().isoformat()
        return value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def read_sheet(stream: IO[bytes], fmt: str, *, max_rows: int = MAX_ROWS) -> Sheet:
    """Read a whole sheet (csv or the first worksheet of an xlsx). A file that is not
    one, or has more than ``max_rows`` rows, is a 422 on ``file``."""
    raw_rows = _csv_rows(stream) if fmt == "csv" else _xlsx_rows(stream)
    header: list[str] | None = None
    sheet = Sheet(header=[])
    try:
        for number, values in raw_rows:
            cells = [cell_text(v) for v in values]
            if header is None:
                if not any(cells):
                    continue  # blank lines above the header
                header = [c.strip().lower() for c in cells]
                sheet.header = header
                continue
            if not any(cells):
                continue
            if len(sheet.rows) >= max_rows:
                raise ValidationError({"file": [f"has more than {max_rows:,} rows: split it into smaller files"]})
            row = {name: (cells[i] if i < len(cells) else "") for i, name in enumerate(header) if name}
            extra = [c for c in cells[len(header):] if c]
            if extra:
                row["\0extra"] = extra[0]
            sheet.rows.append((number, row))
    except (UnicodeDecodeError, csv.Error) as err:
        raise ValidationError({"file": [f"is not a readable CSV file in UTF-8 ({type(err).__name__})"]}) from None
    if header is None:
        raise ValidationError({"file": ["is empty: the first row names the columns"]})
    return sheet


def _csv_rows(stream: IO[bytes]) -> Iterator[tuple[int, list[str]]]:
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")  # quoted line breaks stay in their cell
    reader = csv.reader(text)
    for values in reader:
        if any(len(v) > MAX_CELL for v in values):
            raise ValidationError({"file": [f"row {reader.line_num} has a cell longer than {MAX_CELL:,} characters"]})
        yield reader.line_num, values


def _xlsx_rows(stream: IO[bytes]) -> Iterator[tuple[int, list[Any]]]:
    from openpyxl import load_workbook  # noqa: PLC0415 - third-party, heavy: loaded when a sheet is read

    try:
        book = load_workbook(stream, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError):
        raise ValidationError({"file": ["is not a readable .xlsx workbook"]}) from None
    try:
        sheet = book.worksheets[0]
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield number, list(values)
    finally:
        book.close()


# ---------------------------------------------------------------- writing


def safe_cell(value: Any) -> Any:
    """Text that a spreadsheet would take for a formula gets a leading ``'``."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_stream(header: list[str], rows: Iterable[list[Any]]) -> Iterator[str]:
    """The CSV text of ``rows`` under ``header``, a line at a time (a BOM first, so Excel
    reads UTF-8), every cell ``safe_cell``-ed."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    yield "\ufeff"
    for values in _with_header(header, rows):
        writer.writerow([safe_cell(_plain(v)) for v in values])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()


def _with_header(header: list[str], rows: Iterable[list[Any]]) -> Iterator[list[Any]]:
    yield header
    yield from rows


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M")
    if isinstance(value, bool):
        return "yes" if value else "no"
    return "" if value is None else value


def xlsx_file(header: list[str], rows: Iterable[list[Any]], *, title: str = "Demands",
              more: dict[str, tuple[list[str], list[list[Any]]]] | None = None) -> IO[bytes]:
    """An .xlsx of ``rows`` (and ``more`` sheets) written by openpyxl's write-only mode (rows go to a temporary
    file as they come, never all in memory), returned as an open temporary file at its
    start: the caller streams it and closing it deletes it. Date-times are cells in UTC."""
    from openpyxl import Workbook  # noqa: PLC0415 - third-party, heavy: loaded when a sheet is written

    book = Workbook(write_only=True)
    sheet = book.create_sheet(title)
    sheet.append(header)
    for values in rows:
        sheet.append([_xlsx_value(v) for v in values])
    for name, (more_header, more_rows) in (more or {}).items():  # e.g. the template's "Columns"
        extra = book.create_sheet(name)
        for values in [more_header, *more_rows]:
            extra.append([_xlsx_value(v) for v in values])
    out = tempfile.TemporaryFile(suffix=".xlsx")
    try:
        book.save(out)
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return out


def _xlsx_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(timezone.utc).replace(tzinfo=None)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return safe_cell(value)


def file_chunks(handle: IO[bytes], size: int = 64 * 1024) -> Iterator[bytes]:
    """A file's bytes in chunks; the file is closed (a temporary one: deleted) at the end."""
    try:
        while chunk := handle.read(size):
            yield chunk
    finally:
        handle.close()
