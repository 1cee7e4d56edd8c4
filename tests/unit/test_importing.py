"""The one 'module:function' loader behind every setting that names code."""

from __future__ import annotations

import sys
import uuid
from pathlib import Path

import pandas as pd
import pytest

from rendezvous.enrichment import load_preprocess
from rendezvous.importing import ImportPathError
from rendezvous.promotion.training import load_recipe


def _module(folder: Path, body: str) -> str:
    name = f"user_steps_{uuid.uuid4().hex[:8]}"
    (folder / f"{name}.py").write_text(body)
    return name


def test_a_module_in_the_working_directory_loads_after_installed_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = _module(tmp_path, "def double(frame):\n    return frame * 2\n")
    (tmp_path / "json.py").write_text("def dumps(value):\n    return 'shadowed'\n")
    monkeypatch.chdir(tmp_path)
    step = load_preprocess(f"{name}:double")
    assert step(pd.DataFrame({"x": [1, 2]}))["x"].tolist() == [2, 4]
    assert load_recipe("json:dumps")([1]) == "[1]"  # an installed module is not shadowed
    assert str(tmp_path) not in sys.path  # searched while loading only


@pytest.mark.parametrize(
    ("loader", "setting"),
    [(load_preprocess, "RENDEZVOUS_PREPROCESS"), (load_recipe, "RENDEZVOUS_TRAINING_RECIPE")],
)
@pytest.mark.parametrize(
    ("spec", "cause"),
    [
        ("no_such_module_here:f", "ModuleNotFoundError"),
        ("json:no_such_function", "AttributeError"),
        (":f", "ValueError"),
        ("bad-name!:f", "ValueError"),
    ],
)
def test_every_loader_names_the_setting_and_the_cause(loader, setting: str, spec: str, cause: str) -> None:
    with pytest.raises(ImportPathError) as refused:
        loader(spec)
    message = str(refused.value)
    assert message.startswith(f"{setting}={spec!r} cannot be loaded ({cause}")
    assert "'module:function'" in message


def test_a_module_that_fails_on_import_is_reported_with_its_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    name = _module(tmp_path, "import math\nRATE = 1 / 0\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ImportPathError, match="ZeroDivisionError") as refused:
        load_recipe(f"{name}:RATE")
    assert isinstance(refused.value.__cause__, ZeroDivisionError)


def test_a_name_that_is_not_a_function_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = _module(tmp_path, "RATE = 0.5\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ImportPathError, match=rf"RENDEZVOUS_PREPROCESS='{name}:RATE' names a float"):
        load_preprocess(f"{name}:RATE")
