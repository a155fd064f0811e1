"""The requester portal (SPEC §9, issue 14.2): registration limited to verified, unsuspended
domains with a signed, expiring, single-use confirmation link; sign-in with two-factor;
a requester's own demands only (another's is a 404); submissions that are demands like
any other (channel portal, audited, in the staff queue); withdrawing its own; e-mails on
every status change that never name a customer; a suspension that stops sign-in,
submission and open sessions alike."""
from __future__ import annotations

import io
import re
import time
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from requests_desk import demo
from requests_desk.db import utcnow
from requests_desk.demo.people import REQUESTER_LOGIN, VERIFIED_AGENCIES
from requests_desk.errors import Forbidden, ValidationError
from requests_desk.models import Agency, AuditEvent, Demand, MailMessage, RequesterAccount, User
from requests_desk.requester import forms
from requests_desk.services import agencies as agency_service
from requests_desk.services import requester_accounts
from requests_desk.services import throttle
from requests_desk.services.requester_demands import submit_demand
from requests_desk.services.users import create_user

from .factories import (
    MINIMAL_PDF,
    PASSWORD,
    Api,
    csrf_from,
    login,
    make_agency,
    make_customer,
    make_customer_user,
    make_requester,
    make_token,
    make_user,
)
from .smtp import SmtpServer

STRONG = "a long requester passphrase 7"


def _form(client, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, (path, page.status_code)
    return csrf_from(page.get_data(as_text=True))


def _register(client, email: str, **over):
    data = {"csrf_token": _form(client, "/requests/register"), "name": "Det. Rita Reyes",
            "agency": "Cyber Crime Unit", "email": email, "phone": "+1 555 0199", "password": STRONG}
    data.update(over)
    return client.post("/requests/register", data=data)


def _mails(session, **where) -> list[MailMessage]:
    session.expire_all()
    return session.scalars(select(MailMessage).filter_by(**where).order_by(MailMessage.id)).all()


def _link(message: MailMessage) -> str:
    return re.search(r"https?://\S+/requests/confirm/\S+", message.body).group(0)


def _path(link: str) -> str:
    return "/" + link.split("/", 3)[3]


def _signed_in(app, user, password: str = PASSWORD):
    client = app.test_client()
    r = login(client, user.email, password)
    assert r.status_code == 302, r.get_data(as_text=True)
    return client


def _submission(client, **over) -> dict:
    data = {"csrf_token": _form(client, "/requests/new"), "requester_type": "law_enforcement",
            "country": "US", "process_type": "search_warrant", "legal_reference": "SW-2026-0042",
            "issuing_authority": "U.S. District Court, S.D.N.Y.",
            "targets-0": "alice@contoso.com",
            "requested-0-target": "alice@contoso.com", "requested-0-data_set": "email_content",
            "requested-0-date_from": "2026-01-01", "requested-0-date_to": "2026-01-31",
            "save": "1"}
    data.update(over)
    return data


def _submit(client, **over):
    data = _submission(client, **over)
    data.setdefault("documents", (io.BytesIO(MINIMAL_PDF), "warrant.pdf"))
    return client.post("/requests/new", data=data, content_type="multipart/form-data")


# ---------------------------------------------------------------- registration


def test_registration_needs_a_listed_unsuspended_domain(app, session):
    make_agency(session, "police.example.gov")
    suspended = make_agency(session, "hijacked.example.gov")
    agency_service.suspend(session, None, suspended, "mailbox hijacked")
    session.commit()
    client = app.test_client()
    for email in ("rita@gmail.example", "rita@sub.police.example.gov", "rita@hijacked.example.gov"):
        r = _register(client, email)
        assert r.status_code == 422, email
        html = r.get_data(as_text=True)
        assert "verified agency" in html and f'value="{email}"' in html
    weak = _register(client, "rita@police.example.gov", password="password1234")
    assert weak.status_code == 422 and "breached" in weak.get_data(as_text=True)
    assert session.scalars(select(User)).all() == [] and _mails(session) == []


def test_register_confirm_once_then_sign_in(app, session):
    make_agency(session, "police.example.gov", "Example Police", "US")
    client = app.test_client()
    r = _register(client, "Rita.Reyes@Police.Example.Gov")
    assert r.status_code == 200 and "Check your e-mail" in r.get_data(as_text=True)
    user = session.scalar(select(User).where(User.email == "rita.reyes@police.example.gov"))
    assert user.roles == {"requester"} and not user.is_staff
    account = session.get(RequesterAccount, user.id)
    assert (account.agency.domain, account.agency_name, account.phone) == \
        ("police.example.gov", "Cyber Crime Unit", "+1 555 0199")
    [mail] = _mails(session, kind="confirm")
    assert mail.to_address == user.email and "password" not in mail.subject.lower()
    # unconfirmed: the right password does not sign in
    refused = login(app.test_client(), user.email, STRONG)
    assert refused.status_code == 403 and "Confirm your e-mail address" in refused.get_data(as_text=True)

    path = _path(_link(mail))
    assert client.get(path).status_code == 200
    token = csrf_from(client.get(path).get_data(as_text=True))
    session.expire_all()
    assert session.get(RequesterAccount, user.id).confirmed_at is None  # a GET confirms nothing
    done = client.post(path, data={"csrf_token": token})
    assert done.status_code == 200 and "confirmed" in done.get_data(as_text=True)
    again = client.post(path, data={"csrf_token": token})
    assert again.status_code == 410  # single use
    assert client.get(path).status_code == 410
    r = login(app.test_client(), user.email, STRONG)
    assert r.status_code == 302 and r.headers["Location"].endswith("/requests/")
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.object_id == user.id,
                                                               AuditEvent.object_type == "user")).all()
    assert {"requester.register", "requester.confirm", "auth.sign_in"} <= set(actions)


