"""Portal pages: a customer's notices, one notice, and the documents' copies.

Every query goes through ``scope.portal_notices`` (the user's organisation, not held,
no active gag at the real clock); anything else answers 404.
"""
from __future__ import annotations

from flask import current_app, render_template, request, send_file
from sqlalchemy import func, select
from sqlalchemy.orm import joinedload

from ..auth import current_user
from ..db import utcnow
from ..db_session import get_session
from ..errors import NotFound
from ..models import Demand, Notice, parse_id
from ..notices.compose import describe_gag_periods, notice_content
from ..search_terms import fixed
from ..services.documents import document_path
from ..services.keyset import COUNT_CAP
from ..vocabulary import OUTCOME_TERMS
from .blueprint import bp
from .scope import portal_document, portal_notice, portal_notices

PER_PAGE = 50


def _id(value: str) -> int:
    number = parse_id(value)
    if number is None:
        raise NotFound("There is no such page.")
    return number


def _page() -> int:
    raw = request.args.get("page", "1")
    return int(raw) if raw.isdigit() and 0 < int(raw) < 10**6 else 1


@bp.get("/")
def index():
    """The organisation's notices, newest first, a page of PER_PAGE. Each read costs
    what a page does however many notices the organisation has had: the page walks the
    notices' (customer_id, created_at, id) index newest first (migration 0015), the total
    is counted up to the lists' cap (then "Page N" without "of"), and the outcomes are
    looked up for the page's demands only. Counting every notice exactly and listing
    every demand's outcome took 117 ms of CPU at 100,000 demands for a customer with
    15,800 notices, and grew with them."""
    session, user, now = get_session(), current_user(), utcnow()
    visible = portal_notices(session, user, now)
    first = visible.with_only_columns(Notice.id).limit(fixed(COUNT_CAP + 1)).subquery()
    total = session.scalar(select(func.count()).select_from(first)) or 0
    page = _page()
    rows = session.scalars(newest_first(visible).options(joinedload(Notice.demand).joinedload(Demand.requester))
                           .offset((page - 1) * PER_PAGE).limit(PER_PAGE + 1)).all()
    older = len(rows) > PER_PAGE
    rows = rows[:PER_PAGE]
    # Outcomes are shown once the notice of outcome itself is visible.
    outcome_known = set(session.scalars(
        visible.where(Notice.kind == "outcome", Notice.demand_id.in_({n.demand_id for n in rows}))
        .with_only_columns(Notice.demand_id)
    )) if rows else set()
    pages = -(-total // PER_PAGE) if total <= COUNT_CAP else None
    return render_template(
        "portal/index.html", rows=rows, page=page, pages=pages, older=older,
        outcome_known=outcome_known, outcome_labels=OUTCOME_TERMS.words("customer"),
    )


def newest_first(visible):
    """``visible`` (``portal_notices``) with their demands, newest first."""
    return visible.join(Demand, Demand.id == Notice.demand_id).order_by(Notice.created_at.desc(), Notice.id.desc())


@bp.get("/notices/<notice_id>")
def notice(notice_id):
    session, user, now = get_session(), current_user(), utcnow()
    found = portal_notice(session, user, _id(notice_id), now)
    related = session.scalars(
        portal_notices(session, user, now).where(Notice.demand_id == found.demand_id, Notice.id != found.id)
        .order_by(Notice.id)
    ).all()
    show_outcome = found.kind == "outcome" or any(n.kind == "outcome" for n in related)
    content = notice_content(session, found, now=now, base_url=current_app.config["DESK_BASE_URL"],
                             show_outcome=show_outcome)
    return render_template("portal/notice.html", notice=found, c=content, related=related)


@bp.get("/documents/<document_id>")
def document(document_id):
    session, user, now = get_session(), current_user(), utcnow()
    doc = portal_document(session, user, _id(document_id), now)
    path = document_path(doc)
    if not path.is_file():
        raise NotFound("This document is not available right now; please contact us quoting the reference.")
    response = send_file(path, mimetype="application/pdf", as_attachment=True, download_name=doc.filename,
                         max_age=0, etag=False, conditional=False)
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.app_template_filter("gag_periods")
def gag_periods_filter(periods) -> str:
    return describe_gag_periods(periods)
