"""The staff queue stays flat with the desk's size (issue 15): each list's total is
counted up to the cap (shown "1,000+"), each list is read in its index's order only as
far as its page, and "Gags to review" lists its two parts (no end, then long) one after
the other. Checked here with the cap made small, against the full order computed in
Python from every row."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from requests_desk.models import Demand, Gag
from requests_desk.models.demands import OPEN_SQL
from requests_desk.models.gags import long_gag_sql
from requests_desk.services import gags as gag_service
from requests_desk.services import queue as queue_service
from requests_desk.services import queue_gags
from requests_desk.staff import views as staff_views
from tests.factories import make_demand, make_user, page_text, query_plan

CAP = 3
REF = re.compile(r"LD-\d{4}-\d{6}")


@pytest.fixture
def busy(session, login):
    """Six overdue demands, due on different days; four gags with no end and three in
    force for over a year, set at different times; two of each on national-security
    demands (hidden from a viewer without clearance)."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    cleared = make_user(session, "counsel", "cleared", email="clara@desk.example")
    viewer = make_user(session, "counsel", email="cam@desk.example")
    login(viewer.email)
    made = {"overdue": [], "none": [], "long": []}
    for i in range(6):
        made["overdue"].append(make_demand(session, cleared, received_at=(now - timedelta(days=40 + i)).isoformat(),
                                           due_at=(now - timedelta(days=1 + 3 * i)).isoformat()))
    for i in range(7):
        kind = "none" if i < 4 else "long"
        ptype = "national_security" if i in (1, 5) else "subpoena"
        demand = make_demand(session, cleared, process_type=ptype, received_at=(now - timedelta(days=5)).isoformat())
        gag_service.set_gag(session, cleared, session.get(Demand, demand.id), {
            "order_ref": f"NDO-{i}", "issued_by": "Court",
            "expires_at": None if kind == "none" else (now + timedelta(days=700 - 50 * i)).isoformat()},
            now=now - timedelta(hours=i * 7 % 5))
        made[kind].append(demand)
    session.commit()
    return {"viewer": viewer, "cleared": cleared, "now": now, **made}


def _expected_review(session, hidden: bool) -> list[int]:
    """Every unlifted gag's demand in the list's order, in Python: no end first (by when
    set), then those in force over 365 days by their end."""
    gags = [g for g in session.query(Gag).all() if g.lifted_at is None
            and not (hidden and g.demand.process_type == "national_security")]
    none = sorted((g for g in gags if g.expires_at is None), key=lambda g: (g.set_at, g.demand_id, g.id))
    long = sorted((g for g in gags if g.expires_at is not None and g.expires_at - g.set_at > timedelta(days=365)),
                  key=lambda g: (g.expires_at, g.set_at, g.demand_id, g.id))
    return [g.demand_id for g in none + long]


@pytest.mark.parametrize("who", ["viewer", "cleared"])
def test_queue_counts_stop_past_the_cap_and_lists_keep_their_order(app, session, busy, monkeypatch, who):
    monkeypatch.setattr(queue_service, "COUNT_CAP", CAP)
    user = busy[who]
    hidden = who == "viewer"
    q = queue_service.build_queue(session, user, scope="all", limit=8, now=busy["now"])
    lists = {ql.key: ql for ql in q.lists}
    # Overdue: six, counted to the cap + 1; listed whole (8 rows fit), most overdue first.
    assert lists["overdue"].total == CAP + 1
    assert [r.id for r in lists["overdue"].rows] == [d.id for d in reversed(busy["overdue"])]
    # Gags to review: each part counted to the cap + 1, the parts added (the page says "3+").
    review = _expected_review(session, hidden)
    none_seen = 3 if hidden else 4
    long_seen = 2 if hidden else 3
    assert lists["gags_review"].total == min(none_seen, CAP + 1) + min(long_seen, CAP + 1)
    assert [r.id for r in lists["gags_review"].rows] == review
    # A page shorter than both parts: the no-end gags fill it, in order.
    short = queue_service.build_queue(session, user, scope="all", limit=2, now=busy["now"])
    assert [r.id for r in short.get("gags_review").rows] == review[:2]
    # The states' counts stop at the cap too, and the open total says "at least".
    assert q.status_counts["received"] == CAP + 1 and q.open_capped
    assert q.open_total == sum(min(v, CAP) for k, v in q.status_counts.items() if k != "closed")


