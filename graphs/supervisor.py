"""The Grace Fields supervisor: a LangGraph ``StateGraph`` over eight persona subgraphs.

Flow of one turn::

    triage ─┬─ level 4 trigger ──────────→ human_review
            └─ <persona> ─┬─ level 1, nobody queued → end
                          └─ dispatch ─┬─ next persona → dispatch …
                                       └─ queue done: merge the answers → end

* ``triage`` asks the learned local triage (:mod:`graphs.triage`: persona, level, risk,
  dialogue act, the thread's pending offer); with an LLM, Grace's structured router also
  sees low-confidence or multi-intent turns and may raise the level, never lower it. It
  applies ``--persona`` requests, resolves a pending offer by the user's yes/no, and closes a
  conversation ("thanks, that's all") and answers a bare greeting ("hello": she greets back
  and says who does what) through ``grace_reply`` without routing anew. A yes to
  Grace's own playbook offer (staff, ``graphs/playbooks/offers.py``) goes to
  ``start_playbook``.
* level 1 runs one persona; level 2 runs the primary and secondary personas one after the
  other and Grace merges their answers; level 3 engages every relevant persona and adds an
  incident summary; level 4 pauses for a person (``interrupt``) before anything else happens.
* personas can hand work over with ``Command(goto=…)`` only along their collaboration pattern.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Command, interrupt

from graphs.deps import GraphDeps
from graphs.escalation import Level
from graphs.persona import PersonaAgent, last_user_text, this_turn
from graphs.state import GraceState
from graphs.workflows.model import GRACE, PERSONAS

#: Pending kinds a yes carries out this turn: a persona's proposed action, Grace's playbook.
_CONFIRMS = ("action", "playbook")
#: Grace's own nodes triage can send a turn to.
_GRACE_NODES = ("human_review", "grace_reply", "start_playbook")


def build_graph(
    deps: GraphDeps, *, checkpointer: Any = None
) -> CompiledStateGraph[Any, Any, Any, Any]:
    """Compile the supervisor graph with one subgraph per persona.

    Args:
        deps: Shared collaborators (engine, registry, router, retriever, model).
        checkpointer: A LangGraph checkpointer (Postgres in production); None for tests that
            need no persistence.
    """
    sup = Supervisor(deps)
    g: StateGraph[Any] = StateGraph(GraceState)
    # Few supersteps per turn: each costs a checkpoint write. Triage goes straight to the first
    # persona, and the dispatcher merges the answers itself when the queue is done.
    g.add_node("triage", sup.triage, destinations=(*PERSONAS, *_GRACE_NODES))
    g.add_node("dispatch", sup.dispatch, destinations=(*PERSONAS, "human_review", END))
    for name in PERSONAS:
        g.add_node(name, PersonaAgent(name, deps).build())
        g.add_conditional_edges(name, after_persona, ["dispatch", END])
    g.add_node("human_review", sup.human_review)
    g.add_node("grace_reply", sup.grace_reply)
    g.add_node("start_playbook", sup.start_playbook)
    g.add_edge(START, "triage")
    g.add_edge("grace_reply", END)
    g.add_edge("start_playbook", END)
    g.add_edge("human_review", END)
    return g.compile(checkpointer=checkpointer, name=GRACE)


def after_persona(state: GraceState) -> str:
    """Where a persona's answer goes: straight to the end when it is the whole reply.

    A level-1 turn with nobody else queued needs no merging, so it skips the dispatcher's
    superstep (~1 ms of graph work per turn, ``grace bench chat``); the turn's reply is then
    the persona's last message (:func:`final_reply`).
    """
    if state.get("queue") or state.get("needs_person") or int(state.get("level", 1)) != 1:
        return "dispatch"
    return END


class Supervisor:
    """Grace's own nodes."""

    def __init__(self, deps: GraphDeps) -> None:
        self.deps = deps

    @staticmethod
    def new_turn(state: GraceState) -> dict[str, Any]:
        """Fields that start a turn: its number and cleared per-turn values."""
        return {
            "turn": int(state.get("turn", 0)) + 1,
            "level": int(Level.SINGLE),
            "reasons": [],
            "route": {},
            "actions": None,
            "refusals": None,
            "citations": None,
            "passages": None,
            "contributions": None,
            "steps": 0,
            "reply": "",
            "resolution": None,
            "queue": [],
            "needs_person": False,
        }

    async def triage(self, state: GraceState) -> Command[Any]:
        """Triage the message (persona, level, risk, act) and send the turn on its way."""
        from graphs.triage.adapter import as_triage
        from graphs.triage.offers import live_pending

        text = last_user_text(state.get("messages", []))
        requested = state.get("requested_persona")
        pending = live_pending(state)
        view = {"current_persona": state.get("current_persona"), "pending": pending}
        d = as_triage(self.deps.router).triage(text, view)
        decision: dict[str, Any] = {
            "persona": requested or d.handler or d.persona,
            "triage_persona": d.persona,
            "confidence": 1.0 if requested else d.confidence,
            "secondary": [] if requested else list(d.secondary),
            "multi_intent": False if requested else d.multi_intent,
            "sticky": d.sticky,
            "act": d.act,
            "risk": d.risk,
            "risk_probability": d.risk_probability,
            "reason": "requested by the user" if requested else d.reason,
            "scores": dict(d.scores),
            # A greeting is Grace's unless the user asked for a persona ("--persona liora").
            "greeting": d.greeting and not requested,
        }
        level, reasons = int(d.level), list(d.reasons)
        if requested and level == Level.COORDINATED and d.multi_intent:
            level, reasons = int(Level.SINGLE), [r for r in reasons if "multi_intent" not in r]
        resolved = d.resolves is not None or d.closing or decision["greeting"]
        if not requested and not resolved:
            decision = await self._consult_llm(text, decision, d.confidence, d.multi_intent)
        if decision.pop("escalate_to_human", False) and level < Level.HUMAN:
            # The LLM may raise a level, never lower one: a risk-triggered 4 always stands.
            level = int(Level.HUMAN)
            reasons.append(f"needs_human_judgement: {decision['reason']}")
        primary = str(decision["persona"])
        queue = [primary]
        if level == Level.COORDINATED:
            extra = list(decision["secondary"]) or (["sage"] if primary != "sage" else ["solari"])
            queue += [p for p in extra if p not in queue]
        elif level == Level.NETWORK:
            ranked = sorted(decision.get("scores", {}).items(), key=lambda kv: -kv[1])
            queue += [p for p, _ in ranked if p in PERSONAS and p not in queue][:3]
            queue += [p for p in decision["secondary"] if p not in queue]
        confirmed = pending if d.resolves == "accept" and pending else None
        update = {
            **self.new_turn(state),
            "route": decision,
            "level": level,
            "reasons": reasons,
            "queue": queue,
            # A greeting routes no persona: the thread's persona (if any) stays current.
            "current_persona": state.get("current_persona") if decision["greeting"] else primary,
            "act": d.act,
            "pending": None,  # answered now, or expired: an offer lives one turn
            "confirmed": confirmed if confirmed and confirmed.get("kind") in _CONFIRMS else None,
        }
        if level == Level.HUMAN:
            return Command(goto="human_review", update=update)
        if confirmed and confirmed.get("kind") == "playbook":  # Grace's own offer (staff)
            return Command(goto="start_playbook", update={**update, "queue": []})
        if d.closing or decision["greeting"] or d.resolves == "decline":
            return Command(goto="grace_reply", update={**update, "queue": []})
        return Command(goto=queue[0], update={**update, "queue": queue[1:]})

    async def _consult_llm(
        self, text: str, decision: dict[str, Any], confidence: float, multi: bool
    ) -> dict[str, Any]:
        """With an LLM configured, low-confidence or multi-intent turns go to its router."""
        threshold = self.deps.settings.router_confidence_threshold
        if self.deps.model is None or (confidence >= threshold and not multi):
            return decision
        from agents.llm.errors import LLMError
        from agents.llm.structured import route_with_llm

        try:
            choice = await route_with_llm(
                self.deps.model,
                text,
                self._personas_summary(),
                business_name=self.deps.settings.business_name,
            )
        except LLMError as exc:  # the local decision stands; say why
            return {**decision, "reason": f"{decision['reason']} (LLM router unavailable: {exc})"}
        return {
            **decision,
            "persona": choice.persona,
            "secondary": list(choice.secondary),
            "multi_intent": bool(choice.secondary),
            "reason": f"llm router: {choice.reason}",
            "escalate_to_human": choice.escalate_to_human,
        }

    async def grace_reply(self, state: GraceState) -> dict[str, Any]:
        """Grace answers herself: a greeting, a polite close, or a declined offer acknowledged."""
        route = state.get("route") or {}
        if route.get("greeting"):
            reply = self._greeting()
        elif route.get("act") == "closing":
            reply = "You're welcome. Glad we could help; just write again whenever you need us."
        else:
            reply = "No problem, I've left it as it is. Is there anything else I can help with?"
        return {"reply": reply, "messages": [AIMessage(reply, name=GRACE)]}

    async def start_playbook(self, state: GraceState, config: RunnableConfig) -> dict[str, Any]:
        """The user said yes to Grace's playbook offer: start it (staff only), say the run id.

        See :mod:`graphs.playbooks.offers`; the run is requested by ``chat:<thread>:<turn>``.
        """
        offer = state.get("confirmed") or {}
        if state.get("audience") != "staff":
            reply = "Only staff can start a playbook; nothing was started."
        elif self.deps.playbooks is None:
            reply = "Playbooks are not available here; nothing was started."
        else:
            thread_id = str((config.get("configurable") or {}).get("thread_id", ""))
            reply = await self.deps.playbooks.start(
                offer, thread_id=thread_id, turn=int(state.get("turn", 0))
            )
        return {"reply": reply, "messages": [AIMessage(reply, name=GRACE)]}

    def _greeting(self) -> str:
        """Grace's answer to a bare greeting: hello, and one line per persona on what it does."""
        team = "\n".join(
            f"- {p.name.title()}: {p.role}" for p in self.deps.registry.personas if p.name != GRACE
        )
        business = self.deps.settings.business_name
        return (
            f"Hello, I'm Grace, {business}'s assistant. Here is who can help with what:\n"
            f"{team}\nWhat can we do for you today?"
        )

    def _personas_summary(self) -> str:
        return "\n".join(
            f"- {p.name}: {p.role}. Handles: {', '.join(p.scope[:4])}"
            for p in self.deps.registry.personas
        )

    async def dispatch(self, state: GraceState) -> Command[Any]:
        """Keep the answer of the persona that just finished; run the next one, or merge."""
        update: dict[str, Any] = {}
        done = {c["persona"] for c in state.get("contributions") or []}
        for m in reversed(this_turn(state.get("messages", []))):
            if isinstance(m, AIMessage) and m.name in PERSONAS and not m.tool_calls:
                if m.name not in done:
                    update["contributions"] = [{"persona": m.name, "text": str(m.content)}]
                    update["current_persona"] = m.name
                break
        if state.get("needs_person"):
            return Command(goto="human_review", update=update)
        queue = list(state.get("queue") or [])
        if not queue or int(state.get("steps", 0)) > self.deps.step_budget:
            contributions = [*(state.get("contributions") or []), *update.get("contributions", [])]
            merged = self.merge({**state, "contributions": contributions})
            return Command(goto=END, update={**update, **merged, "queue": []})
        return Command(goto=queue[0], update={**update, "queue": queue[1:]})

    def merge(self, state: GraceState) -> dict[str, Any]:
        """Grace's reply: the persona's answer (level 1) or a merged one (levels 2-3).

        ``state`` must already hold the last persona's contribution (the dispatcher passes
        its own update merged in).
        """
        contributions = list(state.get("contributions") or [])
        level = int(state.get("level", 1))
        if level != Level.NETWORK and len(contributions) <= 1:
            reply = contributions[-1]["text"] if contributions else ""
            return {"reply": reply}
        names = {p.name: p.display_name for p in self.deps.registry.personas}
        parts = [f"**{names.get(c['persona'], c['persona'])}:** {c['text']}" for c in contributions]
        header = "Several of us looked at this together."
        if level == Level.NETWORK:
            header = self._incident_summary(state)
        reply = "\n\n".join([header, *parts])
        return {"reply": reply, "messages": [AIMessage(reply, name=GRACE)]}

    def _incident_summary(self, state: GraceState) -> str:
        actions = state.get("actions") or []
        reasons = "; ".join(state.get("reasons") or []) or "high impact"
        engaged = ", ".join(c["persona"] for c in state.get("contributions") or [])
        done = "; ".join(f"{a['event']} on {a['workflow_id']}" for a in actions) or "none yet"
        return (
            "**Incident summary (full network response).** "
            f"Why: {reasons}. Engaged: {engaged}. Actions taken: {done}. "
            "Staff have been alerted and will follow up."
        )

    async def human_review(self, state: GraceState) -> dict[str, Any]:
        """Level 4 before any persona acts: pause until a person answers."""
        text = last_user_text(state.get("messages", []))
        route = state.get("route") or {}
        request = {
            "kind": "handoff",
            "persona": route.get("persona"),
            "reasons": list(state.get("reasons") or []),
            "summary": f"The client needs a person: {text[:300]}",
        }
        decision = dict(interrupt(request))
        by = decision.get("by") or "staff"
        note = decision.get("note") or (
            "A member of our team has your request and will contact you shortly."
        )
        reply = f"{note}\n\n— {by}, {self.deps.settings.business_name} team"
        return {
            "reply": reply,
            "resolution": {"kind": "handoff", **decision},
            "messages": [AIMessage(reply, name=GRACE)],
        }


def final_reply(messages: Sequence[BaseMessage]) -> tuple[str, str | None]:
    """The turn's reply text and who said it (last AI message without tool calls)."""
    for m in reversed(this_turn(messages)):
        if isinstance(m, AIMessage) and not m.tool_calls and m.content:
            return str(m.content), m.name
    return "", None
