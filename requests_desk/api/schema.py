"""The API's OpenAPI 3.1 document (SPEC §6), served at ``GET /api/v1/openapi.json``.

Built from the definitions the parsers use — the bounds in ``services/parsing.py``,
the codes in ``vocabulary.py``, the actions in ``workflow.py`` — so a bound changed
there changes here. The parsers stay the one judge of a request (their 422 names the
field); this document describes what they accept, and ``tests/test_fuzz_api.py`` sends
what it generates from it to a live server.
"""
from __future__ import annotations

from functools import lru_cache

from ..services import parsing as P
from ..services.documents import MAX_BYTES
from ..services.file_access import MIN_REASON
from ..services.case_list import MAX_PAGE, SORTS
from ..services.emergency_checks import MAX_CHECK_NOTE
from ..vocabulary import (
    EMERGENCY_CHECKS,
    NOTICE_KINDS,
    NOTICE_STATES,
    OUTCOMES,
    PROCESS_TYPES,
    REQUESTER_TYPES,
    STATES,
)
from ..workflow import ACTIONS
from .listing import CUSTOMERS_SHOWN


def _text(max_len: int, **extra) -> dict:
    return {"type": "string", "maxLength": max_len, **extra}


def _nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


DATE_TIME = {"type": "string", "format": "date-time", "examples": ["2026-03-01T09:30:00Z"]}
DATE = {"type": "string", "format": "date", "examples": ["2026-03-01"]}
ID = {"type": "integer", "minimum": 1}

# Checked by its kind (services/parsing.py: identifier_problem); a 422 names the entry.
IDENTIFIER = _text(P.MAX_IDENTIFIER, minLength=1, description=f"An account identifier: {P.IDENTIFIER_KINDS}.",
                   examples=["alice@example.org", "+1 206 555 0142", "tenant:contoso-7781"])

ITEM = {
    "type": "object",
    "required": ["target", "data_set", "from", "to"],
    "properties": {
        "target": _text(P.MAX_IDENTIFIER, minLength=1),
        "data_set": _text(P.MAX_SHORT, minLength=1, examples=["subscriber_info", "email_content"]),
        "from": DATE,
        "to": DATE,
        "basis": _text(P.MAX_REASON),
    },
}
ITEMS = {"type": "array", "items": {"$ref": "#/components/schemas/Item"}, "maxItems": P.MAX_ITEMS}
GAG = {
    "type": "object",
    "required": ["order_ref", "issued_by", "expires_at"],
    "properties": {
        "order_ref": _text(P.MAX_NAME, minLength=1),
        "issued_by": _text(P.MAX_NAME, minLength=1),
        "issued_at": DATE,
        "expires_at": _nullable(DATE_TIME),
    },
}
NEW_DEMAND = {
    "type": "object",
    "required": ["requester", "country", "process_type", "legal_reference", "received_at", "targets", "requested"],
    "properties": {
        "requester": {
            "type": "object",
            "required": ["agency", "name", "email", "type"],
            "properties": {
                "agency": _text(P.MAX_NAME, minLength=1),
                "name": _text(P.MAX_NAME, minLength=1),
                "email": _text(P.MAX_EMAIL, format="email"),
                "phone": _text(P.MAX_SHORT),
                "type": {"type": "string", "enum": list(REQUESTER_TYPES)},
            },
        },
        "country": {"type": "string", "minLength": 2, "maxLength": 2, "examples": ["US", "DE"]},
        "process_type": {"type": "string", "enum": list(PROCESS_TYPES)},
        "legal_reference": _text(P.MAX_NAME, minLength=1),
        "issuing_authority": _text(P.MAX_NAME),
        "received_at": DATE_TIME,
        "channel": _text(P.MAX_SHORT),
        "emergency": {"type": "boolean"},
        "justification": _text(P.MAX_REASON),
        "due_at": DATE_TIME,
        "notes": _text(P.MAX_NOTES),
        "targets": {"type": "array", "minItems": 1, "maxItems": P.MAX_TARGETS, "items": IDENTIFIER},
        "requested": {**ITEMS, "minItems": 1},
        "gag": {"$ref": "#/components/schemas/Gag"},
        "defer_notices": {"$ref": "#/components/schemas/Deferral",
                          "description": "emergency demands only: hold the customer notices until a date "
                                         "(in the future, at most 2100-12-31), with a reason"},
    },
}
ACTION_BODY = {
    "type": "object",
    "properties": {
        "note": _text(P.MAX_REASON),
        "reason": _text(P.MAX_REASON),
        "items": ITEMS,
        "files": {"type": "array", "maxItems": P.MAX_LIST, "items": {
            "type": "object", "required": ["name", "sha256", "bytes"],
            "properties": {"name": _text(P.MAX_FILENAME, minLength=1),
                           "sha256": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"},
                           "bytes": {"type": "integer", "minimum": 0}},
        }},
        "assignee": _text(P.MAX_EMAIL),
        "due_at": DATE_TIME,
    },
}
NEW_CUSTOMER = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": _text(P.MAX_NAME, minLength=1),
        "enterprise": {"type": "boolean"},
        "domains": {"type": "array", "maxItems": P.MAX_LIST, "items": _text(253)},
        "accounts": {"type": "array", "maxItems": P.MAX_TARGETS, "items": IDENTIFIER},
        "contacts": {"type": "array", "maxItems": P.MAX_LIST, "items": {
            "type": "object", "required": ["name", "email"],
            "properties": {"name": _text(P.MAX_NAME, minLength=1), "email": _text(P.MAX_EMAIL, format="email")},
        }},
    },
}

