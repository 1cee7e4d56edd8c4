"""Which task runner executes the bins: threads on one machine, Dask where that is outgrown."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NoReturn

from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner
from prefect.utilities.annotations import quote

from rendezvous.settings import Settings, get_settings


def on_threads(settings: Settings) -> bool:
    """The bins run as threads of the flow's process (else on Dask)."""
    return settings.task_runner == "threads"


def task_runner_for(settings: Settings) -> TaskRunner:
    if on_threads(settings):
        return ThreadPoolTaskRunner(max_workers=8)
    from prefect_dask import DaskTaskRunner

    if settings.task_runner == "dask":
        return DaskTaskRunner(cluster_kwargs={"n_workers": 2, "threads_per_worker": 2})
    return DaskTaskRunner(address=settings.task_runner)


def task_input(settings: Settings) -> Callable[[Any], Any]:
    """How a flow hands a large input (a batch job with its models' profiles, a chunk's frames)
    to a task on the runner ``settings`` choose.

    On threads, ``quote``d: Prefect otherwise walks every input looking for futures before each
    task starts: without the quoting a 1k-row batch's round trip through the request API had a
    median of 1.09 s, with it 0.83 s (benchmarks/latency.py --via api). On Dask, as it is:
    a quoted input there left every task Pending and the bins never answered
    (tests/flows/test_scale_out.py).
    """
    return quote if on_threads(settings) else _as_it_is


def _as_it_is(value: Any) -> Any:
    return value


class RunnerFromSettings(TaskRunner):
    """A flow's task runner chosen per run, from the settings of the moment the run starts.

    A flow's ``task_runner`` is fixed when its module is imported, but Prefect starts every run
    (CLI, deployment, test) with ``flow.task_runner.duplicate()``: this stand-in answers that call
    with :func:`task_runner_for` of the current settings, so a process that lives across setting
    changes (``score --watch``, a served deployment, a test session) never runs on a stale choice.
    """

    def duplicate(self) -> TaskRunner:
        return task_runner_for(get_settings())

    def submit(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("RunnerFromSettings only stands in on a flow; runs use duplicate()'s runner")
