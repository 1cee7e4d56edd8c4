"""The README's Operations section is what scripts/operations.sh runs: every `ops-*` block of the
README is run by the script, and the script runs no block the README lacks."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()
SCRIPT = (ROOT / "scripts" / "operations.sh").read_text()


def _readme_blocks() -> dict[str, str]:
    return dict(re.findall(r"^```bash ops-([\w-]+)\n(.*?)^```$", README, flags=re.M | re.S))


def test_every_operations_block_is_run_by_the_script() -> None:
    blocks = _readme_blocks()
    ran = re.findall(r"^\s*(?:if .*then )?(?:run|start) ([\w-]+)", SCRIPT, flags=re.M)
    assert set(ran) == set(blocks), (sorted(ran), sorted(blocks))
    assert {"server", "deploy", "worker", "batch", "promote", "approve", "audit", "serve"} <= set(blocks)


def test_blocks_hold_only_commands_of_the_clone() -> None:
    for name, text in _readme_blocks().items():
        commands = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
        assert commands, name
        for line in commands:
            assert line.startswith((".venv/bin/", "export ", "createdb ")), (name, line)
    assert "rdv_prefect" in README and "rdv_store" in README and "127.0.0.1:4200" in README
