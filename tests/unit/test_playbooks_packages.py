"""Handoff packages: strict input validation and deterministic transforms."""

from __future__ import annotations

import pytest

from graphs.playbooks.model import default_playbooks
from graphs.playbooks.packages import Lead, PackageError, build_package, qualification_score

SAMPLE = default_playbooks().get("agency-cycle").sample_params
STEP = {"id": "s", "persona": "liora", "to": "nyra", "description": ""}


def test_the_five_stages_chain_and_are_deterministic() -> None:
    pk: dict = {}
    for name in ("marketing_brief", "sales_briefs", "work_order", "feedback_request",
                 "offer_recommendations"):  # fmt: skip
        first = build_package(name, SAMPLE, pk, STEP)
        assert build_package(name, SAMPLE, pk, STEP) == first  # idempotent handoff
        pk[name] = first
    assert pk["marketing_brief"]["budget_allocation"] == {"paid_media": 5000, "content": 3000,
                                                          "events": 2000}  # fmt: skip
    assert [b["prospect_id"] for b in pk["sales_briefs"]["briefs"]] == ["L1", "L2"]
    assert pk["sales_briefs"]["briefs"][0]["recommended_approach"] == "immediate_outreach"
    assert [m["due"] for m in pk["work_order"]["milestones"]] == ["2027-01-14", "2027-02-13"]
    assert pk["work_order"]["priority"] == "high"
    assert pk["feedback_request"]["work_order_id"] == pk["work_order"]["work_order_id"]
    assert pk["offer_recommendations"]["satisfaction_score"] == 88
    assert "timeliness" in pk["offer_recommendations"]["improvement_areas"]


def test_qualification_score_weights_and_caps() -> None:
    assert qualification_score(Lead(id="a", name="A", score=100, engagement_level="high",
                                    budget_indicator="high", urgency="high")) == 100  # fmt: skip
    assert qualification_score(Lead(id="a", name="A", score=50)) == 50  # 35 + 3 x 5


def test_invalid_input_is_a_typed_error() -> None:
    with pytest.raises(PackageError, match="marketing_brief: invalid input"):
        build_package("marketing_brief", {"offer": {"product_name": ""}}, {}, STEP)
    with pytest.raises(PackageError, match="at least one lead"):
        build_package("sales_briefs", {"leads": []}, {}, STEP)
    with pytest.raises(PackageError, match="needs the work_order"):
        build_package("feedback_request", {}, {}, STEP)
    with pytest.raises(PackageError, match="unknown package"):
        build_package("nope", {}, {}, STEP)
    bad = {"feedback": {"ratings": {"overall": 9}}}
    with pytest.raises(PackageError, match="1-5"):
        build_package("offer_recommendations", bad, {}, STEP)
