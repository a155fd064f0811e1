"""The HTTP API contract (SPEC §6): problem+json errors, tokens and roles, customers,
the demand list with filters and paging, document upload."""
from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import func, select

from requests_desk.models import AuditEvent, Customer, Document, User
from tests.factories import MINIMAL_PDF, demand_payload, make_customer, make_token, make_user

STAFF = ("intake", "counsel", "approver", "admin")


def assert_problem(r, status: int) -> dict:
    assert r.status_code == status, r.get_data(as_text=True)
    assert r.content_type == "application/problem+json"
    body = r.get_json()
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status and body["title"] and body["detail"]
    if status == 422:
        assert isinstance(body["errors"], dict) and body["errors"]
    return body


@pytest.fixture
def tokens(session) -> dict:
    out = {role: make_token(session, make_user(session, role, email=f"{role}@desk.example")) for role in STAFF}
    customer = make_customer(session, "Portal Org")
    out["customer"] = make_token(session, make_user(session, "customer", customer_id=customer.id))
    return out


# ---------------------------------------------------------------- authentication


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Basic dXNlcjpwdw==", "Bearer rd_forged",
                                    "Token abc"])
def test_missing_or_bad_token_is_401(client, tokens, header):
    headers = {"Authorization": header} if header is not None else {}
    for method, path in (("get", "/api/v1/demands"), ("get", "/api/v1/demands/1"),
                         ("post", "/api/v1/demands"), ("get", "/api/v1/customers/1"),
                         ("post", "/api/v1/demands/1/withdraw"), ("get", "/api/v1/demands/999/audit")):
        r = getattr(client, method)(path, headers=headers)
        assert_problem(r, 401)
        assert r.headers["WWW-Authenticate"].startswith("Bearer")


def test_token_of_deactivated_user_is_401(session, api):
    user = make_user(session, "counsel")
    token = make_token(session, user)
    assert api(token).get("/api/v1/demands").status_code == 200
    session.get(User, user.id).active = False
    session.commit()
    assert_problem(api(token).get("/api/v1/demands"), 401)


def test_customer_token_is_403_everywhere(session, api, tokens):
    demand = api(tokens["intake"]).post("/api/v1/demands", json=demand_payload()).get_json()
    cust = api(tokens["customer"])
    for method, path, body in (
        ("get", "/api/v1/demands", None),
        ("get", f"/api/v1/demands/{demand['id']}", None),
        ("get", "/api/v1/demands/999999", None),
        ("post", "/api/v1/demands", demand_payload()),
        ("post", f"/api/v1/demands/{demand['id']}/withdraw", {}),
        ("get", f"/api/v1/demands/{demand['id']}/audit", None),
        ("get", f"/api/v1/demands/{demand['id']}/notices", None),
        ("post", "/api/v1/customers", {"name": "X"}),
        ("get", "/api/v1/customers/1", None),
    ):
        assert_problem(getattr(cust, method)(path, json=body) if body is not None else getattr(cust, method)(path),
                       403)


def test_tokens_are_stored_hashed(app, session, tokens):
    with app.extensions["desk"]["engine"].connect() as conn:
        stored = [row[0] for row in conn.exec_driver_sql("SELECT token_hash FROM api_tokens")]
    assert len(stored) == len(tokens)
    for token in tokens.values():
        assert token not in stored
        assert hashlib.sha256(token.encode()).hexdigest() in stored


def test_unknown_api_path_is_problem_404(api, tokens):
    assert_problem(api(tokens["counsel"]).get("/api/v1/nothing-here"), 404)
    assert_problem(api(tokens["counsel"]).get("/api/v1/demands/abc"), 404)
    assert_problem(api(tokens["counsel"]).get("/api/v1/demands/0"), 404)
    assert_problem(api(tokens["counsel"]).get(f"/api/v1/demands/{2**70}"), 404)
    assert_problem(api(tokens["counsel"]).get(f"/api/v1/demands/{2**40}"), 404)
    assert_problem(api(tokens["counsel"]).get(f"/api/v1/customers/{2**40}"), 404)
    assert_problem(api(tokens["counsel"]).post(f"/api/v1/demands/{2**40}/withdraw", json={}), 404)
    assert_problem(api(tokens["counsel"]).get(f"/api/v1/demands/{2**40}/audit"), 404)
    assert_problem(api(tokens["counsel"]).get("/api/v1/demands/-1"), 404)


