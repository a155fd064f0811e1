"""The models' own helpers: a demand's customers and gags, when a gag started, and
whether a gag (or a deferral) is active — said once in Python and once in SQL, and the
two must agree on every database."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import select
from sqlalchemy.orm import aliased

from requests_desk.models import Demand, Gag, NoticeDeferral, deferral_active_clause, gag_active_clause
from requests_desk.models.gags import deferral_active_clause as gags_deferral_clause
from requests_desk.models.gags import gag_active_clause as gags_gag_clause
from tests.factories import make_customer, make_demand

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)


def add_gag(session, demand: Demand, *, lifted_at=None, expires_at=None, issued_at=None,
            set_at: datetime | None = None) -> Gag:
    gag = Gag(order_ref=f"ORDER-{len(demand.gags) + 1}", issued_by="District Court", issued_at=issued_at,
              expires_at=expires_at, lifted_at=lifted_at, set_at=set_at or NOW - timedelta(days=30),
              process_type=demand.process_type)
    demand.gags.append(gag)
    session.flush()
    return gag


def reloaded(session, demand: Demand) -> Demand:
    """The demand as the database has it (its collections loaded afresh, in their order)."""
    session.flush()
    session.expire_all()
    return session.get(Demand, demand.id)


def sql_active(session, gag: Gag, now: datetime) -> bool:
    return session.scalar(select(Gag.id).where(Gag.id == gag.id, Gag.active_condition(now))) is not None


# ---------------------------------------------------------------- Demand.customers


def test_customers_are_the_distinct_customers_of_the_targets_in_target_order(session):
    contoso = make_customer(session, "Contoso Ltd", domains=("contoso.com",))
    fabrikam = make_customer(session, "Fabrikam Inc", domains=("fabrikam.com",), accounts=("ops@example.net",))
    demand = make_demand(session, targets=["ann@fabrikam.com", "someone@consumer.example", "bo@contoso.com",
                                           "ops@example.net", "cy@contoso.com"])
    demand = reloaded(session, demand)

    assert [t.identifier for t in demand.targets][0] == "ann@fabrikam.com"
    assert [c.name for c in demand.customers] == ["Fabrikam Inc", "Contoso Ltd"]
    assert [c.id for c in demand.customers] == [fabrikam.id, contoso.id]


def test_customers_of_a_demand_of_consumers_only_is_empty_and_read_only(session):
    demand = reloaded(session, make_demand(session, targets=["someone@consumer.example"]))

    assert demand.customers == []
    with pytest.raises(AttributeError):
        demand.customers = []  # a view of the targets, not something to set


# ---------------------------------------------------------------- Demand.active_gag / latest_gag


def test_active_gag_is_the_first_active_one_and_latest_gag_falls_back_to_the_last(session):
    demand = make_demand(session)
    assert demand.active_gag(NOW) is None and demand.latest_gag(NOW) is None  # no gag at all

    lifted = add_gag(session, demand, lifted_at=NOW - timedelta(days=2))
    expired = add_gag(session, demand, expires_at=NOW - timedelta(days=1))
    demand = reloaded(session, demand)
    assert demand.active_gag(NOW) is None
    assert demand.latest_gag(NOW).id == expired.id  # none active: the last recorded

    first = add_gag(session, demand, expires_at=NOW + timedelta(days=10))
    second = add_gag(session, demand)  # no end date
    add_gag(session, demand, lifted_at=NOW - timedelta(hours=1))
    demand = reloaded(session, demand)
    assert [g.id for g in demand.gags] == sorted(g.id for g in demand.gags)
    assert demand.active_gag(NOW).id == first.id  # the first active one, by id
    assert demand.latest_gag(NOW).id == first.id  # the active one wins over the last
    # once the first ends, the second (no end date) is the active one
    later = NOW + timedelta(days=11)
    assert demand.active_gag(later).id == second.id
    assert demand.latest_gag(later).id == second.id
    assert lifted.id < expired.id < first.id


# ---------------------------------------------------------------- Gag.starts_at


def test_a_gag_starts_on_its_issue_date_at_midnight_utc_else_when_recorded(session):
    demand = make_demand(session)
    set_at = datetime(2026, 4, 3, 15, 30, 12, tzinfo=timezone.utc)
    issued = add_gag(session, demand, issued_at=date(2026, 3, 4), set_at=set_at)
    undated = add_gag(session, demand, set_at=set_at)
    session.commit()
    session.expire_all()

    assert issued.starts_at == datetime(2026, 3, 4, 0, 0, tzinfo=timezone.utc)
    assert issued.starts_at.utcoffset() == timedelta(0)
    assert undated.starts_at == set_at
    with pytest.raises(AttributeError):
        issued.starts_at = NOW  # derived, not a column


# ---------------------------------------------------------------- the SQL clauses


def test_the_clauses_are_those_of_the_models_module_reexported():
    assert gag_active_clause is gags_gag_clause
    assert deferral_active_clause is gags_deferral_clause


def test_gag_active_clause_takes_a_value_or_a_column(session):
    gagged = make_demand(session)
    add_gag(session, gagged, lifted_at=NOW - timedelta(days=1))
    add_gag(session, gagged, expires_at=NOW + timedelta(days=1))
    lifted = make_demand(session)
    add_gag(session, lifted, lifted_at=NOW - timedelta(days=1))
    expired = make_demand(session)
    add_gag(session, expired, expires_at=NOW)  # ends exactly now: no longer active
    plain = make_demand(session)
    ids = [d.id for d in (gagged, lifted, expired, plain)]

    assert [session.scalar(select(gag_active_clause(i, NOW))) for i in ids] == [True, False, False, False]
    assert session.scalars(select(Demand.id).where(Demand.id.in_(ids), gag_active_clause(Demand.id, NOW))).all() \
        == [gagged.id]
    # a day on, the gag that ran to then has ended too
    assert not session.scalar(select(gag_active_clause(gagged.id, NOW + timedelta(days=1))))


def test_deferral_active_clause_follows_the_latest_deferral(session):
    demand = make_demand(session)
    other = make_demand(session)

    def deferred(demand_id: int, now: datetime = NOW) -> bool:
        return bool(session.scalar(select(deferral_active_clause(demand_id, now))))

    assert not deferred(demand.id)
    session.add(NoticeDeferral(demand_id=demand.id, until=NOW + timedelta(days=3), reason="first"))
    session.flush()
    assert deferred(demand.id) and not deferred(other.id)
    assert not deferred(demand.id, NOW + timedelta(days=3))  # until is exclusive
    # counsel moves the date earlier: the latest deferral decides, even though the first runs longer
    session.add(NoticeDeferral(demand_id=demand.id, until=NOW - timedelta(hours=1), reason="sooner"))
    session.flush()
    assert not deferred(demand.id)
    assert session.scalars(select(Demand.id).where(deferral_active_clause(Demand.id, NOW))).all() == []


# ---------------------------------------------------------------- Python and SQL agree

_TIMES = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                      timezones=st.just(timezone.utc))
_ZONES = st.sampled_from([timezone.utc, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))])
# Offsets that put an end date on, just around or far from ``now``: equality is where
# a strict ``>`` in one language and a lenient one in the other would part.
_NEAR = st.one_of(st.just(timedelta(0)), st.integers(-3, 3).map(lambda us: timedelta(microseconds=us)),
                  st.integers(-86_400, 86_400).map(lambda s: timedelta(seconds=s)))


@st.composite
def gag_times(draw, now: datetime) -> tuple[datetime | None, datetime | None]:
    lifted_at = draw(st.one_of(st.none(), _TIMES, st.just(now), _NEAR.map(lambda d: now + d)))
    expires_at = draw(st.one_of(st.none(), _TIMES, _NEAR.map(lambda d: now + d)))
    return lifted_at, expires_at


@st.composite
def cases(draw):
    now = draw(_TIMES).astimezone(draw(_ZONES))
    gags = draw(st.lists(gag_times(now), max_size=3))
    return now, gags


@pytest.fixture
def bare_demand(session):
    return make_demand(session)


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(case=cases())
def test_active_at_in_python_and_active_condition_in_sql_agree(session, bare_demand, case):
    now, times = case
    demand = bare_demand
    demand.gags.clear()  # each example starts from a demand without gags (delete-orphan)
    session.flush()
    gags = [add_gag(session, demand, lifted_at=lifted_at, expires_at=expires_at) for lifted_at, expires_at in times]

    for gag in gags:
        in_python = gag.active_at(now)
        assert sql_active(session, gag, now) is in_python, (gag.lifted_at, gag.expires_at, now)
        session.refresh(gag)  # the same judgement on the values as the database gives them back
        assert gag.active_at(now) is in_python
    # per demand: the first active gag in Python, "any active gag" in SQL
    assert bool(session.scalar(select(gag_active_clause(demand.id, now)))) is (demand.active_gag(now) is not None)
    # on an alias the condition speaks of the alias's rows
    alias = aliased(Gag)
    from_alias = session.scalars(
        select(alias.id).where(alias.demand_id == demand.id, alias.active_condition(now)).order_by(alias.id)
    ).all()
    assert from_alias == [g.id for g in gags if g.active_at(now)]
