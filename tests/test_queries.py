"""No N+1 queries (issue 6.4): the SQL statements a page or an API call issues do not
grow with the rows it shows. Counted on the app's own engine, on SQLite and PostgreSQL."""
from __future__ import annotations

import pytest

from requests_desk.access import SYSTEM
from requests_desk import workflow
from requests_desk.services import gags as gag_service

from .factories import counted, make_customer, make_demand, make_token, make_user, query_plan

DATA_SETS = ("subscriber_info", "sign_in_logs", "email_content")


@pytest.fixture
def people(session):
    intake = make_user(session, "intake")
    counsel = make_user(session, "counsel", "admin")
    approver = make_user(session, "approver")
    make_customer(session, "Contoso", domains=("contoso.example",))
    make_customer(session, "Fabrikam", enterprise=False, domains=("fabrikam.example",))
    return intake, counsel, approver


def add_demands(session, people, count: int, targets: int) -> list:
    """Demands with several targets (resolving to customers), items, a gag on every
    other one, a review and a proposed, approved scope: everything a row can show."""
    intake, counsel, approver = people
    made = []
    for i in range(count):
        idents = [f"user{i}.{k}@{'contoso' if k % 2 == 0 else 'fabrikam'}.example" for k in range(targets)]
        idents.append(f"someone{i}@mailbox.example")
        requested = [{"target": t, "data_set": ds, "from": "2026-01-01", "to": "2026-03-31"}
                     for t in idents for ds in DATA_SETS]
        demand = make_demand(session, intake, commit=False, targets=idents, requested=requested)
        if i % 2:
            gag_service.set_gag(session, counsel, demand, {"order_ref": f"NDO {i}", "issued_by": "Court",
                                                          "expires_at": None})
        workflow.apply_action(session, counsel, demand, "start-review", {"reason": "Direct review."})
        workflow.apply_action(session, counsel, demand, "assign", {"assignee": counsel.email, "reason": "Mine."})
        scope = [dict(r, to="2026-02-28") for r in requested if r["data_set"] != "email_content"]
        workflow.apply_action(session, counsel, demand, "propose-scope", {"items": scope})
        workflow.apply_action(session, approver, demand, "approve", {})
        made.append(demand)
    session.commit()
    return made


def signed_in(client, user) -> None:
    from .factories import login

    assert login(client, user.email).status_code == 302


def statements_for(app, fetch) -> list[str]:
    fetch()  # warm up: templates, first-request work
    with counted(app) as statements:
        response = fetch()
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return statements


def test_case_list_and_api_list_do_not_grow_with_rows(app, client, session, people):
    _, counsel, _ = people
    token = make_token(session, counsel)
    signed_in(client, counsel)
    headers = {"Authorization": f"Bearer {token}"}
    pages = {
        "case list": lambda: client.get("/desk/demands?per_page=100"),
        "case list, filtered": lambda: client.get("/desk/demands?status=approved&country=US&per_page=100"),
        "case list, by customer": lambda: client.get("/desk/demands?customer=1&sort=due_at&per_page=100"),
        "API list": lambda: client.get("/api/v1/demands?per_page=100", headers=headers),
    }
    add_demands(session, people, 4, targets=2)
    few = {name: statements_for(app, fetch) for name, fetch in pages.items()}
    add_demands(session, people, 36, targets=5)
    # Signed in afresh: a worker signs its reader in from its own copy of the session,
    # but reads the row once a minute to note the visit; on a slow machine that minute
    # could fall between a page's warm-up and its counted request.
    signed_in(client, counsel)
    many = {name: statements_for(app, fetch) for name, fetch in pages.items()}

    shown = client.get("/api/v1/demands?per_page=100", headers=headers).get_json()
    assert shown["total"] == 40 and len(shown["items"]) == 40
    # The list gives each demand's number of targets, not the targets (SPEC §6: bounded pages).
    assert sum(d["targets_count"] for d in shown["items"]) > 200
    assert all("targets" not in d for d in shown["items"])
    listing = client.get("/desk/demands?per_page=100").get_data(as_text=True)
    assert listing.count("LD-") >= 40
    for name in pages:
        assert len(many[name]) <= len(few[name]), (
            f"{name}: {len(few[name])} statements for 4 demands, {len(many[name])} for 40:\n"
            + "\n".join(many[name]))
        assert len(many[name]) <= 15, "\n".join(many[name])
        if name.startswith("case list"):
            # The read model (issue 15): the rule table, the capped count, the page, its
            # targets/gags/flags, the customer filter's options; the reader signed in from
            # the worker's copy of the session, no SQL.
            assert len(many[name]) <= 5, "\n".join(many[name])


