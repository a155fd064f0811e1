"""The route matrix (SPEC §7 "Proof"): every route of the app's URL map × every kind of
principal, against a table of expected answers.

Principals: anonymous; intake, counsel, approver and admin, each without and with the
role ``cleared``; a customer user of Contoso (the tenant the demands concern) and one of
Fabrikam (another tenant); a requester of a verified agency (SPEC §9), with a demand of
its own; a counsel who was signed in (web session and API token) and then deactivated
through the real service.

Every (rule, method) of ``app.url_map`` (GET and POST; ``static`` aside) must have a row
in ``EXPECTED`` and every row a rule: a new route without a row fails, and so does a row
whose route is gone. A rule whose path names a demand (or one of its documents, files or
notices) is asked once about an ordinary demand and once about a national-security demand,
which exists only for ``cleared`` staff: to anyone else it answers as a nonexistent id
would (checked too). A requester portal route that names a demand is asked about those
two and about the requester's own demand: the only one a requester may open.

Answers are compared by class, not body:
  ok         2xx, 3xx not to /login, or 400/409/410/415/422 (authorisation passed, the
             input, the state or a link was judged)
  login      302 to /login… or 401
  forbidden  403
  missing    404
and never a 500 nor a 429 (reported apart). A 400 that is the CSRF error page is not "ok":
the matrix sends a valid CSRF token with every web POST. Besides the class, no answer of
any status may name a demand to someone who may not know of it (its reference, legal
reference or target): the national-security one to anyone but cleared staff, the
ordinary one to anyone but staff and its own customer (never to a requester).

The bodies are empty or minimal, so no POST here can succeed in changing who may do what
(the one workflow action asked is ``reject``, which the demands' state refuses with a 409;
the requester's withdraw closes its own demand, which changes no one's access);
the two that end a session (log out, sign out everywhere) run last and the principal signs
in again after each.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import select

from reports.periods import Period
from requests_desk import access, workflow
from requests_desk.db import utcnow
from requests_desk.models import Agency, Demand, FraudFlag, Notice, ProductionFile, RequesterAccount, User
from requests_desk.services import reports as report_service
from requests_desk.services import requester_accounts, role_changes, sign_in_links
from requests_desk.services.requester_demands import submit_demand

from .factories import (
    Api,
    csrf_from,
    demand_payload,
    login,
    make_customer,
    make_agency,
    make_customer_user,
    make_requester,
    make_token,
    make_user,
    upload_pdf,
)

ROLES = ("intake", "counsel", "approver", "admin")
WORKFLOW_ACTION = "reject"  # a real transition; from "received" it is counsel's 409
GAG_CHANGE = "set"
NONEXISTENT = 987654

# ---------------------------------------------------------------- principals


@dataclass
class Principal:
    name: str
    kind: str  # anonymous | staff | customer | requester | deactivated
    roles: frozenset = frozenset()
    tenant: str | None = None  # a customer's organisation: "contoso" or "fabrikam"
    email: str | None = None
    token: str | None = None
    client: object = None
    csrf: str | None = None

    def has(self, *roles: str) -> bool:
        return bool(self.roles & set(roles))

    @property
    def cleared(self) -> bool:
        return "cleared" in self.roles


# ---------------------------------------------------------------- the table's rules


@dataclass(frozen=True)
class Rule:
    """How one route answers each principal.

    ``audience``: ``public`` (anyone), ``fixed`` (one class for everyone), ``account``
    (any signed-in user), ``staff`` (the desk), ``api``, ``portal``, ``requests`` (the
    requester portal: its own demand only), ``files`` (a demand's files: standing access,
    else the break-glass 403).
    ``roles``: the staff roles that may (None: every staff user).
    ``perm_first``: the role check does not depend on the object (a ``@requires``
    decorator runs before the lookup), so a user without the role is refused 403 whether
    or not the object exists; anyone else who may not know of the object gets 404.
    """

    audience: str
    roles: tuple[str, ...] | None = None
    perm_first: bool = False
    fixed: str | None = None

    def expect(self, p: Principal, variant: str, world: "World") -> str:
        if self.audience == "public":
            return "ok"
        if self.audience == "fixed":
            return self.fixed
        if p.kind in ("anonymous", "deactivated"):
            return "login"
        if self.audience == "account":
            return "ok"
        if self.audience == "portal":
            if p.kind != "customer":
                return "forbidden"
            if variant == "none":
                return "ok"
            return "ok" if p.tenant in world.portal_readers[variant] else "missing"
        if self.audience == "requests":
            if p.kind != "requester":
                return "forbidden"  # staff use the desk, customers their portal
            return "ok" if variant in ("none", "own") else "missing"
        if p.kind in ("customer", "requester"):
            return "forbidden"  # the desk and the API are for staff; the others have their portals
        if self.audience == "files":
            allowed = p.name in world.standing[variant]
        else:
            allowed = self.roles is None or p.has(*self.roles)
        if variant == "ns" and not p.cleared:
            return "forbidden" if self.perm_first and not allowed else "missing"
        return "ok" if allowed else "forbidden"


def perm(permission: str, *, api: bool = False, perm_first: bool = False) -> Rule:
    """Staff holding ``permission`` (access.PERMISSIONS) → ok, other staff → 403."""
    return Rule("api" if api else "staff", access.roles_for(permission), perm_first)


def transition(action: str, *, api: bool = False) -> Rule:
    """A workflow action: the roles of its row in workflow.TRANSITIONS."""
    return Rule("api" if api else "staff", workflow.BY_ACTION[action].roles)


PUBLIC = Rule("public")
ACCOUNT = Rule("account")
PORTAL = Rule("portal")
REQUESTS = Rule("requests")
FILES = Rule("files")
STAFF = Rule("staff")


def everyone(cls: str) -> Rule:
    return Rule("fixed", fixed=cls)


# endpoint (or (endpoint, method) when its methods differ) → Rule
EXPECTED: dict[str | tuple[str, str], Rule] = {
    # sign-in and the account
    "auth.index": PUBLIC,  # a redirect: to the reports, the desk or the portal
    "auth.login": PUBLIC,  # the form (an empty POST shows it again)
    "auth.code": everyone("login"),  # nobody owes a second factor: back to /login
    "auth.logout": everyone("login"),  # ends the session, then /login
    "account.password": ACCOUNT,
    "account.two_factor": ACCOUNT,
    "account.sign_out_everywhere": everyone("login"),
    "account.set_password": PUBLIC,  # the link is the credential
    # the public site
    "public.index": PUBLIC,
    "public.feed": PUBLIC,
    "public.period_latest": PUBLIC,
    "public.period_version": PUBLIC,
    "public.logo": everyone("missing"),  # DESK_PROVIDER_LOGO is not set here: 404 for everyone
    # the desk
    "staff.home": STAFF,
    "staff.demands": STAFF,
    "staff.demand": perm("desk.read"),
    "staff.new_demand": perm("demand.log"),
    "staff.import_page": perm("demand.log"),
    "staff.import_upload": perm("demand.log"),  # with no file: a 422
    "staff.import_template": perm("demand.log"),
    "staff.demands_export": STAFF,  # the case list's rows: national-security ones for cleared staff only
    "staff.demand_action": transition(WORKFLOW_ACTION),
    "staff.demand_action_page": perm("desk.read"),  # a refused action's address, opened again: the case page
    "staff.gag_change": perm("gag.manage"),
    "staff.defer_notices": perm("notice.defer"),
    "staff.record_check": perm("emergency.check"),  # an ordinary demand takes no checks: the 422
    "staff.override_checks": perm("emergency.override"),  # likewise
    "staff.flags": STAFF,  # counsel lifts; every staff user reads the list
    "staff.lift_flag": perm("flag.lift", perm_first=True),  # no reason: counsel's 422
    "staff.release_notices": perm("notice.release"),
    "staff.upload_documents": perm("document.upload"),
    "staff.mark_documents": perm("document.mark"),
    "staff.upload_copy": perm("document.mark"),
    "staff.break_glass": perm("access.break-glass", perm_first=True),
    "staff.access_grants": STAFF,  # admins see every grant, others their own
    "staff.document": FILES,
    "staff.production_file": FILES,
    "staff.notices": perm("desk.read"),
    "staff.retry": perm("notice.retry", perm_first=True),
    "staff.reports": STAFF,
    "staff.report_preview": STAFF,
    "staff.report_compile": perm("report.compile"),
    "staff.report_publish": perm("report.publish"),
    "staff.customers": perm("customer.manage", perm_first=True),
    "staff.customer_new": perm("customer.manage", perm_first=True),
    "staff.customer_edit": perm("customer.manage", perm_first=True),
    "staff.users": perm("user.manage", perm_first=True),
    "staff.user_new": perm("user.manage", perm_first=True),
    "staff.user_edit": perm("user.manage", perm_first=True),
    "staff.user_proposal": perm("user.manage", perm_first=True),
    "staff.user_reset_two_factor": perm("user.manage", perm_first=True),
    "staff.user_sign_in_link": perm("user.manage", perm_first=True),
    "staff.user_revoke_tokens": perm("user.manage", perm_first=True),
    "staff.agencies": perm("agency.manage", perm_first=True),
    "staff.agency_new": perm("agency.manage", perm_first=True),
    "staff.agency_edit": perm("agency.manage", perm_first=True),
    "staff.agency_suspend": perm("agency.manage", perm_first=True),  # no reason: the admin's 422
    "staff.agency_unsuspend": perm("agency.manage", perm_first=True),  # not suspended: the admin's 422
    # the portal
    "portal.index": PORTAL,
    "portal.notice": PORTAL,
    "portal.document": PORTAL,
    # the requester portal (SPEC §9)
    "requester_signup.register": PUBLIC,  # an empty form: 422
    "requester_signup.confirm": PUBLIC,  # the link is the credential; once used, 410
    "requests.index": REQUESTS,
    "requests.new_demand": REQUESTS,  # an empty submission: 422
    "requests.demand": REQUESTS,
    "requests.withdraw": REQUESTS,  # the requester's own: withdrawn
    # the API
    "api.openapi": PUBLIC,
    "api.list_demands": perm("desk.read", api=True),
    "api.get_demand": perm("desk.read", api=True),
    "api.create_demand": perm("demand.log", api=True),
    "api.demand_action": transition(WORKFLOW_ACTION, api=True),
    "api.demand_notices": perm("desk.read", api=True),
    "api.demand_audit": perm("audit.read", api=True),
    "api.defer_notices": perm("notice.defer", api=True),
    "api.record_check": perm("emergency.check", api=True),
    "api.override_checks": perm("emergency.override", api=True),
    "api.release_notices": perm("notice.release", api=True),
    "api.set_gag": perm("gag.manage", api=True),
    "api.extend_gag": perm("gag.manage", api=True),
    "api.lift_gag": perm("gag.manage", api=True),
    "api.upload_document": perm("document.upload", api=True),
    "api.break_glass": perm("access.break-glass", api=True),
    "api.create_customer": perm("customer.manage", api=True),
    "api.get_customer": perm("customer.read", api=True),
    "api.compile_report": perm("report.compile", api=True),
    "api.publish_report": perm("report.publish", api=True),
}

# Path parameters that name something of a demand: asked about the ordinary demand and the
# national-security one.
OBJECT_ARGS = ("demand_id", "doc_id", "document_id", "file_id", "notice_id")
SESSION_ENDING = {"auth.logout", "account.sign_out_everywhere"}


# ---------------------------------------------------------------- the world


@dataclass
class World:
    principals: list[Principal]
    objects: dict[str, dict[str, int]]  # variant → path parameter → id
    fixed: dict[str, object]  # other path parameters
    standing: dict[str, set[str]]  # variant → principals who may open its files
    portal_readers: dict[str, set[str]]  # variant → tenants whose portal shows it (and
    # "own": the requester principal's own demand, which only the requester portal asks about)
    secrets: dict[str, tuple[str, ...]] = field(default_factory=dict)  # variant → words naming it
    api_client: object = None

    def hidden_from(self, p: Principal) -> list[str]:
        """What ``p`` must never read in an answer: the national-security demand unless
        cleared staff; the ordinary demand unless staff or its customer."""
        out = []
        if not (p.kind == "staff" and p.cleared):
            out += self.secrets["ns"]
        if not (p.kind == "staff" or p.tenant == "contoso"):
            out += self.secrets["ordinary"]
        return out


def _ns_payload(**over) -> dict:
    now = utcnow()
    body = {
        "requester": {"agency": "Federal Bureau", "name": "Agent Smith", "email": "smith@fbi.example",
                      "type": "law_enforcement"},
        "country": "US", "process_type": "national_security", "legal_reference": "NSL-MATRIX-1",
        "received_at": now.replace(microsecond=0).isoformat(),
        "targets": ["bob@contoso.com"],
        "requested": [{"target": "bob@contoso.com", "data_set": "subscriber_info", "from": "2026-01-01",
                       "to": "2026-01-31"}],
    }
    body.update(over)
    return body


def _kept_file(app, session, demand_id: int, stored_name: str) -> int:
    directory = Path(app.config["DESK_UPLOAD_DIR"])
    directory.mkdir(parents=True, exist_ok=True)
    (directory / stored_name).write_bytes(b"export\n")
    row = ProductionFile(demand_id=demand_id, name=f"{stored_name}.csv", sha256="c" * 64, bytes=7,
                         stored_name=stored_name)
    session.add(row)
    session.commit()
    return row.id


def requester_agency_id(session, user) -> int:
    return session.get(RequesterAccount, user.id).agency_id


def _sign_in(p: Principal) -> None:
    r = login(p.client, p.email)
    assert r.status_code == 302, (p.name, r.status_code)
    p.csrf = csrf_from(p.client.get("/login").get_data(as_text=True))


def build_world(app, session) -> World:
    contoso = make_customer(session, "Contoso Ltd", domains=("contoso.com",),
                            contacts=(("Ann Lee", "ann@contoso.com"),))
    fabrikam = make_customer(session, "Fabrikam Inc", domains=("fabrikam.com",),
                             contacts=(("Fay Fox", "fay@fabrikam.com"),))
    principals: list[Principal] = [Principal("anonymous", "anonymous")]
    for role in ROLES:
        for cleared in (False, True):
            roles = (role, "cleared") if cleared else (role,)
            user = make_user(session, *roles)
            principals.append(Principal("+".join(roles), "staff", frozenset(roles), email=user.email,
                                        token=make_token(session, user)))
    for tenant, customer in (("contoso", contoso), ("fabrikam", fabrikam)):
        user = make_customer_user(session, customer)
        principals.append(Principal(f"customer of {tenant.capitalize()}", "customer", frozenset({"customer"}),
                                    tenant=tenant, email=user.email, token=make_token(session, user)))
    requester = make_requester(session, agency=make_agency(session, "police.example.gov"))
    principals.append(Principal("requester", "requester", frozenset({"requester"}), email=requester.email,
                                token=make_token(session, requester)))
    gone = make_user(session, "counsel")
    deactivated = Principal("deactivated counsel", "deactivated", frozenset({"counsel"}), email=gone.email,
                            token=make_token(session, gone))
    principals.append(deactivated)
    by = {p.name: p for p in principals}
    for p in principals:
        p.client = app.test_client()
        if p.email:
            _sign_in(p)
        else:
            p.csrf = csrf_from(p.client.get("/login").get_data(as_text=True))
    as_ = {name: Api(app.test_client(), by[name].token) for name in
           ("intake", "counsel", "intake+cleared", "counsel+cleared", "customer of Fabrikam")}

    # the ordinary demand: a subpoena about Contoso, logged by intake (24 hours of standing
    # access), assigned to counsel, a document, its notice released so Contoso's portal shows it
    r = as_["intake"].post("/api/v1/demands", json=demand_payload(
        process_type="subpoena", targets=["alice@contoso.com"],
        requested=[{"target": "alice@contoso.com", "data_set": "subscriber_info", "from": "2026-01-01",
                    "to": "2026-01-31"}]))
    assert r.status_code == 201, r.get_json()
    plain_id, plain_reference, plain_legal = r.get_json()["id"], r.get_json()["reference"], \
        r.get_json()["legal_reference"]
    plain_doc = upload_pdf(as_["intake"], plain_id)["id"]
    for action, body in (("release-notices", {"reason": "counsel checked the notice may go"}),
                         ("assign", {"assignee": by["counsel"].email, "reason": "counsel has it"})):
        r = as_["counsel"].post(f"/api/v1/demands/{plain_id}/{action}", json=body)
        assert r.status_code == 200, (action, r.get_json())

    # the national-security demand: logged by cleared intake, assigned to cleared counsel,
    # a document; its notice held (a national-security notice goes only by explicit release)
    r = as_["intake+cleared"].post("/api/v1/demands", json=_ns_payload())
    assert r.status_code == 201, r.get_json()
    ns_id = r.get_json()["id"]
    ns_doc = upload_pdf(as_["intake+cleared"], ns_id)["id"]
    r = as_["counsel+cleared"].post(f"/api/v1/demands/{ns_id}/assign",
                                    json={"assignee": by["counsel+cleared"].email, "reason": "cleared counsel"})
    assert r.status_code == 200, r.get_json()
    ns_reference = r.get_json()["reference"]
    # a break-glass grant on it, which /desk/access would list to every admin were it not hidden
    r = Api(app.test_client(), by["admin+cleared"].token).post(f"/api/v1/demands/{ns_id}/access",
                                                               json={"reason": "audit of the NSL handling"})
    assert r.status_code == 201, r.get_json()

    def notice_of(demand_id: int) -> int:
        rows = session.scalars(select(Notice).where(Notice.demand_id == demand_id,
                                                    Notice.customer_id == contoso.id)).all()
        assert len(rows) == 1, rows
        return rows[0].id

    session.expire_all()
    plain_notice, ns_notice = notice_of(plain_id), notice_of(ns_id)
    assert session.get(Notice, plain_notice).state != "held"
    assert session.get(Notice, ns_notice).state == "held"
    plain_file = _kept_file(app, session, plain_id, "matrix0001")
    ns_file = _kept_file(app, session, ns_id, "matrix0002")
    assert session.get(Demand, ns_id).process_type == "national_security"

    # an admin who is not a principal: a published report, a user to manage with a pending
    # role proposal, another user whose sign-in link the set-password page opens
    setup_admin = make_user(session, "admin")
    period = Period.containing(utcnow()).previous().code
    report_service.compile_report(session, setup_admin, period, utcnow())
    report_service.publish_report(session, setup_admin, period, None, utcnow())
    session.commit()
    target = make_user(session, "intake")
    assert role_changes.change(session, setup_admin, target, ["intake", "approver"], True) == "proposed"
    session.commit()
    proposal = role_changes.pending_for(session, target)
    link_user = make_user(session, "intake")
    link = sign_in_links.make(app.config["SECRET_KEY"], link_user)
    # the requester's own demand (through the portal's service) and an unconfirmed
    # registration whose link the confirmation page opens
    own = submit_demand(session, session.get(User, requester.id), {
        "requester_type": "law_enforcement", "country": "US", "process_type": "subpoena",
        "legal_reference": "PORTAL-MATRIX-1", "targets": ["carol@contoso.com"],
        "requested": [{"target": "carol@contoso.com", "data_set": "subscriber_info", "from": "2026-01-01",
                       "to": "2026-01-31"}]})
    session.commit()
    unconfirmed = make_requester(session, agency=session.get(Agency, requester_agency_id(session, requester)),
                                 confirmed=False)
    confirm_link = requester_accounts.confirmation_token(app.config["SECRET_KEY"], unconfirmed)

    # the deactivated principal worked before its deactivation (web session and token)
    assert deactivated.client.get("/desk/").status_code == 200
    assert Api(app.test_client(), deactivated.token).get("/api/v1/demands").status_code == 200
    assert role_changes.change(session, setup_admin, gone, ["counsel"], False) == "changed"
    session.commit()

    objects = {
        "ordinary": {"demand_id": plain_id, "doc_id": plain_doc, "document_id": plain_doc,
                     "file_id": plain_file, "notice_id": plain_notice},
        "ns": {"demand_id": ns_id, "doc_id": ns_doc, "document_id": ns_doc, "file_id": ns_file,
               "notice_id": ns_notice},
        "nonexistent": {k: NONEXISTENT for k in OBJECT_ARGS},
        "own": {"demand_id": own.id},
    }
    flag = FraudFlag(kind="domain", value="forged-police.example")  # what /desk/flags/<id>/lift asks about
    session.add(flag)
    session.commit()
    fixed = {
        "flag_id": flag.id,
        "customer_id": contoso.id, "user_id": target.id, "proposal_id": proposal.id,
        "action": WORKFLOW_ACTION, "change": GAG_CHANGE, "code": period, "period": period,
        "period_code": period, "token": link, ("requester_signup.confirm", "token"): confirm_link,
        "agency_id": requester_agency_id(session, requester),
        # public.period_latest takes "<period>", public.period_version "<period>/v<n>"
        ("public.period_latest", "name"): period, ("public.period_version", "name"): "v1",
    }
    return World(
        principals=principals, objects=objects, fixed=fixed,
        # standing access (the logger for 24 hours, the assignee), or the break-glass grant
        standing={"ordinary": {"intake", "counsel"}, "ns": {"intake+cleared", "counsel+cleared", "admin+cleared"}},
        portal_readers={"ordinary": {"contoso"}, "ns": set()},
        secrets={"ordinary": (plain_reference, plain_legal, "alice@contoso.com"),
                 "ns": (ns_reference, "NSL-MATRIX-1", "bob@contoso.com")},
        api_client=app.test_client(),
    )


# ---------------------------------------------------------------- the URL map


def routes(app) -> list[tuple[object, str]]:
    """Every (rule, method) the matrix asks, GET before POST, session-ending ones last."""
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            out.append((rule, method))
    return sorted(out, key=lambda rm: (rm[0].endpoint in SESSION_ENDING, rm[1] != "GET", rm[0].rule))


def expectation(endpoint: str, method: str) -> Rule | None:
    return EXPECTED.get((endpoint, method)) or EXPECTED.get(endpoint)


ARG = re.compile(r"<(?:([a-zA-Z_]+)(?:\([^)]*\))?:)?([a-zA-Z_][a-zA-Z0-9_]*)>")


def variants(rule) -> list[str]:
    if not set(rule.arguments) & set(OBJECT_ARGS):
        return ["none"]
    return ["ordinary", "ns", "own"] if rule.endpoint.startswith("requests.") else ["ordinary", "ns"]


def build_path(rule, world: World, variant: str) -> str:
    def value(match: re.Match) -> str:
        name = match.group(2)
        if name in OBJECT_ARGS:
            return str(world.objects[variant][name])
        for key in ((rule.endpoint, name), name):
            if key in world.fixed:
                return str(world.fixed[key])
        raise KeyError(f"no value for the path parameter <{name}> of {rule.rule} ({rule.endpoint}): "
                       "add one to build_world's `fixed`")

    return ARG.sub(value, rule.rule)


def classify(response) -> str:
    status = response.status_code
    if status >= 500:
        return "error"
    if status == 429:
        return "throttled"
    if status == 401:
        return "login"
    if status in (301, 302, 303, 307, 308):
        return "login" if urlsplit(response.headers.get("Location", "")).path.startswith("/login") else "ok"
    if status == 400 and b"The form expired" in response.data:
        return "csrf"  # the matrix's own mistake: never counts as judged input
    if 200 <= status < 400 or status in (400, 409, 410, 415, 422):
        return "ok"
    if status == 403:
        return "forbidden"
    if status == 404:
        return "missing"
    return f"other {status}"


def ask(world: World, p: Principal, method: str, path: str):
    if path.startswith("/api/"):
        headers = {"Authorization": f"Bearer {p.token}"} if p.token else {}
        if method == "GET":
            return world.api_client.get(path, headers=headers)
        return world.api_client.post(path, headers=headers, json={})
    if method == "GET":
        return p.client.get(path)
    return p.client.post(path, data={"csrf_token": p.csrf})


# ---------------------------------------------------------------- the tests


def test_the_table_has_a_row_for_every_route_and_a_route_for_every_row(app):
    pairs = [(rule.endpoint, method) for rule, method in routes(app)]
    missing = sorted({f"{e} {m}" for e, m in pairs if expectation(e, m) is None})
    assert not missing, "routes without a row in EXPECTED (add one): " + ", ".join(missing)
    endpoints = {e for e, _ in pairs}
    stale = sorted(str(k) for k in EXPECTED if k not in (set(pairs) if isinstance(k, tuple) else endpoints))
    assert not stale, "rows of EXPECTED without a route (remove them): " + ", ".join(stale)
    others = sorted({f"{r.endpoint} {m}" for r in app.url_map.iter_rules() if r.endpoint != "static"
                     for m in r.methods - {"GET", "POST", "HEAD", "OPTIONS"}})
    assert not others, "methods the matrix does not ask (teach it): " + ", ".join(others)


def test_every_route_answers_every_principal_as_the_table_says(app, session):
    world = build_world(app, session)
    mismatches: list[tuple[str, ...]] = []
    errors: list[str] = []  # 500s and 429s: never acceptable
    leaks: list[str] = []
    seen: set[str] = set()  # the secrets an allowed reader did read: they are real words
    asked = 0

    def send(p: Principal, rule, method: str, variant: str):
        nonlocal asked
        path = build_path(rule, world, variant)
        response = ask(world, p, method, path)
        asked += 1
        got = classify(response)
        if got in ("error", "throttled"):
            errors.append(f"{method} {path} as {p.name}: {response.status_code}")
        if response.mimetype.startswith("text/") or "json" in response.mimetype:
            body, hidden = response.get_data(as_text=True), world.hidden_from(p)
            leaks.extend(f"{method} {path} ({response.status_code}) shows {p.name} {word!r}"
                         for word in hidden if word in body)
            seen.update(w for words in world.secrets.values() for w in words if w in body and w not in hidden)
        return path, response, got

    unlisted = [(rule, method) for rule, method in routes(app) if expectation(rule.endpoint, method) is None]
    mismatches += [(f"{method} {rule.rule}", rule.endpoint, "-", "everyone", "(a row in EXPECTED)", "-")
                   for rule, method in unlisted]
    for p in world.principals:
        for rule, method in routes(app):
            expected_rule = expectation(rule.endpoint, method)
            if expected_rule is None:
                continue
            for variant in variants(rule):
                try:
                    path, response, got = send(p, rule, method, variant)
                except KeyError as err:  # a new path parameter: say which
                    mismatches.append((f"{method} {rule.rule}", rule.endpoint, variant, p.name, str(err), "-"))
                    continue
                want = expected_rule.expect(p, variant, world)
                if got != want:
                    mismatches.append((f"{method} {path}", rule.endpoint, variant, p.name, want,
                                       f"{got} ({response.status_code})"))
                if variant == "ns" and p.kind == "staff" and not p.cleared:
                    # need to know: the demand does not exist for them, exactly like an unknown id
                    _, other, unknown = send(p, rule, method, "nonexistent")
                    if unknown != got:
                        mismatches.append((f"{method} {path}", rule.endpoint, "ns vs unknown id", p.name,
                                           f"{unknown} ({other.status_code}), as an unknown id",
                                           f"{got} ({response.status_code})"))
            if rule.endpoint in SESSION_ENDING and p.kind in ("staff", "customer", "requester"):
                _sign_in(p)

    problems = []
    if errors:
        problems.append("Server errors or throttling (never acceptable):\n  " + "\n  ".join(errors))
    if leaks:
        problems.append("A demand shown to someone who may not know of it:\n  " + "\n  ".join(leaks))
    unseen = {w for words in world.secrets.values() for w in words} - seen
    if unseen:
        problems.append(f"The leak check looks for words no allowed reader ever saw: {sorted(unseen)}")
    if mismatches:
        rows = [HEADER] + sorted(set(mismatches))
        widths = [max(len(row[i]) for row in rows) for i in range(len(HEADER))]
        problems.append(f"{len(rows) - 1} of {asked} answers differ from the table:\n"
                        + "\n".join("  " + "  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in rows))
    assert not problems, "\n\n".join(problems)
    assert asked > 1000, f"only {asked} requests: the matrix did not run"


HEADER = ("request", "endpoint", "object", "principal", "expected", "got")
