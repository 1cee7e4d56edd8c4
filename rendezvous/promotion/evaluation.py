"""Judging models on labelled rows: every model scores the same rows, through the same code.

Two kinds of evidence: models re-scored now on labelled rows newer than the candidate's
training data, and the scores actually logged on live traffic (live, canary and the candidate
in shadow) joined with the outcomes that arrived since. Scores are produced by
``rendezvous.scoring.score_frame``, the function the scoring bins use, so a figure here is a
figure of the model as it serves.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from sklearn.metrics import (
    accuracy_score,
    log_loss,
    mean_absolute_error,
    r2_score,
    roc_auc_score,
    root_mean_squared_error,
)
from sqlalchemy import select

from rendezvous.registry import ModelRecord, inspect_estimator
from rendezvous.scoring import score_frame
from rendezvous.store import Store
from rendezvous.store.schema import labels, scores

PRIMARY_METRIC = {"classifier": ("roc_auc", True), "regressor": ("rmse", False)}
"""The figure a verdict rests on, and whether higher is better."""
METRICS = {
    "classifier": ("roc_auc", "log_loss", "accuracy"),
    "regressor": ("rmse", "mae", "r2"),
}
_EPS = 1e-15


def transient_record(estimator: Any, version: str) -> ModelRecord:
    """A registry-shaped description of a model not registered yet (a fresh candidate)."""
    kind, names = inspect_estimator(estimator)
    return ModelRecord(
        version=version,
        role="candidate",
        shadow=False,
        path="",
        sha256="",
        kind=kind,
        feature_names=names,
        sklearn_version=sklearn.__version__,
        metadata={},
        registered_at=datetime.now(UTC),
    )


def positive_class(estimators: dict[str, Any]) -> str | None:
    """The positive class (as text) of binary classifiers, which must all predict the same classes."""
    seen = {
        name: tuple(map(str, est.classes_))
        for name, est in estimators.items()
        if hasattr(est, "classes_")
    }
    if len(set(seen.values())) > 1:
        raise ValueError(f"the models predict different classes: {seen}")
    classes = next(iter(seen.values()), ())
    return classes[1] if len(classes) == 2 else None


def _finite(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else round(float(value), 6)


def metrics(
    kind: str, outcome: pd.Series, score: pd.Series, label: pd.Series, positive: str | None
) -> dict[str, Any]:
    """ROC AUC, log loss and accuracy of a classifier, or RMSE, MAE and R2 of a regressor.

    ``outcome`` and ``label`` are text (as stored); ``score`` is the probability of
    ``positive`` for a binary classifier, the prediction for a regressor. A figure that the
    rows cannot support (AUC with one class present) is None, never a made-up number.
    """
    n = len(outcome)
    out: dict[str, Any] = {"rows": n, **dict.fromkeys(METRICS[kind])}
    if n == 0:
        return out
    if kind == "classifier":
        out["accuracy"] = _finite(accuracy_score(outcome.astype("str"), label.astype("str")))
        if positive is not None:
            y = (outcome.astype("str") == positive).to_numpy()
            p = np.clip(score.to_numpy(dtype="float64"), _EPS, 1 - _EPS)
            if 0 < y.sum() < n:
                out["roc_auc"] = _finite(roc_auc_score(y, p))
            out["log_loss"] = _finite(log_loss(y, p, labels=[False, True]))
        return out
    y = pd.to_numeric(outcome, errors="coerce").to_numpy(dtype="float64")
    pred = score.to_numpy(dtype="float64")
    usable = np.isfinite(y) & np.isfinite(pred)
    y, pred = y[usable], pred[usable]
    out["rows"] = int(usable.sum())
    if len(y):
        out["rmse"] = _finite(root_mean_squared_error(y, pred))
        out["mae"] = _finite(mean_absolute_error(y, pred))
    if len(y) > 1:
        out["r2"] = _finite(r2_score(y, pred))
    return out


def compare_on(
    frame: pd.DataFrame,
    models: dict[str, tuple[ModelRecord, Any]],
    id_column: str,
    label_column: str,
) -> dict[str, dict[str, Any]]:
    """Every model's metrics on the same labelled rows, keyed like ``models``."""
    if not models:
        return {}
    kinds = {record.kind for record, _ in models.values()}
    if len(kinds) > 1:
        raise ValueError(f"cannot compare a classifier with a regressor ({sorted(kinds)})")
    kind = kinds.pop()
    positive = positive_class({k: est for k, (_, est) in models.items()}) if kind == "classifier" else None
    outcome = frame[label_column].astype("str").reset_index(drop=True)
    results = {}
    for name, (record, estimator) in models.items():
        scored = score_frame(estimator, record, frame, id_column)
        results[name] = {
            "version": record.version,
            **metrics(kind, outcome, scored["score"], scored["label"], positive),
        }
    return results


