"""The offline reply composer: grounded, cited, labelled, honest when it has nothing."""

from __future__ import annotations

import re

from agents.llm.offline import (
    OFFLINE_LABEL,
    compose_grounded_reply,
    content_terms,
    describe_transition,
)
from knowledge.retriever import Citation, Passage

DEPOSITS = """## Deposits and Payment

### Deposit Amounts

- **One-to-one sessions:** a deposit of 30% of the session price is taken at booking.
- **Retreats:** a deposit of 50% of the retreat price secures the place; the balance is due \
4 weeks before the retreat starts.

### Accepted Payment Methods

We accept major credit and debit cards, Apple Pay and Google Pay. Cash is accepted at the \
front desk for balances only, never for deposits."""

CANCELLATION = """We keep the cancellation rules simple: the earlier you tell us, the less it costs.

| When you cancel | What happens |
|---|---|
| More than 36 hours before | Deposit returned in full, or kept as credit |
| Less than 12 hours before | Late-cancellation fee of 75% of the session price |"""

GALLERY = "The gallery opens at ten every morning. Guided tours run on Saturdays at noon."


def passage(text: str, section: str | None, *, doc: str = "d1", chunk: int = 1) -> Passage:
    citation = Citation(
        document_id=doc,
        title="Booking Policy" if doc == "d1" else "Gallery Guide",
        section=section,
        source=f"handbook/{doc}.md",
        chunk_id=chunk,
        score=0.61,
    )
    return Passage(text, citation, similarity=0.61, fused_score=0.02, collection="handbook")


def compose(message: str, passages: list[Passage], **kw: object) -> str:
    return compose_grounded_reply(
        persona_display="Atlas",
        message=message,
        passages=passages,
        **kw,  # type: ignore[arg-type]
    )


def test_quotes_best_matching_sentences_with_numbered_sources() -> None:
    reply = compose(
        "How much is the deposit for a retreat, and is it returned if I cancel?",
        [passage(DEPOSITS, "Deposits and Payment"), passage(CANCELLATION, "Cancellation", chunk=2)],
    )
    lines = reply.splitlines()
    assert lines[0] == OFFLINE_LABEL and "offline mode" in lines[0]
    assert "Atlas here." in reply
    assert "Retreats: a deposit of 50% of the retreat price" in reply
    assert "Apple Pay" not in reply  # shares no word with the question
    # The answer leads, in prose, naming its section; what else matched follows as bullets.
    assert re.search(
        r"^Atlas here\. Deposits and Payment: .*Retreats: a deposit.* \[1\]$", reply, re.M
    )
    bullet = r"^- Cancellation: More than 36 hours before: Deposit returned in full.* \[2\]$"
    assert re.search(bullet, reply, re.M)
    assert "**" not in reply and "#" not in reply and "|" not in reply
    sources = reply.split("Sources:\n", 1)[1].splitlines()
    assert sources == [
        "[1] Booking Policy \u203a Deposits and Payment (handbook/d1.md)",
        "[2] Booking Policy \u203a Cancellation (handbook/d1.md)",
    ]
    assert reply.index("[1]") < reply.index("[2]") < reply.index("Sources:")


def test_heading_words_help_pick_the_sentence() -> None:
    reply = compose("Which payment methods are accepted?", [passage(DEPOSITS, "Deposits")])
    assert "We accept major credit and debit cards" in reply
    assert "Retreats:" not in reply


def test_top_passage_always_speaks_weaker_unrelated_ones_do_not() -> None:
    reply = compose(
        "Can I bring my dog?",
        [passage(GALLERY, None, doc="d2"), passage(CANCELLATION, "Cancellation", chunk=2)],
    )
    assert "Atlas here. Gallery Guide: The gallery opens at ten every morning. [1]" in reply
    assert "[2]" not in reply and "cancel" not in reply.lower()
    assert reply.endswith("Sources:\n[1] Gallery Guide (handbook/d2.md)")


def test_same_section_shares_a_number_and_sentences_are_not_repeated() -> None:
    first = passage(DEPOSITS, "Deposits and Payment", chunk=1)
    second = passage(DEPOSITS, "Deposits and Payment", chunk=2)
    reply = compose("deposit for retreats", [first, second])
    assert reply.count("Retreats: a deposit") == 1
    assert reply.split("Sources:\n", 1)[1].count("[") == 1


def test_dont_know_offers_a_person() -> None:
    reply = compose("What is the meaning of life?", [])
    assert reply.startswith(OFFLINE_LABEL)
    assert "I don't know" in reply and "rather not guess" in reply
    assert "hand this over to a member of our team?" in reply
    assert "Sources:" not in reply


def test_escalation_replaces_the_offer() -> None:
    reply = compose("I want a manager", [], escalation="a manager will call you today")
    assert "I don't know" not in reply and "hand this over" not in reply
    assert "passed this to a member of our team" in reply
    assert "a manager will call you today." in reply


def test_actions_and_refusals_are_rendered() -> None:
    done = describe_transition(
        workflow="wellness booking",
        event="quote_accepted",
        from_state="quote_sent",
        to_state="payment_pending",
        subject="booking B-12",
    )
    assert done == (
        'Recorded "quote accepted" for booking B-12 (wellness booking): '
        "quote sent → payment pending."
    )
    reply = compose_grounded_reply(
        persona_display="Solari",
        message="I accept the quote, and please waive the deposit",
        passages=[],
        actions=[done],
        refusals=["Waiving a deposit needs a member of staff"],
    )
    assert reply.startswith(OFFLINE_LABEL + "\n\nSolari here. What I did:\n- Recorded")
    assert "What I could not do:\n- Waiving a deposit needs a member of staff." in reply
    assert "I don't know" not in reply


