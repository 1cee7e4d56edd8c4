"""The chunked batch summary: exact counts, a uniform bounded sample, the same verdicts as the
whole batch in memory."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from rendezvous.monitoring import (
    SketchBuilder,
    build_profile,
    feature_drift,
    summarize_frame,
    summary_drift,
)

NUMERIC = ["amount", "score"]
CATEGORICAL = ["region"]


def frame(n: int, seed: int, shift: float = 0.0, chunk_label: int | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    amount = rng.normal(100 + shift, 10, n)
    amount[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame(
        {
            "request_id": pd.array([f"r{seed}-{i}" for i in range(n)], dtype="str"),
            "amount": amount,
            "score": rng.integers(300, 851, n) if chunk_label is None else np.full(n, chunk_label),
            "region": pd.array(rng.choice(["north", "south", "east"], n, p=[0.5, 0.3, 0.2]), dtype="str"),
        }
    )


def chunked(parts: list[pd.DataFrame], sample_rows: int, seed: int = 0) -> SketchBuilder:
    builder = SketchBuilder(NUMERIC, CATEGORICAL, sample_rows, seed, id_column="request_id")
    for part in parts:
        builder.add(part)
    return builder


def test_counts_are_exact_over_every_row():
    parts = [frame(n, seed) for seed, n in enumerate([3_000, 10, 7_000, 0, 5_000])]
    whole = pd.concat(parts, ignore_index=True)
    summary = chunked(parts, sample_rows=1_000).summary()
    exact = summarize_frame(whole, NUMERIC, CATEGORICAL, sample_rows=1_000)
    assert summary.n_rows == exact.n_rows == 15_010
    assert summary.numeric_present == exact.numeric_present
    assert summary.numeric_present["amount"] == int(whole["amount"].notna().sum())
    assert summary.categories == exact.categories
    assert summary.n_sample == 1_000 == len(summary.sample["amount"]) == len(summary.sample_ids)


def test_sample_is_uniform_across_chunks_of_any_size():
    """Chunk k's rows carry the label k: each chunk's share of the sample is its share of rows
    (a builder that kept the first or the last chunk's rows would fail)."""
    sizes = [20_000, 5_000, 40_000, 15_000, 20_000]
    parts = [frame(n, seed=k, chunk_label=k) for k, n in enumerate(sizes)]
    summary = chunked(parts, sample_rows=10_000, seed=3).summary()
    labels = summary.sample["score"]
    shares = np.bincount(labels.astype(int), minlength=len(sizes)) / len(labels)
    np.testing.assert_allclose(shares, np.array(sizes) / sum(sizes), atol=0.015)
    ids = pd.Series(summary.sample_ids)
    assert ids.is_unique
    for k in range(len(sizes)):  # ids and values stay paired through every merge
        assert ids[labels == k].str.startswith(f"r{k}-").all()


def test_sample_never_holds_more_than_its_bound():
    builder = SketchBuilder(NUMERIC, CATEGORICAL, sample_rows=500, seed=1)
    for seed in range(30):
        builder.add(frame(2_000, seed))
        assert builder.summary().n_sample <= 500
    assert builder.summary().n_rows == 60_000


def test_small_batch_keeps_every_row():
    part = frame(300, seed=4)
    summary = chunked([part.iloc[:100], part.iloc[100:]], sample_rows=1_000).summary()
    assert summary.n_sample == 300
    assert sorted(summary.sample_ids) == sorted(part["request_id"])


@pytest.mark.parametrize("shift", [0.0, 5.0])
def test_chunked_verdicts_match_the_whole_batch(shift):
    profile = build_profile(frame(20_000, seed=100), NUMERIC, CATEGORICAL)
    batch = frame(60_000, seed=5, shift=shift)
    parts = [batch.iloc[i : i + 25_000] for i in range(0, len(batch), 25_000)]
    whole = {r.feature: r for r in feature_drift(batch, profile)}
    streamed = {r.feature: r for r in summary_drift(chunked(parts, 50_000).summary(), profile)}
    for name, result in whole.items():
        assert streamed[name].alert == result.alert
        assert streamed[name].n_batch == result.n_batch
        assert streamed[name].value == pytest.approx(result.value, abs=0.02)  # another sample
    assert whole["amount"].alert == (shift > 0)
    assert whole["region"].value == streamed["region"].value  # counts: exactly the same


def test_any_prefix_of_the_sample_is_uniform_even_when_every_row_is_kept():
    """The monitor reads scores for the first rows of the sample: those must not be the batch's
    first rows (a batch sorted by time would then be judged by its first minutes)."""
    sizes = [6_000, 6_000, 6_000, 6_000, 6_000]
    parts = [frame(n, seed=k, chunk_label=k) for k, n in enumerate(sizes)]
    summary = chunked(parts, sample_rows=50_000, seed=5).summary()
    assert summary.n_sample == 30_000  # every row kept...
    prefix = summary.sample["score"][:5_000].astype(int)
    shares = np.bincount(prefix, minlength=len(sizes)) / len(prefix)
    np.testing.assert_allclose(shares, 0.2, atol=0.03)  # ...in an order that mixes the chunks
