"""Who publishes the reports (DESK_PROVIDER_NAME, DESK_PROVIDER_LOGO): named on every
public page, the feed and the PDF (cover and metadata), captured when a version is
published, so that a later change of either leaves published versions as they were.
Periods are named for people (``H1 2026``) wherever the public reads them, and the
feed's links follow the served host and port when DESK_BASE_URL is not set."""
from __future__ import annotations

import io
import json
import os
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone

import pytest
from PIL import Image
from pypdf import PdfReader

from reports.schema import parse_iso
from requests_desk import ROOT
from requests_desk.config import load_config, public_base_url
from requests_desk.db import utcnow
from requests_desk.notices.compose import NoticeContent, compose_email
from requests_desk.services import reports as report_service

from .factories import csrf_from, make_token
from .test_reports_caseload import build_caseload
from .test_reports_publication import P, PREVIOUS, SMALL

ATOM = {"a": "http://www.w3.org/2005/Atom"}
CODE = re.compile(r"\b(19|20)\d\d-H[12]\b")  # a period's code, for URLs and JSON only


@pytest.fixture
def load(app, session):
    return build_caseload(app, session, SMALL)


def _png(path, colour=(176, 141, 87)) -> bytes:
    Image.new("RGB", (120, 40), colour).save(path, format="PNG")
    return path.read_bytes()


def _pdf(client, url) -> PdfReader:
    r = client.get(url)
    assert r.status_code == 200 and r.content_type == "application/pdf"
    return PdfReader(io.BytesIO(r.data))


