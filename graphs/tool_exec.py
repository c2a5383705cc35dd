"""Executes persona tool calls: the only bridge from a model's request to business state.

Every call is checked against the persona's own tool list first (a model asking for a tool it
was not given is refused), then against the conversation: a client conversation reaches only
its own workflow instances, and may lead only to the steps the workflow data marks
``requested_by: client`` (marketing launches, restocking, listing publication, payments… are
staff-only, whatever a model says; refused with code ``staff-only``, recorded like every other
refusal). Transitions then go through the workflow engine with idempotency keys derived from
``(thread, turn, instance, event)`` —
so a turn re-run after a crash or a resume never applies a transition twice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from graphs.state import Action, Refusal
from graphs.tools import ToolSpec
from graphs.workflows.engine import WorkflowEngine
from graphs.workflows.errors import WorkflowError
from knowledge.citations import present_citations

#: Shortest subject reference that proves a client named the instance ("B-1042"): shorter ones
#: ("7") would appear in ordinary text by chance. A stated rule, not a fitted value.
MIN_REFERENCE_CHARS = 3
#: Refusal code of a staff-only step asked for in a client conversation.
STAFF_ONLY = "staff-only"


@dataclass
class ToolContext:
    """What tool execution needs to know about the conversation.

    Attributes:
        engine: The workflow engine.
        thread_id: Conversation id (part of idempotency keys).
        turn: Current turn number (part of idempotency keys).
        instances: Workflow instances this thread works on, ``{workflow_id: instance_id}``.
        retriever: Knowledge retriever (Atlas's ``search_knowledge``), if available.
        audience: ``client`` or ``staff``. A client conversation reaches only its own instances:
            those opened or worked on in this thread, and those whose subject reference (the
            part after ``type:``, e.g. ``B-1042``) the client typed in it. Staff reach any instance.
            A client conversation takes only ``requested_by: client`` steps and opens only
            workflows whose first step is one; anything but ``staff`` counts as a client.
        user_text: Everything the user wrote in this thread (for the reference check).
        citation_roots: Folders knowledge sources are shown relative to
            (:func:`knowledge.citations.roots_of`); search results name a logical source,
            never a server path, since a model may repeat them to a client.
    """

    engine: WorkflowEngine
    thread_id: str
    turn: int
    instances: dict[str, str] = field(default_factory=dict)
    retriever: Any = None
    audience: str = "client"
    user_text: str = ""
    citation_roots: tuple[Path, ...] = ()

    def reaches(self, instance_id: str, reference: str) -> bool:
        """Whether this conversation may see or act on a workflow instance (see ``audience``).

        Args:
            instance_id: The instance's id.
            reference: Its subject's id in the business's systems (``B-1042``).
        """
        if self.audience == "staff" or instance_id in self.instances.values():
            return True
        ref = reference.strip().lower()
        return len(ref) >= MIN_REFERENCE_CHARS and ref in self.user_text.lower()


@dataclass
class ToolResult:
    """The outcome of one tool call.

    Attributes:
        content: Text returned to the model (ToolMessage content).
        action: A transition that was applied.
        refusal: Why the call was refused.
        citations: Passages' citations (knowledge search).
        passages: The passages themselves (for offline composition).
        approval: A request for a human decision (the caller interrupts on it).
        handoff: Persona to hand over to.
        instance: ``(workflow_id, instance_id)`` the thread now works on.
    """

    content: str
    action: Action | None = None
    refusal: Refusal | None = None
    citations: list[dict[str, Any]] = field(default_factory=list)
    passages: list[Any] = field(default_factory=list)
    approval: dict[str, Any] | None = None
    handoff: str | None = None
    instance: tuple[str, str] | None = None


class ToolExecutor:
    """Runs one persona's tool calls.

    Args:
        persona: Persona name.
        specs: The tools this persona was offered (from :func:`graphs.tools.build_tools`).
        ctx: Conversation context.
    """

    def __init__(self, persona: str, specs: list[ToolSpec], ctx: ToolContext) -> None:
        self.persona = persona
        self.specs = {s.name: s for s in specs}
        self.ctx = ctx

    def idempotency_key(self, instance_id: str, event: str) -> str:
        """``thread:turn:instance:event``: stable across re-runs of the same turn."""
        return f"{self.ctx.thread_id}:{self.ctx.turn}:{instance_id}:{event}"

    async def run(self, name: str, args: dict[str, Any]) -> ToolResult:
        """Execute tool ``name`` with ``args`` as this persona."""
        spec = self.specs.get(name)
        if spec is None:
            return self._refuse(
                name,
                "not-your-tool",
                f"{self.persona} has no tool {name!r}; it cannot take that step",
            )
        try:
            if spec.kind == "transition":
                return await self._transition(spec, args)
            if spec.kind == "start":
                return await self._start(spec, args)
            if spec.kind == "approval":
                return await self._approval(spec, args)
            if spec.kind == "find":
                return await self._find(args)
            if spec.kind == "search":
                return await self._search(args)
            return self._handoff(spec, args)
        except WorkflowError as exc:
            return self._refuse(name, exc.code, str(exc))

    def _instance_of(self, workflow_id: str | None, args: dict[str, Any]) -> str | None:
        # ``case_id`` is the argument's name before 2026-12-04; a model may still send it.
        given = args.get("instance_id") or args.get("case_id")
        instance = given or (self.ctx.instances.get(workflow_id) if workflow_id else None)
        return str(instance) if instance else None

    async def _check_reach(self, event: str, instance_id: str) -> ToolResult | None:
        """A refusal when the conversation may not touch ``instance_id`` (None when it may).

        An unknown id and another client's instance get the same answer, so the refusal does not
        reveal which instances exist.
        """
        if self.ctx.audience == "staff" or instance_id in self.ctx.instances.values():
            return None
        try:
            inst = await self.ctx.engine.get(instance_id)
        except (WorkflowError, ValueError):
            inst = None
        if inst is not None and self.ctx.reaches(str(inst.id), inst.subject.id):
            return None
        return self._refuse(
            event,
            "instance-not-in-conversation",
            "that instance is not part of this conversation; give its reference (e.g. the booking "
            "number) or ask a member of staff",
        )

    async def _transition(self, spec: ToolSpec, args: dict[str, Any]) -> ToolResult:
        assert spec.transition is not None and spec.workflow_id is not None
        event = spec.transition.event
        instance_id = self._instance_of(spec.workflow_id, args)
        if instance_id is None:
            return self._refuse(
                event,
                "no-instance",
                f"no open {spec.workflow_id} instance in this conversation: start one or give "
                "instance_id",
            )
        if (refusal := await self._check_reach(event, instance_id)) is not None:
            return refusal
        if not spec.transition.requestable_by(self.ctx.audience):
            return self._refuse(
                event,
                STAFF_ONLY,
                f"'{event.replace('_', ' ')}' is a staff step ({spec.workflow_id}): it cannot be "
                "taken in a conversation with a client; a member of staff will handle it",
            )
        payload = {"note": args["note"]} if args.get("note") else None
        res = await self.ctx.engine.apply(
            instance_id, event, self.persona, self.idempotency_key(instance_id, event), payload
        )
        action: Action = {
            "persona": self.persona,
            "workflow_id": res.workflow_id,
            "instance_id": str(res.instance_id),
            "event": event,
            "from_state": res.from_state,
            "to_state": res.to_state,
            "actor": res.actor,
            "replayed": res.replayed,
        }
        return ToolResult(
            f"Done: {event} — the {spec.workflow_id} instance moved from {res.from_state} to "
            f"{res.to_state}.",
            action=action,
            instance=(res.workflow_id, str(res.instance_id)),
        )

    async def _start(self, spec: ToolSpec, args: dict[str, Any]) -> ToolResult:
        assert spec.workflow_id is not None
        subject = str(args.get("subject") or "").strip()
        if not subject:
            return self._refuse(spec.name, "invalid-payload", "a subject is required")
        workflow = self.ctx.engine.catalog.get(spec.workflow_id)
        if self.ctx.audience != "staff" and not workflow.client_may_start():
            return self._refuse(
                spec.name,
                STAFF_ONLY,
                f"a {workflow.name.lower()} instance ({workflow.id}) is opened by staff, not in a "
                "conversation with a client",
            )
        data = {"details": args["details"]} if args.get("details") else None
        inst = await self.ctx.engine.start(
            spec.workflow_id,
            subject,
            actor=self.persona,
            data=data,
            idempotency_key=f"{self.ctx.thread_id}:{self.ctx.turn}:start:{spec.workflow_id}",
        )
        action: Action = {
            "persona": self.persona,
            "workflow_id": inst.workflow_id,
            "instance_id": str(inst.id),
            "event": "start",
            "from_state": "",
            "to_state": inst.state,
            "actor": self.persona,
            "replayed": False,
        }
        return ToolResult(
            f"Opened {spec.workflow_id} instance {inst.id} for {inst.subject}, now {inst.state}.",
            action=action,
            instance=(inst.workflow_id, str(inst.id)),
        )

    async def _approval(self, spec: ToolSpec, args: dict[str, Any]) -> ToolResult:
        step = str(args.get("step", ""))
        if step not in spec.choices:
            return self._refuse(
                "request_approval",
                "invalid-payload",
                f"{step!r} is not a step a person takes in your workflows",
            )
        workflow_id, _, event = step.partition(":")
        instance_id = self._instance_of(workflow_id, args)
        if instance_id is None:
            return self._refuse(
                event, "no-instance", f"no open {workflow_id} instance to approve on"
            )
        if (refusal := await self._check_reach(event, instance_id)) is not None:
            return refusal
        request = {
            "kind": "approval",
            "persona": self.persona,
            "workflow_id": workflow_id,
            "instance_id": instance_id,
            "event": event,
            "reason": str(args.get("reason", "")),
        }
        return ToolResult(f"Approval requested for {event}.", approval=request)

    async def apply_decision(self, request: dict[str, Any], decision: dict[str, Any]) -> ToolResult:
        """Apply a person's decision on an approval request (as ``human:<who>``)."""
        who = str(decision.get("by") or "staff")
        if not decision.get("approved"):
            note = decision.get("note") or "no reason given"
            return ToolResult(f"A person declined {request['event']}: {note}.")
        event, instance_id = request["event"], request["instance_id"]
        payload = {"note": decision["note"]} if decision.get("note") else None
        res = await self.ctx.engine.apply(
            instance_id, event, f"human:{who}", self.idempotency_key(instance_id, event), payload
        )
        action: Action = {
            "persona": self.persona,
            "workflow_id": res.workflow_id,
            "instance_id": str(res.instance_id),
            "event": event,
            "from_state": res.from_state,
            "to_state": res.to_state,
            "actor": res.actor,
            "replayed": res.replayed,
        }
        return ToolResult(
            f"{who} approved {event}: the instance moved from {res.from_state} to {res.to_state}.",
            action=action,
        )

    async def _find(self, args: dict[str, Any]) -> ToolResult:
        rows = await self.ctx.engine.find(
            workflow_id=args.get("workflow_id") or None,
            state=args.get("state") or None,
            subject=args.get("subject") or None,
            limit=50,
        )
        rows = [r for r in rows if self.ctx.reaches(str(r.id), r.subject.id)][:10]
        if not rows:
            return ToolResult("No matching workflow instances.")
        lines = [f"{r.id} {r.workflow_id} {r.subject} state={r.state}" for r in rows]
        return ToolResult("\n".join(lines))

    async def _search(self, args: dict[str, Any]) -> ToolResult:
        if self.ctx.retriever is None:
            return ToolResult("The knowledge base is not available right now.")
        passages = await self.ctx.retriever.retrieve(str(args.get("query", "")))
        if not passages:
            return ToolResult("Nothing in the knowledge base answers this.", passages=[])
        shown = present_citations((p.citation for p in passages), "client", self.ctx.citation_roots)
        lines = [
            f"[{i}] {c['label']} ({c['source']}, chunk {c['chunk_id']}): {p.text}"
            for i, (p, c) in enumerate(zip(passages, shown, strict=True), 1)
        ]
        return ToolResult(
            "\n\n".join(lines),
            citations=[
                {**p.citation.__dict__, "heading_path": list(p.citation.heading_path)}
                for p in passages
            ],
            passages=list(passages),
        )

    def _handoff(self, spec: ToolSpec, args: dict[str, Any]) -> ToolResult:
        target = str(args.get("to", "")).lower()
        if target not in spec.choices:
            return self._refuse(
                "handoff",
                "handoff-not-allowed",
                f"{self.persona} may hand over only to {', '.join(spec.choices)}",
            )
        return ToolResult(f"Handing over to {target}: {args.get('reason', '')}", handoff=target)

    def _refuse(self, event: str, code: str, message: str) -> ToolResult:
        refusal: Refusal = {
            "persona": self.persona,
            "event": event,
            "code": code,
            "message": message,
        }
        return ToolResult(f"Refused ({code}): {message}", refusal=refusal)
