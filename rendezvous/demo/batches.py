"""The demo's inbox: a week of request batches that exercise every path of the system.

Clean batches in the three formats, one with bad rows of every kind, one drifted, one
broken file and one resubmission; plus the ground-truth labels that arrive later. All of
it is recomputed from (customers, seed, rows), so labels never need to be stored with the
batches to stay consistent with them.
"""

from __future__ import annotations

import itertools
import shutil
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from rendezvous.demo.data import (
    DEMO_SHIFT,
    LABEL,
    draw_outcomes,
    enrich,
    make_requests,
)

CLEAN_CSV = "loans-2026-11-01.csv"
CLEAN_PARQUET = "loans-2026-11-02.parquet"
CLEAN_JSONL = "loans-2026-11-03.jsonl"
BAD_ROWS = "loans-2026-11-04-bad-rows.csv"
SHIFTED = "loans-2026-11-05-shifted.csv"
MALFORMED = "loans-2026-11-06-malformed.csv"
RESENT = "loans-2026-11-01-resent.csv"

# Batch file -> day of November 2026 its requests are from (the resent file is a copy).
_DAYS = {CLEAN_CSV: 1, CLEAN_PARQUET: 2, CLEAN_JSONL: 3, BAD_ROWS: 4, SHIFTED: 5, MALFORMED: 6}
LABELLED = (CLEAN_CSV, CLEAN_PARQUET, CLEAN_JSONL, SHIFTED)
"""Batches whose outcomes the demo later learns (clean and shifted)."""

BAD_KINDS = (
    "null",
    "out_of_range",
    "unknown_purpose",
    "text_in_numeric",
    "nan_inf",
    "bad_timestamp",
    "duplicate_id",
    "unknown_customer",
    "reused_id",
)
BAD_SHARE = 0.03

# (column, value) pairs cycled through for each kind of bad cell.
_NULLS = [("loan_amount", None), ("customer_id", None), ("credit_score", None), ("purpose", None)]
_OUT_OF_RANGE = [
    ("credit_score", 900),
    ("loan_amount", 250_000.0),
    ("term_months", 18),
    ("interest_rate", 0.55),
    ("employment_years", -2.0),
    ("debt_to_income", 4.5),
    ("annual_income", 1_000.0),
    ("credit_score", 120),
]
_UNKNOWN_PURPOSES = [("purpose", "vacation"), ("purpose", "crypto"), ("purpose", "Car")]
_TEXT = [("annual_income", "n/a"), ("loan_amount", "12,000"), ("credit_score", "good")]
_NAN_INF = [("interest_rate", "NaN"), ("loan_amount", "inf"), ("annual_income", "-inf")]
_TIMESTAMPS = [("requested_at", "2026-11-31T25:61:00Z"), ("requested_at", "yesterday")]


def _seed(seed: int, day: int) -> int:
    """One independent seed per batch, derived from the demo seed."""
    return int(np.random.SeedSequence([seed, day]).generate_state(1)[0])


def demo_requests(customers: pd.DataFrame, seed: int, rows: int = 2000) -> dict[str, pd.DataFrame]:
    """The clean request frame behind each batch file (before any corruption)."""
    frames = {}
    for name, day in _DAYS.items():
        start = datetime(2026, 11, day, tzinfo=UTC)
        shift = DEMO_SHIFT if name == SHIFTED else None
        frames[name] = make_requests(rows, customers, start, _seed(seed, day), shift=shift)
    return frames


def _unknown_customer_ids(customers: pd.DataFrame, count: int) -> list[str]:
    """Well-formed customer ids ("C99999", counting down) that the reference table lacks."""
    known = set(customers["customer_id"])
    width = max(5, len(str(len(customers))))
    ids = (f"C{k:0{width}d}" for k in range(10**width - 1, 0, -1))
    return list(itertools.islice((c for c in ids if c not in known), count))


