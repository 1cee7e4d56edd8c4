"""Owner tokens: which process holds a batch claim or a promotion, alive, dead or this one."""

from __future__ import annotations

import subprocess
import sys

from rendezvous.owners import new_owner, owned_here, owner_is_dead


def test_this_process_owns_its_token_and_nobody_elses() -> None:
    mine = new_owner()
    host, pid, claim = mine.split(":")
    assert owned_here(mine) and not owner_is_dead(mine)
    assert not owned_here(f"{host}:{int(pid) + 1}:{claim}")
    assert not owned_here(f"elsewhere:{pid}:{claim}") and not owned_here(None)


def test_a_finished_process_is_dead_here_and_unknown_elsewhere() -> None:
    child = subprocess.run(
        [sys.executable, "-c", "from rendezvous.owners import new_owner; print(new_owner())"],
        capture_output=True, text=True, check=True,
    )
    token = child.stdout.strip()
    assert owner_is_dead(token) and not owned_here(token)
    assert not owner_is_dead("elsewhere" + token[token.index(":"):])  # another host: only a lease
