"""The search's capped count (search_terms.count_capped): it reads a bounded stretch of
the terms' range first, and must still count demands, not terms, exactly up to the cap."""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import delete, insert, select

from requests_desk import search_terms
from requests_desk.models import Demand, DemandSearchTerm



from .factories import make_demand, make_user


@pytest.fixture
def ids(session):
    staff = make_user(session, "counsel", email="cam@desk.example")
    return [make_demand(session, staff).id for _ in range(8)]


def put_terms(session, terms: dict[int, list[str]]) -> None:
    """Only these terms under the prefix "zz" (each demand's own terms stay)."""
    session.execute(delete(DemandSearchTerm).where(DemandSearchTerm.term.like("zz%")))
    kinds = dict(session.execute(select(Demand.id, Demand.process_type)).all())
    rows = [{"term": t, "demand_id": d, "process_type": kinds[d]} for d, names in terms.items() for t in set(names)]
    if rows:
        session.execute(insert(DemandSearchTerm), rows)
    session.flush()


def test_count_is_of_demands_when_each_matches_by_many_terms(session, ids):
    ids = ids[:3]
    # 12 terms of 3 demands: the first stretch (2 × (3 + 1) = 8 terms) holds only two of
    # them, so counting that stretch alone would say 2.
    put_terms(session, {d: [f"zz-{d}-{i}" for i in range(4)] for d in ids})
    assert search_terms.count_capped(session, "zz", [], 3) == 3
    assert search_terms.count_capped(session, "zz", [], 2) == 3  # "2+"


def test_count_stops_at_the_cap(session, ids):
    ids = ids[:5]
    put_terms(session, {d: [f"zz-{d}"] for d in ids})
    assert search_terms.count_capped(session, "zz", [], 3) == 4
    assert search_terms.count_capped(session, "zz", [], 10) == 5
    put_terms(session, {d: [f"zz-{d}-a", f"zz-{d}-b"] for d in ids[:4]})  # exactly the stretch
    assert search_terms.count_capped(session, "zz", [], 3) == 4


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_count_is_the_distinct_demands_up_to_the_cap(session, ids, data, monkeypatch):
    """Whatever the terms per demand: min(distinct demands matching, cap + 1); and, with
    no other filter, whether the page may be read from the terms (at most TERMS_FIRST
    of them match), the terms counted in the same statement as the window's distinct
    demands (``tally``) or, TERMS_FIRST under the window, in the window itself."""
    terms = data.draw(st.dictionaries(st.sampled_from(ids), st.lists(st.sampled_from(["a", "ab", "b", "c1", "c2", "d"]),
                                                                    min_size=1, max_size=6)))
    cap = data.draw(st.integers(min_value=1, max_value=9))
    prefix = data.draw(st.sampled_from(["zz", "zza", "zzc", "zzb"]))
    most = data.draw(st.sampled_from([0, 3, 12, 30, 5000]))
    monkeypatch.setattr(search_terms, "TERMS_FIRST", {"sqlite": most, "postgresql": most})
    put_terms(session, {d: ["zz" + t for t in names] for d, names in terms.items()})
    matching = {d for d, names in terms.items() if any(("zz" + t).startswith(prefix) for t in names)}
    matching_terms = sum(1 for names in terms.values() for t in set(names) if ("zz" + t).startswith(prefix))
    assert search_terms.count_capped(session, prefix, [], cap) == min(len(matching), cap + 1)
    tally = search_terms.tally(session, prefix, lambda: [], cap)
    assert tally.total == min(len(matching), cap + 1)
    assert tally.terms_first == (matching_terms <= most)
    if tally.terms_first:
        assert tally.terms == matching_terms


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_the_walks_probe_matches_what_the_terms_range_does(session, ids, data):
    """A broad search probes each demand's terms (``matching(q, few=False)``: on SQLite a
    ``substr`` of the term, elsewhere a range of ``term || ''``); a narrow one reads the
    terms' range. Both find the same demands for any prefix, letters beyond ASCII too."""
    alphabet = st.sampled_from(["a", "b", "é", "ß", "-", "1", "中", "\U0001f600"])
    terms = data.draw(st.dictionaries(st.sampled_from(ids), st.lists(st.text(alphabet, min_size=1, max_size=4),
                                                                    min_size=1, max_size=4)))
    put_terms(session, {d: ["zz" + t for t in names] for d, names in terms.items()})
    prefix = "zz" + data.draw(st.text(alphabet, max_size=3))
    ranged = set(session.scalars(select(Demand.id).where(search_terms.matching(prefix, True))))
    probed = set(session.scalars(select(Demand.id).where(search_terms.matching(prefix, False))))
    assert probed == ranged == {d for d, names in terms.items() if any(("zz" + t).startswith(prefix) for t in names)}
