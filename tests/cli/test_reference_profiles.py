"""`models register --reference FILE` and `models profile VERSION --reference FILE`: a model's
reference profile from a data file, typed by the contract as batches are, scored by the model
itself; every refusal names its cause and exits 2 with nothing registered."""

from __future__ import annotations

import json
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from click.testing import Result
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder
from typer.testing import CliRunner

from rendezvous.cli import app
from rendezvous.monitoring.profile import decode_sample
from rendezvous.services import forget_services, get_services
from rendezvous.settings import get_settings

runner = CliRunner()
COLUMNS = {"loan_id": "int64", "owns_home": "bool", "income": "float64", "region": "str"}
SUITE = {
    "name": "loans",
    "expectations": [
        {"type": "expect_table_columns_to_match_set", "kwargs": {"column_set": list(COLUMNS)}},
        *(
            {"type": "expect_column_values_to_be_of_type", "kwargs": {"column": c, "type_": t}}
            for c, t in COLUMNS.items()
        ),
    ],
}


def _said(result: Result) -> str:
    return " ".join((result.stdout + result.stderr).split())


def _rows(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "loan_id": np.arange(n) + 10_000 * seed,
            "owns_home": rng.random(n) < 0.3,
            "income": rng.lognormal(10, 0.4, n),
            "region": rng.choice(["north", "south", "east"], n),
        }
    )


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The suite, the user's own model (fitted on a real bool column) and its reference rows."""
    folder = tmp_path_factory.mktemp("loans")
    (folder / "loans.json").write_text(json.dumps(SUITE))
    train = _rows(300, seed=1)
    features = ["owns_home", "income", "region"]
    model = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), ["region"]), remainder="passthrough"
        ),
        LogisticRegression(max_iter=500),
    ).fit(train[features], (train["income"] > 25_000) ^ train["owns_home"])
    joblib.dump(model, folder / "live.joblib")
    reference = _rows(400, seed=2)
    reference.to_csv(folder / "reference.csv", index=False)  # the boolean arrives as "True"/"False"
    reference.to_parquet(folder / "reference.parquet")
    return {"model": model, "features": features, "reference": reference, "dir": folder}


