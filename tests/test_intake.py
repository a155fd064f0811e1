"""Demand intake through the API (SPEC §2, issue 2's bad-input list): every bad input is
a 422 naming the field and saves nothing; references; targets resolved at intake."""
from __future__ import annotations

import threading

import pytest
from sqlalchemy import delete, func, select

from requests_desk.models import (
    AuditEvent,
    Demand,
    DemandItem,
    DemandTarget,
    Gag,
    Notice,
    Requester,
)
from tests.factories import demand_payload, make_customer, make_token, make_user


@pytest.fixture
def intake(session, api):
    return api(make_token(session, make_user(session, "intake")))


def _counts(app) -> dict:
    with app.extensions["desk"]["engine"].connect() as conn:
        return {m.__name__: conn.scalar(select(func.count()).select_from(m))
                for m in (Demand, DemandTarget, DemandItem, Requester, Gag, Notice, AuditEvent)}


def _item(target="alice@example.org", data_set="email_content", frm="2026-01-01", to="2026-03-31"):
    return {"target": target, "data_set": data_set, "from": frm, "to": to}


def _requester(**changes):
    r = demand_payload()["requester"]
    r.update(changes)
    return r


BAD = [
    # (id, overrides, the field the 422 names)
    ("process-type-unknown", {"process_type": "letter_rogatory"}, "process_type"),
    ("process-type-missing", {"process_type": None}, "process_type"),
    ("process-type-not-text", {"process_type": ["subpoena"]}, "process_type"),
    ("requester-type-unknown", {"requester": _requester(type="journalist")}, "requester.type"),
    ("requester-missing", {"requester": None}, "requester"),
    ("requester-not-object", {"requester": "Police"}, "requester"),
    ("requester-agency-missing", {"requester": _requester(agency="  ")}, "requester.agency"),
    ("email-malformed", {"requester": _requester(email="jane.roe@")}, "requester.email"),
    ("email-no-at", {"requester": _requester(email="jane.roe.police.example")}, "requester.email"),
    ("email-two-at", {"requester": _requester(email="a@b@police.example")}, "requester.email"),
    ("email-not-text", {"requester": _requester(email=42)}, "requester.email"),
    ("data-set-unknown", {"requested": [_item(data_set="dna_samples")]}, "requested[0].data_set"),
    ("country-XX", {"country": "XX"}, "country"),
    ("country-USA", {"country": "USA"}, "country"),
    ("country-name", {"country": "Germany"}, "country"),
    ("country-empty", {"country": ""}, "country"),
    ("country-number", {"country": 49}, "country"),
    ("range-reversed", {"requested": [_item(frm="2026-03-01", to="2026-02-01")]}, "requested[0].to"),
    ("range-reversed-second", {"requested": [_item(), _item(frm="2026-03-02", to="2026-03-01")]},
     "requested[1].to"),
    ("from-malformed", {"requested": [_item(frm="2026-02-30")]}, "requested[0].from"),
    ("from-words", {"requested": [_item(frm="last week")]}, "requested[0].from"),
    ("to-malformed", {"requested": [_item(to="31/03/2026")]}, "requested[0].to"),
    ("from-missing", {"requested": [{"target": "alice@example.org", "data_set": "email_content",
                                     "to": "2026-03-31"}]}, "requested[0].from"),
    ("item-target-not-a-target", {"requested": [_item(target="mallory@example.org")]}, "requested[0].target"),
    ("item-not-object", {"requested": ["alice@example.org"]}, "requested[0]"),
    ("requested-empty", {"requested": []}, "requested"),
    ("requested-not-list", {"requested": {"target": "alice@example.org"}}, "requested"),
    ("targets-duplicate", {"targets": ["alice@example.org", "alice@example.org"]}, "targets[1]"),
    ("targets-duplicate-after-trim-lower", {"targets": ["alice@example.org", "  ALICE@Example.ORG "]},
     "targets[1]"),
    ("targets-blank", {"targets": ["alice@example.org", "   "]}, "targets[1]"),
    ("targets-empty", {"targets": []}, "targets"),
    ("targets-not-list", {"targets": "alice@example.org"}, "targets"),
    ("target-too-long", {"targets": ["alice@example.org", "x" * 321]}, "targets[1]"),
    ("emergency-without-justification", {"emergency": True}, "justification"),
    ("emergency-type-without-justification", {"process_type": "emergency"}, "justification"),
    ("emergency-blank-justification", {"emergency": True, "justification": "   "}, "justification"),
    ("emergency-not-bool", {"emergency": "yes", "justification": "x"}, "emergency"),
    ("legal-reference-missing", {"legal_reference": ""}, "legal_reference"),
    ("legal-reference-too-long", {"legal_reference": "x" * 201}, "legal_reference"),
    ("received-at-missing", {"received_at": None}, "received_at"),
    ("received-at-malformed", {"received_at": "yesterday"}, "received_at"),
    ("received-at-future", {"received_at": "2099-01-01T00:00:00Z"}, "received_at"),
    ("received-at-overflow", {"received_at": "0001-01-01T00:00:00+05:00"}, "received_at"),
    ("due-at-before-received", {"received_at": "2026-01-10T00:00:00Z", "due_at": "2026-01-09T00:00:00Z"},
     "due_at"),
    ("due-at-malformed", {"due_at": "tomorrow"}, "due_at"),
    ("channel-too-long", {"channel": "c" * 51}, "channel"),
    ("gag-not-object", {"gag": "sealed"}, "gag"),
    ("gag-empty", {"gag": {}}, "gag.order_ref"),
    ("gag-without-expiry-key", {"gag": {"order_ref": "NDO-1", "issued_by": "Court"}}, "gag.expires_at"),
    ("gag-expiry-malformed", {"gag": {"order_ref": "NDO-1", "issued_by": "Court", "expires_at": "never"}},
     "gag.expires_at"),
]


