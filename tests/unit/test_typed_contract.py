"""The contract's five kinds: every format read into the declared types; a value not of its
kind quarantined with its text and the rule."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typed_batches import TYPE_OF, flights, write_batch, write_suite

from rendezvous.batchfiles import detect_format, read_chunks
from rendezvous.validation import load_contract, validate


@pytest.fixture
def contract(tmp_path: Path):
    return load_contract(write_suite(tmp_path))


def _read(path: Path) -> pd.DataFrame:
    (frame, malformed), *rest = read_chunks(str(path), detect_format(path.name), 1000)
    assert not malformed and not rest
    return frame


def test_the_contract_declares_five_kinds(contract) -> None:
    from rendezvous.validation.contract import dtypes

    assert contract.kinds == {
        "flight_id": "integer",
        "departure": "timestamp",
        "carrier": "string",
        "delayed_before": "boolean",
        "seats": "integer",
        "distance": "number",
    }
    assert dtypes(contract, nullable=False)["delayed_before"] == "bool"


@pytest.mark.parametrize("name", ["b.csv", "b.parquet", "b.jsonl", "b.csv.gz"])
def test_every_format_is_read_into_the_declared_types(contract, tmp_path: Path, name: str) -> None:
    sent = flights(40, seed=3)
    result = validate(_read(write_batch(sent, tmp_path / name)), contract, "flight_id", 0.5)
    assert result.quarantine.empty
    pd.testing.assert_frame_equal(result.valid, sent, check_exact=True)


@pytest.mark.parametrize("text", ["True", "false", "TRUE", "0", "1"])
def test_boolean_text_is_a_boolean(contract, text: str) -> None:
    frame = flights(3, seed=1).astype({"delayed_before": "str"})
    frame.loc[1, "delayed_before"] = text
    valid = validate(frame.astype("str"), contract, "flight_id", 0.5).valid
    assert valid["delayed_before"].dtype == bool
    assert valid.loc[1, "delayed_before"] == (text.lower() in ("true", "1"))


def test_a_boolean_that_is_not_one_is_quarantined_with_its_text(contract) -> None:
    frame = flights(10, seed=1).astype("str")
    frame.loc[4, "delayed_before"] = "maybe"
    result = validate(frame, contract, "flight_id", 0.5)
    assert 4 not in result.valid.index and len(result.valid) == 9
    (line,) = result.quarantine.to_dict("records")
    assert (line["row"], line["column"], line["value"]) == (4, "delayed_before", "maybe")
    assert line["rule"] == TYPE_OF


def test_an_unparsable_timestamp_is_quarantined_and_offsets_are_kept(contract) -> None:
    frame = flights(10, seed=1).astype("str")
    frame.loc[2, "departure"] = "2026-02-30T10:00:00Z"
    frame.loc[3, "departure"] = "2026-03-01T12:00:00+02:00"
    frame.loc[5, "departure"] = "2026-03-01 09:30:00"  # no offset: UTC
    result = validate(frame, contract, "flight_id", 0.5)
    (line,) = result.quarantine.to_dict("records")
    assert (line["row"], line["column"], line["rule"]) == (2, "departure", TYPE_OF)
    assert line["value"] == "2026-02-30T10:00:00Z"
    stamps = result.valid["departure"]
    assert str(stamps.dtype) == "datetime64[us, UTC]"
    assert stamps[3] == pd.Timestamp("2026-03-01T10:00:00Z")
    assert stamps[5] == pd.Timestamp("2026-03-01T09:30:00Z")


def test_a_later_chunk_keeps_its_integers(contract, tmp_path: Path) -> None:
    """A chunk's rows are labelled by their place in the batch, not from 0: typing by value."""
    sent = flights(90, seed=5)
    chunks = read_chunks(str(write_batch(sent, tmp_path / "b.csv")), "csv", 40)
    frame, _ = list(chunks)[1]
    assert frame.index[0] != 0
    result = validate(frame, contract, "flight_id", 0.5)
    assert result.quarantine.empty and len(result.valid) == len(frame)
    assert result.valid["flight_id"].tolist() == sent["flight_id"].iloc[40:80].tolist()
