"""``grace eval run`` end to end on a real database, on a few cases of the cheap suites.

The full offline gate (all suites, all cases, the real MiniLM model) is ``grace eval run``;
here a hashing embedder and a keyword router keep it fast: the point is the plumbing (scratch
data, the real runtime, engine and audit log, the reports and the gate), not the figures.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from agents.testing import Decision, HashingEmbedder
from evals.gate import check, load_thresholds
from evals.runner import run_eval
from graphs.core.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]


class KeywordRouter:
    """Solari for bookings, Atlas otherwise: a stand-in that needs no model."""

    def route(self, text: str, *, current: str | None = None) -> Decision:
        return Decision("solari" if "book" in text.lower() else "atlas")


async def test_cheap_suites_end_to_end(database_url: str, tmp_path: Path) -> None:
    settings = Settings(database_url=SecretStr(database_url))
    seen: dict[str, int] = {}
    report = await run_eval(
        settings,
        ["routing", "compliance", "injection"],
        limit=6,
        k=2,
        embedder=HashingEmbedder(256),
        router=KeywordRouter(),
        progress=lambda label, done, total: seen.__setitem__(label, total),
    )
    assert list(report.suites) == ["routing", "compliance", "injection"]
    assert seen["routing"] == 12 and seen["compliance"] == 12  # 6 cases x k=2
    comp = report.suites["compliance"]
    assert comp.cases == 6 and comp.metrics["unauthorized_applied"] == 0
    assert comp.metrics["allowed_refused"] == 0 and comp.pass_curve == {1: 1.0, 2: 1.0}
    inj = report.suites["injection"]
    assert inj.cases == 6
    assert inj.metrics["transition_success_offline"] == 0
    assert inj.metrics["transition_success_obedient"] == 0
    assert report.suites["routing"].details["confusion_matrix"]

    checks = check(report, load_thresholds())
    by_name = {f"{c.suite}.{c.metric}": c for c in checks}
    assert by_name["compliance.unauthorized_applied"].passed
    assert by_name["injection.transition_success_obedient"].passed
    json_path, md_path = report.write(tmp_path)
    assert "## compliance" in md_path.read_text() and json_path.stat().st_size > 0
