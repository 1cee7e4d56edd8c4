"""What feature drift needs to know about a batch, gathered in bounded memory.

A ``BatchSummary`` holds exact counts (rows, non-missing numeric values, category counts) and a
uniform random sample of rows for the sample-based numeric statistics. ``summarize_frame`` makes
one from a DataFrame in memory; ``SketchBuilder`` makes one chunk by chunk, so a 10M-row batch
costs no more memory than one chunk plus the sample: each row draws a random key and the rows
with the ``k`` smallest keys are kept (bottom-k sampling: uniform without replacement, and two
bottom-k samples merge into one by keeping the ``k`` smallest keys of both).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rendezvous.monitoring.profile import as_float, category_counts


@dataclass
class BatchSummary:
    """Exact counts of a batch plus a uniform sample of its rows (numeric features and ids)."""

    n_rows: int
    numeric_present: dict[str, int]  # finite values per numeric feature, over every row
    categories: dict[str, dict[str, int]]  # counts of the non-missing values, over every row
    sample: dict[str, np.ndarray]  # numeric feature -> float64 values of the sampled rows
    n_sample: int  # rows in the sample (all rows when the batch is small)
    sample_ids: np.ndarray | None = field(default=None, repr=False)


def _row_subset(n_rows: int, sample_rows: int, seed: int) -> np.ndarray | None:
    if n_rows <= sample_rows:
        return None
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_rows, sample_rows, replace=False))


def summarize_frame(
    frame: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    sample_rows: int = 50_000,
    seed: int = 0,
) -> BatchSummary:
    """Summary of a batch held in memory: the same sampled rows for every numeric feature."""
    rows = _row_subset(len(frame), sample_rows, seed)
    present: dict[str, int] = {}
    sample: dict[str, np.ndarray] = {}
    for name in numeric:
        values = as_float(frame[name])
        present[name] = int(np.isfinite(values).sum())
        sample[name] = values if rows is None else values[rows]
    return BatchSummary(
        n_rows=len(frame),
        numeric_present=present,
        categories={name: category_counts(frame[name]) for name in categorical},
        sample=sample,
        n_sample=len(frame) if rows is None else len(rows),
    )


class SketchBuilder:
    """Accumulates a ``BatchSummary`` chunk by chunk; memory ~ one chunk + ``sample_rows`` rows."""

    def __init__(
        self,
        numeric: list[str],
        categorical: list[str],
        sample_rows: int = 50_000,
        seed: int = 0,
        id_column: str | None = None,
    ) -> None:
        self.numeric = list(numeric)
        self.categorical = list(categorical)
        self.sample_rows = sample_rows
        self.id_column = id_column
        self._rng = np.random.default_rng(seed)
        self._n_rows = 0
        self._present = dict.fromkeys(self.numeric, 0)
        self._counts: dict[str, dict[str, int]] = {name: {} for name in self.categorical}
        self._keys = np.empty(0)
        self._values = {name: np.empty(0) for name in self.numeric}
        self._ids = np.empty(0, dtype=object)

    def add(self, chunk: pd.DataFrame) -> None:
        """Count every row of ``chunk`` and offer its rows to the sample."""
        n = len(chunk)
        if n == 0:
            return
        self._n_rows += n
        values = {name: as_float(chunk[name]) for name in self.numeric}
        for name, column in values.items():
            self._present[name] += int(np.isfinite(column).sum())
        for name in self.categorical:
            merged = self._counts[name]
            for key, count in category_counts(chunk[name]).items():
                merged[key] = merged.get(key, 0) + count
        keys = self._rng.random(n)
        keep = self._smallest(keys)
        ids = chunk[self.id_column].astype("str").to_numpy() if self.id_column else None
        self._keys = np.concatenate([self._keys, keys[keep]])
        for name in self.numeric:
            self._values[name] = np.concatenate([self._values[name], values[name][keep]])
        if ids is not None:
            self._ids = np.concatenate([self._ids, ids[keep]])
        kept = self._smallest(self._keys)
        self._keys = self._keys[kept]
        self._values = {name: column[kept] for name, column in self._values.items()}
        if ids is not None:
            self._ids = self._ids[kept]

    def _smallest(self, keys: np.ndarray) -> np.ndarray:
        if len(keys) <= self.sample_rows:
            return np.arange(len(keys))
        return np.argpartition(keys, self.sample_rows - 1)[: self.sample_rows]

    def summary(self) -> BatchSummary:
        """The summary so far; sampled rows in the order of their random keys, so that any
        first ``m`` of them are themselves a uniform sample of the batch."""
        order = np.argsort(self._keys, kind="stable")
        return BatchSummary(
            n_rows=self._n_rows,
            numeric_present=dict(self._present),
            categories={name: dict(counts) for name, counts in self._counts.items()},
            sample={name: column[order] for name, column in self._values.items()},
            n_sample=len(self._keys),
            sample_ids=self._ids[order] if self.id_column else None,
        )
