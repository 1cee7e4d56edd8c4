"""What a scoring run depends on is read when the run starts, and what is cosmetic never fails it."""

from __future__ import annotations

import json
from pathlib import Path

import dask
import pytest
from meters import register_meter_model, write_readings
from prefect.client.orchestration import SyncPrefectClient
from typer.testing import CliRunner

import flows.score_batches  # noqa: F401  imported before the settings change, as a long-lived process has
from rendezvous.cli import app
from rendezvous.settings import get_settings

pytestmark = pytest.mark.usefixtures("prefect_api", "environ_restored")
runner = CliRunner()


def test_task_runner_is_chosen_from_the_settings_of_each_run(
    meter_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    register_meter_model(tmp_path)
    write_readings(meter_home / "inbox")
    monkeypatch.setenv("RENDEZVOUS_TASK_RUNNER", "tcp://127.0.0.1:9")  # a Dask scheduler nobody runs
    get_settings.cache_clear()

    with dask.config.set({"distributed.comm.timeouts.connect": "2s"}):
        unreachable = runner.invoke(app, ["score", "--json"])

    assert unreachable.exit_code == 1, unreachable.output
    (outcome,) = json.loads(unreachable.stdout)
    assert outcome["state"] == "error" and "127.0.0.1:9" in outcome["reason"]

    monkeypatch.setenv("RENDEZVOUS_TASK_RUNNER", "threads")
    get_settings.cache_clear()
    threads = runner.invoke(app, ["score", "--json"])

    assert threads.exit_code == 0, threads.output
    (outcome,) = json.loads(threads.stdout)
    assert outcome["source"] == "readings.csv" and outcome["state"] == "committed"


def test_run_the_api_will_not_rename_or_tag_still_scores(
    meter_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def refuse(self: SyncPrefectClient, *args: object, **kwargs: object) -> None:
        raise RuntimeError("the API refused to update the flow run")

    monkeypatch.setattr(SyncPrefectClient, "update_flow_run", refuse)
    register_meter_model(tmp_path)
    write_readings(meter_home / "inbox")

    result = runner.invoke(app, ["score", "--json"])

    assert result.exit_code == 0, result.output
    (outcome,) = json.loads(result.stdout)
    assert outcome["state"] == "committed" and outcome["rows_scored"] == 2
    assert (meter_home / "outbox" / outcome["batch_id"]).is_dir()


@pytest.mark.parametrize("asked", [None, "45"])
def test_the_commands_runs_send_heartbeats_only_when_asked(
    meter_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, asked: str | None
) -> None:
    """Prefect joins a run's heartbeat thread at the run's end (up to a second a micro-batch);
    an operator who set PREFECT_FLOWS_HEARTBEAT_FREQUENCY gets the heartbeats."""
    from prefect.settings import get_current_settings

    from tasks import scoring

    seen: list[int | None] = []
    real_list_inbox = scoring.list_inbox.fn

    def listing() -> list[str]:
        seen.append(get_current_settings().flows.heartbeat_frequency)
        return real_list_inbox()

    if asked:
        monkeypatch.setenv("PREFECT_FLOWS_HEARTBEAT_FREQUENCY", asked)
    monkeypatch.setattr(scoring.list_inbox, "fn", listing)
    register_meter_model(tmp_path)
    write_readings(meter_home / "inbox")

    scored = runner.invoke(app, ["score", "--json"])

    assert scored.exit_code == 0, scored.output
    # asked: Prefect's own setting is left alone (this process's was read when the harness started)
    assert len(seen) == 1 and (seen[0] is None) == (asked is None), seen
