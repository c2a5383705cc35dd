from __future__ import annotations

import pytest
from pydantic import ValidationError

from graphs.core import migrate
from graphs.workflows.catalog import WorkflowCatalog, default_catalog
from graphs.workflows.diagram import mermaid
from graphs.workflows.errors import UnknownWorkflowError
from graphs.workflows.model import Actor, Workflow
from graphs.workflows.records import Subject


def _wf(**over: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": "WF-TEST",
        "name": "t",
        "domain": "d",
        "subject": "thing",
        "description": "x",
        "initial_state": "a",
        "states": ["a", "b"],
        "transitions": [{"event": "go", "from": "a", "to": "b", "owner": "nyra"}],
    }
    base.update(over)
    return base


@pytest.mark.parametrize(
    ("text", "role", "name", "kind"),
    [
        ("nyra", "nyra", None, "persona"),
        ("Solari", "solari", None, "persona"),
        ("system", "system", None, "system"),
        ("human", "human", None, "human"),
        ("human:maria", "human", "maria", "human"),
    ],
)
def test_actor_parse(text: str, role: str, name: str | None, kind: str) -> None:
    actor = Actor.parse(text)
    assert (actor.role, actor.name, actor.kind) == (role, name, kind)


@pytest.mark.parametrize("text", ["grace", "bob", "nyra:x", "human:", ""])
def test_actor_parse_rejects(text: str) -> None:
    with pytest.raises(ValueError):
        Actor.parse(text)


def test_workflow_rejects_unknown_state() -> None:
    bad = _wf(transitions=[{"event": "go", "from": "a", "to": "zzz", "owner": "nyra"}])
    with pytest.raises(ValidationError, match="unknown state"):
        Workflow.model_validate(bad)


def test_workflow_rejects_duplicate_from_event() -> None:
    t = {"event": "go", "from": "a", "to": "b", "owner": "nyra"}
    with pytest.raises(ValidationError, match="duplicate transition"):
        Workflow.model_validate(_wf(transitions=[t, t]))


def test_workflow_rejects_bad_owner_and_initial() -> None:
    with pytest.raises(ValidationError):
        Workflow.model_validate(
            _wf(transitions=[{"event": "go", "from": "a", "to": "b", "owner": "grace"}])
        )
    with pytest.raises(ValidationError, match="initial state"):
        Workflow.model_validate(_wf(initial_state="nope"))


def test_catalog_lookup_and_queries() -> None:
    catalog = default_catalog()
    assert len(catalog) == 14
    wf = catalog.get("wf-well-book")
    assert wf.id == "WF-WELL-BOOK"
    assert wf.terminal_states == {"completed", "canceled"}
    assert [t.event for t in wf.outgoing("quote_provided")] == [
        "client_accepted_quote",
        "client_declined_quote",
    ]
    assert all(t.owner == "atlas" for _, t in catalog.owned_by("atlas"))
    with pytest.raises(UnknownWorkflowError, match="WF-NOPE"):
        catalog.get("WF-NOPE")


def test_catalog_rejects_duplicate_ids() -> None:
    wf = Workflow.model_validate(_wf())
    with pytest.raises(ValueError, match="duplicate"):
        WorkflowCatalog([wf, wf])


def test_subject_parse() -> None:
    assert Subject.parse("booking:B-1", "x") == Subject("booking", "B-1")
    assert Subject.parse("B-1", "booking") == Subject("booking", "B-1")
    with pytest.raises(ValueError):
        Subject.parse(":x", "booking")


def test_mermaid_has_every_transition() -> None:
    wf = default_catalog().get("WF-KB-DEV")
    text = mermaid(wf, current="active")
    assert text.startswith("stateDiagram-v2")
    for t in wf.transitions:
        assert f"{t.from_state} --> {t.to_state}: {t.event} ({t.owner})" in text
    assert "archived --> [*]" in text
    assert "class active current" in text


def test_schema_head_constant_matches_alembic() -> None:
    assert migrate.alembic_head() == migrate.SCHEMA_HEAD


def test_requested_by_defaults_to_staff_and_client_is_explicit() -> None:
    wf = Workflow.model_validate(
        _wf(
            states=["a", "b", "c"],
            transitions=[
                {"event": "go", "from": "a", "to": "b", "owner": "nyra"},
                {"event": "ask", "from": "b", "to": "c", "owner": "nyra", "requested_by": "client"},
            ],
        )
    )
    go, ask = wf.transitions
    assert go.requested_by == "staff" and ask.requested_by == "client"
    assert not go.requestable_by("client") and go.requestable_by("staff")
    assert ask.requestable_by("client") and ask.requestable_by("staff")
    assert not wf.client_may_start()


def test_transition_rejects_unknown_keys_and_requesters() -> None:
    for extra in ({"requsted_by": "client"}, {"requested_by": "anyone"}):
        t = {"event": "go", "from": "a", "to": "b", "owner": "nyra", **extra}
        with pytest.raises(ValidationError):
            Workflow.model_validate(_wf(transitions=[t]))


def test_owner_deviations_must_name_real_steps_once() -> None:
    reason = "a reason long enough to be a reason"
    wf = Workflow.model_validate(_wf(owner_deviations=[{"steps": ["a/go"], "reason": reason}]))
    assert wf.deviation(wf.transitions[0]) == reason
    with pytest.raises(ValidationError, match="unknown step"):
        Workflow.model_validate(_wf(owner_deviations=[{"steps": ["b/go"], "reason": reason}]))
    twice = [{"steps": ["a/go"], "reason": reason}] * 2
    with pytest.raises(ValidationError, match="two owner deviations"):
        Workflow.model_validate(_wf(owner_deviations=twice))


def test_shipped_client_steps_are_the_few_a_client_takes_part_in() -> None:
    catalog = default_catalog()
    client = {
        (wf.id, t.event) for wf in catalog for t in wf.transitions if t.requested_by == "client"
    }
    assert ("WF-WELL-BOOK", "consultation_scheduled") in client
    assert ("WF-INV-MGT", "client_reserved") in client
    for staff_only in (
        ("WF-MKTG-CAMP", "campaign_launched"),
        ("WF-INV-MGT", "item_restored"),
        ("WF-INV-MGT", "listing_published"),
        ("WF-WELL-BOOK", "payment_received"),
        ("WF-INV-MGT", "direct_purchase"),
    ):
        assert staff_only not in client
    assert {wf.id for wf in catalog if wf.client_may_start()} == {
        "WF-WELL-BOOK",
        "WF-CONSULT",
        "WF-CLIENT-RET",
    }
