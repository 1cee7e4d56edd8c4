"""prefect.yaml: every deployment's entrypoint loads as a Prefect flow whose parameters validate."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from prefect.flows import load_flow_from_entrypoint

ROOT = Path(__file__).resolve().parents[2]
DEPLOYMENTS = yaml.safe_load((ROOT / "prefect.yaml").read_text())["deployments"]


@pytest.mark.parametrize("deployment", DEPLOYMENTS, ids=[d["name"] for d in DEPLOYMENTS])
def test_entrypoint_is_a_flow_with_valid_parameters(deployment: dict) -> None:
    flow = load_flow_from_entrypoint(str(ROOT / deployment["entrypoint"]))
    assert flow.name == deployment["name"]
    flow.validate_parameters(deployment.get("parameters") or {})
    assert deployment["work_pool"]["name"]


def test_score_batches_is_scheduled_and_cannot_pile_up() -> None:
    (scoring,) = [d for d in DEPLOYMENTS if d["name"] == "score-batches"]
    assert scoring["schedules"][0]["interval"] > 0
    assert scoring["concurrency_limit"]["limit"] == 1
