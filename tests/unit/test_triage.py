"""The triage package: clause splitting, phrase rules, offers, levels and the decision logic.

The decision logic runs on scripted probabilities (no encoder); one test fits the real
classifiers on a slice of the train split with a hashing embedder to check the fitting path.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from agents.testing import HashingEmbedder, ScriptedTriageModels
from graphs.escalation import Level
from graphs.triage.clauses import split_clauses, split_sentences
from graphs.triage.decide import Triage
from graphs.triage.levels import RISK_THRESHOLD, derive_level
from graphs.triage.model import Probabilities
from graphs.triage.offers import live_pending, pending_from_reply
from graphs.triage.rules import answer_to_offer, is_greeting, reply_act, risk_rule
from graphs.triage.schema import (
    ACTS,
    PERSONA_LABELS,
    RISKS,
    load_examples,
    packaged_train_path,
)

ROOT = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------- clauses
def test_abbreviations_do_not_end_a_sentence() -> None:
    # The old router split "Dr." into a new clause (issue 13: a context sentence became an intent).
    assert split_sentences("I saw Dr. Lee on Monday. Can I book her again?") == [
        "I saw Dr. Lee on Monday.",
        "Can I book her again?",
    ]
    assert split_clauses("Update the bio for Dr. Kaur, e.g. her new title.") == [
        "Update the bio for Dr. Kaur, e.g. her new title."
    ]


def test_requests_listed_in_one_sentence_are_split() -> None:
    assert split_clauses("Book me a massage on Friday, and can you also send the invoice") == [
        "Book me a massage on Friday",
        "can you also send the invoice",
    ]
    assert split_clauses("Draft the newsletter; then post the photos to the forum") == [
        "Draft the newsletter",
        "then post the photos to the forum",
    ]


def test_short_pieces_join_their_neighbour() -> None:
    assert split_clauses("Thanks! Please move my Thursday class to Friday.") == [
        "Thanks! Please move my Thursday class to Friday."
    ]
    assert split_clauses("   ") == []


# ---------------------------------------------------------------- rules
@pytest.mark.parametrize(
    ("message", "act"),
    [
        ("yes please", "confirmation"),
        ("Sure, go ahead!", "confirmation"),
        ("no thanks", "refusal"),
        ("Not now, thanks.", "refusal"),
        ("thanks, that's all", "closing"),
        ("That's everything for today, bye", "closing"),
        ("Yes, and add the touch-ups too", None),
        ("Thanks, can you also book Friday?", None),
    ],
)
def test_reply_act(message: str, act: str | None) -> None:
    assert reply_act(message) == act


def test_answer_to_an_offer_reads_the_first_word() -> None:
    assert answer_to_offer("Yes, please hand this over to a person.") == "confirmation"
    assert answer_to_offer("No, I'll tell them myself") == "refusal"
    assert answer_to_offer("No problem, thanks") is None
    assert answer_to_offer("Could you make it shorter?") is None
    # a no that ends the conversation closes it (the offer lapses)
    assert answer_to_offer("No, that's all, have a good day.") == "closing"
    assert answer_to_offer("nope, nothing else, thanks") == "closing"
    assert answer_to_offer("No, that's not what I asked") == "refusal"


@pytest.mark.parametrize(
    ("message", "risk"),
    [
        ("I want to talk to a real person", "human_request"),
        ("Yes, please hand this over to a person.", "human_request"),
        ("I've been thinking about ending my life", "self_harm"),
        ("My lawyer will be in touch", "legal"),
        ("I was charged twice for one class", "payment_dispute"),
        # ordinary words are not risks (issue 13's keyword false alarms)
        ("I want to end my membership next month", None),
        ("The voucher campaign is killing it", None),
        ("What may a manager approve for a late refund?", None),
        ("Print the contracts on legal-size paper", None),
        # a question about who is answering is not a request for a person
        ("Am I chatting to a real person or software?", None),
        ("are you a real person?", None),
        ("I need a real person to look at this", "human_request"),
        ("real person please", "human_request"),
    ],
)
def test_risk_rules_are_high_precision(message: str, risk: str | None) -> None:
    found = risk_rule(message)
    assert (found[0] if found else None) == risk


# ---------------------------------------------------------------- offers
def test_a_closing_question_becomes_a_pending_offer() -> None:
    handover = pending_from_reply(
        "solari", "I can't waive that. Would you like me to pass this to a member of staff?", 3
    )
    assert handover is not None and handover["kind"] == "handover" and handover["turn"] == 3
    offer = pending_from_reply("ruvo", "Tasks created for the open day. Notify the owners?", 2)
    assert offer is not None and offer["kind"] == "offer" and offer["persona"] == "ruvo"
    assert pending_from_reply("ruvo", "Done, the owners are notified.", 2) is None


@pytest.mark.parametrize(
    ("reply", "handover"),
    [
        ("Would you like me to pass this on to one of our team so they can call you?", True),
        ("Would you like me to ask one of our consultants to contact you directly?", True),
        ("Shall I pass your question to one of the team?", True),
        ("Would you like me to send the segment to the team?", False),
        ("Shall I ask the team to review the draft?", False),
        ("Shall I pass it to Liora?", False),
    ],
)
def test_hand_over_offers_to_one_of_the_team(reply: str, handover: bool) -> None:
    pending = pending_from_reply("nyra", reply, 1)
    assert pending is not None and (pending["kind"] == "handover") is handover


def test_a_pending_offer_lives_one_turn() -> None:
    pending = {"kind": "offer", "persona": "ruvo", "turn": 2}
    assert live_pending({"pending": pending, "turn": 2}) == pending
    assert live_pending({"pending": pending, "turn": 3}) is None
    assert live_pending({"turn": 2}) is None


# ---------------------------------------------------------------- levels
def probs(
    persona: str = "solari",
    *,
    p: float = 0.9,
    act: str = "request",
    person: float = 0.0,
    risk: str = "none",
    level: dict[str, float] | None = None,
    multi: float = 0.0,
) -> Probabilities:
    rest = (1 - p) / (len(PERSONA_LABELS) - 1)
    return Probabilities(
        persona={k: (p if k == persona else rest) for k in PERSONA_LABELS},
        # The risk head agrees with the person head: P(none) = 1 - person, so the averaged
        # person_score equals ``person`` (a named risk takes the rest).
        risk={k: (1 - person if k == "none" else person if k == risk else 0.0) for k in RISKS}
        if risk != "none"
        else {k: (1.0 if k == "none" else 0.0) for k in RISKS},
        act={k: (0.9 if k == act else 0.02) for k in ACTS},
        # ... and so does the level head (P(level 4) = person), unless ``level`` is given.
        level=level or {"1": 0.93 - person, "2": 0.04, "3": 0.03, "4": person},
        multi=multi,
        needs_person=person,
    )


def test_level_4_from_the_person_probability_at_the_dev_threshold() -> None:
    # (1e-9: person_score is a mean of three floats, RISK_THRESHOLD itself may round below.)
    high = derive_level(probs(person=RISK_THRESHOLD + 1e-9, risk="medical"), intents=1)
    assert high.level == Level.HUMAN and high.risk == "medical"
    low = derive_level(probs(person=RISK_THRESHOLD - 0.01, risk="medical"), intents=1)
    assert low.level == Level.SINGLE


def test_person_score_averages_the_person_risk_and_level_heads() -> None:
    risk = {**{k: 0.0 for k in RISKS}, "none": 0.3, "vip": 0.7}
    level = {"1": 0.5, "2": 0.0, "3": 0.0, "4": 0.5}
    p = replace(probs(), needs_person=0.2, risk=risk, level=level)
    assert p.person_score == pytest.approx((0.2 + 0.7 + 0.5) / 3)
    # The person head alone is under the threshold; the other two lift the turn to level 4.
    assert p.needs_person < RISK_THRESHOLD <= p.person_score
    assert derive_level(p, intents=1).level == Level.HUMAN


def test_level_4_is_decided_before_incidents_and_multi_intent() -> None:
    incident = {"1": 0.05, "2": 0.05, "3": 0.85, "4": 0.05}
    both = derive_level(probs(person=0.9, risk="safety", level=incident), intents=3)
    assert both.level == Level.HUMAN and both.risk == "safety"
    below = derive_level(probs(person=RISK_THRESHOLD / 2, risk="safety", level=incident), intents=3)
    assert below.level == Level.NETWORK


def test_a_rule_wins_and_answers_to_offers_ignore_the_text_model() -> None:
    rule = derive_level(probs(), intents=1, rule=("self_harm", "hurt myself"))
    assert rule.level == Level.HUMAN and rule.risk == "self_harm"
    answer = derive_level(probs(person=0.99), intents=1, use_model_risk=False)
    assert answer.level == Level.SINGLE


def test_incident_and_multi_intent_levels() -> None:
    incident = derive_level(probs(level={"1": 0.2, "2": 0.1, "3": 0.6, "4": 0.1}), intents=1)
    assert incident.level == Level.NETWORK
    assert derive_level(probs(), intents=2).level == Level.COORDINATED


# ---------------------------------------------------------------- decisions
def triage(message: Probabilities) -> Triage:
    models: Any = ScriptedTriageModels(message, probs(p=0.2))
    return Triage(models)


def test_yes_to_a_hand_over_offer_is_level_4() -> None:
    pending = {"kind": "handover", "persona": "solari", "turn": 1}
    d = triage(probs("liora", act="request")).triage(
        "Yes, I'd like that.", {"current_persona": "solari", "pending": pending}
    )
    assert d.resolves == "accept" and d.level == 4 and d.risk == "human_request"
    assert d.persona == "grace"


def test_yes_to_an_action_goes_back_to_the_persona_that_offered() -> None:
    pending = {"kind": "action", "persona": "nyra", "turn": 1}
    d = triage(probs("elan", act="confirmation", person=0.9)).triage(
        "Yes please, to this address.", {"current_persona": "nyra", "pending": pending}
    )
    assert (d.persona, d.level, d.resolves, d.act) == ("nyra", 1, "accept", "confirmation")
    assert d.may_change_state


def test_no_to_an_offer_declines_it() -> None:
    pending = {"kind": "offer", "persona": "ruvo", "turn": 1}
    d = triage(probs("ruvo")).triage("no thanks", {"current_persona": "ruvo", "pending": pending})
    assert d.resolves == "decline" and not d.may_change_state


def test_follow_up_stays_unless_another_persona_is_clearly_meant() -> None:
    follow = triage(probs("elan", p=0.6, act="follow_up")).triage(
        "make it a bit shorter and punchier", {"current_persona": "liora"}
    )
    assert follow.persona == "liora" and follow.sticky
    switch = triage(probs("solari", p=0.95, act="follow_up")).triage(
        "and book me a massage on Friday", {"current_persona": "liora"}
    )
    assert switch.persona == "solari"


def test_one_clause_needs_a_surer_multi_intent_head() -> None:
    """A single request with a date is not two intents at P(multi) just over one half."""
    one = triage(probs("solari", multi=0.55)).triage("Can I book a sound bath for next Tuesday?")
    assert not one.multi_intent and one.level == 1 and one.persona == "solari"
    listed = triage(probs("solari", multi=0.65)).triage("Book me a facial and a sound bath")
    assert listed.multi_intent and listed.level == 2
    two = "Can I book a sound bath on Tuesday? Also, what is your parking like?"
    assert triage(probs("solari", multi=0.55)).triage(two).level == 2


def test_thanks_thats_all_closes_without_routing() -> None:
    d = triage(probs("solari", act="request")).triage("thanks, that's all", {})
    assert d.closing and d.level == 1 and d.persona == "grace"


@pytest.mark.parametrize(
    ("message", "greets"),
    [
        ("hello", True),
        ("hi there!", True),
        ("Good morning, how are you?", True),
        ("hey Grace", True),
        ("hi, can I book a massage on Friday?", False),
        ("high tea for two on Sunday", False),
        ("evening classes are full", False),
    ],
)
def test_a_bare_greeting_is_grace_s(message: str, greets: bool) -> None:
    assert is_greeting(message) is greets
    d = triage(probs("sage", p=0.6)).triage(message, {"current_persona": "solari"})
    assert d.greeting is greets and d.level == 1
    assert d.persona == ("grace" if greets else "sage")


def test_a_greeting_with_a_risk_is_not_answered_as_a_greeting() -> None:
    d = triage(probs("sage", person=0.9, risk="self_harm")).triage("hello")
    assert not d.greeting and d.level == 4


def test_a_question_may_not_change_state() -> None:
    d = triage(probs("liora", act="question")).triage("Is the spring campaign launching soon?")
    assert d.act == "question" and not d.may_change_state and d.level == 1


def test_self_harm_goes_to_a_person_through_grace() -> None:
    d = triage(probs("sage", person=0.9, risk="self_harm")).triage(
        "I can't see the point of anything any more"
    )
    assert d.level == 4 and d.risk == "self_harm" and d.persona == "grace"
    assert d.handler == "sage"  # the subgraph that would run, were it not level 4


def test_blank_message_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        triage(probs()).triage("  ")


# ---------------------------------------------------------------- fitting
def test_packaged_train_split_is_the_corpus_train_split() -> None:
    corpus = ROOT / "evals" / "datasets" / "triage" / "train.jsonl"
    assert packaged_train_path().read_bytes() == corpus.read_bytes()


def test_fit_on_a_slice_gives_calibrated_probabilities() -> None:
    from graphs.triage.train import fit_triage

    examples = load_examples(packaged_train_path())[::6]
    models = fit_triage(examples, HashingEmbedder(128))
    (row,) = models.predict(["Can I book a massage for Friday afternoon?"])
    assert set(row.persona) <= set(PERSONA_LABELS) and abs(sum(row.persona.values()) - 1) < 1e-6
    assert set(row.act) == set(ACTS)
    assert 0.0 <= row.needs_person <= 1.0 and 0.0 <= row.multi <= 1.0
    d = Triage(models).triage("Can I book a massage for Friday afternoon?")
    assert d.level in (1, 2, 3, 4) and d.act in ACTS

    # the stacked fast path gives scikit-learn's own calibrated probabilities
    texts = ["Can I book a massage for Friday afternoon?", "no thanks", "I want a real person"]
    reference = models.predict_reference(texts)
    fast = models.predict(texts)
    for i, row in enumerate(fast):
        heads = (row.persona, row.risk, row.act, row.level)
        for got, want in zip(heads, (r[i] for r in reference[:4]), strict=True):
            assert got.keys() == want.keys()
            assert all(abs(got[k] - want[k]) < 1e-9 for k in got)
        assert abs(row.multi - reference[4][i]["multi"]) < 1e-9
        assert abs(row.needs_person - reference[5][i]["yes"]) < 1e-9


def test_char_ngrams_match_scikit_learn_tfidf() -> None:
    """The scikit-learn-free n-grams give TfidfVectorizer's rows (short words, spaces, case)."""
    from graphs.triage.features import Featurizer

    texts = [e.text for e in load_examples(packaged_train_path())[::40]]
    odd = ["I", "a  b\t\tC", "", "Ünïcode  café!!", "x" * 7, "refund? REFUND. refund!"]
    featurizer = Featurizer(HashingEmbedder(16))
    featurizer.fit(texts, featurizer.embed(texts))
    want = featurizer._chars.transform(texts + odd).toarray()
    got = featurizer.char_ngrams().transform(texts + odd).toarray()
    assert got.shape == want.shape and abs(got - want).max() < 1e-12