@pytest.mark.parametrize("overrides,field", [pytest.param(o, f, id=i) for i, o, f in BAD])
def test_bad_input_is_422_naming_the_field_and_saves_nothing(app, intake, overrides, field):
    before = _counts(app)
    body = demand_payload()
    body.update(overrides)
    r = intake.post("/api/v1/demands", json=body)
    assert r.status_code == 422, r.get_json()
    assert r.content_type == "application/problem+json"
    problem = r.get_json()
    assert {"type", "title", "status", "detail", "errors"} <= set(problem)
    assert problem["status"] == 422
    assert field in problem["errors"], problem["errors"]
    assert all(isinstance(m, str) and m for msgs in problem["errors"].values() for m in msgs)
    assert field in problem["detail"] or field == ""
    assert _counts(app) == before


@pytest.mark.parametrize("ident, problem", [
    ("not an email @@", "is not a valid e-mail address"),
    ("bob@localhost", "is not a valid e-mail address"),
    ("@contoso.com", "is not a valid e-mail address"),
    ("+1 555", "is not a valid phone number"),
    ("+1 206 555 0142 ext. 7", "is not a valid phone number"),
    ("+1 206 555 0142 0142 0142 0142", "is not a valid phone number"),
    ("user 42", "is not a valid account identifier"),
    ("müller.acct", "is not a valid account identifier"),
    ("<script>", "is not a valid account identifier"),
])
def test_an_identifier_must_be_valid_for_its_kind(app, intake, ident, problem):
    """Issue 16.6: an identifier with @ is an e-mail address, one starting with + a phone
    number (E.164: 8 to 15 digits), anything else an account id of letters, digits and
    . _ - : / + = #; the 422 names the entry and says which kind it failed."""
    before = _counts(app)
    body = demand_payload(targets=["alice@example.org", ident])
    r = intake.post("/api/v1/demands", json=body)
    assert r.status_code == 422, r.get_json()
    errors = r.get_json()["errors"]
    assert list(errors) == ["targets[1]"] and errors["targets[1]"][0].startswith(problem), errors
    assert _counts(app) == before


def test_identifiers_of_every_kind_are_accepted(intake):
    targets = ["alice@example.org", "Bob@Mail.Example.com", "+1 206 555 0142", "+44 (20) 7946-0958",
               "+4915100000000", "tenant:contoso-7781", "ACME-ACCT-7", "org/42=a#b", "12345678"]
    r = intake.post("/api/v1/demands", json=demand_payload(targets=targets))
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["targets"] == [t if "@" not in t else t.lower() for t in targets]


def test_every_problem_is_listed_at_once(intake):
    body = demand_payload(country="USA", process_type="nope", targets=["a@x.org", "A@x.org"],
                          requested=[_item(target="b@x.org", data_set="nope", frm="2026-02-01", to="2026-01-01")])
    r = intake.post("/api/v1/demands", json=body)
    assert r.status_code == 422
    assert {"country", "process_type", "targets[1]", "requested[0].target", "requested[0].data_set",
            "requested[0].to"} <= set(r.get_json()["errors"])


@pytest.mark.parametrize("body", [[], "a demand", 7, None])
def test_body_not_an_object_is_422(intake, body):
    r = intake.post("/api/v1/demands", json=body) if body is not None else intake.post(
        "/api/v1/demands", data="null", content_type="application/json")
    assert r.status_code == 422
    assert r.get_json()["errors"]


