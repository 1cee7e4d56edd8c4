"""Named crash points, for the crash campaign (as databases test recovery with fail points).

``RENDEZVOUS_CRASH_AT=<point>`` or ``<point>@<n>`` makes the process SIGKILL itself the n-th time
it reaches ``<point>`` (default the first), saying so on stderr first, so that a campaign can tell
a kill at the point from a death elsewhere. Unset, a crash point costs one environment lookup.
"""

from __future__ import annotations

import os
import signal
import threading
from collections import Counter

SCORING_POINTS = (
    "after-claim",
    "after-prepare",
    "in-live-bin",
    "in-canary-bin",
    "in-shadow-bin",
    "in-log-bin",
    "in-dev-copy-bin",
    "after-response",
    "before-publish",
    "after-publish",
    "after-commit",
)
"""Crash points of scoring a batch (rendezvous.pipeline)."""

PROMOTION_POINTS = (
    "before-rotation",
    "in-rotation",
    "after-rotation",
)
"""Crash points of an approved promotion (rendezvous.promotion.rotation): the decision taken and
nothing written; the roles moved and audited in the open transaction; committed, not reported."""

POINTS = SCORING_POINTS + PROMOTION_POINTS

_passed: Counter[str] = Counter()
_lock = threading.Lock()


def crash_point(name: str) -> None:
    spec = os.environ.get("RENDEZVOUS_CRASH_AT")
    if not spec:
        return
    point, _, nth = spec.partition("@")
    if point != name:
        return
    with _lock:
        _passed[name] += 1
        reached = _passed[name] >= int(nth or 1)
    if reached:
        os.write(2, f"crash point {spec} reached: SIGKILL\n".encode())
        os.kill(os.getpid(), signal.SIGKILL)