def test_a_tampered_or_expired_link_confirms_nothing(app, session):
    agency = make_agency(session)
    user = make_requester(session, agency=agency, confirmed=False)
    token = requester_accounts.confirmation_token("test-secret-key", user)
    client = app.test_client()
    csrf = csrf_from(client.get("/requests/register").get_data(as_text=True))
    tampered = token[:-3] + ("AAA" if not token.endswith("AAA") else "BBB")
    assert client.post(f"/requests/confirm/{tampered}", data={"csrf_token": csrf}).status_code == 410
    other_key = requester_accounts.confirmation_token("another-secret", user)
    assert client.post(f"/requests/confirm/{other_key}", data={"csrf_token": csrf}).status_code == 410
    app.config["DESK_SIGN_IN_LINK_HOURS"] = 0
    time.sleep(1.1)
    assert client.post(f"/requests/confirm/{token}", data={"csrf_token": csrf}).status_code == 410
    session.expire_all()
    assert session.get(RequesterAccount, user.id).confirmed_at is None
    app.config["DESK_SIGN_IN_LINK_HOURS"] = 48
    assert client.post(f"/requests/confirm/{token}", data={"csrf_token": csrf}).status_code == 200


def test_registering_a_known_address_answers_the_same_and_mails_the_owner(app, session):
    agency = make_agency(session, "police.example.gov")
    owner = make_requester(session, "rita@police.example.gov", agency=agency)
    staff = make_user(session, "counsel", email="counsel@police.example.gov")
    client = app.test_client()
    fresh = _register(client, "new.officer@police.example.gov")
    for email in ("rita@police.example.gov", "counsel@police.example.gov"):
        r = _register(client, email, name="Someone Else")
        assert r.status_code == fresh.status_code == 200
        assert r.get_data(as_text=True).replace(email, "X") == \
            fresh.get_data(as_text=True).replace("new.officer@police.example.gov", "X")
    warned = _mails(session, kind="already_registered")
    assert [m.to_address for m in warned] == [owner.email, staff.email]
    assert _register(client, "rita@police.example.gov").status_code == 200
    assert len(_mails(session, kind="already_registered")) == 2  # the owner was told within the hour
    session.expire_all()
    assert session.get(User, owner.id).name == "Det. Rita Reyes"
    assert not session.get(User, staff.id).has_role("requester")


def test_requesters_enrol_two_factor_when_it_is_required(app, session):
    app.config["DESK_STAFF_2FA"] = "required"
    user = make_requester(session)
    client = app.test_client()
    r = login(client, user.email)
    assert r.status_code == 302 and r.headers["Location"].endswith("/account/two-factor")
    assert client.get("/requests/").headers["Location"].endswith("/account/two-factor")
    html = client.get("/account/two-factor").get_data(as_text=True)
    totp = pyotp.parse_uri(re.search(r"(otpauth://totp/[^<\s\"]+)", html).group(1).replace("&amp;", "&"))
    r = client.post("/account/two-factor", data={"csrf_token": csrf_from(html), "code": totp.now()})
    assert r.status_code == 200 and "/requests/" in r.get_data(as_text=True)
    assert client.get("/requests/").status_code == 200


