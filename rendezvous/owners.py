"""Who holds a claim: a token naming host and process, so a holder that died is recognised.

The batch ledger and the promotion gate both hold things across processes (a batch being scored,
a promotion waiting for its decision). A holder that was killed never releases what it holds;
its token lets the next process see that, on the same host, without waiting for a timeout.
"""

from __future__ import annotations

import os
import socket
import uuid

_HOST = socket.gethostname()


def new_owner() -> str:
    """An owner token naming host and process (and this claim, so two claims never share one)."""
    return f"{_HOST}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def owner_is_dead(owner: str | None) -> bool:
    """True when the owner's process is gone from this host, or there is no owner at all.

    An owner on another host, or a process this user may not signal, counts as alive: only a
    timeout can free what it holds.
    """
    if not owner:
        return True
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != _HOST or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def owned_here(owner: str | None) -> bool:
    """True when the owner token names this very process."""
    host, _, rest = (owner or "").partition(":")
    return host == _HOST and rest.partition(":")[0] == str(os.getpid())
