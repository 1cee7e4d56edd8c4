"""prefect.yaml, read by Prefect's own loader: every deployment's entrypoint loads as a Prefect flow
whose parameters validate against the schema the server enforces, the pull step works from any
working directory, and `rendezvous serve` builds the same deployments from the same file."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
import yaml
from prefect.cli.deploy._config import _load_deploy_configs_and_actions
from prefect.cli.deploy._schedules import _schedule_config_to_deployment_schedule
from prefect.deployments.steps.core import _get_function_for_step
from prefect.flows import load_flow_from_entrypoint
from prefect.utilities.callables import parameter_schema
from prefect.utilities.schema_tools.validation import is_valid
from rich.console import Console

from flows.deployments import runner_deployments

ROOT = Path(__file__).resolve().parents[2]
RAW = yaml.safe_load((ROOT / "prefect.yaml").read_text())
DEPLOYMENTS = RAW["deployments"]
NAMES = [d["name"] for d in DEPLOYMENTS]
# A parameter of the wrong type per deployment: the server refuses it (enforce_parameter_schema).
WRONG_PARAMETERS = {
    "score-batches": {"limit": "all of them"},
    "drift-report": {"days": "a week"},
    "train-candidate": {"force": {"yes": 1}},
    "promote-model": {"candidate": 42},
}


def test_prefects_loader_accepts_the_whole_file() -> None:
    """`prefect deploy` prints validation errors and skips the file; nothing may be printed."""
    out = io.StringIO()
    configs, actions = _load_deploy_configs_and_actions(ROOT / "prefect.yaml", console=Console(file=out))
    assert out.getvalue() == ""
    assert [c["name"] for c in configs] == NAMES
    assert set(NAMES) == {"score-batches", "train-candidate", "promote-model", "drift-report"}
    assert actions["pull"] and not actions["build"] and not actions["push"]


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=NAMES)
def test_entrypoint_is_a_flow_with_valid_parameters(deployment: dict) -> None:
    flow = load_flow_from_entrypoint(str(ROOT / deployment["entrypoint"]))
    assert flow.name == deployment["name"]
    flow.validate_parameters(deployment.get("parameters") or {})
    assert deployment["work_pool"]["name"] == "rendezvous-process"
    assert deployment["enforce_parameter_schema"] is True
    schema = parameter_schema(flow).model_dump_for_openapi()
    assert is_valid(deployment.get("parameters") or {}, schema)
    assert not is_valid(WRONG_PARAMETERS[deployment["name"]], schema)
    for entry in deployment.get("schedules") or []:
        assert _schedule_config_to_deployment_schedule(entry)["active"] is True


@pytest.mark.parametrize(
    ("name", "parameter"), [("train-candidate", "version"), ("promote-model", "candidate")]
)
def test_model_versions_are_slugs_in_the_parameter_schema(name: str, parameter: str) -> None:
    entrypoint = next(d["entrypoint"] for d in DEPLOYMENTS if d["name"] == name)
    schema = parameter_schema(load_flow_from_entrypoint(str(ROOT / entrypoint))).model_dump_for_openapi()
    assert is_valid({parameter: "cand-1.2_b"}, schema) and is_valid({parameter: None}, schema)
    for bad in ("../../../x", "a/b", "-rf", "v1\nFORGED", "x" * 129):
        assert not is_valid({parameter: bad}, schema), bad


def test_schedules_and_limits() -> None:
    by_name = {d["name"]: d for d in DEPLOYMENTS}
    scoring = by_name["score-batches"]
    assert scoring["schedules"][0]["interval"] > 0
    assert scoring["concurrency_limit"] == {"limit": 1, "collision_strategy": "ENQUEUE"}
    assert "schedules" not in by_name["promote-model"]  # run by hand, with the candidate
    assert "candidate" in parameter_schema(
        load_flow_from_entrypoint(str(ROOT / by_name["promote-model"]["entrypoint"]))
    ).properties
    assert by_name["drift-report"]["schedules"][0]["cron"].split()[2:] == ["*", "*", "*"]  # daily


def test_pull_step_enters_the_clone_from_anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (step,) = RAW["pull"]
    ((name, inputs),) = step.items()
    enter = _get_function_for_step(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("RENDEZVOUS_PROJECT_DIR", raising=False)
    assert enter(**inputs) == {"directory": str(ROOT)}
    assert Path.cwd() == ROOT
    for entry in DEPLOYMENTS:  # entrypoints are relative to the directory the step returns
        assert (ROOT / entry["entrypoint"].partition(":")[0]).is_file()
    monkeypatch.setenv("RENDEZVOUS_PROJECT_DIR", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="not a rendezvous clone"):
        enter(**inputs)
    os.chdir(ROOT)


def test_serve_builds_the_deployments_of_the_file() -> None:
    served = {d.name: d for d in runner_deployments()}
    assert list(served) == NAMES
    for config in DEPLOYMENTS:
        deployment = served[config["name"]]
        assert deployment.flow_name == config["name"]
        assert deployment.tags == config["tags"]
        assert deployment.enforce_parameter_schema is True
        from_yaml = [_schedule_config_to_deployment_schedule(s) for s in config.get("schedules", [])]
        assert [_comparable(s.schedule) for s in deployment.schedules] == [
            _comparable(s["schedule"]) for s in from_yaml
        ]
        assert [s.active for s in deployment.schedules] == [s["active"] for s in from_yaml]
        limit = config.get("concurrency_limit")
        assert deployment.concurrency_limit == (limit["limit"] if limit else None)
        if limit:
            assert deployment.concurrency_options.collision_strategy.value == limit["collision_strategy"]
        assert deployment.entrypoint.startswith("flows.")  # served from any working directory


def _comparable(schedule: object) -> tuple:
    """A schedule without its anchor date (an interval's anchor is the moment it was built)."""
    return type(schedule).__name__, schedule.model_dump(exclude={"anchor_date"})


def test_serve_refuses_unknown_names() -> None:
    with pytest.raises(ValueError, match="no deployment nope"):
        runner_deployments(["nope"])
    assert [d.name for d in runner_deployments(["promote-model"])] == ["promote-model"]
