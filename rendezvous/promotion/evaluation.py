"""Judging models on labelled rows: every model scores the same rows, through the same code.

Two kinds of evidence: models re-scored now on labelled rows newer than the candidate's
training data, and the scores actually logged on live traffic (live, canary and the candidate
in shadow) joined with the outcomes that arrived since. Scores are produced by
``rendezvous.scoring.score_frame``, the function the scoring bins use, so a figure here is a
figure of the model as it serves; figures are ``rendezvous.metrics``'s, each model's positive
class the one recorded at its registration.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import sklearn

from rendezvous.classes import model_classes
from rendezvous.metrics import figures, finite
from rendezvous.promotion.labels import load_labels
from rendezvous.registry import ModelRecord, inspect_estimator
from rendezvous.scorelog import read as scorelog
from rendezvous.scoring import score_frame
from rendezvous.store import Store

Compared = dict[str, tuple[ModelRecord, Any]]
"""Models to judge together, by name (candidate, live, canary): the record and the estimator."""


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


def positive_classes(models: Compared) -> dict[str, str | None]:
    """Each model's positive class as recorded at registration (a fresh candidate's from its
    ``classes_``); None for a regressor or a multi-class model."""
    return {
        name: model_classes(record.metadata, lambda est=est: est).positive
        if record.kind == "classifier"
        else None
        for name, (record, est) in models.items()
    }


def kind_of(models: Compared) -> str:
    kinds = {record.kind for record, _ in models.values()}
    if len(kinds) > 1:
        raise ValueError(f"cannot compare a classifier with a regressor ({sorted(kinds)})")
    return kinds.pop()


def rescore(frame: pd.DataFrame, models: Compared, id_column: str) -> dict[str, pd.DataFrame]:
    """Every model's scores on the same rows (request_id, score, label), keyed like ``models``."""
    return {
        name: score_frame(estimator, record, frame, id_column)
        for name, (record, estimator) in models.items()
    }


def figures_of(
    frame: pd.DataFrame, models: Compared, scored: dict[str, pd.DataFrame], label_column: str
) -> dict[str, dict[str, Any]]:
    """Every model's figures on the rows it re-scored, keyed like ``models``."""
    if not models:
        return {}
    kind = kind_of(models)
    positives = positive_classes(models)
    outcome = frame[label_column].astype("str").reset_index(drop=True)
    return {
        name: {
            "version": record.version,
            **figures(kind, outcome, scored[name]["score"], scored[name]["label"], positives[name]),
        }
        for name, (record, _) in models.items()
    }


def compare_on(
    frame: pd.DataFrame, models: Compared, id_column: str, label_column: str
) -> dict[str, dict[str, Any]]:
    """Every model's figures on the same labelled rows, keyed like ``models``."""
    return figures_of(frame, models, rescore(frame, models, id_column), label_column)


def logged_scores(store: Store, candidate: str) -> pd.DataFrame:
    """Requests the candidate scored in shadow, one row each, with the scores logged for them
    by live and canary and the outcome if it has arrived: ``{role}_score``, ``{role}_label``,
    ``{role}_version`` for role in shadow, live, canary, and ``outcome``."""
    rows = scorelog.query(
        store,
        "SELECT request_id, role, model_version, score, label FROM scores WHERE role IN "
        "('live', 'canary', 'shadow') AND (role != 'shadow' OR model_version = $1) AND request_id IN "
        "(SELECT request_id FROM scores WHERE role = 'shadow' AND model_version = $1)",
        [candidate],
    ).to_pandas()
    known = load_labels(store)
    outcomes = known[known["request_id"].isin(rows["request_id"])]
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
    out["mean_abs_score_diff"] = finite(float((shadow - live).abs().mean()))
    if len(both) > 1 and shadow.std() > 0 and live.std() > 0:
        out["score_correlation"] = finite(float(np.corrcoef(shadow, live)[0, 1]))
    if kind == "classifier":
        same = both["shadow_label"].astype("str") == both["live_label"].astype("str")
        out["label_agreement"] = finite(float(same.mean()))
    return out


def logged_rows(logged: pd.DataFrame) -> tuple[list[str], pd.DataFrame]:
    """The roles logged, and the requests labelled and scored by all of them."""
    roles = ["shadow", "live"] + (["canary"] if logged["canary_score"].notna().any() else [])
    return roles, logged.dropna(subset=["outcome", *(f"{r}_score" for r in roles)])


def logged_metrics(
    logged: pd.DataFrame, kind: str, positives: dict[str, str | None]
) -> dict[str, dict[str, Any]]:
    """Figures of the scores logged on live traffic, on the requests labelled and scored by all;
    ``positives`` by role (shadow, live, canary)."""
    roles, usable = logged_rows(logged)
    outcome = usable["outcome"].astype("str")
    results = {}
    for role in roles:
        versions = sorted(usable[f"{role}_version"].dropna().astype("str").unique())
        results[role] = {
            "version": ", ".join(versions) if versions else None,
            **figures(
                kind,
                outcome,
                usable[f"{role}_score"].astype("float64"),
                usable[f"{role}_label"].astype("str"),
                positives.get(role),
            ),
        }
    return results
