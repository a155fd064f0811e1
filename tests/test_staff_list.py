"""The case list (/desk/demands) and the queue (/desk/): filters, search, sorting, paging,
badges, bad filter values, the queue's lists and their "see all" links, and a fixed
number of queries however many demands there are."""
from __future__ import annotations

import re
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, strategies as st
from markupsafe import escape
from sqlalchemy import event

from requests_desk import web, workflow
from requests_desk.models import Demand
from requests_desk.services import gags as gag_service
from requests_desk.web import escaped_text
from tests.factories import make_customer, make_demand, make_user, page_text

REF = re.compile(r"LD-\d{4}-\d{6}")


def refs(response) -> list[str]:
    """References in the order the table lists them."""
    html = response.get_data(as_text=True)
    body = html[html.index("<tbody"):html.index("</tbody>")]
    return list(dict.fromkeys(REF.findall(body)))


def ago(**kw) -> datetime:
    return datetime.now(timezone.utc) - timedelta(**kw)


def iso(dt: datetime) -> str:
    return dt.replace(microsecond=0).isoformat()


@pytest.fixture
def staff(session, login):
    user = make_user(session, "counsel", "approver", email="cam@desk.example")
    login(user.email)
    return user


@pytest.fixture
def sample(session, staff):
    contoso = make_customer(session, "Contoso", domains=("contoso.com",))
    make_customer(session, "Fabrikam", domains=("fabrikam.de",))
    a = make_demand(session, staff, targets=["alice@contoso.com"], country="DE", process_type="subpoena",
                    legal_reference="DOCKET-ALPHA", received_at=iso(ago(days=3)),
                    requested=[{"target": "alice@contoso.com", "data_set": "subscriber_info",
                                "from": "2026-01-01", "to": "2026-01-02"}])
    b = make_demand(session, staff, targets=["bob@fabrikam.de"], country="US", legal_reference="DOCKET-BRAVO",
                    received_at=iso(ago(days=20)),
                    requested=[{"target": "bob@fabrikam.de", "data_set": "email_content",
                                "from": "2026-01-01", "to": "2026-01-02"}])
    c = make_demand(session, staff, targets=["carol@gmail.example"], country="US", legal_reference="DOCKET-CHARLIE",
                    received_at=iso(ago(days=1)), emergency=True, justification="Threat to life",
                    gag={"order_ref": "NDO-1", "issued_by": "Court", "expires_at": None},
                    requested=[{"target": "carol@gmail.example", "data_set": "sign_in_logs",
                                "from": "2026-01-01", "to": "2026-01-02"}])
    workflow.apply_action(session, staff, session.get(Demand, a.id), "withdraw", {})
    session.commit()
    return {"a": a, "b": b, "c": c, "contoso": contoso}


def test_list_shows_demands_with_badges(client, sample):
    r = client.get("/desk/demands")
    text = page_text(r)
    assert r.status_code == 200
    assert refs(r) == [sample["c"].reference, sample["a"].reference, sample["b"].reference]  # newest first
    assert "3 demands" in text
    row_c = text[text.index(sample["c"].reference):text.index(sample["a"].reference)]
    assert "Emergency" in row_c and "Gag" in row_c and "carol@gmail.example" in row_c
    row_b = text[text.index(sample["b"].reference):]
    assert "Overdue" in row_b and "days overdue" in row_b and "Fabrikam" in row_b
    assert "Withdrawn" in text[text.index(sample["a"].reference):text.index(sample["b"].reference)]


