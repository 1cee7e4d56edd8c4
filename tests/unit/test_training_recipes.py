"""A training recipe is fitted on the live model's feature columns, whatever else the dev copy
holds (ids, a timestamp, bookkeeping), unless it names its own; bad names are refused, named."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from rendezvous.promotion import dataset, evaluation, training
from rendezvous.promotion.errors import TrainingError
from rendezvous.services import get_services

RECIPES = '''
from sklearn.compose import make_column_transformer
from sklearn.compose import make_column_transformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder


def passthrough():
    """Encodes one column and passes every other column through, whatever it is."""
    encode = make_column_transformer((OneHotEncoder(), ["valve_open"]), remainder="passthrough")
    return make_pipeline(encode, LogisticRegression(max_iter=1000))


def widened():
    encode = make_column_transformer((OneHotEncoder(), ["valve_open", "basin"]), remainder="passthrough")
    return make_pipeline(encode, LogisticRegression(max_iter=1000)), ["pressure_kpa", "valve_open", "basin"]


def leaking():
    return LogisticRegression(), ["pressure_kpa", "leak"]
'''
MODULE = "well_recipes_under_test"


@pytest.fixture
def recipes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    folder = tmp_path / "recipes"
    folder.mkdir()
    (folder / f"{MODULE}.py").write_text(textwrap.dedent(RECIPES))
    monkeypatch.chdir(folder)  # a module in the working directory imports
    yield
    sys.modules.pop(MODULE, None)


def dev_copy(n: int = 400) -> pd.DataFrame:
    """What the dev copy holds for a schema unlike the demo's: integer ids, UTC timestamps, a
    boolean, a text column the live model does not use, and the copy's bookkeeping."""
    rng = np.random.default_rng(3)
    read_at = pd.date_range("2026-03-01", periods=n, freq="h", tz="UTC")
    return pd.DataFrame(
        {
            "well_id": np.arange(5_000, 5_000 + n),
            "read_at": read_at,
            "pressure_kpa": rng.normal(300, 40, n),
            "valve_open": rng.random(n) < 0.4,
            "basin": rng.choice(["permian", "bakken"], n),
            "_batch_id": "b-1",
            "date": read_at.strftime("%Y-%m-%d"),
        }
    )


def labelled(
    monkeypatch: pytest.MonkeyPatch, dev: pd.DataFrame, id_column: str, label: str, outcomes: np.ndarray
) -> training.TrainingData:
    """The dev copy labelled and split by its read_at column, with the settings that say so."""
    for name, value in {"ID_COLUMN": id_column, "LABEL_COLUMN": label, "TIMESTAMP_COLUMN": "read_at"}.items():
        monkeypatch.setenv(f"RENDEZVOUS_{name}", value)
    stored = pd.DataFrame({"request_id": dev[id_column].astype(str), "outcome": outcomes})
    rows = dataset.labelled_rows(dev, 1, stored, id_column, label, "read_at")
    split = dataset.time_split(rows, 0.25)
    return training.TrainingData(rows=rows, split=split, fingerprint=dataset.fingerprint(split.train))


@pytest.fixture
def wells(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recipes: None):
    dev = dev_copy()
    leak = np.where(dev["pressure_kpa"] > 320, "yes", "no")
    return labelled(monkeypatch, dev, "well_id", "leak", leak), dev.assign(leak=leak)


def register_live(tmp_path: Path, frame: pd.DataFrame) -> list[str]:
    features = ["pressure_kpa", "valve_open"]
    path = tmp_path / "live.joblib"
    joblib.dump(LogisticRegression().fit(frame[features], frame["leak"]), path)
    record = get_services().registry.register(path, "live", version="wells-live", trust_pickle=True)
    return record.feature_names


def trained_features(monkeypatch: pytest.MonkeyPatch, data, recipe: str, module: str = MODULE) -> list[str]:
    monkeypatch.setenv("RENDEZVOUS_TRAINING_RECIPE", f"{module}:{recipe}")
    from rendezvous.services import forget_services
    from rendezvous.settings import get_settings

    get_settings.cache_clear()
    forget_services()
    estimator = training.fit(get_services(), data)
    return evaluation.transient_record(estimator, "candidate-1").feature_names


def test_a_passthrough_recipe_is_fitted_on_the_live_models_features(wells, tmp_path, monkeypatch) -> None:
    data, frame = wells
    live_features = register_live(tmp_path, frame)
    assert trained_features(monkeypatch, data, "passthrough") == live_features


def test_a_recipe_may_name_wider_features(wells, tmp_path, monkeypatch) -> None:
    data, frame = wells
    register_live(tmp_path, frame)
    assert trained_features(monkeypatch, data, "widened") == ["pressure_kpa", "valve_open", "basin"]


def test_a_recipe_naming_the_label_is_refused(wells, tmp_path, monkeypatch) -> None:
    data, frame = wells
    register_live(tmp_path, frame)
    with pytest.raises(TrainingError, match=r"\['leak'\]: ids, labels and bookkeeping never train"):
        trained_features(monkeypatch, data, "leaking")


def test_without_a_live_model_the_recipe_must_name_its_features(wells, monkeypatch) -> None:
    data, _ = wells
    with pytest.raises(TrainingError, match=r"no live model.*return \(estimator, feature_names\)"):
        trained_features(monkeypatch, data, "passthrough")


README_MODULE = "readme_recipes_under_test"


def readme_recipes() -> str:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    section = readme.split("### Training recipes", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_readmes_recipe_example_trains_on_its_schema(home, tmp_path, monkeypatch) -> None:
    """The documented example, as written, on the schema it documents."""
    folder = tmp_path / "readme"
    folder.mkdir()
    (folder / f"{README_MODULE}.py").write_text(readme_recipes())
    monkeypatch.chdir(folder)  # a module in the working directory imports
    rng = np.random.default_rng(4)
    n = 400
    read_at = pd.date_range("2026-05-01", periods=n, freq="h", tz="UTC")
    dev = pd.DataFrame(
        {
            "machine_id": np.arange(n),
            "read_at": read_at,
            "vibration_mm_s": rng.gamma(2.0, 1.5, n),
            "temperature_c": rng.normal(60, 8, n),
            "door_open": rng.random(n) < 0.3,
            "line": rng.choice(["north", "south", "east"], n),
            "shift": rng.choice(["day", "night"], n),
            "_batch_id": "b-1",
            "date": read_at.strftime("%Y-%m-%d"),
        }
    )
    failed = np.where(dev["vibration_mm_s"] > 3, "yes", "no")
    data = labelled(monkeypatch, dev, "machine_id", "failed", failed)
    live_features = ["vibration_mm_s", "temperature_c", "door_open", "line"]
    live = make_pipeline(
        make_column_transformer((OneHotEncoder(), ["door_open", "line"]), remainder="passthrough"),
        LogisticRegression(max_iter=1000),
    )
    path = tmp_path / "machines-live.joblib"
    joblib.dump(live.fit(dev[live_features], failed), path)
    get_services().registry.register(path, "live", version="machines-live", trust_pickle=True)
    try:
        assert trained_features(monkeypatch, data, "failures", README_MODULE) == live_features
        widened = trained_features(monkeypatch, data, "failures_with_shift", README_MODULE)
        assert widened == [*live_features, "shift"]
    finally:
        sys.modules.pop(README_MODULE, None)
