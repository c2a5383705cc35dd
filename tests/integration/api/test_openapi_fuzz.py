"""Schemathesis over the OpenAPI document with every built-in check (``--checks all``).

Both valid (positive) and invalid (negative) inputs are generated: bad input must give a
4xx problem, never a 5xx; every status, content type, header and body must be the documented
one; invalid input must be refused and valid input accepted; a request without the key must
be refused (``ignored_auth``), an undocumented method answered 405 with ``Allow``.

The app runs under uvicorn in the test's event loop (its runtime and pool belong to that
loop); schemathesis sends real HTTP requests from a worker thread. The server is not in dev
mode: requests carry an admin key, so every operation is reachable and auth is really checked.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from api.auth.keys import ApiKeyStore
from api.auth.principal import Role
from evals.bench.api_server import serving
from tests.integration.api.conftest import MakeClient, app_of

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SECRET = "4f1d9c2b7e6a3f0d8c5b2a1e9f7d6c4b"
#: Generated cases per operation and mode (bounded: with every check, ~1.5 min on 2 shared cores).
MAX_EXAMPLES = {"positive": 15, "negative": 8}


def _fuzz(
    spec: dict[str, Any], base_url: str, key: str
) -> tuple[list[str], Counter[tuple[str, int]]]:
    import schemathesis
    from schemathesis import GenerationMode
    from schemathesis.core.result import Ok

    schema = schemathesis.openapi.from_dict(spec)
    failures: list[str] = []
    seen: Counter[tuple[str, int]] = Counter()
    for result, mode in itertools.product(list(schema.get_all_operations()), GenerationMode):
        assert isinstance(result, Ok), result
        operation = result.ok()
        if mode is GenerationMode.NEGATIVE and not _has_inputs(operation):
            continue  # nothing to make invalid
        if mode is GenerationMode.POSITIVE and operation.path == "/v1/events":
            continue  # an endless event stream (its own test follows it); invalid input still 422s
        try:
            _check(operation, mode, base_url, key, seen)()
        except (
            Exception,
            BaseExceptionGroup,
        ) as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.label} ({mode.value}): {exc}"[:2000])
    return failures, seen


def _check(
    operation: Any, mode: Any, base_url: str, key: str, seen: Counter[tuple[str, int]]
) -> Callable[[], None]:
    """A hypothesis test sending generated requests (:data:`MAX_EXAMPLES`) to one operation."""
    import hypothesis
    from schemathesis.checks import CHECKS, load_all_checks
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    load_all_checks()
    checks = [c for c in CHECKS.get_all() if c is not positive_data_acceptance]
    headers = {"Authorization": f"Bearer {key}"}

    @hypothesis.settings(
        max_examples=MAX_EXAMPLES[mode.value], deadline=None, derandomize=True, database=None,
        suppress_health_check=list(hypothesis.HealthCheck),
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    )  # fmt: skip
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def check(case: Any) -> None:
        response = case.call(base_url=base_url, headers=headers, timeout=30)
        seen[(mode.value, response.status_code)] += 1
        run = checks if _cross_field_refusal(response) else [*checks, positive_data_acceptance]
        case.validate_response(
            response, checks=run, headers=headers, transport_kwargs={"base_url": base_url}
        )

    return check


#: Problem type of an ``Idempotency-Key`` sent again with a different body: 422 by
#: draft-ietf-httpapi-idempotency-key-header section 2.7. Schemathesis draws keys from a
#: small pool, so two generated bodies share one; a rule across requests, not a schema gap.
KEY_REUSED = "https://gracefields.dev/problems/idempotency-key-reused"


def _cross_field_refusal(response: Any) -> bool:
    """A 422 for a rule across fields or requests, which JSON Schema cannot state.

    ``positive_data_acceptance`` expects schema-valid input to be accepted; the bodies' model
    validators (``value_error``: "documents or paths", ``chunk_overlap < chunk_size``, a body
    ``idempotency_key`` equal to the header, a user message with text) refuse some of it, and
    so does a reused ``Idempotency-Key`` (:data:`KEY_REUSED`). Any other refusal of
    schema-valid input (a type or range the schema does not state) still fails.
    """
    if response.status_code != 422:
        return False
    body = response.json()
    if body.get("type") == KEY_REUSED:
        return True
    errors = body.get("errors") or []
    return bool(errors) and all(e.get("type") == "value_error" for e in errors)


def _has_inputs(operation: Any) -> bool:
    return bool(operation.body) or any(True for _ in operation.iter_parameters())


async def test_schemathesis_finds_no_server_errors_and_no_schema_violations(
    make_client: MakeClient, tmp_path: Path
) -> None:
    client = await make_client(data_dir=tmp_path, dev=False, secret_key=SECRET)
    app = app_of(client)
    _, key = await ApiKeyStore(app.state.db, app.state.settings).create("fuzz", Role.ADMIN)
    async with serving(app) as url:
        failures, seen = await asyncio.to_thread(_fuzz, app.openapi(), url, key)
        await app.state.background.wait(timeout=60)
    assert not failures, "\n\n".join(failures)
    # both modes really ran: valid requests succeeded, invalid ones were refused with 422
    assert seen[("positive", 200)] > 50 and seen[("negative", 422)] > 50, seen
