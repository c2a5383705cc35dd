import re
from pathlib import Path

import pytest

from graphs.workflows.catalog import default_catalog
from knowledge.lifecycle import SERVABLE_STATES, LifecycleError, actor_for, path_to_embedding

KB = default_catalog().get("WF-KB-DEV")


def test_new_document_path_passes_every_approval() -> None:
    path = path_to_embedding(KB, "topic_identification")
    assert [t.event for t in path] == [
        "topic_approved",
        "plan_finalized",
        "research_complete",
        "draft_completed",
        "expert_approved",
        "content_approved",
        "content_published",
        "categorization_complete",
    ]
    assert [actor_for(t, "ana") for t in path][:3] == ["human:ana", "elan", "atlas"]


def test_changed_active_document_goes_back_through_review() -> None:
    events = [t.event for t in path_to_embedding(KB, "active")]
    assert events[:3] == ["review_time_reached", "updates_required", "update_initiated"]
    assert events[-1] == "categorization_complete"
    assert "content_deprecated" not in events


def test_archived_document_has_no_path() -> None:
    with pytest.raises(LifecycleError):
        path_to_embedding(KB, "archived")
    assert path_to_embedding(KB, "embedding_creation") == []


def test_servable_states_are_workflow_states_and_match_the_database_trigger() -> None:
    assert set(SERVABLE_STATES) <= set(KB.states)
    migration = Path(__file__).resolve().parents[2] / "graphs/core/migrations/versions"
    sql = (migration / "0002_knowledge.py").read_text(encoding="utf-8")
    in_trigger = set(re.findall(r"NEW\.state IN \(([^)]*)\)", sql))
    assert in_trigger, "the servable trigger was not found in migration 0002"
    for states in in_trigger:
        assert sorted(s.strip(" '") for s in states.split(",")) == sorted(SERVABLE_STATES)
