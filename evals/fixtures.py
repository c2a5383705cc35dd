"""Set-up helpers: put a fresh workflow instance into a given state, legitimately.

:func:`instance_in` starts an instance and walks it to the requested state along the shortest
path of the workflow graph, firing each transition *through the engine* as its owner
(``human`` steps as ``human:eval-fixture``). No SQL shortcut: every set-up step is a real,
audited transition, so the instance is exactly what production would hold in that state.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import Any

from graphs.workflows.engine import WorkflowEngine
from graphs.workflows.model import HUMAN, Transition, Workflow
from graphs.workflows.records import Instance

FIXTURE_HUMAN = "human:eval-fixture"


class UnreachableStateError(ValueError):
    """No path of transitions leads from the initial state to the requested one."""


def path_to(workflow: Workflow, state: str) -> list[Transition]:
    """Shortest list of transitions from ``workflow.initial_state`` to ``state`` (BFS).

    Raises:
        UnreachableStateError: ``state`` is unknown or not reachable.
    """
    if state not in workflow.states:
        raise UnreachableStateError(f"{workflow.id} has no state {state!r}")
    prev: dict[str, tuple[str, Transition] | None] = {workflow.initial_state: None}
    queue = deque([workflow.initial_state])
    while queue:
        here = queue.popleft()
        if here == state:
            break
        for t in workflow.outgoing(here):
            if t.to_state not in prev:
                prev[t.to_state] = (here, t)
                queue.append(t.to_state)
    if state not in prev:
        raise UnreachableStateError(f"{workflow.id}: {state!r} is not reachable")
    steps: list[Transition] = []
    cur = state
    while (link := prev[cur]) is not None:
        cur, t = link
        steps.append(t)
    return steps[::-1]


def owner_actor(t: Transition) -> str:
    """The actor string that legitimately fires ``t``."""
    return FIXTURE_HUMAN if t.owner == HUMAN else t.owner


async def instance_in(
    engine: WorkflowEngine,
    workflow_id: str,
    state: str,
    subject: str,
    *,
    data: Mapping[str, Any] | None = None,
) -> Instance:
    """A new instance of ``workflow_id`` brought to ``state`` through legitimate transitions.

    Raises:
        UnreachableStateError: the state cannot be reached.
        graphs.workflows.errors.WorkflowError: the engine refused a set-up step (a bug).
    """
    wf = engine.catalog.get(workflow_id)
    steps = path_to(wf, state)
    inst = await engine.start(wf.id, subject, actor="system", data=data)
    for t in steps:
        await engine.apply(inst.id, t.event, owner_actor(t))
    return await engine.get(inst.id)
