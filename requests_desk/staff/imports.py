"""``/desk/import``: demands from a spreadsheet (upload, check, import with a progress
bar) and its templates; the export of the case list is ``exports.py``.

The import page streams: once every row has passed the check (a failing file comes back
at once, 422, with its table of problems), the answer is an HTML page sent in pieces as
the demands are written, each piece a ``<progress>`` bar that replaces the one before
(CSS shows the last), then the result. No JavaScript and no job queue: the browser
draws the page as it arrives, and the import is one transaction committed at its end."""
from __future__ import annotations

import io
from typing import Any, Callable, Iterator

from flask import Response, g, render_template, request, stream_with_context, url_for
from flask_wtf import FlaskForm
from markupsafe import escape
from sqlalchemy.orm import Session
from wtforms import FileField

from ..auth import requires
from ..db_session import get_session
from ..errors import DeskError, NotFound, ValidationError
from ..models import User
from ..services.import_check import COLUMN_NAMES, COLUMNS, SheetErrors, check_sheet
from ..services.importing import import_steps
from ..services.sheet_files import XLSX_MIME, csv_stream, file_chunks, read_sheet, sheet_format, xlsx_file
from .blueprint import bp

MAX_UPLOAD = 20 * 1024 * 1024  # bytes of one uploaded sheet
STEPS = 100  # progress bars drawn per phase, at most


class ImportForm(FlaskForm):
    file = FileField("Spreadsheet (.csv or .xlsx, at most 20 MiB)",
                     render_kw={"accept": ".csv,.xlsx,text/csv," + XLSX_MIME})


def _page(form: ImportForm, *, problems=None, message: str | None = None, status: int = 200):
    return render_template("staff/import.html", form=form, columns=COLUMNS, problems=problems or [],
                           message=message), status


@bp.get("/import")
@requires("demand.log")
def import_page():
    return _page(ImportForm())


@bp.post("/import")
@requires("demand.log")
def import_upload():
    form = ImportForm()
    if not form.validate_on_submit():  # the CSRF token
        return _page(form, message="The form expired; choose the file again.", status=400)
    upload = request.files.get(form.file.name)
    if upload is None or not upload.filename:
        form.file.errors = ["Choose a .csv or .xlsx file."]
        return _page(form, status=422)
    session = get_session()
    try:
        fmt = sheet_format(upload.filename)
        data = upload.stream.read(MAX_UPLOAD + 1)
        if len(data) > MAX_UPLOAD:
            raise ValidationError({"file": ["is larger than 20 MiB: split it into smaller files"]})
        sheet = read_sheet(io.BytesIO(data), fmt)
        del data
        plan = check_sheet(session, g.user, sheet)
    except SheetErrors as err:
        session.rollback()
        return _page(form, problems=err.problems, message=err.detail, status=422)
    except ValidationError as err:
        session.rollback()
        form.file.errors = [m for msgs in err.errors.values() for m in msgs]
        return _page(form, status=422)
    head, tail = render_template("staff/import_running.html", rows=plan.rows,
                                 demands=len(plan.demands)).split("<!--progress-->")
    summary = _done(len(plan.demands), sum(1 for p in plan.demands if p.outcome), plan.rows)

    def run(session: Session, actor: User) -> Iterator[str]:
        yield head
        done = shown = 0
        step = max(1, plan.rows // STEPS)
        try:
            for rows, _reference in import_steps(session, actor, plan):
                done += rows
                if done - shown >= step or done == plan.rows:
                    shown = done
                    yield _bar(done, plan.rows)
            session.commit()
        except DeskError as err:
            session.rollback()
            yield ('<div class="form-errors" role="alert"><strong>Nothing was imported.</strong> '
                   f'{escape(err.detail)}</div>')
        except Exception:
            session.rollback()
            yield ('<div class="form-errors" role="alert"><strong>Nothing was imported:</strong> the import '
                   'stopped on an internal error (it is logged).</div>' + tail)
            raise
        else:
            yield summary
        yield tail

    return Response(streamed(run), mimetype="text/html", headers={"X-Accel-Buffering": "no"})


def streamed(body: Callable[[Session, User], Iterator[Any]]) -> Iterator[Any]:
    """``body(session, user)`` as a response body, run while the answer is sent. Flask has
    closed the view's session by then (its objects are detached): the body gets a new one
    (closed when the body ends) and the signed-in user read again in it."""
    user_id = g.user.id

    def run() -> Iterator[Any]:
        session = get_session()
        user = session.get(User, user_id)
        if user is None:
            raise NotFound("The signed-in user is gone.")
        yield from body(session, user)

    return stream_with_context(run())


def _bar(done: int, total: int) -> str:
    pct = round(100 * done / total) if total else 100
    return (f'<p class="import-step"><progress max="{total}" value="{done}">{pct}%</progress> '
            f'{done:,} of {total:,} rows imported ({pct}%)</p>\n')


def _done(demands: int, closed: int, rows: int) -> str:
    link = url_for("staff.demands")
    return (f'<div class="flash success" role="status">Imported {demands:,} demands ({closed:,} closed, '
            f'{demands - closed:,} open) from {rows:,} rows. <a href="{link}">See the demands</a>.</div>')


@bp.get("/import/template.csv", defaults={"fmt": "csv"})
@bp.get("/import/template.xlsx", defaults={"fmt": "xlsx"})
@requires("demand.log")
def import_template(fmt: str):
    if fmt == "csv":
        return Response("".join(csv_stream(list(COLUMN_NAMES), [])), mimetype="text/csv",
                        headers={"Content-Disposition": 'attachment; filename="demands-import-template.csv"'})
    if fmt != "xlsx":
        raise ValidationError({"format": ["must be csv or xlsx"]})
    help_rows = [[c.name, c.required, c.help, c.example] for c in COLUMNS]
    handle = xlsx_file(list(COLUMN_NAMES), [], title="Demands",
                       more={"Columns": (["column", "required", "what it holds", "example"], help_rows)})
    return Response(file_chunks(handle), mimetype=XLSX_MIME,
                    headers={"Content-Disposition": 'attachment; filename="demands-import-template.xlsx"'})
