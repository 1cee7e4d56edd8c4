"""The README's Operations section, run as written by scripts/operations.sh (SQLite variant): a
server, the pool, `prefect deploy --all`, two workers, a batch, a promotion approved through the
API, the audit, then `rendezvous serve`; the script checks each step through the API."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.server
@pytest.mark.extended  # five minutes; make test deploys, runs a worker, promotes: test_server.py
def test_readme_operations_run_as_written() -> None:
    script = ROOT / "scripts" / "operations.sh"
    done = subprocess.run(["bash", str(script)], cwd=ROOT, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, f"{done.stdout[-6000:]}\n{done.stderr[-6000:]}"
    assert "every block of the README ran and every check passed" in done.stdout
    for step in ("batch", "promote", "approve", "audit", "serve-run"):
        assert f"== [ops-{step}]" in done.stdout
