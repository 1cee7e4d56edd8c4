"""Realized performance: once labels arrive, how well each model role actually did.

Scores (per role, as the batch was scored) joined with the ``labels`` table by request id, per
batch or per day, with the number of labelled rows behind every figure. Classifiers: ROC AUC,
log loss, accuracy and the observed positive rate; regressors: RMSE, MAE and R². Computed by
``rendezvous.metrics``, as promotion's figures are, on outcomes and labels stored in the
model's class spelling; the positive class is the one recorded at registration.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import pandas as pd
from sqlalchemy import select

from rendezvous.classes import recorded_classes
from rendezvous.metrics import figures
from rendezvous.registry import Registry
from rendezvous.store import Store
from rendezvous.store.schema import batches, labels, models, scores

Window = Literal["batch", "day"]
COLUMNS = [
    "window",
    "at",
    "role",
    "model_version",
    "kind",
    "n",
    "roc_auc",
    "log_loss",
    "accuracy",
    "positive_rate",
    "rmse",
    "mae",
    "r2",
]


def labelled_scores(store: Store, since: datetime | None = None) -> pd.DataFrame:
    """Every score of a committed batch whose request has a label, with the batch's time."""
    query = (
        select(
            scores.c.batch_id,
            batches.c.source,
            batches.c.finished_at,
            scores.c.role,
            scores.c.model_version,
            scores.c.score,
            scores.c.label,
            labels.c.outcome,
        )
        .join(labels, labels.c.request_id == scores.c.request_id)
        .join(batches, batches.c.id == scores.c.batch_id)
        .where(batches.c.state == "committed")
    )
    if since is not None:
        query = query.where(batches.c.finished_at >= since)
    with store.begin() as conn:
        rows = conn.execute(query).all()
    frame = pd.DataFrame(
        rows,
        columns=[
            "batch_id",
            "source",
            "finished_at",
            "role",
            "model_version",
            "score",
            "label",
            "outcome",
        ],
    )
    frame["finished_at"] = pd.to_datetime(frame["finished_at"], utc=True)
    frame["score"] = frame["score"].astype("float64")
    return frame


def realized_performance(store: Store, since: datetime | None = None, by: Window = "batch") -> pd.DataFrame:
    """One row per (window, role, model version): the figures and the labelled rows behind them."""
    frame = labelled_scores(store, since)
    if frame.empty:
        return pd.DataFrame(columns=COLUMNS)
    with store.begin() as conn:
        kinds = dict(conn.execute(select(models.c.version, models.c.kind)).all())
    # Reading records and loading files: models_dir is used only to register.
    classes = recorded_classes(Registry(store, models_dir=""), frame["model_version"].unique())
    if by == "batch":
        frame["window"] = frame["source"]
        frame["at"] = frame.groupby("batch_id")["finished_at"].transform("max")
    else:
        frame["window"] = frame["finished_at"].dt.strftime("%Y-%m-%d")
        frame["at"] = frame["finished_at"].dt.floor("D")
    out = []
    for (window, at, role, version), group in frame.groupby(
        ["window", "at", "role", "model_version"], sort=False
    ):
        known = classes[version]
        found = figures(
            kinds[version],
            group["outcome"],
            group["score"],
            group["label"],
            known.positive if known else None,
        )
        n = found.pop("rows")
        out.append(
            {
                "window": window,
                "at": at,
                "role": role,
                "model_version": version,
                "kind": kinds[version],
                "n": n,
                **found,
            }
        )
    result = pd.DataFrame(out).reindex(columns=COLUMNS)
    figure_columns = COLUMNS[COLUMNS.index("roc_auc") :]
    result[figure_columns] = result[figure_columns].astype("float64")  # a missing figure is NaN
    return result.sort_values(["at", "role", "model_version"], ignore_index=True)
