"""`rendezvous score`'s closing lines: every row accounted for, and who answered when any row
fell back from the preferred model (the counts `batches show` and `status` give per batch)."""

from __future__ import annotations

from typing import Any

import pytest

from rendezvous.cli.app import _print_accounting
from rendezvous.settings import get_settings


def _outcome(served_by: dict[str, int], late: int = 0, state: str = "committed") -> dict[str, Any]:
    rows = sum(served_by.values())
    return {"state": state, "rows_in": rows + 1, "rows_scored": rows, "rows_quarantined": 1,
            "served_by": served_by, "rows_late": late}


def test_a_fallback_is_summed_over_the_batches_and_named(capsys: pytest.CaptureFixture[str]) -> None:
    _print_accounting([_outcome({"live": 34, "canary": 6}), _outcome({"live": 10, "canary": 0}, late=2)])
    out = capsys.readouterr().out
    assert "rows in 52 = scored 50 + quarantined 2: every row accounted for" in out
    assert "served by live 44, canary 6; 2 late" in out


def test_no_fallback_no_line(capsys: pytest.CaptureFixture[str]) -> None:
    _print_accounting([_outcome({"live": 40, "canary": 0}), _outcome({}, state="duplicate")])
    assert "served by" not in capsys.readouterr().out


def test_the_preferred_model_is_the_settings_first(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RENDEZVOUS_RESPONSE_ORDER", "canary,live")
    get_settings.cache_clear()
    try:
        _print_accounting([_outcome({"canary": 40})])
        assert "served by" not in capsys.readouterr().out
        _print_accounting([_outcome({"canary": 30, "live": 10})])
        assert "served by canary 30, live 10; 0 late" in capsys.readouterr().out
    finally:
        get_settings.cache_clear()
