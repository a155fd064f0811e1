"""Issue 11: two-factor sign-in (TOTP). Codes are computed from the secret the page shows."""
from __future__ import annotations

import re
import time

import pyotp
import pytest
from sqlalchemy import select

from requests_desk.models import AuditEvent, User
from tests.factories import csrf_from, make_user


@pytest.fixture
def required(app):
    app.config["DESK_STAFF_2FA"] = "required"
    return app


def _wrong_code(totp: pyotp.TOTP) -> str:
    """A six-digit code that is valid in none of the steps the desk accepts now (or a few seconds on)."""
    near = {totp.at(time.time() + drift) for drift in range(-60, 91, 30)}
    return next(c for c in ("000000", "123456", "654321", "999999", "111111", "222222", "333333") if c not in near)


def _enrol(client) -> tuple[pyotp.TOTP, list[str], str]:
    """Enrol the signed-in user; returns the authenticator, the recovery codes and the code used to confirm."""
    page = client.get("/account/two-factor")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    uri = re.search(r"(otpauth://totp/[^<\s]+)", html).group(1)
    assert "<svg" in html and not re.search(r"<script(?![^>]*src=)", html)
    totp = pyotp.parse_uri(uri.replace("&amp;", "&"))
    r = client.post("/account/two-factor", data={"csrf_token": csrf_from(html), "code": _wrong_code(totp)})
    assert r.status_code == 422
    used = totp.now()
    r = client.post("/account/two-factor", data={"csrf_token": csrf_from(html), "code": used})
    assert r.status_code == 200
    codes = re.findall(r"<li><code>([0-9a-f]{8}-[0-9a-f]{8})</code></li>", r.get_data(as_text=True))
    assert len(codes) == 10
    return totp, codes, used


def _code_step(client, code: str):
    page = client.get("/login/code")
    return client.post("/login/code", data={"csrf_token": csrf_from(page.get_data(as_text=True)), "code": code})


def test_required_sends_a_new_staff_user_to_enrol_and_the_desk_stays_shut(session, client, login, required):
    user = make_user(session, "counsel")
    r = login(user.email)
    assert r.status_code == 302 and r.headers["Location"].endswith("/account/two-factor")
    for path in ("/desk/", "/desk/demands", "/desk/admin/users"):
        r = client.get(path)
        assert r.status_code == 302 and "/login" not in r.headers["Location"] or \
            "two-factor" in r.headers["Location"], path
    totp, codes, _ = _enrol(client)
    assert client.get("/desk/").status_code == 200
    session.expire_all()
    assert session.get(User, user.id).totp_enabled


def test_enrolled_user_signs_in_in_two_steps_code_not_replayed_recovery_once(session, app, client, login, required):
    user = make_user(session, "counsel")
    login(user.email)
    totp, codes, used = _enrol(client)
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/desk/").get_data(as_text=True))})

    r = login(user.email)
    assert r.headers["Location"].endswith("/login/code")
    assert client.get("/desk/").status_code == 302
    # the code used at enrolment cannot be used again (no replay), even when the clock
    # has moved to the next step and that code is still inside the accepted window
    assert _code_step(client, used).status_code == 401
    next_code = totp.at(time.time() + 30)
    r = _code_step(client, next_code)
    assert r.status_code == 302
    assert client.get("/desk/").status_code == 200
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/desk/").get_data(as_text=True))})

    other = app.test_client()
    from tests.factories import login as do_login
    do_login(other, user.email)
    assert _code_step(other, next_code).status_code == 401  # replay refused
    assert _code_step(other, codes[0]).status_code == 302  # a recovery code
    assert other.get("/desk/").status_code == 200
    third = app.test_client()
    do_login(third, user.email)
    assert _code_step(third, codes[0]).status_code == 401  # used up


def test_optional_lets_an_unenrolled_user_in_but_an_enrolled_one_needs_the_code(session, client, login):
    user = make_user(session, "counsel")
    assert login(user.email).headers["Location"].endswith("/desk/")
    _enrol(client)
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/desk/").get_data(as_text=True))})
    assert login(user.email).headers["Location"].endswith("/login/code")


def test_wrong_codes_count_toward_the_lockout(session, client, login, required):
    user = make_user(session, "counsel")
    login(user.email)
    totp, _, _ = _enrol(client)
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/desk/").get_data(as_text=True))})
    login(user.email)
    wrong = _wrong_code(totp)
    statuses = [_code_step(client, wrong).status_code for _ in range(5)]
    assert statuses[-1] == 429


def test_admin_resets_two_factor_page_and_cli_audited(session, app, client, login, required):
    user = make_user(session, "counsel")
    login(user.email)
    _enrol(client)
    client.post("/logout", data={"csrf_token": csrf_from(client.get("/desk/").get_data(as_text=True))})
    admin = make_user(session, "admin")
    admin.totp_enabled = False
    session.commit()
    app.config["DESK_STAFF_2FA"] = "optional"
    login(admin.email)
    page = client.get(f"/desk/admin/users/{user.id}")
    r = client.post(f"/desk/admin/users/{user.id}/reset-2fa", data={"csrf_token": csrf_from(page.get_data(as_text=True))})
    assert r.status_code == 302
    session.expire_all()
    assert not session.get(User, user.id).totp_enabled
    result = app.test_cli_runner().invoke(args=["desk", "reset-2fa", user.email])
    assert result.exit_code == 0, result.output
    result = app.test_cli_runner().invoke(args=["desk", "reset-2fa", "nobody@desk.example"])
    assert result.exit_code != 0 and len(result.output.strip().splitlines()) == 1
    actions = [e.action for e in session.scalars(select(AuditEvent))]
    assert actions.count("user.2fa_reset") == 2
