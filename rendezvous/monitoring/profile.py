"""The reference a batch is compared with: a compact, JSON-storable summary of training data.

Numeric features keep a random sample of up to ``sample_size`` values (50k gives KS and
Wasserstein far more power than the alert thresholds need) plus summary statistics computed on
all rows. The sample is stored sorted as float32, zlib-compressed and base64-encoded: about 200 kB
of text for a continuous feature, a few kB for a discrete one, instead of ~1 MB of JSON numbers.
Comparisons round the batch to float32 the same way, so ties in discrete features stay ties.
Categorical features keep exact category counts.

A profile also keeps a random sample of whole reference rows (``rows``, up to ``ROW_SAMPLE``, as
Parquet) so another model can be scored on the same rows later: the live/canary pair's relation
on the reference is measured on them once per pair, and kept in ``pairs``.
"""

from __future__ import annotations

import base64
import io
import json
import math
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from pyarrow import ArrowException

PROFILE_VERSION = 1
ROW_SAMPLE = 10_000
SAMPLE_ENCODING = "float32-le/zlib/base64"
DECILES: tuple[float, ...] = tuple(round(0.1 * i, 1) for i in range(1, 10))
QUANTILE_PROBS: tuple[float, ...] = (0.01, 0.05, *DECILES, 0.95, 0.99)


def as_float(series: pd.Series) -> np.ndarray:
    """A numeric column as float64 with NaN for missing values, for any numeric dtype."""
    try:
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"feature {series.name!r} is not numeric (dtype {series.dtype})") from exc


def encode_sample(values: np.ndarray) -> str:
    """float32 little-endian bytes, zlib-compressed, base64 text."""
    raw = np.ascontiguousarray(values, dtype="<f4").tobytes()
    return base64.b64encode(zlib.compress(raw, 6)).decode("ascii")


def decode_sample(text: str) -> np.ndarray:
    return np.frombuffer(zlib.decompress(base64.b64decode(text)), dtype="<f4").copy()


def encode_rows(frame: pd.DataFrame) -> str:
    """A frame as Parquet bytes (types kept), base64 text."""
    buffer = io.BytesIO()
    frame.reset_index(drop=True).to_parquet(buffer, index=False, compression="zstd")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def decode_rows(text: str) -> pd.DataFrame:
    return pd.read_parquet(io.BytesIO(base64.b64decode(text)))


def _num(value: float) -> float | None:
    """NaN is not JSON: store it as null."""
    return None if math.isnan(value) else float(value)


def _unnum(value: float | None) -> float:
    return math.nan if value is None else float(value)


