"""The memory cases of the hostile corpus, each in a subprocess under an address-space limit:
a file of a few KB that decodes to gigabytes, a 200 MB line, 50k rows of 4 KB ids. Each must be
rejected naming the limit it breaks; a regression fails here instead of taking the machine."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from bombs import BOMBS
from checks import breaches, store_counts, terminal_rows

from rendezvous.services import get_services

ADDRESS_SPACE = 1536 << 20  # 1.5 GiB: the whole process, interpreter and libraries included
RUNNER = Path(__file__).with_name("bounded_run.py")


@pytest.mark.parametrize("bomb", BOMBS, ids=lambda bomb: bomb.__name__)
def test_a_memory_bomb_is_rejected_within_bounded_memory(hostile_root: Path, bomb) -> None:
    services = get_services()
    name, limit = bomb(Path(services.settings.inbox_url))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    run = subprocess.run(
        [sys.executable, str(RUNNER), name, str(ADDRESS_SPACE)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    outcome = json.loads(run.stdout.strip().splitlines()[-1])
    print(f"\n{name}: {outcome['state']}, peak RSS {outcome['peak_rss'] / 1e6:,.0f} MB")
    assert outcome["state"] == "rejected" and limit in outcome["reason"], outcome
    assert len(outcome["reason"]) <= 2000
    row = next(r for r in terminal_rows(services) if r.source == name)
    assert row.rows_scored == 0 and store_counts(services, row.id) == (0, row.rows_quarantined)
    assert breaches(services) == {}