def make_bad_rows(
    clean: pd.DataFrame, customers: pd.DataFrame, reused_ids: pd.Series, seed: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Corrupt ~3% of ``clean``'s rows, each with one kind of fault from ``BAD_KINDS``.

    Returns the corrupted frame (object columns, as a CSV writer needs for text in numeric
    columns) and a manifest: ``row`` (position), ``request_id`` (as written), ``kind``,
    ``column``. A duplicate's twin is a clean row earlier in the batch; half of the
    duplicates are exact copies of their twin, the others only reuse its id.
    """
    rng = np.random.default_rng([seed, 4])
    n = len(clean)
    n_bad = max(len(BAD_KINDS), round(BAD_SHARE * n))
    if 2 * n_bad > n:
        raise ValueError(f"{n} rows are too few for {n_bad} bad rows")
    positions = rng.permutation(n)
    bad_rows = np.sort(positions[:n_bad])
    kinds = [BAD_KINDS[i % len(BAD_KINDS)] for i in rng.permutation(n_bad)]
    unknown = iter(_unknown_customer_ids(customers, n_bad))
    reused = iter(rng.permutation(reused_ids.to_numpy()))

    out = clean.astype(object)
    id_col = out.columns.get_loc("request_id")
    clean_rows = np.sort(positions[n_bad:])
    manifest = []
    counters = dict.fromkeys(BAD_KINDS, 0)
    cells = {
        "null": _NULLS,
        "out_of_range": _OUT_OF_RANGE,
        "unknown_purpose": _UNKNOWN_PURPOSES,
        "text_in_numeric": _TEXT,
        "nan_inf": _NAN_INF,
        "bad_timestamp": _TIMESTAMPS,
    }
    for row, kind in zip(bad_rows, kinds, strict=True):
        k = counters[kind]
        counters[kind] += 1
        column = "request_id"
        if kind in cells:
            column, value = cells[kind][k % len(cells[kind])]
            out.iat[row, out.columns.get_loc(column)] = value
        elif kind == "duplicate_id":
            # The twin is a clean row earlier in the file, so "keep the first" keeps it.
            earlier = clean_rows[clean_rows < row]
            twin = rng.choice(earlier if len(earlier) else clean_rows)
            if k % 2 == 0:
                out.iloc[row] = out.iloc[twin]
            else:
                out.iat[row, id_col] = out.iat[twin, id_col]
        elif kind == "unknown_customer":
            column = "customer_id"
            out.iat[row, out.columns.get_loc(column)] = next(unknown)
        else:  # reused_id
            out.iat[row, id_col] = next(reused)
        manifest.append((int(row), out.iat[row, id_col], kind, column))
    frame = pd.DataFrame(manifest, columns=["row", "request_id", "kind", "column"])
    return out, frame


def _write_malformed(path: Path, clean: pd.DataFrame) -> None:
    """A CSV no reader may accept: invalid UTF-8, rows with extra fields, a cut-off last row."""
    lines = clean.to_csv(index=False).encode("utf-8").splitlines(keepends=True)
    lines[2] = lines[2].replace(b",", b",caf\xe9\xff,", 1)  # Latin-1 bytes and a stray field
    lines[5] = lines[5].rstrip(b"\n") + b",extra,fields\n"
    lines[-1] = lines[-1][: len(lines[-1]) // 2] + b'"unterminated'
    path.write_bytes(b"".join(lines))


def write_demo_inbox(inbox: Path, customers: pd.DataFrame, seed: int, rows: int = 2000) -> list[Path]:
    """Write the demo's seven batch files into ``inbox``; return their paths in story order."""
    inbox = Path(inbox)
    inbox.mkdir(parents=True, exist_ok=True)
    frames = demo_requests(customers, seed, rows)
    paths = {name: inbox / name for name in [*_DAYS, RESENT]}

    frames[CLEAN_CSV].to_csv(paths[CLEAN_CSV], index=False)
    frames[CLEAN_PARQUET].to_parquet(paths[CLEAN_PARQUET], index=False)
    frames[CLEAN_JSONL].to_json(paths[CLEAN_JSONL], orient="records", lines=True)
    bad, _ = make_bad_rows(frames[BAD_ROWS], customers, frames[CLEAN_CSV]["request_id"], _seed(seed, 4))
    bad.to_csv(paths[BAD_ROWS], index=False)
    frames[SHIFTED].to_csv(paths[SHIFTED], index=False)
    _write_malformed(paths[MALFORMED], frames[MALFORMED])
    shutil.copyfile(paths[CLEAN_CSV], paths[RESENT])
    return [paths[name] for name in (*_DAYS, RESENT)]


def demo_labels(customers: pd.DataFrame, seed: int, rows: int = 2000) -> dict[str, pd.DataFrame]:
    """Ground truth (request_id, defaulted) of the clean and shifted batches."""
    frames = demo_requests(customers, seed, rows)
    labels = {}
    for name in LABELLED:
        enriched = enrich(frames[name], customers)
        outcome = draw_outcomes(enriched, _seed(seed, 100 + _DAYS[name]))
        labels[name] = pd.DataFrame({"request_id": enriched["request_id"], LABEL: outcome})
    return labels


def write_demo_labels(folder: Path, customers: pd.DataFrame, seed: int, rows: int = 2000) -> list[Path]:
    """Write ``labels-<batch>.csv`` per labelled batch into ``folder``; return the paths."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, labels in demo_labels(customers, seed, rows).items():
        path = folder / f"labels-{Path(name).stem.removeprefix('loans-')}.csv"
        labels.to_csv(path, index=False)
        paths.append(path)
    return paths