def test_wrong_method_is_problem(api, tokens):
    r = api(tokens["counsel"]).client.delete("/api/v1/demands", headers=api(tokens["counsel"]).headers)
    assert_problem(r, 405)


# ---------------------------------------------------------------- customers

CUSTOMER = {
    "name": "Contoso Ltd",
    "enterprise": True,
    "domains": ["Contoso.com", "contoso.co.uk"],
    "accounts": ["ACME-ACCT-7", "Ceo@Gmail.example"],
    "contacts": [{"name": "Privacy Office", "email": "Privacy@Contoso.com"}],
}


def test_admin_creates_customer_staff_read_it(app, api, tokens):
    r = api(tokens["admin"]).post("/api/v1/customers", json=CUSTOMER)
    assert r.status_code == 201, r.get_json()
    created = r.get_json()
    assert created == {
        "id": created["id"], "name": "Contoso Ltd", "enterprise": True,
        "domains": ["contoso.co.uk", "contoso.com"],
        "accounts": ["ACME-ACCT-7", "ceo@gmail.example"],
        "contacts": [{"name": "Privacy Office", "email": "privacy@contoso.com"}],
    }
    for role in STAFF:
        got = api(tokens[role]).get(f"/api/v1/customers/{created['id']}")
        assert got.status_code == 200 and got.get_json() == created
    with app.extensions["desk"]["engine"].connect() as conn:
        actions = [r[0] for r in conn.execute(
            select(AuditEvent.action).where(AuditEvent.object_type == "customer"))]
    assert actions == ["customer.create", "customer.create"]  # the fixture's customer, then this one


@pytest.mark.parametrize("role", ["intake", "counsel", "approver"])
def test_only_admin_writes_customers(app, api, tokens, role):
    assert_problem(api(tokens[role]).post("/api/v1/customers", json=CUSTOMER), 403)
    with app.extensions["desk"]["engine"].connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Customer)) == 1


@pytest.mark.parametrize("change,field", [
    ({"name": ""}, "name"),
    ({"name": None}, "name"),
    ({"name": "x" * 201}, "name"),
    ({"enterprise": "yes"}, "enterprise"),
    ({"domains": "contoso.com"}, "domains"),
    ({"domains": ["not a domain"]}, "domains[0]"),
    ({"domains": ["contoso.com", "CONTOSO.com"]}, "domains[1]"),
    ({"domains": ["portal.example"]}, "domains[0]"),  # belongs to another customer
    ({"domains": [7]}, "domains[0]"),
    ({"accounts": [""]}, "accounts[0]"),
    ({"accounts": ["ceo@x.example", " CEO@X.example "]}, "accounts[1]"),
    ({"accounts": ["ACCT-1", " ACCT-1"]}, "accounts[1]"),
    ({"accounts": ["x" * 321]}, "accounts[0]"),
    ({"contacts": [{"name": "P"}]}, "contacts[0].email"),
    ({"contacts": [{"name": "P", "email": "not-an-address"}]}, "contacts[0].email"),
    ({"contacts": [{"email": "p@contoso.com"}]}, "contacts[0].name"),
    ({"contacts": ["p@contoso.com"]}, "contacts[0]"),
    ({"name": "Portal Org"}, "name"),  # taken
])
def test_bad_customer_is_422_naming_the_field(app, session, api, tokens, change, field):
    make_customer(session, "Owner Org", domains=("portal.example",))
    body = {**CUSTOMER, **change}
    problem = assert_problem(api(tokens["admin"]).post("/api/v1/customers", json=body), 422)
    assert field in problem["errors"], problem["errors"]
    with app.extensions["desk"]["engine"].connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Customer)) == 2


def test_customer_not_json_400_unknown_404(api, tokens):
    r = api(tokens["admin"]).client.post("/api/v1/customers", data="{nope", content_type="application/json",
                                         headers=api(tokens["admin"]).headers)
    assert_problem(r, 400)
    assert_problem(api(tokens["counsel"]).get("/api/v1/customers/424242"), 404)
    assert_problem(api(tokens["counsel"]).get("/api/v1/customers/x"), 404)


# ---------------------------------------------------------------- the demand list


