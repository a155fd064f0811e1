"""The case list as a spreadsheet: ``/desk/demands.csv`` and ``/desk/demands.xlsx`` take
the list's filters (and queue) and give every row it would show, on all its pages.

The CSV is a generator response: rows go out as the database hands them over (a
server-side cursor, ``services/exporting.py``). The Excel file cannot be sent before it
is finished (a zip's directory comes last): openpyxl's write-only mode writes the rows
to a temporary file as they come, which is then sent in chunks and deleted. Neither
holds the rows in memory."""
from __future__ import annotations

from typing import Any, Iterator

from flask import Response, g, request
from sqlalchemy.orm import Session

from .. import workflow
from ..auth import requires
from ..db import utcnow
from ..db_session import get_session
from ..errors import FieldErrors, ValidationError
from ..models import User
from ..rules import process_codes
from ..services import case_list, exporting
from ..services import queue as queue_service
from ..services.sheet_files import XLSX_MIME, csv_stream, file_chunks, xlsx_file
from .blueprint import bp
from .imports import streamed

PAGING = ("page", "per_page", "after", "before", "last")

@bp.get("/demands.csv", defaults={"fmt": "csv"})
@bp.get("/demands.xlsx", defaults={"fmt": "xlsx"})
@requires("desk.read")
def demands_export(fmt: str):
    """The case list as a spreadsheet: its filters (and queue), every page, streamed."""
    if fmt not in ("csv", "xlsx"):
        raise ValidationError({"format": ["must be csv or xlsx"]})
    session = get_session()
    # Every page: the list's paging arguments (page, per_page, cursors) do not apply.
    args = {k: v for k, v in request.args.items() if k not in PAGING}
    filters = case_list.parse_filters(args, max_per_page=200, process_types=process_codes(session))
    queue_errors = FieldErrors()
    queue_name, scope = queue_service.parse_queue_args(request.args, queue_errors)
    queue_errors.raise_if_any()
    now = utcnow()
    name = f"demands-{now:%Y%m%d-%H%M}.{fmt}"
    disposition = {"Content-Disposition": f'attachment; filename="{name}"'}

    def rows(session: Session, user: User) -> Iterator[list[Any]]:
        return exporting.export_rows(session, filters, user, now, queue=queue_name, scope=scope,
                                     acts_on=workflow.states_acted_on(user) if queue_name else None)

    if fmt == "csv":
        return Response(streamed(lambda s, u: csv_stream(exporting.HEADER, rows(s, u))), mimetype="text/csv",
                        headers=disposition)
    handle = xlsx_file(exporting.HEADER, rows(session, g.user))
    return Response(file_chunks(handle), mimetype=XLSX_MIME, headers=disposition)
