"""The case list's statements are built once per shape (services/keyset.py, ``statements.planned``)
and run with each request's values as parameters. A planned page must read exactly what
the same page built afresh reads, for any filters, sort, page size, cursor and viewer,
whatever pages were planned before it (a value kept from an earlier request would show
the wrong demands). A search's prefix is a parameter too. The statements are kept in
``statements._PLANS``."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import true

from requests_desk import statements, workflow
from requests_desk.models import Demand
from requests_desk.services import case_list
from tests.factories import counted, make_customer, make_demand, make_user

SORTS = [s for key in case_list.SORTS for s in (key, f"-{key}")]


@pytest.fixture
def desk(session):
    """Twenty-four demands over three countries, four process types (one a compartment),
    two customers, open and closed, overdue and not, some received at the same time."""
    officer = make_user(session, "counsel", "approver", email="plans@desk.example")
    cleared = make_user(session, "counsel", "cleared", email="cleared@desk.example")
    customers = [make_customer(session, "Contoso", accounts=("a@contoso.example",)),
                 make_customer(session, "Fabrikam", accounts=("b@fabrikam.example",))]
    now = datetime.now(timezone.utc).replace(microsecond=0)
    ids = []
    for i in range(24):
        received = now - timedelta(days=40 - (i // 2))  # pairs received at the same moment
        target = ["a@contoso.example", "b@fabrikam.example", "c@gmail.example"][i % 3]
        process_type = ["subpoena", "search_warrant", "court_order", "national_security"][i % 4]
        body = {"targets": [target], "country": ["DE", "US", "FR"][i % 3 if i % 5 else 1],
                "process_type": process_type, "received_at": received.isoformat(),
                "requested": [{"target": target, "data_set": "subscriber_info", "from": "2026-01-01",
                               "to": "2026-01-02"}]}
        if i % 4 == 1:
            body["due_at"] = (now + timedelta(days=3 + i)).isoformat()
        demand = make_demand(session, cleared, **body)
        if i % 3 == 2:
            workflow.apply_action(session, cleared, session.get(Demand, demand.id), "withdraw", {})
        ids.append(demand.id)
    session.commit()
    return {"viewers": [officer, cleared], "customers": [c.id for c in customers], "ids": ids}


def _filters(data) -> case_list.DemandFilters:
    return case_list.DemandFilters(**data)


filters = st.fixed_dictionaries({
    "status": st.sampled_from([None, "open", "closed", "received"]),
    "country": st.sampled_from([None, "DE", "US", "FR"]),
    "process_type": st.sampled_from([None, "subpoena", "search_warrant", "national_security"]),
    "customer": st.sampled_from([None, 0, 1, -1]),
    "overdue": st.booleans(),
    "sort": st.sampled_from(SORTS),
    "per_page": st.sampled_from([1, 2, 5, 50]),
    "q": st.sampled_from([None, "ld-", "A@", "b@fabrikam", "c", "case-", "nothing-matches"]),
})


def _page(session, f, viewer, *, planned: bool):
    """The page as the case list reads it: planned, or built afresh (``also`` a condition
    that changes nothing: a queue's extra conditions are never planned)."""
    info = case_list.list_rows(session, f, viewer, also=() if planned else [true()])
    return ([r.id for r in info.rows], info.total, info.number, info.has_prev, info.has_next,
            info.first_id, info.last_id)


def _drawn(desk, data, viewer, cursor, at):
    """The drawn filters (a customer by its index), the list's filters with the drawn
    cursor, and the drawn viewer."""
    data = dict(data)
    if data["customer"] is not None and data["customer"] >= 0:
        data["customer"] = desk["customers"][data["customer"]]
    f = _filters(data)
    if cursor == "last":
        f.last = True
    elif cursor:
        setattr(f, cursor, desk["ids"][at])
    return data, f, desk["viewers"][viewer]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=filters, viewer=st.integers(0, 1), cursor=st.sampled_from([None, "after", "before", "last"]),
       at=st.integers(0, 23))
def test_a_planned_page_reads_what_a_page_built_afresh_reads(session, desk, data, viewer, cursor, at):
    data, f, who = _drawn(desk, data, viewer, cursor, at)
    assert _page(session, f, who, planned=True) == _page(session, f, who, planned=False)


def test_each_shape_is_built_once_and_run_with_its_values(session, desk):
    """Two requests with the same filters set (other values) share their statements: the
    second builds none and still reads its own values."""
    statements._PLANS.clear()
    viewer = desk["viewers"][1]
    de = _filters({"country": "DE", "sort": "-received_at"})
    us = _filters({"country": "US", "sort": "-received_at"})
    first = _page(session, de, viewer, planned=True)
    planned = dict(statements._PLANS)
    assert len(planned) == 1  # its page, which carries its count
    second = _page(session, us, viewer, planned=True)
    assert statements._PLANS == planned  # the same statements, none built again
    assert first[0] and second[0] and not set(first[0]) & set(second[0])
    assert first == _page(session, de, viewer, planned=False)
    assert second == _page(session, us, viewer, planned=False)
    countries = {d.id: d.country for d in session.query(Demand)}
    assert {countries[i] for i in first[0]} == {"DE"} and {countries[i] for i in second[0]} == {"US"}


