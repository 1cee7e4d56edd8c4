"""Pure pieces of the promotion loop: outcomes, the dev dataset, the time split, metrics, the report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from rendezvous.promotion import dataset, evaluation
from rendezvous.promotion.errors import TrainingError
from rendezvous.promotion.labels import normalize_outcomes, typed_outcomes
from rendezvous.promotion.report import PromotionReport
from rendezvous.roles import promotion

ROOT = Path(__file__).resolve().parents[2]


def test_outcomes_have_one_spelling_per_value() -> None:
    raw = pd.Series(["1", "1.0", " 0 ", "0.25", "", None, "yes", "inf"])
    out = normalize_outcomes(raw)
    assert out.iloc[:4].tolist() == ["1", "1", "0", "0.25"]
    assert out.iloc[4:6].isna().all()
    assert out.iloc[6:].tolist() == ["yes", "inf"]
    assert normalize_outcomes(pd.Series([True, False])).tolist() == ["1", "0"]
    assert normalize_outcomes(pd.Series([1.0, 0.0])).tolist() == ["1", "0"]


def test_typed_outcomes_are_numbers_only_when_all_are() -> None:
    assert typed_outcomes(pd.Series(["1", "0"])).dtype == "int64"
    assert typed_outcomes(pd.Series(["1.5", "0"])).dtype == "float64"
    assert typed_outcomes(pd.Series(["yes", "0"])).tolist() == ["yes", "0"]


def _dev(times: list[str], ids: list[str] | None = None) -> pd.DataFrame:
    ids = ids or [f"r{i}" for i in range(len(times))]
    return pd.DataFrame(
        {"request_id": ids, "requested_at": times, "x": np.arange(len(times), dtype=float), "_batch_id": "b"}
    )


def _outcomes(ids: list[str], values: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"request_id": ids, "outcome": values})


def _rows(dev: pd.DataFrame, outcomes: pd.DataFrame) -> dataset.LabelledRows:
    return dataset.labelled_rows(dev, 1, outcomes, "request_id", "y", "requested_at")


def test_labelled_rows_join_order_by_time_and_drop_untimed() -> None:
    dev = _dev(["2026-11-02T00:00:00Z", "2026-11-01T00:00:00Z", "garbage", "2026-11-03T00:00:00Z"])
    rows = dataset.labelled_rows(
        dev, 1, _outcomes(["r0", "r1", "r2"], ["1", "0", "1"]), "request_id", "y", "requested_at"
    )
    assert rows.frame["request_id"].tolist() == ["r1", "r0"]  # r2 has no time, r3 no label
    assert rows.frame["y"].tolist() == ["0", "1"]
    assert rows.untimed == 1 and rows.dev_rows == 4


def test_time_split_holds_out_the_newest_and_never_splits_a_moment() -> None:
    times = [f"2026-11-0{d}T00:00:00Z" for d in (1, 1, 2, 2, 3, 3, 3, 4)]
    ids = [f"r{i}" for i in range(8)]
    rows = _rows(_dev(times, ids), _outcomes(ids, ["0", "1"] * 4))
    split = dataset.time_split(rows, 0.25)
    # the newest quarter is 2 rows, but the cut falls inside 11-03: all of 11-03 is held out
    assert len(split.holdout) == 4 and len(split.train) == 4
    assert split.ranges["train_to"] == "2026-11-02T00:00:00Z"
    assert split.ranges["holdout_from"] == "2026-11-03T00:00:00Z"
    assert set(split.train["request_id"]).isdisjoint(split.holdout["request_id"])
    assert len(dataset.newer_than(rows, split.ranges["train_to"])) == len(split.holdout)


def test_time_split_refuses_a_single_moment() -> None:
    ids = ["a", "b", "c"]
    rows = _rows(_dev(["2026-11-01T00:00:00Z"] * 3, ids), _outcomes(ids, ["0", "1", "0"]))
    with pytest.raises(TrainingError, match="share one time"):
        dataset.time_split(rows, 0.3)


def test_fingerprint_follows_content_and_order() -> None:
    frame = _dev(["2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z"])
    assert dataset.fingerprint(frame) == dataset.fingerprint(frame.copy())
    changed = frame.assign(x=[0.0, 1.5])
    assert dataset.fingerprint(changed) != dataset.fingerprint(frame)
    assert dataset.fingerprint(frame.iloc[::-1]) != dataset.fingerprint(frame)


def test_dev_storage_reconciles_types_and_skips_staging(tmp_path: Path) -> None:
    root = tmp_path / "dev"
    (root / "date=2026-11-01").mkdir(parents=True)
    (root / "date=2026-11-02").mkdir()
    (root / "_staging" / "b3" / "date=2026-11-03").mkdir(parents=True)
    all_null = pa.array([None], pa.null())
    pq.write_table(pa.table({"request_id": ["a"], "v": all_null}), root / "date=2026-11-01" / "b1.parquet")
    pq.write_table(pa.table({"request_id": ["b"], "v": [2.5]}), root / "date=2026-11-02" / "b2.parquet")
    staged = root / "_staging" / "b3" / "date=2026-11-03" / "p.parquet"
    pq.write_table(pa.table({"request_id": ["c"], "v": [9.0]}), staged)
    frame, files = dataset.read_dev_storage(str(root))
    assert files == 2
    assert sorted(frame["request_id"]) == ["a", "b"]
    assert frame.set_index("request_id")["v"].dtype == "float64"
    assert set(frame["date"]) == {"2026-11-01", "2026-11-02"}
    assert dataset.read_dev_storage(str(tmp_path / "missing"))[1] == 0


def test_classifier_metrics_follow_sklearn_and_admit_missing_figures() -> None:
    outcome = pd.Series(["1", "0", "1", "0"])
    score = pd.Series([0.9, 0.2, 0.4, 0.6])
    label = pd.Series(["1", "0", "0", "1"])
    m = evaluation.metrics("classifier", outcome, score, label, "1")
    assert m["rows"] == 4 and m["accuracy"] == 0.5
    assert m["roc_auc"] == pytest.approx(0.75)
    assert m["log_loss"] == pytest.approx(-np.mean(np.log([0.9, 0.8, 0.4, 0.4])), rel=1e-5)
    one_class = evaluation.metrics(
        "classifier", pd.Series(["1", "1"]), pd.Series([0.3, 0.8]), pd.Series(["0", "1"]), "1"
    )
    assert one_class["roc_auc"] is None and one_class["accuracy"] == 0.5
    none = pd.Series([], dtype="str")
    empty = evaluation.metrics("classifier", none, pd.Series([], dtype=float), none, "1")
    assert empty == {"rows": 0, "roc_auc": None, "log_loss": None, "accuracy": None}


def test_regressor_metrics() -> None:
    m = evaluation.metrics(
        "regressor", pd.Series(["1", "3"]), pd.Series([2.0, 3.0]), pd.Series([None, None]), None
    )
    assert (m["rmse"], m["mae"]) == (pytest.approx(np.sqrt(0.5)), pytest.approx(0.5))
    assert m["r2"] == pytest.approx(0.5)


def test_agreement_compares_candidate_with_live_on_the_same_requests() -> None:
    logged = pd.DataFrame(
        {
            "request_id": ["a", "b", "c", "d"],
            "shadow_score": [0.9, 0.1, 0.6, np.nan],
            "shadow_label": ["1", "0", "1", None],
            "live_score": [0.8, 0.3, 0.4, 0.5],
            "live_label": ["1", "0", "0", "1"],
        }
    )
    a = evaluation.agreement(logged, "classifier")
    assert a["rows"] == 3
    assert a["label_agreement"] == pytest.approx(2 / 3, abs=1e-6)
    assert a["mean_abs_score_diff"] == pytest.approx((0.1 + 0.2 + 0.2) / 3, abs=1e-6)


def _report(newer: dict, shadow: dict, kind: str = "classifier") -> PromotionReport:
    return PromotionReport(
        candidate="X",
        kind=kind,
        sha256="ab" * 32,
        roles={"live": "L", "canary": "C"},
        newer_since="2026-11-08T00:00:00Z",
        newer=newer,
        shadow=shadow,
        agreement={"rows": 10, "label_agreement": 0.9, "mean_abs_score_diff": 0.05, "score_correlation": 0.8},
    )


def _figs(version: str, auc: float | None, rows: int = 100) -> dict:
    return {"version": version, "rows": rows, "roc_auc": auc, "log_loss": 0.4, "accuracy": 0.8}


def test_verdict_rests_on_every_labelled_comparison() -> None:
    better = _report(
        {"candidate": _figs("X", 0.9), "live": _figs("L", 0.8), "canary": _figs("C", 0.7)},
        {"shadow": _figs("X", 0.85, 40), "live": _figs("L", 0.8, 40)},
    )
    assert better.verdict()[0] == "approve"
    mixed = _report(
        {"candidate": _figs("X", 0.9), "live": _figs("L", 0.8)},
        {"shadow": _figs("X", 0.7), "live": _figs("L", 0.8)},
    )
    assert mixed.verdict()[0] == "undecided" and "1 of 2" in mixed.verdict()[1]
    worse = _report({"candidate": _figs("X", 0.7), "live": _figs("L", 0.8)}, {})
    assert worse.verdict()[0] == "reject"
    unshadowed = _report({"candidate": _figs("X", 0.9), "live": _figs("L", 0.8)}, {})
    assert unshadowed.verdict()[0] == "undecided" and "no labelled shadow" in unshadowed.verdict()[1]
    assert _report({}, {}).verdict()[0] == "undecided"
    rmse_figures = {
        "candidate": {"version": "X", "rows": 5, "rmse": 1.0},
        "live": {"version": "L", "rows": 5, "rmse": 2.0},
    }
    rmse = _report(
        rmse_figures,
        {"shadow": rmse_figures["candidate"], "live": rmse_figures["live"]},
        kind="regressor",
    )
    assert rmse.verdict()[0] == "approve"


def test_report_shows_figures_rows_and_the_rotation() -> None:
    report = _report(
        {"candidate": _figs("X", 0.9, 250), "live": _figs("L", 0.8, 250), "canary": _figs("C", 0.7, 250)},
        {"shadow": _figs("X", 0.85, 40), "live": _figs("L", 0.8, 40)},
    )
    text = report.markdown()
    assert "ROC AUC on 250 labelled rows newer than" in text
    assert "candidate 0.9000, live 0.8000, canary 0.7000" in text
    assert "`X` -> live, `L` -> canary, `C` -> retired" in text
    table = report.table()
    assert [r["rows"] for r in table] == [250, 250, 250, 40, 40, 10]
    assert table[-1]["agreement with live"].startswith("same label 90.0%")
    assert "**approve**" in report.form_description()


def test_rotation_plan_without_a_canary_retires_nothing() -> None:
    rotation = promotion({"live": "L", "canary": None}, "X")
    assert (rotation.before(), rotation.after()) == (
        {"live": "L", "canary": None, "candidate": "X"},
        {"live": "X", "canary": "L"},
    )


def test_training_is_scheduled_and_promotion_is_run_by_hand() -> None:
    deployments = {d["name"]: d for d in yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]}
    assert deployments["train-candidate"]["schedules"][0]["cron"]
    assert "schedules" not in deployments["promote-model"]
