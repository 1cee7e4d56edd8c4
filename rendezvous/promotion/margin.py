"""Is the candidate's edge over live more than noise? An interval on the difference, same rows.

Classifiers: DeLong's interval on the ROC AUC difference of two models scored on the same
rows (DeLong, DeLong & Clarke-Pearson 1988, in the fast form of Sun & Xu 2014): closed form,
O(n log n), no resampling. Regressors: a paired bootstrap (numpy, seeded) of the RMSE
difference. Both are candidate minus live, at ``LEVEL``.
"""

from __future__ import annotations

from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

LEVEL = 0.95
BOOTSTRAP_ROUNDS = 1000
BOOTSTRAP_SEED = 0


def _placements(positive: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per positive row, the share of negatives scored below it; per negative row, the share
    of positives scored above it (ties count half). Their means are the ROC AUC."""
    pos, neg = scores[positive], scores[~positive]
    ranks = pd.Series(np.concatenate([pos, neg])).rank().to_numpy()
    above_neg = (ranks[: len(pos)] - pd.Series(pos).rank().to_numpy()) / len(neg)
    below_pos = 1 - (ranks[len(pos) :] - pd.Series(neg).rank().to_numpy()) / len(pos)
    return above_neg, below_pos


def _delong(positive: np.ndarray, candidate: np.ndarray, live: np.ndarray) -> dict[str, Any] | None:
    m, n = int(positive.sum()), int((~positive).sum())
    if m < 2 or n < 2:
        return None
    cand_pos, cand_neg = _placements(positive, candidate)
    live_pos, live_neg = _placements(positive, live)
    delta = cand_pos.mean() - live_pos.mean()
    variance = (np.var(cand_pos - live_pos, ddof=1) / m) + (np.var(cand_neg - live_neg, ddof=1) / n)
    half = NormalDist().inv_cdf(0.5 + LEVEL / 2) * float(np.sqrt(variance))
    return {"delta": float(delta), "low": float(delta - half), "high": float(delta + half),
            "method": "DeLong"}


def _bootstrap_rmse(y: np.ndarray, candidate: np.ndarray, live: np.ndarray) -> dict[str, Any] | None:
    n = len(y)
    if n < 2:
        return None
    cand_sq, live_sq = (candidate - y) ** 2, (live - y) ** 2
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    diffs = np.empty(BOOTSTRAP_ROUNDS)
    for i in range(BOOTSTRAP_ROUNDS):
        rows = rng.integers(0, n, n)
        diffs[i] = np.sqrt(cand_sq[rows].mean()) - np.sqrt(live_sq[rows].mean())
    low, high = np.quantile(diffs, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
    delta = np.sqrt(cand_sq.mean()) - np.sqrt(live_sq.mean())
    return {"delta": float(delta), "low": float(low), "high": float(high),
            "method": f"paired bootstrap, {BOOTSTRAP_ROUNDS} rounds, seed {BOOTSTRAP_SEED}"}


def difference(
    kind: str, outcome: pd.Series, candidate: pd.Series, live: pd.Series, positive: str | None
) -> dict[str, Any] | None:
    """Candidate minus live on the primary metric (ROC AUC, RMSE) with its interval, on the
    rows both scored; None when the rows cannot give one (one class, a multi-class model)."""
    cand = candidate.to_numpy(dtype="float64")
    base = live.to_numpy(dtype="float64")
    if kind == "classifier":
        if positive is None:
            return None
        usable = np.isfinite(cand) & np.isfinite(base)
        y = (outcome.astype("str") == positive).to_numpy()[usable]
        found = _delong(y, cand[usable], base[usable])
    else:
        y_all = pd.to_numeric(outcome, errors="coerce").to_numpy(dtype="float64")
        usable = np.isfinite(y_all) & np.isfinite(cand) & np.isfinite(base)
        found = _bootstrap_rmse(y_all[usable], cand[usable], base[usable])
    return None if found is None else {"rows": int(usable.sum()), "level": LEVEL, **found}
