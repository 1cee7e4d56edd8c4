"""Realized performance: once labels arrive, how well each model role actually did.

Scores (per role, as the batch was scored) joined with the ``labels`` table by request id, per
batch or per day, with the number of labelled rows behind every figure. Classifiers: ROC AUC,
log loss, accuracy and the observed positive rate; regressors: RMSE, MAE and R².
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import numpy as np
import pandas as pd
from sklearn import metrics as skm
from sqlalchemy import select

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


def _normalise(values: pd.Series) -> pd.Series:
    """Text of a class: "1", "1.0" and 1 are the same class; other text is kept as it is."""
    text = values.astype("str").str.strip()
    number = pd.to_numeric(text, errors="coerce")
    whole = number.notna() & np.isclose(number.fillna(0) % 1, 0)
    text[whole] = number[whole].astype("int64").astype("str")
    return text


def _positive_class(group: pd.DataFrame) -> str | None:
    """The class a classifier's score is the probability of (the label of its high scores)."""
    high = group.loc[group["score"] > 0.5, "label"].dropna()
    if len(high):
        return str(high.mode().iloc[0])
    if set(group["outcome"]) | set(group["label"].dropna()) <= {"0", "1"}:
        return "1"
    return None


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


def _classifier_figures(group: pd.DataFrame, positive: str | None) -> dict[str, float]:
    figures = {"accuracy": float((group["label"] == group["outcome"]).mean())}
    if positive is None:
        return figures
    y = (group["outcome"] == positive).to_numpy(dtype=int)
    p = group["score"].to_numpy()
    figures["positive_rate"] = float(y.mean())
    figures["log_loss"] = float(skm.log_loss(y, np.clip(p, 1e-15, 1 - 1e-15), labels=[0, 1]))
    figures["roc_auc"] = float(skm.roc_auc_score(y, p)) if 0 < y.sum() < len(y) else np.nan
    return figures


def _regressor_figures(group: pd.DataFrame) -> dict[str, float]:
    y = pd.to_numeric(group["outcome"], errors="coerce").to_numpy(dtype=float)
    p = group["score"].to_numpy()
    ok = np.isfinite(y) & np.isfinite(p)
    y, p = y[ok], p[ok]
    if not len(y):
        return {}
    return {
        "rmse": float(np.sqrt(skm.mean_squared_error(y, p))),
        "mae": float(skm.mean_absolute_error(y, p)),
        "r2": float(skm.r2_score(y, p)) if len(y) > 1 else np.nan,
    }


def realized_performance(store: Store, since: datetime | None = None, by: Window = "batch") -> pd.DataFrame:
    """One row per (window, role, model version): the figures and the labelled rows behind them."""
    frame = labelled_scores(store, since)
    if frame.empty:
        return pd.DataFrame(columns=COLUMNS)
    with store.begin() as conn:
        kinds = dict(conn.execute(select(models.c.version, models.c.kind)).all())
    frame["outcome"] = _normalise(frame["outcome"])
    frame["label"] = _normalise(frame["label"]).where(frame["label"].notna())
    if by == "batch":
        frame["window"] = frame["source"]
        frame["at"] = frame.groupby("batch_id")["finished_at"].transform("max")
    else:
        frame["window"] = frame["finished_at"].dt.strftime("%Y-%m-%d")
        frame["at"] = frame["finished_at"].dt.floor("D")
    positives = {
        version: _positive_class(group)
        for version, group in frame.groupby("model_version")
        if kinds.get(version, "classifier") == "classifier"
    }
    out = []
    for (window, at, role, version), group in frame.groupby(
        ["window", "at", "role", "model_version"], sort=False
    ):
        kind = kinds.get(version, "classifier")
        figures = (
            _classifier_figures(group, positives[version])
            if kind == "classifier"
            else _regressor_figures(group)
        )
        out.append(
            {
                "window": window,
                "at": at,
                "role": role,
                "model_version": version,
                "kind": kind,
                "n": len(group),
                **figures,
            }
        )
    result = pd.DataFrame(out).reindex(columns=COLUMNS)
    return result.sort_values(["at", "role", "model_version"], ignore_index=True)
