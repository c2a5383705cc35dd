"""How ingested documents move through the knowledge-base workflow (WF-KB-DEV).

Ingestion walks a document to ``embedding_creation`` along the shortest path in the workflow
data, each step fired by its owner: persona-owned steps by the ingestion job acting for that
persona (Elan drafts, publishes and categorises, Atlas researches and embeds, Ruvo schedules
reviews) and ``human``-owned approvals by the operator who ran the ingest — an operator's ingest
counts as the human approval. The final ``embeddings_created`` (Atlas) is applied in the same
transaction that writes the chunks, so a document becomes servable exactly when its chunks exist.
"""

from __future__ import annotations

from collections import deque

from graphs.workflows.model import HUMAN, Transition, Workflow

KB_WORKFLOW = "WF-KB-DEV"
#: The state in which chunks are written; its outgoing ``embeddings_created`` makes them live.
EMBEDDING_STATE = "embedding_creation"
EMBEDDED_EVENT = "embeddings_created"
ARCHIVE_EVENT = "content_deprecated"
#: States whose documents' chunks are served (searched, cited). The one list in code; the
#: database keeps ``kb_chunks.servable`` in step with it through the trigger of migration 0002
#: (tests/unit/test_kb_lifecycle.py checks the two agree).
SERVABLE_STATES: tuple[str, ...] = ("active", "review_scheduled")
#: The final state of a retired document; only an explicit reactivation leaves it.
ARCHIVED_STATE = "archived"
#: Why an ingest left an archived document alone (reported on the job for its file).
ARCHIVED_REFUSAL = (
    "document is archived; reactivating it is a staff decision"
    ' (grace ingest --reactivate, or "reactivate": true in POST /v1/knowledge/ingest)'
)
#: Events an ingest never takes on its own: sending work back or retiring it is a person's call.
_AVOID = frozenset({"changes_requested", ARCHIVE_EVENT})


class LifecycleError(RuntimeError):
    """The document's workflow state has no path to publication (e.g. it is archived)."""


def path_to_embedding(workflow: Workflow, from_state: str) -> list[Transition]:
    """Shortest list of transitions from ``from_state`` to :data:`EMBEDDING_STATE`.

    Breadth-first search over the workflow data (so a change to the data changes the path).

    Raises:
        LifecycleError: no such path (e.g. ``archived`` is final).
    """
    if from_state == EMBEDDING_STATE:
        return []
    parents: dict[str, Transition] = {}
    queue = deque([from_state])
    seen = {from_state}
    while queue:
        state = queue.popleft()
        for t in workflow.outgoing(state):
            if t.event in _AVOID or t.to_state in seen:
                continue
            parents[t.to_state] = t
            if t.to_state == EMBEDDING_STATE:
                path = [t]
                while path[0].from_state != from_state:
                    path.insert(0, parents[path[0].from_state])
                return path
            seen.add(t.to_state)
            queue.append(t.to_state)
    raise LifecycleError(f"{workflow.id}: no path from {from_state!r} to {EMBEDDING_STATE!r}")


def actor_for(transition: Transition, operator: str) -> str:
    """The actor an ingest uses for ``transition``: the owner, or ``human:<operator>``."""
    return f"{HUMAN}:{operator}" if transition.owner == HUMAN else transition.owner