@pytest.mark.parametrize("query,expected", [
    ("status=open", ["c", "b"]),
    ("status=closed", ["a"]),
    ("status=received", ["c", "b"]),
    ("country=de", ["a"]),
    ("process_type=subpoena", ["a"]),
    ("overdue=1", ["c", "b"]),  # the emergency was due 24 hours after receipt
    ("q=DOCKET-BRAVO", ["b"]),
    ("q=BOB@Fabrikam.DE", ["b"]),
    ("q=ld-", ["c", "a", "b"]),
    ("status=open&country=US&q=docket-ch", ["c"]),
    ("q=CAROL", ["c"]),  # the start of an account identifier
    ("q=charlie", []),  # the middle of a value is not searched (the index holds the values' starts)
])
def test_filters_and_search(client, sample, query, expected):
    r = client.get(f"/desk/demands?{query}")
    assert r.status_code == 200
    assert refs(r) == [sample[k].reference for k in expected]


def test_customer_filter(client, sample):
    r = client.get(f"/desk/demands?customer={sample['contoso'].id}")
    assert refs(r) == [sample["a"].reference]
    assert 'selected>Contoso</option>' in r.get_data(as_text=True)


def test_search_follows_changed_identifiers(client, session, sample):
    """The search index follows a changed target identifier (retention's redaction does
    this) and a deleted target, whatever wrote the change (here: plain SQL)."""
    from sqlalchemy import text

    session.execute(text("UPDATE demand_targets SET identifier = 'redacted:0123' WHERE identifier = :i"),
                    {"i": "bob@fabrikam.de"})
    session.commit()
    assert refs(client.get("/desk/demands?q=bob@")) == []
    assert refs(client.get("/desk/demands?q=redacted:")) == [sample["b"].reference]
    assert refs(client.get("/desk/demands?q=docket-bravo")) == [sample["b"].reference]
    session.execute(text("DELETE FROM demand_targets WHERE identifier = 'redacted:0123'"))
    session.commit()
    assert refs(client.get("/desk/demands?q=redacted:")) == []


def test_search_by_reference(client, sample):
    assert refs(client.get(f"/desk/demands?q={sample['b'].reference.lower()}")) == [sample["b"].reference]


@pytest.mark.parametrize("sort,order", [
    ("received_at", ["b", "a", "c"]),
    ("-received_at", ["c", "a", "b"]),
    ("country", None),
    ("due_at", ["b", "c", "a"]),
    ("-reference", ["c", "b", "a"]),
])
def test_sorting(client, sample, sort, order):
    r = client.get(f"/desk/demands?sort={sort}")
    got = refs(r)
    if order is None:  # DE before US
        assert got[0] == sample["a"].reference
    else:
        assert got == [sample[k].reference for k in order]
    html = r.get_data(as_text=True)
    assert 'aria-sort="' in html


def test_sort_links_toggle_and_keep_filters(client, sample):
    html = client.get("/desk/demands?status=open&sort=due_at").get_data(as_text=True)
    assert 'href="/desk/demands?status=open&amp;sort=-due_at"' in html
    assert 'href="/desk/demands?status=open&amp;sort=reference"' in html


def link(response, rel: str) -> str | None:
    """The pager's link ``rel`` (first, prev, next, last), or None when it is not offered."""
    match = re.search(rf'<a href="([^"]+)" rel="{rel}">', response.get_data(as_text=True))
    return match.group(1).replace("&amp;", "&") if match else None


