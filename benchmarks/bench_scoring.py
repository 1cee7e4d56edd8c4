"""The whole `score-batches` flow against a bare pandas + scikit-learn script doing the same work.

The bare script reads the batch, applies the same row checks with pandas, joins the reference
table, derives the features, scores with both models and writes the response and both models'
scores: no orchestration, no framework validation, no database. Both run on the same files in
the same process, alternating; the table gives medians and the ratio.

    .venv/bin/python benchmarks/bench_scoring.py --rows 1000 100000 1000000 --repeats 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow.csv as pacsv

os.environ.setdefault("RENDEZVOUS_HOME", tempfile.mkdtemp(prefix="rdv-bench-"))
os.environ.setdefault("RENDEZVOUS_MODELS_DIR", str(Path(os.environ["RENDEZVOUS_HOME"]) / "models"))

from rendezvous.runtime import configure_prefect_env

configure_prefect_env()

from flows.score_batches import score_batches  # noqa: E402
from rendezvous.demo.bootstrap import build_demo  # noqa: E402
from rendezvous.demo.data import PURPOSES, TERMS, make_customers, make_requests  # noqa: E402
from rendezvous.demo.features import add_features  # noqa: E402
from rendezvous.services import get_services  # noqa: E402

RANGES = {
    "loan_amount": (500, 100_000),
    "interest_rate": (0.01, 0.40),
    "annual_income": (5_000, 2_000_000),
    "employment_years": (0, 60),
    "credit_score": (300, 850),
    "debt_to_income": (0, 3),
}


def bare(path: Path, reference: pd.DataFrame, live, canary, out: Path) -> None:
    frame = pacsv.read_csv(path).to_pandas()
    ok = frame.notna().all(axis=1) & ~frame["request_id"].duplicated(keep=False)
    for column, (low, high) in RANGES.items():
        ok &= frame[column].between(low, high)
    ok &= frame["purpose"].isin(PURPOSES) & frame["term_months"].isin(TERMS)
    valid = frame.loc[ok]
    enriched = add_features(valid.merge(reference, on="customer_id", how="inner"))
    live_scores = live.predict_proba(enriched)[:, 1]
    canary_scores = canary.predict_proba(enriched)[:, 1]
    pd.DataFrame({"request_id": enriched["request_id"], "score": live_scores}).to_csv(
        out / "response.csv", index=False
    )
    pd.DataFrame(
        {"request_id": enriched["request_id"], "live": live_scores, "canary": canary_scores}
    ).to_parquet(out / "scores.parquet")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000, 100_000, 1_000_000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    services = get_services()
    build_demo(services, rows_per_batch=20)
    score_batches()  # the demo inbox: warms the process (GX, models, Prefect)
    registry = services.registry
    live = registry.load(registry.by_role("live"))
    canary = registry.load(registry.by_role("canary"))
    reference = pd.read_parquet(services.settings.reference_url)
    customers = make_customers(5000, seed=7)
    work = Path(tempfile.mkdtemp(prefix="rdv-bench-files-"))
    inbox = Path(services.settings.inbox_url)
    print(f"{'rows':>9} {'bare s':>8} {'flow s':>8} {'ratio':>6} {'flow rows/s':>12}")
    for rows in args.rows:
        bare_times, flow_times = [], []
        for repeat in range(args.repeats):
            batch = make_requests(
                rows,
                customers,
                datetime(2026, 11, 20, tzinfo=UTC),
                seed=1000 + repeat,
                id_prefix=f"b{rows}-{repeat}",
            )
            source = work / f"bench-{rows}-{repeat}.csv"
            batch.to_csv(source, index=False)
            start = time.perf_counter()
            bare(source, reference, live, canary, work)
            bare_times.append(time.perf_counter() - start)
            shutil.copy(source, inbox / source.name)
            start = time.perf_counter()
            (outcome,) = score_batches()
            flow_times.append(time.perf_counter() - start)
            assert outcome["state"] == "committed" and outcome["rows_in"] == rows, outcome
        b, f = statistics.median(bare_times), statistics.median(flow_times)
        print(f"{rows:>9} {b:>8.2f} {f:>8.2f} {f / b:>6.2f} {rows / f:>12,.0f}", flush=True)


if __name__ == "__main__":
    main()
