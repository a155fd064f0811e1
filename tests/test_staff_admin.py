"""Admin pages: customers (domains, account mappings, contacts) and users (staff roles,
customer users, active), through the forms, with real login and CSRF."""
from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from requests_desk.models import AuditEvent, Customer, User
from tests.factories import (
    field_error,
    form_value,
    make_customer,
    make_demand,
    make_user,
    page_text,
    post_form,
)


@pytest.fixture
def admin(session, login):
    user = make_user(session, "admin", email="ada@desk.example")
    login(user.email)
    return user


def n(session, model) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(model))


def test_admin_creates_a_customer(client, session, admin):
    r = post_form(client, "/desk/admin/customers/new", {
        "name": "Contoso Ltd", "enterprise": "y", "domains": "contoso.com\r\nContoso.co.uk",
        "accounts": "acct-991\r\n", "contacts-0-name": "Pat Privacy", "contacts-0-email": "pat@contoso.com",
        "contacts-1-name": "Legal", "contacts-1-email": "legal@contoso.com", "save": "1"})
    assert r.status_code == 302
    text = page_text(client.get(r.headers["Location"]))
    assert "Added the customer Contoso Ltd." in text
    assert "Contoso Ltd" in text and "Enterprise" in text and "contoso.co.uk, contoso.com" in text
    assert "Pat Privacy" in text and "legal@contoso.com" in text
    customer = session.scalars(select(Customer)).one()
    assert customer.enterprise and [a.identifier for a in customer.accounts] == ["acct-991"]
    assert session.scalar(select(AuditEvent.action).where(AuditEvent.object_type == "customer")) == \
        "customer.create"
    # and targets now resolve to it
    d = make_demand(session, None, targets=["x@contoso.co.uk"],
                    requested=[{"target": "x@contoso.co.uk", "data_set": "subscriber_info",
                                "from": "2026-01-01", "to": "2026-01-02"}])
    assert "Contoso Ltd" in page_text(client.get(f"/desk/demands/{d.id}"))


def test_customer_errors_show_at_the_field_and_keep_input(client, session, admin):
    make_customer(session, "Fabrikam", domains=("fabrikam.de",))
    before = n(session, Customer)
    r = post_form(client, "/desk/admin/customers/new", {
        "name": "Fabrikam", "domains": "good.example\r\nnot a domain\r\nfabrikam.de", "accounts": "",
        "contacts-0-name": "Pat", "contacts-0-email": "pat(at)example", "save": "1"})
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert "Another customer has this name" in field_error(html, "name")
    domains_error = field_error(html, "domains")
    assert "Line 2: is not a domain name" in domains_error and "Line 3: already belongs" in domains_error
    assert "Not a valid e-mail address" in field_error(html, "contacts-0-email")
    assert form_value(html, "domains") == "good.example\r\nnot a domain\r\nfabrikam.de"
    assert form_value(html, "contacts-0-email") == "pat(at)example"
    assert n(session, Customer) == before


def test_admin_edits_a_customer(client, session, admin):
    customer = make_customer(session, "Tailspin", domains=("tailspin.example",), enterprise=False)
    page = client.get(f"/desk/admin/customers/{customer.id}")
    html = page.get_data(as_text=True)
    assert form_value(html, "domains") == "tailspin.example"
    r = post_form(client, f"/desk/admin/customers/{customer.id}", {
        "name": "Tailspin Toys", "enterprise": "y", "domains": "tailspin.example\r\ntailspin.toys",
        "accounts": "", "contacts-0-name": "Kim", "contacts-0-email": "kim@tailspin.toys", "save": "1"})
    assert r.status_code == 302
    session.expire_all()
    customer = session.get(Customer, customer.id)
    assert customer.name == "Tailspin Toys" and customer.enterprise
    assert [d.domain for d in customer.domains] == ["tailspin.example", "tailspin.toys"]
    assert [c.email for c in customer.contacts] == ["kim@tailspin.toys"]
    assert client.get("/desk/admin/customers/999999").status_code == 404


