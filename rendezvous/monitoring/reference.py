"""Reference profiles of registered models: from their reference data, or from their first batches.

A profile is made where the reference data is at hand (training, or the demo's bootstrap) and
stored in the registry, so monitoring never reads training data again. A model registered
without one (``rendezvous models register`` of a file from elsewhere) gets one from the first
``first_batches_rows`` rows it scores: each monitored batch records how many rows the model
scored in it (metric ``profile_rows``); once the committed batches reach the count, the logged
rows of those batches and the model's scores of them become the profile, marked
``source = "first batches"``. Drift is then measured from the next batch on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import select

from rendezvous.monitoring.batch_rows import log_columns, log_paths, read_log_chunks, version_scores
from rendezvous.monitoring.profile import ReferenceProfile, build_profile
from rendezvous.registry import ModelRecord, Registry
from rendezvous.scorelog.files import AttemptScores
from rendezvous.store import Store
from rendezvous.store.schema import batches, metrics

FIRST_BATCHES = "first batches"


def feature_kinds(frame: pd.DataFrame, features: list[str]) -> tuple[list[str], list[str]]:
    """(numeric, categorical) by dtype: numbers are numeric; text, booleans and the rest are not."""
    numeric, categorical = [], []
    for name in features:
        dtype = frame[name].dtype
        is_number = pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)
        (numeric if is_number else categorical).append(name)
    return numeric, categorical


def profile_for_model(
    frame: pd.DataFrame,
    feature_names: list[str],
    scores: np.ndarray | None,
    source: str,
    sample_size: int = 50_000,
    seed: int = 0,
) -> ReferenceProfile:
    """A model's profile: its features in ``frame`` (kinds by dtype) and its scores on it."""
    numeric, categorical = feature_kinds(frame, feature_names)
    return build_profile(
        frame, numeric, categorical, scores, sample_size=sample_size, seed=seed, source=source
    )


def load_profile(record: ModelRecord) -> ReferenceProfile | None:
    return None if record.profile is None else ReferenceProfile.from_dict(record.profile)


@dataclass(frozen=True)
class FirstBatches:
    """Progress of a profile-less model towards its first-batches profile."""

    rows_seen: int
    rows_wanted: int
    batch_ids: list[str]

    @property
    def ready(self) -> bool:
        return self.rows_seen >= self.rows_wanted


def first_batches_progress(
    store: Store, version: str, current_batch_id: str, current_rows: int, rows_wanted: int
) -> FirstBatches:
    """Rows the model scored in committed batches so far, plus this batch's."""
    query = (
        select(metrics.c.batch_id, metrics.c.value)
        .join(batches, batches.c.id == metrics.c.batch_id)
        .where(
            metrics.c.metric == "profile_rows",
            metrics.c.model_version == version,
            batches.c.state == "committed",
            metrics.c.batch_id != current_batch_id,
        )
        .order_by(metrics.c.at, metrics.c.id)
    )
    with store.begin() as conn:
        earlier = conn.execute(query).all()
    ids = [batch_id for batch_id, _ in earlier] + [current_batch_id]
    seen = int(sum(value or 0 for _, value in earlier)) + current_rows
    return FirstBatches(seen, rows_wanted, ids)


def build_first_batches_profile(
    store: Store,
    registry: Registry,
    record: ModelRecord,
    progress: FirstBatches,
    id_column: str,
    seed: int = 0,
    staged: AttemptScores | None = None,
) -> ReferenceProfile:
    """Profile the first ``rows_wanted`` logged rows the model scored, and store it (every
    logged column: the profile's row sample must let another model be scored too); the batch
    being monitored has its scores in ``staged``, not committed yet."""
    frames: list[pd.DataFrame] = []
    taken = 0
    for batch_id in progress.batch_ids:
        with store.begin() as conn:
            paths = log_paths(conn, batch_id)
        columns = log_columns(paths[0]) if paths else []
        for chunk in read_log_chunks(paths, columns):
            frames.append(chunk.iloc[: progress.rows_wanted - taken])
            taken += len(frames[-1])
            if taken >= progress.rows_wanted:
                break
        if taken >= progress.rows_wanted:
            break
    frame = pd.concat(frames, ignore_index=True)
    ids = frame[id_column].astype("str")
    scores = version_scores(store, record.version, ids.tolist(), staged).reindex(ids).to_numpy()
    profile = profile_for_model(frame, record.feature_names, scores, source=FIRST_BATCHES, seed=seed)
    registry.set_profile(record.version, profile.to_dict())
    return profile