# ---------------------------------------------------------------- submitting and reading


def test_a_submission_is_a_portal_demand_audited_in_the_staff_queue(app, session):
    make_customer(session, "Contoso Ltd", domains=("contoso.com",), contacts=(("Ann Lee", "ann@contoso.com"),))
    agency = make_agency(session, "police.example.gov", "Example Police Department", "US")
    user = make_requester(session, "rita@police.example.gov", agency=agency)
    client = _signed_in(app, user)
    r = _submit(client, emergency="y", justification="A child is missing; the account holder may know where.")
    assert r.status_code == 302, r.get_data(as_text=True)
    demand = session.scalar(select(Demand))
    assert (demand.channel, demand.requester_account_id, demand.status, demand.emergency) == \
        ("portal", user.id, "received", True)
    req = demand.requester
    assert (req.name, req.agency, req.email, req.phone, req.type) == \
        ("Det. Rita Reyes", "Cyber Crime Unit", "rita@police.example.gov", "+1 555 0199", "law_enforcement")
    assert [d.filename for d in demand.documents] == ["warrant.pdf"]
    logged = session.scalar(select(AuditEvent).where(AuditEvent.action == "demand.log"))
    assert (logged.actor, logged.actor_id) == (f"requester #{user.id}", user.id) and logged.demand_id == demand.id
    page = client.get(r.headers["Location"]).get_data(as_text=True)
    assert demand.reference in page and "Received" in page
    assert "Contoso" not in page
    listing = client.get("/requests/").get_data(as_text=True)
    assert demand.reference in listing and "SW-2026-0042" in listing
    [mail] = _mails(session, kind="submitted")
    assert demand.reference in mail.subject and mail.to_address == user.email

    counsel = make_user(session, "counsel")
    staff = _signed_in(app, counsel)
    assert demand.reference in staff.get("/desk/").get_data(as_text=True)  # the queue: received, unassigned
    case = staff.get(f"/desk/demands/{demand.id}").get_data(as_text=True)
    assert "Verified agency" in case and "Example Police Department" in case and "police" in case
    assert "Suspended" not in case
    # The API tells an integration the same.
    body = app.test_client().get(f"/api/v1/demands/{demand.id}",
                                 headers={"Authorization": f"Bearer {make_token(session, counsel)}"}).get_json()
    assert body["verified_agency"] == {"name": "Example Police Department", "domain": "police.example.gov",
                                       "country": "US", "suspended": False, "submitted_by": user.email}


def test_field_errors_are_all_shown_and_typed_input_kept(app, session):
    user = make_requester(session)
    client = _signed_in(app, user)
    r = _submit(client, legal_reference="", **{"targets-0": "not an id!", "requested-0-target": "not an id!",
                                               "requested-0-date_to": "2025-01-01"}, documents=(
        io.BytesIO(b"not a pdf at all"), "warrant.pdf"))
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert "The demand was not submitted" in html
    assert "Required" in html  # the legal reference
    assert "must not be before from" in html.lower()
    assert 'value="not an id!"' in html and 'value="U.S. District Court, S.D.N.Y."' in html
    assert session.scalars(select(Demand)).all() == []
    # a non-PDF alone: every other field right, the file is refused and nothing is kept
    r = _submit(client, documents=(io.BytesIO(b"%PDF-1.4 nope %%EOF"), "fake.pdf"))
    assert r.status_code == 422 and "fake.pdf" in r.get_data(as_text=True)
    assert session.scalars(select(Demand)).all() == []


def test_the_plus_button_adds_a_row_without_javascript(app, session):
    user = make_requester(session)
    client = _signed_in(app, user)
    data = _submission(client, add_row="requested")
    data.pop("save")
    r = client.post("/requests/new", data=data)
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    assert 'name="requested-1-target"' in html and 'value="SW-2026-0042"' in html
    assert session.scalars(select(Demand)).all() == []


