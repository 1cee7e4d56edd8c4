"""Commands that run no flow import no orchestrator and no statistics: each runs in a fresh process
on an empty home and on one the demo has scored into, and what it imported is read from
``sys.modules`` (a behaviour, not a timing)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from cli_process import HEAVY, imported, probe_argv


def _run(home: Path, *args: str, heavy: tuple[str, ...] = HEAVY) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RENDEZVOUS_HOME": str(home), "RENDEZVOUS_MODELS_DIR": str(home / "models")}
    env.pop("RENDEZVOUS_DATABASE_URL", None)
    argv = probe_argv(*args, heavy=heavy)
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300)


def _imported(home: Path, *args: str, heavy: tuple[str, ...] = HEAVY) -> list[str]:
    return imported(_run(home, *args, heavy=heavy).stderr)


def _reset() -> None:
    from rendezvous.services import forget_services
    from rendezvous.settings import get_settings

    get_settings.cache_clear()
    forget_services()


SCORED = {"loans-2026-11-01.csv": "committed", "loans-2026-11-04-bad-rows.csv": "rejected"}


@pytest.fixture(scope="module")
def scored_home(tmp_path_factory: pytest.TempPathFactory, prefect_api: None) -> Iterator[Path]:
    """The demo's models with their reference profiles, one batch scored and monitored (drift
    statistics, thresholds the JSON has no number for) and one rejected for its bad rows."""
    from flows.score_batches import score_batches
    from rendezvous.demo.bootstrap import build_demo
    from rendezvous.services import get_services

    home = tmp_path_factory.mktemp("scored") / "home"
    saved = dict(os.environ)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RENDEZVOUS_HOME", str(home))
        patch.setenv("RENDEZVOUS_MODELS_DIR", str(home / "models"))
        patch.delenv("RENDEZVOUS_DATABASE_URL", raising=False)
        _reset()
        built = build_demo(get_services(), rows_per_batch=20)
        for name in built.batches:
            if name not in SCORED:
                (home / "inbox" / name).unlink()
        states = {o["source"]: o["state"] for o in score_batches()}
        assert states == SCORED
    os.environ.clear()
    os.environ.update(saved)  # the flow sets Prefect's defaults in os.environ
    _reset()
    yield home


def test_settings_and_cli_modules_import_nothing_heavy(tmp_path: Path) -> None:
    code = (
        "import json, sys; import rendezvous.settings, rendezvous.cli.app; "
        f"print(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


@pytest.mark.parametrize(
    "args",
    [
        ["status"],
        ["models", "list"],
        ["batches", "show", "no-such-batch.csv"],
        ["drift", "no-such-batch.csv"],
        ["approvals"],
        ["verify"],
    ],
    ids=" ".join,
)
def test_reads_of_the_store_import_no_orchestrator_nor_statistics(tmp_path: Path, args: list[str]) -> None:
    assert _imported(tmp_path / "home", *args) == []


@pytest.mark.parametrize("args", [["models", "list"], ["batches", "show", "no-such-batch.csv"]], ids=" ".join)
def test_reads_of_one_table_import_no_pandas(tmp_path: Path, args: list[str]) -> None:
    assert _imported(tmp_path / "home", *args, heavy=("pandas", "numpy", "pyarrow", "fsspec")) == []


@pytest.mark.parametrize(
    "args",
    [
        ["status"],
        ["drift"],
        ["drift", "loans-2026-11-01.csv"],
        ["models", "list"],
        ["batches", "show", "loans-2026-11-04-bad-rows.csv"],
    ],
    ids=" ".join,
)
def test_reads_of_a_scored_home_import_no_pandas_either(scored_home: Path, args: list[str]) -> None:
    assert _imported(scored_home, *args, heavy=(*HEAVY, "pandas")) == []


def test_drift_as_json_is_strict_json_with_every_statistic_of_the_batch(scored_home: Path) -> None:
    def no_constants(name: str) -> None:
        raise AssertionError(f"{name} is not JSON")

    done = _run(scored_home, "drift", "loans-2026-11-01.csv", "--json")
    rows = json.loads(done.stdout, parse_constant=no_constants)

    assert {row["source"] for row in rows} == {"loans-2026-11-01.csv"}
    # A clean 20-row batch: the score rules' noise margins are wide there, so nothing alerts.
    assert all(isinstance(row["alert"], bool) for row in rows)
    assert any(row["threshold"] is None for row in rows)
    assert {row["feature"] for row in rows} >= {"annual_income", "credit_score", None}


def test_labels_add_reads_the_contract_without_great_expectations(scored_home: Path, tmp_path: Path) -> None:
    """The id's declared kind is all it needs of the contract: read from the suite's JSON."""
    file = tmp_path / "outcomes.csv"
    file.write_text("request_id,outcome\n279876.0,1\n")
    done = _run(scored_home, "labels", "add", str(file), "--json", heavy=HEAVY)
    assert '"unknown_request": 1' in done.stdout, done.stdout + done.stderr
    assert imported(done.stderr) == []
