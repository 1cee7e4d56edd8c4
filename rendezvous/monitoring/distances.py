"""The drift statistics themselves, on plain arrays: thin wrappers over scipy.

Frequency distances take two probability vectors over the same bins or categories. Numeric
features get bins at reference quantiles so every bin holds about the same reference mass
(ties in discrete features collapse bins rather than leaving empty ones).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy import stats
from scipy.spatial import distance

PSI_EPSILON = 1e-4  # stands in for an empty bin so PSI stays finite (Evidently's choice)


def quantile_edges(reference: np.ndarray, n_bins: int) -> np.ndarray:
    """Inner bin edges at the reference's quantiles, duplicates removed."""
    return np.unique(np.quantile(reference, np.linspace(0.0, 1.0, n_bins + 1)[1:-1]))


def bin_frequencies(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Share of ``values`` in each of the ``len(edges) + 1`` bins (edge values go right)."""
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
    return counts / max(len(values), 1)


def jensen_shannon(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen-Shannon distance in base 2, so it lies in [0, 1]."""
    return float(distance.jensenshannon(p, q, base=2))


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index; scipy has none, so this is its definition."""
    e = np.where(expected == 0, PSI_EPSILON, expected)
    a = np.where(actual == 0, PSI_EPSILON, actual)
    return float(np.sum((a - e) * np.log(a / e)))


def hellinger(p: np.ndarray, q: np.ndarray) -> float:
    """Hellinger distance in [0, 1]."""
    return float(distance.euclidean(np.sqrt(p), np.sqrt(q)) / np.sqrt(2.0))


def l_infinity(p: np.ndarray, q: np.ndarray) -> float:
    """Largest change of any single bin's share (Vertex AI's categorical distance)."""
    return float(distance.chebyshev(p, q))


FREQUENCY_DISTANCES: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "jensenshannon": jensen_shannon,
    "psi": psi,
    "hellinger": hellinger,
    "l_infinity": l_infinity,
}


def wasserstein_normed(reference: np.ndarray, values: np.ndarray, reference_std: float) -> float:
    """Wasserstein-1 distance in units of the reference std (Evidently's "wasserstein normed").

    A constant reference is normalised by 1e-3, so any visible change of it alerts.
    """
    norm = reference_std if reference_std > 0 else 1e-3
    return float(stats.wasserstein_distance(reference, values) / norm)


def ks_test(reference: np.ndarray, values: np.ndarray) -> tuple[float, float]:
    """Two-sample Kolmogorov-Smirnov: (p-value, statistic)."""
    result = stats.ks_2samp(reference, values)
    return float(result.pvalue), float(result.statistic)


def chi2_test(reference_counts: np.ndarray, batch_counts: np.ndarray) -> tuple[float, float]:
    """Chi-squared homogeneity test of two count vectors: (p-value, statistic).

    A contingency table rather than a goodness-of-fit test, so categories the reference never
    saw are allowed (their expected count is not zero).
    """
    table = np.vstack([reference_counts, batch_counts]).astype(np.float64)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 1.0, 0.0
    result = stats.chi2_contingency(table)
    return float(result.pvalue), float(result.statistic)


def numeric_statistic(
    method: str, reference: np.ndarray, reference_std: float, values: np.ndarray, n_bins: int
) -> tuple[float, dict[str, float]]:
    """One numeric drift value and its extra details, by method name."""
    if method == "wasserstein":
        return wasserstein_normed(reference, values, reference_std), {}
    if method == "ks":
        p_value, statistic = ks_test(reference, values)
        return p_value, {"statistic": statistic}
    edges = quantile_edges(reference, n_bins)
    p = bin_frequencies(reference, edges)
    q = bin_frequencies(values, edges)
    return FREQUENCY_DISTANCES[method](p, q), {"bins": len(edges) + 1}


def categorical_statistic(
    method: str, reference_counts: np.ndarray, batch_counts: np.ndarray
) -> tuple[float, dict[str, float]]:
    """One categorical drift value and its extra details, by method name."""
    if method == "chi2":
        p_value, statistic = chi2_test(reference_counts, batch_counts)
        return p_value, {"statistic": statistic}
    p = reference_counts / max(reference_counts.sum(), 1)
    q = batch_counts / max(batch_counts.sum(), 1)
    return FREQUENCY_DISTANCES[method](p, q), {}
