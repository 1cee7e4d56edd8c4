"""The floor: what a bare pandas + scikit-learn script does for one batch, with no orchestration,
no framework validation and no database. Same reads, row checks, join, features, two models'
scoring and the same files as the flow: the response, the request log and the dev copy (the
enriched rows, as Parquet) and both models' scores (Parquet instead of the store)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.csv as pacsv

from rendezvous.demo.data import PURPOSES, RANGES, TERMS
from rendezvous.demo.features import add_features


def score_bare(path: Path, reference: pd.DataFrame, live: Any, canary: Any, out: Path) -> int:
    frame = pacsv.read_csv(path).to_pandas()
    ok = frame.notna().all(axis=1) & ~frame["request_id"].duplicated(keep=False)
    for column, (low, high) in RANGES.items():
        ok &= frame[column].between(low, high)
    ok &= frame["purpose"].isin(PURPOSES) & frame["term_months"].isin(TERMS)
    enriched = add_features(frame.loc[ok].merge(reference, on="customer_id", how="inner"))
    live_scores = live.predict_proba(enriched)[:, 1]
    canary_scores = canary.predict_proba(enriched)[:, 1]
    ids = enriched["request_id"]
    pd.DataFrame({"request_id": ids, "score": live_scores}).to_csv(out / "response.csv", index=False)
    pd.DataFrame({"request_id": ids, "live": live_scores, "canary": canary_scores}).to_parquet(
        out / "scores.parquet"
    )
    enriched.to_parquet(out / "request-log.parquet")
    enriched.to_parquet(out / "dev-copy.parquet")
    return len(enriched)
