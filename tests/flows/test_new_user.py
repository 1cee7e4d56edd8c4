"""A new user, through the README's "Use your own model" only: their own schema (a boolean column,
integer ids, UTC timestamps), their own two models of different families, a reference file,
batches in every format, the second half drifted; no demo setting, default thresholds.

Clean batches raise no alert of any kind, drifted ones flag exactly the drifted features, the
response is the model's own ``predict_proba`` on the same rows, and the report's time axes are
request time. With ``-s`` it prints the per-batch table.
"""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from click.testing import Result
from sklearn.compose import make_column_transformer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from typer.testing import CliRunner

from rendezvous.cli import app
from rendezvous.services import forget_services
from rendezvous.settings import get_settings

pytestmark = pytest.mark.usefixtures("prefect_api", "environ_restored")

runner = CliRunner()
FEATURES = ["income", "age", "owns_home", "region"]
TYPES = {"applicant_id": "int64", "applied_at": "datetime64[ns, UTC]", "income": "float64",
         "age": "int64", "owns_home": "bool", "region": "str"}  # fmt: skip
SUITE = {
    "name": "applications",
    "expectations": [
        {"type": "expect_table_columns_to_match_set", "kwargs": {"column_set": list(TYPES)}},
        {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "applicant_id"}},
        *(
            {"type": "expect_column_values_to_be_of_type", "kwargs": {"column": c, "type_": t}}
            for c, t in TYPES.items()
        ),
        {
            "type": "expect_column_values_to_be_between",
            "kwargs": {"column": "age", "min_value": 18, "max_value": 99},
        },
    ],
}
REGIONS = ["north", "south", "east", "west"]
ROWS = 2000
# (file, month of 2025, drifted): the second half earns 25% less and comes mostly from the west
BATCHES = [
    ("applications-01.csv", 1, False),
    ("applications-02.parquet", 2, False),
    ("applications-03.jsonl", 3, True),
    ("applications-04.csv.gz", 4, True),
]
DRIFTED = {"income", "region"}


def applications(n: int, seed: int, month: str, drifted: bool = False) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "applicant_id": np.arange(n, dtype=np.int64) + seed * 1_000_000,
            "applied_at": pd.Timestamp(f"{month}-01", tz="UTC")
            + pd.to_timedelta(rng.uniform(0, 27 * 86_400, n).round(), unit="s"),
            "income": rng.normal(52_000 * (0.75 if drifted else 1.0), 12_000, n).round(2),
            "age": rng.integers(18, 80, n),
            "owns_home": rng.random(n) < 0.4,
            "region": rng.choice(REGIONS, n, p=[0.1, 0.1, 0.2, 0.6] if drifted else [0.3, 0.3, 0.2, 0.2]),
        }
    )


def outcomes(frame: pd.DataFrame, seed: int) -> np.ndarray:
    logit = (frame["income"] - 52_000) / 15_000 - 0.03 * (frame["age"] - 45) + frame["owns_home"] * 0.8
    logit += frame["region"].map({"north": 0.4, "south": -0.2, "east": 0.0, "west": -0.5})
    return np.random.default_rng(seed).random(len(frame)) < 1 / (1 + np.exp(-logit))


def models() -> dict[str, object]:
    """Two families, as a user would fit them on a DataFrame (a real bool column among them)."""
    history = applications(4000, seed=1, month="2024-06")
    onehot = OneHotEncoder(handle_unknown="ignore")
    live = make_pipeline(
        make_column_transformer((onehot, ["region"]), remainder="passthrough"),
        GradientBoostingClassifier(n_estimators=40, max_depth=3, random_state=0),
    )
    canary = make_pipeline(
        make_column_transformer((onehot, ["region"]), remainder=StandardScaler()),
        LogisticRegression(max_iter=1000),
    )
    labels = outcomes(history, seed=2)
    return {"live": live.fit(history[FEATURES], labels), "canary": canary.fit(history[FEATURES], labels)}


def write(frame: pd.DataFrame, path: Path) -> None:
    """Each format as a user's exporter writes it: CSV booleans as True/False, ISO timestamps."""
    if path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    elif path.suffix == ".jsonl":
        frame.to_json(path, orient="records", lines=True, date_format="iso")
    elif path.name.endswith(".csv.gz"):
        with gzip.open(path, "wt") as handle:
            frame.to_csv(handle, index=False)
    else:
        frame.to_csv(path, index=False)