def test_paging_by_key(client, session, staff):
    """Pages follow one another by key (the last row's id), forwards and back, with
    first and last; each page is numbered while the count is exact."""
    made = [make_demand(session, staff, received_at=iso(ago(hours=i + 1)), commit=False) for i in range(7)]
    session.commit()
    first = client.get("/desk/demands?per_page=3")
    assert refs(first) == [d.reference for d in made[:3]]
    text = page_text(first)
    assert "Page 1 of 3" in text and "7 demands" in text
    assert link(first, "prev") is None and link(first, "first") is None
    second = client.get(link(first, "next"))
    assert link(first, "next") == f"/desk/demands?per_page=3&after={made[2].id}&page=2"
    assert refs(second) == [d.reference for d in made[3:6]] and "Page 2 of 3" in page_text(second)
    third = client.get(link(second, "next"))
    assert refs(third) == [made[6].reference] and "Page 3 of 3" in page_text(third)
    assert link(third, "next") is None and link(third, "last") is None
    back = client.get(link(third, "prev"))
    assert refs(back) == refs(second) and "Page 2 of 3" in page_text(back)
    assert refs(client.get(link(back, "prev"))) == refs(first)
    last = client.get(link(first, "last"))
    assert refs(last) == [made[6].reference] and "Page 3 of 3" in page_text(last)
    assert refs(client.get(link(last, "first"))) == refs(first)
    # A sort keeps its own order across pages (country, then received, then id; all one way).
    by_ref = client.get("/desk/demands?per_page=3&sort=-reference")
    assert refs(by_ref) + refs(client.get(link(by_ref, "next"))) == sorted((d.reference for d in made),
                                                                           reverse=True)[:6]
    # An old link's page=N still opens that page (by OFFSET).
    assert refs(client.get("/desk/demands?per_page=3&page=3")) == [made[6].reference]
    assert refs(client.get("/desk/demands?per_page=3&page=9")) == []
    assert client.get("/desk/demands?after=abc").status_code == 422


def test_count_stops_at_the_cap(client, session, staff, monkeypatch):
    """The count is exact up to COUNT_CAP, then "N+" (and the pager no longer says "of")."""
    from requests_desk.services import keyset

    for i in range(4):
        make_demand(session, staff, received_at=iso(ago(hours=i + 1)), commit=False)
    session.commit()
    monkeypatch.setattr(keyset, "COUNT_CAP", 3)
    monkeypatch.setattr("requests_desk.staff.views.COUNT_CAP", 3)
    r = client.get("/desk/demands?per_page=2")
    text = page_text(r)
    assert "3+ demands" in text and "Page 1" in text and "Page 1 of" not in text
    second = client.get(link(r, "next"))
    assert len(refs(second)) == 2 and link(second, "next") is None
    assert "Page 2" in page_text(second) and len(refs(client.get(link(r, "last")))) == 2


@pytest.mark.parametrize("query,field,message", [
    ("country=XX", "Country", "XX is not an ISO 3166-1 country code"),
    ("status=lost", "Status", "is not a known status"),
    ("process_type=hunch", "Process type", "is not a known process type"),
    ("customer=abc", "Customer", "must be a customer id"),
    ("page=0", "Page", "must be at least 1"),
    ("per_page=5000", "Per page", "must be between 1 and 200"),
    ("sort=secret", "Sort", "must be one of"),
    ("queue=someday", "Queue", "is not a known queue"),
])
def test_bad_filter_values_show_the_error(client, sample, query, field, message):
    r = client.get(f"/desk/demands?{query}")
    assert r.status_code == 422
    text = page_text(r)
    assert "Some filters could not be used." in text
    assert f"{field}: {message}" in text


# ---------------------------------------------------------------- the queue


