"""`rendezvous verify` passes on a healthy store and names each invariant a damaged one breaks."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from flows.score_batches import score_batches
from rendezvous.cli import app
from rendezvous.demo.bootstrap import build_demo
from rendezvous.scorelog.files import MANIFEST_KEY
from rendezvous.services import forget_services, get_services
from rendezvous.settings import get_settings
from rendezvous.store.schema import batches, models
from rendezvous.verify import verify

pytestmark = pytest.mark.usefixtures("prefect_api")


def _failing() -> dict[str, int]:
    return {r.name: r.breach_count for r in verify(get_services()) if not r.ok}


def test_verify_finds_each_kind_of_damage(home: Path) -> None:
    services = get_services()
    build_demo(services, rows_per_batch=100)
    outcomes = {o["source"]: o for o in score_batches()}
    assert _failing() == {}
    assert CliRunner().invoke(app, ["verify"]).exit_code == 0
    _damage_the_scored_id_runs([o for o in outcomes.values() if o["state"] == "committed"])

    first = outcomes["loans-2026-11-01.csv"]
    Path(first["outputs"]["response"]).unlink()
    assert list(_failing()) == ["committed batches have archive, response, dev copy, lineage"]

    second = outcomes["loans-2026-11-02.parquet"]
    with services.store.begin() as conn:
        query = select(batches.c.outputs).where(batches.c.id == second["batch_id"])
        manifest = conn.execute(query).scalar_one()[MANIFEST_KEY]
    canary = Path(manifest["url"]) / next(name for name in manifest["files"] if name.startswith("canary-"))
    pq.write_table(pq.read_table(canary).slice(1), canary)  # one canary score lost
    assert "one score per request per role" in _failing()

    with services.store.begin() as conn:
        conn.execute(update(batches).where(batches.c.id == second["batch_id"]).values(rows_scored=1))
    assert "every row accounted for (rows in = scored + quarantined)" in _failing()

    live = services.registry.by_role("live")
    with open(live.path, "ab") as handle:
        handle.write(b"\0")
    assert "model files match their sha256" in _failing()

    with services.store.begin() as conn:
        conn.execute(update(models).where(models.c.role == "canary").values(role="retired"))
    failing = _failing()
    assert "roles changed only by audited rotations and rollbacks" in failing
    result = CliRunner().invoke(app, ["verify", "--json"])
    assert result.exit_code == 1
    assert len(failing) == 5


def test_a_role_written_by_hand_is_not_served_and_fails_the_scoring_run(home: Path) -> None:
    """The canary makes itself live in the models table (as an unpickled payload did): the next
    batches are still served by the audit's live, committed, and the run fails naming the breach."""
    services = get_services()
    build_demo(services, rows_per_batch=50)
    live, canary = services.registry.by_role("live").version, services.registry.by_role("canary").version
    with services.store.begin() as conn:
        conn.execute(update(models).where(models.c.version == live).values(role="retired"))
        conn.execute(update(models).where(models.c.version == canary).values(role="live"))
    state = score_batches(return_state=True)
    assert state.is_failed()
    assert f"the models table makes {canary} live, the audit {live}" in str(state.message)
    with services.store.begin() as conn:
        served = conn.execute(
            select(batches.c.state, batches.c.live_version, batches.c.canary_version).where(
                batches.c.rows_scored > 0
            )
        ).all()
    assert served and set(served) == {("committed", live, canary)}



def _damage_the_scored_id_runs(committed: list[dict]) -> None:
    """A run that lost ids, is out of order or is gone would each let an id be scored twice
    without a score file showing it yet; each is named, then undone."""
    first, second, *_ = get_services().scored_ids.run_urls()

    def breaches() -> list[str]:
        checked = next(r for r in verify(get_services()) if r.name.startswith("the scored-id set"))
        return checked.breaches

    with pa.ipc.open_file(first) as reader:
        run = reader.read_all()
    batch_id = run["batch_id"][0].as_py()
    live = next(o["rows_scored"] for o in committed if o["batch_id"] == batch_id)
    _write_ipc(first, run.slice(1))
    assert breaches() == [f"{batch_id}: {live} live scores; the scored-id set holds {live - 1} of its ids"]
    _write_ipc(first, run.take(pa.array(range(len(run) - 1, -1, -1))))
    assert breaches() == [f"the run {first} is not in hash order: look-ups in it miss ids"]
    _write_ipc(first, run)
    Path(second).rename(f"{second}.away")
    assert f"the run {second} is missing: its ids could be scored again" in breaches()
    Path(f"{second}.away").rename(second)
    assert breaches() == []


def _write_ipc(path: str, table: pa.Table) -> None:
    with pa.OSFile(path, "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)


def _score_file(batch_id: str, role: str) -> Path:
    with get_services().store.begin() as conn:
        outputs = conn.execute(select(batches.c.outputs).where(batches.c.id == batch_id)).scalar_one()
    manifest = outputs[MANIFEST_KEY]
    return Path(manifest["url"]) / next(name for name in manifest["files"] if name.startswith(f"{role}-"))


def _swap_first_id(path: Path, request_id: str) -> None:
    table = pq.read_table(path)
    ids = table["request_id"].to_pylist()
    ids[0] = request_id
    column = table.schema.get_field_index("request_id")
    pq.write_table(table.set_column(column, "request_id", pa.array(ids, pa.string())), path)


def test_verify_names_a_request_scored_twice_or_a_model_that_scored_other_requests(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The counts still agree, one id swapped for another: the breach is named by request or model."""
    services = get_services()
    build_demo(services, rows_per_batch=40)
    live, canary = services.registry.by_role("live").version, services.registry.by_role("canary").version
    first, second, *_ = [o["batch_id"] for o in score_batches() if o["state"] == "committed"]
    reused = pq.read_table(_score_file(first, "live"))["request_id"][0].as_py()

    def breaches() -> list[str]:
        return next(r for r in verify(get_services()) if r.name == "one score per request per role").breaches

    _swap_first_id(_score_file(second, "canary"), "never-requested")
    assert breaches() == [f"{second}: canary {canary} scored other requests than live {live}"]

    _swap_first_id(_score_file(second, "live"), reused)
    assert f"request {reused} has 2 live scores (from {live})" in breaches()

    # under id scope "batch" an id may be scored again in another batch, never twice in one
    monkeypatch.setenv("RENDEZVOUS_ID_SCOPE", "batch")
    get_settings.cache_clear()
    forget_services()
    assert not [b for b in breaches() if b.startswith(f"request {reused}")]
    own = pq.read_table(_score_file(second, "live"))["request_id"][1].as_py()
    _swap_first_id(_score_file(second, "live"), own)
    assert f"request {own} in batch {second} has 2 live scores (from {live})" in breaches()
