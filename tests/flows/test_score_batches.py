"""The `score-batches` flow end to end on the demo, against Prefect's real local API."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from score_rows import score_rows
from sqlalchemy import select
from typer.testing import CliRunner

from flows.score_batches import score_batches
from rendezvous.cli import app
from rendezvous.demo.bootstrap import build_demo
from rendezvous.services import forget_services, get_services
from rendezvous.settings import get_settings
from rendezvous.store.schema import batches, quarantine

pytestmark = pytest.mark.usefixtures("prefect_api")


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory: pytest.TempPathFactory, module_store: str) -> Iterator[Path]:
    """One demo run shared by this module's read-only tests (building it costs seconds)."""
    root = tmp_path_factory.mktemp("demo")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("RENDEZVOUS_HOME", str(root / "home"))
        patch.setenv("RENDEZVOUS_MODELS_DIR", str(root / "models"))
        get_settings.cache_clear()
        forget_services()
        yield root / "home"
    get_settings.cache_clear()
    forget_services()


@pytest.fixture(scope="module")
def demo_outcomes(demo_home: Path, prefect_api: None) -> dict[str, dict]:
    build_demo(get_services(), rows_per_batch=300)
    return {o["source"]: o for o in score_batches()}


@pytest.fixture
def demo(demo_outcomes: dict[str, dict]) -> dict[str, dict]:
    return demo_outcomes


@pytest.fixture
def home(demo_home: Path) -> Path:
    return demo_home


def _scores_per_request_and_role(store) -> int:
    return int(score_rows(store).duplicated(["request_id", "role"]).sum())


def test_demo_batches_are_all_accounted_for(demo: dict[str, dict], home: Path) -> None:
    services = get_services()
    for name in ("loans-2026-11-01.csv", "loans-2026-11-02.parquet", "loans-2026-11-03.jsonl"):
        outcome = demo[name]
        assert outcome["state"] == "committed", outcome
        assert outcome["rows_in"] == 300 == outcome["rows_scored"] + outcome["rows_quarantined"]
        assert Path(outcome["outputs"]["response"]).exists()
        assert (home / "done" / name).exists()
    bad = demo["loans-2026-11-04-bad-rows.csv"]
    assert bad["state"] == "committed"
    assert bad["rows_quarantined"] > 0
    assert bad["rows_in"] == bad["rows_scored"] + bad["rows_quarantined"]
    rejects = pd.read_csv(bad["outputs"]["rejects"])
    assert {"row", "request_id", "column", "rule", "value"} <= set(rejects.columns)
    assert {"request_id_already_scored", "reference_key_missing"} <= set(rejects["rule"])
    malformed = demo["loans-2026-11-06-malformed.csv"]
    assert malformed["state"] == "rejected" and malformed["reason"]
    assert (home / "failed" / "loans-2026-11-06-malformed.csv.reason.txt").exists()
    resent = demo["loans-2026-11-01-resent.csv"]
    assert resent["state"] == "duplicate" and "not scored again" in resent["reason"]
    assert _scores_per_request_and_role(services.store) == 0
    with services.store.begin() as conn:
        for row in conn.execute(select(batches)).all():
            assert row.rows_in == row.rows_scored + row.rows_quarantined, row.id


def test_response_holds_live_scores_and_canary_is_logged(demo: dict[str, dict]) -> None:
    services = get_services()
    outcome = demo["loans-2026-11-01.csv"]
    response = pd.read_csv(outcome["outputs"]["response"])
    assert list(response.columns) == ["request_id", "score", "label", "model_version", "served_by"]
    assert response["model_version"].unique().tolist() == ["demo-live-v1"]
    assert response["served_by"].unique().tolist() == ["live"]
    assert outcome["served_by"] == {"live": outcome["rows_scored"], "canary": 0}
    assert outcome["rows_late"] == 0
    assert response["score"].between(0, 1).all()
    roles = score_rows(services.store, "batch_id = ?", [outcome["batch_id"]])["role"].value_counts().to_dict()
    assert roles == {"live": outcome["rows_scored"], "canary": outcome["rows_scored"]}


def test_dev_copy_is_partitioned_by_date(demo: dict[str, dict], home: Path) -> None:
    partitions = sorted(p.name for p in (home / "dev").glob("date=*"))
    assert partitions and all(p.startswith("date=2026-11-") for p in partitions)
    dev = pd.read_parquet(home / "dev")
    committed = sum(o["rows_scored"] for o in demo.values() if o["state"] == "committed")
    assert len(dev) == committed
    assert "loan_to_income" in dev.columns  # enriched rows by default


def test_quarantine_rows_name_row_column_and_rule(demo: dict[str, dict]) -> None:
    services = get_services()
    with services.store.begin() as conn:
        rows = conn.execute(
            select(quarantine).where(
                quarantine.c.batch_id == demo["loans-2026-11-04-bad-rows.csv"]["batch_id"]
            )
        ).all()
    assert rows
    assert all(r.rule for r in rows)
    assert any(r.column == "purpose" for r in rows)
    assert all(r.row is not None for r in rows if r.rule != "csv_row_field_count")


def test_same_file_twice_is_scored_once_and_says_so(demo: dict[str, dict], home: Path) -> None:
    services = get_services()
    before = len(score_rows(services.store))
    shutil.copy(home / "done" / "loans-2026-11-02.parquet", home / "inbox" / "again.parquet")
    (outcome,) = score_batches()
    assert outcome["state"] == "duplicate"
    assert "loans-2026-11-02" in outcome["reason"]
    assert len(score_rows(services.store)) == before


def test_cli_reports_status_models_and_batch_story(demo: dict[str, dict]) -> None:
    runner = CliRunner()
    status = json.loads(runner.invoke(app, ["status", "--json"]).stdout)
    assert {m["role"] for m in status["models"]} == {"live", "canary"}
    assert status["batches_by_state"]["rejected"] == 1
    totals = status["totals"]
    assert totals["rows_in"] == totals["rows_scored"] + totals["rows_quarantined"] > 0
    models = json.loads(runner.invoke(app, ["models", "list", "--json"]).stdout)
    assert [m["version"] for m in models] == ["demo-live-v1", "demo-canary-v1"]
    shown = runner.invoke(app, ["batches", "show", "loans-2026-11-04-bad-rows.csv", "--json"])
    story = json.loads(shown.stdout)
    assert [s["step"] for s in story["lineage"]][:2] == ["read", "validate"]
    assert sum(r["rows"] for r in story["quarantine_reasons"]) == story["rows_quarantined"]
    missing = runner.invoke(app, ["batches", "show", "no-such-batch"])
    assert missing.exit_code == 1 and "no batch" in missing.stderr and not missing.stdout
