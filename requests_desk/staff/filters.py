"""The desk's template helpers: words for codes, sizes and deadlines, list links."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from flask import current_app, g, url_for
from werkzeug.datastructures import iter_multi_items

from .. import vocabulary
from ..db import utcnow
from ..models import Customer, Demand
from ..services.case import DUE_SOON
from ..services.parsing import printable
from ..vocabulary import OUTCOME_TERMS, PROCESS_TERMS
from ..web import fmt_date, fmt_dt
from .blueprint import bp


# What werkzeug leaves unescaped in a query string it builds (werkzeug.urls._urlencode).
_QUERY_SAFE = "!$'()*,/:;?@"


@bp.app_template_global()
def demands_url(**args: Any) -> str:
    """The case list's address with these query arguments, empty ones left out: the
    address ``url_for("staff.demands", **args)`` builds, with the path built once per
    request (a list page asks for a dozen: its sort headers and its pager)."""
    path = g.get("_demands_path")
    if path is None:
        path = g._demands_path = url_for("staff.demands")
    query = urlencode([(k, v) for k, v in iter_multi_items({k: v for k, v in args.items() if v not in (None, "")})
                       if v is not None], safe=_QUERY_SAFE)
    return f"{path}?{query}" if query else path


@bp.app_template_global()
def due_soon_delta() -> timedelta:
    return DUE_SOON


@bp.app_template_filter("customers")
def customers_filter(demand: Demand) -> list[Customer]:
    return demand.customers


@bp.app_template_filter("relative")
def relative(when: datetime | None, now: datetime | None = None) -> str:
    """"in 3 days", "5 hours ago": how a deadline reads at a glance."""
    if when is None:
        return "—"
    now = now or utcnow()
    seconds = (when - now).total_seconds()
    span = abs(seconds)
    if span < 3600:
        amount, unit = max(1, round(span / 60)), "minute"
    elif span < 48 * 3600:
        amount, unit = round(span / 3600), "hour"
    else:
        amount, unit = round(span / 86400), "day"
    text = f"{amount} {unit}{'' if amount == 1 else 's'}"
    return f"in {text}" if seconds >= 0 else f"{text} ago"


@bp.app_template_filter("due_words")
def due_words(when: datetime | None, now: datetime | None = None) -> str:
    """"in 3 days" for a deadline ahead, "2 days overdue" for one passed."""
    text = relative(when, now)
    return text[:-4] + " overdue" if text.endswith(" ago") else text


def list_texts(rows: list, now: datetime) -> None:
    """The case list's date words of each plain row (``DemandRow``), once per page: the
    template then only prints them."""
    for r in rows:
        r.received_text = fmt_date(r.received_at)
        r.due_title = fmt_dt(r.due_at)
        r.due_text = due_words(r.due_at, now)


def queue_texts(lists: list, now: datetime) -> None:
    """The staff home's date words of each list's rows, once per page (``list_texts``;
    a hold's end, a gag's start and end in ``extra_texts``): the template only prints them."""
    for q in lists:
        list_texts(q.rows, now)
        if q.key == "holds":
            for r in q.rows:
                ends = r.extra[0]
                r.extra_texts = (fmt_dt(ends), fmt_date(ends), relative(ends, now))
        elif q.key in ("gags_expiring", "gags_review"):
            for r in q.rows:
                set_at, expires = r.extra[2], r.extra[3]
                r.extra_texts = (fmt_date(set_at), relative(set_at, now),
                                 fmt_date(expires) if expires else "", relative(expires, now) if expires else "")


@bp.app_template_filter("printable")
def printable_filter(value: Any) -> str:
    """A query value as a page may echo it (in a field's value): its control characters
    and lone surrogates dropped, whatever the field error says about them."""
    return printable(str(value or ""))


@bp.app_template_filter("outcome")
def outcome_words(code: str | None) -> str:
    return OUTCOME_TERMS.label(code, default="Closed")


@bp.app_template_filter("process")
def process_name(code: str | None) -> str:
    return PROCESS_TERMS.label(code)


@bp.app_template_filter("country_name")
def country_name(code: str | None) -> str:
    return vocabulary.country_name(code) if code else "—"


@bp.app_context_processor
def inject_app() -> dict:
    """``current_app`` for base.html's "show the link if the page exists" checks."""
    return {"current_app": current_app._get_current_object()}
