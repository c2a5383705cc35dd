"""Tool planning without a language model (the offline default).

With no provider configured, a persona still acts: it matches the message against the
transitions it may take *now* on this conversation's workflow instances (words of the event
name vs. words of the message, Porter2-stemmed, with a few synonyms), opens an instance when
the message asks for a
new one, and asks a person for ``human``-owned steps. It is a transparent heuristic — replies
say they were assembled offline — and the same ownership checks apply as for a model.

A plan never fires on its own: the persona runs :func:`plan` only for a request, and
:func:`propose` turns its state changes into a pending action in the thread state ("Shall I
…?"); the steps run on the user's yes, with the idempotency keys recorded here.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from graphs.tools import ToolSpec
from graphs.workflows.engine import WorkflowEngine
from knowledge.terms import EVENT_STOPWORDS
from knowledge.terms import stem as stem_word

_WORD = re.compile(r"[a-z]+")
_SYNONYMS = {
    "book": "schedul",
    "booked": "schedul",
    "arrange": "schedul",
    "set": "schedul",
    "accept": "accept",
    "agree": "accept",
    "approve": "approv",
    "ok": "approv",
    "pay": "payment",
    "paid": "payment",
    "confirm": "confirm",
    "finish": "complet",
    "done": "complet",
    "finished": "complet",
    "over": "complet",
    "reserve": "reserv",
    "hold": "reserv",
    "ship": "ship",
    "sent": "sent",
    "send": "sent",
    "buy": "purchas",
    "bought": "purchas",
    "decline": "declin",
    "refuse": "declin",
    "cancel": "declin",
}
_SUBJECT_ID = re.compile(r"\b([A-Z]{1,5}-\d{1,6})\b")


def stem(word: str) -> str:
    """Stem of one word for event matching: a synonym's canonical stem, else Porter2.

    The synonyms map everyday words onto the stems of event names ("book" and "booked" onto
    "schedul", as in ``consultation_scheduled``); every other word goes through the shared
    stemmer (:func:`knowledge.terms.stem`).
    """
    word = word.lower()
    return _SYNONYMS.get(word) or stem_word(word)


def stems(text: str) -> set[str]:
    """Content-word stems of ``text`` (:data:`knowledge.terms.EVENT_STOPWORDS` dropped)."""
    return {stem(w) for w in _WORD.findall(text.lower()) if w not in EVENT_STOPWORDS}


def event_match(event: str, message_stems: set[str]) -> float:
    """Share of the event's content words present in the message (0..1)."""
    words = stems(event.replace("_", " "))
    return len(words & message_stems) / len(words) if words else 0.0


@dataclass(frozen=True)
class PlannedCall:
    """A tool call the offline policy decided on."""

    name: str
    args: dict[str, Any]

    def as_tool_call(self) -> dict[str, Any]:
        """LangChain ``ToolCall`` dict with a fresh id."""
        return {"name": self.name, "args": self.args, "id": f"offline-{uuid.uuid4().hex[:12]}"}


def describe(call: PlannedCall) -> str:
    """A tool call in words (``open a well-book instance for B-1042``, ``take the step …``)."""
    if call.name.startswith("start__"):
        subject = str(call.args.get("subject") or "a new subject")
        return (
            f"open a {call.name.removeprefix('start__').replace('_', '-')} instance for {subject}"
        )
    event = call.name.split("__", 1)[-1]
    return f"take the step “{event.replace('_', ' ')}”"


