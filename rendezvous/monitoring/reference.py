"""Reference profiles of registered models: from their reference data, or from their first batches.

A profile is made where the reference data is at hand (training, the demo's bootstrap, or a
reference file given to `rendezvous models register --reference` / `models profile`) and stored
in the registry, so monitoring never reads training data again. Every profile of a registered
model is made by ``model_profile``: its features in the rows, and its own scores on them, by
``score_frame`` as its bins score.

A model registered without one gets a fallback from its first batches: each monitored batch
records how many rows the model scored in it (metric ``profile_rows``); once the committed
batches reach ``first_batches_rows``, a seeded uniform random sample of that many rows of all
of those batches (not the first rows in file order: a file sorted by time would make July the
reference) becomes the profile, marked ``source = "first batches"`` with the batches it was
drawn from. Drift is then measured from the next batch on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select

from rendezvous.monitoring.batch_rows import log_columns, log_paths, read_log_chunks
from rendezvous.monitoring.profile import ReferenceProfile, build_profile
from rendezvous.registry import ModelRecord, Registry
from rendezvous.scoring import ModelInputError, score_frame
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


def model_profile(
    estimator: Any, record: ModelRecord, frame: pd.DataFrame, id_column: str, source: str, seed: int = 0
) -> ReferenceProfile:
    """A registered model's profile on ``frame``: its features there and its own scores of them.

    Raises ``ModelInputError`` naming the features ``frame`` lacks, or the first row the model
    cannot score (a model trained on "yes"/"no" where the contract types a column bool, say)."""
    try:
        scored = score_frame(estimator, record, frame, id_column)
    except ModelInputError:
        raise
    except Exception as exc:  # the model's own code: anything it raises is its answer
        raise ModelInputError(_unscorable(estimator, record, frame, id_column, source, exc)) from exc
    scores = scored["score"].to_numpy(np.float64)
    return profile_for_model(frame, record.feature_names, scores, source=source, seed=seed)


_SHOWN_FEATURES = 12
_SHOWN_CHARS = 60


def _unscorable(
    estimator: Any, record: ModelRecord, frame: pd.DataFrame, id_column: str, source: str, raised: Exception
) -> str:
    """The first row of ``frame`` the model raises on, its features as the contract typed them,
    and the model's words: what a person needs to retrain it on the right types."""
    score = lambda rows: score_frame(estimator, record, rows, id_column)  # noqa: E731
    start, stop, error = _first_raising(score, frame, raised)
    first, last = (_row_number(frame, position) for position in (start, stop - 1))
    where = f"row {first}" if first == last else f"rows {first} to {last} (as a whole)"
    row = frame.iloc[start]
    names = record.feature_names
    shown = [f"{n}={_plain(row[n])[:_SHOWN_CHARS]} ({frame[n].dtype})" for n in names[:_SHOWN_FEATURES]]
    if len(names) > _SHOWN_FEATURES:
        shown.append(f"and {len(names) - _SHOWN_FEATURES} more")
    return (
        f"model {record.version} cannot score {where} of the {source}: {type(error).__name__}: {error}; "
        f"the features of row {first} as the contract types them: {', '.join(shown)}. "
        "A model is registered only if it scores its reference rows as batches will reach it, typed by "
        "the contract (trained on a bool column as text \"yes\"/\"no\", say, it will not)"
    )


def _row_number(frame: pd.DataFrame, position: int) -> int:
    """The row's number in its file (from 1, after the header) where the index keeps it."""
    label = frame.index[position]
    return int(label) + 1 if isinstance(label, int | np.integer) else position + 1


def _plain(value: Any) -> str:
    return repr(value.item() if isinstance(value, np.generic) else value)


def _first_raising(
    score: Callable[[pd.DataFrame], Any], frame: pd.DataFrame, error: Exception
) -> tuple[int, int, Exception]:
    """The first slice [start, stop) of ``frame`` (which raised ``error`` as a whole) that ``score``
    raises on, halved down to one row where a half raises alone: one call per halving, two where
    the left half scores. Depth first, for the first row only: the bins' ``score_contained``
    halves breadth first to find every bad row, 2n calls when every row raises."""
    start, stop = 0, len(frame)
    while stop - start > 1:
        middle = (start + stop) // 2
        if (left := _raised(score, frame.iloc[start:middle])) is not None:
            stop, error = middle, left
        elif (right := _raised(score, frame.iloc[middle:stop])) is not None:
            start, error = middle, right
        else:
            break  # only the slice as a whole raises
    return start, stop, error


def _raised(score: Callable[[pd.DataFrame], Any], rows: pd.DataFrame) -> Exception | None:
    try:
        score(rows)
    except ModelInputError:
        raise
    except Exception as exc:  # the model's own code
        return exc
    return None


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


def _sample_rows(chunks: Iterator[pd.DataFrame], size: int, rng: np.random.Generator) -> pd.DataFrame:
    """A uniform random sample of ``size`` rows of all ``chunks``, in memory one chunk plus the
    sample (bottom-k: every row draws a key, the ``size`` smallest keys are kept)."""
    kept: pd.DataFrame | None = None
    keys = np.empty(0)
    for chunk in chunks:
        both = chunk if kept is None else pd.concat([kept, chunk], ignore_index=True)
        keys = np.concatenate([keys, rng.random(len(chunk))])
        if len(keys) > size:
            smallest = np.sort(np.argpartition(keys, size - 1)[:size])
            both, keys = both.iloc[smallest].reset_index(drop=True), keys[smallest]
        kept = both
    return pd.DataFrame() if kept is None else kept


def build_first_batches_profile(
    store: Store,
    registry: Registry,
    record: ModelRecord,
    progress: FirstBatches,
    id_column: str,
    seed: int = 0,
) -> ReferenceProfile:
    """Profile a random sample of the rows the model scored in its first batches, and store it
    (every logged column: the profile's row sample must let another model be scored too)."""

    def logged() -> Iterator[pd.DataFrame]:
        for batch_id in progress.batch_ids:
            with store.begin() as conn:
                paths = log_paths(conn, batch_id)
            if paths:
                yield from read_log_chunks(paths, log_columns(paths[0]))

    frame = _sample_rows(logged(), progress.rows_wanted, np.random.default_rng(seed))
    profile = model_profile(registry.load(record), record, frame, id_column, FIRST_BATCHES, seed)
    profile.fallback = {"batches": progress.batch_ids, "rows_seen": progress.rows_seen}
    registry.set_profile(record.version, profile.to_dict())
    return profile
