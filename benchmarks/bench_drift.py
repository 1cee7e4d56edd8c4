"""Drift statistics on a 1M-row x 20-feature batch (14 numeric, 6 categorical).

Run: ``python benchmarks/bench_drift.py [rows]``. Prints the median of 5 runs of the drift step
(feature_drift + compare_scores of two score arrays) and, measured in the same run, two bare
baselines: numpy column means of the numeric features, and scoring the batch's numeric features
with a small fitted scikit-learn logistic regression. Target: drift step < 1 s.

It also times the drift step as the flow's monitor task runs it: the batch read back from
250k-row Parquet chunk files (as the log bin writes them) into a bounded sketch, the live and
canary scores of 20k of the sampled rows looked up in a SQLite scores table holding both models'
scores of every row, then summary_drift + compare_scores.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a plain script
from rendezvous.monitoring import (
    MonitoringConfig,
    SketchBuilder,
    build_profile,
    compare_scores,
    feature_drift,
    summary_drift,
)
from rendezvous.monitoring.batch_rows import batch_scores, read_log_chunks
from rendezvous.records import write_scores
from rendezvous.scorelog.files import AttemptScores

NUMERIC = [
    "loan_amount", "term_months", "interest_rate", "annual_income", "employment_years",
    "credit_score", "debt_to_income", "prior_defaults", "customer_tenure_days",
    "installment", "loan_to_income", "income_log", "rate_x_term", "credit_per_year",
]  # fmt: skip
CATEGORICAL = ["purpose", "region", "segment", "term_bucket", "credit_band", "income_band"]
RUNS = 5
CHUNK_ROWS = 250_000
SCORE_ROWS = MonitoringConfig().score_sample_rows


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


class Timing(NamedTuple):
    """Median wall and CPU seconds: CPU time of this process stays honest on a busy machine."""

    wall: float
    cpu: float

    def __str__(self) -> str:
        return f"{self.wall:.3f} s (CPU {self.cpu:.3f} s)"


def median_seconds(step: Callable[[], object]) -> Timing:
    step()  # warm-up
    walls, cpus = [], []
    for _ in range(RUNS):
        start, start_cpu = time.perf_counter(), time.process_time()
        step()
        walls.append(time.perf_counter() - start)
        cpus.append(time.process_time() - start_cpu)
    return Timing(statistics.median(walls), statistics.median(cpus))


def streamed_step(
    batch: pd.DataFrame, live: np.ndarray, canary: np.ndarray, profile, folder: Path
) -> Callable[[], object]:
    """Write the batch as the log bin does and both models' scores as the score bins do."""
    ids = pd.Series(np.arange(len(batch)), dtype="int64").astype("str").radd("r-")
    paths = []
    for number, start in enumerate(range(0, len(batch), CHUNK_ROWS)):
        path = folder / f"chunk-{number:06d}.parquet"
        part = slice(start, start + CHUNK_ROWS)
        batch.iloc[part].assign(request_id=ids.iloc[part].to_numpy()).to_parquet(path)
        paths.append(str(path))
    staged = AttemptScores(str(folder), "bench", 1)
    for role, values in (("live", live), ("canary", canary)):
        write_scores(staged, 0, role, role, pd.DataFrame({"request_id": ids, "score": values, "label": "0"}))

    def step() -> None:
        builder = SketchBuilder(NUMERIC, CATEGORICAL, 50_000, 0, id_column="request_id")
        for chunk in read_log_chunks(paths, ["request_id", *NUMERIC, *CATEGORICAL]):
            builder.add(chunk)
        summary = builder.summary()
        ids = summary.sample_ids[:SCORE_ROWS]
        sampled = batch_scores(staged, ids).reindex(ids)
        summary_drift(summary, profile)
        compare_scores(sampled["live"].to_numpy(), sampled["canary"].to_numpy())

    return step


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

    scratch = tempfile.mkdtemp(prefix="bench-drift-")
    streamed = streamed_step(batch, live, canary, profile, Path(scratch))

    drift = median_seconds(drift_step)
    streamed_seconds = median_seconds(streamed)
    features_only = median_seconds(lambda: feature_drift(batch, profile))
    scores_only = median_seconds(lambda: compare_scores(live, canary))
    base_means = median_seconds(means)
    base_scoring = median_seconds(scoring)
    print(f"rows={n_rows:,} features={len(NUMERIC)} numeric + {len(CATEGORICAL)} categorical")
    print(f"drift step (feature_drift + compare_scores): {drift}  (target < 1 s)")
    print(f"  feature_drift alone {features_only}, compare_scores alone {scores_only}")
    print(f"baseline numpy column means: {base_means}  ratio {drift.wall / base_means.wall:.1f}x")
    ratio = f"ratio {drift.wall / base_scoring.wall:.1f}x (CPU {drift.cpu / base_scoring.cpu:.1f}x)"
    print(f"baseline scaler + LogisticRegression scoring: {base_scoring}  {ratio}")
    print(f"drift step as the monitor task runs it (Parquet chunks -> sketch, {SCORE_ROWS:,} scores from "
          f"SQLite, statistics): {streamed_seconds}")  # fmt: skip
    print(f"profile JSON: {len(profile.to_json()) / 1e6:.2f} MB")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
