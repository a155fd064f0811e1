"""The API fuzz run (issue 17), one function for every test that fuzzes: schemathesis
generates requests from the OpenAPI document a live server serves, sends them, and
checks every answer (no 5xx; status, content type and body as the document says).

``tests/test_fuzz_api.py`` runs it over the whole API on SQLite and PostgreSQL;
``tests/test_fuzz_catches.py`` runs the same function against a server with planted bugs
and expects them reported, so a fuzz run that could not fail would itself fail."""
from __future__ import annotations

import json
import zlib
from collections import Counter
from dataclasses import dataclass, field
from typing import Callable

import requests
import schemathesis
from hypothesis import HealthCheck, given, seed, settings
from hypothesis.errors import FlakyStrategyDefinition
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

SEED = 17
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@dataclass
class FuzzRun:
    """What a run sent and found: every request's status (retries and shrinking
    included), one failure per operation that had one, every answer a check refused
    (as it was met, whatever hypothesis reports at the end), and notes (a sequence run
    cut short)."""

    operations: list[str] = field(default_factory=list)
    statuses: Counter = field(default_factory=Counter)
    failures: dict[str, str] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    created: set[str] = field(default_factory=set)  # sequences: ids of the demands they created
    chained: int = 0  # sequences: calls on a demand the same run created

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def server_errors(self) -> int:
        return sum(n for code, n in self.statuses.items() if code >= 500)

    def report(self) -> str:
        return "\n\n".join(f"{label}: {text}" for label, text in self.failures.items())


def fuzz_api(base_url: str, token: str, examples: int, *, only: set[str] | None = None,
             known: dict[str, str] | None = None, seed_value: int = SEED) -> FuzzRun:
    """Fuzz every operation of ``{base_url}/api/v1/openapi.json`` (or those labelled in
    ``only``, e.g. ``"GET /demands"``) with ``examples`` generated cases each, sent with
    the bearer ``token``; the same seed gives the same requests. ``known``: path
    parameters that exist (``{"demand_id": "1"}``), put in place of the generated value in
    three cases of four, so the actions reach a demand rather than mostly a 404."""
    schema = schemathesis.openapi.from_url(f"{base_url}/api/v1/openapi.json")
    run = FuzzRun()
    http = requests.Session()

    def count(response, *args, **kwargs):
        run.statuses[response.status_code] += 1

    http.hooks["response"].append(count)
    headers = {"Authorization": f"Bearer {token}"}
    for operation in (result.ok() for result in schema.get_all_operations()):
        if only is not None and operation.label not in only:
            continue
        run.operations.append(operation.label)

        @seed(seed_value)
        @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(), which=st.integers(0, 3))
        def fuzz(case, which):
            for name, value in (known or {}).items():
                if which and case.path_parameters and name in case.path_parameters:
                    case.path_parameters[name] = value
            case.call_and_validate(base_url=f"{base_url}/api/v1", session=http, headers=headers, checks=CHECKS,
                                   timeout=30)

        try:
            fuzz()
        # collect every operation's failure, then report once (schemathesis raises a
        # FailureGroup, a BaseExceptionGroup, for several distinct failures in one operation)
        except (Exception, BaseExceptionGroup) as err:  # noqa: BLE001
            run.failures[operation.label] = _describe(err)[:3000]
    http.close()
    return run


def fuzz_sequences(base_url: str, token: str, examples: int,
                   valid: dict[str, Callable[[], dict]] | None = None) -> FuzzRun:
    """Stateful fuzzing: sequences of calls chained by the links schemathesis infers from
    the document (a demand created, then acted on, then read: ``POST /demands`` → 201 →
    ``POST /demands/{id}/{action}``, ``GET /demands/{id}``, its notices and audit), with
    the same checks on every answer. ``examples`` sequences of up to ten calls each.
    ``valid``: a valid body for an operation (``"POST /demands"``), sent in place of the
    generated one every other time, since a generated demand is almost never accepted
    (its items must name its targets) and a sequence needs one created to go on."""
    schema = schemathesis.openapi.from_url(f"{base_url}/api/v1/openapi.json")
    run = FuzzRun(operations=["sequences"])
    http = requests.Session()
    http.hooks["response"].append(lambda response, *args, **kwargs: run.statuses.update([response.status_code]))
    headers = {"Authorization": f"Bearer {token}"}

    class Sequences(schema.as_state_machine()):  # type: ignore[misc]
        def before_call(self, case):
            make = (valid or {}).get(case.operation.label)
            if make is not None and zlib.crc32(json.dumps(case.body, sort_keys=True, default=str).encode()) % 2:
                case.body = make()
            if str((case.path_parameters or {}).get("demand_id")) in run.created:
                run.chained += 1

        def after_call(self, response, case):
            if case.operation.label == "POST /demands" and response.status_code == 201:
                run.created.add(str(response.json()["id"]))

        def get_call_kwargs(self, case):
            return {"base_url": f"{base_url}/api/v1", "session": http, "headers": headers, "timeout": 30}

        def validate_response(self, response, case, additional_checks=None, **kwargs):
            try:
                case.validate_response(response, checks=CHECKS, headers=headers)
            except (Exception, BaseExceptionGroup) as err:  # noqa: BLE001 - noted, then raised on
                run.refused.append(f"{case.operation.label}: {_describe(err)[:1500]}")
                raise

    try:
        Sequences.run(settings=settings(max_examples=examples, stateful_step_count=10, deadline=None,
                                        database=None, derandomize=True, suppress_health_check=list(HealthCheck)))
    except FlakyStrategyDefinition as err:
        # The server keeps what earlier sequences made (a random id may exist by now), so
        # hypothesis, replaying a sequence, can see it go another way and stop. Not a
        # failure of the desk: every answer up to there was checked (``refused``).
        run.notes.append(f"stopped early after {run.requests} requests: {str(err).splitlines()[0]}")
    except (Exception, BaseExceptionGroup) as err:  # noqa: BLE001
        run.failures["sequences"] = _describe(err)[:3000]
    http.close()
    return run


def _describe(err: BaseException) -> str:
    if isinstance(err, BaseExceptionGroup):
        return f"{err}: " + " | ".join(_describe(e) for e in err.exceptions)
    return f"{type(err).__name__}: {err}"
