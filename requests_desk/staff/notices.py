"""Staff: notices that have not gone out (``/desk/notices``), with a retry for failed ones.

Notices awaiting counsel's release have their own section, first, so none is forgotten.
A demand the user may not know of (national security without ``cleared``) is not
listed nor counted here."""
from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from markupsafe import Markup
from sqlalchemy import select
from sqlalchemy.orm import join

from .. import access
from ..access import hidden_process_types
from ..auth import current_user, requires
from ..db import utcnow
from ..db_session import get_session
from ..errors import NotFound
from ..models import Customer, Demand, Gag, Notice, NoticeDeferral, row_by_id
from ..notices.outbox import retry_notice
from ..services.case import visible_by_id, visible_to
from ..services.keyset import COUNT_CAP, count_up_to
from .blueprint import bp

LIMIT = 200


class RetryForm(FlaskForm):
    """A button: CSRF token only."""


def _rows(session, state: str, user, *, awaiting_counsel: bool | None = None):
    return session.execute(rows_statement(state, user, awaiting_counsel=awaiting_counsel)).all()


def rows_statement(state: str, user, *, awaiting_counsel: bool | None = None):
    """The first LIMIT notices of ``state``: those due to be tried first (pending,
    failed), or the newest (held: a held notice has no next attempt). A held list is
    read newest first from the (state, id) index, each notice's demand tested as it is
    read, as far as its page: ordered as the others, every held notice of the desk was
    joined to its demand and sorted (5,066 at 100,000 demands, growing with the desk).
    Plain rows of what the page shows: ORM objects for 400 notices, their demands and
    customers were a third of the page's CPU."""
    conditions = [Notice.state == state, *visible_to(user)]
    if awaiting_counsel is not None:
        released = Demand.notices_released_at.is_(None)
        conditions.append(released if awaiting_counsel else ~released)
    order = ((Notice.id.desc(),) if state == "held"
             else (Notice.next_attempt_at.is_(None), Notice.next_attempt_at, Notice.id.desc()))
    return (select(Notice.id, Notice.demand_id, Notice.kind, Notice.delayed, Notice.due_at, Notice.attempts,
                   Notice.last_error, Notice.next_attempt_at, Notice.held_by, Demand.reference, Demand.emergency,
                   Demand.process_type, Customer.name.label("customer_name"))
            .join(Demand, Demand.id == Notice.demand_id)
            .join(Customer, Customer.id == Notice.customer_id)
            .where(*conditions)
            .order_by(*order)
            .limit(LIMIT))


def _date(value) -> Markup:
    """A date and time that never wraps inside a sentence."""
    return Markup('<span class="nowrap">{}</span>').format(f"{value:%Y-%m-%d %H:%M} UTC")


def _hold_reasons(session, notices, now) -> dict[int, str]:
    """Why each held notice waits: the gag in force (until when), or the deferral."""
    demand_ids = {n.demand_id for n in notices}
    if not demand_ids:
        return {}
    gags: dict[int, Gag] = {}
    for gag in session.scalars(select(Gag).where(Gag.demand_id.in_(demand_ids)).order_by(Gag.id)):
        if gag.active_at(now):
            gags[gag.demand_id] = gag
    deferrals: dict[int, NoticeDeferral] = {}
    for d in session.scalars(select(NoticeDeferral).where(NoticeDeferral.demand_id.in_(demand_ids))
                             .order_by(NoticeDeferral.id)):
        deferrals[d.demand_id] = d  # the latest decides
    reasons = {}
    for n in notices:
        gag, deferral = gags.get(n.demand_id), deferrals.get(n.demand_id)
        if gag is not None:
            until = Markup("until {}").format(_date(gag.expires_at)) if gag.expires_at else "with no end date"
            reasons[n.id] = Markup("{}, by {} — in force {}").format(gag.order_ref, gag.issued_by, until)
        elif deferral is not None and deferral.until > now:
            reasons[n.id] = Markup("Until {}: {}").format(_date(deferral.until), deferral.reason)
        else:
            reasons[n.id] = "Its hold has ended; released on the dispatcher's next run"
    return reasons


def _counts(session, user) -> dict[str, int]:
    """The notices of each state (and those awaiting counsel), each counted up to the
    list's cap (``COUNT_CAP`` + 1, shown as "1,000+") from the state's range of its
    index, leaving out by demand id the few demands of compartments the user lacks: in
    one statement. Counting them all, each joined to its demand, read every notice the
    desk ever sent (30 ms at 100,000 demands, growing with the archive)."""
    hidden = hidden_process_types(user)

    def capped(source, *where):
        return count_up_to(COUNT_CAP, source, *where, *visible_by_id(Notice.demand_id, hidden)).scalar_subquery()

    columns = [capped(Notice, Notice.state == state).label(state) for state in ("failed", "held", "pending", "sent")]
    with_demand = join(Notice, Demand, Demand.id == Notice.demand_id)
    columns.append(capped(with_demand, Notice.state == "held", Demand.notices_released_at.is_(None)).label("counsel"))
    return dict(session.execute(select(*columns)).one()._asdict())


@bp.get("/notices")
def notices():
    session, now = get_session(), utcnow()
    user = current_user()
    counts = _counts(session, user)
    counsel = _rows(session, "held", user, awaiting_counsel=True)
    held = _rows(session, "held", user, awaiting_counsel=False)
    failed, pending = _rows(session, "failed", user), _rows(session, "pending", user)
    return render_template(
        "staff/notices.html",
        counts=counts, counsel=counsel, failed=failed, held=held, pending=pending, limit=LIMIT, count_cap=COUNT_CAP,
        reasons=_hold_reasons(session, held, now), form=RetryForm(),
        can_retry=access.may(user, "notice.retry"),
    )


@bp.post("/notices/<notice_id>/retry")
@requires("notice.retry")
def retry(notice_id):
    session = get_session()
    notice = row_by_id(session, Notice, notice_id)
    if notice is None or not access.may_see(current_user(), notice.demand.process_type):
        raise NotFound("There is no such notice.")
    RetryForm()  # CSRF is checked for every POST by CSRFProtect
    reference = session.get(Demand, notice.demand_id).reference
    retry_notice(session, current_user(), notice, now=utcnow())
    session.commit()
    if notice.state == "pending":
        flash(f"The notice for {reference} will be sent on the dispatcher's next run.", "success")
    else:
        flash(f"The notice for {reference} is held: it awaits counsel's release, or a gag or deferral is in "
              "force now.", "success")
    return redirect(url_for("staff.notices"))