def test_the_home_page_says_past_the_cap(app, client, session, busy, monkeypatch):
    monkeypatch.setattr(queue_service, "COUNT_CAP", CAP)
    monkeypatch.setattr(staff_views, "COUNT_CAP", CAP)
    html = client.get("/desk/?scope=all").get_data(as_text=True)
    start = html.index('aria-labelledby="q-overdue"')
    overdue = page_text(html[start:html.find("<section", start)])
    assert "Overdue 3+" in overdue and "See all 3+ →" in overdue
    assert re.search(r'<span class="num">\d+\+</span><span class="label">Open</span>', html)


def test_the_open_states_are_written_in_as_the_partial_index_says_them():
    """Neither database uses a partial index whose WHERE it cannot prove from the
    statement: the queue writes the open states into its statements, in the index's
    order, and migration 0011 made the index with the same WHERE."""
    clause = queue_service._open()
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        compiled = clause.compile(dialect=dialect)
        assert not compiled.params and str(compiled) == f"demands.{OPEN_SQL}"
    index = next(i for i in Demand.__table__.indexes if i.name == "ix_demands_open_due")
    assert str(index.dialect_options["sqlite"]["where"]) == OPEN_SQL
    migration = open("migrations/versions/0011_staff_queue_indexes.py").read()
    assert f'OPEN_SQL = "{OPEN_SQL}"' in migration


def test_see_all_lists_the_demands_of_the_gag_lists_parts(client, session, busy):
    """"See all" of "Gags to review" is the case list narrowed by the same parts: every
    demand with a gag of no end or in force over a year, none hidden from this reader."""
    html = client.get("/desk/demands?queue=gags_review&scope=all&per_page=50").get_data(as_text=True)
    listed = set(REF.findall(html[html.index("<tbody"):html.index("</tbody>")]))
    expected = {session.get(Demand, i).reference for i in _expected_review(session, hidden=True)}
    assert listed == expected and len(expected) == 5
    html = client.get("/desk/demands?queue=gags_expiring&scope=all").get_data(as_text=True)
    assert not REF.findall(html[html.index("<tbody"):html.index("</tbody>")])  # none ends within 30 days


def test_the_gag_counts_read_the_gags_alone(session, busy):
    """Each gag carries its demand's process type (migration 0013): the gag lists leave
    out the compartments their reader lacks by the gag's own column, counted from the
    gags' index without reading a demand's row (a join read up to 1,001 of them)."""
    for gag in session.query(Gag):
        assert gag.process_type == gag.demand.process_type
    dialect = session.get_bind().dialect
    for who, hidden in (("viewer", True), ("cleared", False)):
        visible = queue_gags.gag_visible(busy[who])
        for name in ("gags_expiring", "gags_review"):
            for part, _order in queue_gags.gag_parts(dialect.name, name, busy["now"], busy["now"]):
                sql = str(queue_gags.gag_count(part, visible, CAP).compile(dialect=dialect))
                assert "demands" not in sql and ("gags.process_type NOT IN" in sql) == hidden, sql


def test_the_long_gags_are_read_from_their_own_partial_index(session, busy):
    """"Gags to review"'s long gags (in force over 365 days) are counted and listed from
    the partial index of the long gags not lifted (migration 0016): the statements say its
    condition as the index does, its number written in, which lets either database prove
    it. Read in the index of every gag not lifted, most entries were passed over."""
    conn = session.connection()
    dialect = conn.dialect
    (_none, _), (long_part, _) = queue_gags.gag_parts(dialect.name, "gags_review", busy["now"], busy["now"])
    condition = long_gag_sql(dialect.name, "gags")
    for stmt in (queue_gags.gag_count(long_part, queue_gags.gag_visible(busy["viewer"]), CAP),
                 queue_gags.gag_rows(dialect.name, "gags_review", busy["now"], busy["now"], [], 8)):
        assert condition in str(stmt.compile(dialect=dialect))  # written in, not a parameter
        plan = query_plan(conn, stmt)
        assert any("ix_gags_unlifted_long" in p for p in plan), plan
