"""Factories as plain functions, and HTTP helpers that go through real auth."""
from __future__ import annotations

import io
import itertools
import re
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any, Iterator

from reportlab.pdfgen import canvas
from sqlalchemy import event

from requests_desk.services import agencies as agency_service
from requests_desk.services import customers as customer_service
from requests_desk.services import requester_accounts
from requests_desk.services.intake import log_demand
from requests_desk.services import users as user_service

PASSWORD = "correct horse battery"
_counter = itertools.count(1)


def real_pdf(text: str = "Legal process") -> bytes:
    """A small, real one-page PDF (reportlab) that a PDF library reads, carrying ``text``."""
    buffer = io.BytesIO()
    page = canvas.Canvas(buffer, invariant=1, pageCompression=0)
    page.drawString(72, 720, text)
    page.showPage()
    page.save()
    return buffer.getvalue()


MINIMAL_PDF = real_pdf()


def make_user(session, *roles: str, email: str | None = None, customer_id: int | None = None,
              password: str = PASSWORD, commit: bool = True):
    roles = roles or ("intake",)
    email = email or f"{'-'.join(roles)}{next(_counter)}@desk.example"
    user, _ = user_service.create_user(session, None, email, list(roles), customer_id=customer_id,
                                       password=password)
    if commit:
        session.commit()
    return user


def make_token(session, user) -> str:
    token = user_service.issue_token(session, None, user)
    session.commit()
    return token


def make_customer(session, name: str | None = None, *, enterprise: bool = True,
                  domains: tuple[str, ...] = (), accounts: tuple[str, ...] = (),
                  contacts: tuple[tuple[str, str], ...] | None = None, commit: bool = True):
    n = next(_counter)
    name = name or f"Customer {n}"
    if contacts is None:
        contacts = ((f"Privacy Officer {n}", f"privacy{n}@customer{n}.example"),)
    customer = customer_service.create_customer(session, None, {
        "name": name,
        "enterprise": enterprise,
        "domains": list(domains),
        "accounts": list(accounts),
        "contacts": [{"name": c[0], "email": c[1]} for c in contacts],
    })
    if commit:
        session.commit()
    return customer


def demand_payload(**overrides: Any) -> dict:
    """A valid demand as the API takes it; override any top-level key."""
    received = overrides.pop("received_at", None) or (
        datetime.now(timezone.utc) - timedelta(days=1)
    ).replace(microsecond=0).isoformat()
    targets = overrides.pop("targets", ["alice@example.org"])
    body = {
        "requester": {
            "agency": "Metropolitan Police",
            "name": "Det. Jane Roe",
            "email": "jane.roe@police.example",
            "phone": "+1 555 0100",
            "type": "law_enforcement",
        },
        "country": "US",
        "process_type": "search_warrant",
        "legal_reference": f"CASE-{next(_counter)}",
        "issuing_authority": "District Court",
        "received_at": received,
        "targets": targets,
        "requested": [
            {"target": targets[0], "data_set": "email_content", "from": "2026-01-01", "to": "2026-03-31"},
        ],
    }
    body.update(overrides)
    return body


@contextmanager
def counted(app) -> Iterator[list[str]]:
    """The statements sent to the database inside the block (whitespace collapsed)."""
    engine = app.extensions["desk"]["engine"]
    statements: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):
        statements.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", before)


def query_plan(conn, stmt, *, no_sort: bool = False) -> list[str]:
    """The database's plan for ``stmt`` (its values written in), a line each: SQLite's
    EXPLAIN QUERY PLAN; PostgreSQL's EXPLAIN with sequential scans (and, ``no_sort``,
    sorts) priced out, so that the planner takes an index that serves the statement
    whatever few rows a test's tables hold."""
    sql = str(stmt.compile(dialect=conn.dialect, compile_kwargs={"literal_binds": True}))
    if conn.dialect.name == "sqlite":
        return [row[3] for row in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql)]
    conn.exec_driver_sql("SET LOCAL enable_seqscan = off")
    if no_sort:
        conn.exec_driver_sql("SET LOCAL enable_sort = off")
    return [row[0] for row in conn.exec_driver_sql("EXPLAIN " + sql)]


@contextmanager
def checkouts(app) -> Iterator[list[int]]:
    """Each connection the app's pool hands out inside the block (one entry per checkout)."""
    engine = app.extensions["desk"]["engine"]
    taken: list[int] = []

    def checkout(_dbapi_connection, _record, _proxy):
        taken.append(1)

    event.listen(engine, "checkout", checkout)
    try:
        yield taken
    finally:
        event.remove(engine, "checkout", checkout)


def make_demand(session, actor=None, *, commit: bool = True, now: datetime | None = None, **overrides):
    demand = log_demand(session, actor, demand_payload(**overrides), now=now)
    if commit:
        session.commit()
    return demand


# ---------------------------------------------------------------- HTTP


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def login(client, email: str, password: str = PASSWORD, next_path: str | None = None):
    page = client.get("/login")
    url = "/login" + (f"?next={next_path}" if next_path else "")
    return client.post(url, data={"email": email, "password": password,
                                  "csrf_token": csrf_from(page.get_data(as_text=True))})


