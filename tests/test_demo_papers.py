"""The demo's demands hold together (issue 16.4): who issued each legal process fits the
requester and its country, a gag is a court's order, and each demand's PDF reads as that
demand. No database: the planner draws from a world made of the rule tables."""
from __future__ import annotations

import io
import re
from collections import Counter
from datetime import datetime, timezone

import pytest
from pypdf import PdfReader

from requests_desk.demo import papers
from requests_desk.demo.authorities import (
    AGENCY_ISSUED,
    FISC,
    JURISDICTIONS,
    central_authority,
    is_court,
    jurisdictions,
)
from requests_desk.demo.planner import CasePlanner
from requests_desk.demo.world import RuleInfo, World
from requests_desk.rules import DEFAULT_RULES
from requests_desk.vocabulary import PROCESS_TYPES

NOW = datetime(2026, 11, 20, 9, 30, tzinfo=timezone.utc)
LABELS = {code: label for code, _tier, label in DEFAULT_RULES.data_sets}


def _world() -> World:
    rules = {r.code: RuleInfo(r.code, r.max_tier, r.discloses, r.preservation, r.due_hours,
                              r.emergency_due_hours, r.hold_days, r.hold_extension_days)
             for r in DEFAULT_RULES.process_types}
    users = {k: (i + 1, f"{k}@desk.example") for i, k in enumerate(["admin", "intake", "counsel", "counsel2",
                                                                     "approver"])}
    enterprise = ["ann.lee@contoso.example", "bo.kim@fabrikam.example"]
    resolution = {enterprise[0]: (1, True), enterprise[1]: (2, True)}
    return World(users, {"Contoso Ltd": (1, True), "Fabrikam Inc": (2, True)}, {1: ["legal@contoso.example"]},
                 resolution, {}, enterprise, [], [], rules, {c: t for c, t, _ in DEFAULT_RULES.data_sets})


@pytest.fixture(scope="module")
def cases():
    return list(CasePlanner(_world(), NOW, 7).generate(4000))


def _places_of(agency: str, country: str):
    """The jurisdictions an agency (or a court, as a requester) belongs to."""
    return [j for j in jurisdictions(country, country) if agency in j.courts or
            agency in (a for a, _d in j.agencies)]


def _gags(case):
    body = case.steps[0].body
    found = [body["gag"]] if body.get("gag") else []
    return found + [s.body for s in case.steps if s.action == "gag.set"]


def test_the_issuer_of_each_legal_process_fits_its_requester_and_country(cases):
    seen = Counter()
    for case in cases:
        body = case.steps[0].body
        ptype, country, issuer = body["process_type"], body["country"], body["issuing_authority"]
        requester = body["requester"]
        agency, kind = requester["agency"], requester["type"]
        seen[ptype] += 1
        assert "Competent court" not in issuer and not re.search(r"\(\w+\)$", agency), body
        if ptype in AGENCY_ISSUED:
            # An emergency request or a preservation letter is the agency's own, no court's.
            assert issuer == agency and not is_court(issuer), body
            continue
        if ptype == "national_security":
            assert country == "US" and issuer == FISC, body
            continue
        assert not body["legal_reference"].startswith("2703D") or country == "US", body
        if kind in ("law_enforcement", "court"):
            places = _places_of(agency, country)
            assert places, f"{agency} is not an agency or court of {country}"
            assert any(issuer in j.courts or issuer == j.prosecutor[0] for j in places), body
        else:  # a ministry or a law firm: the process is heard in one of the country's jurisdictions
            assert any(issuer in j.courts or issuer == j.prosecutor[0]
                       for j in jurisdictions(country, country)), body
            if kind == "government":
                assert agency == central_authority(country, agency)[0] or agency.startswith("Ministry of Justice of ")
        if country == "US" and agency.startswith(("Federal Bureau", "Homeland Security", "U.S. Secret Service")):
            assert issuer.startswith(("U.S. District Court", "U.S. Attorney's Office")), body
    assert set(seen) == set(PROCESS_TYPES), "every process type is drawn"


