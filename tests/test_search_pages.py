"""A search's page in the list's default order is read from the search terms alone
(search_terms.newest_first): each term carries its demand's received_at, kept by the
triggers whatever writes. Its pages (next, previous, last, either direction) list what
the other plan (walking the demands) lists, compartments left out the same way."""
from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from requests_desk import search_terms
from tests.factories import counted, make_demand, make_user

REF = re.compile(r"LD-\d{4}-\d{6}")
NOW = datetime.now(timezone.utc).replace(microsecond=0)


def _terms(session) -> set[tuple]:
    return {tuple(r) for r in session.execute(text(
        "SELECT t.term, t.demand_id, t.received_at, d.received_at, t.process_type, d.process_type "
        "FROM demand_search_terms t JOIN demands d ON d.id = t.demand_id"))}


def test_every_term_carries_its_demands_date_and_process_type_whatever_wrote_it(session):
    a = make_demand(session, targets=["ann@contoso.com", "bo@contoso.com"],
                    received_at=(NOW - timedelta(days=3)).isoformat())
    make_demand(session, targets=["cy@fabrikam.de"], received_at=(NOW - timedelta(days=9)).isoformat())
    # Plain SQL, as retention's redaction and a restore write: a changed identifier and
    # legal reference, a new target. (A demand's date is fixed at intake.)
    session.execute(text("UPDATE demand_targets SET identifier = 'redacted:1' WHERE identifier = 'bo@contoso.com'"))
    session.execute(text("INSERT INTO demand_targets (demand_id, identifier, position) VALUES (:d, 'di@contoso.com', 5)"),
                    {"d": a.id})
    session.execute(text("UPDATE demands SET legal_reference = 'CASE-2' WHERE id = :d"), {"d": a.id})
    session.commit()
    rows = _terms(session)
    assert {r[0] for r in rows if r[1] == a.id} >= {"redacted:1", "di@contoso.com", "ann@contoso.com", "case-2"}
    assert all(r[2] == r[3] for r in rows), rows  # each term's date is its demand's
    assert all(r[4] == r[5] for r in rows), rows  # and its process type (its compartment)
    # A bulk load's absorb (and a restore's rebuild) writes the same rows as the triggers.
    search_terms.rebuild(session.connection())
    assert _terms(session) == rows


@pytest.fixture
def desk(session):
    """34 demands whose accounts begin "kim", one received each day (three on one day:
    equal dates are ordered by id), four of them national-security."""
    cleared = make_user(session, "counsel", "cleared", email="clara@desk.example")
    for i in range(34):
        day = NOW - timedelta(days=i if i not in (7, 8) else 6)
        make_demand(session, cleared, targets=[f"kim{i}@example.net", f"kim.alt{i}@example.net"],
                    received_at=day.isoformat(),
                    process_type="national_security" if i % 9 == 4 else "subpoena")
    make_demand(session, cleared, targets=["other@example.net"])
    return cleared


def _walk(client, first: str) -> tuple[list[str], list[str]]:
    """Every page's references following "next" from ``first``, then following "previous"
    back from the last page."""
    forward, url = [], first
    while url:
        html = client.get(url).get_data(as_text=True)
        body = html[html.index("<tbody"):html.index("</tbody>")]
        forward.append(list(dict.fromkeys(REF.findall(body))))
        nxt = re.search(r'href="([^"]+)" rel="next"', html)
        url = nxt.group(1).replace("&amp;", "&") if nxt else None
    backward, url = [], first + "&last=1"
    while url:
        html = client.get(url).get_data(as_text=True)
        body = html[html.index("<tbody"):html.index("</tbody>")]
        backward.insert(0, list(dict.fromkeys(REF.findall(body))))
        prev = re.search(r'href="([^"]+)" rel="prev"', html)
        url = prev.group(1).replace("&amp;", "&") if prev else None
    return forward, backward