def test_contact_rows_without_javascript(client, session, admin):
    r = post_form(client, "/desk/admin/customers/new", {"name": "X", "contacts-0-name": "A",
                                                         "contacts-0-email": "a@x.example", "add_row": "contacts"})
    html = r.get_data(as_text=True)
    assert r.status_code == 200 and form_value(html, "contacts-1-name") == ""
    assert n(session, Customer) == 0


def _link(smtp_server, to: str) -> str:
    mails = [m for m in smtp_server.received if to in m.rcpt_tos]
    assert mails, [m.rcpt_tos for m in smtp_server.received]
    body = mails[-1].message.get_content()
    return re.search(r"http://[^\s]+/account/set-password/[^\s]+", body).group(0).split("127.0.0.1:5000", 1)[1]


def _set_password(client, path: str, password: str):
    from tests.factories import csrf_from

    page = client.get(path)
    if page.status_code != 200:
        return page
    return client.post(path, data={"csrf_token": csrf_from(page.get_data(as_text=True)),
                                   "password": password, "confirm": password})


def test_admin_creates_a_staff_user_who_sets_their_own_password_by_link(client, session, admin, login, smtp_server):
    r = post_form(client, "/desk/admin/users/new", {"email": "Nia@Desk.Example", "name": "Nia", "kind": "staff",
                                                    "roles": ["counsel", "approver"]})
    assert r.status_code == 200
    assert "no-store" in {d.strip() for d in r.headers["Cache-Control"].split(",")}
    assert "generated-password" not in r.get_data(as_text=True) and "e-mailed" in page_text(r)
    user = session.scalars(select(User).where(User.email == "nia@desk.example")).one()
    assert user.roles == {"counsel"}  # approver waits for a second admin
    path = _link(smtp_server, "nia@desk.example")
    client.post("/logout", data={"csrf_token": _token(client)})
    assert _set_password(client, path, "aaaaaaaaaa").status_code == 422
    assert _set_password(client, path, "nia's own long passphrase").status_code == 302
    assert _set_password(client, path, "another long passphrase").status_code == 410  # single use
    assert login("nia@desk.example", "nia's own long passphrase").headers["Location"] == "/desk/"


def _token(client):
    from tests.factories import csrf_from

    return csrf_from(client.get("/desk/").get_data(as_text=True))


def test_admin_creates_a_customer_user(client, session, admin, login, smtp_server):
    customer = make_customer(session, "Contoso")
    page = client.get(f"/desk/admin/users/new?customer={customer.id}")
    assert form_value(page.get_data(as_text=True), "kind") == "customer"
    r = post_form(client, "/desk/admin/users/new", {"email": "reader@contoso.com", "kind": "customer",
                                                    "customer": str(customer.id)})
    assert r.status_code == 200
    assert "A portal user of Contoso" in page_text(r)
    user = session.scalars(select(User).where(User.email == "reader@contoso.com")).one()
    assert user.roles == {"customer"} and user.customer_id == customer.id
    assert "reader@contoso.com" in page_text(client.get(f"/desk/admin/customers/{customer.id}"))
    path = _link(smtp_server, "reader@contoso.com")
    client.post("/logout", data={"csrf_token": _token(client)})
    assert _set_password(client, path, "the reader's passphrase").status_code == 302
    assert login("reader@contoso.com", "the reader's passphrase").headers["Location"] == "/portal/"


