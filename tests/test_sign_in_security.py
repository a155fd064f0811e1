"""Issue 11: throttling (table-backed), server-side sessions (logout, idle, lifetime,
sign out everywhere, deactivation, password change), audit of sign-in events."""
from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from requests_desk.models import AuditEvent, SignInAttempt, User, UserSession
from tests.factories import PASSWORD, csrf_from, make_user


def _signed_in(client) -> bool:
    return client.get("/desk/").status_code == 200


def _actions(session) -> list[str]:
    session.expire_all()
    return [e.action for e in session.scalars(select(AuditEvent).order_by(AuditEvent.seq))]


def test_five_failures_lock_the_account_for_fifteen_minutes_whatever_is_typed(session, client, login):
    user = make_user(session, "counsel")
    for _ in range(4):
        assert login(user.email, "wrong password here").status_code == 401
    r = login(user.email, "wrong password here")
    assert r.status_code == 429
    assert "try again after" in r.get_data(as_text=True)
    r = login(user.email, PASSWORD)  # the right password, too late
    assert r.status_code == 429 and not _signed_in(client)
    actions = _actions(session)
    assert actions.count("auth.failure") == 5 and "auth.lockout" in actions
    # fifteen minutes later the account may try again
    for attempt in session.scalars(select(SignInAttempt)):
        attempt.at = attempt.at - timedelta(minutes=16)
    session.commit()
    assert login(user.email, PASSWORD).status_code == 302 and _signed_in(client)
    assert "auth.sign_in" in _actions(session)


def test_unknown_and_known_emails_get_the_same_answer(session, client, login):
    user = make_user(session, "counsel")
    known = login(user.email, "wrong password here")
    unknown = login("nobody@desk.example", "wrong password here")
    assert known.status_code == unknown.status_code == 401
    text = lambda r: r.get_data(as_text=True).split('name="csrf_token"')[0]  # noqa: E731
    assert text(known) == text(unknown)
    for _ in range(4):
        login("nobody@desk.example", "wrong password here")
    assert login("nobody@desk.example", "wrong password here").status_code == 429


def test_per_address_limit(session, client, login):
    for i in range(20):
        login(f"spray{i}@desk.example", "wrong password here")
    user = make_user(session, "counsel")
    assert login(user.email, PASSWORD).status_code == 429


def test_logout_ends_the_session_even_for_a_copied_cookie(session, client, login, app):
    user = make_user(session, "counsel")
    login(user.email)
    stolen = client.get_cookie("session").value
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/desk/").get_data(as_text=True))})
    other = app.test_client()
    other.set_cookie("session", stolen)
    assert other.get("/desk/").status_code == 302


def test_idle_timeout_and_absolute_lifetime(session, client, login, app):
    user = make_user(session, "counsel")
    login(user.email)
    row = session.scalars(select(UserSession).where(UserSession.user_id == user.id)).one()
    row.last_seen_at = row.last_seen_at - timedelta(minutes=31)
    session.commit()
    assert not _signed_in(client)
    login(user.email)
    assert _signed_in(client)
    session.expire_all()
    row = session.scalars(select(UserSession).where(UserSession.user_id == user.id,
                                                    UserSession.ended_at.is_(None))).one()
    row.created_at = row.created_at - timedelta(hours=13)
    session.commit()
    assert not _signed_in(client)


def test_sign_out_everywhere_and_deactivation_end_every_session(session, app, login, client):
    user = make_user(session, "counsel")
    second = app.test_client()
    login(user.email)
    from tests.factories import login as do_login
    do_login(second, user.email)
    assert _signed_in(client) and _signed_in(second)
    r = client.post("/account/sign-out-everywhere",
                    data={"csrf_token": csrf_from(client.get("/account/password").get_data(as_text=True))})
    assert r.status_code == 302
    assert not _signed_in(client) and not _signed_in(second)
    login(user.email)
    assert _signed_in(client)
    admin = make_user(session, "admin")
    session.get(User, user.id)  # deactivate through the service
    from requests_desk.services.users import set_roles
    set_roles(session, admin, session.get(User, user.id), ["counsel"], False)
    session.commit()
    assert not _signed_in(client)


def test_password_change_page_ends_other_sessions(session, app, client, login):
    user = make_user(session, "counsel")
    other = app.test_client()
    from tests.factories import login as do_login
    do_login(other, user.email)
    login(user.email)
    page = client.get("/account/password")
    token = csrf_from(page.get_data(as_text=True))
    r = client.post("/account/password", data={"csrf_token": token, "current": PASSWORD,
                                                "password": "aaaaaaaaaa", "confirm": "aaaaaaaaaa"})
    assert r.status_code == 422 and "12 characters" in r.get_data(as_text=True)
    r = client.post("/account/password", data={"csrf_token": token, "current": PASSWORD,
                                                "password": "a fresh long passphrase", "confirm": "a fresh long passphrase"})
    assert r.status_code == 302
    assert _signed_in(client) and not _signed_in(other)
    assert "user.password" in _actions(session)


def test_the_cookie_says_nothing_but_a_session_id(client, login, session):
    user = make_user(session, "counsel")
    login(user.email)
    with client.session_transaction() as s:
        assert set(s) <= {"sid", "fp", "_fresh", "csrf_token", "next"}