@pytest.mark.parametrize("sort", ["-received_at", "received_at"])
@pytest.mark.parametrize("roles", [("counsel", "cleared"), ("counsel",)])
def test_pages_from_the_terms_list_what_the_demands_list(app, client, session, desk, login, monkeypatch,
                                                         sort, roles):
    viewer = desk if "cleared" in roles else make_user(session, *roles, email="cam@desk.example")
    login(viewer.email)
    first = f"/desk/demands?q=KIM&per_page=7&sort={sort}"
    # PostgreSQL reads such a search's page from the terms' range, SQLite reads the
    # matches by id (TERMS_FIRST); more than FEW terms, both walk the terms by date:
    # each plan is tried here on both databases.
    monkeypatch.setattr(search_terms, "TERMS_FIRST", {"postgresql": 5000, "sqlite": 5000})
    with counted(app) as statements:
        terms_first = _walk(client, first)
    assert any("GROUP BY demand_search_terms.received_at" in s for s in statements)
    monkeypatch.setattr(search_terms, "TERMS_FIRST", {"postgresql": 0, "sqlite": 0})  # the matches by id instead
    with counted(app) as statements:
        by_id = _walk(client, first)
    assert not any("GROUP BY demand_search_terms.received_at" in s for s in statements)
    monkeypatch.setattr(search_terms, "FEW", 0)  # too many to read by id: the terms walked by date
    with counted(app) as statements:
        walked = _walk(client, first)
    walks = [s for s in statements if "GROUP BY demand_search_terms.received_at" in s and _PROBE[_dialect(app)] in s]
    assert walks, statements
    # Past a cursor the walk starts at the cursor's date (a bound of its own, not only
    # the (date, id) pair's OR, which no index scan starts from).
    assert any(re.search(r"demand_search_terms\.received_at [<>]= ", s) for s in walks), walks
    assert terms_first == by_id == walked
    forward, backward = terms_first
    listed = [ref for page in forward for ref in page]
    assert len(listed) == len(set(listed)) == (34 if "cleared" in roles else 30)
    assert [len(p) for p in forward] == [7] * (len(listed) // 7) + ([len(listed) % 7] if len(listed) % 7 else [])
    assert [ref for page in backward for ref in page] == listed
    dates = session.execute(text("SELECT reference, received_at, id FROM demands")).all()
    key = {ref: (at, i) for ref, at, i in dates}
    assert listed == sorted(listed, key=key.__getitem__, reverse=sort.startswith("-"))


def test_a_search_sends_three_statements(app, client, session, desk, login, db_url):
    """The count (which says how many terms match), the page, its targets and badges;
    the probe a search used to send first to choose its plan is gone. PostgreSQL reads
    the page from the terms' range, SQLite its few matches by id."""
    login(desk.email)
    client.get("/desk/demands?q=kim")
    with counted(app) as statements:
        assert client.get("/desk/demands?q=kim").status_code == 200
    assert len(statements) == 3, statements
    from_terms = "GROUP BY demand_search_terms.received_at" in statements[1]
    assert from_terms == db_url.startswith("postgresql")


def test_a_searchs_count_and_page_carry_no_parameter_for_postgresql_to_plan_around(app, client, session, desk,
                                                                                  login, db_url):
    """Prefix, range end, limits and the compartments left out are written into the
    search's statements: prepared, they run on one generic plan. With any of them a
    parameter, PostgreSQL found the generic plan dearer than a custom one and planned
    both statements again on every execution (1.6 ms of its 5.7 for a search)."""
    if not db_url.startswith("postgresql"):
        pytest.skip("PostgreSQL-only test")
    login(make_user(session, "counsel", email="cam@desk.example").email)  # not cleared: a compartment left out
    with counted(app) as statements:
        assert client.get("/desk/demands?q=kim").status_code == 200
    count, page = [s for s in statements if "demand_search_terms" in s]
    assert count.startswith(("SELECT count(*)", "SELECT (SELECT count(*)")) and "ORDER BY demands.received_at" in page
    assert "%(" not in count and "%(" not in page, (count, page)
    # The compartment is left out by the terms' own process type, not by a subquery of
    # the hidden demands' ids (a hash of them built for each statement, growing with the desk).
    assert "demand_search_terms.process_type NOT IN ('national_security')" in count
    assert "demands.process_type IN" not in count


_PROBE = {"sqlite": "substr(demand_search_terms.term, 1, length(lower(",
          "postgresql": "demand_search_terms.term || ''"}


def _dialect(app) -> str:
    return app.extensions["desk"]["engine"].dialect.name


@pytest.mark.parametrize("sort", ["-due_at", "-received_at&status=received"])
def test_a_broad_searchs_probe_lists_what_the_terms_list_through_the_demand_id_index(app, client, session, desk,
                                                                                    login, monkeypatch, sort):
    """More than FEW terms in another order, or with another filter: the list walks its
    order and probes each demand's terms with a test of the prefix that only the
    (demand_id, term) index serves: on PostgreSQL the range said of ``term || ''``, on
    SQLite ``substr(term, 1, length(prefix))``. Said of the term, PostgreSQL chose its
    plan by ANALYZE's estimate of the range and, on a desk of a million demands, joined
    all 23,190 matching terms to their demands (145 ms a page, 9 req/s). The walk lists
    what the other plans list, either way."""
    login(desk.email)
    first = f"/desk/demands?q=KIM&per_page=7&sort={sort}"
    listed = _walk(client, first)
    monkeypatch.setattr(search_terms, "FEW", 0)
    monkeypatch.setattr(search_terms, "TERMS_FIRST", {"postgresql": 0, "sqlite": 0})
    with counted(app) as statements:
        probed = _walk(client, first)
    assert any("EXISTS (SELECT 1" in s and _PROBE[_dialect(app)] in s for s in statements), statements
    assert not any("GROUP BY demand_search_terms.received_at" in s for s in statements)
    assert probed == listed and len([ref for page in listed[0] for ref in page]) == 34

