"""Commands that run no flow import no orchestrator and no statistics: each runs in a fresh process
on an empty home, and what it imported is read from ``sys.modules`` (a behaviour, not a timing)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEAVY = ("prefect", "scipy", "sklearn", "great_expectations", "flows", "tasks")

# runs the CLI in this process and reports which heavy packages it imported
PROBE = """
import json, sys
from rendezvous.cli.app import app
try:
    app(sys.argv[1:])
except SystemExit:
    pass
print(json.dumps(sorted(m for m in {heavy!r} if m in sys.modules)), file=sys.stderr)
"""


def _imported(home: Path, *args: str, heavy: tuple[str, ...] = HEAVY) -> list[str]:
    env = {**os.environ, "RENDEZVOUS_HOME": str(home), "RENDEZVOUS_MODELS_DIR": str(home / "models")}
    env.pop("RENDEZVOUS_DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(heavy=heavy), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    return json.loads(done.stderr.strip().splitlines()[-1])


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