def _visible_text(html: str) -> str:
    """What a reader sees of a page: no tags, attributes (URLs), scripts or styles."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"<[^>]+>", " ", html)


def test_the_provider_is_named_everywhere_public_and_frozen_at_publication(app, client, session, load,
                                                                           tmp_path, login):
    logo = _png(tmp_path / "logo.png")
    app.config.update(DESK_PROVIDER_NAME="Acme Cloud GmbH", DESK_PROVIDER_LOGO=str(tmp_path / "logo.png"))
    admin = {"Authorization": f"Bearer {make_token(session, load.users['admin'])}"}
    counsel = {"Authorization": f"Bearer {make_token(session, load.users['counsel'])}"}

    # Published through the API: the JSON names the provider.
    assert client.post("/api/v1/reports", json={"period": P}, headers=counsel).status_code == 201
    v1 = client.post(f"/api/v1/reports/{P}/publish", json={}, headers=admin).get_json()
    assert v1["provider"] == "Acme Cloud GmbH"
    published_at = parse_iso(v1["published_at"])

    index = client.get("/transparency/").get_data(as_text=True)
    page = client.get(f"/transparency/{P}").get_data(as_text=True)
    for html in (index, page):
        assert '<span class="rp-provider-name">Acme Cloud GmbH</span>' in html
        assert '<img class="rp-logo" src="/transparency/logo"' in html
        assert "Acme Cloud GmbH</title>" in html
    served = client.get("/transparency/logo")
    assert served.status_code == 200 and served.content_type == "image/png" and served.data == logo
    assert client.get("/transparency/logo", headers={"If-None-Match": served.headers["ETag"]}).status_code == 304

    feed = ET.fromstring(client.get("/transparency/feed.atom").data)
    assert feed.find("a:author/a:name", ATOM).text == "Acme Cloud GmbH"
    assert feed.find("a:entry/a:author/a:name", ATOM).text == "Acme Cloud GmbH"

    pdf = _pdf(client, f"/transparency/{P}/v1.pdf")
    meta = pdf.metadata
    assert (meta.author, meta.title) == ("Acme Cloud GmbH", "Transparency report H1 2026, version 1")
    assert abs(meta.creation_date - published_at) < timedelta(minutes=1)
    assert meta.creation_date.year != 2000
    cover = pdf.pages[0]
    assert "Acme Cloud GmbH" in cover.extract_text() and len(cover.images) == 1  # the logo
    assert "Acme Cloud GmbH" in pdf.pages[1].extract_text()  # running head and footer
    v1_pdf = client.get(f"/transparency/{P}/v1.pdf").data

    # The provider renames itself and drops the logo: version 1 stays as it was published.
    app.config.update(DESK_PROVIDER_NAME="Renamed Ltd", DESK_PROVIDER_LOGO=None)
    assert client.get("/transparency/logo").status_code == 404
    assert "Acme Cloud GmbH" in client.get(f"/transparency/{P}/v1").get_data(as_text=True)
    assert client.get(f"/transparency/{P}/v1.pdf").data == v1_pdf
    assert "Renamed Ltd" in client.get("/transparency/").get_data(as_text=True)
    assert 'class="rp-logo"' not in client.get("/transparency/").get_data(as_text=True)

    # Version 2 through the command line, in the new name, without a logo on its cover.
    runner = app.test_cli_runner()
    assert runner.invoke(args=["desk", "report", "compile", P]).exit_code == 0
    assert runner.invoke(args=["desk", "report", "publish", P, "--note", "Recounted."]).exit_code == 0
    assert client.get(f"/transparency/{P}.json").get_json()["provider"] == "Renamed Ltd"
    v2 = _pdf(client, f"/transparency/{P}/v2.pdf")
    assert v2.metadata.author == "Renamed Ltd" and len(v2.pages[0].images) == 0
    assert "Renamed Ltd" in client.get(f"/transparency/{P}").get_data(as_text=True)
    assert "Acme Cloud GmbH" in client.get(f"/transparency/{P}/v1").get_data(as_text=True)

    # And from the desk's Reports page, in the name configured then.
    app.config["DESK_PROVIDER_NAME"] = "Third Name plc"
    login(load.users["admin"].email)
    preview = client.get(f"/desk/reports/{PREVIOUS}").get_data(as_text=True)
    client.post(f"/desk/reports/{PREVIOUS}/compile", data={"csrf_token": csrf_from(preview)})
    client.post(f"/desk/reports/{PREVIOUS}/publish", data={"csrf_token": csrf_from(preview), "note": ""})
    assert client.get(f"/transparency/{PREVIOUS}.json").get_json()["provider"] == "Third Name plc"
    assert _pdf(client, f"/transparency/{PREVIOUS}.pdf").metadata.author == "Third Name plc"


def test_periods_are_named_for_people_wherever_the_public_reads_them(app, client, session, load):
    for period in (PREVIOUS, P):
        report_service.compile_report(session, load.users["counsel"], period, utcnow())
        report_service.publish_report(session, load.users["admin"], period, None, utcnow())
        session.commit()
    index = client.get("/transparency/").get_data(as_text=True)
    page = client.get(f"/transparency/{P}").get_data(as_text=True)
    for html in (index, page):
        text = _visible_text(html)
        assert "H1 2026" in text and "H2 2025" in text
        assert not CODE.search(text), CODE.search(text)
        assert f'href="/transparency/{P}' in html  # the code stays in the URLs
    pdf_text = " ".join(p.extract_text() for p in _pdf(client, f"/transparency/{P}.pdf").pages)
    assert "H2 2025" in pdf_text and not CODE.search(pdf_text)
    feed = ET.fromstring(client.get("/transparency/feed.atom").data)
    titles = [e.text for e in feed.findall("a:entry/a:title", ATOM)]
    assert titles == ["Transparency report H1 2026, version 1", "Transparency report H2 2025, version 1"]
    assert json.loads(client.get(f"/transparency/{P}.json").data)["period"] == P  # the JSON keeps the code


def test_feed_links_follow_the_served_host_unless_the_base_url_is_set(app, client, session, load):
    report_service.compile_report(session, load.users["counsel"], P, utcnow())
    report_service.publish_report(session, load.users["admin"], P, None, utcnow())
    session.commit()

    def links(**kwargs):
        feed = ET.fromstring(client.get("/transparency/feed.atom", **kwargs).data)
        return [link.get("href") for link in feed.iter("{http://www.w3.org/2005/Atom}link")]

    assert not app.config["DESK_BASE_URL_SET"]  # the tests' environment has no DESK_BASE_URL
    served = links(base_url="http://127.0.0.1:5077")
    assert served and all(href.startswith("http://127.0.0.1:5077/transparency/") for href in served)
    assert "http://127.0.0.1:5077/transparency/2026-H1/v1.pdf" in served
    assert all(href.startswith("http://desk.local:8080/") for href in links(base_url="http://desk.local:8080"))
    app.config["DESK_BASE_URL"] = "https://desk.example.com"  # set: it wins over the Host header
    assert all(href.startswith("https://desk.example.com/") for href in links(base_url="http://127.0.0.1:5077"))


def test_provider_settings(tmp_path):
    config = load_config(str(tmp_path), environ={})
    assert config["DESK_PROVIDER_NAME"] == "Example Provider" and config["DESK_PROVIDER_LOGO"] is None
    assert config["DESK_MAIL_FROM"] == "Example Provider <legal-notices@localhost>"  # it signs the notices
    assert config["DESK_BASE_URL"] == "http://127.0.0.1:5000" and config["DESK_BASE_URL_SET"] is False

    _png(tmp_path / "logo.png")
    (tmp_path / "logo.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"/>')
    config = load_config(str(tmp_path), environ={
        "DESK_PROVIDER_NAME": "  Acme   Cloud, Inc. ", "DESK_PROVIDER_LOGO": str(tmp_path / "logo.png"),
        "DESK_MAIL_FROM": "legal@acme.example", "DESK_BASE_URL": "http://127.0.0.1:5077/"})
    assert config["DESK_PROVIDER_NAME"] == "Acme Cloud, Inc."
    assert config["DESK_PROVIDER_LOGO"] == str(tmp_path / "logo.png")
    assert config["DESK_MAIL_FROM"] == '"Acme Cloud, Inc." <legal@acme.example>'  # a bare address gets the name
    assert config["DESK_BASE_URL"] == "http://127.0.0.1:5077" and config["DESK_BASE_URL_SET"] is True
    assert public_base_url(config, "http://evil.example/") == "http://127.0.0.1:5077"
    own = load_config(str(tmp_path), environ={"DESK_MAIL_FROM": "Legal <legal@acme.example>",
                                              "DESK_PROVIDER_LOGO": str(tmp_path / "logo.svg")})
    assert own["DESK_MAIL_FROM"] == "Legal <legal@acme.example>"  # a display name of its own is kept
    assert own["DESK_PROVIDER_LOGO"].endswith("logo.svg")

    (tmp_path / "fake.png").write_text("not a png")
    for env, words in [
        ({"DESK_PROVIDER_NAME": "x" * 121}, "at most 120"),
        ({"DESK_PROVIDER_LOGO": str(tmp_path / "logo.gif")}, ".png or .svg"),
        ({"DESK_PROVIDER_LOGO": str(tmp_path / "missing.png")}, "cannot be read"),
        ({"DESK_PROVIDER_LOGO": str(tmp_path / "fake.png")}, "not a PNG"),
    ]:
        with pytest.raises(ValueError, match=words):
            load_config(str(tmp_path), environ=env)


def test_notice_emails_are_signed_with_the_provider_name(tmp_path):
    mail_from = load_config(str(tmp_path), environ={"DESK_PROVIDER_NAME": "Acme Cloud"})["DESK_MAIL_FROM"]
    content = NoticeContent(
        notice_id=1, kind="demand", delayed=False, reference="LD-2026-000001", customer_name="Contoso",
        received_at=datetime(2026, 3, 1, tzinfo=timezone.utc), requester_agency="Agency", requester_name="Officer",
        requester_type="Law enforcement", country="United States (US)", process_type="Subpoena",
        legal_reference="Case 1", issuing_authority="", emergency=False, accounts=["a@contoso.com"], requested=[],
        status="open", portal_url="http://127.0.0.1:5077/portal/notices/1")
    msg = compose_email(content, message_id="<1@desk>", recipients=[("Privacy", "privacy@contoso.com")],
                        mail_from=mail_from, now=datetime(2026, 3, 2, tzinfo=timezone.utc), attachments=[])
    assert msg["From"] == "Acme Cloud <legal-notices@localhost>"
    text = msg.get_body(("plain",)).get_content()
    assert text.rstrip().endswith("Acme Cloud")


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
@pytest.mark.parametrize("args, env, expected", [
    (["PORT=5077"], {}, "http://127.0.0.1:5077"),
    (["PORT=5077", "HOST=0.0.0.0"], {}, "http://127.0.0.1:5077"),
    ([], {}, "http://127.0.0.1:5000"),
    (["PORT=5077"], {"DESK_BASE_URL": "https://desk.example.com"}, "https://desk.example.com"),
])
def test_make_run_links_to_the_port_it_serves(args, env, expected):
    """`make run PORT=5077` exports DESK_BASE_URL for the desk it starts (feed and e-mails),
    unless DESK_BASE_URL is set already. `make -n -p` prints the variable without running."""
    environ = {k: v for k, v in os.environ.items() if k != "DESK_BASE_URL"} | env
    out = subprocess.run(["make", "-n", "-p", "run", *args], cwd=ROOT, env=environ, capture_output=True,
                         text=True, timeout=60).stdout
    assert re.findall(r"^run: DESK_BASE_URL := (\S+)$", out, flags=re.M) == [expected]


def test_a_provider_name_beyond_latin_1_keeps_its_letters_in_the_pdf(app, client, session, load):
    """The PDF embeds DejaVu Sans: Helvetica (the standard 14 fonts) knows only Latin-1
    and drops Ł, ő, İ, ş — a Polish or Turkish provider's name came out mangled."""
    name = "Usługi Chmurowe Łódź — Bulut Hizmetleri İzmir Şirketi"
    app.config.update(DESK_PROVIDER_NAME=name)
    admin = {"Authorization": f"Bearer {make_token(session, load.users['admin'])}"}
    counsel = {"Authorization": f"Bearer {make_token(session, load.users['counsel'])}"}
    assert client.post("/api/v1/reports", json={"period": P}, headers=counsel).status_code == 201
    assert client.post(f"/api/v1/reports/{P}/publish", json={}, headers=admin).status_code == 200
    pdf = _pdf(client, f"/transparency/{P}/v1.pdf")
    assert name in " ".join(pdf.pages[0].extract_text().split())
    assert "Łódź" in pdf.pages[1].extract_text()  # the running head
    fonts = {str(f.get_object()["/BaseFont"]) for page in pdf.pages
             for f in page["/Resources"]["/Font"].values()}
    assert fonts and all("+DejaVuSans" in f for f in fonts), fonts  # embedded subsets, no standard-14 font left
