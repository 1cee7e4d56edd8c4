"""Models that must never go live are refused at registration, with the reason."""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from click.testing import Result
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

from rendezvous.cli import app
from rendezvous.demo.features import MODEL_FEATURES
from rendezvous.services import get_services

runner = CliRunner()


def _said(result: Result) -> str:
    return " ".join(result.stderr.split())  # a refusal is told on stderr; rich wraps long lines


def _fit(columns: list[str], path: Path) -> Path:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(rng.normal(size=(50, len(columns))), columns=columns)
    joblib.dump(LogisticRegression().fit(frame, rng.integers(0, 2, 50)), path)
    return path


def test_model_expecting_features_the_contract_does_not_provide_is_refused(
    home: Path, tmp_path: Path
) -> None:
    model = _fit(["credit_score", "favourite_colour"], tmp_path / "odd.joblib")
    result = runner.invoke(app, ["models", "register", str(model), "--role", "live"])
    assert result.exit_code == 2
    assert "do not provide: favourite_colour" in _said(result)
    assert get_services().registry.list() == []


def test_model_on_contract_and_derived_features_is_accepted(home: Path, tmp_path: Path) -> None:
    numeric = [c for c in MODEL_FEATURES if c not in ("purpose", "segment", "region", "prior_defaults")]
    model = _fit(numeric, tmp_path / "fine.joblib")  # no reference table in this home: no prior_defaults
    result = runner.invoke(app, ["models", "register", str(model), "--role", "live", "--version", "v1"])
    assert result.exit_code == 0, result.stdout
    assert get_services().registry.get("v1").role == "live"


def test_not_an_estimator_and_tampered_files_are_refused(home: Path, tmp_path: Path) -> None:
    joblib.dump({"weights": [1.0]}, tmp_path / "dict.joblib")
    result = runner.invoke(app, ["models", "register", str(tmp_path / "dict.joblib"), "--role", "candidate"])
    assert result.exit_code == 2 and "not a scikit-learn estimator" in _said(result)
    (tmp_path / "torn.joblib").write_bytes(_fit(["credit_score"], tmp_path / "ok.joblib").read_bytes()[:40])
    result = runner.invoke(app, ["models", "register", str(tmp_path / "torn.joblib"), "--role", "candidate"])
    assert result.exit_code == 2 and "not a loadable joblib file" in _said(result)
