"""A model's reference data from a file (`models register --reference`, `models profile`).

The file is read as a batch is (CSV, Parquet or JSON Lines, compressed or not, within the same
byte limits), each declared column typed by the contract, then enriched (reference join,
preprocess), so the profile holds the values and types scoring will compare with: a boolean
sent as "True" in a CSV reference is the same ``bool`` a Parquet batch brings. The contract's
other expectations are not checked (a reference is often training data, with its label column).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from rendezvous.batchfiles import BadInput, Limits, detect_format, read_chunks, unknown_format
from rendezvous.enrichment import enrich
from rendezvous.services import Services
from rendezvous.validation.coercion import coerce, finish

SHOWN_FAILURES = 3


class ReferenceFileError(Exception):
    """The reference file cannot be used; the message says why (and where)."""


def _typed(frame: pd.DataFrame, services: Services, path: str) -> pd.DataFrame:
    """The chunk's declared columns in their kinds; a value not of its kind refuses the file."""
    contract = services.contract()
    typed, failures = coerce(frame, contract)
    if len(failures):
        shown = "; ".join(
            f"row {frame.index[pos]}, column {column!r}: {frame[column].iloc[pos]!r} ({rule})"
            for pos, column, rule in failures[["pos", "column", "rule"]].head(SHOWN_FAILURES).to_numpy()
        )
        raise ReferenceFileError(
            f"{path}: {len(failures):,} value(s) not of their declared type, e.g. {shown}"
        )
    return finish(typed, contract)


def read_reference(services: Services, path: str) -> pd.DataFrame:
    """Every row of the file, typed by the contract and enriched as scored rows are."""
    settings = services.settings
    fmt = detect_format(Path(path).name)
    if fmt is None:
        raise ReferenceFileError(str(unknown_format(path)))
    chunks = []
    try:
        for frame, malformed in read_chunks(path, fmt, settings.chunk_rows, Limits.of(settings)):
            if malformed:
                first = malformed[0]
                raise ReferenceFileError(f"{path}: line {first.line}: {first.rule} ({first.value})")
            chunks.append(_typed(frame, services, path))
    except FileNotFoundError as exc:
        raise ReferenceFileError(f"{path}: no such file") from exc
    except BadInput as exc:
        raise ReferenceFileError(f"{path}: {exc}") from exc
    frame = pd.concat(chunks) if chunks else pd.DataFrame()
    if frame.empty:
        raise ReferenceFileError(f"{path}: no rows")
    id_column = settings.id_column
    if id_column not in frame.columns:  # reference rows need not be requests
        frame[id_column] = np.arange(len(frame))
    enriched = enrich(
        frame, services.reference(), settings.on_missing_reference, services.preprocess(), id_column
    )
    return enriched.frame  # indexed by the file's row numbers (from 0): a refusal can name the row
