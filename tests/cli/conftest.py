"""Fixtures of the command-line tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from meters import SUITE


@pytest.fixture
def meter_home(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The meter-readings use case (tests/cli/meters.py) in a fresh home, its inbox created."""
    from rendezvous.services import forget_services
    from rendezvous.settings import get_settings

    suite = tmp_path / "meters.json"
    suite.write_text(json.dumps(SUITE))
    monkeypatch.setenv("RENDEZVOUS_SUITE_PATH", str(suite))
    monkeypatch.setenv("RENDEZVOUS_ID_COLUMN", "meter")
    monkeypatch.setenv("RENDEZVOUS_PREPROCESS", "")
    get_settings.cache_clear()
    forget_services()
    (home / "inbox").mkdir(parents=True)
    return home
