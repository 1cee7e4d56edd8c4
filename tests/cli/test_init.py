"""`rendezvous init SAMPLE_FILE`: the draft suite declares each column's kind as scoring reads
it (from CSV text or Parquet types alike), accepts its own sample, and the settings file it
writes is the one the next command reads."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from rendezvous.cli import app
from rendezvous.services import forget_services
from rendezvous.settings import get_settings
from rendezvous.validation import load_contract, validate

runner = CliRunner()


def _sample() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "flight_id": [9_007_199_254_740_993, 2, 3, 4],  # above 2**53: kept an integer
            "departed_at": [
                "2025-01-01T10:00:00Z",
                "2025-01-02T11:30:00+02:00",
                None,
                "2025-02-01T00:00:00Z",
            ],
            "delayed": ["True", "False", "false", "True"],
            "distance_km": [120.5, None, 800.0, 15.25],
            "seats": [180, 90, 200, 150],
            "carrier": ["AB", "CD", "AB", "EF"],
        }
    )


@pytest.fixture
def workdir(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("RENDEZVOUS_CONFIG", raising=False)  # the working directory's file, then
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    forget_services()
    return tmp_path


@pytest.mark.parametrize("name", ["flights.csv", "flights.parquet"])
def test_init_drafts_a_suite_its_sample_passes_and_settings_that_are_read(workdir: Path, name: str) -> None:
    sample = _sample()
    if name.endswith(".parquet"):  # the same data with Parquet's own types
        sample = sample.assign(
            delayed=sample["delayed"].str.lower() == "true",
            departed_at=pd.to_datetime(sample["departed_at"], utc=True, format="ISO8601"),
        )
        sample.to_parquet(workdir / name)
    else:
        sample.to_csv(workdir / name, index=False)
    result = runner.invoke(app, ["init", name, "--id-column", "flight_id"])
    assert result.exit_code == 0, result.stdout + result.stderr

    contract = load_contract(workdir / "flights.suite.json")
    assert contract.kinds == {
        "flight_id": "integer",
        "departed_at": "timestamp",
        "delayed": "boolean",
        "distance_km": "number",
        "seats": "integer",
        "carrier": "string",
    }
    rules = {
        (e["type"], e["kwargs"].get("column")): e["kwargs"]
        for e in json.loads(contract.path.read_text())["expectations"]
    }
    assert rules[("expect_column_values_to_be_between", "seats")] == {
        "column": "seats",
        "min_value": 90,
        "max_value": 200,
    }
    assert rules[("expect_column_values_to_be_in_set", "carrier")]["value_set"] == ["AB", "CD", "EF"]
    assert ("expect_column_values_to_not_be_null", "distance_km") not in rules  # it has a null
    assert ("expect_column_values_to_not_be_null", "flight_id") in rules

    get_settings.cache_clear()
    settings = get_settings()  # the file init wrote, read as every command reads it
    assert (settings.suite_path, settings.id_column, settings.timestamp_column) == (
        workdir / "flights.suite.json",
        "flight_id",
        "departed_at",
    )
    read = (
        pd.read_csv(workdir / name, dtype="str") if name.endswith(".csv") else pd.read_parquet(workdir / name)
    )
    checked = validate(read, contract, "flight_id", max_invalid_share=0.0)
    assert checked.rejected_reason is None and len(checked.valid) == 4 and checked.quarantine.empty
    assert checked.valid["flight_id"].iloc[0] == 9_007_199_254_740_993


def test_init_refuses_to_overwrite_and_names_a_missing_id_column(workdir: Path) -> None:
    _sample().to_csv(workdir / "flights.csv", index=False)
    missing = runner.invoke(app, ["init", "flights.csv"])
    assert missing.exit_code == 2
    assert "no id column 'request_id'" in " ".join(missing.stderr.split())
    assert not (workdir / "rendezvous.toml").exists()

    (workdir / "rendezvous.toml").write_text("# mine\n")
    kept = runner.invoke(app, ["init", "flights.csv", "--id-column", "flight_id"])
    assert kept.exit_code == 2 and "--force overwrites" in kept.stderr
    assert (workdir / "rendezvous.toml").read_text() == "# mine\n" and not (
        workdir / "flights.suite.json"
    ).exists()
    forced = runner.invoke(app, ["init", "flights.csv", "--id-column", "flight_id", "--force"])
    assert forced.exit_code == 0 and "suite_path" in (workdir / "rendezvous.toml").read_text()
