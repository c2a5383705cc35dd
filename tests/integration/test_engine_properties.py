"""Hypothesis: random event sequences by random actors never leave the workflow's states, and
only the owner of a possible transition ever succeeds. A pure-Python model is the oracle."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphs.core.database import Database
from graphs.workflows.catalog import default_catalog
from graphs.workflows.engine import WorkflowEngine
from graphs.workflows.errors import (
    HumanApprovalRequiredError,
    InvalidTransitionError,
    NotOwnerError,
    UnknownEventError,
)
from graphs.workflows.model import HUMAN, OWNERS

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CATALOG = default_catalog()
WORKFLOW_IDS = sorted(wf.id for wf in CATALOG)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[str, list[tuple[str, str]]]:
    wf = CATALOG.get(draw(st.sampled_from(WORKFLOW_IDS)))
    events = [*sorted(wf.events), "not_an_event"]
    # Bias towards the owner so that runs go deep into the workflow.
    steps = draw(
        st.lists(
            st.tuples(st.sampled_from(events), st.sampled_from([*OWNERS, "owner", "owner"])),
            min_size=1,
            max_size=25,
        )
    )
    return wf.id, steps


async def _check(url: str, workflow_id: str, steps: list[tuple[str, str]]) -> None:
    wf = CATALOG.get(workflow_id)
    async with Database(url, min_size=1, max_size=2) as db:
        await db.pool.open()
        engine = WorkflowEngine(db)
        inst = await engine.start(workflow_id, "prop:1")
        state, applied = wf.initial_state, 0
        for event, who in steps:
            t = wf.transition(state, event)
            actor = (t.owner if t else "system") if who == "owner" else who
            try:
                res = await engine.apply(inst.id, event, actor)
            except UnknownEventError:
                assert event not in wf.events
            except InvalidTransitionError:
                assert t is None and event in wf.events
            except HumanApprovalRequiredError:
                assert t is not None and t.owner == HUMAN and actor != HUMAN
            except NotOwnerError:
                assert t is not None and t.owner != actor
            else:
                assert t is not None and t.owner == actor
                assert res.from_state == state and res.to_state == t.to_state
                state, applied = t.to_state, applied + 1
            assert state in wf.states
        final = await engine.get(inst.id)
        assert (final.state, final.version) == (state, applied)
        assert len(await engine.history(inst.id)) == applied + 1


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(scenario=scenarios())
def test_random_event_sequences_follow_the_model(
    database_url: str, scenario: tuple[str, list[tuple[str, str]]]
) -> None:
    workflow_id, steps = scenario
    asyncio.run(_check(database_url, workflow_id, steps))
