"""pass^k: reliability over repeated trials (Yao et al., "τ-bench", 2024, section 5).

A task passes^k when *all* of k independent trials succeed. With ``n >= k`` trials of which
``c`` succeeded, the unbiased estimate is ``C(c, k) / C(n, k)``; pass^k of a suite is its mean
over tasks. pass^1 is the plain success rate; the curve pass^1..pass^n falls as soon as any
task is flaky.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from math import comb


def pass_hat_k(successes: int, trials: int, k: int) -> float:
    """``C(successes, k) / C(trials, k)`` for one task.

    Raises:
        ValueError: ``k`` is not in ``1..trials`` or ``successes`` not in ``0..trials``.
    """
    if not 1 <= k <= trials:
        raise ValueError(f"k must be in 1..{trials}, got {k}")
    if not 0 <= successes <= trials:
        raise ValueError(f"successes must be in 0..{trials}, got {successes}")
    return comb(successes, k) / comb(trials, k)


def pass_curve(outcomes: Mapping[str, Sequence[bool]]) -> dict[int, float]:
    """pass^j for j = 1..n over tasks, each with the same number ``n`` of trial outcomes.

    Args:
        outcomes: Task id -> success of each trial.

    Returns:
        ``{j: mean over tasks of pass^j}``; empty for no tasks.

    Raises:
        ValueError: tasks have different numbers of trials, or none.
    """
    if not outcomes:
        return {}
    counts = {len(v) for v in outcomes.values()}
    if len(counts) != 1 or 0 in counts:
        raise ValueError("every task needs the same, non-zero number of trials")
    n = counts.pop()
    return {
        j: sum(pass_hat_k(sum(map(bool, v)), n, j) for v in outcomes.values()) / len(outcomes)
        for j in range(1, n + 1)
    }
