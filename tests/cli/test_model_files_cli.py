"""`rendezvous models register|convert` with model files: what the person is told, what they must
name, and a home from before skops brought up to date."""

from __future__ import annotations

from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from click.testing import Result
from payloads import SCALE, Scale
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sqlalchemy import update
from typer.testing import CliRunner

from rendezvous.cli import app
from rendezvous.registry import ModelFormatError, sha256_bytes
from rendezvous.services import get_services
from rendezvous.store.schema import models

runner = CliRunner()


def _said(result: Result) -> str:
    """The answer (stdout) then the warnings and refusals (stderr); rich wraps long lines."""
    return " ".join((result.stdout + result.stderr).split())


def _model(custom: bool = False) -> object:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"credit_score": rng.normal(650, 50, 60), "annual_income": rng.normal(5e4, 1e4, 60)})
    steps = [("scale", Scale(factor=0.5))] if custom else []
    return Pipeline([*steps, ("model", LogisticRegression())]).fit(frame, rng.integers(0, 2, 60))


def test_a_type_outside_the_ml_stack_is_refused_until_named(home: Path, tmp_path: Path) -> None:
    sio.dump(_model(custom=True), tmp_path / "custom.skops")
    args = ["models", "register", str(tmp_path / "custom.skops"), "--role", "live", "--version", "v1"]
    refused = runner.invoke(app, args)
    assert refused.exit_code == 2
    assert f"outside scikit-learn, numpy and scipy: {SCALE}" in _said(refused)
    assert f"--trust-types {SCALE}" in _said(refused)
    assert get_services().registry.list() == []
    accepted = runner.invoke(app, [*args, "--trust-types", f"numpy.float64,{SCALE}"])
    assert accepted.exit_code == 0, accepted.stdout
    assert f"(vouched for): {SCALE}" in _said(accepted)
    assert "warning" not in _said(accepted)  # a skops file is not a pickle
    assert get_services().registry.get("v1").types_needing_approval == [SCALE]


def test_a_joblib_file_is_loaded_after_a_warning_and_stored_as_skops(home: Path, tmp_path: Path) -> None:
    joblib.dump(_model(), tmp_path / "mine.joblib")
    result = runner.invoke(app, ["models", "register", str(tmp_path / "mine.joblib"), "--role", "candidate"])
    assert result.exit_code == 0, result.stdout
    assert "registered" in result.stdout
    assert "loading it runs any code it contains" in " ".join(result.stderr.split())
    record = get_services().registry.list()[0]
    assert record.path.endswith(".skops") and record.metadata["converted_from"]["format"] == "joblib"


def test_models_convert_brings_a_home_from_before_skops_up_to_date(home: Path, tmp_path: Path) -> None:
    registry = get_services().registry
    record = registry.register_estimator(_model(), "live", "old")
    pickled = tmp_path / "old.joblib"
    joblib.dump(_model(), pickled)
    with registry.store.begin() as conn:  # as registered before skops: a joblib path, no types
        conn.execute(
            update(models)
            .where(models.c.version == "old")
            .values(path=str(pickled), sha256=sha256_bytes(pickled.read_bytes()), metadata={})
        )
    with pytest.raises(ModelFormatError, match="rendezvous models convert old"):
        registry.load(registry.get("old"))
    result = runner.invoke(app, ["models", "convert"])
    assert result.exit_code == 0, result.stdout
    assert "warning:" in _said(result) and "converted old (live)" in _said(result)
    converted = registry.get("old")
    assert converted.path.endswith(".skops") and converted.path != record.path
    request = pd.DataFrame({"credit_score": [600.0], "annual_income": [4e4]})
    assert registry.load(converted).predict_proba(request).shape == (1, 2)
    again = runner.invoke(app, ["models", "convert"])
    assert again.exit_code == 0 and "nothing to convert" in _said(again)


def test_metadata_that_is_not_key_value_is_a_usage_error_naming_it(home: Path, tmp_path: Path) -> None:
    sio.dump(_model(), tmp_path / "plain.skops")
    args = ["models", "register", str(tmp_path / "plain.skops"), "--role", "candidate"]
    result = runner.invoke(app, [*args, "--meta", "team=risk", "--meta", "owner\x1b[2J"])
    assert result.exit_code == 2, _said(result)
    assert "'owner\\x1b[2J' is not key=value" in _said(result)  # named, the escape spelled out
    assert get_services().registry.list() == []
    kept = runner.invoke(app, [*args, "--meta", "team=risk", "--meta", "note=a=b"])
    assert kept.exit_code == 0, kept.stdout
    assert get_services().registry.list()[0].metadata["note"] == "a=b"