def read_response(path: str) -> pd.DataFrame:
    if path.endswith(".parquet"):
        return pd.read_parquet(path)
    if path.endswith(".jsonl"):
        return pd.read_json(path, lines=True, dtype=False, precise_float=True)
    return pd.read_csv(path)


def cli(*args: str) -> Result:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, (args, result.stdout, result.stderr)
    return result


@pytest.fixture
def new_user(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Only what the README says to set: the suite, the id column, the timestamp column."""
    monkeypatch.delenv("RENDEZVOUS_CONFIG", raising=False)  # no demo setting anywhere
    (tmp_path / "applications.json").write_text(json.dumps(SUITE))
    monkeypatch.setenv("RENDEZVOUS_SUITE_PATH", str(tmp_path / "applications.json"))
    monkeypatch.setenv("RENDEZVOUS_ID_COLUMN", "applicant_id")
    monkeypatch.setenv("RENDEZVOUS_TIMESTAMP_COLUMN", "applied_at")
    get_settings.cache_clear()
    forget_services()
    return home


def test_a_new_user_with_their_own_schema_models_and_reference(new_user: Path, tmp_path: Path) -> None:
    fitted = models()
    for role, model in fitted.items():
        joblib.dump(model, tmp_path / f"{role}.joblib")
    write(applications(10_000, seed=3, month="2024-12"), tmp_path / "reference.csv")
    said = {}
    reference = str(tmp_path / "reference.csv")
    for role in fitted:
        said[role] = cli("models", "register", str(tmp_path / f"{role}.joblib"), "--role", role,
                         "--version", f"my-{role}", "--reference", reference)  # fmt: skip
    assert f"batch files go into {new_user / 'inbox'}" in " ".join(said["live"].stdout.split())

    sent = {}
    inbox = new_user / "inbox"  # registering the live model made it, and said so
    for number, (name, month, drifted) in enumerate(BATCHES, start=10):
        sent[name] = applications(ROWS, seed=number, month=f"2025-{month:02d}", drifted=drifted)
        write(sent[name], tmp_path / name)
        shutil.copy(tmp_path / name, inbox / name)
    scored = {o["source"]: o for o in json.loads(cli("score", "--json").stdout)}

    table = []
    for name, _, drifted in BATCHES:
        outcome = scored[name]
        counts = (outcome["state"], outcome["rows_scored"], outcome["rows_quarantined"])
        assert counts == ("committed", ROWS, 0), outcome
        rows = json.loads(cli("drift", name, "--json").stdout)
        alerts = [r for r in rows if r["alert"] or r["metric"] == "monitor_error"]
        features = {r["feature"] for r in alerts if r["feature"]}
        rules = sorted(f"{r['detail'].get('comparison')}: {r['metric']}" for r in alerts if not r["feature"])
        table.append((name, outcome["rows_scored"], len(alerts), ", ".join(sorted(features)) or "-", rules))
        if drifted:
            assert features == DRIFTED, alerts
        else:
            assert alerts == [], alerts  # no rule of any kind: features, live vs reference, pair

        response = read_response(outcome["outputs"]["response"])
        assert pd.api.types.is_integer_dtype(response["request_id"]), response.dtypes  # every format
        own = fitted["live"].predict_proba(sent[name][FEATURES])[:, 1]
        expected = pd.Series(own, index=sent[name]["applicant_id"])
        assert response["score"].tolist() == expected.loc[response["request_id"]].tolist()

    print(f"\n{'batch':<26}{'rows':>6}{'alerts':>8}  {'drifted features':<18}other alerts")
    for name, rows_scored, n_alerts, features, rules in table:
        print(f"{name:<26}{rows_scored:>6}{n_alerts:>8}  {features:<18}{', '.join(rules) or '-'}")

    status = json.loads(cli("status", "--json").stdout)["monitoring"]
    profiles = [p["profile"] for p in status["profiles"]]
    assert all(p.startswith("reference file reference.csv (10,000 rows") for p in profiles), profiles
    assert {a["source"] for a in status["alerts"]} == {name for name, _, drifted in BATCHES if drifted}

    page = tmp_path / "report.html"
    cli("report", "-o", str(page))
    html = page.read_text()
    assert "request time (applied_at)" in html
    for name, month, _ in BATCHES:  # each batch in the middle of its requests' month, not today
        assert f"2025-{month:02d}-14" in html, name