@pytest.fixture
def listed(session, api, tokens):
    contoso = make_customer(session, "Contoso", domains=("contoso.com",))
    intake = api(tokens["intake"])
    made = {}
    for key, body in {
        "us_warrant": demand_payload(country="US", process_type="search_warrant", legal_reference="SW-2026-001",
                                     targets=["alice@contoso.com"],
                                     requested=[{"target": "alice@contoso.com", "data_set": "email_content",
                                                 "from": "2026-01-01", "to": "2026-01-31"}],
                                     received_at="2026-01-10T00:00:00Z"),
        "de_subpoena": demand_payload(country="DE", process_type="subpoena", legal_reference="AZ 12 Js 345/26",
                                      received_at="2026-01-11T00:00:00Z", targets=["+49 30 1234"],
                                      requested=[{"target": "+49 30 1234", "data_set": "subscriber_info",
                                                  "from": "2026-01-01", "to": "2026-01-31"}]),
        "us_subpoena": demand_payload(country="US", process_type="subpoena", legal_reference="GJ-77",
                                      received_at="2026-01-12T00:00:00Z", targets=["carol@fabrikam.example"],
                                      requested=[{"target": "carol@fabrikam.example", "data_set": "subscriber_info",
                                                  "from": "2026-01-01", "to": "2026-01-31"}]),
    }.items():
        r = intake.post("/api/v1/demands", json=body)
        assert r.status_code == 201, r.get_json()
        made[key] = r.get_json()
    counsel = api(tokens["counsel"])
    r = counsel.post(f"/api/v1/demands/{made['de_subpoena']['id']}/withdraw", json={})
    assert r.status_code == 200
    made["contoso"] = contoso
    return made


def _ids(r) -> list[int]:
    assert r.status_code == 200, r.get_json()
    return [d["id"] for d in r.get_json()["items"]]


def test_list_filters(api, tokens, listed):
    a = api(tokens["approver"])
    ids = {k: v["id"] for k, v in listed.items() if k != "contoso"}
    body = a.get("/api/v1/demands").get_json()
    assert set(body) >= {"items", "total", "page"}
    assert (body["total"], body["page"]) == (3, 1)
    assert [d["id"] for d in body["items"]] == [ids["us_subpoena"], ids["de_subpoena"], ids["us_warrant"]]
    assert _ids(a.get("/api/v1/demands?status=received")) == [ids["us_subpoena"], ids["us_warrant"]]
    assert _ids(a.get("/api/v1/demands?status=closed")) == [ids["de_subpoena"]]
    assert _ids(a.get("/api/v1/demands?country=US")) == [ids["us_subpoena"], ids["us_warrant"]]
    assert _ids(a.get("/api/v1/demands?country=de")) == [ids["de_subpoena"]]
    assert _ids(a.get("/api/v1/demands?process_type=subpoena")) == [ids["us_subpoena"], ids["de_subpoena"]]
    assert _ids(a.get(f"/api/v1/demands?customer={listed['contoso'].id}")) == [ids["us_warrant"]]
    assert _ids(a.get("/api/v1/demands?country=US&process_type=subpoena&status=received")) == [ids["us_subpoena"]]
    assert _ids(a.get("/api/v1/demands?sort=received_at")) == [ids["us_warrant"], ids["de_subpoena"],
                                                              ids["us_subpoena"]]


@pytest.mark.parametrize("q,expect", [
    ("LD-2026-000002", ["de_subpoena"]),  # reference
    ("ld-2026-000001", ["us_warrant"]),  # reference, any case
    ("ld-2026-00000", ["us_subpoena", "de_subpoena", "us_warrant"]),  # the start of a reference
    ("2026-00000", []),  # the middle of one: q matches the start of a value (the search index's key)
    ("SW-2026-001", ["us_warrant"]),  # legal reference
    ("az 12 js", ["de_subpoena"]),  # the start of a legal reference, any case
    ("12 Js 345", []),  # the middle of one
    ("gj-77", ["us_subpoena"]),  # legal reference, any case
    ("ALICE@contoso.com ", ["us_warrant"]),  # target identifier, normalised
    ("+49 30 1234", ["de_subpoena"]),  # target identifier
    ("carol@fab", ["us_subpoena"]),  # the start of a target identifier
    ("fabrikam", []),  # the middle of one
    ("100%", []),
    ("_", []),
    ("nothing like it", []),
])
def test_list_search(api, tokens, listed, q, expect):
    from urllib.parse import quote

    r = api(tokens["intake"]).get(f"/api/v1/demands?q={quote(q)}")
    assert _ids(r) == [listed[k]["id"] for k in expect]
    assert r.get_json()["total"] == len(expect)