def test_refusal_only_offers_a_hand_over() -> None:
    reply = compose("approve my refund", [], refusals=["Refund approvals are made by staff."])
    assert "What I could not do:\n- Refund approvals are made by staff." in reply
    assert reply.endswith("Would you like me to hand this over to a member of our team?")


def test_passages_actions_and_escalation_together_in_order() -> None:
    reply = compose(
        "retreat deposit",
        [passage(DEPOSITS, "Deposits")],
        actions=["Opened a refund case"],
        refusals=["The refund itself needs approval"],
        escalation="",
    )
    order = ["Atlas here. Deposits:", "What I did", "What I could not do", "follow up.", "Sources:"]
    positions = [reply.index(marker) for marker in order]
    assert positions == sorted(positions)


def test_long_sentences_are_clipped_and_output_is_deterministic() -> None:
    long = "Retreat deposits " + " ".join(f"word{i}" for i in range(120)) + "."
    passages = [passage(long, "Long")]
    reply = compose("retreat deposits", passages)
    lead = next(line for line in reply.splitlines() if line.startswith("Atlas here."))
    quote = lead.removeprefix("Atlas here. Long: ").removesuffix(" [1]")
    assert quote.endswith("…") and len(quote) < 340
    assert compose("retreat deposits", passages) == reply


def test_content_terms_stems_and_drops_stopwords() -> None:
    assert content_terms("What are the bookings I booked?") == {"book"}
    assert content_terms("prices") == content_terms("price")
    assert content_terms("classes, policies") == content_terms("class policy")
    assert content_terms("How do I do it?") == set()


TRANSITIONS = """### Transitions

```json
[
  {"from_state": "inquiry", "to_state": "consultation", "event": "consultation_scheduled"},
  {"from_state": "consultation", "to_state": "quote_sent", "event": "quote_prepared"}
]
```"""


def test_json_blocks_are_quoted_as_readable_statements_never_raw() -> None:
    p = Passage(
        TRANSITIONS,
        Citation("d9", "Workflows", "Transitions", "seeds/wf.md", 4, 0.6),
        similarity=0.6,
        fused_score=0.02,
        collection="c",
        heading_path=("Workflows", "WF-WELL-BOOK", "Transitions"),
    )
    reply = compose("which event moves a booking from inquiry to consultation?", [p])
    claims = reply.split("Sources:")[0]
    assert "{" not in claims and '"from_state"' not in claims and "```" not in claims
    assert "consultation_scheduled" in claims and "from inquiry to consultation" in claims


def test_the_answering_sentence_leads_even_from_a_lower_ranked_passage() -> None:
    gallery = passage(GALLERY, "Opening Hours", doc="d2", chunk=7)
    reply = compose("When is the deposit for retreats due?", [gallery, passage(DEPOSITS, None)])
    lead = next(line for line in reply.splitlines() if line.startswith("Atlas here."))
    assert "retreat" in lead and lead.endswith("[1]")
    assert "[1] Booking Policy" in reply
    # The higher-ranked passage shares no word with the question: it is not quoted at all.
    assert "Gallery Guide" not in reply and "[2]" not in reply


def test_a_chunk_from_the_middle_of_a_json_array_is_quoted_as_statements() -> None:
    fragment = (
        '{\n  "from_state": "payment_pending",\n  "to_state": "canceled",\n'
        '  "event": "payment_timeout"\n},\n{\n  "from_state": "payment_pending",\n'
        '  "to_state": "payment_confirmed",\n  "event": "payment_received"\n}'
    )
    p = Passage(
        fragment,
        Citation("d9", "Workflows", "Transitions", "seeds/wf.md", 5, 0.6),
        similarity=0.6,
        fused_score=0.02,
        collection="c",
        heading_path=("Workflows", "WF-WELL-BOOK", "Transitions"),
    )
    claims = compose("what happens when the payment times out?", [p]).split("Sources:")[0]
    assert "{" not in claims and "payment_timeout" in claims and "to canceled" in claims


def test_a_similarity_picks_the_answer_that_shares_no_word_with_the_question() -> None:
    """Client wording rarely matches the handbook's: the embedder's similarity decides."""
    commission = "Sales are split 60% to the artist and 40% to the gallery."
    intro = "The artist keeps ownership of each work until it is sold at the gallery."
    p = passage(f"{intro} {commission}", "Consignment")

    def similarity(sentences: object) -> list[float]:
        return [0.9 if "60%" in s else 0.2 for s in sentences]  # type: ignore[attr-defined]

    semantic = compose(
        "What cut does the artist keep when the gallery sells?", [p], similarity=similarity
    )
    lead = semantic.split("\n\n")[1]
    assert lead.startswith("Atlas here. Consignment: Sales are split 60%") and intro not in lead


def test_same_section_name_under_two_workflows_gets_two_sources() -> None:
    def under(workflow: str, text: str, chunk: int) -> Passage:
        p = passage(text, "Agent Responsibilities", chunk=chunk)
        path = ("Booking Policy", workflow, "Agent Responsibilities")
        return Passage(p.text, p.citation, 0.6, 0.6, p.collection, heading_path=path)

    reply = compose(
        "Which agent handles lead capture?",
        [
            under("Retention Workflow", "Lead Capture Agent (Nyra): monitors new clients.", 1),
            under("Consulting Workflow", "Lead Capture Agent (Nyra): manages qualification.", 2),
        ],
    )
    assert "Retention Workflow › Agent Responsibilities: Lead Capture" in reply
    assert "- Consulting Workflow › Agent Responsibilities: Lead Capture Agent" in reply
    sources = reply.split("Sources:\n", 1)[1].splitlines()
    assert [line[:4] for line in sources] == ["[1] ", "[2] "]
    assert "Consulting Workflow" in sources[1] and reply.count("[2]") == 2
