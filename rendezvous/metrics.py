"""Model figures on labelled rows, one implementation (scikit-learn) for every caller.

Promotion evaluation, training's holdout figures and realized performance all call
``figures``. Outcomes and predicted labels arrive already spelled as the model's classes
(``rendezvous.classes``), so a classifier's figures compare stored text with stored text.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    log_loss,
    mean_absolute_error,
    r2_score,
    roc_auc_score,
    root_mean_squared_error,
)

PRIMARY_METRIC = {"classifier": ("roc_auc", True), "regressor": ("rmse", False)}
"""The figure a verdict rests on, and whether higher is better."""
METRICS = {
    "classifier": ("roc_auc", "log_loss", "accuracy", "positive_rate"),
    "regressor": ("rmse", "mae", "r2"),
}
_EPS = 1e-15


def finite(value: float | None) -> float | None:
    """A figure, or None where it is not a finite number (never a made-up value)."""
    return None if value is None or not math.isfinite(value) else float(value)


def classification_figures(
    outcome: pd.Series, score: pd.Series, label: pd.Series, positive: str | None
) -> dict[str, Any]:
    """ROC AUC, log loss, accuracy and positive rate; a figure the rows cannot support is None.

    ``outcome`` and ``label`` are class text as stored; ``score`` is the probability of
    ``positive`` (None for a multi-class model: accuracy only).
    """
    n = len(outcome)
    out: dict[str, Any] = {"rows": n, **dict.fromkeys(METRICS["classifier"])}
    if n == 0:
        return out
    truth, predicted, classes = _class_codes(outcome, label)
    out["accuracy"] = finite(accuracy_score(truth, predicted))
    if positive is None:
        return out
    y = truth == (classes.index(positive) if positive in classes else len(classes))  # absent: no row
    p = np.clip(score.to_numpy(dtype="float64"), _EPS, 1 - _EPS)
    out["positive_rate"] = float(y.mean())
    if 0 < y.sum() < n:
        out["roc_auc"] = finite(roc_auc_score(y, p))
    out["log_loss"] = finite(log_loss(y, p, labels=[False, True]))
    return out


def _class_codes(outcome: pd.Series, label: pd.Series) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Outcome and label as codes into one list of class texts: scikit-learn compares integers
    at numpy speed, where it would sort text row by row (4 s over 2M labelled scores)."""
    codes, classes = pd.factorize(pd.concat([outcome, label], ignore_index=True).astype("str"))
    return codes[: len(outcome)], codes[len(outcome) :], list(classes)


def regression_figures(outcome: pd.Series, prediction: pd.Series) -> dict[str, Any]:
    """RMSE, MAE and R2 on the rows where outcome and prediction are finite numbers."""
    y = pd.to_numeric(outcome, errors="coerce").to_numpy(dtype="float64")
    pred = prediction.to_numpy(dtype="float64")
    usable = np.isfinite(y) & np.isfinite(pred)
    y, pred = y[usable], pred[usable]
    out: dict[str, Any] = {"rows": int(usable.sum()), **dict.fromkeys(METRICS["regressor"])}
    if len(y):
        out["rmse"] = finite(root_mean_squared_error(y, pred))
        out["mae"] = finite(mean_absolute_error(y, pred))
    if len(y) > 1:
        out["r2"] = finite(r2_score(y, pred))
    return out


def figures(
    kind: str, outcome: pd.Series, score: pd.Series, label: pd.Series, positive: str | None
) -> dict[str, Any]:
    """The figures of a classifier or a regressor on labelled rows, with the rows behind them."""
    if kind == "classifier":
        return classification_figures(outcome, score, label, positive)
    return regression_figures(outcome, score)
