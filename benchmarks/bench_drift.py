"""Drift statistics on a 1M-row x 20-feature batch (14 numeric, 6 categorical).

Run: ``python benchmarks/bench_drift.py [rows]``. Prints the median of 5 runs of the drift step
(feature_drift + compare_scores of two score arrays) and, measured in the same run, two bare
baselines: numpy column means of the numeric features, and scoring the batch's numeric features
with a small fitted scikit-learn logistic regression. Target: drift step < 1 s.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a plain script
from rendezvous.monitoring import build_profile, compare_scores, feature_drift

NUMERIC = [
    "loan_amount", "term_months", "interest_rate", "annual_income", "employment_years",
    "credit_score", "debt_to_income", "prior_defaults", "customer_tenure_days",
    "installment", "loan_to_income", "income_log", "rate_x_term", "credit_per_year",
]  # fmt: skip
CATEGORICAL = ["purpose", "region", "segment", "term_bucket", "credit_band", "income_band"]
RUNS = 5


def make_frame(n: int, seed: int) -> pd.DataFrame:
    """Loan-request-like columns; string categoricals (pandas 3 ``str`` dtype)."""
    rng = np.random.default_rng(seed)
    data: dict[str, object] = {
        "loan_amount": np.clip(rng.lognormal(9.5, 0.8, n), 500, 100_000),
        "term_months": rng.choice([12, 24, 36, 48, 60], n),
        "interest_rate": np.round(rng.uniform(0.01, 0.40, n), 4),
        "annual_income": np.clip(rng.lognormal(10.8, 0.6, n), 5_000, 2_000_000),
        "employment_years": np.round(rng.exponential(6.0, n), 1),
        "credit_score": rng.integers(300, 851, n),
        "debt_to_income": rng.beta(2, 5, n) * 3,
        "prior_defaults": rng.poisson(0.2, n),
        "customer_tenure_days": rng.integers(0, 7_000, n),
    }
    data["installment"] = data["loan_amount"] / data["term_months"]
    data["loan_to_income"] = data["loan_amount"] / data["annual_income"]
    data["income_log"] = np.log(data["annual_income"])
    data["rate_x_term"] = data["interest_rate"] * data["term_months"]
    data["credit_per_year"] = data["credit_score"] / (1 + data["employment_years"])
    data["loan_amount"][rng.random(n) < 0.01] = np.nan  # some missing values
    choices = {
        "purpose": ["car", "home_improvement", "education", "business", "debt_consolidation",
                    "medical", "other"],
        "region": ["north", "south", "east", "west", "central"],
        "segment": ["retail", "premier", "small_business"],
        "term_bucket": ["short", "medium", "long"],
        "credit_band": ["poor", "fair", "good", "very_good", "excellent"],
        "income_band": ["low", "lower_mid", "mid", "upper_mid", "high", "very_high"],
    }  # fmt: skip
    for name, values in choices.items():
        p = rng.dirichlet(np.full(len(values), 5.0, dtype=float))
        data[name] = pd.array(rng.choice(values, n, p=p), dtype="str")
    return pd.DataFrame(data)


def median_seconds(step: Callable[[], object]) -> float:
    step()  # warm-up
    times = []
    for _ in range(RUNS):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main(n_rows: int = 1_000_000) -> None:
    reference = make_frame(200_000, seed=1)
    batch = make_frame(n_rows, seed=2)
    x_ref = reference[NUMERIC].fillna(0).to_numpy()
    y_ref = (x_ref[:, 6] + np.random.default_rng(3).normal(0, 0.3, len(x_ref)) > 1.0).astype(int)
    model = make_pipeline(StandardScaler(), LogisticRegression())
    model.fit(x_ref[:20_000], y_ref[:20_000])
    profile = build_profile(reference, NUMERIC, CATEGORICAL, model.predict_proba(x_ref)[:, 1])
    x_batch = batch[NUMERIC].fillna(0).to_numpy()
    live = model.predict_proba(x_batch)[:, 1]
    canary = np.clip(live + np.random.default_rng(4).normal(0, 0.02, n_rows), 0, 1)

    def drift_step() -> None:
        feature_drift(batch, profile)
        compare_scores(live, canary)

    def means() -> None:
        np.nanmean(batch[NUMERIC].to_numpy(), axis=0)

    def scoring() -> None:
        model.predict_proba(batch[NUMERIC].fillna(0).to_numpy())

    drift = median_seconds(drift_step)
    features_only = median_seconds(lambda: feature_drift(batch, profile))
    scores_only = median_seconds(lambda: compare_scores(live, canary))
    base_means = median_seconds(means)
    base_scoring = median_seconds(scoring)
    print(f"rows={n_rows:,} features={len(NUMERIC)} numeric + {len(CATEGORICAL)} categorical")
    print(f"drift step (feature_drift + compare_scores): {drift:.3f} s  (target < 1 s)")
    print(f"  feature_drift alone {features_only:.3f} s, compare_scores alone {scores_only:.3f} s")
    print(f"baseline numpy column means:     {base_means:.3f} s  ratio {drift / base_means:.1f}x")
    print(f"baseline scaler + LogisticRegression scoring: {base_scoring:.3f} s  "
          f"ratio {drift / base_scoring:.1f}x")  # fmt: skip
    print(f"profile JSON: {len(profile.to_json()) / 1e6:.2f} MB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