@dataclass
class NumericProfile:
    """One numeric feature (or a model's scores) on the reference data."""

    n: int  # finite values in the reference
    missing: int  # NaN or infinite values
    mean: float
    std: float  # population std (ddof=0), the Wasserstein normaliser
    min: float
    max: float
    quantiles: dict[str, float]  # keys are str(prob) for prob in QUANTILE_PROBS
    sample: np.ndarray = field(repr=False)  # sorted float32 random sample of finite values

    @property
    def missing_share(self) -> float:
        total = self.n + self.missing
        return self.missing / total if total else 0.0

    @property
    def deciles(self) -> np.ndarray:
        return np.array([self.quantiles[str(p)] for p in DECILES])

    @classmethod
    def from_values(cls, values: np.ndarray, sample_size: int, rng: np.random.Generator) -> NumericProfile:
        values = np.asarray(values, dtype=np.float64)
        finite = values[np.isfinite(values)]
        if len(finite) > sample_size:
            sample = finite[rng.choice(len(finite), sample_size, replace=False)]
        else:
            sample = finite
        if len(finite):
            summary = (finite.mean(), finite.std(), finite.min(), finite.max())
            qs = np.quantile(finite, QUANTILE_PROBS)
        else:
            summary = (math.nan,) * 4
            qs = np.full(len(QUANTILE_PROBS), math.nan)
        return cls(
            n=len(finite),
            missing=len(values) - len(finite),
            mean=float(summary[0]),
            std=float(summary[1]),
            min=float(summary[2]),
            max=float(summary[3]),
            quantiles={str(p): float(q) for p, q in zip(QUANTILE_PROBS, qs, strict=True)},
            sample=np.sort(sample.astype(np.float32)),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "n": self.n,
            "missing": self.missing,
            "mean": _num(self.mean),
            "std": _num(self.std),
            "min": _num(self.min),
            "max": _num(self.max),
            "quantiles": {k: _num(v) for k, v in self.quantiles.items()},
            "sample": {
                "encoding": SAMPLE_ENCODING,
                "n": len(self.sample),
                "data": encode_sample(self.sample),
            },
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NumericProfile:
        if d["sample"]["encoding"] != SAMPLE_ENCODING:
            raise ValueError(f"unknown sample encoding {d['sample']['encoding']!r}")
        return cls(
            n=int(d["n"]),
            missing=int(d["missing"]),
            mean=_unnum(d["mean"]),
            std=_unnum(d["std"]),
            min=_unnum(d["min"]),
            max=_unnum(d["max"]),
            quantiles={k: _unnum(v) for k, v in d["quantiles"].items()},
            sample=decode_sample(d["sample"]["data"]),
        )


def category_counts(series: pd.Series) -> dict[str, int]:
    """Counts of the non-missing values, keyed by their text (JSON keys are text, and a CSV
    batch may bring as "1" what training had as 1)."""
    counts = series.value_counts(dropna=True)
    out: dict[str, int] = {}
    for key, count in zip(counts.index, counts.to_numpy(), strict=True):
        if count > 0:
            name = str(key)
            out[name] = out.get(name, 0) + int(count)
    return out


@dataclass
class CategoricalProfile:
    """One categorical feature on the reference data: category counts, most frequent first."""

    counts: dict[str, int]
    missing: int
    other: int = 0  # rows in categories dropped beyond max_categories

    @property
    def n(self) -> int:
        return sum(self.counts.values()) + self.other

    @property
    def missing_share(self) -> float:
        total = self.n + self.missing
        return self.missing / total if total else 0.0

    @property
    def truncated(self) -> bool:
        return self.other > 0

    @classmethod
    def from_series(cls, series: pd.Series, max_categories: int) -> CategoricalProfile:
        counts = sorted(category_counts(series).items(), key=lambda kv: (-kv[1], kv[0]))
        kept = dict(counts[:max_categories])
        return cls(
            counts=kept,
            missing=int(series.isna().sum()),
            other=sum(c for _, c in counts[max_categories:]),
        )

    def to_dict(self) -> dict[str, Any]:
        return {"counts": dict(self.counts), "missing": self.missing, "other": self.other}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CategoricalProfile:
        return cls(
            counts={str(k): int(v) for k, v in d["counts"].items()},
            missing=int(d["missing"]),
            other=int(d.get("other", 0)),
        )


@dataclass
class ReferenceProfile:
    """Everything drift monitoring needs to know about a model's reference (training) data."""

    numeric: dict[str, NumericProfile]
    categorical: dict[str, CategoricalProfile]
    scores: NumericProfile | None
    n_rows: int
    created_at: str
    source: str = ""
    sample_size: int = 50_000
    seed: int = 0
    version: int = PROFILE_VERSION
    rows: str | None = field(default=None, repr=False)  # encode_rows of a reference row sample
    pairs: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False)
    # a fallback drawn from the model's first batches: {"batches": [ids], "rows_seen": n}
    fallback: dict[str, Any] | None = None

    @property
    def features(self) -> list[str]:
        return [*self.numeric, *self.categorical]

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "n_rows": self.n_rows,
            "created_at": self.created_at,
            "source": self.source,
            "sample_size": self.sample_size,
            "seed": self.seed,
            "numeric": {k: v.to_dict() for k, v in self.numeric.items()},
            "categorical": {k: v.to_dict() for k, v in self.categorical.items()},
            "scores": None if self.scores is None else self.scores.to_dict(),
            "rows": self.rows,
            "pairs": self.pairs,
            "fallback": self.fallback,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ReferenceProfile:
        if d.get("version") != PROFILE_VERSION:
            raise ValueError(f"unsupported profile version {d.get('version')!r}")
        return cls(
            numeric={k: NumericProfile.from_dict(v) for k, v in d["numeric"].items()},
            categorical={k: CategoricalProfile.from_dict(v) for k, v in d["categorical"].items()},
            scores=None if d["scores"] is None else NumericProfile.from_dict(d["scores"]),
            n_rows=int(d["n_rows"]),
            created_at=d["created_at"],
            source=d.get("source", ""),
            sample_size=int(d["sample_size"]),
            seed=int(d["seed"]),
            rows=d.get("rows"),
            pairs=dict(d.get("pairs") or {}),
            fallback=d.get("fallback"),
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), allow_nan=False, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> ReferenceProfile:
        return cls.from_dict(json.loads(text))


def _one_dimensional(scores: np.ndarray) -> np.ndarray:
    array = np.asarray(scores, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"scores must be one score per row, got shape {array.shape}")
    return array


def build_profile(
    df: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    scores: np.ndarray | None = None,
    sample_size: int = 50_000,
    seed: int = 0,
    source: str = "",
    max_categories: int = 1000,
) -> ReferenceProfile:
    """Profile ``df`` (the model's reference data) and, if given, the model's scores on it.

    Up to ``ROW_SAMPLE`` whole rows of ``df`` are kept too, every column, for scoring another
    model on them (a frame Parquet cannot store keeps none; the pair rules then say so).

    ``max_categories`` caps what a high-cardinality column can cost: the rest is one "other"
    count, and unseen categories of such a feature cannot be told from rare ones.
    """
    overlap = set(numeric) & set(categorical)
    if overlap:
        raise ValueError(f"features both numeric and categorical: {sorted(overlap)}")
    absent = [c for c in [*numeric, *categorical] if c not in df.columns]
    if absent:
        raise ValueError(f"features not in the reference data: {absent}")
    rng = np.random.default_rng(seed)
    return ReferenceProfile(
        numeric={c: NumericProfile.from_values(as_float(df[c]), sample_size, rng) for c in numeric},
        categorical={c: CategoricalProfile.from_series(df[c], max_categories) for c in categorical},
        scores=None
        if scores is None
        else NumericProfile.from_values(_one_dimensional(scores), sample_size, rng),
        n_rows=len(df),
        created_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        source=source,
        sample_size=sample_size,
        seed=seed,
        rows=_row_sample(df, seed),
    )


def _row_sample(df: pd.DataFrame, seed: int) -> str | None:
    sample = df.sample(n=min(len(df), ROW_SAMPLE), random_state=seed) if len(df) else df
    try:
        return encode_rows(sample)
    except (TypeError, ValueError, ArrowException):
        return None
