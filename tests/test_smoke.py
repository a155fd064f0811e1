from tests.factories import make_customer, make_token, make_user, demand_payload


def test_log_demand_via_api(app, session, api):
    intake = make_user(session, "intake")
    make_customer(session, "Contoso", domains=("contoso.com",))
    r = api(make_token(session, intake)).post("/api/v1/demands", json=demand_payload(targets=["Bob@Contoso.com "],
        requested=[{"target": "bob@contoso.com", "data_set": "sign_in_logs", "from": "2026-01-01", "to": "2026-01-31"}]))
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert body["reference"].startswith("LD-")
    assert body["customers"][0]["name"] == "Contoso"