def test_list_paging(api, tokens):
    intake = api(tokens["intake"])
    for n in range(7):
        assert intake.post("/api/v1/demands", json=demand_payload(
            received_at=f"2026-02-{n + 1:02d}T00:00:00Z")).status_code == 201
    a = api(tokens["counsel"])
    pages = [a.get(f"/api/v1/demands?per_page=3&page={p}&sort=received_at").get_json() for p in (1, 2, 3, 4)]
    assert [len(p["items"]) for p in pages] == [3, 3, 1, 0]
    assert all(p["total"] == 7 for p in pages)
    assert [p["page"] for p in pages] == [1, 2, 3, 4]
    refs = [d["reference"] for p in pages for d in p["items"]]
    assert refs == [f"LD-2026-{n:06d}" for n in range(1, 8)]
    assert len(a.get("/api/v1/demands?per_page=200").get_json()["items"]) == 7
    assert a.get("/api/v1/demands").get_json()["per_page"] == 50


@pytest.mark.parametrize("query,field", [
    ("per_page=201", "per_page"),
    ("per_page=0", "per_page"),
    ("per_page=ten", "per_page"),
    ("page=0", "page"),
    ("page=-2", "page"),
    ("page=1.5", "page"),
    (f"page={10**30}", "page"),
    ("status=lost", "status"),
    ("country=XX", "country"),
    ("country=USA", "country"),
    ("process_type=letter", "process_type"),
    ("customer=acme", "customer"),
    ("sort=password", "sort"),
])
def test_list_bad_parameters_are_422(api, tokens, query, field):
    problem = assert_problem(api(tokens["counsel"]).get(f"/api/v1/demands?{query}"), 422)
    assert field in problem["errors"]


def test_list_unknown_customer_is_empty(api, tokens):
    r = api(tokens["counsel"]).get("/api/v1/demands?customer=99999")
    assert r.status_code == 200 and r.get_json()["items"] == []
    for beyond in ("99999999999", "0", "-3"):  # no customer has such an id (and no 500 on PostgreSQL)
        r = api(tokens["counsel"]).get(f"/api/v1/demands?customer={beyond}")
        assert r.status_code == 200 and r.get_json()["items"] == []


# ---------------------------------------------------------------- documents


def _upload(a, demand_id, content: bytes, name: str = "warrant.pdf"):
    import io

    return a.client.post(f"/api/v1/demands/{demand_id}/documents", headers=a.headers,
                         data={"file": (io.BytesIO(content), name)}, content_type="multipart/form-data")


def _stored_files(app) -> list[Path]:
    folder = Path(app.config["DESK_UPLOAD_DIR"])
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


def _documents(app) -> int:
    with app.extensions["desk"]["engine"].connect() as conn:
        return conn.scalar(select(func.count()).select_from(Document))


def test_upload_pdf_records_sha256_and_size(app, api, tokens):
    intake = api(tokens["intake"])
    demand = intake.post("/api/v1/demands", json=demand_payload()).get_json()
    r = _upload(intake, demand["id"], MINIMAL_PDF, name="../../Warrant 2026.pdf")
    assert r.status_code == 201, r.get_json()
    doc = r.get_json()
    assert doc["sha256"] == hashlib.sha256(MINIMAL_PDF).hexdigest()
    assert doc["bytes"] == len(MINIMAL_PDF)
    assert isinstance(doc["id"], int)
    # stored under a random name in the upload folder, outside the web-served static folder
    files = _stored_files(app)
    assert len(files) == 1 and files[0].read_bytes() == MINIMAL_PDF
    assert "Warrant" not in files[0].name and len(files[0].name) >= 32
    static = Path(app.static_folder).resolve()
    assert static not in files[0].resolve().parents
    # the demand lists it, by its own (base) name
    got = api(tokens["counsel"]).get(f"/api/v1/demands/{demand['id']}").get_json()
    # no customer is concerned, so it goes to none (tests/test_document_marks.py for those that are)
    assert got["documents"] == [{"id": doc["id"], "name": "Warrant 2026.pdf", "sha256": doc["sha256"],
                                 "bytes": doc["bytes"], "for_customer_id": None, "customers": []}]
    event = api(tokens["counsel"]).get(f"/api/v1/demands/{demand['id']}/audit").get_json()[-1]
    assert event["action"] == "document.upload" and event["after"]["sha256"] == doc["sha256"]
    # counsel may upload too
    assert _upload(api(tokens["counsel"]), demand["id"], MINIMAL_PDF).status_code == 201