def propose(
    persona: str,
    calls: list[PlannedCall],
    state: Mapping[str, Any],
    thread_id: str,
    instances: Mapping[str, str],
) -> dict[str, Any]:
    """The pending action that proposes ``calls`` (a :class:`graphs.state.Pending` dict).

    The idempotency keys follow :meth:`graphs.tool_exec.ToolExecutor.idempotency_key` for the
    proposing turn (``thread:turn:instance:event``; ``thread:turn:start:workflow`` for a new
    instance): a confirmed proposal runs under that turn, so a repeated yes replays it.
    """
    turn = int(state.get("turn", 1))
    keys: list[str] = []
    for call in calls:
        if call.name.startswith("start__"):
            keys.append(f"{thread_id}:{turn}:start:{call.name.removeprefix('start__')}")
        else:
            instance = call.args.get("instance_id") or next(
                iter(instances.values()), "new-instance"
            )
            keys.append(f"{thread_id}:{turn}:{instance}:{call.name.split('__', 1)[-1]}")
    steps = " and ".join(describe(c) for c in calls)
    return {
        "kind": "action",
        "persona": persona,
        "turn": turn,
        "calls": [{"name": c.name, "args": dict(c.args)} for c in calls],
        "idempotency_keys": keys,
        "summary": f"I can {steps}. Shall I go ahead? Reply “yes” to confirm or “no” to leave it.",
    }


async def plan(
    persona: str,
    message: str,
    specs: list[ToolSpec],
    instances: dict[str, str],
    engine: WorkflowEngine,
    *,
    threshold: float = 0.5,
) -> list[PlannedCall]:
    """Decide which tools ``persona`` calls for ``message`` (at most one state change).

    Args:
        persona: The acting persona.
        message: The user's message.
        specs: The persona's tools.
        instances: This conversation's workflow instances, ``{workflow_id: instance_id}``.
        engine: To read the instances' current states.
        threshold: Minimum :func:`event_match` score to act.
    """
    if persona == "atlas":
        return [PlannedCall("search_knowledge", {"query": message})]
    msg = stems(message)
    states: dict[str, str] = {}
    for wf_id, iid in instances.items():
        try:
            states[wf_id] = (await engine.get(iid)).state
        except Exception:  # a stale id in the thread: ignore it
            continue
    best: tuple[float, PlannedCall] | None = None
    for spec in specs:
        if spec.kind == "transition" and spec.transition and spec.workflow_id in states:
            score = event_match(spec.transition.event, msg)
            if score >= threshold and spec.transition.from_state != states[spec.workflow_id]:
                # Asked for a step that is not possible yet: try it anyway (ranked just below
                # the possible ones) so the engine's refusal tells the client why.
                score = max(threshold, score - 0.01)
            call = PlannedCall(spec.name, {"note": message[:200]})
        elif spec.kind == "approval":
            for step in spec.choices:
                wf_id, _, event = step.partition(":")
                if wf_id not in states:
                    continue
                wf = engine.catalog.get(wf_id)
                t = wf.transition(states[wf_id], event)
                if t is None:
                    continue
                score = event_match(event, msg)
                if score >= threshold and (best is None or score > best[0]):
                    best = (
                        score,
                        PlannedCall("request_approval", {"step": step, "reason": message[:200]}),
                    )
            continue
        else:
            continue
        if score >= threshold and (best is None or score > best[0]):
            best = (score, call)
    if best is not None:
        return [best[1]]
    return _maybe_start(persona, message, msg, specs, instances, engine)


def _maybe_start(
    persona: str,
    message: str,
    msg: set[str],
    specs: list[ToolSpec],
    instances: dict[str, str],
    engine: WorkflowEngine,
) -> list[PlannedCall]:
    """Open an instance when the message asks for something new this persona starts."""
    for spec in specs:
        if spec.kind != "start" or spec.workflow_id in instances:
            continue
        wf = engine.catalog.get(spec.workflow_id or "")
        first = [t for t in wf.owned_by(persona) if t.from_state == wf.initial_state]
        if not any(event_match(t.event, msg) >= 0.5 for t in first):
            continue
        found = _SUBJECT_ID.search(message)
        subject = found.group(1) if found else f"chat-{uuid.uuid4().hex[:8]}"
        calls = [PlannedCall(spec.name, {"subject": subject, "details": message[:200]})]
        # ...and take the first step right away when that is what was asked
        # (the executor remembers the new instance for the next call).
        for t in sorted(first, key=lambda t: -event_match(t.event, msg)):
            if event_match(t.event, msg) >= 0.5:
                name = f"{spec.name.removeprefix('start__')}__{t.event}"
                calls.append(PlannedCall(name, {"note": message[:200]}))
                break
        return calls
    return []
