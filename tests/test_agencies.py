"""Verified agencies as data (SPEC §9, issue 14.1): ``desk agencies load FILE.csv`` checks
every row first and loads nothing unless all pass; re-loading updates known domains;
the admin page lists, adds, edits, suspends (with a reason) and unsuspends, audited."""
from __future__ import annotations

from sqlalchemy import select

from requests_desk.models import Agency, AuditEvent

from .factories import csrf_from, login, make_agency, make_user

GOOD = ("domain,agency,country\n"
        "fbi.example.gov,Federal Bureau of Investigation,US\n"
        "Met.Example.UK,Metropolitan Police Service,gb\n")


def _load(app, tmp_path, text: str, name: str = "agencies.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return app.test_cli_runner().invoke(args=["desk", "agencies", "load", str(path)])


def _agencies(session) -> dict[str, tuple[str, str]]:
    session.expire_all()
    return {a.domain: (a.name, a.country) for a in session.scalars(select(Agency))}


def test_load_adds_domains_lower_case_with_iso_countries_and_reload_updates(app, session, tmp_path):
    result = _load(app, tmp_path, GOOD)
    assert result.exit_code == 0, result.output
    assert "2 added, 0 updated, 0 unchanged" in result.output
    assert _agencies(session) == {"fbi.example.gov": ("Federal Bureau of Investigation", "US"),
                                  "met.example.uk": ("Metropolitan Police Service", "GB")}
    again = _load(app, tmp_path, "domain,agency,country\nmet.example.uk,Met Police,GB\nnca.example.uk,NCA,GB\n")
    assert again.exit_code == 0, again.output
    assert "1 added, 1 updated, 0 unchanged" in again.output
    assert _agencies(session)["met.example.uk"] == ("Met Police", "GB")
    assert len(_agencies(session)) == 3  # a domain left out of a later file stays listed
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "agency")).all()
    assert sorted(actions) == ["agency.create"] * 3 + ["agency.update"]


def test_load_reports_every_bad_row_by_row_and_column_and_loads_nothing(app, session, tmp_path):
    text = ("domain,agency,country\n"
            "good.example.gov,Good Agency,US\n"
            "officer@bad.example.gov,Bad Agency,US\n"   # row 3: an address, not a domain
            "nodot,No Dot,US\n"                         # row 4: not a domain
            "ok.example.gov,,XX\n"                      # row 5: no agency, no such country
            "good.example.gov,Twice,US\n")              # row 6: the same domain again
    result = _load(app, tmp_path, text)
    assert result.exit_code == 1
    line = result.output.strip()
    assert len(line.splitlines()) == 1 and line.startswith("Error:")
    for where in ("row 3, domain", "row 4, domain", "row 5, agency", "row 5, country", "row 6, domain"):
        assert where in line, (where, line)
    assert "row 2," not in line and "is also on row 2" in line
    assert _agencies(session) == {}


def test_load_refuses_a_file_without_the_columns(app, session, tmp_path):
    result = _load(app, tmp_path, "host,name\nfbi.example.gov,FBI\n")
    assert result.exit_code == 1
    assert "row 1" in result.output and "domain, agency, country" in result.output
    missing = app.test_cli_runner().invoke(args=["desk", "agencies", "load", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 1 and "no such file" in missing.output
    assert _agencies(session) == {}


def test_load_keeps_a_suspension(app, session, tmp_path):
    assert _load(app, tmp_path, GOOD).exit_code == 0
    admin = make_user(session, "admin")
    from requests_desk.services import agencies as agency_service

    agency = session.scalar(select(Agency).where(Agency.domain == "fbi.example.gov"))
    agency_service.suspend(session, admin, agency, "mailbox hijacked")
    session.commit()
    assert _load(app, tmp_path, GOOD.replace("Federal Bureau of Investigation", "FBI")).exit_code == 0
    session.expire_all()
    agency = session.scalar(select(Agency).where(Agency.domain == "fbi.example.gov"))
    assert agency.name == "FBI" and agency.suspended and agency.suspension_reason == "mailbox hijacked"


def _admin_client(app, session):
    admin = make_user(session, "admin")
    client = app.test_client()
    assert login(client, admin.email).status_code == 302
    return client, admin


def test_admin_page_adds_edits_suspends_and_unsuspends_audited(app, session):
    client, admin = _admin_client(app, session)
    page = client.get("/desk/admin/agencies/new")
    assert page.status_code == 200
    token = csrf_from(page.get_data(as_text=True))
    bad = client.post("/desk/admin/agencies/new", data={"csrf_token": token, "domain": "not a domain",
                                                        "agency": "", "country": "ZZ"})
    assert bad.status_code == 422
    html = bad.get_data(as_text=True)
    assert "Not a domain name" in html and "ZZ is not an ISO 3166-1 country code" in html
    assert 'value="not a domain"' in html  # what was typed stays
    ok = client.post("/desk/admin/agencies/new", data={"csrf_token": token, "domain": "LAPD.example.gov",
                                                       "agency": "Los Angeles Police Department", "country": "us"})
    assert ok.status_code == 302
    agency = session.scalar(select(Agency).where(Agency.domain == "lapd.example.gov"))
    assert (agency.name, agency.country) == ("Los Angeles Police Department", "US")
    listing = client.get("/desk/admin/agencies").get_data(as_text=True)
    assert "Los Angeles Police Department" in listing and "Verified" in listing

    edit = client.post(f"/desk/admin/agencies/{agency.id}", data={"csrf_token": token, "agency": "LAPD",
                                                                  "country": "US"})
    assert edit.status_code == 302
    no_reason = client.post(f"/desk/admin/agencies/{agency.id}/suspend", data={"csrf_token": token, "reason": ""})
    assert no_reason.status_code == 422 and "Required" in no_reason.get_data(as_text=True)
    session.expire_all()
    assert not session.get(Agency, agency.id).suspended
    suspended = client.post(f"/desk/admin/agencies/{agency.id}/suspend",
                            data={"csrf_token": token, "reason": "forged requests seen from this domain"})
    assert suspended.status_code == 302
    page = client.get(f"/desk/admin/agencies/{agency.id}").get_data(as_text=True)
    assert "forged requests seen from this domain" in page and "Unsuspend" in page
    assert client.post(f"/desk/admin/agencies/{agency.id}/unsuspend", data={"csrf_token": token}).status_code == 302
    session.expire_all()
    assert not session.get(Agency, agency.id).suspended
    events = session.execute(select(AuditEvent.action, AuditEvent.actor).where(
        AuditEvent.object_type == "agency").order_by(AuditEvent.seq)).all()
    assert [e.action for e in events] == ["agency.create", "agency.update", "agency.suspend", "agency.unsuspend"]
    assert {e.actor for e in events} == {admin.email}


def test_only_admins_manage_agencies(app, session):
    agency = make_agency(session)
    for role in ("intake", "counsel", "approver"):
        user = make_user(session, role)
        client = app.test_client()
        login(client, user.email)
        assert client.get("/desk/admin/agencies").status_code == 403
        token = csrf_from(client.get("/login").get_data(as_text=True))
        r = client.post(f"/desk/admin/agencies/{agency.id}/suspend", data={"csrf_token": token, "reason": "x" * 20})
        assert r.status_code == 403
    session.expire_all()
    assert not session.get(Agency, agency.id).suspended
