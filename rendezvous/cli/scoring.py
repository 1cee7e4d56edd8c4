"""Running `score-batches` for `rendezvous score` and `demo`: once, or watching the inbox.

Every file's outcome comes back, the failed ones as state ``error``, so a command reports what
went through beside what did not, and exits non-zero when anything failed.
"""

from __future__ import annotations

import importlib
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from rendezvous.cli.ops import use_prefect_api
from rendezvous.services import get_services

FAILED_STATES = frozenset({"error", "failed"})
LONGEST_BACKOFF_SECONDS = 300.0  # a file that keeps failing is still tried every five minutes


def failures(outcomes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The outcomes that mean something the command was asked to do did not happen."""
    return [o for o in outcomes if o["state"] in FAILED_STATES]


def run_scoring(sources: list[str] | None = None) -> list[dict[str, Any]]:
    """Run `score-batches` in this process (over ``sources`` only, if given): every file's outcome.

    A run that fails before it reaches the files is one outcome in state ``error`` with no source.
    """
    use_prefect_api(meanwhile=lambda: importlib.import_module("flows.score_batches"))  # beside a new server
    from flows.score_batches import BatchesFailed, score_batches

    with no_heartbeats_unless_asked():
        state = score_batches(sources=sources, return_state=True)
    if state.is_completed():
        return state.result()
    failure = state.result(raise_on_failure=False)
    if isinstance(failure, BatchesFailed):
        return failure.outcomes
    return [{"source": None, "state": "error", "reason": f"score-batches: {state.message}"}]


def score_inbox() -> tuple[list[dict[str, Any]], int | None]:
    """The inbox scored by the warm scorer where one fits this process (its pid), else here; a run
    here leaves a warm scorer for the next command (rendezvous.cli.warm_scorer)."""
    from rendezvous.cli import warm_scorer

    environ = dict(os.environ)  # as it was before this process connected to Prefect
    warm = warm_scorer.wanted()
    answered = warm_scorer.score(environ) if warm else None
    if answered is not None:
        return answered
    outcomes = run_scoring()
    if warm:
        warm_scorer.start(environ)
    return outcomes, None


@contextmanager
def no_heartbeats_unless_asked() -> Iterator[None]:
    """Runs of this process send no flow-run heartbeats unless PREFECT_FLOWS_HEARTBEAT_FREQUENCY
    asks for them.

    Prefect joins a run's heartbeat thread at its end, and that thread sleeps in one-second steps:
    0.4 s per run in the profile of `score --watch`, paid by the next micro-batch. Heartbeats only
    feed an automation that marks a silent run crashed; a batch of a killed process is taken over
    through the ledger's lease either way. Deployment runs (workers, `serve`) keep Prefect's default.
    """
    if os.environ.get("PREFECT_FLOWS_HEARTBEAT_FREQUENCY"):
        yield
        return
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    with temporary_settings(updates={PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        yield


@dataclass
class FailingFile:
    outcome: dict[str, Any]  # its last failed outcome
    count: int  # failures in a row
    not_before: float


@dataclass
class Backoff:
    """When a file that keeps failing is tried again: two intervals after its first failure,
    then twice as long after each further one, up to LONGEST_BACKOFF_SECONDS."""

    interval: float
    failing: dict[str, FailingFile] = field(default_factory=dict)

    def due(self, names: list[str], now: float) -> list[str]:
        """The listed files to try now; files gone from the inbox are forgotten."""
        for gone in set(self.failing) - set(names):
            del self.failing[gone]
        return [name for name in names if name not in self.failing or self.failing[name].not_before <= now]

    def record(self, outcomes: list[dict[str, Any]], now: float) -> None:
        for outcome in outcomes:
            name = outcome.get("source")
            if not name:
                continue
            if outcome["state"] not in FAILED_STATES:
                self.failing.pop(name, None)
                continue
            count = self.failing[name].count + 1 if name in self.failing else 1
            delay = min(self.interval * 2.0 ** min(count, 32), max(LONGEST_BACKOFF_SECONDS, self.interval))
            self.failing[name] = FailingFile(outcome, count, now + delay)


def watch_inbox(
    poll: float,
    report: Callable[[list[dict[str, Any]]], None],
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> list[dict[str, Any]]:
    """Micro-batches: one warm process, a run as soon as something lands, until Ctrl-C.

    Whatever a pass does, the next one starts ``poll`` seconds later; a file that failed waits
    out its back-off meanwhile (a file that cannot be taken in is never retried in a hot loop).
    Returns what was still failing when stopped: each file's last failed outcome, and the last
    pass's own failure (an unreachable inbox or API) if it had one.
    """
    from rendezvous.batchfiles import list_batches  # pandas: not for a `score` the warm scorer runs

    inbox = get_services().settings.inbox_url
    backoff = Backoff(poll)
    run_failed: list[dict[str, Any]] = []
    try:
        while True:
            try:
                due = backoff.due(list_batches(inbox), clock())
                outcomes = run_scoring(due) if due else []
            except Exception as exc:  # the inbox or the API is unreachable: say so, try again later
                outcomes = [{"source": None, "state": "error", "reason": f"{type(exc).__name__}: {exc}"}]
            if outcomes:
                report(outcomes)
                backoff.record(outcomes, clock())
            run_failed = [o for o in outcomes if not o.get("source")]
            sleep(poll)
    except KeyboardInterrupt:
        return [*run_failed, *(failing.outcome for failing in backoff.failing.values())]
