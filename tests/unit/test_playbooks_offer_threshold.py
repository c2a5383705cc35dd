"""The offer threshold's calibration: the split, the figures and the choice on dev."""

from __future__ import annotations

from evals.playbooks_offer import Scored, choose, figures, load, split


def test_split_alternates_within_each_label_and_keeps_every_case() -> None:
    rows = load()
    dev, test = split(rows)
    assert len(rows) == 84 and len(dev) + len(test) == 84
    assert not {r["id"] for r in dev} & {r["id"] for r in test}
    for label in ("incident-response", "None"):
        d = sum(str(r["expected"]) == label for r in dev)
        t = sum(str(r["expected"]) == label for r in test)
        assert abs(d - t) <= 1
    assert sum(r["expected"] is None for r in rows) == 42


def test_figures_count_wrong_playbooks_and_offers_to_no_fit() -> None:
    scored = [
        Scored("a", "kb-article", "kb-article", 0.9),
        Scored("b", "kb-article", "incident-response", 0.8),
        Scored("c", None, "lead-to-booking", 0.7),
        Scored("d", "agency-cycle", "agency-cycle", 0.2),
    ]
    f = figures(scored, 0.5)
    assert (f["offers"], f["right"], f["wrong_playbook"], f["offered_to_no_fit"]) == (3, 1, 1, 1)
    assert f["precision"] == round(1 / 3, 4) and f["recall"] == round(1 / 3, 4)


def test_choice_prefers_precision_and_the_higher_of_ties() -> None:
    scored = [
        Scored("a", "kb-article", "kb-article", 0.9),
        Scored("b", None, "kb-article", 0.6),
        Scored("c", "agency-cycle", "agency-cycle", 0.5),
        Scored("d", None, "kb-article", 0.1),
    ]
    # 0.75 offers only the right one (precision 1, recall 0.5: F0.5 0.83); 0.3 adds a wrong
    # and a right one (precision 0.67, recall 1: F0.5 0.71).
    assert choose(scored) == 0.75
