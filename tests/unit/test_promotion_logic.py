"""Pure pieces of the promotion loop: outcomes, the dev dataset, the time split, metrics, the report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from sklearn.metrics import roc_auc_score

from rendezvous import metrics
from rendezvous.promotion import dataset, evaluation, margin
from rendezvous.promotion.errors import TrainingError
from rendezvous.promotion.labels import typed_outcomes
from rendezvous.promotion.report import PromotionReport
from rendezvous.roles import promotion

ROOT = Path(__file__).resolve().parents[2]


def test_typed_outcomes_are_numbers_only_when_all_are() -> None:
    assert typed_outcomes(pd.Series(["1", "0"])).dtype == "int64"
    assert typed_outcomes(pd.Series(["1.5", "0"])).dtype == "float64"
    assert typed_outcomes(pd.Series(["yes", "0"])).tolist() == ["yes", "0"]
    # a regression outcome beyond int64 stays a number, not a wrapped integer
    assert typed_outcomes(pd.Series(["1e+20", "0"])).tolist() == [1e20, 0.0]


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


def test_dev_storage_reads_ids_written_as_integers_by_one_batch_and_text_by_another(tmp_path: Path) -> None:
    """An id of no declared type: integers from a Parquet batch, text from a CSV one (the
    training crash 'Field rownames has incompatible types: int64 vs large_string')."""
    root = tmp_path / "dev" / "date=2026-11-01"
    root.mkdir(parents=True)
    pq.write_table(pa.table({"rownames": [1, 2], "v": [1, 2]}), root / "b1.parquet")
    text_ids = pa.array(["3"], pa.large_string())
    pq.write_table(pa.table({"rownames": text_ids, "v": [2.5]}), root / "b2.parquet")
    frame, files = dataset.read_dev_storage(str(tmp_path / "dev"))
    assert files == 2
    assert sorted(frame["rownames"]) == ["1", "2", "3"]
    assert frame["v"].dtype == "float64"  # promoted, not turned into text
    assert dataset.read_dev_storage(str(tmp_path / "missing"))[1] == 0


def test_classifier_metrics_follow_sklearn_and_admit_missing_figures() -> None:
    outcome = pd.Series(["1", "0", "1", "0"])
    score = pd.Series([0.9, 0.2, 0.4, 0.6])
    label = pd.Series(["1", "0", "0", "1"])
    m = metrics.figures("classifier", outcome, score, label, "1")
    assert m["rows"] == 4 and m["accuracy"] == 0.5
    assert m["roc_auc"] == pytest.approx(0.75)
    assert m["log_loss"] == pytest.approx(-np.mean(np.log([0.9, 0.8, 0.4, 0.4])), rel=1e-5)
    one_class = metrics.figures(
        "classifier", pd.Series(["1", "1"]), pd.Series([0.3, 0.8]), pd.Series(["0", "1"]), "1"
    )
    assert one_class["roc_auc"] is None and one_class["accuracy"] == 0.5
    none = pd.Series([], dtype="str")
    empty = metrics.figures("classifier", none, pd.Series([], dtype=float), none, "1")
    assert empty == {"rows": 0, "roc_auc": None, "log_loss": None, "accuracy": None, "positive_rate": None}


def test_regressor_metrics() -> None:
    m = metrics.figures(
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


def _report(
    newer: dict, shadow: dict, kind: str = "classifier", margins: dict | None = None, min_rows: int = 20
) -> PromotionReport:
    return PromotionReport(
        candidate="X",
        kind=kind,
        sha256="ab" * 32,
        roles={"live": "L", "canary": "C"},
        newer_since="2026-11-08T00:00:00Z",
        newer=newer,
        shadow=shadow,
        agreement={"rows": 10, "label_agreement": 0.9, "mean_abs_score_diff": 0.05, "score_correlation": 0.8},
        margins=margins if margins is not None else {"newer": _span(0.1), "shadow": _span(0.05)},
        min_rows=min_rows,
    )


def _figs(version: str, auc: float | None, rows: int = 100) -> dict:
    return {"version": version, "rows": rows, "roc_auc": auc, "log_loss": 0.4, "accuracy": 0.8}


def _span(delta: float, half: float = 0.02) -> dict:
    return {"rows": 100, "level": 0.95, "delta": delta, "low": delta - half, "high": delta + half,
            "method": "DeLong"}


def test_verdict_rests_on_every_labelled_comparison_beyond_noise() -> None:
    newer = {"candidate": _figs("X", 0.9), "live": _figs("L", 0.8), "canary": _figs("C", 0.7)}
    shadow = {"shadow": _figs("X", 0.85, 40), "live": _figs("L", 0.8, 40)}
    assert _report(newer, shadow).verdict()[0] == "approve"
    mixed = _report(newer, shadow, margins={"newer": _span(0.1), "shadow": _span(-0.1)})
    assert mixed.verdict()[0] == "undecided" and "1 of 2" in mixed.verdict()[1]
    noise = _report(newer, shadow, margins={"newer": _span(0.1), "shadow": _span(0.01)})
    assert noise.verdict()[0] == "undecided"
    worse_figures = {"candidate": _figs("X", 0.7), "live": _figs("L", 0.8)}
    worse = _report(worse_figures, {}, margins={"newer": _span(-0.1)})
    assert worse.verdict()[0] == "reject"
    unshadowed = _report({"candidate": _figs("X", 0.9), "live": _figs("L", 0.8)}, {})
    assert unshadowed.verdict()[0] == "undecided" and "no labelled shadow" in unshadowed.verdict()[1]
    too_few = _report(newer, shadow, min_rows=200)
    assert too_few.verdict()[0] == "undecided" and "min_verdict_rows=200" in too_few.verdict()[1]
    assert _report({}, {}).verdict()[0] == "undecided"
    rmse_figures = {
        "candidate": {"version": "X", "rows": 50, "rmse": 1.0},
        "live": {"version": "L", "rows": 50, "rmse": 2.0},
    }
    rmse = _report(
        rmse_figures,
        {"shadow": rmse_figures["candidate"], "live": rmse_figures["live"]},
        kind="regressor",
        margins={"newer": _span(-1.0), "shadow": _span(-1.0)},
    )
    assert rmse.verdict()[0] == "approve"


def _verdict_on(candidate: np.ndarray, live: np.ndarray, y: np.ndarray, min_rows: int) -> tuple[str, str]:
    """The verdict when both kinds of evidence are these rows, as build_report assembles it."""
    outcome = pd.Series(y.astype(int).astype(str))
    cand, base = pd.Series(candidate), pd.Series(live)
    found = {
        name: {"version": name, **metrics.figures("classifier", outcome, scores, outcome, "1")}
        for name, scores in (("X", cand), ("L", base))
    }
    interval = margin.difference("classifier", outcome, cand, base, "1")
    return _report(
        {"candidate": found["X"], "live": found["L"]},
        {"shadow": found["X"], "live": found["L"]},
        margins={"newer": interval, "shadow": interval},
        min_rows=min_rows,
    ).verdict()


def test_a_tiny_edge_on_ten_rows_is_undecided() -> None:
    # The report alone: a 1e-6 edge in ROC AUC on 10 rows, with the interval such rows give.
    tiny = {"newer": _span(1e-6, half=0.3), "shadow": _span(1e-6, half=0.3)}
    edge = _report(
        {"candidate": _figs("X", 0.800001, 10), "live": _figs("L", 0.8, 10)},
        {"shadow": _figs("X", 0.800001, 10), "live": _figs("L", 0.8, 10)},
        margins=tiny,
        min_rows=5,
    )
    assert edge.verdict()[0] == "undecided" and "within noise" in edge.verdict()[1]
    # From rows: the candidate orders one more of 25 (positive, negative) pairs correctly.
    y = np.array([0, 1] * 5, dtype=bool)
    candidate = np.linspace(0.1, 0.9, 10)
    live = candidate.copy()
    live[[0, 1]] = candidate[[1, 0]]
    assert roc_auc_score(y, candidate) - roc_auc_score(y, live) == pytest.approx(0.04)
    assert _verdict_on(candidate, live, y, min_rows=200)[0] == "undecided"  # too few rows
    assert _verdict_on(candidate, live, y, min_rows=5)[0] == "undecided"  # enough rows, but noise


def test_a_clear_difference_on_thousands_of_rows_decides() -> None:
    rng = np.random.default_rng(7)
    y = rng.random(3000) < 0.3
    signal = y + rng.normal(size=3000)
    sharp = 1 / (1 + np.exp(-(2 * signal)))
    blurred = 1 / (1 + np.exp(-(signal + 1.5 * rng.normal(size=3000))))
    assert _verdict_on(sharp, blurred, y, min_rows=200)[0] == "approve"
    assert _verdict_on(blurred, sharp, y, min_rows=200)[0] == "reject"


def test_delong_interval_agrees_with_sklearn_and_a_bootstrap() -> None:
    rng = np.random.default_rng(3)
    y = rng.random(1500) < 0.4
    a = y * 0.6 + rng.normal(size=1500)
    b = y * 0.5 + rng.normal(size=1500) * 0.9 + 0.3 * a
    outcome = pd.Series(y.astype(int).astype(str))
    found = margin.difference("classifier", outcome, pd.Series(a), pd.Series(b), "1")
    assert found["delta"] == pytest.approx(roc_auc_score(y, a) - roc_auc_score(y, b))
    rounds = [rng.integers(0, 1500, 1500) for _ in range(300)]
    boot = [roc_auc_score(y[i], a[i]) - roc_auc_score(y[i], b[i]) for i in rounds]
    low, high = np.quantile(boot, [0.025, 0.975])
    assert found["low"] == pytest.approx(low, abs=0.01) and found["high"] == pytest.approx(high, abs=0.01)


def test_rmse_interval_is_a_seeded_paired_bootstrap() -> None:
    rng = np.random.default_rng(4)
    y = rng.normal(size=500)
    good, bad = y + rng.normal(size=500) * 0.5, y + rng.normal(size=500)
    outcome = pd.Series(y.astype(str))
    found = margin.difference("regressor", outcome, pd.Series(good), pd.Series(bad), None)
    assert found == margin.difference("regressor", outcome, pd.Series(good), pd.Series(bad), None)
    assert found["high"] < 0 < -found["low"]  # clearly lower RMSE: the whole interval below zero


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
