"""Which task runner executes the bins: threads on one machine, Dask where that is outgrown."""

from __future__ import annotations

from typing import Any, NoReturn

from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from rendezvous.settings import Settings, get_settings


def task_runner_for(settings: Settings) -> TaskRunner:
    if settings.task_runner == "threads":
        return ThreadPoolTaskRunner(max_workers=8)
    from prefect_dask import DaskTaskRunner

    if settings.task_runner == "dask":
        return DaskTaskRunner(cluster_kwargs={"n_workers": 2, "threads_per_worker": 2})
    return DaskTaskRunner(address=settings.task_runner)


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
