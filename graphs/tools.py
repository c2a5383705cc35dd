"""Persona tools, generated from the workflow data.

A persona is offered exactly:

* one tool per transition it owns (``well_book__consultation_scheduled``…) — so a model cannot
  even name a transition it does not own; staff-only steps (``requested_by: staff``) say so in
  their description, and the executor refuses them in client conversations;
* ``start__<workflow>`` for workflows whose first step it owns (it opens the instance);
* ``request_approval`` for the ``human``-owned steps of its workflows (raises level 4);
* read-only ``find_instances``; Atlas also gets ``search_knowledge``;
* ``handoff`` to the personas its collaboration pattern allows (DESIGN.md / WF-AGT-COMM).

Execution goes through :class:`ToolExecutor`, which refuses any tool name outside the persona's
set, whatever the model asked for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from graphs.workflows.catalog import WorkflowCatalog
from graphs.workflows.model import HUMAN, Transition, Workflow

ToolKind = Literal["transition", "start", "approval", "find", "search", "handoff"]


def workflow_slug(workflow_id: str) -> str:
    """``WF-WELL-BOOK`` → ``well_book``."""
    return workflow_id.lower().removeprefix("wf-").replace("-", "_")


@dataclass(frozen=True)
class ToolSpec:
    """A tool offered to a persona.

    Attributes:
        name: Tool name the model calls (``[a-z0-9_]``, unique per persona).
        kind: What executing it does.
        description: Shown to the model.
        parameters: JSON schema of the arguments.
        workflow_id: For transition/start tools.
        transition: For transition tools.
        choices: Allowed values (events for approvals, personas for handoffs).
    """

    name: str
    kind: ToolKind
    description: str
    parameters: dict[str, Any]
    workflow_id: str | None = None
    transition: Transition | None = None
    choices: tuple[str, ...] = field(default=())

    def as_openai_tool(self) -> dict[str, Any]:
        """The tool in OpenAI function format (what ``bind_tools`` accepts as a dict)."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }


def _obj(props: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "properties": props, "required": required}


_INSTANCE = {
    "type": "string",
    "description": "Workflow instance id; omit for this conversation's instance",
}
_NOTE = {"type": "string", "description": "Short note kept in the audit trail"}


def _transition_tool(wf: Workflow, t: Transition) -> ToolSpec:
    return ToolSpec(
        name=f"{workflow_slug(wf.id)}__{t.event}",
        kind="transition",
        description=(
            f"{wf.name}: record '{t.event.replace('_', ' ')}', moving the {wf.subject} from "
            f"{t.from_state} to {t.to_state}. Only when this has really happened."
            + ("" if t.requested_by == "client" else " Staff conversations only.")
        ),
        parameters=_obj({"instance_id": _INSTANCE, "note": _NOTE}, []),
        workflow_id=wf.id,
        transition=t,
    )


def build_tools(
    persona: str,
    catalog: WorkflowCatalog,
    *,
    handoffs: tuple[str, ...] = (),
) -> list[ToolSpec]:
    """Every tool ``persona`` may use, generated from the workflow data.

    Args:
        persona: Persona name (``nyra`` … ``atlas``).
        catalog: Workflow definitions (owners decide the tools).
        handoffs: Personas (or ``grace``) this persona may hand work to.
    """
    tools: list[ToolSpec] = []
    human_events: list[str] = []
    for wf in catalog:
        owned = wf.owned_by(persona)
        if not owned:
            continue
        tools.extend(_transition_tool(wf, t) for t in owned)
        if any(t.from_state == wf.initial_state for t in owned):
            tools.append(
                ToolSpec(
                    name=f"start__{workflow_slug(wf.id)}",
                    kind="start",
                    description=(
                        f"Open a new {wf.name.lower()} instance ({wf.id}) for a {wf.subject}, "
                        f"starting in '{wf.initial_state}'."
                    ),
                    parameters=_obj(
                        {
                            "subject": {
                                "type": "string",
                                "description": f"Identifier of the {wf.subject}, e.g. B-1042",
                            },
                            "details": {"type": "string", "description": "What it is about"},
                        },
                        ["subject"],
                    ),
                    workflow_id=wf.id,
                )
            )
        human_events += [f"{wf.id}:{t.event}" for t in wf.transitions if t.owner == HUMAN]
    if human_events:
        tools.append(
            ToolSpec(
                name="request_approval",
                kind="approval",
                description=(
                    "Ask a person (staff or the client) to take a step you may not take "
                    "yourself, such as accepting a quote or approving a price. Pauses the "
                    "conversation until someone decides."
                ),
                parameters=_obj(
                    {
                        "step": {
                            "type": "string",
                            "enum": sorted(set(human_events)),
                            "description": "WORKFLOW:event needing a person",
                        },
                        "instance_id": _INSTANCE,
                        "reason": {"type": "string", "description": "Why it is needed now"},
                    },
                    ["step", "reason"],
                ),
                choices=tuple(sorted(set(human_events))),
            )
        )
    tools.append(
        ToolSpec(
            name="find_instances",
            kind="find",
            description="Look up workflow instances by workflow, state or subject.",
            parameters=_obj(
                {
                    "workflow_id": {"type": "string"},
                    "state": {"type": "string"},
                    "subject": {"type": "string", "description": "TYPE:ID or ID"},
                },
                [],
            ),
        )
    )
    if persona == "atlas":
        tools.append(
            ToolSpec(
                name="search_knowledge",
                kind="search",
                description="Search the business's knowledge base; returns passages with "
                "citations. Answer only from what it returns.",
                parameters=_obj({"query": {"type": "string"}}, ["query"]),
            )
        )
    if handoffs:
        tools.append(
            ToolSpec(
                name="handoff",
                kind="handoff",
                description="Hand the conversation to a colleague better placed to help.",
                parameters=_obj(
                    {
                        "to": {"type": "string", "enum": list(handoffs)},
                        "reason": {"type": "string"},
                    },
                    ["to", "reason"],
                ),
                choices=handoffs,
            )
        )
    return tools
