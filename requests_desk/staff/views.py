"""Staff pages."""
from __future__ import annotations

from flask import render_template
from sqlalchemy import func, select

from ..db_session import get_session
from ..models import Demand
from . import bp


@bp.get("/")
def home():
    session = get_session()
    counts = dict(session.execute(select(Demand.status, func.count()).group_by(Demand.status)).all())
    newest = session.scalars(select(Demand).order_by(Demand.received_at.desc()).limit(10)).all()
    return render_template("staff/home.html", counts=counts, newest=newest)


@bp.get("/demands")
def demands():
    from flask import request

    from ..services.demands import list_demands, parse_filters

    filters = parse_filters(request.args)
    rows, total = list_demands(get_session(), filters)
    return render_template("staff/demands.html", rows=rows, total=total, filters=filters)