def test_another_requesters_demand_is_a_404_and_withdraw_own_is_audited(app, session):
    agency = make_agency(session)
    rita = make_requester(session, agency=agency)
    other = make_requester(session, agency=agency)
    as_rita = _signed_in(app, rita)
    assert _submit(as_rita).status_code == 302
    demand = session.scalar(select(Demand))
    as_other = _signed_in(app, other)
    assert as_other.get(f"/requests/demands/{demand.id}").status_code == 404
    assert as_other.get("/requests/demands/987654").status_code == 404
    assert as_other.get("/requests/demands/1_0").status_code == 404
    token = _form(as_other, "/requests/")
    assert as_other.post(f"/requests/demands/{demand.id}/withdraw", data={"csrf_token": token}).status_code == 404
    assert demand.reference not in as_other.get("/requests/").get_data(as_text=True)
    session.expire_all()
    assert session.get(Demand, demand.id).status == "received"

    token = _form(as_rita, f"/requests/demands/{demand.id}")
    r = as_rita.post(f"/requests/demands/{demand.id}/withdraw", data={"csrf_token": token})
    assert r.status_code == 302
    session.expire_all()
    closed = session.get(Demand, demand.id)
    assert (closed.status, closed.outcome) == ("closed", "withdrawn")
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == "withdraw"))
    assert (event.actor, event.actor_id) == (f"requester #{rita.id}", rita.id) and event.demand_id == demand.id
    # closed is final: a second withdraw is the workflow's 409
    assert as_rita.post(f"/requests/demands/{demand.id}/withdraw", data={"csrf_token": token}).status_code == 409
    page = as_rita.get(f"/requests/demands/{demand.id}").get_data(as_text=True)
    assert "Withdrawn" in page and "Withdraw this demand" not in page
    [mail] = _mails(session, kind="status")
    assert "Withdrawn" in mail.body
    # staff read who withdrew it on the case page
    staff = _signed_in(app, make_user(session, "counsel"))
    case = staff.get(f"/desk/demands/{demand.id}")
    assert case.status_code == 200
    assert "Withdrawn" in case.get_data(as_text=True) and rita.name in case.get_data(as_text=True)


def test_status_mail_never_names_a_customer_and_goes_out_with_the_dispatcher(app, session, smtp_server,
                                                                          run_dispatch):
    make_customer(session, "Contoso Ltd", domains=("contoso.com",),
                  contacts=(("Ann Lee", "ann@contoso.com"),), accounts=("tenant:contoso-1",))
    user = make_requester(session, "rita@police.example.gov", agency=make_agency(session, "police.example.gov"))
    client = _signed_in(app, user)
    assert _submit(client, **{"targets-1": "tenant:contoso-1"}).status_code == 302
    demand = session.scalar(select(Demand))
    counsel = make_user(session, "counsel")
    as_counsel = Api(app.test_client(), make_token(session, counsel))
    r = as_counsel.post(f"/api/v1/demands/{demand.id}/start-review", json={"reason": "counsel reviews directly"})
    assert r.status_code == 200, r.get_json()
    r = as_counsel.post(f"/api/v1/demands/{demand.id}/reject", json={"reason": "overbroad; Contoso Ltd notified"})
    assert r.status_code == 200, r.get_json()
    assert [m.kind for m in _mails(session, user_id=user.id)] == ["confirm", "submitted", "status", "status"]
    result = run_dispatch()
    assert result.exit_code == 0, result.output
    to_rita = [m for m in smtp_server.messages if m["To"] == user.email]
    assert len(to_rita) == 4  # the confirmation too, never sent by make_requester
    for message in to_rita:
        text = message.get_body(("plain",)).get_content()
        for secret in ("Contoso", "contoso", "alice@", "tenant:", "Ann Lee", "overbroad"):
            assert secret not in text and secret not in message["Subject"], (secret, text)
    assert any("is now: In review" in m.get_body(("plain",)).get_content() for m in to_rita)
    assert any("Outcome: Rejected" in m.get_body(("plain",)).get_content() for m in to_rita)
    assert all(m.sent_at is not None for m in _mails(session))
    assert run_dispatch().exit_code == 0
    assert len([m for m in smtp_server.messages if m["To"] == user.email]) == 4  # never twice


# ---------------------------------------------------------------- suspension and guards


