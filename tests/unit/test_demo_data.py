"""The demo's synthetic data, features, recipes and inbox batches."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from rendezvous.demo.batches import (
    BAD_ROWS,
    CLEAN_CSV,
    CLEAN_JSONL,
    CLEAN_PARQUET,
    LABELLED,
    MALFORMED,
    RESENT,
    SHIFTED,
    demo_requests,
    write_demo_inbox,
    write_demo_labels,
)
from rendezvous.demo.data import (
    CUSTOMER_COLUMNS,
    DEMO_SHIFT,
    HISTORY_START,
    LABEL,
    PURPOSES,
    RANGES,
    REGIONS,
    REQUEST_COLUMNS,
    SEGMENTS,
    TERMS,
    default_probability,
    draw_outcomes,
    enrich,
    make_customers,
    make_history,
    make_requests,
    request_ids,
)
from rendezvous.demo.features import MODEL_FEATURES, add_features
from rendezvous.demo.recipes import canary_pipeline, default_pipeline
from rendezvous.model_files import load_skops, to_skops, types_needed

START = datetime(2026, 11, 1, tzinfo=UTC)
ROWS = 2_000


@pytest.fixture(scope="module")
def customers() -> pd.DataFrame:
    return make_customers(800, seed=3)


@pytest.fixture(scope="module")
def history(customers: pd.DataFrame) -> pd.DataFrame:
    return make_history(6_000, customers, seed=5)


@pytest.fixture(scope="module")
def inbox(tmp_path_factory: pytest.TempPathFactory, customers: pd.DataFrame) -> Path:
    folder = tmp_path_factory.mktemp("inbox")
    write_demo_inbox(folder, customers, seed=11, rows=ROWS)
    return folder


# --- generation -------------------------------------------------------------------------


def test_same_seed_same_data_other_seed_other_data(customers: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(make_customers(800, seed=3), customers)
    assert not make_customers(800, seed=4).equals(customers)
    first = make_requests(500, customers, START, seed=1)
    pd.testing.assert_frame_equal(make_requests(500, customers, START, seed=1), first)
    assert not make_requests(500, customers, START, seed=2).equals(first)
    history = make_history(500, customers, seed=9)
    pd.testing.assert_frame_equal(make_history(500, customers, seed=9), history)


def test_customers_schema(customers: pd.DataFrame) -> None:
    assert list(customers.columns) == CUSTOMER_COLUMNS
    assert customers["customer_id"].is_unique
    assert customers["customer_id"].str.fullmatch(r"C\d{5}").all()
    assert set(customers["region"]) == set(REGIONS)
    assert set(customers["segment"]) == set(SEGMENTS)
    assert customers["prior_defaults"].dtype == "int64"
    assert (customers["prior_defaults"] >= 0).all()
    since = customers["customer_since"]
    assert all(type(d) is date for d in since)  # a date, not a timestamp (Parquet date32)
    assert since.max() < HISTORY_START.date()  # joined before any request, so tenure > 0


def test_requests_schema_types_and_ranges(customers: pd.DataFrame) -> None:
    span = timedelta(hours=6)
    requests = make_requests(3_000, customers, START, seed=1, span=span)
    assert list(requests.columns) == REQUEST_COLUMNS
    for column in ("request_id", "customer_id", "requested_at", "purpose"):
        assert requests[column].dtype == "str", column
    for column in ("term_months", "credit_score"):
        assert requests[column].dtype == "int64", column
    for column, (low, high) in RANGES.items():
        assert requests[column].between(low, high).all(), column
    assert set(requests["term_months"]) == set(TERMS)
    assert set(requests["purpose"]) == set(PURPOSES)
    assert requests["request_id"].is_unique
    assert requests["request_id"].str.fullmatch(r"r-20261101-\d{6}").all()
    assert requests["customer_id"].isin(customers["customer_id"]).all()
    assert requests["requested_at"].str.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ").all()
    stamps = pd.to_datetime(requests["requested_at"], utc=True, format="ISO8601")
    assert stamps.min() >= pd.Timestamp(START) and stamps.max() < pd.Timestamp(START + span)
    assert not requests.isna().any().any()


def test_request_ids_take_the_prefix_and_widen_for_big_batches(customers: pd.DataFrame) -> None:
    assert make_requests(3, customers, START, seed=1, id_prefix="x")["request_id"].tolist() == [
        "x-000000",
        "x-000001",
        "x-000002",
    ]
    ids = request_ids(1_000_001, "big")
    assert ids.is_unique and ids.iloc[-1] == "big-1000000" and ids.iloc[0] == "big-0000000"


def test_history_is_labelled_with_a_realistic_default_rate(history: pd.DataFrame) -> None:
    assert set(history[LABEL].unique()) == {0, 1}
    assert 0.09 < history[LABEL].mean() < 0.17
    assert set(MODEL_FEATURES) <= set(history.columns)
    stamps = pd.to_datetime(history["requested_at"], utc=True, format="ISO8601")
    assert stamps.max() < pd.Timestamp(START)  # history is in the past of the demo batches
    assert (history["tenure_years"] > 0).all()


def test_default_probability_follows_the_risk_factors(history: pd.DataFrame) -> None:
    p = default_probability(history)
    assert ((p > 0) & (p < 1)).all()
    low_score = history["credit_score"] < 620
    assert p[low_score].mean() > 2 * p[history["credit_score"] > 760].mean()
    assert p[history["purpose"] == "business"].mean() > p[history["purpose"] == "car"].mean()
    # Outcomes are drawn from these probabilities, reproducibly.
    np.testing.assert_array_equal(draw_outcomes(history, 1), draw_outcomes(history, 1))
    assert abs(draw_outcomes(history, 1).mean() - p.mean()) < 0.02


def test_shift_moves_only_the_named_features(customers: pd.DataFrame) -> None:
    base = make_requests(4_000, customers, START, seed=8)
    shifted = make_requests(4_000, customers, START, seed=8, shift=DEMO_SHIFT)
    moved = ["annual_income", "credit_score", "purpose"]
    kept = [c for c in REQUEST_COLUMNS if c not in moved]
    pd.testing.assert_frame_equal(shifted[kept], base[kept])
    ratio = shifted["annual_income"].median() / base["annual_income"].median()
    assert 0.55 < ratio < 0.65
    assert 50 < base["credit_score"].mean() - shifted["credit_score"].mean() <= 60
    assert (shifted["purpose"] == "business").mean() > 0.45 > 0.15 > (base["purpose"] == "business").mean()
    for column, (low, high) in RANGES.items():
        assert shifted[column].between(low, high).all(), column
    riskier = draw_outcomes(enrich(shifted, customers), 1).mean()
    assert riskier > 1.5 * draw_outcomes(enrich(base, customers), 1).mean()


def test_unknown_shift_key_is_refused(customers: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="unknown shift"):
        make_requests(10, customers, START, seed=1, shift={"income": 0.5})


# --- features ---------------------------------------------------------------------------


def test_add_features_values() -> None:
    frame = pd.DataFrame(
        {
            "loan_amount": [10_000.0, 1_200.0, 5_000.0],
            "annual_income": [50_000.0, 0.0, 20_000.0],
            "interest_rate": [0.12, 0.0, 0.10],
            "term_months": [12, 12, 36],
            "requested_at": ["2026-11-01T00:00:00Z", "2026-11-01T12:00:00Z", "not a time"],
            "customer_since": [date(2025, 11, 1), None, date(2020, 1, 1)],
        }
    )
    before = frame.copy()
    out = add_features(frame)
    pd.testing.assert_frame_equal(frame, before)  # pure: the input is untouched
    assert out["loan_to_income"].iloc[0] == pytest.approx(0.2)
    assert np.isnan(out["loan_to_income"].iloc[1])  # zero income: unknown, not infinite
    assert out["monthly_payment"].iloc[0] == pytest.approx(888.49, abs=0.01)
    assert out["monthly_payment"].iloc[1] == pytest.approx(100.0)  # zero rate: P / n
    assert out["tenure_years"].iloc[0] == pytest.approx(365 / 365.25)
    assert out["tenure_years"].iloc[1:].isna().all()  # NaT on either side gives NaN
    assert out["tenure_years"].dtype == "float64"


def test_add_features_on_empty_frames() -> None:
    header_only = pd.read_csv(io.StringIO(",".join(REQUEST_COLUMNS) + "\n"))
    out = add_features(header_only.assign(customer_since=pd.Series([], dtype=object)))
    assert len(out) == 0
    assert {"loan_to_income", "tenure_years", "monthly_payment"} <= set(out.columns)
    assert len(add_features(pd.DataFrame())) == 0


def test_add_features_accepts_parsed_timestamps_and_text_numbers() -> None:
    frame = pd.DataFrame(
        {
            "loan_amount": pd.Series(["1000"], dtype="str"),
            "annual_income": [10_000],
            "interest_rate": [0.12],
            "term_months": [12],
            "requested_at": pd.to_datetime(["2026-11-01T00:00:00Z"], utc=True),
            "customer_since": pd.to_datetime(["2025-11-01"]),
        }
    )
    out = add_features(frame)
    assert out["loan_to_income"].iloc[0] == pytest.approx(0.1)
    assert out["tenure_years"].iloc[0] == pytest.approx(365 / 365.25)


# --- recipes ----------------------------------------------------------------------------


@pytest.mark.parametrize("recipe", [default_pipeline, canary_pipeline])
def test_recipes_fit_the_enriched_frame_and_score_probabilities(
    recipe, history: pd.DataFrame, customers: pd.DataFrame
) -> None:
    model = recipe().fit(history.drop(columns=LABEL), history[LABEL])
    assert list(model.feature_names_in_) == MODEL_FEATURES
    batch = enrich(make_requests(400, customers, START, seed=2), customers)
    proba = model.predict_proba(batch)
    assert proba.shape == (400, 2)
    assert ((proba >= 0) & (proba <= 1)).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # Extra columns are ignored: the model's own columns alone give the same scores.
    np.testing.assert_allclose(model.predict_proba(batch[MODEL_FEATURES]), proba)
    # Unseen categories and missing values score rather than fail.
    odd = batch.head(3).copy()
    odd.loc[odd.index[0], "purpose"] = "vacation"
    odd.loc[odd.index[1], "segment"] = np.nan
    odd.loc[odd.index[2], "tenure_years"] = np.nan
    assert np.isfinite(model.predict_proba(odd)).all()
    # Stored as skops, trusting the types the file lists, the model scores the same.
    data = to_skops(model)
    np.testing.assert_allclose(load_skops(data, types_needed(data))[0].predict_proba(batch), proba)


def test_recipes_are_different_models_that_learn(history: pd.DataFrame) -> None:
    live, canary = default_pipeline(), canary_pipeline()
    assert type(live[-1]) is not type(canary[-1])
    from sklearn.metrics import roc_auc_score

    train, test = history.iloc[:4_500], history.iloc[4_500:]
    for model in (live, canary):
        model.fit(train, train[LABEL])
        assert roc_auc_score(test[LABEL], model.predict_proba(test)[:, 1]) > 0.75


def test_recipe_fit_refuses_a_frame_without_the_features(history: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="tenure_years"):
        default_pipeline().fit(history.drop(columns="tenure_years"), history[LABEL])


# --- batches ----------------------------------------------------------------------------


def test_inbox_has_every_story_file(inbox: Path) -> None:
    names = {p.name for p in inbox.iterdir()}
    assert names == {CLEAN_CSV, CLEAN_PARQUET, CLEAN_JSONL, BAD_ROWS, SHIFTED, MALFORMED, RESENT}


def test_clean_batches_read_back_as_generated(inbox: Path, customers: pd.DataFrame) -> None:
    frames = demo_requests(customers, seed=11, rows=ROWS)
    pd.testing.assert_frame_equal(pd.read_csv(inbox / CLEAN_CSV), frames[CLEAN_CSV])
    pd.testing.assert_frame_equal(pd.read_parquet(inbox / CLEAN_PARQUET), frames[CLEAN_PARQUET])
    jsonl = pd.read_json(inbox / CLEAN_JSONL, lines=True, convert_dates=False, dtype=False)
    assert list(jsonl.columns) == REQUEST_COLUMNS
    assert jsonl["request_id"].tolist() == frames[CLEAN_JSONL]["request_id"].tolist()
    all_ids = pd.concat([f["request_id"] for f in frames.values()])
    assert all_ids.is_unique  # batches of different days never share an id


def test_same_seed_writes_the_same_files(inbox: Path, customers: pd.DataFrame, tmp_path: Path) -> None:
    for path in write_demo_inbox(tmp_path, customers, seed=11, rows=ROWS):
        assert path.read_bytes() == (inbox / path.name).read_bytes(), path.name


def test_resent_file_is_byte_identical(inbox: Path) -> None:
    assert (inbox / RESENT).read_bytes() == (inbox / CLEAN_CSV).read_bytes()


def test_malformed_file_is_refused_by_csv_readers(inbox: Path) -> None:
    path = inbox / MALFORMED
    with pytest.raises((UnicodeDecodeError, pd.errors.ParserError)):
        pd.read_csv(path)
    with pytest.raises((UnicodeDecodeError, pd.errors.ParserError)):
        pd.read_csv(path, encoding_errors="replace")  # ragged rows even if bytes are forgiven
    with pytest.raises(pa.ArrowInvalid):
        pacsv.read_csv(path)
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("utf-8")


def _not_number(values: pd.Series) -> pd.Series:
    return values.ne("") & pd.to_numeric(values, errors="coerce").isna() & values.ne("NaN")


def test_bad_rows_batch_holds_every_kind_of_bad_value(inbox: Path, customers: pd.DataFrame) -> None:
    raw = pd.read_csv(inbox / BAD_ROWS, dtype=str, keep_default_na=False)
    assert list(raw.columns) == REQUEST_COLUMNS
    assert len(raw) == ROWS
    numbers = {c: pd.to_numeric(raw[c], errors="coerce") for c in [*RANGES, "term_months"]}
    first_ids = set(pd.read_csv(inbox / CLEAN_CSV)["request_id"])

    kinds = {
        "null": raw.eq("").any(axis=1),
        "out_of_range": pd.concat(
            [~numbers[c].between(lo, hi) & np.isfinite(numbers[c]) for c, (lo, hi) in RANGES.items()]
            + [numbers["term_months"].notna() & ~numbers["term_months"].isin(TERMS)],
            axis=1,
        ).any(axis=1),
        "unknown_purpose": raw["purpose"].ne("") & ~raw["purpose"].isin(PURPOSES),
        "text_in_numeric": pd.concat([_not_number(raw[c]) for c in numbers], axis=1).any(axis=1),
        "nan_inf": raw.isin(["NaN", "inf", "-inf"]).any(axis=1),
        "bad_timestamp": raw["requested_at"].ne("")
        & pd.to_datetime(raw["requested_at"], utc=True, format="ISO8601", errors="coerce").isna(),
        "duplicate_id": raw["request_id"].duplicated(),
        "unknown_customer": raw["customer_id"].ne("") & ~raw["customer_id"].isin(customers["customer_id"]),
        "reused_id": raw["request_id"].isin(first_ids),
    }
    for kind, rows in kinds.items():
        assert rows.any(), kind
    bad = pd.concat(kinds, axis=1).any(axis=1)
    assert 0.02 * ROWS < bad.sum() < 0.04 * ROWS
    # Duplicates include exact copies of a row and reuses of an id with other content.
    assert 0 < raw.duplicated().sum() < raw["request_id"].duplicated().sum()


def test_labels_cover_clean_and_shifted_batches(tmp_path: Path, inbox: Path, customers: pd.DataFrame) -> None:
    paths = write_demo_labels(tmp_path, customers, seed=11, rows=ROWS)
    assert len(paths) == len(LABELLED)
    again = write_demo_labels(tmp_path / "again", customers, seed=11, rows=ROWS)
    assert [p.read_bytes() for p in paths] == [p.read_bytes() for p in again]
    frames = demo_requests(customers, seed=11, rows=ROWS)
    rates = {}
    for name, path in zip(LABELLED, paths, strict=True):
        labels = pd.read_csv(path)
        assert list(labels.columns) == ["request_id", LABEL]
        assert labels["request_id"].tolist() == frames[name]["request_id"].tolist()
        assert set(labels[LABEL]) <= {0, 1}
        rates[name] = labels[LABEL].mean()
    assert rates[SHIFTED] > max(rates[n] for n in LABELLED if n != SHIFTED)