def test_case_page_and_api_get_do_not_grow_with_the_demand(app, client, session, people):
    _, counsel, _ = people
    token = make_token(session, counsel)
    signed_in(client, counsel)
    headers = {"Authorization": f"Bearer {token}"}
    small = add_demands(session, people, 1, targets=1)[0]
    large = add_demands(session, people, 1, targets=12)[0]
    # The same kinds of history on both, the large one much longer: due-date changes,
    # reassignments, gags set and lifted.
    for demand, times in ((small, 1), (large, 6)):
        for day in range(1, times + 1):
            workflow.apply_action(session, counsel, demand, "set-due",
                                  {"due_at": f"2027-01-{day:02d}T12:00:00Z", "reason": f"Extension {day}."})
            workflow.apply_action(session, counsel, demand, "assign",
                                  {"assignee": counsel.email, "reason": f"R{day}"})
            gag_service.set_gag(session, counsel, demand, {"order_ref": f"NDO {day}", "issued_by": "Court",
                                                           "expires_at": None})
            gag_service.lift_gag(session, counsel, demand, {"reason": "Lifted."})
    session.commit()
    assert len(large.items) > 5 * len(small.items)

    def case(d):
        return lambda: client.get(f"/desk/demands/{d.id}")

    def api(d):
        return lambda: client.get(f"/api/v1/demands/{d.id}", headers=headers)

    for name, fetch in (("case page", case), ("API GET", api)):
        few, many = statements_for(app, fetch(small)), statements_for(app, fetch(large))
        assert len(many) <= len(few), (
            f"{name}: {len(few)} statements for a small demand, {len(many)} for a large one:\n" + "\n".join(many))
        if name == "case page":
            # The plain read (staff/case_read.py): the demand's row, one UNION of its
            # children and its history, the users these name; then counsel for the assign
            # form. 18 through the ORM before it, 24 before the hold, the deferral, roles
            # and repeats were cut.
            assert len(many) <= 4, "\n".join(many)
    page = client.get(f"/desk/demands/{large.id}").get_data(as_text=True)
    assert large.reference in page and "user0.11@fabrikam.example" in page
    body = client.get(f"/api/v1/demands/{large.id}", headers=headers).get_json()
    assert len(body["targets"]) == 13 and len(body["scope"]) == 26


LIST_QUERIES = [
    {}, {"status": "approved"}, {"status": "open"}, {"country": "DE"}, {"process_type": "subpoena"},
    {"customer": "1"}, {"overdue": "1"}, {"status": "closed", "country": "FR", "process_type": "search_warrant"},
    {"sort": "due_at"}, {"sort": "-due_at"}, {"sort": "reference"}, {"sort": "status"}, {"sort": "country"},
    {"sort": "received_at"}, {"q": "LD-2026-000001"}, {"q": "user1"},
]


@pytest.mark.parametrize("args", LIST_QUERIES, ids=lambda a: "&".join(f"{k}={v}" for k, v in a.items()) or "all")
def test_every_list_filter_and_sort_has_an_index(app, session, people, args):
    """The case list's page and count queries never read the demands table row by row
    without an index: the text search (``q``) too, through the search index
    (requests_desk/search_terms.py)."""
    from sqlalchemy import func, select

    from requests_desk.models import Demand
    from requests_desk.services import case_list

    add_demands(session, people, 3, targets=2)
    f = case_list.parse_filters(args)
    stmt = case_list.filtered_query(session, f, SYSTEM)
    column = case_list.SORTS[f.sort.lstrip("-")]
    page = stmt.order_by(column.desc() if f.sort.startswith("-") else column.asc(), Demand.id.desc()).limit(50)
    count = select(func.count()).select_from(stmt.order_by(None).subquery())
    conn = session.connection()
    dialect = conn.dialect
    for query in (page, count):
        sql = str(query.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
        if dialect.name == "sqlite":
            plan = [row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql)]
            assert not any(p.strip() in ("SCAN demands", "SCAN demand_targets") for p in plan), plan
        else:
            conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
            plan = [row[0] for row in conn.exec_driver_sql("EXPLAIN " + sql)]
            assert not any("Seq Scan on demands" in p or "Seq Scan on demand_targets" in p for p in plan), plan


@pytest.mark.parametrize("awaiting_counsel", [True, False])
def test_the_held_notices_are_read_in_their_index_order(app, session, people, awaiting_counsel):
    """The notices page's held lists walk the notices' (state, id) index newest first
    and stop at their page: neither database sorts the held notices (they grow with the
    desk)."""
    from requests_desk.staff.notices import rows_statement

    add_demands(session, people, 3, targets=2)
    _walks_unsorted(session.connection(), rows_statement("held", SYSTEM, awaiting_counsel=awaiting_counsel),
                    "ix_notices_state_id")


def test_the_portal_reads_a_page_of_notices_in_its_index_order(app, session, people):
    """The customer portal's list walks the notices' (customer_id, created_at, id) index
    newest first and stops at its page: neither database sorts an organisation's
    notices (they grow with the desk)."""
    from datetime import datetime, timezone

    from sqlalchemy import select

    from requests_desk.models import Notice, gag_active_clause
    from requests_desk.portal.views import newest_first

    add_demands(session, people, 3, targets=2)
    conn = session.connection()
    now = datetime(2026, 6, 1, tzinfo=timezone.utc)
    visible = select(Notice).where(Notice.customer_id == 1, Notice.state != "held",
                                   ~gag_active_clause(Notice.demand_id, now))  # as portal/scope.py says it
    _walks_unsorted(conn, newest_first(visible).limit(51), "ix_notices_customer_created")


def _walks_unsorted(conn, stmt, index: str) -> None:
    """``stmt`` is read through ``index`` and sorts nothing (SQLite: no temporary B-tree;
    PostgreSQL: no Sort node, sorts priced out)."""
    plan = query_plan(conn, stmt, no_sort=True)
    sorting = "TEMP B-TREE" if conn.dialect.name == "sqlite" else "Sort"
    assert any(index in p for p in plan) and not any(sorting in p for p in plan), plan