@pytest.fixture
def queue_desk(session, staff):
    """One demand for each queue list, plus one that belongs to nobody's queue."""
    now = datetime.now(timezone.utc)
    other = make_user(session, "counsel", email="otto@desk.example")
    d = {}
    d["emergency"] = make_demand(session, staff, legal_reference="EMERG", emergency=True, justification="Life",
                                 received_at=iso(ago(hours=2)))
    d["overdue"] = make_demand(session, staff, legal_reference="LATE", received_at=iso(ago(days=20)))
    d["due_soon"] = make_demand(session, staff, legal_reference="SOON", received_at=iso(ago(days=13)))
    d["later"] = make_demand(session, staff, legal_reference="LATER", received_at=iso(ago(days=1)))
    d["theirs"] = make_demand(session, staff, legal_reference="THEIRS", received_at=iso(ago(days=30)))
    theirs = session.get(Demand, d["theirs"].id)
    workflow.apply_action(session, staff, theirs, "assign", {"assignee": other.email, "reason": "Otto's"})
    # awaiting approval: proposed by someone else
    d["approval"] = make_demand(session, staff, legal_reference="APPROVE", process_type="court_order",
                                received_at=iso(ago(days=2)),
                                requested=[{"target": "alice@example.org", "data_set": "sign_in_logs",
                                            "from": "2026-01-01", "to": "2026-01-31"}])
    ap = session.get(Demand, d["approval"].id)
    workflow.apply_action(session, other, ap, "start-review", {})
    workflow.apply_action(session, other, ap, "propose-scope", {"items": [
        {"target": "alice@example.org", "data_set": "sign_in_logs", "from": "2026-01-01", "to": "2026-01-31"}]})
    # a hold lapsing: preserved 80 days ago (hold of 90 days)
    d["holds"] = make_demand(session, staff, legal_reference="HOLD", process_type="preservation",
                             received_at=iso(ago(days=81)))
    hd = session.get(Demand, d["holds"].id)
    workflow.apply_action(session, staff, hd, "start-review", {}, now=now - timedelta(days=80))
    workflow.apply_action(session, staff, hd, "preserve", {"items": [
        {"target": "alice@example.org", "data_set": "email_content", "from": "2026-01-01", "to": "2026-03-31"}]},
        now=now - timedelta(days=80))
    # gags: one expiring in 10 days, one with no end, one in force for over a year
    d["gags_expiring"] = make_demand(session, staff, legal_reference="GAG-SOON", received_at=iso(ago(days=5)),
                                     gag={"order_ref": "NDO-SOON", "issued_by": "Court",
                                          "expires_at": iso(now + timedelta(days=10))})
    d["gags_review"] = make_demand(session, staff, legal_reference="GAG-LONG", received_at=iso(ago(days=5)),
                                   gag={"order_ref": "NDO-LONG", "issued_by": "Court",
                                        "expires_at": iso(now + timedelta(days=400))})
    d["gag_none"] = make_demand(session, staff, legal_reference="GAG-NONE", received_at=iso(ago(days=5)))
    gag_service.set_gag(session, staff, session.get(Demand, d["gag_none"].id),
                        {"order_ref": "NDO-NONE", "issued_by": "FISC", "expires_at": None})
    session.commit()
    return d


def section(html: str, key: str) -> str:
    start = html.index(f'aria-labelledby="q-{key}"')
    end = html.find("<section", start)
    return page_text(html[start:end if end > 0 else None])


def test_queue_lists_in_order_with_the_right_demands(client, queue_desk):
    html = client.get("/desk/").get_data(as_text=True)
    order = [m.group(1) for m in re.finditer(r'aria-labelledby="q-([a-z_]+)"', html)]
    assert order == ["emergency", "overdue", "due_soon", "approval", "holds", "later", "gags_expiring",
                     "gags_review", "notices_counsel"]
    refs_of = {k: REF.findall(section(html, k)) for k in order}
    ref = {k: v.reference for k, v in queue_desk.items()}
    assert refs_of["emergency"] == [ref["emergency"]]
    assert ref["overdue"] in refs_of["overdue"] and ref["theirs"] not in refs_of["overdue"]
    assert ref["emergency"] not in refs_of["overdue"]
    assert ref["due_soon"] in refs_of["due_soon"] and ref["later"] not in refs_of["due_soon"]
    assert refs_of["approval"] == [ref["approval"]]
    assert ref["later"] in refs_of["later"] and ref["due_soon"] not in refs_of["later"]
    assert refs_of["holds"] == [ref["holds"]]
    assert refs_of["gags_expiring"] == [ref["gags_expiring"]]
    assert refs_of["gags_review"] == [ref["gag_none"], ref["gags_review"]]  # no end date first
    assert "No end date" in section(html, "gags_review")
    # everyone's: the demand assigned to another counsel shows too
    all_html = client.get("/desk/?scope=all").get_data(as_text=True)
    assert ref["theirs"] in section(all_html, "overdue")