@pytest.mark.parametrize("raw", ["{", "not json", "{'single': 'quotes'}", ""])
def test_body_not_json_is_400(app, intake, raw):
    before = _counts(app)
    r = intake.post("/api/v1/demands", data=raw, content_type="application/json")
    assert r.status_code == 400
    assert r.content_type == "application/problem+json"
    problem = r.get_json()
    assert (problem["status"], problem["type"]) == (400, "about:blank")
    assert problem["title"] and problem["detail"]
    assert _counts(app) == before


def test_good_demand_is_saved_as_given(app, session, intake):
    make_customer(session, "Contoso", domains=("contoso.com",))
    body = demand_payload(
        country="de", channel="portal", targets=["  Bob@Contoso.COM ", "+49 151 000000"],
        requested=[_item(target="bob@contoso.com", data_set="sign_in_logs"),
                   _item(target=" +49 151 000000", data_set="subscriber_info", frm="2025-01-01", to="2025-01-01")],
        received_at="2026-02-03T10:00:00+01:00", notes="faxed copy follows",
        gag={"order_ref": "NDO-7", "issued_by": "AG Berlin", "issued_at": "2026-02-01",
             "expires_at": "2099-01-01T00:00:00Z"},
    )
    r = intake.post("/api/v1/demands", json=body)
    assert r.status_code == 201, r.get_json()
    d = r.get_json()
    assert d["reference"] == "LD-2026-000001"
    assert d["received_at"] == "2026-02-03T09:00:00Z"
    assert (d["status"], d["outcome"], d["country"], d["channel"]) == ("received", None, "DE", "portal")
    assert d["targets"] == ["bob@contoso.com", "+49 151 000000"]
    assert d["requested"] == [
        {"target": "bob@contoso.com", "data_set": "sign_in_logs", "from": "2026-01-01", "to": "2026-03-31"},
        {"target": "+49 151 000000", "data_set": "subscriber_info", "from": "2025-01-01", "to": "2025-01-01"},
    ]
    assert [c["name"] for c in d["customers"]] == ["Contoso"]
    assert d["requester"] == {"agency": "Metropolitan Police", "name": "Det. Jane Roe",
                              "email": "jane.roe@police.example", "phone": "+1 555 0100",
                              "type": "law_enforcement"}
    assert d["gag"]["order_ref"] == "NDO-7" and d["gag"]["active"] is True
    assert d["notes"] == "faxed copy follows"
    assert d["emergency"] is False and d["justification"] is None
    assert d["scope"] == [] and d["production"] is None and d["assignee"] is None
    # the GET gives the same demand; the log has one event for it
    again = intake.get(f"/api/v1/demands/{d['id']}").get_json()
    assert {k: v for k, v in again.items() if k not in ("overdue", "due_soon")} == \
        {k: v for k, v in d.items() if k not in ("overdue", "due_soon")}
    events = intake.get(f"/api/v1/demands/{d['id']}/audit").get_json()
    assert events[0]["action"] == "demand.log"
    assert events[0]["before"] is None and events[0]["after"]["reference"] == "LD-2026-000001"
    assert events[0]["actor"].startswith("intake")


def test_requester_is_reused(session, intake):
    for _ in range(2):
        assert intake.post("/api/v1/demands", json=demand_payload()).status_code == 201
    assert session.scalar(select(func.count()).select_from(Requester)) == 1


# ---------------------------------------------------------------- references


def test_references_per_year_of_received_at(intake):
    refs = []
    for received in ("2025-06-01T00:00:00Z", "2026-01-05T00:00:00Z", "2026-01-06T00:00:00Z",
                     "2025-12-31T23:30:00-02:00",  # 2026-01-01T01:30Z: UTC decides the year
                     "2025-12-31T23:59:59Z", "2024-02-29T12:00:00+14:00"):
        r = intake.post("/api/v1/demands", json=demand_payload(received_at=received))
        assert r.status_code == 201, r.get_json()
        refs.append(r.get_json()["reference"])
    assert refs == ["LD-2025-000001", "LD-2026-000001", "LD-2026-000002", "LD-2026-000003",
                    "LD-2025-000002", "LD-2024-000001"]


