"""More demo traffic after the first week, from a world that changed: the promotion story's data.

From the first day written here on, a downturn hits business borrowing, small businesses,
highly indebted applicants and, unlike before, premier customers: their defaults rise in a way
last year's history (the live model's training data) never showed. The request features are
drawn as before; only the outcomes move (concept drift), so only a model trained on recent
labelled traffic can learn it. Each day is one CSV batch for the inbox and its ground truth
for the labels folder, both recomputed from (seed, day): writing a day twice writes the same
bytes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from rendezvous.demo.data import LABEL, default_probability, enrich, make_requests

FIRST_DAY = datetime(2026, 11, 1, tzinfo=UTC)


def downturn_probability(enriched: pd.DataFrame) -> np.ndarray:
    """The demo's default probability after the downturn: business loans, small businesses,
    debt-to-income above 0.35 and the premier segment all weigh more than before."""
    base = np.clip(default_probability(enriched), 1e-9, 1 - 1e-9)
    dti = enriched["debt_to_income"].to_numpy(dtype="float64")
    business = (enriched["purpose"] == "business").to_numpy()
    small_business = (enriched["segment"] == "small_business").to_numpy()
    premier = (enriched["segment"] == "premier").to_numpy()
    z = (
        logit(base)
        + 1.6 * business
        + 1.0 * small_business
        + 1.2 * premier
        + 3.0 * np.maximum(dti - 0.35, 0)
    )
    return expit(z)


def day_seed(seed: int, day: int) -> int:
    return int(np.random.SeedSequence([seed, 1000 + day]).generate_state(1)[0])


def write_traffic(
    inbox: Path,
    labels_dir: Path,
    customers: pd.DataFrame,
    first_day: int,
    days: int,
    rows: int = 2000,
    seed: int = 7,
) -> list[tuple[Path, Path]]:
    """Write ``days`` batches (``loans-YYYY-MM-DD.csv``) and their labels; return the path pairs."""
    inbox, labels_dir = Path(inbox), Path(labels_dir)
    inbox.mkdir(parents=True, exist_ok=True)
    labels_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for day in range(first_day, first_day + days):
        start = FIRST_DAY + timedelta(days=day - 1)
        requests = make_requests(rows, customers, start, day_seed(seed, day))
        p = downturn_probability(enrich(requests, customers))
        outcome = (np.random.default_rng([seed, 2000 + day]).random(len(p)) < p).astype("int64")
        batch = inbox / f"loans-{start:%Y-%m-%d}.csv"
        labels = labels_dir / f"labels-{start:%Y-%m-%d}.csv"
        requests.to_csv(batch, index=False)
        pd.DataFrame({"request_id": requests["request_id"], LABEL: outcome}).to_csv(labels, index=False)
        written.append((batch, labels))
    return written