_STR = {"type": "string"}
_NSTR = {"type": ["string", "null"]}
_OUT_ITEM = {"type": "object", "required": ["target", "data_set", "from", "to"]}
DEMAND = {
    "type": "object",
    "required": ["id", "reference", "status", "outcome", "received_at", "requester", "country", "process_type",
                 "legal_reference", "customers", "requested", "gag", "due_at", "overdue", "due_soon"],
    "properties": {
        "id": ID,
        "reference": _STR,
        "status": {"type": "string", "enum": list(STATES)},
        "outcome": {"type": ["string", "null"], "enum": [*OUTCOMES, None]},
        "received_at": _STR,
        "channel": _STR,
        "requester": {"type": "object"},
        "country": _STR,
        "process_type": _STR,
        "legal_reference": _STR,
        "issuing_authority": _NSTR,
        "emergency": {"type": "boolean"},
        "justification": _NSTR,
        "customers": {"type": "array", "items": {"type": "object"}},
        "targets": {"type": "array", "items": _STR},
        "requested": {"type": "array", "items": _OUT_ITEM},
        "scope": {"type": "array", "items": _OUT_ITEM},
        "production": {"type": ["object", "null"]},
        "preserved": {"type": "array", "items": _OUT_ITEM},
        "hold": {"type": ["object", "null"]},
        "documents": {"type": "array", "items": {"type": "object", "properties": {
            "for_customer_id": {"type": ["integer", "null"]},
            "customers": {"type": "array", "items": {"type": "integer"}}}}},
        "gag": {"type": ["object", "null"]},
        "due_at": _STR,
        "overdue": {"type": "boolean"},
        "due_soon": {"type": "boolean"},
        "assignee": _NSTR,
        "notices_released_at": _NSTR,
        "verified_agency": {
            "type": ["object", "null"], "additionalProperties": False,
            "description": "a demand submitted through the requester portal: the submitting account's verified agency",
            "properties": {"name": _STR, "domain": _STR, "country": _STR, "suspended": {"type": "boolean"},
                           "submitted_by": _STR},
        },
        "flagged": {"type": "boolean", "description": "the requester's address or domain is flagged as fraudulent"},
        "checks_required": {"type": "boolean"},
        "checks": {"type": "array", "items": {
            "type": "object", "required": ["check", "by", "at", "note"],
            "properties": {"check": {"type": "string", "enum": list(EMERGENCY_CHECKS)}, "by": _NSTR, "at": _STR,
                           "note": _STR}}},
        "checks_missing": {"type": "array", "items": {"type": "string", "enum": list(EMERGENCY_CHECKS)}},
        "checks_override": {"type": ["object", "null"], "properties": {"reason": _STR, "by": _NSTR, "at": _STR}},
        "notes": _NSTR,
        "created_at": _NSTR,
        "closed_at": _NSTR,
        "purged_at": _NSTR,
    },
}
_COUNT = {"type": "integer", "minimum": 0}
# The list's demand (api/listing.py): what a list needs, bounded whatever a demand holds:
# counts in place of the targets, items and documents, and the first few customers.
_SUMMARY_FIELDS = ("id", "reference", "status", "outcome", "received_at", "channel", "requester", "country",
                   "process_type", "legal_reference", "issuing_authority", "emergency", "gag", "due_at",
                   "overdue", "due_soon", "assignee", "notices_released_at", "flagged", "created_at", "closed_at")
