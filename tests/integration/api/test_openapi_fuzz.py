"""Schemathesis over the OpenAPI document: no 5xx and every response matches its schema.

Both valid (positive) and invalid (negative) inputs are generated: bad input must give a
4xx problem, never a 5xx.

The app runs under uvicorn in the test's event loop (its runtime and pool belong to that
loop); schemathesis sends real HTTP requests from a worker thread. Dev mode satisfies auth
(admin), so every operation is reachable.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from evals.bench.api_server import serving
from tests.integration.api.conftest import MakeClient, app_of

pytestmark = [pytest.mark.integration, pytest.mark.slow]

#: Generated cases per operation and mode (bounded: the whole run stays under a minute).
MAX_EXAMPLES = {"positive": 15, "negative": 8}


def _fuzz(spec: dict[str, Any], base_url: str) -> tuple[list[str], Counter[tuple[str, int]]]:
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
            _check(operation, mode, base_url, seen)()
        except Exception as exc:  # collect every operation's failure, then report them all
            failures.append(f"{operation.label} ({mode.value}): {exc}"[:2000])
    return failures, seen


def _check(
    operation: Any, mode: Any, base_url: str, seen: Counter[tuple[str, int]]
) -> Callable[[], None]:
    """A hypothesis test sending generated requests (:data:`MAX_EXAMPLES`) to one operation."""
    import hypothesis
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import response_schema_conformance

    @hypothesis.settings(
        max_examples=MAX_EXAMPLES[mode.value], deadline=None, derandomize=True, database=None,
        suppress_health_check=list(hypothesis.HealthCheck),
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    )  # fmt: skip
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def check(case: Any) -> None:
        response = case.call(base_url=base_url, timeout=30)
        seen[(mode.value, response.status_code)] += 1
        case.validate_response(response, checks=[not_a_server_error, response_schema_conformance])

    return check


def _has_inputs(operation: Any) -> bool:
    return bool(operation.body) or any(True for _ in operation.iter_parameters())


async def test_schemathesis_finds_no_server_errors_and_no_schema_violations(
    make_client: MakeClient, tmp_path: Path
) -> None:
    client = await make_client(data_dir=tmp_path)
    app = app_of(client)
    async with serving(app) as url:
        failures, seen = await asyncio.to_thread(_fuzz, app.openapi(), url)
        await app.state.background.wait(timeout=60)
    assert not failures, "\n\n".join(failures)
    # both modes really ran: valid requests succeeded, invalid ones were refused with 422
    assert seen[("positive", 200)] > 50 and seen[("negative", 422)] > 50, seen