def test_queue_counts_by_status(client, queue_desk):
    text = page_text(client.get("/desk/"))
    # 9 open: everything but the preserved demand; 1 scoped; 1 closed
    assert re.search(r"\b9 Open\b", text) and re.search(r"\b1 Scoped\b", text) and re.search(r"\b1 Closed\b", text)


def test_queue_counts_closed_demands_up_to_the_cap(client, session, staff, monkeypatch):
    """The archive is counted up to the list's cap (it only grows); open states exactly."""
    from requests_desk.services import queue

    made = [make_demand(session, staff, received_at=iso(ago(hours=i + 1))) for i in range(4)]
    for d in made[:3]:
        workflow.apply_action(session, staff, session.get(Demand, d.id), "withdraw", {})
    session.commit()
    text = page_text(client.get("/desk/"))
    assert re.search(r"\b3 Closed\b", text) and re.search(r"\b1 Open\b", text)
    monkeypatch.setattr(queue, "COUNT_CAP", 2)
    monkeypatch.setattr("requests_desk.staff.views.COUNT_CAP", 2)
    text = page_text(client.get("/desk/"))
    assert re.search(r"\b2\+ Closed\b", text) and re.search(r"\b1 Open\b", text)
    assert re.search(r"\b1 Received\b", text)


def test_see_all_opens_the_filtered_list(client, session, staff):
    for i in range(10):
        make_demand(session, staff, received_at=iso(ago(days=20, hours=i)), commit=False)
    session.commit()
    html = client.get("/desk/").get_data(as_text=True)
    assert len(REF.findall(section(html, "overdue"))) == 8  # bounded
    assert "See all 10" in section(html, "overdue")
    assert 'href="/desk/demands?queue=overdue&amp;scope=mine"' in html
    r = client.get("/desk/demands?queue=overdue&scope=mine")
    assert len(refs(r)) == 10 and "Overdue · mine and unassigned" in page_text(r)


def test_approval_list_only_for_approvers(client, session, login):
    user = make_user(session, "intake")
    login(user.email)
    html = client.get("/desk/").get_data(as_text=True)
    assert 'q-approval' not in html and 'q-gags_review' not in html and 'q-emergency' in html


def test_the_queue_lists_each_demand_once(client, session, staff, queue_desk):
    """Issue 16.6: the work lists and the approvals list a demand once: a scope awaiting
    my approval is listed under "Awaiting my approval" only, not again by its due date; a scope I proposed myself (I cannot approve it, but as
    counsel I may withdraw it) stays in the work lists and is no approval of mine."""
    mine = make_demand(session, staff, legal_reference="MINE", process_type="court_order",
                       received_at=iso(ago(days=2)),
                       requested=[{"target": "alice@example.org", "data_set": "sign_in_logs",
                                   "from": "2026-01-01", "to": "2026-01-31"}])
    demand = session.get(Demand, mine.id)
    workflow.apply_action(session, staff, demand, "start-review", {})
    workflow.apply_action(session, staff, demand, "propose-scope", {"items": [
        {"target": "alice@example.org", "data_set": "sign_in_logs", "from": "2026-01-01", "to": "2026-01-31"}]})
    session.commit()
    for scope in ("mine", "all"):
        html = client.get(f"/desk/?scope={scope}").get_data(as_text=True)
        # Gags and notices awaiting counsel are reviews of another kind, listed beside.
        listed = Counter(ref for key in ("emergency", "overdue", "due_soon", "approval", "holds", "later")
                         for ref in REF.findall(section(html, key)))
        assert listed and set(listed.values()) == {1}, listed
        approval = queue_desk["approval"].reference
        assert REF.findall(section(html, "approval")) == [approval]
        assert approval not in section(html, "later")
        assert mine.reference in section(html, "later") and mine.reference not in section(html, "approval")
    r = client.get("/desk/demands?queue=later&scope=all")
    assert queue_desk["approval"].reference not in refs(r) and mine.reference in refs(r)


