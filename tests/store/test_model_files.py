"""Model files with real payloads, on SQLite and PostgreSQL: a pickle that runs a shell command or
promotes itself by UPDATE is never unpickled by the registry's loader, whatever is done to the
store's files or rows; a skops file loads only with the types recorded at registration."""

from __future__ import annotations

import getpass
import os
import re
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
import skops.io as sio
from payloads import SCALE, Scale, SelfPromotion, ShellPayload
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sqlalchemy import update

from rendezvous.promotion import audit
from rendezvous.registry import (
    ModelFormatError,
    ModelIntegrityError,
    Registry,
    RegistryError,
    UntrustedTypesError,
    sha256_bytes,
)
from rendezvous.store import Store
from rendezvous.store.schema import models


@pytest.fixture
def registry(database_url: str, tmp_path: Path) -> Registry:
    return Registry(Store(database_url), str(tmp_path / "models"))


def _frame(seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"income": rng.normal(size=80), "debt": rng.normal(size=80)})
    return frame, (frame.income > 0).astype(int)


def _plain_model() -> LogisticRegression:
    return LogisticRegression().fit(*_frame())


def _custom_model(marker: Path | str = "") -> Pipeline:
    return Pipeline([("scale", Scale(marker=str(marker))), ("model", LogisticRegression())]).fit(*_frame())


def _store_row(registry: Registry, version: str, **values: Any) -> None:
    with registry.store.begin() as conn:
        conn.execute(update(models).where(models.c.version == version).values(**values))


def test_the_payloads_are_real(registry: Registry, database_url: str, tmp_path: Path) -> None:
    """Unpickled, each payload does what the other tests check never happens."""
    marker = tmp_path / "ran"
    joblib.dump(ShellPayload(marker), tmp_path / "shell.joblib")
    joblib.load(tmp_path / "shell.joblib")
    assert marker.exists()
    registry.register_estimator(_plain_model(), "live", "live")
    registry.register_estimator(_plain_model(), "candidate", "evil")
    joblib.dump(SelfPromotion(database_url, "evil"), tmp_path / "evil.joblib")
    joblib.load(tmp_path / "evil.joblib")
    assert registry.get("evil").role == "live"
    marker = tmp_path / "built"
    sio.dump(_custom_model(marker), tmp_path / "custom.skops")
    sio.load(tmp_path / "custom.skops", trusted=sio.get_untrusted_types(file=tmp_path / "custom.skops"))
    assert marker.exists()


