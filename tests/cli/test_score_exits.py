"""`rendezvous score` says when something failed: exit 1, the rest still reported, --json still JSON,
and --watch never retries a failing file in a hot loop."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from meters import register_meter_model, write_readings
from typer.testing import CliRunner

from rendezvous.cli import app

pytestmark = pytest.mark.usefixtures("prefect_api", "environ_restored")
runner = CliRunner()


def _register_live_then_tamper(tmp_path: Path) -> None:
    record = register_meter_model(tmp_path)
    stored = Path(record.path)
    stored.write_bytes(stored.read_bytes() + b"\n")  # the file no longer matches its sha256


def _readings(inbox: Path) -> None:
    write_readings(inbox)
    pd.DataFrame({"meter": ["m-3"], "amps": [4.0]}).to_csv(inbox / "wrong-columns.csv", index=False)


def test_failed_batch_exits_1_and_json_holds_every_outcome(meter_home: Path, tmp_path: Path) -> None:
    _register_live_then_tamper(tmp_path)
    _readings(meter_home / "inbox")

    result = runner.invoke(app, ["score", "--json"])

    assert result.exit_code == 1, result.output
    outcomes = {o["source"]: o for o in json.loads(result.stdout)}
    assert outcomes["readings.csv"]["state"] == "error"
    assert "sha256" in outcomes["readings.csv"]["reason"]
    assert outcomes["wrong-columns.csv"]["state"] == "rejected"  # the rest still went through
    assert "readings.csv" in result.stderr
    assert (meter_home / "inbox" / "readings.csv").exists()  # claimable again


def test_failed_batch_exits_1_and_the_table_shows_the_rest(meter_home: Path, tmp_path: Path) -> None:
    _register_live_then_tamper(tmp_path)
    _readings(meter_home / "inbox")

    result = runner.invoke(app, ["score"])

    assert result.exit_code == 1, result.output
    table = " ".join(result.stdout.split())
    assert "readings.csv" in table and "error" in table
    assert "wrong-columns.csv" in table and "rejected" in table
    assert "The inbox is empty" not in result.stdout
    assert "1 failed: readings.csv" in " ".join(result.stderr.split())


def test_file_intake_cannot_take_exits_1_with_json(home: Path) -> None:
    (home / "inbox").mkdir(parents=True)
    (home / "inbox" / "early.csv").write_text("request_id,x\nr1,1\n")  # no live model registered yet

    result = runner.invoke(app, ["score", "--json"])

    assert result.exit_code == 1, result.output
    (outcome,) = json.loads(result.stdout)
    assert outcome["source"] == "early.csv" and outcome["state"] == "error"
    assert "no live model" in outcome["reason"]


class FakeTime:
    """A clock that moves only when the watch sleeps; stops the watch after ``sleeps`` sleeps."""

    def __init__(self, sleeps: int) -> None:
        self.now, self.slept, self.left = 0.0, [], sleeps

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.left -= 1
        if self.left == 0:
            raise KeyboardInterrupt
        self.now += seconds


def test_watch_waits_between_passes_and_backs_off_a_failing_file(home: Path) -> None:
    from rendezvous.cli.scoring import watch_inbox

    (home / "inbox").mkdir(parents=True)
    (home / "inbox" / "early.csv").write_text("request_id,x\nr1,1\n")  # no live model: intake fails
    fake = FakeTime(sleeps=8)
    passes: list[tuple[float, list[dict[str, Any]]]] = []

    still = watch_inbox(5.0, lambda outcomes: passes.append((fake.now, outcomes)), fake.sleep, fake.clock)

    assert fake.slept == [5.0] * 8  # one interval after every pass, whatever happened
    times = [at for at, _ in passes]
    assert times == [0.0, 10.0, 30.0]  # then twice as long after each further failure
    assert all(o["state"] == "error" for _, outcomes in passes for o in outcomes)
    assert [(o["source"], o["state"]) for o in still] == [("early.csv", "error")]


def test_failed_run_carries_each_batch_error_and_every_outcome(meter_home: Path, tmp_path: Path) -> None:
    from flows.score_batches import BatchesFailed, score_batches
    from rendezvous.registry import ModelIntegrityError

    _register_live_then_tamper(tmp_path)
    _readings(meter_home / "inbox")

    with pytest.raises(BatchesFailed) as failed:
        score_batches()

    (cause,) = failed.value.exceptions
    assert isinstance(cause, ModelIntegrityError) and "sha256" in str(cause)
    assert cause.__traceback__ is not None
    states = {o["source"]: o["state"] for o in failed.value.outcomes}
    assert states == {"readings.csv": "error", "wrong-columns.csv": "rejected"}


def test_watch_keeps_its_interval_while_the_inbox_cannot_be_listed(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rendezvous.cli.scoring import watch_inbox
    from rendezvous.settings import get_settings

    monkeypatch.setenv("RENDEZVOUS_INBOX_URL", "nosuchstore://bucket/inbox")
    get_settings.cache_clear()
    fake = FakeTime(sleeps=3)
    passes: list[list[dict[str, Any]]] = []

    still = watch_inbox(5.0, passes.append, fake.sleep, fake.clock)

    assert fake.slept == [5.0] * 3
    assert len(passes) == 3
    assert all(o["state"] == "error" and "nosuchstore" in o["reason"] for (o,) in passes)
    assert [o["source"] for o in still] == [None]  # no file failed: the pass itself did