DEMAND_SUMMARY = {
    "type": "object",
    "required": [*_SUMMARY_FIELDS, "customers", "customers_count", "targets_count", "requested_count",
                 "scope_count", "documents_count"],
    "additionalProperties": False,
    "properties": {
        **{k: DEMAND["properties"][k] for k in _SUMMARY_FIELDS},
        "customers": {**DEMAND["properties"]["customers"], "maxItems": CUSTOMERS_SHOWN,
                      "description": f"the first {CUSTOMERS_SHOWN} customers, in the order of their first target"},
        "customers_count": _COUNT, "targets_count": _COUNT, "requested_count": _COUNT, "scope_count": _COUNT,
        "documents_count": _COUNT,
    },
}
ACCESS_GRANT = {
    "type": "object",
    "required": ["id", "demand_id", "user", "reason", "granted_at", "expires_at"],
    "properties": {"id": ID, "demand_id": ID, "user": _STR, "reason": _STR, "granted_at": _STR, "expires_at": _STR},
}
PROBLEM = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": _STR, "title": _STR, "status": {"type": "integer"}, "detail": _STR,
        "errors": {"type": "object", "additionalProperties": {"type": "array", "items": _STR}},
    },
}


def _json(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _problems(*codes: int) -> dict:
    words = {400: "The body is not JSON", 401: "No token, or a bad one", 403: "Not allowed for your role",
             404: "Not found", 409: "Not allowed in the current state",
             412: "The demand changed since the If-Match ETag was read", 422: "The request has errors"}
    return {str(c): {"description": words[c], "content": {"application/problem+json": {"schema": _ref("Problem")}}}
            for c in codes}


def _body(name: str, required: bool = True) -> dict:
    return {"required": required, "content": {"application/json": {"schema": _ref(name)}}}


def _path_param(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9]+$"}}


DEMAND_ID = _path_param("demand_id")
# If-Match: the demand's ETag from a GET; a stale one is a 412 that changes nothing.
IF_MATCH = {"name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"},
            "description": "The demand's ETag from GET /demands/{demand_id}: refused (412) if it changed since."}
WRITE = _problems(400, 401, 403, 404, 409, 412, 422)
READ = _problems(401, 403, 404)
LIST_PARAMS = [
    {"name": "status", "in": "query", "schema": {"type": "string", "enum": [*STATES, "open"]}},
    {"name": "country", "in": "query", "schema": {"type": "string", "maxLength": 2}},
    {"name": "process_type", "in": "query", "schema": {"type": "string", "enum": list(PROCESS_TYPES)}},
    {"name": "customer", "in": "query", "schema": {"type": "integer", "minimum": 1}},
    {"name": "q", "in": "query", "schema": _text(P.MAX_QUERY)},
    {"name": "overdue", "in": "query", "schema": {"type": "string", "enum": ["1", "true", "0", "false"]}},
    {"name": "sort", "in": "query", "schema": {"type": "string",
                                                "enum": [*SORTS, *(f"-{s}" for s in SORTS)]}},
    {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE}},
    {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
]