def test_a_pickle_is_not_unpickled_unless_its_owner_says_so(registry: Registry, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    joblib.dump(ShellPayload(marker), tmp_path / "model.joblib")
    with pytest.raises(RegistryError, match=r"not a \.skops file"):
        registry.register(tmp_path / "model.joblib", "candidate")
    assert not marker.exists()
    assert registry.list() == []


def test_an_owned_joblib_file_is_stored_as_skops_with_its_provenance(
    registry: Registry, tmp_path: Path
) -> None:
    joblib.dump(_plain_model(), tmp_path / "mine.joblib")
    record = registry.register(tmp_path / "mine.joblib", "live", version="v1", trust_pickle=True)
    assert record.path.endswith(".skops")
    stored = Path(record.path).read_bytes()
    assert sha256_bytes(stored) == record.sha256
    assert sio.get_untrusted_types(data=stored) == record.trusted_types
    assert record.metadata["converted_from"] == {
        "format": "joblib",
        "sha256": sha256_bytes((tmp_path / "mine.joblib").read_bytes()),
    }
    assert registry.load(registry.get("v1")).predict_proba(_frame(1)[0]).shape == (80, 2)


def test_a_pickle_in_the_store_under_a_registered_path_is_never_unpickled(
    registry: Registry, tmp_path: Path
) -> None:
    """The candidate's stored file is replaced by a payload; even with the sha256 forged to match,
    and in a home that still records it as joblib, the loader refuses before reading a byte of it."""
    record = registry.register_estimator(_plain_model(), "candidate", "cand")
    marker = tmp_path / "ran"
    joblib.dump(ShellPayload(marker), record.path)
    with pytest.raises(ModelIntegrityError, match="sha256"):
        registry.load(registry.get("cand"))
    _store_row(registry, "cand", sha256=sha256_bytes(Path(record.path).read_bytes()))
    with pytest.raises(ModelIntegrityError, match="not a readable skops file"):
        registry.load(registry.get("cand"))
    pickle_path = record.path.replace(".skops", ".joblib")
    os.replace(record.path, pickle_path)
    _store_row(registry, "cand", path=pickle_path, metadata={})  # as a home from before skops
    with pytest.raises(ModelFormatError, match="rendezvous models convert cand"):
        registry.load(registry.get("cand"))
    assert not marker.exists()


def test_a_self_promoting_pickle_never_changes_a_role(registry: Registry, database_url: str) -> None:
    registry.register_estimator(_plain_model(), "live", "live")
    record = registry.register_estimator(_plain_model(), "candidate", "evil")
    joblib.dump(SelfPromotion(database_url, "evil"), record.path)
    with pytest.raises(ModelIntegrityError):
        registry.load(registry.get("evil"))
    assert (registry.get("evil").role, registry.get("live").role) == ("candidate", "live")


def test_a_type_outside_the_ml_stack_needs_a_person_to_name_it(registry: Registry, tmp_path: Path) -> None:
    sio.dump(_custom_model(), tmp_path / "custom.skops")
    with pytest.raises(UntrustedTypesError, match=re.escape(f"--trust-types {SCALE}")):
        registry.register(tmp_path / "custom.skops", "candidate")
    record = registry.register(tmp_path / "custom.skops", "live", version="v1", trust_types=[SCALE])
    assert SCALE in record.trusted_types
    assert record.types_needing_approval == [SCALE]
    assert registry.load(registry.get("v1")).predict_proba(_frame(1)[0]).shape == (80, 2)


def test_types_recorded_at_registration_are_the_only_ones_trusted(registry: Registry, tmp_path: Path) -> None:
    """A file replaced by one that needs another type, with its sha256 forged too, is refused
    before that type is built; so is a record whose types were edited."""
    plain = registry.register_estimator(_plain_model(), "candidate", "plain")
    marker = tmp_path / "built"
    sio.dump(_custom_model(marker), plain.path)
    assert not marker.exists()  # fitting and dumping do not build it from a file; loading would
    _store_row(registry, "plain", sha256=sha256_bytes(Path(plain.path).read_bytes()))
    refusal = re.escape(f"needs types not recorded at registration: {SCALE}")
    with pytest.raises(ModelIntegrityError, match=refusal):
        registry.load(registry.get("plain"))
    assert not marker.exists()

    custom = registry.register_estimator(_custom_model(), "candidate", "custom", trust_types=[SCALE])
    metadata = {**custom.metadata, "trusted_types": [*custom.trusted_types, "posix.system"]}
    _store_row(registry, "custom", metadata=metadata)
    with pytest.raises(ModelIntegrityError, match=r"lacks recorded types: posix\.system"):
        registry.load(registry.get("custom"))
    _store_row(registry, "custom", metadata={**custom.metadata, "trusted_types": []})
    with pytest.raises(ModelIntegrityError, match="needs types not recorded"):
        registry.load(registry.get("custom"))


def test_a_home_from_before_skops_is_converted_by_its_operator(registry: Registry, tmp_path: Path) -> None:
    record = registry.register_estimator(_plain_model(), "live", "old")
    pickle_path = Path(record.path).with_suffix(".joblib")
    joblib.dump(_plain_model(), pickle_path)
    Path(record.path).unlink()
    _store_row(registry, "old", path=str(pickle_path), metadata={},
               sha256=sha256_bytes(pickle_path.read_bytes()))
    with pytest.raises(ModelFormatError):
        registry.load(registry.get("old"))
    converted = registry.convert("old")
    assert converted.path.endswith(".skops") and converted.role == "live"
    assert converted.metadata["converted_from"]["sha256"] == sha256_bytes(pickle_path.read_bytes())
    assert registry.load(converted).predict_proba(_frame(1)[0]).shape == (80, 2)
    last = audit.history(registry.store)[-1]  # its new sha256 is in the audit, as a registration is
    assert (last["action"], last["actor"]) == ("convert", getpass.getuser())
    old_sha = sha256_bytes(pickle_path.read_bytes())
    assert f"sha256 {old_sha[:12]} -> {converted.sha256[:12]}" in last["comment"]
    with pytest.raises(RegistryError, match="skops already"):
        registry.convert("old")


def test_what_the_registry_records_about_a_file_cannot_be_supplied_by_the_caller(
    registry: Registry, tmp_path: Path
) -> None:
    sio.dump(_plain_model(), tmp_path / "plain.skops")
    forged = {"trusted_types": ["posix.system"], "converted_from": {"format": "joblib"}, "team": "risk"}
    record = registry.register(tmp_path / "plain.skops", "candidate", metadata=forged)
    assert record.trusted_types == [] and "converted_from" not in record.metadata
    assert record.metadata["team"] == "risk"
