"""Sign-in (issue 2, point 4): one /login for staff and customers with CSRF, password
checks, cookie flags, a new session at sign-in, local-only ``next``, logout by POST,
and the guards: customers never reach /desk/, staff never the portal."""
from __future__ import annotations

import pytest

from requests_desk.app import create_app
from requests_desk.models import User
from requests_desk.services.users import authenticate
from tests.factories import PASSWORD, csrf_from, make_customer, make_user


@pytest.fixture
def counsel(session):
    return make_user(session, "counsel", email="counsel@desk.example")


def _signed_in(client) -> bool:
    r = client.get("/desk/")
    return r.status_code == 200


def _session_cookie(response) -> str:
    cookies = [h for h in response.headers.getlist("Set-Cookie") if h.startswith("session=")]
    assert len(cookies) == 1, response.headers.getlist("Set-Cookie")
    return cookies[0]


def test_login_page_has_form_with_csrf(client):
    r = client.get("/login")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert 'name="email"' in html and 'name="password"' in html
    assert csrf_from(html)


def test_login_without_csrf_is_refused(client, counsel):
    r = client.post("/login", data={"email": counsel.email, "password": PASSWORD})
    assert r.status_code == 400
    assert not _signed_in(client)
    r = client.post("/login", data={"email": counsel.email, "password": PASSWORD, "csrf_token": "forged"})
    assert r.status_code == 400
    assert not _signed_in(client)


@pytest.mark.parametrize("email,password", [
    ("counsel@desk.example", "wrong password"),
    ("counsel@desk.example", ""),
    ("nobody@desk.example", PASSWORD),
])
def test_wrong_credentials_show_an_error_and_open_no_session(client, login, counsel, email, password):
    r = login(email, password)
    assert r.status_code in (200, 401)
    html = r.get_data(as_text=True)
    assert ("do not match" in html) or ("required" in html.lower())
    assert not any(h.startswith("session=") and "uid" in h for h in r.headers.getlist("Set-Cookie"))
    assert not _signed_in(client)


def test_deactivated_user_cannot_sign_in(session, client, login, counsel):
    session.get(User, counsel.id).active = False
    session.commit()
    assert login(counsel.email).status_code == 401
    assert not _signed_in(client)


def test_login_email_any_case(client, login, counsel):
    r = login("  COUNSEL@Desk.Example ")
    assert r.status_code == 302
    assert _signed_in(client)


def test_staff_go_to_desk_customers_to_portal(session, client, login, counsel):
    r = login(counsel.email)
    assert r.status_code == 302 and r.headers["Location"].endswith("/desk/")
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/desk/").get_data(as_text=True))})
    customer = make_customer(session, "Contoso")
    user = make_user(session, "customer", customer_id=customer.id)
    r = login(user.email)
    assert r.status_code == 302 and r.headers["Location"].endswith("/portal/")


def test_session_cookie_flags(client, login, counsel):
    cookie = _session_cookie(login(counsel.email))
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_secure_cookie_when_configured(db_url, tmp_path, monkeypatch, session, counsel):
    monkeypatch.setenv("DESK_SECURE_COOKIES", "true")
    app = create_app({"TESTING": True, "DESK_DATABASE_URL": db_url, "SECRET_KEY": "test-secret-key",
                      "DESK_UPLOAD_DIR": str(tmp_path / "up")})
    try:
        assert app.config["SESSION_COOKIE_SECURE"] is True
        client = app.test_client()
        page = client.get("/login")
        r = client.post("/login", data={"email": counsel.email, "password": PASSWORD,
                                         "csrf_token": csrf_from(page.get_data(as_text=True))})
        cookie = _session_cookie(r)
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    finally:
        app.extensions["desk"]["engine"].dispose()


def test_session_renewed_at_login(client, login, counsel):
    client.get("/login")
    with client.session_transaction() as s:
        s["planted"] = "by someone before sign-in"
        s["uid"] = 424242
    before = client.get_cookie("session").value
    r = login(counsel.email)
    assert r.status_code == 302
    after = client.get_cookie("session").value
    assert after != before
    with client.session_transaction() as s:
        assert "planted" not in s and "uid" not in s
        assert s["sid"]


