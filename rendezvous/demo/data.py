"""Synthetic loan-default data for the demo: customers, request batches and their outcomes.

Everything is drawn from a numpy Generator seeded by the caller, so the demo, the tests and
the benchmarks see the same data for the same seed. Outcomes come from one latent logistic
model with a few non-linear terms, so a gradient-boosting model does a little better than a
logistic regression, as it would on real credit data.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from scipy.special import expit

from rendezvous.demo.features import add_features

REQUEST_COLUMNS: list[str] = [
    "request_id",
    "customer_id",
    "requested_at",
    "loan_amount",
    "term_months",
    "interest_rate",
    "purpose",
    "annual_income",
    "employment_years",
    "credit_score",
    "debt_to_income",
]
CUSTOMER_COLUMNS: list[str] = [
    "customer_id",
    "region",
    "segment",
    "customer_since",
    "prior_defaults",
]
PURPOSES: list[str] = [
    "car",
    "home_improvement",
    "education",
    "business",
    "debt_consolidation",
    "medical",
    "other",
]
REGIONS: list[str] = ["north", "south", "east", "west", "central"]
SEGMENTS: list[str] = ["retail", "premier", "small_business"]
TERMS: list[int] = [12, 24, 36, 48, 60]
LABEL = "defaulted"
_TEXT_COLUMNS = ("request_id", "customer_id", "requested_at", "purpose")
NUMERIC_REQUEST_COLUMNS: list[str] = [c for c in REQUEST_COLUMNS if c not in _TEXT_COLUMNS]
RANGES: dict[str, tuple[float, float]] = {
    "loan_amount": (500, 100_000),
    "interest_rate": (0.01, 0.40),
    "annual_income": (5_000, 2_000_000),
    "employment_years": (0, 60),
    "credit_score": (300, 850),
    "debt_to_income": (0, 3),
}
"""The value range of each numeric request column, as the contract (expectations/) states it."""

# The demo's drifted batch: poorer, lower-scored applicants, mostly borrowing for a business.
DEMO_SHIFT: dict[str, Any] = {
    "income_scale": 0.6,
    "credit_score_delta": -60,
    "purpose_probs": {
        "car": 0.08,
        "home_improvement": 0.05,
        "education": 0.04,
        "business": 0.55,
        "debt_consolidation": 0.18,
        "medical": 0.04,
        "other": 0.06,
    },
}
SHIFT_KEYS = frozenset(DEMO_SHIFT)

HISTORY_START = datetime(2025, 11, 1, tzinfo=UTC)
HISTORY_END = datetime(2026, 11, 1, tzinfo=UTC)
_CUSTOMERS_JOINED_BY = date(2025, 10, 1)  # before any request, so tenure is never negative

# Per-segment generation parameters, in SEGMENTS order.
_SEGMENT_SHARE = [0.70, 0.15, 0.15]
_SEGMENT_PRIOR_DEFAULT_RATE = np.array([0.15, 0.05, 0.20])
_SEGMENT_MEAN_TENURE_YEARS = np.array([6.0, 10.0, 6.0])
_SEGMENT_MEDIAN_INCOME = np.array([52_000.0, 150_000.0, 85_000.0])
_SEGMENT_MEAN_CREDIT = np.array([685.0, 745.0, 675.0])
# Purpose mix per segment (rows) in PURPOSES order.
_SEGMENT_PURPOSE_PROBS = np.array(
    [
        [0.20, 0.14, 0.08, 0.06, 0.32, 0.08, 0.12],
        [0.22, 0.30, 0.08, 0.08, 0.18, 0.04, 0.10],
        [0.14, 0.08, 0.03, 0.40, 0.22, 0.04, 0.09],
    ]
)
# Loan size relative to income, and the lender's rate premium, per purpose.
_PURPOSE_LOAN_FACTOR = np.array([0.25, 0.30, 0.20, 0.38, 0.22, 0.08, 0.10])
_PURPOSE_RATE_PREMIUM = np.array([0.0, 0.0, 0.005, 0.02, 0.01, 0.015, 0.01])

# The latent default model.
_INTERCEPT = -3.55
_PURPOSE_EFFECT = dict(zip(PURPOSES, [-0.25, -0.35, 0.10, 0.45, 0.20, 0.30, 0.05], strict=True))
_SEGMENT_EFFECT = {"retail": 0.0, "premier": -0.40, "small_business": 0.25}


# One random stream per use: the same seed given to two functions never yields correlated
# draws, and adding a draw to one use never changes another's.
_REQUESTS, _SHIFT, _OUTCOMES, _CUSTOMERS = range(4)


def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, stream])


def _id_width(n: int) -> int:
    return max(6, len(str(max(n - 1, 0))))


def make_customers(n: int, seed: int) -> pd.DataFrame:
    """The reference table: one row per customer, keyed by customer_id ("C00042")."""
    rng = _rng(seed, _CUSTOMERS)
    segment = rng.choice(len(SEGMENTS), size=n, p=_SEGMENT_SHARE)
    tenure_days = rng.exponential(_SEGMENT_MEAN_TENURE_YEARS[segment] * 365.25)
    tenure_days = np.minimum(tenure_days, 40 * 365.25).astype("int64")
    joined = np.datetime64(_CUSTOMERS_JOINED_BY, "D") - tenure_days.astype("timedelta64[D]")
    width = max(5, len(str(n)))
    return pd.DataFrame(
        {
            "customer_id": pd.Series([f"C{i:0{width}d}" for i in range(1, n + 1)], dtype="str"),
            "region": pd.Series(
                np.asarray(REGIONS)[rng.choice(5, size=n, p=[0.2, 0.25, 0.2, 0.2, 0.15])],
                dtype="str",
            ),
            "segment": pd.Series(np.asarray(SEGMENTS)[segment], dtype="str"),
            # Python dates: written to Parquet as date32, read back the same way.
            "customer_since": pd.Series(joined.astype(object), dtype=object),
            "prior_defaults": rng.poisson(_SEGMENT_PRIOR_DEFAULT_RATE[segment]).astype("int64"),
        }
    )


def _iso_utc(start: datetime, offsets_s: np.ndarray) -> pd.Series:
    """ISO-8601 UTC strings ("2026-11-01T10:23:00Z"); Arrow's cast is ~10x numpy's formatting."""
    if start.tzinfo is not None:
        start = start.astimezone(UTC).replace(tzinfo=None)
    stamps = pa.array(np.datetime64(start, "s") + offsets_s.astype("timedelta64[s]"))
    text = pc.replace_substring(pc.cast(stamps, pa.string()), " ", "T")
    return pd.Series(pd.array(pc.binary_join_element_wise(text, "Z", ""), dtype="str"))


def make_requests(
    n: int,
    customers: pd.DataFrame,
    start: datetime,
    seed: int,
    shift: dict[str, Any] | None = None,
    id_prefix: str | None = None,
    *,
    span: timedelta = timedelta(days=1),
) -> pd.DataFrame:
    """A batch of ``n`` loan requests from ``customers``, spread over ``[start, start + span)``.

    Ids are ``{id_prefix}-{number}`` (default prefix ``r-YYYYMMDD`` of ``start``), unique
    within the batch. ``shift`` (keys of ``DEMO_SHIFT``) is applied after drawing, from its
    own random stream: the shifted columns move and every other column stays identical to
    the unshifted batch of the same seed.
    """
    rng = _rng(seed, _REQUESTS)
    seg_of = pd.Categorical(customers["segment"], categories=SEGMENTS).codes
    who = rng.integers(len(customers), size=n)
    seg = seg_of[who]
    prior = customers["prior_defaults"].to_numpy()[who]

    offsets = np.sort(rng.integers(0, int(span.total_seconds()), size=n))
    income = np.exp(rng.normal(np.log(_SEGMENT_MEDIAN_INCOME[seg]), 0.55))
    income = np.clip(np.round(income, -2), *RANGES["annual_income"])
    employment = np.clip(np.round(rng.gamma(2.0, 5.0, size=n), 1), *RANGES["employment_years"])
    credit_mean = _SEGMENT_MEAN_CREDIT[seg] - 45 * prior + 20 * np.log(income / 60_000)
    credit = np.clip(np.round(rng.normal(credit_mean, 60)), *RANGES["credit_score"]).astype("int64")
    purpose = np.empty(n, dtype="int64")
    for s, probs in enumerate(_SEGMENT_PURPOSE_PROBS):
        rows = seg == s
        purpose[rows] = rng.choice(len(PURPOSES), size=int(rows.sum()), p=probs)
    loan = income * _PURPOSE_LOAN_FACTOR[purpose] * np.exp(rng.normal(0.0, 0.55, size=n))
    loan = np.clip(np.round(loan / 50) * 50, *RANGES["loan_amount"])
    size = (np.log(loan) - np.log(500)) / (np.log(100_000) - np.log(500))
    term_idx = np.clip(np.floor(size * 5 + rng.normal(0.0, 1.0, size=n)), 0, 4).astype("int64")
    term = np.asarray(TERMS, dtype="int64")[term_idx]
    dti = np.clip(np.round(rng.gamma(4.0, 0.08, size=n) + 0.08 * (prior > 0), 3), *RANGES["debt_to_income"])
    rate = (
        0.04
        + 0.00035 * np.maximum(780 - credit, 0)
        + 0.004 * (term / 12 - 1)
        + _PURPOSE_RATE_PREMIUM[purpose]
        + rng.normal(0.0, 0.012, size=n)
    )
    rate = np.clip(np.round(rate, 4), *RANGES["interest_rate"])

    frame = pd.DataFrame(
        {
            "request_id": request_ids(n, id_prefix or f"r-{start:%Y%m%d}"),
            "customer_id": customers["customer_id"].to_numpy()[who],
            "requested_at": _iso_utc(start, offsets),
            "loan_amount": loan,
            "term_months": term,
            "interest_rate": rate,
            "purpose": np.asarray(PURPOSES)[purpose],
            "annual_income": income,
            "employment_years": employment,
            "credit_score": credit,
            "debt_to_income": dti,
        }
    )
    frame = frame.astype({c: "str" for c in _TEXT_COLUMNS})
    return apply_shift(frame, shift, seed) if shift else frame


def request_ids(n: int, prefix: str) -> pd.Series:
    """``{prefix}-000000`` onwards, zero-padded to one width so ids sort as they number."""
    numbers = pd.Series(np.arange(n), dtype="int64").astype("str").str.zfill(_id_width(n))
    return prefix + "-" + numbers


def apply_shift(requests: pd.DataFrame, shift: dict[str, Any], seed: int) -> pd.DataFrame:
    """Move income, credit score and purpose mix as ``shift`` says; leave the rest untouched."""
    unknown = set(shift) - SHIFT_KEYS
    if unknown:
        raise ValueError(f"unknown shift keys {sorted(unknown)}; known: {sorted(SHIFT_KEYS)}")
    out = requests.copy()
    if "income_scale" in shift:
        income = out["annual_income"] * float(shift["income_scale"])
        out["annual_income"] = np.clip(np.round(income, -2), *RANGES["annual_income"])
    if "credit_score_delta" in shift:
        credit = out["credit_score"] + int(shift["credit_score_delta"])
        out["credit_score"] = credit.clip(*RANGES["credit_score"]).astype("int64")
    if "purpose_probs" in shift:
        probs = pd.Series(shift["purpose_probs"], dtype="float64").reindex(PURPOSES, fill_value=0)
        if not np.isclose(probs.sum(), 1.0):
            raise ValueError("purpose_probs must sum to 1")
        drawn = _rng(seed, _SHIFT).choice(len(PURPOSES), size=len(out), p=probs.to_numpy())
        out["purpose"] = pd.Series(np.asarray(PURPOSES)[drawn], index=out.index, dtype="str")
    return out


def enrich(requests: pd.DataFrame, customers: pd.DataFrame) -> pd.DataFrame:
    """What the pipeline does to a batch before scoring: left-join customers, add features."""
    return add_features(requests.merge(customers, on="customer_id", how="left"))


def default_probability(enriched: pd.DataFrame) -> np.ndarray:
    """The true probability of default of each enriched request (the latent model)."""
    credit = enriched["credit_score"].to_numpy(dtype="float64")
    dti = enriched["debt_to_income"].to_numpy(dtype="float64")
    lti = np.minimum(enriched["loan_to_income"].to_numpy(dtype="float64"), 3.0)
    rate = enriched["interest_rate"].to_numpy(dtype="float64")
    employment = enriched["employment_years"].to_numpy(dtype="float64")
    prior = enriched["prior_defaults"].to_numpy(dtype="float64")
    business = (enriched["purpose"] == "business").to_numpy()
    small_business = (enriched["segment"] == "small_business").to_numpy()

    z = (
        _INTERCEPT
        # Credit score matters most below ~700 and little above it (a hinge, not a line).
        - 0.2 * (credit - 680) / 100
        - 1.8 * np.minimum(credit - 700, 0) / 100
        + 0.6 * (dti - 0.32)
        + 3.0 * np.maximum(dti - 0.55, 0)
        + 0.4 * (lti - 0.3)
        + 1.5 * np.maximum(lti - 0.7, 0)
        + 3.0 * (rate - 0.10)
        # Short and very long employment histories are both riskier (a U, not a line).
        + 0.7 * (employment < 2)
        + 0.6 * (employment > 30)
        + 0.4 * prior
        + enriched["purpose"].map(_PURPOSE_EFFECT).fillna(0).to_numpy(dtype="float64")
        + enriched["segment"].map(_SEGMENT_EFFECT).fillna(0).to_numpy(dtype="float64")
        # Interactions a linear model cannot represent:
        + 1.5 * ((credit < 640) & (dti > 0.45))
        + 1.2 * (business & (employment < 3))
        + 0.8 * (business & small_business)
        + 1.0 * (small_business & (lti > 0.5))
        - 0.8 * ((credit > 760) & (prior == 0))
    )
    return expit(z)


def draw_outcomes(enriched: pd.DataFrame, seed: int) -> np.ndarray:
    """0/1 defaults drawn from :func:`default_probability`, reproducible by ``seed``."""
    p = default_probability(enriched)
    return (_rng(seed, _OUTCOMES).random(len(p)) < p).astype("int64")


def make_history(
    n: int,
    customers: pd.DataFrame,
    seed: int,
    start: datetime = HISTORY_START,
    end: datetime = HISTORY_END,
) -> pd.DataFrame:
    """Past requests, enriched and labelled: training data and the drift reference."""
    requests = make_requests(n, customers, start, seed, id_prefix="h", span=end - start)
    enriched = enrich(requests, customers)
    enriched[LABEL] = draw_outcomes(enriched, seed)
    return enriched
