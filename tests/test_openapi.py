"""The OpenAPI 3.1 document at /api/v1/openapi.json (SPEC §6): anonymous, valid, and
describing every route of the API with the bounds the parsers apply."""
from __future__ import annotations

import re

from openapi_spec_validator import validate

from requests_desk.services import parsing


def _path_of(rule: str) -> str:
    return re.sub(r"<(?:[^:>]+:)?([^>]+)>", r"{\1}", rule.removeprefix("/api/v1"))


def test_openapi_document_is_public_valid_and_lists_every_route(app, client):
    r = client.get("/api/v1/openapi.json")  # no token
    assert r.status_code == 200 and r.content_type == "application/json"
    doc = r.get_json()
    assert doc["openapi"].startswith("3.1")
    validate(doc)
    routes = {(_path_of(rule.rule), method.lower()) for rule in app.url_map.iter_rules()
              if rule.endpoint.startswith("api.") for method in rule.methods - {"HEAD", "OPTIONS"}}
    described = {(path, method) for path, ops in doc["paths"].items() for method in ops}
    assert routes == described


def test_openapi_bounds_are_the_parsers_bounds(client):
    schemas = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]
    demand = schemas["NewDemand"]["properties"]
    assert demand["targets"]["maxItems"] == parsing.MAX_TARGETS == 1000
    assert demand["requested"]["maxItems"] == parsing.MAX_ITEMS == 1000
    assert demand["notes"]["maxLength"] == parsing.MAX_NOTES
    assert demand["legal_reference"]["maxLength"] == parsing.MAX_NAME
    assert demand["targets"]["items"]["maxLength"] == parsing.MAX_IDENTIFIER
    assert schemas["Publication"]["properties"]["note"]["maxLength"] == parsing.MAX_NOTE


def test_other_api_paths_still_need_a_token(client):
    assert client.get("/api/v1/demands").status_code == 401
    assert client.get("/api/v1/openapi.jsonx").status_code in (401, 404)
