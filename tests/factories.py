"""Factories as plain functions, and HTTP helpers that go through real auth."""
from __future__ import annotations

import itertools
import re
from datetime import datetime, timedelta, timezone
from typing import Any

from requests_desk.services import customers as customer_service
from requests_desk.services import demands as demand_service
from requests_desk.services import users as user_service

PASSWORD = "correct horse battery"
_counter = itertools.count(1)

MINIMAL_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)


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


def make_demand(session, actor=None, *, commit: bool = True, now: datetime | None = None, **overrides):
    demand = demand_service.log_demand(session, actor, demand_payload(**overrides), now=now)
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

    def get(self, path: str, **kwargs):
        return self.client.get(path, headers=self.headers, **kwargs)

    def post(self, path: str, json: Any = None, **kwargs):
        if json is not None:
            kwargs["json"] = json
        return self.client.post(path, headers=self.headers, **kwargs)


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
    return MINIMAL_PDF.replace(b"trailer", f"% {text}\ntrailer".encode())


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

    def log(self, targets, requested=None, **overrides) -> dict:
        if requested is None:
            requested = [{"target": t, "data_set": "email_content", "from": "2026-01-01", "to": "2026-03-31"}
                         for t in targets]
        r = self.as_intake.post("/api/v1/demands", json=demand_payload(targets=targets, requested=requested,
                                                                       **overrides))
        assert r.status_code == 201, r.get_json()
        return r.get_json()

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
