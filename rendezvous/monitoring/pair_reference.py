"""How two models relate on clean data: both scored on the same reference rows.

Two model families disagree by design, by an amount that depends on the pair, so a batch's
live-vs-canary (or shadow-vs-live) figures mean something only next to the same figures on the
reference. The live model's profile keeps a sample of whole reference rows; the first batch a
pair meets scores both models on them, and the scores are kept in that profile (``pairs``), so
this happens once per pair.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rendezvous.monitoring.profile import decode_rows, decode_sample, encode_sample
from rendezvous.registry import ModelRecord, Registry
from rendezvous.scoring import ModelInputError, score_frame


@dataclass(frozen=True)
class PairReference:
    """The pair's scores on the same reference rows (None when there are none), and a note
    for people on where they come from or why there are none."""

    scores: tuple[np.ndarray, np.ndarray] | None
    note: str


def pair_key(a: ModelRecord, b: ModelRecord) -> str:
    return f"{a.version} vs {b.version}"


def _note(rows: int) -> str:
    return f"the pair on {rows:,} rows of the live model's reference"


def pair_reference(
    registry: Registry, live: ModelRecord, a: ModelRecord, b: ModelRecord, id_column: str
) -> PairReference:
    """``a`` and ``b`` scored on the rows of ``live``'s profile: kept ones, or scored now and kept."""
    profile = live.profile
    if profile is None:
        return PairReference(None, "no reference yet: the pair is measured, not judged")
    kept = (profile.get("pairs") or {}).get(pair_key(a, b))
    if kept is not None:
        return PairReference((decode_sample(kept["a"]), decode_sample(kept["b"])), _note(kept["rows"]))
    if not profile.get("rows"):
        return PairReference(
            None, "the live model's profile keeps no reference rows (build it again to judge the pair)"
        )
    frame = decode_rows(profile["rows"])
    frame = frame.assign(**{id_column: np.arange(len(frame))})
    try:
        a_scores, b_scores = (
            score_frame(registry.load(record), record, frame, id_column)["score"].to_numpy(np.float64)
            for record in (a, b)
        )
    except ModelInputError as exc:
        return PairReference(None, f"the pair cannot be scored on the reference rows: {exc}")
    fresh = registry.get(live.version).profile or profile
    pairs = {
        **(fresh.get("pairs") or {}),
        pair_key(a, b): {"a": encode_sample(a_scores), "b": encode_sample(b_scores), "rows": len(frame)},
    }
    registry.set_profile(live.version, {**fresh, "pairs": pairs})
    # As kept: float32, like every later batch will read them.
    return PairReference(
        (a_scores.astype(np.float32).astype(np.float64), b_scores.astype(np.float32).astype(np.float64)),
        _note(len(frame)),
    )