def test_references_are_never_reused(app, session, intake):
    first = intake.post("/api/v1/demands", json=demand_payload()).get_json()
    second = intake.post("/api/v1/demands", json=demand_payload()).get_json()
    # a refused intake in between
    assert intake.post("/api/v1/demands", json=demand_payload(country="XX")).status_code == 422
    # even if the newest row vanished (restored backup, manual repair), its number stays used
    session.execute(delete(Demand).where(Demand.id == second["id"]))
    session.commit()
    third = intake.post("/api/v1/demands", json=demand_payload()).get_json()
    year = int(first["reference"][3:7])
    numbers = [int(d["reference"].rsplit("-", 1)[1]) for d in (first, second, third)]
    assert numbers[0] < numbers[1] < numbers[2]
    assert len({first["reference"], second["reference"], third["reference"]}) == 3
    assert all(d["reference"].startswith(f"LD-{year}-") for d in (first, second, third))


def test_references_allocated_safely_by_concurrent_requests(app, session):
    """Several clerks log demands for a new year at the same moment: every one gets its own number."""
    tokens = [make_token(session, make_user(session, "intake")) for _ in range(4)]
    for year in (2019, 2020):  # no counter row yet: the first insert races too
        barrier = threading.Barrier(len(tokens))
        results: list = []

        def log(token):
            client = app.test_client()
            body = demand_payload(received_at=f"{year}-05-01T10:00:00Z")
            barrier.wait()
            r = client.post("/api/v1/demands", json=body, headers={"Authorization": f"Bearer {token}"})
            results.append((r.status_code, (r.get_json() or {}).get("reference")))

        threads = [threading.Thread(target=log, args=(t,)) for t in tokens]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(results) == [(201, f"LD-{year}-{n:06d}") for n in range(1, len(tokens) + 1)], results


# ---------------------------------------------------------------- roles


def test_intake_and_counsel_log_others_may_not(session, api):
    for role, status in (("intake", 201), ("counsel", 201), ("approver", 403), ("admin", 403)):
        token = make_token(session, make_user(session, role))
        r = api(token).post("/api/v1/demands", json=demand_payload())
        assert r.status_code == status, (role, r.get_json())
    customer = make_customer(session)
    token = make_token(session, make_user(session, "customer", customer_id=customer.id))
    assert api(token).post("/api/v1/demands", json=demand_payload()).status_code == 403
    assert api(None).post("/api/v1/demands", json=demand_payload()).status_code == 401
    assert api("rd_forged").post("/api/v1/demands", json=demand_payload()).status_code == 401


def test_403_comes_before_validation(session, api):
    token = make_token(session, make_user(session, "approver"))
    assert api(token).post("/api/v1/demands", json={"country": "XX"}).status_code == 403


# ---------------------------------------------------------------- no input makes a 500

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False)
    | st.text(max_size=30) | st.sampled_from(["", " ", "US", "2026-01-01", "2026-01-01T00:00:00Z",
                                               "9999-12-31T23:59:59-12:00", "alice@example.org", "x" * 400]),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=8,
)
FIELDS = ["requester", "country", "process_type", "legal_reference", "issuing_authority", "received_at",
          "channel", "emergency", "justification", "due_at", "targets", "requested", "gag", "notes"]


@st.composite
def mangled_demand(draw):
    body = demand_payload()
    for key in draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3, unique=True)):
        body[key] = draw(JSON)
    if draw(st.booleans()):
        item = dict(body["requested"][0]) if isinstance(body.get("requested"), list) and body["requested"] \
            and isinstance(body["requested"][0], dict) else {}
        item[draw(st.sampled_from(["target", "data_set", "from", "to", "basis"]))] = draw(JSON)
        body["requested"] = [item]
    if draw(st.booleans()):
        requester = dict(demand_payload()["requester"])
        requester[draw(st.sampled_from(["agency", "name", "email", "phone", "type"]))] = draw(JSON)
        body["requester"] = requester
    return body


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=mangled_demand())
def test_no_intake_input_makes_a_500(app, intake, body):
    before = _counts(app)
    r = intake.post("/api/v1/demands", json=body)
    assert r.status_code in (201, 422), (body, r.get_data(as_text=True))
    if r.status_code == 422:
        assert r.get_json()["errors"]
        assert _counts(app) == before


def test_an_empty_requester_names_each_missing_field(app, session, intake):
    """{"requester": {}} was a 500 (found by the property test above in CI)."""
    before = session.scalar(select(func.count()).select_from(Demand))
    r = intake.post("/api/v1/demands", json=demand_payload(requester={}))
    assert r.status_code == 422
    errors = r.get_json()["errors"]
    for field in ("requester.agency", "requester.name", "requester.email", "requester.type"):
        assert field in errors
    assert session.scalar(select(func.count()).select_from(Demand)) == before
