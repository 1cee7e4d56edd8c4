"""Which task runner executes the bins: threads on one machine, Dask where that is outgrown."""

from __future__ import annotations

from prefect.task_runners import TaskRunner, ThreadPoolTaskRunner

from rendezvous.settings import Settings


def task_runner_for(settings: Settings) -> TaskRunner:
    if settings.task_runner == "threads":
        return ThreadPoolTaskRunner(max_workers=8)
    from prefect_dask import DaskTaskRunner

    if settings.task_runner == "dask":
        return DaskTaskRunner(cluster_kwargs={"n_workers": 2, "threads_per_worker": 2})
    return DaskTaskRunner(address=settings.task_runner)