def test_a_search_is_planned_with_its_prefix_as_a_parameter(session, desk, app):
    """Two searches of one shape share their statements, each reading its own prefix."""
    statements._PLANS.clear()
    viewer = desk["viewers"][1]
    first = _page(session, _filters({"q": "a@contoso"}), viewer, planned=True)
    planned = dict(statements._PLANS)
    with counted(app) as sent:
        second = _page(session, _filters({"q": "b@fabrikam"}), viewer, planned=True)
    assert statements._PLANS == planned and len(sent) == 3  # count, page, details: none built
    assert "'b@fabrikam'" in " ".join(sent)
    assert first == _page(session, _filters({"q": "a@contoso"}), viewer, planned=False)
    assert second == _page(session, _filters({"q": "b@fabrikam"}), viewer, planned=False)
    assert first[0] and second[0] and not set(first[0]) & set(second[0])


def test_the_kept_plans_are_bounded(session, desk, app, monkeypatch):
    monkeypatch.setattr(statements, "PLANS_KEPT", 3)
    statements._PLANS.clear()
    viewer = desk["viewers"][0]
    for per_page in (1, 2, 3, 4):
        _page(session, _filters({"per_page": per_page}), viewer, planned=True)
        assert len(statements._PLANS) <= 3
    with counted(app) as sent:
        assert _page(session, _filters({"per_page": 4}), viewer, planned=True)[0]
    assert len(sent) == 2  # the page with its count, the page's details


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=filters, viewer=st.integers(0, 1), cursor=st.sampled_from([None, "after", "before", "last"]),
       at=st.integers(0, 23))
def test_the_count_a_page_carries_is_the_lists_count(session, desk, data, viewer, cursor, at):
    """Without a search, the page's statement carries the list's count (keyset.page):
    whatever the cursor, an empty page past one included, it is the count of every match."""
    data, f, who = _drawn(desk, data, viewer, cursor, at)
    _, total = case_list.list_demands(session, _filters(data), who)
    assert case_list.list_rows(session, f, who).total == total


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ids=st.lists(st.integers(-3, 80), max_size=70))
def test_among_is_in_and_on_postgresql_one_parameter_whatever_the_length(session, ids):
    """``db.among``: the rows whose id is in the list, on both databases; on PostgreSQL the
    statement has one parameter (an array) whatever the list's length, so psycopg keeps
    its parsed form (it parses a statement of more than 50 parameters on every execution)."""
    from sqlalchemy import func, select

    from requests_desk.db import among
    from requests_desk.models import DataSet

    dialect = session.connection().dialect
    codes = sorted(session.scalars(select(DataSet.code)))
    # Numbered 0, 1, …: the "- 1" is the statement's one other parameter (param_1).
    numbered = select(DataSet.code, (func.row_number().over(order_by=DataSet.code) - 1).label("n")).subquery()
    statement = select(numbered.c.code).where(among(numbered.c.n, "ids", dialect.name)).order_by(numbered.c.code)
    found = session.scalars(statement, {"ids": ids}).all()
    assert found == [code for n, code in enumerate(codes) if n in ids]
    compiled = statement.compile(dialect=dialect)
    if dialect.name == "postgresql":
        assert [name for name in compiled.params if name != "param_1"] == ["ids"] and "= ANY (" in str(compiled)


def test_compartments_are_written_into_the_statement_not_expanded_on_each_execution():
    """The process types a viewer may not know of are written into the statements built
    for them (``case.fixed_codes``): an expanding parameter has SQLAlchemy write its
    values into the statement's text on every execution, and as parameters PostgreSQL
    planned the search's statements anew on every execution."""
    from sqlalchemy import select
    from sqlalchemy.dialects import postgresql, sqlite

    from requests_desk.api.demand_read import _main
    from requests_desk.models import Demand, DemandSearchTerm
    from requests_desk import search_terms
    from requests_desk.services.case import _hiding, fixed_codes, visible_by_id

    hidden = ("national_security", "other")
    statements = [select(Demand.id).where(*_hiding(hidden)),
                  select(DemandSearchTerm.demand_id).where(*visible_by_id(DemandSearchTerm.demand_id, hidden)),
                  select(DemandSearchTerm.demand_id).where(*search_terms._visible(hidden)),
                  _main(hidden).statement]
    for dialect in (sqlite.dialect(), postgresql.dialect()):
        for statement in statements:
            compiled = statement.compile(dialect=dialect)
            assert not compiled.post_compile_params, str(compiled)
            assert not [v for v in compiled.params.values() if v in hidden]
            assert "'national_security'" in str(compiled) and "'other'" in str(compiled)
    assert fixed_codes(("it's",))[0].compile().params == {"param_1": "it's"}  # not a code: bound