class Api:
    """Calls the JSON API with a bearer token."""

    def __init__(self, client, token: str | None):
        self.client = client
        self.headers = {"Authorization": f"Bearer {token}"} if token else {}

    def get(self, path: str, headers: dict | None = None, **kwargs):
        return self.client.get(path, headers={**self.headers, **(headers or {})}, **kwargs)

    def post(self, path: str, json: Any = None, headers: dict | None = None, **kwargs):
        if json is not None:
            kwargs["json"] = json
        return self.client.post(path, headers={**self.headers, **(headers or {})}, **kwargs)


# ---------------------------------------------------------------- notices and the portal


def make_customer_user(session, customer, *, email: str | None = None, password: str = PASSWORD):
    """A portal user of ``customer``."""
    return make_user(session, "customer", email=email, customer_id=customer.id, password=password)


def upload_pdf(api_client, demand_id: int, name: str = "warrant.pdf", content: bytes = MINIMAL_PDF):
    """Upload a legal-process PDF through the API (as intake would); returns the JSON answer."""
    import io

    r = api_client.post(f"/api/v1/demands/{demand_id}/documents",
                        data={"file": (io.BytesIO(content), name)}, content_type="multipart/form-data")
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def pdf_with_text(text: str) -> bytes:
    """A small valid PDF whose bytes carry ``text`` (to tell documents apart)."""
    return real_pdf(text)


class NoticeDesk:
    """Staff users with API tokens, and the demand steps the notice tests need, all
    through the real API (``desk = NoticeDesk(session, api)``)."""

    def __init__(self, session, api):
        self.session = session
        self.intake = make_user(session, "intake")
        self.counsel = make_user(session, "counsel")
        self.counsel2 = make_user(session, "counsel")
        self.approver = make_user(session, "approver")
        self.as_intake = api(make_token(session, self.intake))
        self.as_counsel = api(make_token(session, self.counsel))
        self.as_counsel2 = api(make_token(session, self.counsel2))
        self.as_approver = api(make_token(session, self.approver))

    def log(self, targets, requested=None, *, release: bool = True, **overrides) -> dict:
        """Log a demand through the API; with ``release`` counsel then releases its
        notices (as most notice tests need; the counsel-hold tests pass False)."""
        if requested is None:
            requested = [{"target": t, "data_set": "email_content", "from": "2026-01-01", "to": "2026-03-31"}
                         for t in targets]
        r = self.as_intake.post("/api/v1/demands", json=demand_payload(targets=targets, requested=requested,
                                                                       **overrides))
        assert r.status_code == 201, r.get_json()
        if release:
            return self.release(r.get_json()["id"])
        return r.get_json()

    def release(self, demand_id: int, reason: str = "counsel checked the notice may go") -> dict:
        return self.must(demand_id, "release-notices", {"reason": reason})

    def act(self, demand_id: int, action: str, body: dict | None = None, who: str = "counsel"):
        client = getattr(self, f"as_{who}")
        return client.post(f"/api/v1/demands/{demand_id}/{action}", json=body or {})

    def must(self, demand_id: int, action: str, body: dict | None = None, who: str = "counsel") -> dict:
        r = self.act(demand_id, action, body, who)
        assert r.status_code == 200, (action, r.get_json())
        return r.get_json()

    def close_with_production(self, demand_id: int, items: list[dict]) -> dict:
        self.must(demand_id, "start-review", {"reason": "urgent, reviewed directly"})
        self.must(demand_id, "propose-scope", {"items": items})
        self.must(demand_id, "approve", who="approver")
        return self.must(demand_id, "record-production", {
            "items": items, "files": [{"name": "export.zip", "sha256": "a" * 64, "bytes": 1234}],
        })

    def notices(self, demand_id: int) -> list[dict]:
        r = self.as_counsel.get(f"/api/v1/demands/{demand_id}/notices")
        assert r.status_code == 200
        return r.get_json()


# ---------------------------------------------------------------- staff desk pages (forms as a browser sends them)

from html.parser import HTMLParser as _HTMLParser  # noqa: E402