def test_an_approver_is_offered_only_the_scopes_to_approve(client, session, login, queue_desk):
    """An approver (no other role) acts only on scopes others proposed: the queue lists
    those, never a demand in review or received that the approver cannot act on."""
    approver = make_user(session, "approver")
    login(approver.email)
    html = client.get("/desk/?scope=all").get_data(as_text=True)
    lists = re.findall(r'aria-labelledby="q-([a-z_]+)"', html)
    assert lists == ["approval"]
    assert REF.findall(html) == [queue_desk["approval"].reference]
    for name in ("emergency", "overdue", "due_soon", "later", "holds"):
        assert refs(client.get(f"/desk/demands?queue={name}&scope=all")) == [], name
    assert refs(client.get("/desk/demands?queue=approval&scope=all")) == [queue_desk["approval"].reference]


def _queue_read(queue) -> tuple:
    return (queue.status_counts, queue.open_total, queue.open_capped,
            [(q.key, q.total, [(r.id, r.extra) for r in q.rows]) for q in queue.lists])


def test_a_planned_queue_reads_what_a_queue_built_afresh_reads(session, staff, queue_desk):
    """The home's statements are built once per shape of queue and run with the reader's
    id and the times as parameters: a plan another reader of the same roles made, or made
    at another time, reads what one built for this reader and time reads. Two pairs of
    readers of one shape each; each list's "mine", approvals and due dates turn on them."""
    from sqlalchemy import select

    from requests_desk import statements
    from requests_desk.models import User
    from requests_desk.services.queue import build_queue

    otto = session.scalar(select(User).where(User.email == "otto@desk.example"))
    ana = make_user(session, "counsel", "approver", email="ana@desk.example")
    olga = make_user(session, "counsel", email="olga@desk.example")
    # A scope cam proposed: awaiting ana's approval, not cam's own.
    mine = make_demand(session, staff, legal_reference="CAMS", process_type="court_order",
                       received_at=iso(ago(days=3)), requested=[{"target": "alice@example.org", "data_set":
                                                                 "sign_in_logs", "from": "2026-01-01",
                                                                 "to": "2026-01-31"}])
    demand = session.get(Demand, mine.id)
    workflow.apply_action(session, staff, demand, "start-review", {})
    workflow.apply_action(session, staff, demand, "propose-scope", {"items": [
        {"target": "alice@example.org", "data_set": "sign_in_logs", "from": "2026-01-01", "to": "2026-01-31"}]})
    session.commit()
    now = datetime.now(timezone.utc).replace(microsecond=0)
    cases = [(user, scope, at) for user in (staff, ana, otto, olga) for scope in ("mine", "all")
             for at in (now, now + timedelta(days=2), now + timedelta(days=12), now - timedelta(days=4))]

    def read(user, scope, at):
        return _queue_read(build_queue(session, user, scope=scope, now=at,
                                       acts_on=workflow.states_acted_on(user)))

    fresh = {}
    for user, scope, at in cases:
        statements._PLANS.clear()
        fresh[user.id, scope, at] = read(user, scope, at)
    statements._PLANS.clear()
    for user, scope, at in cases:
        assert read(user, scope, at) == fresh[user.id, scope, at], (user.email, scope, at)
    # The readers' queues differ where their ids and the times say they should.
    assert fresh[staff.id, "all", now] != fresh[ana.id, "all", now]
    assert fresh[otto.id, "mine", now] != fresh[olga.id, "mine", now]
    assert fresh[staff.id, "all", now] != fresh[staff.id, "all", now + timedelta(days=12)]
    # Another reader of the same shape, at another time: no statement built again.
    statements._PLANS.clear()
    read(ana, "all", now)
    kept = dict(statements._PLANS)
    read(staff, "all", now + timedelta(days=1))
    assert statements._PLANS == kept and len(kept) >= 3


