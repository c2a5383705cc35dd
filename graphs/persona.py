"""The persona subgraph factory: one ``agent ⇄ tools`` loop per persona.

``agent`` asks the persona's model (tools bound: only what it owns) or, offline, the lexical
policy; ``tools`` executes the calls through :class:`~graphs.tool_exec.ToolExecutor`. A request
for a ``human``-owned step interrupts *inside* the subgraph (level 4); the thread waits in the
checkpointer and, on resume, the person's decision is applied through the engine as
``human:<name>``. A ``handoff`` tool call jumps to another persona in the parent graph.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command, interrupt

from graphs.deps import GraphDeps
from graphs.escalation import Level
from graphs.offline_policy import PlannedCall, plan, propose
from graphs.state import GraceState, Refusal
from graphs.tool_exec import ToolContext, ToolExecutor, ToolResult
from graphs.tools import ToolSpec, build_tools
from graphs.triage.offers import pending_from_reply
from graphs.triage.schema import STATE_CHANGING_ACTS
from graphs.workflows.model import GRACE
from knowledge.citations import roots_of

if TYPE_CHECKING:
    from knowledge.embedding.base import Embedder

BUDGET_MESSAGE = (
    "I've reached the number of steps I can take for one request without finishing it. "
    "I've stopped here so nothing is left half-done; a member of staff can pick it up."
)


def this_turn(messages: Sequence[BaseMessage]) -> list[BaseMessage]:
    """Messages after the last human message (the current turn's work so far)."""
    for i in range(len(messages) - 1, -1, -1):
        if isinstance(messages[i], HumanMessage):
            return list(messages[i + 1 :])
    return list(messages)


def last_user_text(messages: Sequence[BaseMessage]) -> str:
    """Text of the most recent human message."""
    for m in reversed(messages):
        if isinstance(m, HumanMessage):
            return str(m.content)
    return ""


def thread_id_of(config: RunnableConfig) -> str:
    """The conversation id LangGraph runs under."""
    return str((config.get("configurable") or {}).get("thread_id", "local"))


class PersonaAgent:
    """Builds and runs one persona's subgraph.

    Args:
        name: Persona name (``nyra`` … ``atlas``).
        deps: Shared collaborators.
    """

    def __init__(self, name: str, deps: GraphDeps) -> None:
        self.name = name
        self.deps = deps
        self.persona = deps.registry.get(name)
        handoffs = tuple(p for p in self.persona.handoffs_to if p != name)
        self.tools: list[ToolSpec] = build_tools(name, deps.engine.catalog, handoffs=handoffs)
        self._bound: Any = None
        if deps.model is not None:
            self._bound = deps.model.bind_tools([t.as_openai_tool() for t in self.tools])

    def system_prompt(self) -> str:
        """The persona's versioned prompt, rendered for this business."""
        from agents.prompts import load_prompt

        return str(load_prompt(self.name).render(business_name=self.deps.settings.business_name))

    def build(self) -> CompiledStateGraph[Any, Any, Any, Any]:
        """Compile the ``agent ⇄ tools`` subgraph."""
        g: StateGraph[Any] = StateGraph(GraceState)
        g.add_node("agent", self.agent)
        g.add_node("tools", self.run_tools, destinations=("agent", END))
        g.add_edge(START, "agent")
        g.add_conditional_edges("agent", _after_agent, {"tools": "tools", "end": END})
        return g.compile(name=self.name)

    # ------------------------------------------------------------------ nodes
    async def agent(self, state: GraceState, config: RunnableConfig) -> dict[str, Any]:
        """Decide the next step: tool calls, or the persona's answer for this turn."""
        steps = int(state.get("steps", 0)) + 1
        if steps > self.deps.step_budget:
            return {"steps": steps, "messages": [AIMessage(BUDGET_MESSAGE, name=self.name)]}
        messages: list[BaseMessage] = list(state.get("messages", []))
        confirmed = state.get("confirmed")
        if confirmed and confirmed.get("persona") == self.name and not _acted(self, messages):
            # The user said yes to what this persona proposed: do exactly that, nothing else.
            calls = [
                PlannedCall(c["name"], dict(c.get("args") or {})).as_tool_call()
                for c in confirmed.get("calls") or []
            ]
            if calls:
                return {
                    "steps": steps,
                    "messages": [AIMessage("", tool_calls=calls, name=self.name)],
                }
        if self._bound is not None:
            prompt = [SystemMessage(self.system_prompt()), *messages]
            reply = await self._bound.ainvoke(prompt, config)
            reply.name = self.name
            return {"steps": steps, "messages": [reply], **self._offer(state, reply)}
        update = await self._offline_step(state, messages, config)
        return {"steps": steps, **update}

    def _offer(self, state: GraceState, reply: AIMessage) -> dict[str, Any]:
        """An offer ending a final reply ("hand this over?", "shall I…?") becomes pending."""
        if reply.tool_calls:
            return {}
        pending = pending_from_reply(self.name, str(reply.content), int(state.get("turn", 1)))
        return {"pending": pending} if pending else {}

    async def _offline_step(
        self, state: GraceState, messages: list[BaseMessage], config: RunnableConfig
    ) -> dict[str, Any]:
        """Offline: answer, and *propose* state changes; they happen on the user's yes."""
        text = last_user_text(messages)
        act = str(state.get("act") or "request")
        proposal: dict[str, Any] | None = None
        # A question is answered, never acted on; anything else may lead to a proposal (state
        # changes wait for a yes) or to a request for a person's approval.
        if not _acted(self, messages) and (act != "question" or self.name == "atlas"):
            instances = dict(state.get("instances") or {})
            calls = await plan(self.name, text, self.tools, instances, self.deps.engine)
            kinds = {t.name: t.kind for t in self.tools}
            changes = [c for c in calls if kinds.get(c.name) in _PROPOSED_KINDS]
            if calls and not changes:  # look-ups and requests to a person: go ahead
                message = AIMessage(
                    "", tool_calls=[c.as_tool_call() for c in calls], name=self.name
                )
                return {"messages": [message]}
            if changes:
                proposal = propose(self.name, calls, state, thread_id_of(config), instances)
        reply = await self._compose_offline(state, text)
        if proposal is not None:
            reply = f"{reply}\n\n{proposal['summary']}"
            return {"messages": [AIMessage(reply, name=self.name)], "pending": proposal}
        message = AIMessage(reply, name=self.name)
        return {"messages": [message], **self._offer(state, message)}

    async def _compose_offline(self, state: GraceState, text: str) -> str:
        from agents.llm.offline import compose_grounded_reply
        from knowledge.retriever import Passage

        passages = [Passage.from_dict(p) for p in state.get("passages") or []]
        acted = any(a["persona"] == self.name for a in state.get("actions") or [])
        if not passages and not acted and self.deps.retriever is not None:
            # Nothing done and nothing looked up yet: ground the answer in the handbook.
            passages = list(await self.deps.retriever.retrieve(text, k=3))
        actions = [
            f"opened a {a['workflow_id']} instance ({a['instance_id'][:8]}), now {a['to_state']}"
            if a["event"] == "start"
            else f"{a['event'].replace('_', ' ')}: {a['workflow_id']} instance moved from "
            f"{a['from_state']} to {a['to_state']} (by {a['actor']})"
            for a in state.get("actions") or []
            if a["persona"] == self.name
        ]
        refusals = [r["message"] for r in state.get("refusals") or [] if r["persona"] == self.name]
        resolution = state.get("resolution")
        if resolution and resolution.get("kind") == "approval" and not resolution.get("approved"):
            why = resolution.get("note") or "no reason given"
            refusals.append(f"{resolution.get('by', 'staff')} declined the request: {why}")
        similarity = None
        if passages and self.deps.retriever is not None:
            similarity = _sentence_similarity(self.deps.retriever.embedder, text)
        # Off the event loop: choosing sentences embeds them (tens of ms on CPU).
        return str(
            await asyncio.to_thread(
                compose_grounded_reply,
                persona_display=self.persona.display_name,
                message=text,
                passages=passages,
                actions=actions,
                refusals=refusals,
                source_roots=roots_of(self.deps.settings),
                similarity=similarity,
            )
        )

    async def run_tools(self, state: GraceState, config: RunnableConfig) -> Any:
        """Execute the last message's tool calls as this persona."""
        last = state["messages"][-1]
        assert isinstance(last, AIMessage)
        confirmed = state.get("confirmed")
        confirmed = confirmed if confirmed and confirmed.get("persona") == self.name else None
        ctx = ToolContext(
            engine=self.deps.engine,
            thread_id=thread_id_of(config),
            # A confirmed proposal runs under the proposing turn: its stored idempotency keys.
            turn=int(confirmed["turn"]) if confirmed else int(state.get("turn", 1)),
            instances=dict(state.get("instances") or {}),
            retriever=self.deps.retriever,
            audience=str(state.get("audience") or "client"),
            citation_roots=roots_of(self.deps.settings),
            user_text="\n".join(
                str(m.content) for m in state.get("messages", []) if isinstance(m, HumanMessage)
            ),
        )
        executor = ToolExecutor(self.name, self.tools, ctx)
        update: dict[str, Any] = {
            "messages": [],
            "actions": [],
            "refusals": [],
            "citations": [],
            "passages": [],
            "instances": {},
        }
        handoff: str | None = None
        act = str(state.get("act") or "request")
        gated = not confirmed and act not in STATE_CHANGING_ACTS
        kinds = {t.name: t.kind for t in self.tools}
        gated_calls: list[PlannedCall] = []
        for call in last.tool_calls:
            kind = kinds.get(call["name"])
            asked = kind in _PROPOSED_KINDS or (kind == "approval" and act == "question")
            if gated and asked:
                # Acting only when asked: a question (or a follow-up, a no...) changes nothing.
                result = _not_requested(self.name, call["name"], act)
                gated_calls.append(PlannedCall(call["name"], dict(call.get("args") or {})))
                _merge(update, result, ctx)
                update["messages"].append(
                    ToolMessage(result.content, tool_call_id=call["id"] or "", name=call["name"])
                )
                continue
            result = await executor.run(call["name"], dict(call.get("args") or {}))
            if result.approval is not None:
                result = await self._ask_person(executor, result, state, update)
            _merge(update, result, ctx)
            update["messages"].append(
                ToolMessage(result.content, tool_call_id=call["id"] or "", name=call["name"])
            )
            handoff = handoff or result.handoff
        if gated_calls:  # the user may still want it: ask, and do it on their yes
            update["pending"] = propose(
                self.name, gated_calls, state, ctx.thread_id, dict(ctx.instances)
            )
        if handoff == GRACE:
            # Handing back to the supervisor means no persona can finish this: a person decides.
            reason = f"handoff_to_grace: {self.name} could not complete the request"
            update.update(
                level=int(Level.HUMAN),
                reasons=[*(state.get("reasons") or []), reason],
                queue=[],
                needs_person=True,
            )
            return Command(goto=END, update=update)
        if handoff is not None:
            # The supervisor's dispatcher runs the colleague next (it is first in the queue).
            queue = [handoff, *(p for p in state.get("queue") or [] if p != handoff)]
            update.update(queue=queue, current_persona=handoff)
            return Command(goto=END, update=update)
        return Command(goto="agent", update=update)

    async def _ask_person(
        self,
        executor: ToolExecutor,
        result: ToolResult,
        state: GraceState,
        update: dict[str, Any],
    ) -> ToolResult:
        """Level 4 inside the subgraph: pause for a person's decision, then apply it."""
        request = dict(result.approval or {})
        request["summary"] = (
            f"{self.persona.display_name} needs a person to take '{request['event']}' on "
            f"{request['workflow_id']} instance {request['instance_id']}: "
            f"{request.get('reason', '')}"
        )
        request["reasons"] = [f"human_approval_required: {request['event']}"]
        decision = interrupt(request)
        update["level"] = int(Level.HUMAN)
        update["reasons"] = [*(state.get("reasons") or []), *request["reasons"]]
        update["resolution"] = {"kind": "approval", **dict(decision)}
        return await executor.apply_decision(request, dict(decision))


def _merge(update: dict[str, Any], result: ToolResult, ctx: ToolContext) -> None:
    if result.action:
        update["actions"].append(result.action)
    if result.refusal:
        update["refusals"].append(result.refusal)
    update["citations"].extend(result.citations)
    update["passages"].extend(p.to_dict() for p in result.passages)
    if result.instance:
        wf_id, iid = result.instance
        update["instances"][wf_id] = iid
        ctx.instances[wf_id] = iid


#: Tool kinds a persona proposes offline and fires only on the user's yes.
_PROPOSED_KINDS = ("transition", "start")


def _not_requested(persona: str, name: str, act: str) -> ToolResult:
    """The result of a state-changing call the user did not ask for (nothing is applied)."""
    message = (
        f"not done: the user's message is a {act.replace('_', ' ')}, not a request; "
        "describe the step and ask whether they want it"
    )
    refusal: Refusal = {
        "persona": persona,
        "event": name,
        "code": "not-requested",
        "message": message,
    }
    return ToolResult(f"Refused (not-requested): {message}", refusal=refusal)


def _acted(agent: PersonaAgent, messages: Sequence[BaseMessage]) -> bool:
    """Whether ``agent`` already ran one of its tools this turn."""
    names = {t.name for t in agent.tools}
    return any(isinstance(m, ToolMessage) and m.name in names for m in this_turn(messages))


def _after_agent(state: GraceState) -> str:
    last = state["messages"][-1]
    if isinstance(last, AIMessage) and last.tool_calls:
        return "tools"
    return "end"


def _sentence_similarity(
    embedder: Embedder, question: str
) -> Callable[[Sequence[str]], list[float]]:
    """Cosine similarity of sentences to ``question`` on the retriever's embedder.

    Both sides are unit vectors, so the dot product is the cosine; the offline composer uses
    it to choose what to quote.
    """

    def similarity(sentences: Sequence[str]) -> list[float]:
        if not sentences:
            return []
        q = embedder.embed_query(question)
        return [float(v) for v in embedder.embed_documents(list(sentences)) @ q]

    return similarity