def logged_scores(store: Store, candidate: str) -> pd.DataFrame:
    """Requests the candidate scored in shadow, one row each, with the scores logged for them
    by live and canary and the outcome if it has arrived: ``{role}_score``, ``{role}_label``,
    ``{role}_version`` for role in shadow, live, canary, and ``outcome``."""
    shadowed = select(scores.c.request_id).where(
        scores.c.role == "shadow", scores.c.model_version == candidate
    )
    query = select(
        scores.c.request_id, scores.c.role, scores.c.model_version, scores.c.score, scores.c.label
    ).where(
        scores.c.request_id.in_(shadowed),
        scores.c.role.in_(("live", "canary", "shadow")),
        (scores.c.role != "shadow") | (scores.c.model_version == candidate),
    )
    with store.begin() as conn:
        rows = pd.DataFrame(
            conn.execute(query).all(),
            columns=["request_id", "role", "model_version", "score", "label"],
        )
        outcomes = pd.DataFrame(
            conn.execute(
                select(labels.c.request_id, labels.c.outcome).where(labels.c.request_id.in_(shadowed))
            ).all(),
            columns=["request_id", "outcome"],
        )
    rows = rows.drop_duplicates(["request_id", "role"]).rename(columns={"model_version": "version"})
    wide = pd.DataFrame({"request_id": rows["request_id"].drop_duplicates()})
    for role in ("shadow", "live", "canary"):
        part = rows.loc[rows["role"] == role, ["request_id", "score", "label", "version"]]
        wide = wide.merge(part.add_prefix(f"{role}_").rename(columns={f"{role}_request_id": "request_id"}),
                          on="request_id", how="left")
    return wide.merge(outcomes, on="request_id", how="left")


def agreement(logged: pd.DataFrame, kind: str) -> dict[str, Any]:
    """How the candidate's shadow scores compare with live's on the same requests."""
    both = logged.dropna(subset=["shadow_score", "live_score"])
    out: dict[str, Any] = {
        "rows": len(both),
        "label_agreement": None,
        "mean_abs_score_diff": None,
        "score_correlation": None,
    }
    if both.empty:
        return out
    shadow = both["shadow_score"].astype("float64")
    live = both["live_score"].astype("float64")
    out["mean_abs_score_diff"] = _finite(float((shadow - live).abs().mean()))
    if len(both) > 1 and shadow.std() > 0 and live.std() > 0:
        out["score_correlation"] = _finite(float(np.corrcoef(shadow, live)[0, 1]))
    if kind == "classifier":
        same = both["shadow_label"].astype("str") == both["live_label"].astype("str")
        out["label_agreement"] = _finite(float(same.mean()))
    return out


def logged_metrics(logged: pd.DataFrame, kind: str, positive: str | None) -> dict[str, dict[str, Any]]:
    """Metrics of the scores logged on live traffic, on the requests labelled and scored by all."""
    roles = ["shadow", "live"] + (["canary"] if logged["canary_score"].notna().any() else [])
    usable = logged.dropna(subset=["outcome", *(f"{r}_score" for r in roles)])
    outcome = usable["outcome"].astype("str")
    results = {}
    for role in roles:
        versions = sorted(usable[f"{role}_version"].dropna().astype("str").unique())
        results[role] = {
            "version": ", ".join(versions) if versions else None,
            **metrics(
                kind,
                outcome,
                usable[f"{role}_score"].astype("float64"),
                usable[f"{role}_label"].astype("str"),
                positive,
            ),
        }
    return results
