"""The deployments of `prefect.yaml` as Prefect runner deployments, for `rendezvous serve`.

`prefect.yaml` is the one source of truth: a work pool gets it through `prefect deploy --all`,
and `serve()` gets the same names, schedules, concurrency limits, tags and parameters from here.
The file is read with Prefect's own loader (the model and schedule converter `prefect deploy`
uses), so both paths accept and refuse the same file. Prefect is pinned, which makes leaning on
those private helpers safe; tests/unit/test_prefect_yaml.py fails first if they change.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from prefect.cli.deploy._models import DeploymentConfig, PrefectYamlModel
from prefect.cli.deploy._schedules import _schedule_config_to_deployment_schedule
from prefect.client.schemas.objects import ConcurrencyLimitConfig
from prefect.deployments.runner import RunnerDeployment
from prefect.flows import Flow
from prefect.types.entrypoint import EntrypointType

from rendezvous.importing import load_callable

PREFECT_YAML = Path(__file__).resolve().parent.parent / "prefect.yaml"


def load_prefect_yaml(path: Path = PREFECT_YAML) -> PrefectYamlModel:
    """The file, validated by the model `prefect deploy` validates it with (raises if invalid)."""
    return PrefectYamlModel.model_validate(yaml.safe_load(path.read_text()))


def flow_of(entrypoint: str) -> Flow[..., Any]:
    """Import the flow of ``flows/x.py:func`` as module ``flows.x`` (the installed package).

    Importing by module rather than by file keeps one module object per flow in the process,
    and lets the served runs find their flow from any working directory.
    """
    path, _, name = entrypoint.partition(":")
    flow = load_callable(f"{path.removesuffix('.py').replace('/', '.')}:{name}", "prefect.yaml entrypoint")
    if not isinstance(flow, Flow):
        raise TypeError(f"{entrypoint} is not a Prefect flow")
    return flow


def schedules_of(config: DeploymentConfig) -> list[dict[str, Any]]:
    """Schedules as `prefect deploy` builds them from the same YAML entries."""
    raw = [s.model_dump(exclude_unset=True) for s in config.schedules or []]
    return [_schedule_config_to_deployment_schedule(entry) for entry in raw]


def concurrency_of(config: DeploymentConfig) -> ConcurrencyLimitConfig | int | None:
    limit = config.concurrency_limit
    if limit is None or isinstance(limit, int):
        return limit
    options = limit.model_dump(exclude_none=True)
    return ConcurrencyLimitConfig(**options)


def runner_deployment(config: DeploymentConfig) -> RunnerDeployment:
    """One deployment of the file, to be served by this process instead of a work pool."""
    if not config.name or not config.entrypoint:
        raise ValueError(f"deployment {config.name!r} needs a name and an entrypoint")
    flow = flow_of(config.entrypoint)
    tags = config.tags if isinstance(config.tags, list) else None
    return flow.to_deployment(
        name=config.name,
        description=config.description,
        tags=[str(t) for t in tags or []],
        parameters=config.parameters or None,
        schedules=schedules_of(config),
        concurrency_limit=concurrency_of(config),
        enforce_parameter_schema=config.enforce_parameter_schema is not False,
        paused=config.paused,
        entrypoint_type=EntrypointType.MODULE_PATH,
    )


def runner_deployments(
    names: list[str] | None = None, path: Path = PREFECT_YAML
) -> list[RunnerDeployment]:
    """Every deployment of the file (or those named), ready for ``prefect.serve``."""
    configs = load_prefect_yaml(path).deployments
    known = [c.name for c in configs]
    unknown = sorted(set(names or []) - set(known))
    if unknown:
        raise ValueError(f"no deployment {', '.join(unknown)} in {path.name}; known: {', '.join(known)}")
    return [runner_deployment(c) for c in configs if not names or c.name in names]