def test_queue_costs_the_same_queries_for_more_demands(app, client, session, staff, queue_desk):
    engine = app.extensions["desk"]["engine"]
    statements: list[str] = []

    def count(*args, **kwargs):
        statements.append(args[2])

    client.get("/desk/?scope=all")  # the first request reads the session; later ones remember it
    event.listen(engine, "before_cursor_execute", count)
    try:
        client.get("/desk/?scope=all")
        few = len(statements)
        for i in range(25):
            make_demand(session, staff, targets=[f"user{i}@example.org", f"other{i}@example.org"],
                        requested=[{"target": f"user{i}@example.org", "data_set": "sign_in_logs",
                                    "from": "2026-01-01", "to": "2026-01-02"}],
                        received_at=iso(ago(days=20 if i % 2 else 13, hours=i)), commit=False,
                        gag={"order_ref": f"N{i}", "issued_by": "C", "expires_at": None} if i % 3 == 0 else None)
        session.commit()
        statements.clear()
        client.get("/desk/?scope=all")
        many = len(statements)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert many == few, (few, many)
    assert many < 40


def test_unknown_or_huge_customer_id_lists_nothing(client, sample):
    for value in ("99999999999", "424242", "-3"):
        r = client.get(f"/desk/demands?customer={value}")
        assert r.status_code == 200 and refs(r) == []


@pytest.mark.parametrize("args", [
    {}, {"status": "open", "page": None, "after": ""}, {"q": "a b&c=d/é?#%+!$'()*,;:@[]<>\""},
    {"sort": "-due_at", "after": 123, "page": 4, "customer": 0}, {"country": ["DE", "", "FR"]},
], ids=range(5))
def test_list_links_are_the_ones_url_for_builds(app, args):
    """The list's sort and pager links (``demands_url``) build the path once a request and
    encode the query themselves: the same address as url_for, empty values left out."""
    from flask import url_for

    from requests_desk.staff.filters import demands_url

    with app.test_request_context("/desk/demands", base_url="http://desk.example/root"):
        expected = url_for("staff.demands", **{k: v for k, v in args.items() if v not in (None, "")})
        assert demands_url(**args) == expected
        assert demands_url(**args) == expected  # the path as remembered for the request


def test_what_users_typed_is_escaped_in_the_rows(client, session, staff):
    """The list's rows print without autoescape (a third of its template time); every
    cell a user or a file typed is escaped by name. Raw markup in any of them would be
    live on the page."""
    make_customer(session, '<s>Cust</s> & "Co"', accounts=("acct-xss",))
    requester = {"agency": "<b>Bad Agency</b>", "name": "Det. X", "email": "x@police.example",
                 "type": "law_enforcement"}
    make_demand(session, staff, requester=requester, legal_reference="<i>REF</i>", targets=["acct-xss"],
                requested=[{"target": "acct-xss", "data_set": "subscriber_info", "from": "2026-01-01",
                            "to": "2026-01-02"}],
                gag={"order_ref": "<u>NDO</u>", "issued_by": "<em>Court</em>", "expires_at": None})
    agency, customer = "&lt;b&gt;Bad Agency&lt;/b&gt;", "&lt;s&gt;Cust&lt;/s&gt; &amp; &#34;Co&#34;"
    pages = {  # the case list; the staff home's work lists and its gag list (order and issuer)
        "/desk/demands": (("<b>Bad", "<i>REF", "<u>NDO", "<s>Cust", '& "Co"'),
                          (agency, "&lt;i&gt;REF&lt;/i&gt;", "Gag order &lt;u&gt;NDO&lt;/u&gt;", customer)),
        "/desk/?scope=all": (("<b>Bad", "<u>NDO", "<em>Court", "<s>Cust", '& "Co"'),
                             (agency, "<td>&lt;u&gt;NDO&lt;/u&gt;</td>", "<td>&lt;em&gt;Court&lt;/em&gt;</td>", customer)),
    }
    for path, (raws, escapes) in pages.items():
        html = client.get(path).get_data(as_text=True)
        for raw in raws:
            assert raw not in html, path
        for escaped in escapes:
            assert escaped in html, path


