"""Preprocess and enrich: join the reference table by key, then the configured feature step.

Each step reports what it did (rows in/out, what it joined, with which version of the
reference data), and those reports are the batch's lineage.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import pandas as pd

from rendezvous.batchfiles import filesystem, sha256_file
from rendezvous.importing import load_callable
from rendezvous.validation import quarantine as q

Preprocess = Callable[[pd.DataFrame], pd.DataFrame]


class EnrichmentError(Exception):
    """The reference data or the preprocess step is unusable; the batch cannot be enriched."""


@dataclass(frozen=True)
class Reference:
    url: str
    key: str
    sha256: str
    table: pd.DataFrame

    def describe(self) -> dict[str, Any]:
        return {"url": self.url, "key": self.key, "sha256": self.sha256, "rows": len(self.table)}

    @cached_property
    def keys(self) -> pd.Index:
        """The keys, hashed once per table: ``Series.isin`` took 26 ms per 1,000-row chunk
        against 5,000 text keys (it makes a Python list of them each time), a lookup 0.6 ms."""
        return pd.Index(self.table[self.key])


@dataclass
class Enriched:
    frame: pd.DataFrame
    quarantine: pd.DataFrame
    steps: list[dict[str, Any]] = field(default_factory=list)


_references: dict[tuple[str, str], Reference] = {}
_lock = threading.Lock()


def load_reference(url: str, key: str) -> Reference | None:
    """The reference table, re-read only when its content changes; None if there is none."""
    fs, path = filesystem(url)
    if not url or not fs.exists(path):
        return None
    digest = sha256_file(url)
    with _lock:
        cached = _references.get((url, key))
        if cached and cached.sha256 == digest:
            return cached
    with fs.open(path, "rb") as handle:
        table = pd.read_parquet(handle)
    if key not in table.columns:
        raise EnrichmentError(f"reference table {url} has no key column {key!r}")
    duplicated = table[key][table[key].duplicated()]
    if not duplicated.empty:
        raise EnrichmentError(
            f"reference table {url} repeats key {key}={duplicated.iloc[0]!r}: a join would multiply rows"
        )
    reference = Reference(url=url, key=key, sha256=digest, table=table)
    with _lock:
        _references[(url, key)] = reference
    return reference


def load_preprocess(path: str | None) -> Preprocess | None:
    """Import the 'module:function' named in settings."""
    if not path:
        return None
    return load_callable(path, "RENDEZVOUS_PREPROCESS")


def enrich(
    frame: pd.DataFrame,
    reference: Reference | None,
    on_missing: str,
    preprocess: Preprocess | None,
    id_column: str,
) -> Enriched:
    """Join, then preprocess; rows without a reference match are quarantined or kept (settings)."""
    steps: list[dict[str, Any]] = []
    quarantined = q.empty()
    out = frame
    if reference is not None:
        key = reference.key
        extra = reference.table.drop(
            columns=[c for c in reference.table.columns if c in out and c != key]
        )
        matched = pd.Series(reference.keys.get_indexer(out[key]) >= 0, index=out.index)
        if on_missing == "quarantine" and not matched.all():
            quarantined = q.of_rows(out.loc[~matched], id_column, "reference_key_missing", column=key)
            out = out.loc[matched]
        joined = out.merge(extra, on=key, how="left", validate="many_to_one")
        joined.index = out.index
        steps.append(
            {
                "step": "join_reference",
                "rows_in": len(frame),
                "rows_out": len(joined),
                "detail": {
                    **reference.describe(),
                    "unmatched": int((~matched).sum()),
                    "on_missing": on_missing,
                },
            }
        )
        out = joined
    if preprocess is not None:
        before = len(out)
        name = f"{preprocess.__module__}:{preprocess.__name__}"
        result = preprocess(out)
        if len(result) != before:
            raise EnrichmentError(
                f"preprocess step {name} changed the row count ({before} -> {len(result)})"
            )
        result.index = out.index
        steps.append(
            {
                "step": "preprocess",
                "rows_in": before,
                "rows_out": len(result),
                "detail": {"function": name, "columns_added": sorted(set(result) - set(out))},
            }
        )
        out = result
    return Enriched(frame=out, quarantine=quarantined, steps=steps)
