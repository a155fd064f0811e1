"""The fuzz run can fail (issue 17): ``tests/fuzzing.py: fuzz_api``, the function
tests/test_fuzz_api.py runs over the whole API, is pointed at a gunicorn serving the desk
with two planted bugs (tests/planted_wsgi.py) and must report both: a 500 on the list
when a search is given, and an answer whose body breaks the OpenAPI document. Only the two
planted operations and one sound one are fuzzed, with a small budget; then a short run
of sequences, which must report one of them too."""
from __future__ import annotations

import pytest

from tests.factories import make_token, make_user
from tests.fuzzing import fuzz_api, fuzz_sequences
from tests.live import gunicorn

pytestmark = pytest.mark.fuzz


def test_fuzz_run_reports_a_planted_500_and_a_planted_off_document_answer(app, session, tmp_path):
    counsel = make_user(session, "counsel", email="cora.counsel@desk.example")
    token = make_token(session, counsel)
    with gunicorn(app, tmp_path, target="tests.planted_wsgi:app") as base:
        run = fuzz_api(base, token, 10, only={"GET /demands", "POST /customers", "GET /demands/{demand_id}"})
        sequences = fuzz_sequences(base, token, 20)
    assert sorted(run.operations) == ["GET /demands", "GET /demands/{demand_id}", "POST /customers"]
    assert set(run.failures) == {"GET /demands", "POST /customers"}, run.report()
    assert run.server_errors > 0 and "Server error" in run.failures["GET /demands"], run.report()
    assert "Response violates schema" in run.failures["POST /customers"], run.report()
    # the stateful run, too, reports what it meets first
    found = sequences.report()
    assert "Server error" in found or "Response violates schema" in found, found
