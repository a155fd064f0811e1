"""The desk with two planted bugs, for tests/test_fuzz_catches.py only (gunicorn serves
``tests.planted_wsgi:app``): the fuzz run must report both.

- ``GET /api/v1/demands`` with a non-empty ``q`` raises (a 500);
- ``POST /api/v1/customers`` answers a problem whose ``title`` is a number, not the
  string the document promises (a body that breaks the document)."""
from __future__ import annotations

from flask import request

from requests_desk.app import create_app
from requests_desk.services import case_list

app = create_app()
_parse_filters = case_list.parse_filters


def _planted_parse_filters(args, **kwargs):
    filters = _parse_filters(args, **kwargs)
    if filters.q:
        raise RuntimeError("planted: a search breaks the list")
    return filters


case_list.parse_filters = _planted_parse_filters


@app.after_request
def _planted_off_document(response):
    if request.endpoint == "api.create_customer" and response.status_code >= 400:
        response.set_data(b'{"type": "about:blank", "title": 5, "status": %d}' % response.status_code)
    return response
