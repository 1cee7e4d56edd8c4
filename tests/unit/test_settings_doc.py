"""Every setting is in one row of the README's settings tables, with the default it really has."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from rendezvous.settings import Settings

README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def _rows() -> list[tuple[list[str], str]]:
    """(the settings a table row names, its default cell) for every settings row of the README."""
    rows = []
    for line in README.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| `RENDEZVOUS_") and len(cells) == 3:
            names = re.findall(r"`(?:RENDEZVOUS)?(_[A-Z_]+)`", cells[0])
            rows.append(([name[1:].lower() for name in names], cells[1]))
    return rows


def test_every_setting_is_documented_once() -> None:
    named = [name for names, _ in _rows() for name in names]
    assert sorted(named) == sorted(Settings.model_fields)


@pytest.mark.parametrize("names, default", [row for row in _rows() if len(row[0]) == 1])
def test_documented_defaults_are_the_defaults(
    names: list[str], default: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (name,) = names
    for variable in [v for v in os.environ if v.startswith("RENDEZVOUS_")]:
        monkeypatch.delenv(variable)
    monkeypatch.setenv("RENDEZVOUS_CONFIG", str(tmp_path / "none.toml"))
    declared: Any = Settings.model_fields[name].get_default(call_default_factory=True)
    literal = re.fullmatch(r"`([^`]*)`( \(.*\))?", default)
    if isinstance(declared, BaseModel):  # a section of its own (monitoring)
        assert default.startswith("see "), default
    elif isinstance(declared, Path):
        assert literal and declared.name == literal.group(1).rstrip("/"), default
    elif literal:
        assert literal.group(1) == str(declared), default
    elif default.startswith("none"):
        assert declared in (None, ""), default
    elif "in home" in default:
        home = tmp_path / "home"
        assert declared == "" and str(home) in getattr(Settings(home=home), name), default
    else:
        pytest.fail(f"{name}: give its default as `value`, none, a place in home or a section: {default}")
