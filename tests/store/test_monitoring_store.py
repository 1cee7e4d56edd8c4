"""Metrics rows and realized performance on both databases: re-runs replace, figures match
scikit-learn on the same rows, only committed batches count, row counts are right."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from model_rows import insert_model
from score_rows import log_scores
from sklearn import metrics as skm
from sklearn.linear_model import LogisticRegression
from sqlalchemy import func, insert, select

from rendezvous.monitoring.metrics_store import read_metrics, replace_batch_metrics
from rendezvous.monitoring.performance import realized_performance
from rendezvous.promotion import evaluation
from rendezvous.promotion.labels import add_labels as add_label_rows
from rendezvous.promotion.labels import load_labels, read_label_file
from rendezvous.registry import Registry
from rendezvous.scoring import score_frame
from rendezvous.store import Store
from rendezvous.store.schema import batches, labels, metrics

T0 = datetime(2026, 11, 1, 10, tzinfo=UTC)


@pytest.fixture
def store(database_url: str) -> Store:
    return Store(database_url)


def add_batch(store: Store, batch_id: str, state: str, finished: datetime) -> None:
    with store.begin() as conn:
        conn.execute(
            insert(batches).values(
                id=batch_id,
                source=f"{batch_id}.csv",
                sha256=batch_id.ljust(64, "0"),
                format="csv",
                state=state,
                rows_in=0,
                rows_scored=0,
                rows_quarantined=0,
                attempts=1,
                received_at=finished,
                finished_at=finished,
            )
        )




def add_labels(store: Store, ids: list[str], outcomes: list[str]) -> None:
    with store.begin() as conn:
        conn.execute(
            insert(labels),
            [
                {"request_id": i, "outcome": o, "source": "test", "received_at": T0}
                for i, o in zip(ids, outcomes, strict=True)
            ],
        )


def scored(prefix: str, n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    p = np.clip(0.3 * y + rng.uniform(0, 0.7, n), 0, 1)
    frame = pd.DataFrame(
        {
            "request_id": [f"{prefix}-{i}" for i in range(n)],
            "score": p,
            "label": np.where(p >= 0.5, "1", "0"),
        }
    )
    return frame, y


def test_replacing_a_batch_metrics_never_duplicates(store: Store) -> None:
    add_batch(store, "b1", "committed", T0)
    rows = [
        {"role": "live", "model_version": "m", "metric": "wasserstein", "feature": "x", "value": 0.3,
         "threshold": 0.1, "alert": True, "detail": {"reasons": ["statistic"], "n": np.int64(5)}},
        {"role": "canary", "model_version": "c", "metric": "ks", "value": float("nan")},
    ]  # fmt: skip
    with store.begin() as conn:
        replace_batch_metrics(conn, "b1", rows)
    with store.begin() as conn:
        replace_batch_metrics(conn, "b1", rows[:1])
    frame = read_metrics(store)
    assert len(frame) == 1
    row = frame.iloc[0]
    assert (row["feature"], row["alert"], row["detail"]["n"], row["source"]) == ("x", True, 5, "b1.csv")
    with store.begin() as conn:
        replace_batch_metrics(conn, "b1", rows)
    nan_row = read_metrics(store).set_index("metric").loc["ks"]
    assert nan_row["value"] is None or math.isnan(nan_row["value"])  # NaN stored as NULL
    assert nan_row["feature"] is None


def test_only_committed_batches_are_read_unless_asked(store: Store) -> None:
    add_batch(store, "ok", "committed", T0)
    add_batch(store, "broken", "failed", T0)
    with store.begin() as conn:
        for batch in ("ok", "broken"):
            replace_batch_metrics(conn, batch, [{"role": "live", "metric": "psi", "value": 0.1}])
    assert set(read_metrics(store)["batch_id"]) == {"ok"}
    assert set(read_metrics(store, committed_only=False)["batch_id"]) == {"ok", "broken"}
    assert set(read_metrics(store, batch_id="broken.csv", committed_only=False)["batch_id"]) == {"broken"}


def test_realized_performance_matches_sklearn_per_batch_and_role(store: Store, tmp_path: Path) -> None:
    insert_model(store, "live-1")
    insert_model(store, "canary-1", role="canary")
    first, y1 = scored("a", 400, seed=1)
    second, y2 = scored("b", 300, seed=2)
    add_batch(store, "a", "committed", T0)
    add_batch(store, "b", "committed", T0 + timedelta(hours=2))
    for batch, frame in (("a", first), ("b", second)):
        log_scores(store, tmp_path, batch, "live", "live-1", frame)
        log_scores(store, tmp_path, batch, "canary", "canary-1", frame.assign(score=frame["score"] * 0.9))
    # Labels for all of batch a, and for only the first 100 requests of batch b.
    add_labels(store, first["request_id"].tolist(), [str(v) for v in y1])
    add_labels(store, second["request_id"].tolist()[:100], [str(v) for v in y2[:100]])
    perf = realized_performance(store).set_index(["window", "role"])
    live_a = perf.loc[("a.csv", "live")]
    assert live_a["n"] == 400
    assert live_a["roc_auc"] == pytest.approx(skm.roc_auc_score(y1, first["score"]))
    assert live_a["log_loss"] == pytest.approx(skm.log_loss(y1, first["score"]))
    assert live_a["accuracy"] == pytest.approx(np.mean((first["score"] >= 0.5) == y1))
    assert live_a["positive_rate"] == pytest.approx(y1.mean())
    canary_a = perf.loc[("a.csv", "canary")]
    assert canary_a["log_loss"] == pytest.approx(skm.log_loss(y1, first["score"] * 0.9))
    live_b = perf.loc[("b.csv", "live")]
    assert live_b["n"] == 100
    assert live_b["roc_auc"] == pytest.approx(skm.roc_auc_score(y2[:100], second["score"][:100]))
    by_day = realized_performance(store, by="day")
    assert set(by_day["window"]) == {"2026-11-01"}
    assert by_day.set_index("role").loc["live", "n"] == 500
    later = realized_performance(store, since=T0 + timedelta(hours=1))
    assert set(later["window"]) == {"b.csv"}


def test_performance_ignores_uncommitted_batches_and_handles_one_class(
    store: Store, tmp_path: Path
) -> None:
    insert_model(store, "live-1")
    frame, _ = scored("c", 50, seed=3)
    add_batch(store, "c", "committed", T0)
    add_batch(store, "d", "failed", T0)
    log_scores(store, tmp_path, "c", "live", "live-1", frame)
    log_scores(store, tmp_path, "d", "live", "live-1", frame.assign(request_id="d" + frame["request_id"]))
    add_labels(store, frame["request_id"].tolist(), ["0"] * 50)
    add_labels(store, ("d" + frame["request_id"]).tolist(), ["1"] * 50)
    perf = realized_performance(store)
    assert perf["window"].tolist() == ["c.csv"]
    assert math.isnan(perf.loc[0, "roc_auc"])  # one class only: AUC undefined, not an error
    assert perf.loc[0, "accuracy"] == pytest.approx((frame["label"] == "0").mean())


def test_regressors_get_error_figures(store: Store, tmp_path: Path) -> None:
    insert_model(store, "reg-1", kind="regressor")
    add_batch(store, "r", "committed", T0)
    frame = pd.DataFrame(
        {"request_id": ["r1", "r2", "r3", "r4"], "score": [1.0, 2.0, 3.0, 5.0], "label": None}
    )
    log_scores(store, tmp_path, "r", "live", "reg-1", frame)
    add_labels(store, ["r1", "r2", "r3", "r4"], ["1", "2", "4", "5"])
    row = realized_performance(store).iloc[0]
    assert row["kind"] == "regressor" and row["n"] == 4
    assert row["rmse"] == pytest.approx(0.5)
    assert row["mae"] == pytest.approx(0.25)
    assert row["r2"] == pytest.approx(skm.r2_score([1, 2, 4, 5], [1, 2, 3, 5]))
    with store.begin() as conn:
        assert conn.execute(select(func.count()).select_from(metrics)).scalar_one() == 0


def test_promotion_and_realized_performance_give_one_answer_for_float_classes(
    store: Store, tmp_path
) -> None:
    """A LogisticRegression fitted on 0.0/1.0 targets: registered, scored, labelled with "1.0"
    outcomes through the write paths; both figure paths agree with scikit-learn's own."""
    rng = np.random.default_rng(11)
    features = pd.DataFrame({"x1": rng.normal(size=400), "x2": rng.normal(size=400)})
    y = (features.x1 + rng.normal(size=400) > 0).astype("float64")  # 0.0 / 1.0
    path = tmp_path / "float.joblib"
    joblib.dump(LogisticRegression().fit(features, y), path)
    registry = Registry(store, str(tmp_path / "models"))
    record = registry.register(path, "live", version="float-1", trust_pickle=True)  # our own file
    estimator = registry.load(record)
    frame = features.assign(request_id=[f"f{i}" for i in range(400)])
    add_batch(store, "f", "committed", T0)
    log_scores(store, tmp_path, "f", "live", "float-1", score_frame(estimator, record, frame, "request_id"))
    labels_file = tmp_path / "float.csv"
    pd.DataFrame({"request_id": frame["request_id"], "outcome": y}).to_csv(labels_file, index=False)
    assert "1.0" in labels_file.read_text()
    outcomes = read_label_file(str(labels_file), "request_id", ["outcome"])
    assert add_label_rows(store, outcomes, labels_file.name)[0].stored == 400

    realized = realized_performance(store).iloc[0]
    stored = dict(load_labels(store).itertuples(index=False))
    promotion = evaluation.compare_on(
        frame.assign(y=frame["request_id"].map(stored)), {"live": (record, estimator)}, "request_id", "y"
    )["live"]
    expected_auc = skm.roc_auc_score(y, estimator.predict_proba(features)[:, 1])
    expected_accuracy = skm.accuracy_score(y, estimator.predict(features))
    assert realized["roc_auc"] == pytest.approx(expected_auc, abs=1e-12)
    assert promotion["roc_auc"] == pytest.approx(expected_auc, abs=1e-12)
    assert realized["accuracy"] == pytest.approx(expected_accuracy)
    assert promotion["accuracy"] == pytest.approx(expected_accuracy)
    assert realized["log_loss"] == pytest.approx(promotion["log_loss"], abs=1e-12)
    assert realized["n"] == promotion["rows"] == 400
