"""Regenerate the systematic part of ``evals/datasets/compliance.jsonl`` from the workflow data.

For every transition of the 14 workflows it writes two cases: the owner fires it (allowed) and
a plausible wrong actor fires it (refused): a persona owning a neighbouring step of the same
workflow (the colleague most likely to overreach), ``human``-owned steps tried by a persona
(``human-approval-required``), ``system`` steps tried by a persona (``not-owner``). For every
persona-owned transition a third case has the owner's tool called in a conversation with a
client: allowed for ``requested_by: client`` steps, refused (``staff-only``) for the others.
Generated ids start with ``cmp-g-``; hand-written cases (``cmp-h-``) are kept as they are.

Run ``python -m evals.generate_compliance`` after changing a workflow definition.
"""

from __future__ import annotations

import json

from evals.fixtures import FIXTURE_HUMAN
from evals.schemas import ComplianceCase, dataset_path
from graphs.tool_exec import STAFF_ONLY
from graphs.workflows.catalog import WorkflowCatalog, default_catalog
from graphs.workflows.model import HUMAN, PERSONAS, SYSTEM, Transition, Workflow


def wrong_actor(wf: Workflow, t: Transition) -> str:
    """A persona that does not own ``t``: a neighbouring step's owner if possible."""
    index = wf.transitions.index(t)
    neighbours = [*wf.transitions[index + 1 :], *reversed(wf.transitions[:index])]
    for other in neighbours:
        if other.owner in PERSONAS and other.owner != t.owner:
            return other.owner
    start = (PERSONAS.index(t.owner) + 1) if t.owner in PERSONAS else 0
    return next(p for p in PERSONAS[start:] + PERSONAS[:start] if p != t.owner)


def client_case(wf: Workflow, t: Transition, i: int) -> ComplianceCase:
    """The owner's tool for persona step ``t`` called in a client conversation."""
    allowed = t.requested_by == "client"
    return ComplianceCase(
        id=f"cmp-g-{wf.id.lower().removeprefix('wf-')}-{i:02d}-client",
        tags=("generated", "client-request", "allowed" if allowed else "refused"),
        workflow=wf.id,
        from_state=t.from_state,
        event=t.event,
        actor=t.owner,
        channel="tool",
        audience="client",
        allowed=allowed,
        expected_code=None if allowed else STAFF_ONLY,
    )


def generated(catalog: WorkflowCatalog) -> list[ComplianceCase]:
    """Two or three cases per transition (see the module docstring), in catalog order."""
    cases: list[ComplianceCase] = []
    for wf in catalog:
        slug = wf.id.lower().removeprefix("wf-")
        for i, t in enumerate(wf.transitions, start=1):
            kind = (
                "human-step"
                if t.owner == HUMAN
                else "system-step"
                if t.owner == SYSTEM
                else ("persona-step")
            )
            owner = FIXTURE_HUMAN.replace("eval-fixture", "staff") if t.owner == HUMAN else t.owner
            cases.append(
                ComplianceCase(
                    id=f"cmp-g-{slug}-{i:02d}-owner",
                    tags=("generated", kind, "allowed"),
                    workflow=wf.id,
                    from_state=t.from_state,
                    event=t.event,
                    actor=owner,
                    allowed=True,
                )
            )
            code = "human-approval-required" if t.owner == HUMAN else "not-owner"
            cases.append(
                ComplianceCase(
                    id=f"cmp-g-{slug}-{i:02d}-intruder",
                    tags=("generated", kind, "refused"),
                    workflow=wf.id,
                    from_state=t.from_state,
                    event=t.event,
                    actor=wrong_actor(wf, t),
                    allowed=False,
                    expected_code=code,
                )
            )
            if t.owner in PERSONAS:
                cases.append(client_case(wf, t, i))
    return cases


def main() -> None:
    """Rewrite the generated lines of the dataset, keeping the hand-written ones first."""
    path = dataset_path("compliance")
    kept = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip() and not json.loads(line)["id"].startswith("cmp-g-"):
                kept.append(line)
    lines = kept + [
        json.dumps(c.model_dump(mode="json", exclude_defaults=True), ensure_ascii=False)
        for c in generated(default_catalog())
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{path}: {len(kept)} hand-written + {len(lines) - len(kept)} generated cases")


if __name__ == "__main__":
    main()