def test_a_suspended_domain_stops_sign_in_submission_and_open_sessions(app, session):
    agency = make_agency(session, "police.example.gov")
    user = make_requester(session, "rita@police.example.gov", agency=agency)
    client = _signed_in(app, user)
    assert client.get("/requests/").status_code == 200
    data = _submission(client)
    agency_service.suspend(session, None, session.get(type(agency), agency.id), "forged requests seen")
    session.commit()
    # the open session stops working at once
    r = client.get("/requests/")
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    assert client.post("/requests/new", data=data).status_code in (302, 400)
    assert session.scalars(select(Demand)).all() == []
    # sign-in is refused, saying why
    r = login(app.test_client(), user.email)
    assert r.status_code == 403 and "suspended" in r.get_data(as_text=True)
    # the service refuses a submission too (any other path)
    with pytest.raises(Forbidden):
        submit_demand(session, session.get(User, user.id), {"requester_type": "law_enforcement"})
    session.rollback()
    agency_service.unsuspend(session, None, session.get(type(agency), agency.id))
    session.commit()
    assert login(app.test_client(), user.email).status_code == 302


def test_each_blueprint_refuses_the_others_audiences(app, session):
    customer = make_customer(session, "Contoso Ltd", domains=("contoso.com",))
    requester = make_requester(session)
    as_requester = _signed_in(app, requester)
    for path in ("/desk/", "/desk/demands", "/desk/admin/agencies", "/portal/"):
        assert as_requester.get(path).status_code == 403, path
    assert Api(app.test_client(), make_token(session, requester)).get("/api/v1/demands").status_code == 403
    for user in (make_user(session, "intake"), make_user(session, "admin"), make_customer_user(session, customer)):
        client = _signed_in(app, user)
        for path in ("/requests/", "/requests/new"):
            assert client.get(path).status_code == 403, (user.email, path)
    anonymous = app.test_client()
    assert anonymous.get("/requests/").headers["Location"].startswith("/login")
    assert anonymous.get("/requests/register").status_code == 200


def test_the_demo_has_verified_agencies_and_a_requester_who_signs_in(app, session):
    demo.create_world(session, utcnow().replace(microsecond=0))
    session.commit()
    assert {a.domain for a in session.scalars(select(Agency))} == {d for d, _, _ in VERIFIED_AGENCIES}
    assert REQUESTER_LOGIN in demo.demo_logins()
    assert REQUESTER_LOGIN.email.rpartition("@")[2] in {d for d, _, _ in VERIFIED_AGENCIES}
    client = app.test_client()
    r = login(client, REQUESTER_LOGIN.email, REQUESTER_LOGIN.password)
    assert r.status_code == 302 and r.headers["Location"].endswith("/requests/")
    assert "fbi.example.gov" in client.get("/requests/").get_data(as_text=True)
    assert client.get("/requests/new").status_code == 200
    assert _mails(session) == []  # confirmed by the demo: nothing waits to be sent


def test_a_purge_deletes_the_requester_mail_of_a_purged_demand(app, session):
    user = make_requester(session, "rita@police.example.gov", agency=make_agency(session, "police.example.gov"))
    client = _signed_in(app, user)
    assert _submit(client).status_code == 302
    demand = session.scalar(select(Demand))
    token = _form(client, f"/requests/demands/{demand.id}")
    assert client.post(f"/requests/demands/{demand.id}/withdraw", data={"csrf_token": token}).status_code == 302
    assert [m.kind for m in _mails(session, demand_id=demand.id)] == ["submitted", "status"]
    later = (utcnow() + timedelta(days=731)).isoformat()
    result = app.test_cli_runner().invoke(args=["desk", "purge", "--apply", "--now", later])
    assert result.exit_code == 0 and "Purged 1 demand" in result.output, result.output
    assert _mails(session, demand_id=demand.id) == []
    assert [m.kind for m in _mails(session)] == ["confirm"]  # the account's own mail is not the demand's
    # Nothing of the demand names the officer any more: not its requester, not its link to
    # the account, not its audit events (a requester is named there by id, never by address).
    session.expire_all()
    assert session.get(Demand, demand.id).requester_account_id is None
    events = session.scalars(select(AuditEvent).where(AuditEvent.demand_id == demand.id)).all()
    assert {"demand.log", "withdraw"} <= {e.action for e in events}
    assert not any("rita" in f"{e.actor} {e.before} {e.after}" for e in events)
    assert {e.actor for e in events if e.actor_id == user.id} == {f"requester #{user.id}"}


