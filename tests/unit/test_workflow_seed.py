"""The workflow data must match the seed one-to-one, with exactly one valid owner each."""

from __future__ import annotations

import json
import re
from collections import Counter

from graphs.workflows.catalog import default_catalog
from graphs.workflows.model import HUMAN, OWNERS, PERSONAS, SYSTEM
from tests.conftest import SEEDS_DIR

SEED = SEEDS_DIR / "operational-workflows.md"


def _seed_workflows() -> dict[str, dict[str, object]]:
    # CI always has shared/ beside the repo: a missing seed is a failure, never a skip.
    assert SEED.exists(), f"seed file not found at {SEED} (shared/ must sit beside the repo)"
    text = SEED.read_text(encoding="utf-8")
    out: dict[str, dict[str, object]] = {}
    for section in re.split(r"\n## ", text):
        m = re.search(r"\*\*Workflow ID\*\*: (\S+)", section)
        if not m:
            continue
        head = section.split("### Transitions")[0]
        states = re.findall(r"^- `([a-z_]+)`:", head, re.M)
        blocks = re.findall(r"```json\n(.*?)```", section, re.S)
        assert len(blocks) == 1, m.group(1)
        out[m.group(1)] = {"states": states, "transitions": json.loads(blocks[0])}
    return out


def test_same_fourteen_workflows() -> None:
    seed = _seed_workflows()
    assert len(seed) == 14
    assert sorted(seed) == sorted(wf.id for wf in default_catalog())


def test_transitions_match_seed_one_to_one() -> None:
    seed = _seed_workflows()
    total = 0
    for wf in default_catalog():
        expected = Counter(
            (t["from_state"], t["event"], t["to_state"])
            for t in seed[wf.id]["transitions"]  # type: ignore[attr-defined]
        )
        ours = Counter((t.from_state, t.event, t.to_state) for t in wf.transitions)
        assert ours == expected, wf.id
        total += len(wf.transitions)
    assert total == 194


def test_states_match_seed_and_initial_is_first() -> None:
    seed = _seed_workflows()
    for wf in default_catalog():
        assert list(wf.states) == seed[wf.id]["states"], wf.id
        assert wf.initial_state == wf.states[0]


def test_every_transition_has_one_valid_owner() -> None:
    for wf in default_catalog():
        for t in wf.transitions:
            assert isinstance(t.owner, str)
            assert t.owner in OWNERS, (wf.id, t.event, t.owner)


def test_owner_mapping_follows_design() -> None:
    catalog = default_catalog()
    # Base Agent Class = system: the two infrastructure workflows are entirely the runtime's.
    for wf_id in ("WF-AGT-COMM", "WF-DB-SYNC"):
        assert {t.owner for t in catalog.get(wf_id).transitions} == {SYSTEM}
    # Client, expert and staff approvals belong to a person (internal_approval is the
    # marketing persona's brand review, the one approval an agent performs).
    for wf in catalog:
        for t in wf.transitions:
            if "approv" in t.event and t.event != "internal_approval":
                assert t.owner == HUMAN, (wf.id, t.event)
    kb = catalog.get("WF-KB-DEV")
    assert kb.transition("embedding_creation", "embeddings_created").owner == "atlas"  # type: ignore[union-attr]
    # Booking is Solari's workflow; the inquiry step is lead capture (Nyra).
    book = catalog.get("WF-WELL-BOOK")
    assert book.transition("inquiry", "consultation_scheduled").owner == "nyra"  # type: ignore[union-attr]
    assert Counter(t.owner for t in book.transitions).most_common(1)[0][0] == "solari"
    # Every persona owns at least one transition somewhere, so each gets tools.
    owners = {t.owner for wf in catalog for t in wf.transitions}
    assert set(PERSONAS) <= owners