@pytest.mark.parametrize("agency, courts", [
    ("Police Scotland", {"Sheriff Court, Glasgow", "Sheriff Court, Edinburgh",
                         "Crown Office and Procurator Fiscal Service"}),
    ("Metropolitan Police Service", {"Westminster Magistrates' Court", "Crown Court at Southwark",
                                     "Crown Prosecution Service"}),
    ("Greater Manchester Police", {"Manchester Magistrates' Court", "Manchester Crown Court",
                                   "Crown Prosecution Service North West"}),
    ("Federal Bureau of Investigation, New York Field Office", {"U.S. District Court, S.D.N.Y.",
                                                                "U.S. Attorney's Office, S.D.N.Y."}),
    ("New York City Police Department", {"Supreme Court of the State of New York, New York County",
                                         "Criminal Court of the City of New York",
                                         "New York County District Attorney's Office"}),
])
def test_police_go_to_the_courts_of_their_own_jurisdiction(cases, agency, courts):
    issued = {c.steps[0].body["issuing_authority"] for c in cases
              if c.steps[0].body["requester"]["agency"] == agency
              and c.steps[0].body["process_type"] not in AGENCY_ISSUED}
    assert issued and issued <= courts, issued - courts


def test_a_gag_is_ordered_by_a_court_of_the_demands_country(cases):
    count = 0
    for case in cases:
        body = case.steps[0].body
        for gag in _gags(case):
            count += 1
            issued_by = gag["issued_by"]
            if body["process_type"] == "national_security":
                assert issued_by == FISC
                continue
            assert is_court(issued_by), (issued_by, body["process_type"])
            assert any(issued_by in j.courts for j in jurisdictions(body["country"], body["country"])), body
            if is_court(body["issuing_authority"]):
                assert issued_by == body["issuing_authority"], "the issuing court orders the gag"
            assert body["legal_reference"] in gag["order_ref"]
    assert count > 100


def test_every_country_drawn_has_jurisdictions_of_its_own(cases):
    countries = {c.steps[0].body["country"] for c in cases}
    assert countries <= set(JURISDICTIONS), countries - set(JURISDICTIONS)


def _text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) == 1
    return " ".join(reader.pages[0].extract_text().split())


def _plain(words: str) -> str:
    """What the standard fonts show of a name (Turkish and Polish letters lose their marks)."""
    return papers.pdf_string(words)[1:-1].decode("cp1252").replace("\\(", "(").replace("\\)", ")")


def test_each_paper_reads_as_its_demand(cases):
    """One paper of every process type (with and without a gag, U.S. and elsewhere): a
    one-page PDF naming the desk's and the requester's references, the issuer, the
    requester, each account and each requested data set, within 4 KiB."""
    samples = {}
    for case in cases:
        body = case.steps[0].body
        samples.setdefault((body["process_type"], body["country"] == "US", bool(body.get("gag")),
                            bool(body.get("justification"))), body)
    assert len(samples) > 25
    for n, body in enumerate(samples.values()):
        reference = f"LD-{body['received_at'].year}-{n + 1:06d}"
        name, data = papers.legal_process(body, reference)
        assert name == f"{body['legal_reference']}.pdf"
        assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF") and len(data) < 4096
        assert papers.legal_process(body, reference) == (name, data), "the same demand, the same bytes"
        text = _text(data)
        form = papers.form_of(body["process_type"], body["country"])
        expected = [reference, f"No. {body['legal_reference']}", body["issuing_authority"],
                    body["requester"]["agency"], body["requester"]["name"], form.title,
                    f"RECEIVED {body['received_at']:%Y-%m-%d %H:%M} UTC", *body["targets"],
                    *{LABELS[i["data_set"]] for i in body["requested"]}]
        if body.get("justification"):
            expected.append(body["justification"])
        if body.get("gag"):
            expected += [body["gag"]["order_ref"], "Order of non-disclosure"]
            law = ("50 U.S.C. § 1861(d)" if body["process_type"] == "national_security" else
                   "18 U.S.C. § 2705(b)" if body["country"] == "US" else "shall not inform the account holders")
            expected.append(law)
        for words in expected:
            assert _plain(words) in text, (words, text)
        assert "not a real legal process" in text


def test_a_paper_escapes_what_pdf_strings_cannot_hold(cases):
    body = dict(cases[0].steps[0].body)
    body["requester"] = dict(body["requester"], agency="Polis (Unit \\ 7) İstanbul Sąd")
    _name, data = papers.legal_process(body, "LD-2026-000001")
    assert "Polis (Unit \\ 7) Istanbul Sad" in _text(data)
