"""A candidate's file turned into a payload, on Prefect's real local API: `score-batches` with the
candidate in shadow and `promote-model` refuse it, and the payload never runs in either."""

from __future__ import annotations

from pathlib import Path

import joblib
import pytest
import skops.io as sio
from payloads import Scale, ShellPayload
from sqlalchemy import select, update

from flows.promote_model import promote_model
from flows.score_batches import score_batches
from rendezvous.registry import ModelRecord, sha256_bytes
from rendezvous.services import get_services
from rendezvous.store.schema import batches, models

pytestmark = pytest.mark.usefixtures("prefect_api")


def _shadow_candidate() -> ModelRecord:
    """The demo's live model registered again as a candidate in shadow."""
    registry = get_services().registry
    live = registry.by_role("live")
    registry.register(live.path, "candidate", version="cand", trust_types=live.trusted_types)
    return registry.set_shadow("cand", True)


def _refused_batches(reason: str) -> None:
    """Scoring runs; every batch that reaches the models fails with ``reason`` and stays
    claimable (the demo's malformed file is rejected before); nothing commits."""
    with pytest.raises(RuntimeError, match="failed and stay claimable"):
        score_batches()
    with get_services().store.begin() as conn:
        rows = conn.execute(select(batches.c.state, batches.c.reason)).all()
    scored = [text for state, text in rows if state != "rejected"]
    assert scored and all(reason in (text or "") for text in scored), rows
    assert "committed" not in {state for state, _ in rows}


def _rewrite(record: ModelRecord, path: str, **values: object) -> None:
    """Put other bytes under the candidate's name, with a matching sha256 in its row."""
    values["sha256"] = sha256_bytes(Path(path).read_bytes())
    with get_services().store.begin() as conn:
        conn.execute(update(models).where(models.c.version == record.version).values(path=path, **values))


def test_a_pickle_under_a_candidates_name_never_runs_in_scoring_or_promotion(
    home: Path, tmp_path: Path, seed_demo: object
) -> None:
    seed_demo(rows=40)
    candidate = _shadow_candidate()
    marker = tmp_path / "ran"
    payload = str(Path(candidate.path).with_suffix(".joblib"))
    joblib.dump(ShellPayload(marker), payload)
    _rewrite(candidate, payload, metadata={})  # a home from before skops, its file a payload

    _refused_batches("`rendezvous models convert cand`")
    state = promote_model(candidate="cand", return_state=True)
    assert state.is_failed()
    assert not marker.exists()
    assert get_services().registry.by_role("live").version == "demo-live-v1"


def test_a_crafted_skops_file_needing_other_types_is_refused_before_they_are_built(
    home: Path, tmp_path: Path, seed_demo: object
) -> None:
    seed_demo(rows=40)
    candidate = _shadow_candidate()
    marker = tmp_path / "built"
    crafted = str(tmp_path / "crafted.skops")
    sio.dump(Scale(marker=str(marker)), crafted)
    _rewrite(candidate, crafted)  # its recorded types stay those of the file it replaced

    _refused_batches("needs types not recorded at registration: payloads.Scale")
    assert not marker.exists()
