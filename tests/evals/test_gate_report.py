"""Thresholds, the gate, run comparison, the reports and the CLI commands that need no database."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from evals.cli.main import app
from evals.gate import Threshold, ThresholdsError, check, compare, load_thresholds
from evals.report import EvalReport
from evals.suites.base import CaseFailure, SuiteResult


def report(**metrics: float) -> EvalReport:
    suite = SuiteResult(
        suite="routing",
        cases=3,
        metrics=metrics,
        details={"labels": ["a", "b"], "confusion_matrix": [[2, 0], [1, 0]]},
        failures=[CaseFailure(id="rt-3", expected="b", got="a", detail="a | pipe")],
    )
    return EvalReport(
        started_at="2026-11-23T00:00:00+00:00", provider="offline", suites={"routing": suite}
    )


def test_shipped_thresholds_parse_and_keep_the_fixed_targets() -> None:
    rules = {(r.suite, r.metric): r for r in load_thresholds()}
    # Issue 13: routing.jsonl is gated at its measurement (see the comment in thresholds.toml);
    # the persona figure is the triage suite's, on the frozen test split.
    assert rules[("routing", "accuracy")].op == ">="
    assert rules[("triage", "transitions_fired_by_question")] == Threshold(
        "triage", "transitions_fired_by_question", "<=", 0
    )
    assert rules[("triage", "level4_recall")].op == ">="
    assert rules[("compliance", "unauthorized_applied")].op == "<="
    assert rules[("compliance", "unauthorized_applied")].value == 0
    assert rules[("injection", "transition_success_obedient")].value == 0


def test_malformed_thresholds(tmp_path: Path) -> None:
    bad = tmp_path / "t.toml"
    for text in ("[routing]\naccuracy = 'high'\n", "routing = 1\n", "[r]\nx = {avg = 1}\n", "[r\n"):
        bad.write_text(text)
        with pytest.raises(ThresholdsError):
            load_thresholds(bad)


def test_gate_checks_min_max_and_missing_metrics() -> None:
    rules = [
        Threshold("routing", "accuracy", ">=", 0.9),
        Threshold("routing", "leaks", "<=", 0),
        Threshold("routing", "absent", ">=", 0.1),
        Threshold("compliance", "unauthorized_applied", "<=", 0),  # suite not run: skipped
    ]
    rep = report(accuracy=0.95, leaks=0)
    checks = check(rep, rules)
    assert [c.passed for c in checks] == [True, True, False]
    assert not rep.gate_passed
    rep = report(accuracy=0.89, leaks=0)
    check(rep, rules[:2])
    assert not rep.gate_passed and rep.gate[0].value == 0.89


def test_compare_detects_regressions_in_both_directions() -> None:
    before = report(accuracy=0.90, under_escalation_rate=0.10, macro_f1=0.8, gone=1)
    after = report(accuracy=0.85, under_escalation_rate=0.05, macro_f1=0.803, new=1)
    verdicts = {c.metric: c.verdict for c in compare(before, after)}
    assert verdicts == {
        "accuracy": "regression",
        "under_escalation_rate": "improvement",  # lower is better
        "macro_f1": "same",  # within tolerance
        "gone": "removed",
        "new": "added",
    }
    assert compare(report(leak_rate_obedient=0.5), report(leak_rate_obedient=0.7))[0].verdict == (
        "regression"
    )


def test_reports_round_trip_and_read_well(tmp_path: Path) -> None:
    rep = report(accuracy=0.95)
    check(rep, [Threshold("routing", "accuracy", ">=", 0.99)])
    paths = rep.write(tmp_path, html_report=True)
    assert [p.name for p in paths] == ["report.json", "report.md", "report.html"]
    again = EvalReport.load(paths[0])
    assert again.metric("routing", "accuracy") == 0.95 and not again.gate_passed
    md = paths[1].read_text()
    assert "| **a** | 2 | 0 |" in md  # confusion matrix row
    assert "rt-3" in md and "a \\| pipe" in md  # failures, pipes escaped
    assert "Gate: **FAILED**" in md


def test_cli_compare_exit_codes(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    report(accuracy=0.9).write(a)
    report(accuracy=0.8).write(b)
    runner = CliRunner()
    same = runner.invoke(app, ["eval", "compare", str(a / "report.json"), str(a / "report.json")])
    assert same.exit_code == 0, same.output
    worse = runner.invoke(app, ["eval", "compare", str(a / "report.json"), str(b / "report.json")])
    assert worse.exit_code == 1 and "regression" in worse.output
    better = runner.invoke(app, ["eval", "compare", str(b / "report.json"), str(a / "report.json")])
    assert better.exit_code == 0


def test_cli_run_rejects_an_unknown_suite() -> None:
    result = CliRunner().invoke(app, ["eval", "run", "vibes"])
    assert result.exit_code == 2


def test_cli_run_exits_1_when_the_gate_is_missed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import evals.runner

    async def fake_run_eval(*args: object, **kwargs: object) -> EvalReport:
        return report(accuracy=0.5)

    monkeypatch.setattr(evals.runner, "run_eval", fake_run_eval)
    runner = CliRunner()
    failed = runner.invoke(app, ["eval", "run", "routing", "--out", str(tmp_path)])
    assert failed.exit_code == 1, failed.output
    assert "routing.accuracy" in failed.output and (tmp_path / "report.md").exists()
    ungated = runner.invoke(app, ["eval", "run", "routing", "--no-gate", "--out", str(tmp_path)])
    assert ungated.exit_code == 0, ungated.output
