"""Fuzzing (issue 17): schemathesis sends what it generates from /api/v1/openapi.json to
a live gunicorn, on SQLite and on PostgreSQL, with a counsel token; any 5xx or an answer
that does not match the document fails. A fixed seed and budget keep it repeatable and
short (``DESK_FUZZ_EXAMPLES`` examples per operation; the run is tests/fuzzing.py's, which
tests/test_fuzz_catches.py shows failing on planted bugs), then in sequences (create → act →
read) over the links schemathesis infers from the document. Hypothesis also posts random values
into the intake form and the case page's forms: never a 500.

Marked ``fuzz``: it runs in ``make test``; ``-m "not fuzz"`` leaves it out."""
from __future__ import annotations

import os
import time

import pytest
from hypothesis import HealthCheck, given, seed, settings
from hypothesis import strategies as st

from requests_desk.api.blueprint import PUBLIC_ENDPOINTS
from tests.factories import demand_form, demand_payload, make_customer, make_demand, make_token, make_user, post_form
from tests.fuzzing import SEED, fuzz_api, fuzz_sequences
from tests.live import gunicorn

pytestmark = pytest.mark.fuzz

FUZZ_EXAMPLES = int(os.environ.get("DESK_FUZZ_EXAMPLES", "12"))


@pytest.fixture
def live_server(app, tmp_path):
    """gunicorn (1 sync worker) over the test's database; yields its base URL."""
    with gunicorn(app, tmp_path) as base:
        yield base


def test_api_fuzzed_from_its_openapi_document(app, session, live_server):
    counsel = make_user(session, "counsel", email="cora.counsel@desk.example")
    token = make_token(session, counsel)
    demand = make_demand(session, counsel)  # something for the ids in paths to find
    customer = make_customer(session, "Contoso", domains=("contoso.example",))
    started = time.monotonic()
    run = fuzz_api(live_server, token, FUZZ_EXAMPLES,
                   known={"demand_id": str(demand.id), "customer_id": str(customer.id)})
    # every route of the API but the document itself is fuzzed (tests/test_openapi.py checks the
    # document lists them all), counted from the app so a new route needs no edit here
    routes = sorted(f"{method} {rule.rule.removeprefix('/api/v1')}" for rule in app.url_map.iter_rules()
                    if rule.endpoint.startswith("api.") and rule.endpoint not in PUBLIC_ENDPOINTS
                    for method in rule.methods - {"HEAD", "OPTIONS"})
    assert len(run.operations) == len(routes) >= 16, (sorted(run.operations), routes)
    # what the run did, for the record (pytest -s shows it): requests, their statuses, time
    print(f"\nfuzz {app.config['DESK_DATABASE_URL'].split(':')[0]}: {len(run.operations)} operations x "
          f"{FUZZ_EXAMPLES} examples, {run.requests} requests, {run.server_errors} x 5xx, "
          f"{len(run.failures)} failing operations, {time.monotonic() - started:.0f} s; "
          f"statuses {dict(sorted(run.statuses.items()))}")
    assert not run.failures, run.report()
    assert run.server_errors == 0
    assert run.requests >= len(run.operations) and any(code < 300 for code in run.statuses) and 422 in run.statuses


def test_api_fuzzed_in_sequences_create_act_read(app, session, live_server):
    """Stateful: a demand created (a valid body every other time), then acted on and read
    through the links schemathesis infers; same checks, never a 5xx."""
    counsel = make_user(session, "counsel", "intake", email="cora.counsel@desk.example")
    token = make_token(session, counsel)
    make_customer(session, "Contoso", domains=("contoso.example",))
    started = time.monotonic()
    run = fuzz_sequences(live_server, token, max(40, FUZZ_EXAMPLES), valid={"POST /demands": demand_payload})
    print(f"\nfuzz sequences {app.config['DESK_DATABASE_URL'].split(':')[0]}: {run.requests} requests, "
          f"{run.server_errors} x 5xx, {len(run.refused)} refused, {len(run.created)} demands created, "
          f"{run.chained} calls on them, {time.monotonic() - started:.0f} s; "
          f"statuses {dict(sorted(run.statuses.items()))} {' '.join(run.notes)}")
    assert not run.failures, run.report()
    assert run.server_errors == 0 and not run.refused, run.refused
    assert run.created and run.chained  # demands were created, then acted on or read


# ---------------------------------------------------------------- the desk's forms

TEXT = st.one_of(
    st.text(max_size=40),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=10),
    st.sampled_from(["\x00", "a\x00b", "\r\n", "0001-01-01T00:00", "9999-12-31", "2026-02-30", " ", "-1",
                     "1_0", "１", "x" * 400, "<script>", "%00"]),
)
INTAKE_FIELDS = ["requester_agency", "requester_name", "requester_email", "requester_type", "country",
                 "process_type", "legal_reference", "received_at", "due_at", "notes", "targets-0",
                 "requested-0-target", "requested-0-data_set", "requested-0-date_from", "requested-0-date_to",
                 "gag_order_ref", "gag_issued_at", "gag_expires_at", "justification"]


def test_intake_and_case_page_forms_never_answer_500(client, session, login):
    counsel = make_user(session, "counsel", "intake", email="cora.counsel@desk.example")
    demand = make_demand(session, counsel)
    login(counsel.email)

    @seed(SEED)
    @settings(max_examples=max(10, FUZZ_EXAMPLES * 2), deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(changes=st.dictionaries(st.sampled_from(INTAKE_FIELDS), TEXT, min_size=1, max_size=4),
           action=st.sampled_from(sorted(CASE_FORMS)),
           values=st.dictionaries(st.sampled_from(["note", "reason", "due_at", "assignee", "order_ref",
                                                   "issued_by", "expires_at", "until"]), TEXT, max_size=4))
    def fuzz(changes, action, values):
        r = post_form(client, "/desk/demands/new", demand_form(**changes))
        assert r.status_code < 500, (changes, r.status_code)
        r = client.get("/desk/demands", query_string={"q": changes.get("notes", "x")})
        assert r.status_code < 500
        page = f"/desk/demands/{demand.id}"
        form = {f"{action}-{name}": value for name, value in values.items()}
        r = post_form(client, page, form, post_path=f"{page}/{CASE_FORMS[action]}")
        assert r.status_code < 500, (action, values, r.status_code)

    fuzz()


# form prefix -> where the case page posts it
CASE_FORMS = {
    "start-review": "action/start-review", "attempt-redirect": "action/attempt-redirect",
    "set-due": "action/set-due", "assign": "action/assign", "reject": "action/reject",
    "withdraw": "action/withdraw", "gag-set": "gag/set", "gag-extend": "gag/extend", "gag-lift": "gag/lift",
    "defer-notices": "defer-notices",
}
