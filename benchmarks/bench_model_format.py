"""The demo's live model (gradient boosting pipeline) and canary (logistic regression) stored as
skops and as joblib: file size, load time and scoring cost.

Run: ``python benchmarks/bench_model_format.py [rows]``. Both models are trained as ``make demo``
trains them (40k rows of synthetic history), then each file is loaded RUNS times from bytes in
memory (skops: the registry's loader, i.e. listing the file's types to compare them with the
recorded list, then the load; joblib: ``joblib.load``) and each loaded model scores a
``rows``-row batch (default 100,000) RUNS times through ``rendezvous.scoring.score_frame``.
Medians are printed.
"""

from __future__ import annotations

import io
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import joblib
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a plain script
from rendezvous.demo.data import LABEL, make_customers, make_history
from rendezvous.demo.features import MODEL_FEATURES
from rendezvous.demo.recipes import canary_pipeline, default_pipeline
from rendezvous.model_files import load_skops, to_skops, types_needed
from rendezvous.promotion.evaluation import transient_record
from rendezvous.scoring import score_frame

RUNS = 7


def median_seconds(action: Callable[[], Any], runs: int = RUNS) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(name: str, model: Any, batch: pd.DataFrame) -> list[dict[str, Any]]:
    as_joblib = io.BytesIO()
    joblib.dump(model, as_joblib)
    pickled = as_joblib.getvalue()
    skops_bytes = to_skops(model)
    types = types_needed(skops_bytes)
    record = transient_record(model, name)
    loaders = {
        "joblib": lambda: joblib.load(io.BytesIO(pickled)),
        "skops": lambda: load_skops(skops_bytes, types)[0],
    }
    rows = []
    for fmt, load in loaders.items():
        loaded = load()
        rows.append(
            {
                "model": name,
                "format": fmt,
                "file KB": round(len(pickled if fmt == "joblib" else skops_bytes) / 1024),
                "load s": round(median_seconds(load), 4),
                "of which listing types s": (
                    round(median_seconds(lambda: types_needed(skops_bytes)), 4) if fmt == "skops" else None
                ),
                f"score {len(batch):,} rows s": round(
                    median_seconds(lambda m=loaded: score_frame(m, record, batch, "request_id")), 4
                ),
            }
        )
    return rows


def main(rows: int = 100_000) -> None:
    customers = make_customers(5000, seed=7)
    history = make_history(40_000, customers, seed=7)
    train = history.iloc[: int(len(history) * 0.8)]
    batch = make_history(rows, customers, seed=11).assign(
        request_id=lambda f: [f"r{i}" for i in range(len(f))]
    )
    results = []
    for name, factory in (("live (gradient boosting)", default_pipeline),
                          ("canary (logistic regression)", canary_pipeline)):
        model = factory().fit(train[MODEL_FEATURES], train[LABEL])
        results += measure(name, model, batch)
    print(pd.DataFrame(results).to_string(index=False))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
