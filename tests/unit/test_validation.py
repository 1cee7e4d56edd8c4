"""Request-contract validation: which rows pass, which are quarantined, and why."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rendezvous.demo.data import NUMERIC_REQUEST_COLUMNS, RANGES
from rendezvous.validation import BATCH_REJECTED, QUARANTINE_COLUMNS, engine, load_contract, validate

SUITE = Path(__file__).resolve().parents[2] / "expectations" / "loan_requests.json"
NOT_NULL = "expect_column_values_to_not_be_null"
BETWEEN = "expect_column_values_to_be_between"
IN_SET = "expect_column_values_to_be_in_set"
TYPE = "expect_column_values_to_be_in_type_list"
UNIQUE = "expect_column_values_to_be_unique"
REGEX = "expect_column_values_to_match_regex"
OFFSET = 1000  # chunks of a big file arrive with their global row numbers as index


@pytest.fixture(scope="module")
def contract():
    return load_contract(SUITE)


def requests(n: int = 10, offset: int = OFFSET) -> pd.DataFrame:
    """``n`` valid demo requests indexed by global row number."""
    i = np.arange(n)
    purposes = ["car", "home_improvement", "education", "business", "medical", "other"]
    return pd.DataFrame(
        {
            "request_id": [f"r-20261101-{k:06d}" for k in i + offset],
            "customer_id": [f"C{k:05d}" for k in i],
            "requested_at": "2026-11-01T10:23:00Z",
            "loan_amount": 1000.0 + i,
            "term_months": np.array([12, 24, 36, 48, 60])[i % 5],
            "interest_rate": 0.05,
            "purpose": [purposes[k % len(purposes)] for k in i],
            "annual_income": 50_000.0,
            "employment_years": 3.5,
            "credit_score": 700,
            "debt_to_income": 0.4,
        },
        index=pd.RangeIndex(offset, offset + n),
    )


def with_value(df: pd.DataFrame, row: int, column: str, value: object) -> pd.DataFrame:
    out = df.copy()
    if not isinstance(value, float | int) or isinstance(value, bool):
        out[column] = out[column].astype(object)
    elif isinstance(value, float):
        out[column] = out[column].astype(np.float64)
    out.loc[row, column] = value
    return out


def test_clean_rows_all_pass_with_index_and_types_kept(contract):
    df = requests()
    result = validate(df, contract, "request_id", 0.2)
    assert result.rejected_reason is None
    assert result.quarantine.empty
    assert list(result.quarantine.columns) == QUARANTINE_COLUMNS
    assert result.valid.index.tolist() == df.index.tolist()
    assert list(result.valid.columns) == list(df.columns)
    assert result.valid["credit_score"].dtype == np.int64
    assert result.valid["loan_amount"].dtype == np.float64


@pytest.mark.parametrize(
    ("column", "value", "rule", "shown"),
    [
        ("customer_id", None, NOT_NULL, None),
        ("interest_rate", float("nan"), NOT_NULL, None),
        ("loan_amount", 50.0, BETWEEN, "50.0"),
        ("credit_score", 900, BETWEEN, "900"),
        ("annual_income", float("inf"), BETWEEN, "inf"),
        ("debt_to_income", float("-inf"), BETWEEN, "-inf"),
        ("purpose", "yacht", IN_SET, "yacht"),
        ("term_months", 13, IN_SET, "13"),
        ("loan_amount", "lots", TYPE, "lots"),
        ("credit_score", 700.5, TYPE, "700.5"),
        ("requested_at", "2026-13-01T10:23:00Z", REGEX, "2026-13-01T10:23:00Z"),
        ("requested_at", "yesterday", REGEX, "yesterday"),
    ],
)
def test_each_kind_of_bad_value_is_quarantined_with_its_reason(contract, column, value, rule, shown):
    bad_row = OFFSET + 3
    df = with_value(requests(), bad_row, column, value)
    result = validate(df, contract, "request_id", 0.2)

    assert result.rejected_reason is None
    q = result.quarantine
    assert len(q) == 1, q  # a non-number is not also reported as null after coercion
    line = q.iloc[0]
    assert (line["row"], line["request_id"], line["column"], line["rule"]) == (
        bad_row,
        f"r-20261101-{bad_row:06d}",
        column,
        rule,
    )
    assert (pd.isna(line["value"]) and shown is None) or line["value"] == shown
    assert bad_row not in result.valid.index
    assert len(result.valid) == len(df) - 1


def test_numeric_strings_are_coerced_to_numbers(contract):
    df = requests()
    df["loan_amount"] = df["loan_amount"].astype(str)
    result = validate(df, contract, "request_id", 0.2)
    assert result.quarantine.empty
    assert result.valid["loan_amount"].dtype == np.float64
    assert result.valid["loan_amount"].iloc[0] == 1000.0


def test_every_occurrence_of_a_duplicated_id_is_quarantined(contract):
    df = requests()
    df.loc[OFFSET + 7, "request_id"] = df.loc[OFFSET + 2, "request_id"]
    result = validate(df, contract, "request_id", 0.2)
    q = result.quarantine
    assert q["row"].tolist() == [OFFSET + 2, OFFSET + 7]
    assert set(q["rule"]) == {UNIQUE}
    assert set(q["request_id"]) == {f"r-20261101-{OFFSET + 2:06d}"}
    assert len(result.valid) == 8


def test_one_row_failing_two_rules_gives_two_lines(contract):
    df = with_value(requests(), OFFSET + 1, "loan_amount", 1.0)
    df.loc[OFFSET + 1, "purpose"] = "yacht"
    q = validate(df, contract, "request_id", 0.2).quarantine
    assert sorted(zip(q["column"], q["rule"], strict=True)) == [
        ("loan_amount", BETWEEN),
        ("purpose", IN_SET),
    ]
    assert set(q["row"]) == {OFFSET + 1}


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (lambda df: df.drop(columns=["purpose"]), "purpose"),
        (lambda df: df.assign(surprise=1), "surprise"),
    ],
)
def test_missing_or_extra_column_rejects_the_batch(contract, change, named):
    df = change(requests())
    result = validate(df, contract, "request_id", 0.2)
    assert result.rejected_reason is not None
    assert named in result.rejected_reason
    assert result.valid.empty
    q = result.quarantine
    assert q["row"].tolist() == df.index.tolist()
    assert set(q["rule"]) == {BATCH_REJECTED}
    assert set(q["value"]) == {result.rejected_reason}


def test_batch_is_rejected_when_too_many_rows_fail_in_total(contract):
    df = requests()
    df.loc[OFFSET + 1, "loan_amount"] = 1.0  # three rules, one row each: each alone is 10%
    df.loc[OFFSET + 4, "purpose"] = "yacht"
    df.loc[OFFSET + 8, "requested_at"] = "soon"
    result = validate(df, contract, "request_id", 0.2)

    assert result.rejected_reason is not None
    assert "3 of 10" in result.rejected_reason
    assert result.valid.empty
    q = result.quarantine.set_index("row")
    assert sorted(q.index) == df.index.tolist()  # every row accounted for, once
    assert q.loc[OFFSET + 1, "rule"] == BETWEEN  # failing rows keep their own reason
    assert q.loc[OFFSET + 4, "rule"] == IN_SET
    assert q.loc[OFFSET + 8, "rule"] == REGEX
    assert (q.drop([OFFSET + 1, OFFSET + 4, OFFSET + 8])["rule"] == BATCH_REJECTED).all()


def test_same_failures_pass_under_a_looser_threshold(contract):
    df = requests()
    df.loc[OFFSET + 1, "loan_amount"] = 1.0
    df.loc[OFFSET + 4, "purpose"] = "yacht"
    df.loc[OFFSET + 8, "requested_at"] = "soon"
    result = validate(df, contract, "request_id", 0.5)
    assert result.rejected_reason is None
    assert len(result.valid) == 7


def test_one_rule_failing_most_rows_rejects_without_listing_them(contract):
    df = requests(20)
    df.loc[OFFSET : OFFSET + 9, "purpose"] = "yacht"
    result = validate(df, contract, "request_id", 0.2)
    assert result.rejected_reason is not None
    assert IN_SET in result.rejected_reason and "purpose" in result.rejected_reason
    assert "10 of 20" in result.rejected_reason
    assert result.quarantine["row"].tolist() == df.index.tolist()
    assert set(result.quarantine["rule"]) == {BATCH_REJECTED}


def test_many_non_numbers_reject_and_keep_their_own_reason(contract):
    df = requests()
    df["loan_amount"] = ["x"] * 5 + ["1000"] * 5
    result = validate(df, contract, "request_id", 0.2)
    assert result.rejected_reason is not None and TYPE in result.rejected_reason
    q = result.quarantine.set_index("row")
    assert (q.loc[OFFSET : OFFSET + 4, "rule"] == TYPE).all()
    assert (q.loc[OFFSET + 5 :, "rule"] == BATCH_REJECTED).all()


def test_a_column_given_twice_rejects_the_batch(contract):
    df = requests(3)
    df = pd.concat([df, df[["purpose"]]], axis=1)
    result = validate(df, contract, "request_id", 0.2)
    assert "duplicated columns ['purpose']" in result.rejected_reason
    assert result.quarantine["row"].tolist() == df.index.tolist()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    bad=st.lists(
        st.tuples(
            st.integers(0, 19),
            st.sampled_from(
                [
                    ("loan_amount", -5.0),
                    ("purpose", "yacht"),
                    ("interest_rate", float("nan")),
                    ("credit_score", "n/a"),
                    ("request_id", "r-20261101-001000"),
                ]
            ),
        ),
        max_size=8,
    ),
    share=st.sampled_from([0.0, 0.2, 1.0]),
)
def test_every_row_is_either_valid_or_quarantined(contract, bad, share):
    df = requests(20)
    for position, (column, value) in bad:
        df = with_value(df, OFFSET + position, column, value)
    result = validate(df, contract, "request_id", share)
    quarantined = set(result.quarantine["row"])
    assert quarantined.isdisjoint(result.valid.index)
    assert quarantined | set(result.valid.index) == set(df.index)
    assert (result.rejected_reason is None) == (len(quarantined) <= share * len(df))


def test_empty_batch_is_empty_valid_and_empty_quarantine(contract):
    result = validate(requests(0), contract, "request_id", 0.2)
    assert result.rejected_reason is None
    assert result.valid.empty and result.quarantine.empty
    assert list(result.quarantine.columns) == QUARANTINE_COLUMNS


def test_quarantine_has_no_id_when_the_id_column_is_missing(contract):
    df = requests().drop(columns=["request_id"])
    result = validate(df, contract, "request_id", 0.2)
    assert "request_id" in result.rejected_reason
    assert result.quarantine["request_id"].isna().all()


def test_validation_prints_and_logs_nothing(contract, capsys, caplog, monkeypatch):
    monkeypatch.setattr(engine, "_engine", None)  # a fresh GX context, as in a new process
    with caplog.at_level(logging.INFO):
        validate(with_value(requests(), OFFSET, "purpose", "yacht"), contract, "request_id", 0.2)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""  # no GX progress bars
    assert [r.getMessage() for r in caplog.records if r.name.startswith("great_expectations")] == []


def test_two_threads_can_validate_at_once(contract):
    frames = [with_value(requests(50, offset=k * 100), k * 100 + k, "purpose", "x") for k in (1, 2)]
    results: dict[int, list[int]] = {}

    def run(k: int, df: pd.DataFrame) -> None:
        for _ in range(3):
            results[k] = validate(df, contract, "request_id", 0.2).quarantine["row"].tolist()

    threads = [threading.Thread(target=run, args=(k, df)) for k, df in zip((1, 2), frames, strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {1: [101], 2: [202]}


def test_demo_contract_declares_its_columns(contract):
    assert contract.name == "loan_requests"
    assert contract.fingerprint == hashlib.sha256(SUITE.read_bytes()).hexdigest()
    assert contract.columns == list(requests().columns)
    assert set(contract.numeric_columns) == set(NUMERIC_REQUEST_COLUMNS)


def test_demo_ranges_are_the_contracts() -> None:
    """The generator, the bare benchmark and the tests share RANGES; the suite is the authority."""
    suite = json.loads(SUITE.read_text())
    between = {
        e["kwargs"]["column"]: (e["kwargs"]["min_value"], e["kwargs"]["max_value"])
        for e in suite["expectations"]
        if e["type"] == "expect_column_values_to_be_between"
    }
    assert between == RANGES


# --- a contract that is not the demo -------------------------------------------------------------


def sensor_suite(extra: list[dict] | None = None) -> dict:
    def e(kind: str, **kwargs: object) -> dict:
        return {"type": kind, "kwargs": kwargs, "meta": {}}

    return {
        "name": "sensor_readings",
        "expectations": [
            e("expect_table_columns_to_match_set", column_set=["id", "sensor", "temperature"]),
            e(NOT_NULL, column="id"),
            e(UNIQUE, column="id"),
            e(IN_SET, column="sensor", value_set=["north", "south"]),
            e("expect_column_values_to_be_of_type", column="temperature", type_="float64"),
            e(BETWEEN, column="temperature", min_value=-40, max_value=60),
            *(extra or []),
        ],
        "meta": {},
    }


def readings() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": [11, 12, 13, 14, 15],
            "sensor": ["north", "south", "north", "south", "north"],
            "temperature": ["20.5", "21", "hot", "99", "-3"],
        },
        index=pd.RangeIndex(500, 505),
    )


def test_a_contract_that_is_not_the_demo(tmp_path):
    path = tmp_path / "sensors.json"
    path.write_text(json.dumps(sensor_suite()))
    contract = load_contract(path)
    assert contract.name == "sensor_readings"
    assert contract.columns == ["id", "sensor", "temperature"]
    assert contract.numeric_columns == ["temperature"]

    df = readings()
    df.loc[504, "id"] = 11
    result = validate(df, contract, "id", 0.9)
    q = result.quarantine
    lines = sorted(zip(q["row"], q["rule"], q["value"], strict=True))
    assert lines == [
        (500, UNIQUE, "11"),
        (502, "expect_column_values_to_be_of_type", "hot"),
        (503, BETWEEN, "99"),
        (504, UNIQUE, "11"),
    ]
    assert result.quarantine.loc[result.quarantine["row"] == 502, "request_id"].item() == "13"
    assert result.valid.index.tolist() == [501]
    assert result.valid["temperature"].tolist() == [21.0]


def test_a_failing_aggregate_expectation_rejects_the_batch(tmp_path):
    mean = {
        "type": "expect_column_mean_to_be_between",
        "kwargs": {"column": "temperature", "min_value": 100, "max_value": 200},
        "meta": {},
    }
    path = tmp_path / "sensors.json"
    path.write_text(json.dumps(sensor_suite([mean])))
    df = readings().assign(temperature=[20.0, 21.0, 22.0, 23.0, 24.0])
    result = validate(df, load_contract(path), "id", 0.5)
    assert result.rejected_reason is not None
    assert "expect_column_mean_to_be_between" in result.rejected_reason
    assert set(result.quarantine["rule"]) == {BATCH_REJECTED}
    assert len(result.quarantine) == len(df)


def test_contract_is_cached_until_the_file_changes(tmp_path):
    path = tmp_path / "sensors.json"
    path.write_text(json.dumps(sensor_suite()))
    first = load_contract(path)
    assert load_contract(path) is first

    changed = sensor_suite()
    changed["name"] = "sensor_readings_v2"
    path.write_text(json.dumps(changed))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    second = load_contract(path)
    assert second.name == "sensor_readings_v2"
    assert second.fingerprint != first.fingerprint