@pytest.mark.parametrize("target,expected", [
    ("/desk/demands?status=received", "/desk/demands?status=received"),
    ("/desk/demands", "/desk/demands"),
    ("//evil.example", "/desk/"),
    ("//evil.example/desk/", "/desk/"),
    ("http://evil", "/desk/"),
    ("https://evil.example/desk/", "/desk/"),
    ("/\\evil.example", "/desk/"),
    ("\\\\evil.example", "/desk/"),
    ("/\t/evil.example", "/desk/"),  # browsers drop the tab: //evil.example
    ("/\r\n/evil.example", "/desk/"),
    ("javascript:alert(1)", "/desk/"),
    ("desk/demands", "/desk/"),
    ("", "/desk/"),
])
def test_next_only_to_local_paths(client, login, counsel, target, expected):
    from urllib.parse import quote

    page = client.get("/login")
    r = client.post(f"/login?next={quote(target, safe='')}",
                    data={"email": counsel.email, "password": PASSWORD,
                          "csrf_token": csrf_from(page.get_data(as_text=True))})
    assert r.status_code == 302
    location = r.headers["Location"]
    assert location == expected or location == f"http://localhost{expected}"


def test_logout_is_a_post_with_csrf(client, login, counsel):
    login(counsel.email)
    assert client.get("/logout").status_code == 405
    assert _signed_in(client)
    assert client.post("/logout").status_code == 400  # no CSRF token
    assert _signed_in(client)
    token = csrf_from(client.get("/desk/").get_data(as_text=True))
    r = client.post("/logout", data={"csrf_token": token})
    assert r.status_code == 302 and r.headers["Location"].endswith("/login")
    r = client.get("/desk/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_pages_after_sign_in_leave_its_cookie_alone(client, login, counsel):
    """The sign-in's cookie already holds the session's CSRF secret: a page with a form
    (every signed-in page has the sign-out form) neither changes the session nor sets the
    cookie again, and its token is good for the form."""
    login(counsel.email)
    for path in ("/desk/", "/desk/demands", "/account/password"):
        r = client.get(path)
        assert r.status_code == 200
        assert not [h for h in r.headers.getlist("Set-Cookie") if h.startswith("session=")], path
    r = client.post("/logout", data={"csrf_token": csrf_from(r.get_data(as_text=True))})
    assert r.status_code == 302 and r.headers["Location"].endswith("/login")


def test_anonymous_is_sent_to_login_with_next(client):
    r = client.get("/desk/demands?status=received")
    assert r.status_code == 302
    assert r.headers["Location"].endswith("/login?next=/desk/demands?status%3Dreceived") or \
        "/login?next=" in r.headers["Location"]
    r = client.get("/portal/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]


def test_customers_never_reach_the_desk(session, client, login):
    customer = make_customer(session, "Contoso")
    user = make_user(session, "customer", customer_id=customer.id)
    login(user.email)
    for path in ("/desk/", "/desk/demands", "/desk/demands/1"):
        r = client.get(path)
        assert r.status_code == 403, path
        assert "legal team" in r.get_data(as_text=True)
    assert client.get("/portal/").status_code == 200


def test_staff_do_not_use_the_portal(client, login, counsel):
    login(counsel.email)
    assert client.get("/portal/").status_code == 403


def test_new_password_ends_old_sessions(session, client, login, counsel):
    from werkzeug.security import generate_password_hash

    login(counsel.email)
    assert _signed_in(client)
    session.get(User, counsel.id).password_hash = generate_password_hash("another long password")
    session.commit()
    assert not _signed_in(client)


def test_passwords_are_hashed(session, counsel):
    stored = session.get(User, counsel.id).password_hash
    assert PASSWORD not in stored and stored.startswith(("scrypt:", "pbkdf2:"))
    assert authenticate(session, counsel.email, PASSWORD).id == counsel.id
    assert authenticate(session, counsel.email, PASSWORD + "x") is None


def test_desk_ids_beyond_integer_are_404(client, login, counsel):
    login(counsel.email)
    for path in (f"/desk/demands/{2**40}", f"/desk/documents/{2**40}"):
        assert client.get(path).status_code == 404, path
