"""The registry on SQLite and PostgreSQL: vetting, roles, and the sha256 gate before loading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from sklearn.linear_model import LinearRegression, LogisticRegression

from rendezvous.registry import ModelIntegrityError, Registry, RegistryError
from rendezvous.store import Store


@pytest.fixture
def registry(database_url: str, tmp_path: Path) -> Registry:
    return Registry(Store(database_url), str(tmp_path / "models"))


def _classifier_file(tmp_path: Path, name: str = "clf.skops", seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x1": rng.normal(size=200), "x2": rng.normal(size=200)})
    model = LogisticRegression().fit(frame, (frame.x1 + rng.normal(size=200) > 0).astype(int))
    path = tmp_path / name
    sio.dump(model, path)
    return path


def test_register_records_what_a_model_needs(registry: Registry, tmp_path: Path) -> None:
    record = registry.register(
        _classifier_file(tmp_path), "live", version="v1", metadata={"team": "risk"}
    )
    assert record.kind == "classifier"
    assert record.feature_names == ["x1", "x2"]
    assert len(record.sha256) == 64
    # the classes as text and the one the score is the probability of, for storing outcomes;
    # the types its skops file needs besides skops's defaults (none for a plain LogisticRegression)
    assert record.metadata == {
        "team": "risk", "classes": ["0", "1"], "positive_class": "1", "trusted_types": []
    }
    assert record.path.endswith(".skops")
    stored = registry.get("v1")
    assert stored.role == "live" and stored.sha256 == record.sha256
    model = registry.load(stored)
    assert model.predict_proba(pd.DataFrame({"x1": [0.0], "x2": [1.0]})).shape == (1, 2)


def test_regressor_is_accepted(registry: Registry, tmp_path: Path) -> None:
    frame = pd.DataFrame({"a": [1.0, 2.0, 3.0]})
    path = tmp_path / "reg.skops"
    sio.dump(LinearRegression().fit(frame, [1.0, 2.0, 3.0]), path)
    assert registry.register(path, "candidate").kind == "regressor"


def test_tampered_file_is_refused_before_unpickling(registry: Registry, tmp_path: Path) -> None:
    record = registry.register(_classifier_file(tmp_path), "live", version="v1")
    with open(record.path, "ab") as handle:
        handle.write(b"tampered")
    with pytest.raises(ModelIntegrityError, match="sha256"):
        registry.load(record)


def test_missing_file_is_an_integrity_error(registry: Registry, tmp_path: Path) -> None:
    record = registry.register(_classifier_file(tmp_path), "live", version="v1")
    Path(record.path).unlink()
    with pytest.raises(ModelIntegrityError, match="missing"):
        registry.load(record)


def test_not_an_estimator_is_refused(registry: Registry, tmp_path: Path) -> None:
    path = tmp_path / "dict.skops"
    sio.dump({"weights": [1, 2, 3]}, path)
    with pytest.raises(RegistryError, match="not a scikit-learn estimator"):
        registry.register(path, "candidate")


def test_garbage_file_is_refused(registry: Registry, tmp_path: Path) -> None:
    path = tmp_path / "garbage.joblib"
    path.write_bytes(b"this is not a pickle")
    with pytest.raises(RegistryError, match="not a loadable joblib file"):
        registry.register(path, "candidate", trust_pickle=True)
    path.rename(path.with_suffix(".skops"))
    with pytest.raises(RegistryError, match="not a readable skops file"):
        registry.register(path.with_suffix(".skops"), "candidate")


def test_model_without_feature_names_is_refused(registry: Registry, tmp_path: Path) -> None:
    path = tmp_path / "nameless.skops"
    sio.dump(LogisticRegression().fit(np.array([[0.0], [1.0]]), [0, 1]), path)
    with pytest.raises(RegistryError, match="feature names"):
        registry.register(path, "candidate")


def test_second_live_is_refused_roles_change_only_by_promotion(
    registry: Registry, tmp_path: Path
) -> None:
    registry.register(_classifier_file(tmp_path, "a.skops"), "live", version="a")
    with pytest.raises(RegistryError, match="promotion"):
        registry.register(_classifier_file(tmp_path, "b.skops", seed=1), "live", version="b")
    with pytest.raises(RegistryError, match="already registered"):
        registry.register(_classifier_file(tmp_path, "c.skops", seed=2), "candidate", version="a")


def test_serving_set_and_shadow(registry: Registry, tmp_path: Path) -> None:
    with pytest.raises(RegistryError, match="no live model"):
        registry.serving_set()
    registry.register(_classifier_file(tmp_path, "a.skops"), "live", version="a")
    registry.register(_classifier_file(tmp_path, "b.skops", seed=1), "canary", version="b")
    registry.register(_classifier_file(tmp_path, "c.skops", seed=2), "candidate", version="c")
    with pytest.raises(RegistryError, match="only candidates"):
        registry.set_shadow("a", True)
    registry.set_shadow("c", True)
    live, canary, shadows = registry.serving_set()
    assert (live.version, canary.version, [s.version for s in shadows]) == ("a", "b", ["c"])


@pytest.mark.parametrize("version", ["../../../x", "a/b", "v1\nFORGED", ".hidden"])
def test_a_version_that_is_not_a_slug_is_refused_before_any_file_is_written(
    registry: Registry, tmp_path: Path, version: str
) -> None:
    (tmp_path / "in").mkdir()
    source = _classifier_file(tmp_path / "in")
    before = set(tmp_path.rglob("*"))
    with pytest.raises(RegistryError, match="not a name"):
        registry.register(source, "candidate", version=version)
    assert set(tmp_path.rglob("*")) == before
    assert registry.register(source, "candidate").version.startswith("clf-")  # the default is a slug
