"""Suggestion ranking (similarity x smoothed success rate) and the labelled eval set."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from evals.schemas import dataset_path, load_cases
from evals.suites.playbooks import PlaybookCase
from graphs.playbooks.model import default_playbooks
from graphs.playbooks.suggest import PlaybookSuggester

WORDS = ("incident", "article", "booking", "campaign", "offer")


class KeywordEncoder:
    """A tiny deterministic encoder: one dimension per keyword, unit-normalised."""

    def _vec(self, text: str) -> np.ndarray:
        v = np.array([text.lower().count(w) for w in WORDS], dtype=np.float32) + 1e-3
        return v / np.linalg.norm(v)

    def embed_documents(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self._vec(t) for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        return self._vec(text)


def test_similarity_ranks_and_reasons_explain() -> None:
    s = PlaybookSuggester(KeywordEncoder())
    top = s.rank("incident incident", k=2)
    assert top[0].playbook == "incident-response" and len(top) == 2
    assert top[0].reasons[1] == "no past runs yet"
    assert "responds at escalation level 3" in top[0].reasons
    assert top[0].success_rate == 0.5


def test_history_weights_but_never_beyond_a_factor_of_two() -> None:
    s = PlaybookSuggester(KeywordEncoder())
    base = {x.playbook: x.score for x in s.rank("campaign booking", k=5)}
    good = {x.playbook: x for x in s.rank("campaign booking", k=5,
                                          history={"lead-to-booking": (9, 9)})}  # fmt: skip
    bad = {x.playbook: x for x in s.rank("campaign booking", k=5,
                                         history={"lead-to-booking": (0, 9)})}  # fmt: skip
    assert good["lead-to-booking"].score > base["lead-to-booking"] > bad["lead-to-booking"].score
    assert good["lead-to-booking"].reasons[1] == "past runs: 9 of 9 completed"
    assert good["lead-to-booking"].score < 2 * bad["lead-to-booking"].score


def test_the_labelled_set_has_40_plus_cases_over_every_builtin() -> None:
    cases = load_cases(dataset_path("playbooks"), PlaybookCase)
    ids = {pb.id for pb in default_playbooks()}
    assert len(cases) >= 40
    assert {c.expected for c in cases} == ids
    examples = {e for pb in default_playbooks() for e in pb.examples}
    assert not examples & {c.context for c in cases}  # no case is a playbook's own example
