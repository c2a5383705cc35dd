from graphs.offline_policy import event_match, stem, stems
from graphs.tools import build_tools, workflow_slug
from graphs.workflows.catalog import default_catalog


def test_stems_and_event_match() -> None:
    assert stem("consultation") == stem("consultations") == "consult"
    assert stem("book") == stem("scheduled")
    msg = stems("I'd like to book a consultation")
    assert event_match("consultation_scheduled", msg) == 1.0
    assert event_match("payment_received", msg) == 0.0


def test_tools_are_generated_from_owned_transitions_only() -> None:
    catalog = default_catalog()
    for persona in ("nyra", "solari", "ruvo", "liora", "sage", "elan", "zevi", "atlas"):
        tools = build_tools(persona, catalog, handoffs=("grace",))
        owned = {f"{workflow_slug(wf.id)}__{t.event}" for wf, t in catalog.owned_by(persona)}
        transition_tools = {t.name for t in tools if t.kind == "transition"}
        assert transition_tools == owned
        assert len({t.name for t in tools}) == len(tools)
        approval = [t for t in tools if t.kind == "approval"]
        for step in approval[0].choices if approval else ():
            wf_id, _, event = step.partition(":")
            assert any(
                t.event == event and t.owner == "human" for t in catalog.get(wf_id).transitions
            )
    nyra = {t.name for t in build_tools("nyra", catalog)}
    assert "well_book__consultation_completed" not in nyra  # Solari's step
    assert "start__well_book" in nyra and "search_knowledge" not in nyra
    assert "search_knowledge" in {t.name for t in build_tools("atlas", catalog)}


def test_every_synonym_lands_on_a_stem_that_event_names_produce() -> None:
    from graphs.offline_policy import _SYNONYMS
    from knowledge.terms import stem as porter2

    event_stems = {
        porter2(w) for wf in default_catalog() for t in wf.transitions for w in t.event.split("_")
    }
    assert set(_SYNONYMS.values()) - event_stems == set()
    assert porter2("bookings") == porter2("booked") == porter2("booking") == "book"
