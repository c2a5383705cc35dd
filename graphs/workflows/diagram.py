"""Render a workflow as a Mermaid state diagram."""

from __future__ import annotations

from graphs.workflows.model import Workflow


def mermaid(workflow: Workflow, *, current: str | None = None) -> str:
    """Return Mermaid ``stateDiagram-v2`` source for ``workflow``.

    Each edge is labelled ``event (owner)``. Final states get an edge to ``[*]``.

    Args:
        workflow: The definition to draw.
        current: Optional state to highlight (e.g. an instance's current state).
    """
    lines = ["stateDiagram-v2", f"    %% {workflow.id}: {workflow.name}"]
    lines.append(f"    [*] --> {workflow.initial_state}")
    for t in workflow.transitions:
        lines.append(f"    {t.from_state} --> {t.to_state}: {t.event} ({t.owner})")
    for state in workflow.states:
        if state in workflow.terminal_states:
            lines.append(f"    {state} --> [*]")
    if current is not None:
        lines.append("    classDef current fill:#f9d77e,stroke:#b8860b,stroke-width:2px")
        lines.append(f"    class {current} current")
    return "\n".join(lines) + "\n"