def _demand_post(summary: str, body: str, *, required: bool = True, extra: list | None = None) -> dict:
    return {"post": {"summary": summary, "parameters": [DEMAND_ID, IF_MATCH, *(extra or [])],
                     "requestBody": _body(body, required), "responses": {"200": _json(_ref("Demand")), **WRITE}}}


@lru_cache(maxsize=1)
def openapi_document() -> dict:
    """The OpenAPI 3.1 document of ``/api/v1`` (every route of the blueprint)."""
    paths = {
        "/customers": {"post": {"summary": "Create a customer (admins)", "requestBody": _body("NewCustomer"),
                                "responses": {"201": _json({"type": "object"}, "Created"),
                                              **_problems(400, 401, 403, 422)}}},
        "/customers/{customer_id}": {"get": {"summary": "A customer", "parameters": [_path_param("customer_id")],
                                             "responses": {"200": _json({"type": "object"}), **READ}}},
        "/demands": {
            "post": {"summary": "Log a demand", "requestBody": _body("NewDemand"),
                     "responses": {"201": _json(_ref("Demand"), "Created"), **_problems(400, 401, 403, 422)}},
            "get": {"summary": "The case list (each demand with counts of its targets, customers, items and "
                               "documents, not the lists themselves)",
                    "parameters": LIST_PARAMS,
                    "responses": {"200": _json({
                        "type": "object", "required": ["items", "total", "page", "per_page"],
                        "properties": {"items": {"type": "array", "items": _ref("DemandSummary")},
                                       "total": {"type": "integer"}, "page": {"type": "integer"},
                                       "per_page": {"type": "integer"}}}), **_problems(401, 403, 422)}},
        },
        "/demands/{demand_id}": {"get": {"summary": "One demand (its version in the ETag header)",
                                         "parameters": [DEMAND_ID],
                                         "responses": {"200": _json(_ref("Demand")), **READ}}},
        "/demands/{demand_id}/{action}": _demand_post(
            "A workflow action, assign or set-due", "ActionBody", required=False,
            extra=[{"name": "action", "in": "path", "required": True,
                    "schema": {"type": "string", "enum": list(ACTIONS)}}]),
        "/demands/{demand_id}/defer-notices": _demand_post("Defer an emergency demand's notices", "Deferral"),
        "/demands/{demand_id}/checks": _demand_post(
            "Record one of the four emergency checks (recording it again replaces it)", "Check"),
        "/demands/{demand_id}/checks/override": _demand_post(
            "Counsel's reason to propose a scope before the emergency checks are complete", "Reason"),
        "/demands/{demand_id}/release-notices": _demand_post(
            "Release the demand's notices (counsel; a reason is required for national security)",
            "OptionalReason", required=False),
        "/demands/{demand_id}/gag": _demand_post("Record a gag", "Gag"),
        "/demands/{demand_id}/gag/extend": _demand_post("Extend the active gag", "GagExtension"),
        "/demands/{demand_id}/gag/lift": _demand_post("Lift the active gag", "Reason"),
        "/demands/{demand_id}/documents": {"post": {
            "summary": "Add a legal-process PDF", "parameters": [DEMAND_ID],
            "requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
                "type": "object", "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary",
                                        "description": f"a readable PDF, at most {MAX_BYTES} bytes"},
                               "customer_id": {"type": "string", "pattern": "^[0-9]+$", "description":
                                               "counsel only: a redacted copy for this customer of the demand"}}}}}},
            "responses": {"201": _json({"type": "object", "required": ["id", "name", "sha256", "bytes"]},
                                       "Created"), **_problems(401, 403, 404, 422)}}},
        "/demands/{demand_id}/notices": {"get": {"summary": "The demand's notices", "parameters": [DEMAND_ID],
                                                 "responses": {"200": _json({"type": "array", "items": {
                                                     "type": "object", "properties": {
                                                         "kind": {"enum": list(NOTICE_KINDS)},
                                                         "state": {"enum": list(NOTICE_STATES)}}}}), **READ}}},
        "/demands/{demand_id}/audit": {"get": {"summary": "The demand's audit events", "parameters": [DEMAND_ID],
                                               "responses": {"200": _json({"type": "array",
                                                                           "items": {"type": "object"}}), **READ}}},
        "/demands/{demand_id}/access": {"post": {
            "summary": "Break-glass: the demand's files for DESK_BREAK_GLASS_HOURS, with a reason",
            "parameters": [DEMAND_ID], "requestBody": _body("BreakGlass"),
            "responses": {"201": _json(_ref("AccessGrant"), "Created"), **_problems(400, 401, 403, 404, 422)}}},
        "/reports": {"post": {"summary": "Compile a report's draft", "requestBody": _body("Period"),
                              "responses": {"201": _json({"type": "object"}, "Created"),
                                            **_problems(400, 401, 403, 409, 422)}}},
        "/reports/{period}/publish": {"post": {
            "summary": "Publish the draft", "requestBody": _body("Publication", False),
            "parameters": [{"name": "period", "in": "path", "required": True,
                            "schema": {"type": "string", "pattern": "^[0-9]{4}-H[12]$"}}],
            "responses": {"200": _json({"type": "object"}), **_problems(400, 401, 403, 404, 409, 422)}}},
        "/openapi.json": {"get": {"summary": "This document (no sign-in)", "security": [],
                                  "responses": {"200": _json({"type": "object"})}}},
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Requests Desk API", "version": "1",
                 "description": "Bounds: at most 1,000 targets and 1,000 items a demand; text lengths as "
                                "stated; no control characters (tab and line breaks in free text only) and "
                                "no lone surrogates; dates from 1970-01-01 to a day after now (due dates, "
                                "gag ends, deferrals: to 2100-12-31)."},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Item": ITEM, "Gag": GAG, "NewDemand": NEW_DEMAND, "ActionBody": ACTION_BODY,
                "NewCustomer": NEW_CUSTOMER, "Demand": DEMAND, "DemandSummary": DEMAND_SUMMARY, "Problem": PROBLEM,
                "GagExtension": {"type": "object", "required": ["expires_at"],
                                 "properties": {"expires_at": _nullable(DATE_TIME)}},
                "Reason": {"type": "object", "required": ["reason"],
                           "properties": {"reason": _text(P.MAX_REASON, minLength=1)}},
                "OptionalReason": {"type": "object",
                                   "properties": {"reason": _text(P.MAX_REASON)}},
                "Deferral": {"type": "object", "required": ["until", "reason"],
                             "properties": {"until": DATE_TIME, "reason": _text(P.MAX_REASON, minLength=1)}},
                "Check": {"type": "object", "required": ["check", "note"],
                          "properties": {"check": {"type": "string", "enum": list(EMERGENCY_CHECKS)},
                                         "note": _text(MAX_CHECK_NOTE, minLength=1)}},
                "Period": {"type": "object", "required": ["period"],
                           "properties": {"period": {"type": "string", "pattern": "^[0-9]{4}-H[12]$"}}},
                "Publication": {"type": "object", "properties": {"note": _text(P.MAX_NOTE)}},
                "BreakGlass": {"type": "object", "required": ["reason"],
                               "properties": {"reason": _text(P.MAX_REASON, minLength=MIN_REASON)}},
                "AccessGrant": ACCESS_GRANT,
            },
        },
    }