@pytest.mark.parametrize("data,field_id,message", [
    ({"email": "not-an-email", "kind": "staff", "roles": ["intake"]}, "email", "Not a valid e-mail address"),
    ({"email": "ada@desk.example", "kind": "staff", "roles": ["intake"]}, "email", "A user with this e-mail exists"),
    ({"email": "x@desk.example", "kind": "staff"}, "roles", "Choose at least one role"),
    ({"email": "x@desk.example", "kind": "customer", "customer": ""}, "customer", "Choose the customer organisation"),
    ({"email": "x@desk.example", "kind": "customer", "customer": "424242"}, "customer", "There is no customer 424242"),
])
def test_user_form_errors(client, session, admin, data, field_id, message):
    before = n(session, User)
    r = post_form(client, "/desk/admin/users/new", data)
    html = r.get_data(as_text=True)
    assert r.status_code == 422
    assert message in field_error(html, field_id)
    assert form_value(html, "email") == data["email"]
    assert n(session, User) == before


def test_admin_changes_roles_and_deactivates(client, session, admin, login):
    staff = make_user(session, "intake", email="ivan@desk.example")
    r = post_form(client, f"/desk/admin/users/{staff.id}", {"roles": ["intake", "counsel"], "active": "y"})
    assert r.status_code == 302
    session.expire_all()
    assert session.get(User, staff.id).roles == {"intake", "counsel"}
    r = post_form(client, f"/desk/admin/users/{staff.id}", {"roles": ["intake", "counsel"]})
    assert r.status_code == 302
    assert "Inactive" in page_text(client.get("/desk/admin/users"))
    client.post("/logout", data={"csrf_token": _token(client)})
    assert login("ivan@desk.example").status_code == 401


def test_admin_deactivates_a_customer_user(client, session, admin):
    customer = make_customer(session, "Contoso")
    reader = make_user(session, "customer", customer_id=customer.id)
    page = client.get(f"/desk/admin/users/{reader.id}")
    assert "Portal user of Contoso" in page_text(page)
    r = post_form(client, f"/desk/admin/users/{reader.id}", {})
    assert r.status_code == 302
    session.expire_all()
    assert session.get(User, reader.id).active is False and session.get(User, reader.id).roles == {"customer"}


def test_admin_cannot_lock_themselves_out(client, session, admin):
    r = post_form(client, f"/desk/admin/users/{admin.id}", {"roles": ["counsel"], "active": "y"})
    assert r.status_code == 422
    assert "cannot change your own roles" in field_error(r.get_data(as_text=True), "roles")
    session.expire_all()
    assert session.get(User, admin.id).roles == {"admin"}


def test_the_customers_page_counts_each_ones_demands_up_to_the_cap(client, session, admin, monkeypatch):
    """Each customer's demands, a demand with two of its accounts once, none of a
    compartment the admin lacks; past the lists' cap "N+", read no further."""
    from requests_desk.staff import admin as admin_views

    monkeypatch.setattr(admin_views, "COUNT_CAP", 2)
    make_customer(session, "Contoso", accounts=("c-1", "c-2"))
    make_customer(session, "Fabrikam", accounts=("f-1",))
    make_customer(session, "Idle Co", accounts=("i-1",))
    asked = [{"target": "c-1", "data_set": "subscriber_info", "from": "2026-01-01", "to": "2026-01-02"}]
    make_demand(session, None, targets=["c-1", "c-2"], requested=asked)  # one demand, two accounts
    make_demand(session, None, targets=["c-1", "f-1"], requested=asked)
    make_demand(session, None, targets=["c-2"], process_type="national_security",
                requested=[{**asked[0], "target": "c-2"}])  # hidden from this admin
    make_demand(session, None, targets=["f-1"], requested=[{**asked[0], "target": "f-1"}])

    def shown() -> dict[str, str]:
        html = client.get("/desk/admin/customers").get_data(as_text=True)
        return dict(re.findall(r'/customers/\d+">([^<]+)</a></td>.*?customer=\d+">([\d,+]+)</a>',
                               html, re.S))

    assert shown() == {"Contoso": "2", "Fabrikam": "2", "Idle Co": "0"}
    make_demand(session, None, targets=["c-2"], requested=[{**asked[0], "target": "c-2"}])
    assert shown() == {"Contoso": "2+", "Fabrikam": "2", "Idle Co": "0"}