@pytest.fixture
def loans(files: dict, home: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.delenv("RENDEZVOUS_CONFIG", raising=False)  # no demo setting
    monkeypatch.setenv("RENDEZVOUS_SUITE_PATH", str(files["dir"] / "loans.json"))
    monkeypatch.setenv("RENDEZVOUS_ID_COLUMN", "loan_id")
    get_settings.cache_clear()
    forget_services()
    return files


def _register(loans: dict, reference: str, *more: str) -> Result:
    path = str(loans["dir"] / "live.joblib")
    return runner.invoke(
        app,
        ["models", "register", path, "--role", "live", "--version", "v1", "--reference", reference, *more],
    )


def test_register_builds_the_profile_from_a_csv_typed_as_batches_are(loans: dict) -> None:
    result = _register(loans, str(loans["dir"] / "reference.csv"))
    assert result.exit_code == 0, _said(result)
    assert "reference: reference file reference.csv (400 rows" in _said(result)
    profile = get_services().registry.get("v1").profile
    assert profile["categorical"]["owns_home"]["counts"].keys() == {"True", "False"}  # bool, not text
    assert set(profile["numeric"]) == {"income"} and set(profile["categorical"]) == {"owns_home", "region"}
    own = loans["model"].predict_proba(loans["reference"][loans["features"]])[:, 1]
    assert np.array_equal(
        np.sort(decode_sample(profile["scores"]["sample"]["data"])), np.sort(own.astype("<f4"))
    )

    replaced = runner.invoke(
        app, ["models", "profile", "v1", "--reference", str(loans["dir"] / "reference.parquet")]
    )
    assert replaced.exit_code == 0, _said(replaced)
    again = get_services().registry.get("v1").profile
    assert again["source"] == "reference file reference.parquet"
    for part in ("numeric", "categorical", "scores"):  # the same rows from either format
        assert again[part] == profile[part]


def test_a_reference_without_a_feature_registers_nothing_and_names_it(loans: dict) -> None:
    partial = loans["dir"] / "partial.csv"
    loans["reference"].drop(columns=["income"]).to_csv(partial, index=False)
    result = _register(loans, str(partial))
    assert result.exit_code == 2
    assert "expects features the batch does not have: income" in _said(result)
    assert get_services().registry.list() == []


REFUSED_FILES = [  # name, content (None: no such file), what the refusal says
    ("reference.txt", "loan_id\n1\n", "unknown format of"),
    ("absent.csv", None, "no such file"),
    ("empty.csv", "", "empty file"),
    ("typo.csv", "loan_id,owns_home,income,region\n1,True,100.5,north\n2,maybe,99.0,south\n",
     "row 1, column 'owns_home': 'maybe'"),
]  # fmt: skip


def test_an_unusable_reference_file_is_refused_with_its_reason(loans: dict, tmp_path: Path) -> None:
    for name, content, said in REFUSED_FILES:
        path = tmp_path / name
        if content is not None:
            path.write_text(content)
        result = _register(loans, str(path))
        assert result.exit_code == 2, (name, _said(result))
        assert said in _said(result) and "Traceback" not in _said(result), name
    assert get_services().registry.list() == []


def test_profile_of_an_unknown_version_is_refused(loans: dict) -> None:
    result = runner.invoke(
        app, ["models", "profile", "nope", "--reference", str(loans["dir"] / "reference.csv")]
    )
    assert result.exit_code == 2
    assert "no model version 'nope'" in _said(result)


def test_a_model_trained_on_text_where_the_contract_types_a_boolean_is_refused_naming_the_row(
    loans: dict, tmp_path: Path
) -> None:
    """The user's model learned owns_home as the text "yes"/"no"; the contract types it bool,
    so the model cannot score the reference as batches will reach it. The refusal says which
    row, its features with the types the contract gave them, and what the model raised."""
    train = _rows(200, seed=3)
    spelled = train.assign(owns_home=train["owns_home"].map({True: "yes", False: "no"}))
    strict = make_pipeline(
        make_column_transformer((OneHotEncoder(), ["owns_home", "region"]), remainder="passthrough"),
        LogisticRegression(max_iter=500),
    ).fit(spelled[loans["features"]], train["income"] > 25_000)
    path = tmp_path / "text_trained.joblib"
    joblib.dump(strict, path)

    reference = str(loans["dir"] / "reference.csv")
    result = runner.invoke(app, ["models", "register", str(path), "--role", "live", "--reference", reference])

    said = _said(result)
    assert result.exit_code == 2, said
    assert "Traceback" not in said
    assert "cannot score row 1 of the reference file reference.csv" in said
    first = loans["reference"].iloc[0]
    assert f"owns_home={bool(first['owns_home'])} (bool)" in said
    assert f"region={first['region']!r}" in said
    assert "Found unknown categories" in said  # the model's own words
    assert get_services().registry.list() == []


def test_the_one_reference_row_a_model_cannot_score_is_named(
    loans: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Named by its row in the file, though the reference join set an earlier row aside."""
    hostile = "[red]west[/] \x1b[2J"  # a region the model never saw, spelled to harm a terminal
    regions = pd.DataFrame({"region": ["north", "south", "east", hostile], "climate": [1.0, 2.0, 3.0, 4.0]})
    regions.to_parquet(tmp_path / "regions.parquet")
    monkeypatch.setenv("RENDEZVOUS_REFERENCE_URL", str(tmp_path / "regions.parquet"))
    monkeypatch.setenv("RENDEZVOUS_REFERENCE_KEY", "region")
    get_settings.cache_clear()
    forget_services()
    train = _rows(200, seed=4)
    strict = make_pipeline(
        make_column_transformer((OneHotEncoder(), ["region"]), remainder="passthrough"),
        LogisticRegression(max_iter=500),
    ).fit(train[loans["features"]], train["income"] > 25_000)
    path = tmp_path / "three_regions.joblib"
    joblib.dump(strict, path)
    reference = loans["reference"].copy()
    reference.loc[9, "region"] = "nowhere"  # not in the reference table: set aside by the join
    reference.loc[236, "region"] = hostile
    reference.to_csv(tmp_path / "reference.csv", index=False)

    file = str(tmp_path / "reference.csv")
    result = runner.invoke(app, ["models", "register", str(path), "--role", "live", "--reference", file])
    said = _said(result)
    assert result.exit_code == 2, said
    assert "cannot score row 237 of the reference file reference.csv" in said
    assert "\x1b" not in said and "[red]west[/]" in said  # shown as sent, escaped, never obeyed
    assert get_services().registry.list() == []
