"""Target resolution at intake (SPEC §2): identifiers trimmed, e-mail addresses lower-cased;
an explicit account mapping wins, else the e-mail's domain (or a parent domain);
unresolved means a consumer account. Seen through the API's demand."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from requests_desk.models import DemandTarget
from requests_desk.services.customers import resolve_targets
from tests.factories import demand_payload, make_customer, make_token, make_user


@pytest.fixture
def world(session):
    contoso = make_customer(session, "Contoso", enterprise=True, domains=("contoso.com",),
                            accounts=("+1 555 0199",))
    eu = make_customer(session, "Contoso Europe", enterprise=True, domains=("eu.contoso.com",))
    fabrikam = make_customer(session, "Fabrikam", enterprise=False, domains=("fabrikam.example",),
                             accounts=("ceo@contoso.com", "ACCT-42"))
    return {"Contoso": contoso.id, "Contoso Europe": eu.id, "Fabrikam": fabrikam.id}


@pytest.fixture
def intake(session, api):
    return api(make_token(session, make_user(session, "intake")))


def _log(intake, *targets: str) -> dict:
    requested = [{"target": t, "data_set": "subscriber_info", "from": "2026-01-01", "to": "2026-01-31"}
                 for t in targets]
    r = intake.post("/api/v1/demands", json=demand_payload(targets=list(targets), requested=requested))
    assert r.status_code == 201, r.get_json()
    return r.get_json()


@pytest.mark.parametrize("target,stored,customer", [
    ("bob@contoso.com", "bob@contoso.com", "Contoso"),
    ("  Bob@CONTOSO.com\t", "bob@contoso.com", "Contoso"),  # trimmed, lower-cased
    ("bob@mail.contoso.com", "bob@mail.contoso.com", "Contoso"),  # parent domain
    ("bob@a.b.contoso.com", "bob@a.b.contoso.com", "Contoso"),
    ("bob@eu.contoso.com", "bob@eu.contoso.com", "Contoso Europe"),  # the most specific domain
    ("bob@x.eu.contoso.com", "bob@x.eu.contoso.com", "Contoso Europe"),
    ("CEO@Contoso.com", "ceo@contoso.com", "Fabrikam"),  # explicit mapping beats the domain
    (" +1 555 0199 ", "+1 555 0199", "Contoso"),  # any identifier can be mapped
    ("ACCT-42", "ACCT-42", "Fabrikam"),
    ("acct-42", "acct-42", None),  # not an e-mail: case kept, so no match
    ("bob@notcontoso.com", "bob@notcontoso.com", None),  # not a parent domain
    ("bob@contoso.com.evil.example", "bob@contoso.com.evil.example", None),
    ("contoso.com", "contoso.com", None),  # a bare domain is not an e-mail identifier
    ("someone@gmail.example", "someone@gmail.example", None),  # a consumer
])
def test_target_resolution(intake, world, target, stored, customer):
    demand = _log(intake, target)
    assert demand["targets"] == [stored]
    if customer is None:
        assert demand["customers"] == []
    else:
        enterprise = customer != "Fabrikam"
        assert demand["customers"] == [{"id": world[customer], "name": customer, "enterprise": enterprise}]


def test_several_targets_list_each_customer_once(intake, world):
    demand = _log(intake, "a@contoso.com", "b@contoso.com", "joe@gmail.example", "ceo@contoso.com")
    assert [c["name"] for c in demand["customers"]] == ["Contoso", "Fabrikam"]


def test_resolution_is_kept_from_intake(session, intake, world):
    """A later change of domains does not move an already logged demand."""
    demand = _log(intake, "bob@newco.example")
    assert demand["customers"] == []
    make_customer(session, "NewCo", domains=("newco.example",))
    assert intake.get(f"/api/v1/demands/{demand['id']}").get_json()["customers"] == []
    assert _log(intake, "bob@newco.example")["customers"][0]["name"] == "NewCo"
    rows = session.scalars(select(DemandTarget).order_by(DemandTarget.id)).all()
    assert [r.customer_id is None for r in rows] == [True, False]


def test_resolve_targets_service(session, world):
    got = resolve_targets(session, ["ceo@contoso.com", "x@eu.contoso.com", "nobody@example.org", "+1 555 0199"])
    assert {k: (v.name if v else None) for k, v in got.items()} == {
        "ceo@contoso.com": "Fabrikam", "x@eu.contoso.com": "Contoso Europe",
        "nobody@example.org": None, "+1 555 0199": "Contoso",
    }
    assert resolve_targets(session, []) == {}


def test_a_domain_or_account_belongs_to_one_customer(session, api, world):
    admin = api(make_token(session, make_user(session, "admin")))
    r = admin.post("/api/v1/customers", json={"name": "Other", "domains": ["CONTOSO.com"],
                                              "accounts": ["ACCT-42"]})
    assert r.status_code == 422
    assert set(r.get_json()["errors"]) == {"domains[0]", "accounts[0]"}