@pytest.mark.parametrize("content,name", [
    (b"This is not a PDF, only named like one.\n", "warrant.pdf"),
    (b"", "warrant.pdf"),
    (MINIMAL_PDF.replace(b"%PDF-", b"%PDX-"), "warrant.pdf"),
    (MINIMAL_PDF.replace(b"%%EOF", b"%%END"), "warrant.pdf"),
    (b"\x89PNG\r\n\x1a\n" + b"0" * 100, "scan.pdf"),
])
def test_upload_not_a_pdf_is_422_nothing_stored(app, api, tokens, content, name):
    intake = api(tokens["intake"])
    demand = intake.post("/api/v1/demands", json=demand_payload()).get_json()
    problem = assert_problem(_upload(intake, demand["id"], content, name), 422)
    assert "file" in problem["errors"]
    assert _stored_files(app) == [] and _documents(app) == 0


@pytest.mark.parametrize("size", [20 * 1024 * 1024 + 1, 22 * 1024 * 1024])
def test_upload_over_20_mib_is_422_nothing_stored(app, api, tokens, size):
    intake = api(tokens["intake"])
    demand = intake.post("/api/v1/demands", json=demand_payload()).get_json()
    content = MINIMAL_PDF[:-6] + b" " * (size - len(MINIMAL_PDF)) + b"%%EOF\n"
    assert len(content) == size
    problem = assert_problem(_upload(intake, demand["id"], content), 422)
    assert "file" in problem["errors"] and "20 MiB" in problem["detail"]
    assert _stored_files(app) == [] and _documents(app) == 0


def test_upload_exactly_20_mib_is_accepted(app, api, tokens):
    intake = api(tokens["intake"])
    demand = intake.post("/api/v1/demands", json=demand_payload()).get_json()
    size = 20 * 1024 * 1024
    content = MINIMAL_PDF[:-6] + b" " * (size - len(MINIMAL_PDF)) + b"%%EOF\n"
    r = _upload(intake, demand["id"], content)
    assert r.status_code == 201 and r.get_json()["bytes"] == size


def test_upload_roles_and_missing_file(app, api, tokens):
    intake = api(tokens["intake"])
    demand = intake.post("/api/v1/demands", json=demand_payload()).get_json()
    for role in ("approver", "admin", "customer"):
        assert_problem(_upload(api(tokens[role]), demand["id"], MINIMAL_PDF), 403)
    assert_problem(_upload(api(None), demand["id"], MINIMAL_PDF), 401)
    assert_problem(_upload(api(tokens["approver"]), 999999, MINIMAL_PDF), 404)
    r = intake.client.post(f"/api/v1/demands/{demand['id']}/documents", headers=intake.headers,
                           data={"other": "x"}, content_type="multipart/form-data")
    assert "file" in assert_problem(r, 422)["errors"]
    assert _stored_files(app) == [] and _documents(app) == 0


# ---------------------------------------------------------------- audit


def test_audit_endpoint_lists_the_demands_events(api, tokens):
    intake = api(tokens["intake"])
    demand = intake.post("/api/v1/demands", json=demand_payload()).get_json()
    intake.post(f"/api/v1/demands/{demand['id']}/attempt-redirect", json={"note": "call the customer"})
    for role in STAFF:
        events = api(tokens[role]).get(f"/api/v1/demands/{demand['id']}/audit").get_json()
        assert [e["action"] for e in events] == ["demand.log", "attempt-redirect"]
        assert all({"seq", "at", "actor", "action", "before", "after", "hash"} <= set(e) for e in events)
        assert events[1]["before"]["status"] == "received" and events[1]["after"]["status"] == "redirecting"
        assert events[1]["after"]["note"] == "call the customer"
    assert_problem(api(tokens["counsel"]).get("/api/v1/demands/999999/audit"), 404)