class _FormReader(_HTMLParser):
    """Collects what a browser would show: form values by name, visible text."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.values: dict[str, list[str]] = {}
        self.text: list[str] = []
        self._select: str | None = None
        self._select_first: str | None = None
        self._select_chosen = False
        self._textarea: str | None = None
        self._skip = 0
        self._glue = False  # a <wbr> only allows a line break: the words on either side are one

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "wbr":
            self._glue = True
        elif tag in ("script", "style", "template", "datalist"):
            self._skip += 1
        elif tag == "input" and a.get("name"):
            kind = a.get("type", "text")
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self.values.setdefault(a["name"], []).append(a.get("value", "y"))
            elif kind not in ("submit", "button", "file"):
                self.values.setdefault(a["name"], []).append(a.get("value", ""))
        elif tag == "select":
            self._select, self._select_first, self._select_chosen = a.get("name"), None, False
        elif tag == "option" and self._select:
            if self._select_first is None:
                self._select_first = a.get("value", "")
            if "selected" in a:
                self._select_chosen = True
                self.values.setdefault(self._select, []).append(a.get("value", ""))
        elif tag == "textarea":
            self._textarea = a.get("name")
            self.values.setdefault(self._textarea, []).append("")

    def handle_endtag(self, tag):
        if tag in ("script", "style", "template", "datalist"):
            self._skip = max(0, self._skip - 1)
        elif tag == "select":
            if self._select and not self._select_chosen and self._select_first is not None:
                self.values.setdefault(self._select, []).append(self._select_first)  # what a browser sends
            self._select = None
        elif tag == "textarea":
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea][-1] += data
        elif not self._skip and self._select is None:
            if self._glue and self.text:
                self.text[-1] += data
            else:
                self.text.append(data)
        self._glue = False


def read_page(html: str) -> _FormReader:
    reader = _FormReader()
    reader.feed(html)
    for name, vals in reader.values.items():  # a textarea's first newline is not its value
        reader.values[name] = [v[2:] if v.startswith("\r\n") else v[1:] if v.startswith("\n") else v
                               for v in vals]
    return reader


def page_text(response_or_html) -> str:
    """The page's visible text with whitespace collapsed (what a user reads)."""
    html = response_or_html if isinstance(response_or_html, str) else response_or_html.get_data(as_text=True)
    return " ".join(" ".join(read_page(html).text).split())


def form_value(html: str, name: str) -> str | None:
    vals = read_page(html).values.get(name)
    return vals[0] if vals else None


def field_error(html: str, field_id: str) -> str:
    """The error shown next to a field (its ``<id>-error`` element), or ''."""
    match = re.search(rf'id="{re.escape(field_id)}-error"[^>]*>(.*?)</small>', html, re.S)
    import html as _html

    return " ".join(_html.unescape(re.sub(r"<[^>]+>", "", match.group(1))).split()) if match else ""


def post_form(client, page_path: str, data: dict, post_path: str | None = None):
    """GET the page for its CSRF token, then POST the form as multipart, like a browser."""
    page = client.get(page_path)
    assert page.status_code == 200, page.status_code
    body = {"csrf_token": csrf_from(page.get_data(as_text=True))}
    body.update(data)
    return client.post(post_path or page_path, data=body, content_type="multipart/form-data")


def demand_form(**overrides: Any) -> dict:
    """The "Log a demand" form filled in: two targets, two requested items."""
    received = (datetime.now(timezone.utc) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    data = {
        "requester_agency": "Metropolitan Police",
        "requester_name": "Det. Jane Roe",
        "requester_email": "jane.roe@police.example",
        "requester_phone": "+1 555 0100",
        "requester_type": "law_enforcement",
        "country": "US",
        "process_type": "search_warrant",
        "legal_reference": f"CASE-{next(_counter)}",
        "issuing_authority": "District Court",
        "received_at": received,
        "channel": "email",
        "justification": "",
        "due_at": "",
        "notes": "",
        "targets-0": "alice@contoso.com",
        "targets-1": "bob@example.org",
        "requested-0-target": "alice@contoso.com",
        "requested-0-data_set": "email_content",
        "requested-0-date_from": "2026-01-01",
        "requested-0-date_to": "2026-01-31",
        "requested-1-target": "bob@example.org",
        "requested-1-data_set": "subscriber_info",
        "requested-1-date_from": "2025-06-01",
        "requested-1-date_to": "2025-12-31",
        "gag_order_ref": "",
        "gag_issued_by": "",
        "gag_issued_at": "",
        "gag_expires_at": "",
        "save": "1",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


# ---------------------------------------------------------------- the requester portal (SPEC §9)


def make_agency(session, domain: str = "police.example.gov", name: str = "Example Police Department",
                country: str = "US", *, commit: bool = True):
    """A verified agency through the service (audited)."""
    agency = agency_service.create_agency(session, None, {"domain": domain, "agency": name, "country": country})
    if commit:
        session.commit()
    return agency


def make_requester(session, email: str | None = None, *, agency=None, name: str = "Det. Rita Reyes",
                   unit: str = "Cyber Crime Unit", phone: str = "+1 555 0199", password: str = PASSWORD,
                   confirmed: bool = True):
    """A requester registered (and confirmed) through the services, as the portal does."""
    if agency is None:
        agency = make_agency(session, f"agency{next(_counter)}.example.gov")
    email = email or f"officer{next(_counter)}@{agency.domain}"
    done = requester_accounts.register(session, {"name": name, "agency": unit, "email": email, "phone": phone,
                                                 "password": password},
                                       link_for=lambda user: "https://desk.example/confirm", hours=48)
    if confirmed:
        token = requester_accounts.confirmation_token("test-secret-key", done.user)
        assert requester_accounts.confirm(session, "test-secret-key", token, 3600) is not None
    session.commit()
    return done.user