def test_a_requester_never_becomes_staff_and_an_admin_may_deactivate_it(app, session):
    requester = make_requester(session)
    admin = make_user(session, "admin")
    client = _signed_in(app, admin)
    token = _form(client, f"/desk/admin/users/{requester.id}")
    r = client.post(f"/desk/admin/users/{requester.id}", data={"csrf_token": token, "roles": ["intake"],
                                                               "active": "y"})
    assert r.status_code == 302  # the roles box is not offered for a requester: the form's roles are ignored
    session.expire_all()
    assert session.get(User, requester.id).roles == {"requester"}
    r = client.post(f"/desk/admin/users/{requester.id}", data={"csrf_token": token})  # active unticked
    assert r.status_code == 302
    session.expire_all()
    assert not session.get(User, requester.id).active
    assert login(app.test_client(), requester.email).status_code == 401
    with pytest.raises(ValidationError) as refused:
        create_user(session, None, "someone@police.example.gov", ["requester"])
    assert "register themselves" in str(refused.value)
    session.rollback()
    result = app.test_cli_runner().invoke(args=["desk", "create-user", "x@police.example.gov", "--role", "requester",
                                                "--role", "intake"])
    assert result.exit_code == 1 and "register themselves" in result.output


def test_registration_stands_when_the_mail_server_is_down_and_the_dispatcher_sends_later(app, session,
                                                                                        run_dispatch):
    make_agency(session, "police.example.gov")
    server = SmtpServer()  # not started yet: nothing answers on its port
    app.config["DESK_SMTP_URL"] = server.url
    r = _register(app.test_client(), "rita@police.example.gov")
    assert r.status_code == 200 and "Check your e-mail" in r.get_data(as_text=True)
    [mail] = _mails(session, kind="confirm")
    assert mail.sent_at is None and mail.attempts == 1 and "cannot reach" in mail.last_error
    server.start()
    try:
        assert run_dispatch().exit_code == 0
        assert server.messages == []  # backing off: not due yet
        result = run_dispatch((utcnow() + timedelta(hours=1)).isoformat())
        assert result.exit_code == 0 and "requester e-mails sent 1" in result.output, result.output
        [received] = server.messages
        assert received["To"] == "rita@police.example.gov" and received["Message-ID"] == mail.message_id
        assert "/requests/confirm/" in received.get_body(("plain",)).get_content()
    finally:
        server.stop()
    [mail] = _mails(session, kind="confirm")
    assert mail.sent_at is not None and mail.attempts == 2


def test_a_dotted_body_key_makes_a_nested_object_only_when_filled(app, monkeypatch):
    rows = forms.SIMPLE_FIELDS + (("issuing_authority", "extra.by", "extra.by"),
                                  ("emergency", "extra.flag", "extra.flag"))
    monkeypatch.setattr(forms, "SIMPLE_FIELDS", rows)
    with app.test_request_context(method="POST", data={"issuing_authority": "  Court  "}):
        body, _, _ = forms.submission(forms.SubmitForm(meta={"csrf": False}))
    assert body["extra"] == {"by": "Court", "flag": False}
    with app.test_request_context(method="POST", data={}):
        body, _, _ = forms.submission(forms.SubmitForm(meta={"csrf": False}))
    assert "extra" not in body


def test_registrations_from_one_address_are_throttled(app, session):
    """Each registration may e-mail an agency's address: one network may not register
    more than REGISTER_LIMIT times an hour (429, nothing created, no mail)."""
    make_agency(session, "police.example.gov")
    session.commit()
    client = app.test_client()
    for n in range(throttle.REGISTER_LIMIT):
        assert _register(client, f"officer{n}@police.example.gov").status_code == 200, n
    users, mails = len(session.scalars(select(User)).all()), len(_mails(session))
    r = _register(client, "one.more@police.example.gov")
    assert r.status_code == 429 and "Too many registrations" in r.get_data(as_text=True)
    session.expire_all()
    assert (len(session.scalars(select(User)).all()), len(_mails(session))) == (users, mails)
    # Sign-in is not affected: the registration rows carry no e-mail and count no failure.
    assert throttle.locked_until(session, "officer0@police.example.gov", "127.0.0.1") is None