def test_compiled_triage_pickles_without_its_embedder_and_predicts_alike(
    tmp_path: Path,
) -> None:
    """What the fit cache stores: arrays only; a later start loads it without scikit-learn."""
    import pickle

    from graphs.triage.decide import load_triage

    embedder = HashingEmbedder(64)
    train = tmp_path / "train.jsonl"
    lines = packaged_train_path().read_text().splitlines()[::5]
    train.write_text("\n".join(lines) + "\n")
    first = load_triage(embedder, train, cache_dir=tmp_path / "models")
    (cached,) = list((tmp_path / "models").glob("triage-*.pkl"))
    assert b"sklearn" not in cached.read_bytes()  # unpickling imports no scikit-learn
    again = load_triage(embedder, train, cache_dir=tmp_path / "models")
    assert len(list((tmp_path / "models").glob("triage-*.pkl"))) == 1  # a hit, not a refit
    text = "Can I move my massage to Friday?"
    assert again.probabilities([text]) == first.probabilities([text])
    with pytest.raises(RuntimeError, match="embedder"):
        pickle.loads(pickle.dumps(again.models.detached())).predict([text])  # type: ignore[union-attr]


def test_fit_refuses_no_examples() -> None:
    from graphs.triage.train import fit_triage

    with pytest.raises(ValueError, match="no training examples"):
        fit_triage([], HashingEmbedder(16))