def test_what_users_typed_is_escaped_in_the_case_pages_tables_and_timeline(client, session, staff):
    """The case page's data tables and timeline print without autoescape too (their
    rows are half its template's time): typed text in them is escaped by name."""
    make_customer(session, "Cust", accounts=("acct-xss",))
    demand = make_demand(session, staff, targets=["acct-xss"],
                         requested=[{"target": "acct-xss", "data_set": "subscriber_info", "from": "2026-01-01",
                                     "to": "2026-01-02"}],
                         gag={"order_ref": "<u>NDO</u> & \"2026-01-05\"", "issued_by": "Court", "expires_at": None})
    html = client.get(f"/desk/demands/{demand.id}").get_data(as_text=True)
    timeline = html[html.index('<ol class="timeline">'):]
    assert "<u>NDO" not in html
    assert ("Recorded a gag order (&lt;u&gt;NDO&lt;/u&gt; &amp; &#34;<span class=\"nowrap\">2026-01-05</span>&#34;)"
            in timeline)
    requested = html[html.index('id="requested"'):html.index("</section>", html.index('id="requested"'))]
    assert '<td class="ident">acct-xss</td>' in requested and '<td class="date">2026-01-01</td>' in requested
    assert '<td>Subscriber information</td>' in requested
    assert '<td><span class="tier tier-subscriber">subscriber</span></td>' in requested


@given(st.text())
def test_the_rows_escape_writes_what_markupsafe_writes(text):
    """``|esc`` (the rows' escape, a plain str) writes the same entities as autoescape,
    through markupsafe's C escape or, without it, the replacements in Python."""
    assert type(escaped_text(text)) is str and escaped_text(text) == str(escape(text))
    assert web._replace_escape(text) == str(escape(text))
    assert escaped_text(7) == "7"


def test_the_rows_escape_is_markupsafes_own_where_it_has_one():
    """markupsafe's C speedups are installed with it here: the rows use its escape."""
    from markupsafe import _speedups

    assert web._escape_str is _speedups._escape_inner


def test_queue_counts_carry_thousands_separators(app, session):
    """The queue's cards and list headings print 1,515, not 1515 (rendered with a queue
    of those sizes: a desk of that many open demands is too slow to build per test)."""
    from flask import g, render_template

    from requests_desk.db import utcnow
    from requests_desk.services.keyset import COUNT_CAP
    from requests_desk.services.queue import Queue, QueueList

    user = make_user(session, "counsel")
    session.commit()
    queue = Queue(scope="mine", lists=[QueueList("overdue", "Overdue", 999, [], {"overdue": "1"}),
                                       QueueList("later", "Later", 1_001, [], {"later": "1"})],
                  status_counts={"received": 1_000, "closed": 5_000}, open_total=1515)
    with app.test_request_context("/desk/"):
        g.user = user
        html = render_template("staff/home.html", queue=queue, now=utcnow(), count_cap=COUNT_CAP)
    assert '<span class="num">1,515</span><span class="label">Open</span>' in html
    assert '<span class="num">1,000</span><span class="label">Received' in html
    assert '<span class="num">1,000+</span><span class="label">Closed' in html
    assert ">999</span></h2>" in html and "See all 999 →" in html
    # A list's total is counted up to the cap + 1 (services/queue.py): beyond it, "1,000+".
    assert ">1,000+</span></h2>" in html and "See all 1,000+ →" in html
    queue.open_capped = True
    with app.test_request_context("/desk/"):
        g.user = user
        html = render_template("staff/home.html", queue=queue, now=utcnow(), count_cap=COUNT_CAP)
    assert '<span class="num">1,515+</span><span class="label">Open</span>' in html
