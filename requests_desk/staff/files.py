"""A demand's files on the desk (SPEC §7): the downloads, the 403 page that offers
break-glass, the break-glass form, the case page's "Who may open the files" section and
``/desk/access``. Who may open what is decided in ``services/file_access.py``."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from flask import current_app, flash, g, redirect, render_template, request, send_file, url_for
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape
from sqlalchemy.orm import Session

from .. import access
from ..auth import requires, safe_next
from ..db import utcnow
from ..db_session import get_session
from ..errors import NotFound, ValidationError
from ..models import Demand, Document, ProductionFile, User, parse_id, row_by_id
from ..services import file_access, parsing
from ..services.documents import document_path, upload_dir
from . import forms
from .blueprint import bp
from .errormap import place_errors

PER_PAGE = 50

# Who opens a demand's files without more, for the 403 page (file_access.standing_reason).
STANDING_RULES = (
    "its assignee",
    "the counsel who proposed its current scope",
    "an approver, while its scope awaits approval",
    "the intake user who logged it, for 24 hours",
)


def desk_path(target: str | None) -> str | None:
    """``target`` when it is a local path on the desk (``/desk/…``, no dot segments,
    no control characters), else None: where break-glass may send the browser back to."""
    target = safe_next(target)
    if target is None or parsing.hygiene_problem(target):
        return None
    path = urlsplit(target).path
    if not path.startswith("/desk/") or any(s in (".", "..") for s in unquote(path).split("/")):
        return None
    return target


def visible_demand(session: Session, demand_id: int | None, missing: str) -> Demand:
    """The demand, or 404 when there is none or it lies in a compartment the user is not in
    (need to know: such a demand does not exist for them)."""
    demand = row_by_id(session, Demand, demand_id)
    if demand is None or not access.may_see(g.user, demand.process_type):
        raise NotFound(missing)
    return demand


def break_glass_page(demand: Demand, form: forms.BreakGlassForm, *, file_name: str | None = None,
                     placed=None, status: int = 403):
    """The 403 page: why the files do not open, and the break-glass form."""
    return render_template(
        "staff/access_denied.html", d=demand, form=form, file_name=file_name, placed=placed,
        rules=STANDING_RULES, hours=current_app.config["DESK_BREAK_GLASS_HOURS"],
    ), status


def _serve(session: Session, kind: str, row, demand_id: int, path: Path, name: str, missing: str,
           **send):
    """Send one file of a demand to a user with access, as an audit event
    ``document.viewed`` committed first; else the 403 page (nothing recorded)."""
    user: User = g.user
    now = utcnow()
    demand = visible_demand(session, demand_id, missing)
    if not file_access.has_access(session, user, demand, now):
        form = forms.BreakGlassForm(formdata=None, data={"next": request.path})
        return break_glass_page(demand, form, file_name=name)
    if not path.exists():
        raise NotFound("The stored file is missing; ask an administrator to restore it from backup.")
    file_access.record_view(session, user, demand, kind, row, now)
    session.commit()
    return send_file(path, as_attachment=True, download_name=name, max_age=0, **send)


@bp.get("/documents/<int:doc_id>")
def document(doc_id: int):
    session = get_session()
    doc = row_by_id(session, Document, doc_id)
    if doc is None:
        raise NotFound("There is no such document.")
    return _serve(session, "document", doc, doc.demand_id, document_path(doc), doc.filename,
                  "There is no such document.", mimetype="application/pdf", etag=doc.sha256)


@bp.get("/production-files/<int:file_id>")
def production_file(file_id: int):
    session = get_session()
    row = row_by_id(session, ProductionFile, file_id)
    if row is None or not row.stored_name:
        raise NotFound("No copy of this file was kept.")
    return _serve(session, "production_file", row, row.demand_id, upload_dir() / row.stored_name, row.name,
                  "No copy of this file was kept.", mimetype="application/octet-stream")


@bp.post("/demands/<int:demand_id>/access")
@requires("access.break-glass")
def break_glass(demand_id: int):
    session = get_session()
    demand = visible_demand(session, demand_id, f"There is no demand {demand_id}.")
    form = forms.BreakGlassForm()
    target = desk_path(form.next.data)
    try:
        grant = file_access.break_glass(session, g.user, demand, form.reason.data, utcnow(),
                                        hours=current_app.config["DESK_BREAK_GLASS_HOURS"])
    except ValidationError as err:
        session.rollback()
        form.next.data = target or ""
        placed = place_errors(err.errors, {"reason": form.reason})
        return break_glass_page(demand, form, placed=placed, status=err.status)
    session.commit()
    flash(f"Access granted until {grant.expires_at:%Y-%m-%d %H:%M} UTC: you may open the files of "
          f"{demand.reference}. The grant is recorded and listed on the case page.", "success")
    return redirect(target or url_for("staff.demand", demand_id=demand.id))


# ---------------------------------------------------------------- the case page's section


@dataclass
class CaseAccess:
    """What the case page says about its files: the user's access and why, the form
    when they have none, and every grant on the demand."""

    standing: str | None
    grant: Any | None  # a grant row (``case_read``)
    grants: list[Any] = field(default_factory=list)
    form: Markup | None = None  # the blank break-glass form's fields (``blank_break_glass``)
    hours: int = 4

    @property
    def allowed(self) -> bool:
        return bool(self.standing or self.grant)


def case_access(user: User, demand: Any, grants: list[Any], now) -> CaseAccess:
    """``grants``: every grant on the demand, newest first (the user's own among them)."""
    standing = file_access.standing_reason(user, demand, now)
    grant = None if standing else file_access.active_among(grants, user, now)
    out = CaseAccess(standing=standing, grant=grant, grants=grants, hours=current_app.config["DESK_BREAK_GLASS_HOURS"])
    if not out.allowed and access.may(user, "access.break-glass"):
        out.form = blank_break_glass()
    return out


_TOKEN_MARK = "\x00csrf-token\x00"


def blank_break_glass() -> Markup:
    """The blank break-glass form's fields as the 403 page prints them (WTForms through
    ``_break_glass_fields.html``), with this request's CSRF token. They are the same on
    every case page but for the token, so they are printed once per application and the
    token put in: building and printing the form cost a case page 0.5 ms of its 5."""
    token = generate_csrf()
    kept = current_app.extensions["desk"]
    html = kept.get("blank_break_glass")
    if html is None:
        printed = render_template("staff/_break_glass_fields.html", form=forms.BreakGlassForm(formdata=None))
        html = kept["blank_break_glass"] = str(printed).replace(token, _TOKEN_MARK)
    # Safe: the fields were printed with autoescape; the token is escaped.
    return Markup(html.replace(_TOKEN_MARK, str(escape(token))))  # nosec B704


# ---------------------------------------------------------------- /desk/access


@bp.get("/access")
def access_grants():
    session, user, now = get_session(), g.user, utcnow()
    page = parse_id(request.args.get("page", "1")) or 1
    rows, total = file_access.review_grants(session, user, now, page=page, per_page=PER_PAGE)
    pages = max(1, -(-total // PER_PAGE))
    if page > pages:
        page = pages
        rows, total = file_access.review_grants(session, user, now, page=page, per_page=PER_PAGE)
    return render_template(
        "staff/access.html", rows=rows, total=total, page=page, pages=pages, now=now,
        everyone=access.may(user, "access.review"), days=file_access.REVIEW_DAYS,
    )
