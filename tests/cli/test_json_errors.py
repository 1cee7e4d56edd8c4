"""Every command that refuses or fails exits non-zero, and with --json its stdout is still JSON
(the message goes to stderr); a decision sent but never recorded is a failure too."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rendezvous.cli import app

runner = CliRunner()

REFUSALS = [
    pytest.param(["batches", "show", "no-[b]such", "--json"], 1, "no batch 'no-[b]such'", id="batches"),
    pytest.param(["drift", "no-such-batch", "--json"], 1, "no monitored batch", id="drift"),
    pytest.param(["performance", "--by", "month", "--json"], 2, "'day' or 'week'", id="perf-by"),
    pytest.param(["performance", "--since", "soon", "--json"], 2, "--since 'soon'", id="perf-since"),
    pytest.param(["rollback", "--by", "a", "--reason", "x", "--json"], 2, "no approved", id="rollback"),
    pytest.param(["labels", "add", "--json"], 1, "no label files", id="labels"),
]


@pytest.mark.parametrize(("args", "code", "message"), REFUSALS)
def test_refusal_under_json_is_a_json_error_and_a_nonzero_exit(
    home: Path, args: list[str], code: int, message: str
) -> None:
    result = runner.invoke(app, args)

    assert result.exit_code == code, result.output
    assert message in json.loads(result.stdout)["error"]
    assert message in " ".join(result.stderr.split())  # escaped: brackets in names are printed as sent


def test_decision_sent_but_never_recorded_exits_1(
    home: Path, monkeypatch: pytest.MonkeyPatch, environ_restored: None
) -> None:
    import flows.promote_model as promote_model

    monkeypatch.setattr(promote_model, "send_decision", lambda *args: None)  # the API took it...
    monkeypatch.setattr(promote_model, "wait_for_end", lambda run_id, wait, **_: None)  # ...no run applied it
    run_id = "0b7c6a52-5d0e-4c55-9a59-8f2f3c1d2e4f"

    result = runner.invoke(app, ["approve", run_id, "--by", "ann", "--wait", "0"])

    assert result.exit_code == 1, result.output
    assert "Nothing is recorded yet" in " ".join(result.stderr.split())
