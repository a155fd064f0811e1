"""Who reaches the desk: anonymous visitors go to the login page (with a local ``next``),
customers get 403, and the admin pages are for admins only."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.factories import make_customer, make_demand, make_user, page_text

DESK_PAGES = ["/desk/", "/desk/demands", "/desk/demands/new", "/desk/admin/customers", "/desk/admin/users"]


@pytest.mark.parametrize("path", DESK_PAGES + ["/desk/demands?status=open&country=DE"])
def test_anonymous_is_sent_to_login_with_a_local_next(client, path):
    r = client.get(path)
    assert r.status_code == 302
    location = urlsplit(r.headers["Location"])
    assert location.path == "/login" and not location.netloc
    assert parse_qs(location.query)["next"] == [path]


def test_login_returns_to_the_page_asked_for(client, session, login):
    user = make_user(session, "counsel")
    r = login(user.email, next_path="/desk/demands?status=open")
    assert r.status_code == 302 and r.headers["Location"] == "/desk/demands?status=open"


def test_login_never_redirects_off_site(client, session, login):
    user = make_user(session, "counsel")
    r = login(user.email, next_path="//evil.example/desk/")
    assert r.headers["Location"] == "/desk/"


def test_customer_user_gets_403_on_the_desk(client, session, login):
    customer = make_customer(session, "Contoso")
    user = make_user(session, "customer", customer_id=customer.id)
    login(user.email)
    for path in DESK_PAGES:
        r = client.get(path)
        assert r.status_code == 403, path
        assert "This page is for the legal team." in page_text(r)


def test_customer_cannot_download_staff_documents(client, session, login):
    customer = make_customer(session, "Contoso")
    user = make_user(session, "customer", customer_id=customer.id)
    login(user.email)
    assert client.get("/desk/documents/1").status_code == 403


@pytest.mark.parametrize("roles", [("intake",), ("counsel",), ("approver",)])
def test_only_admins_reach_the_admin_pages(client, session, login, roles):
    user = make_user(session, *roles)
    login(user.email)
    for path in ("/desk/admin/customers", "/desk/admin/customers/new", "/desk/admin/users",
                 "/desk/admin/users/new"):
        r = client.get(path)
        assert r.status_code == 403, path
        assert "Only admin users may do this." in page_text(r)
    text = page_text(client.get("/desk/"))
    assert "Customers" not in text and "Users" not in text


def test_nav_shows_what_each_role_can_use(client, session, login):
    admin = make_user(session, "admin")
    login(admin.email)
    text = page_text(client.get("/desk/"))
    assert "My queue" in text and "Demands" in text and "Customers" in text and "Users" in text
    assert "Log a demand" not in text  # admins do not log demands


def test_nav_links_other_pages_only_when_they_exist(app, client, session, login):
    user = make_user(session, "counsel")
    login(user.email)
    html = client.get("/desk/").get_data(as_text=True)
    for endpoint, label in (("staff.notices", ">Notices<"), ("staff.reports", ">Reports<")):
        assert (label in html) == (endpoint in app.view_functions)


def test_every_staff_role_reads_the_case_list_and_case(client, session, login):
    intake = make_user(session, "intake")
    demand = make_demand(session, intake)
    for roles in (("intake",), ("counsel",), ("approver",), ("admin",)):
        user = make_user(session, *roles)
        client.post("/logout", data={"csrf_token": _token(client)}) if roles != ("intake",) else None
        login(user.email)
        assert client.get("/desk/demands").status_code == 200
        assert demand.reference in page_text(client.get(f"/desk/demands/{demand.id}"))


def _token(client):
    from tests.factories import csrf_from

    return csrf_from(client.get("/desk/").get_data(as_text=True))
