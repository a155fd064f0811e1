"""Emergency verification on the desk's pages (SPEC §9): the case page's checks section
(who, when, note; a form for each missing check; what a scope still needs), counsel's
override, reject-fraudulent's form, the warning badge on later demands from a flagged
address or domain, and counsel's list of flags with its lift form. Real login and CSRF."""
from __future__ import annotations

from sqlalchemy import select

from requests_desk import workflow
from requests_desk.models import Demand, FraudFlag
from tests.factories import field_error, make_customer, make_demand, make_user, page_text, post_form

FORGED = {"agency": "Hijacked PD", "name": "Sgt. Forged", "email": "duty@hijacked.example",
          "type": "law_enforcement"}


def emergency(session, actor, **extra) -> Demand:
    return make_demand(session, actor, process_type="emergency", emergency=True, justification="A child is missing.",
                       targets=["alice@contoso.com"], **extra)


def act(session, actor, demand, action, body=None):
    workflow.apply_action(session, actor, session.get(Demand, demand.id), action, body or {})
    session.commit()


def post_case(client, demand, path, data):
    return post_form(client, f"/desk/demands/{demand.id}", data, post_path=f"/desk/demands/{demand.id}/{path}")


def test_checks_section_records_each_check_and_says_what_a_scope_still_needs(client, session, login):
    make_customer(session, "Contoso", domains=("contoso.com",))
    intake = make_user(session, "intake", email="ivy@desk.example")
    counsel = make_user(session, "counsel", email="carl@desk.example")
    d = emergency(session, intake)
    act(session, counsel, d, "start-review")
    login(intake.email)
    text = page_text(client.get(f"/desk/demands/{d.id}"))
    assert "Emergency checks" in text and "A scope cannot be proposed yet" in text
    assert "Missing: Call-back, Sender, Authority, Justification" in text
    assert text.count("Not done") == 4

    r = post_case(client, d, "checks", {"check": "callback", "check-callback-note": "  "})
    assert r.status_code == 422 and "required" in field_error(r.get_data(as_text=True), "check-callback-note").lower()
    r = post_case(client, d, "checks", {"check": "callback",
                                         "check-callback-note": "Called the precinct's listed number."})
    assert r.status_code == 302 and r.headers["Location"].endswith("#checks")
    text = page_text(client.get(f"/desk/demands/{d.id}"))
    assert "Called the precinct's listed number." in text and "Missing: Sender, Authority, Justification" in text
    assert text.count("Not done") == 3
    # Intake may not override: no form; counsel sees one, and the scope form says what is missing.
    assert "Override the missing checks" not in text
    login(counsel.email)
    text = page_text(client.get(f"/desk/demands/{d.id}"))
    assert "Override the missing checks" in text
    assert "Not yet: the emergency checks sender, authority, justification are missing" in text
    r = post_case(client, d, "checks/override", {"override-reason": ""})
    assert r.status_code == 422
    r = post_case(client, d, "checks/override", {"override-reason": "The officer came to our office in person."})
    assert r.status_code == 302
    text = page_text(client.get(f"/desk/demands/{d.id}"))
    assert "Counsel overrode the missing checks" in text and "came to our office in person" in text
    assert "A scope cannot be proposed yet" not in text
    assert "Overrode the missing emergency checks" in text and "Recorded the call-back check" in text  # timeline


def test_no_checks_section_on_an_ordinary_demand(client, session, login):
    make_customer(session, "Contoso", domains=("contoso.com",))
    intake = make_user(session, "intake", email="ivy@desk.example")
    d = make_demand(session, intake, targets=["alice@contoso.com"])
    login(intake.email)
    text = page_text(client.get(f"/desk/demands/{d.id}"))
    assert "Emergency checks" not in text and "Flagged sender" not in text


def test_reject_fraudulent_then_later_demands_warn_and_the_flags_page_lifts(client, session, login):
    make_customer(session, "Contoso", domains=("contoso.com",))
    intake = make_user(session, "intake", email="ivy@desk.example")
    counsel = make_user(session, "counsel", email="carl@desk.example")
    forged = emergency(session, intake, requester=FORGED)
    login(counsel.email)
    r = post_case(client, forged, "action/reject-fraudulent", {"reject-fraudulent-reason": ""})
    assert r.status_code == 422
    r = post_case(client, forged, "action/reject-fraudulent",
                  {"reject-fraudulent-reason": "The agency says its mailbox was hijacked."})
    assert r.status_code == 302
    text = page_text(client.get(f"/desk/demands/{forged.id}"))
    assert "Rejected as fraudulent" in text and "Rejected the demand as fraudulent" in text

    # A later, ordinary demand from the same domain: warned on its page, the list and the queue.
    later = make_demand(session, intake, targets=["alice@contoso.com"], legal_reference="LATER-1",
                        requester={**FORGED, "email": "other.officer@hijacked.example"})
    text = page_text(client.get(f"/desk/demands/{later.id}"))
    assert "Flagged sender" in text and "flagged as fraudulent" in text and "Emergency checks" in text
    assert "hijacked.example" in text
    listing = client.get("/desk/demands").get_data(as_text=True)
    assert "Flagged sender" in listing
    assert "Flagged sender" in client.get("/desk/").get_data(as_text=True)

    # The flags page lists both flags; counsel lifts the domain's with a reason.
    page = page_text(client.get("/desk/flags"))
    assert "duty@hijacked.example" in page and "hijacked.example" in page and forged.reference in page
    domain = session.scalar(select(FraudFlag).where(FraudFlag.kind == "domain"))
    r = post_form(client, "/desk/flags", {f"lift-{domain.id}-reason": ""}, post_path=f"/desk/flags/{domain.id}/lift")
    assert r.status_code == 422
    r = post_form(client, "/desk/flags", {f"lift-{domain.id}-reason": "The agency secured its mail system."},
                  post_path=f"/desk/flags/{domain.id}/lift")
    assert r.status_code == 302
    assert "secured its mail system" in page_text(client.get("/desk/flags"))
    text = page_text(client.get(f"/desk/demands/{later.id}"))
    assert "Flagged sender" not in text and "Emergency checks" not in text
    # The address itself stays flagged.
    again = make_demand(session, intake, targets=["alice@contoso.com"], requester=FORGED)
    assert "Flagged sender" in page_text(client.get(f"/desk/demands/{again.id}"))
    # Lifting is counsel's; intake reads the list but gets no form, and a post is refused.
    login(intake.email)
    assert "Lift the flag" not in page_text(client.get("/desk/flags"))
    email_flag = session.scalar(select(FraudFlag).where(FraudFlag.kind == "email"))
    r = post_form(client, "/desk/flags", {f"lift-{email_flag.id}-reason": "x"},
                  post_path=f"/desk/flags/{email_flag.id}/lift")
    assert r.status_code == 403
