"""The report's plots, one function per figure, from the metrics and performance frames.

Each returns None when there is nothing to draw, so the page can say why instead.
"""

from __future__ import annotations

import itertools

import pandas as pd
import plotly.graph_objects as go

from rendezvous.monitoring.report.panels import CANARY, LIVE, REFERENCE, SHADOW, series_plot, subplots

MAX_HISTOGRAMS = 8
PAIR_PANELS = [
    ("agreement", "decision agreement (alert below)"),
    ("quantile_shift", "largest decile shift"),
    ("ks", "KS statistic"),
    ("psi", "PSI"),
    ("mean_abs_diff", "mean |score difference|"),
]
REFERENCE_PANELS = [
    ("psi", "PSI vs reference scores"),
    ("ks", "KS statistic vs reference scores"),
    ("quantile_shift", "largest decile shift vs reference"),
]
PERFORMANCE_PANELS = [
    ("roc_auc", "ROC AUC"),
    ("log_loss", "log loss (lower is better)"),
    ("accuracy", "accuracy"),
    ("rmse", "RMSE"),
    ("mae", "MAE"),
    ("r2", "R²"),
]


def feature_drift_figure(m: pd.DataFrame, rotations: pd.DataFrame, time_label: str) -> go.Figure | None:
    """One panel per feature: its statistic against the live model's reference, per batch."""
    rows = m[m["feature"].notna()].copy()
    if rows.empty:
        return None
    rows["panel"] = rows["feature"]
    rows["series"] = "feature vs reference"
    rows["color"] = LIVE
    panels = []
    for feature, part in rows.groupby("feature", sort=False):
        methods = ", ".join(
            f"{method} (p-value)" if (d or {}).get("direction") == "below" else method
            for method, d in part.groupby("metric")["detail"].first().items()
        )
        panels.append((feature, f"{feature}: {methods}"))
    return series_plot(rows, panels, rotations, time_label, cols=3, group_by="series", panel_height=190)


def pair_figure(m: pd.DataFrame, rotations: pd.DataFrame, time_label: str) -> go.Figure | None:
    """Live vs canary (and each shadow vs live) on the same rows, per batch."""
    rows = m[m["feature"].isna() & m["role"].isin(["canary", "shadow"])].copy()
    rows = rows[rows["metric"].isin([k for k, _ in PAIR_PANELS])]
    if rows.empty:
        return None
    rows["panel"] = rows["metric"]
    rows["series"] = rows["detail"].map(lambda d: (d or {}).get("comparison", ""))
    rows["color"] = rows["role"].map({"canary": CANARY}).fillna(SHADOW)
    return series_plot(
        rows, PAIR_PANELS, rotations, time_label, cols=3, group_by="series", floating=frozenset({"agreement"})
    )


def reference_figure(m: pd.DataFrame, rotations: pd.DataFrame, time_label: str) -> go.Figure | None:
    """The live model's scores on each batch against its own scores on its reference data."""
    rows = m[m["feature"].isna() & (m["role"] == "live")].copy()
    rows = rows[rows["metric"].isin([k for k, _ in REFERENCE_PANELS])]
    if rows.empty:
        return None
    rows["panel"] = rows["metric"]
    rows["series"] = "live " + rows["model_version"].astype("str")
    rows["color"] = LIVE
    return series_plot(rows, REFERENCE_PANELS, rotations, time_label, cols=3, group_by="series")


def _bin_centers(edges: list[float]) -> list[float]:
    return [(a + b) / 2 for a, b in itertools.pairwise(edges)]


def _add_histograms(fig: go.Figure, hist: dict, first: bool, row: int, col: int) -> None:
    """Live and canary shares per score bin, overlaid."""
    centers, width = _bin_centers(hist["edges"]), hist["edges"][1] - hist["edges"][0]
    for shares, name, color in ((hist["a"], "live", LIVE), (hist["b"], "canary", CANARY)):
        fig.add_trace(
            go.Bar(x=centers, y=shares, width=width, name=name, marker_color=color, opacity=0.55,
                   showlegend=first, legendgroup=name),
            row=row, col=col,
        )  # fmt: skip


def _add_reference_line(fig: go.Figure, hist: dict, first: bool, row: int, col: int) -> None:
    """The live model's shares per bin on its reference data, dotted."""
    fig.add_trace(
        go.Scatter(
            x=_bin_centers(hist["edges"]),
            y=hist["b"],
            mode="lines",
            line={"color": REFERENCE, "dash": "dot"},
            name="live on its reference data",
            showlegend=first,
            legendgroup="reference",
        ),
        row=row,
        col=col,
    )


def distributions_figure(m: pd.DataFrame) -> go.Figure | None:
    """Live vs canary score histograms of the latest batches, live's reference as a line."""
    pairs = m[(m["metric"] == "n_rows") & (m["role"] == "canary")]
    if pairs.empty:
        return None
    pairs = pairs.tail(MAX_HISTOGRAMS)
    references = m[(m["metric"] == "n_rows") & (m["role"] == "live")].set_index("batch_id")["detail"]
    alerted = set(m.loc[m["alert"], "batch_id"])
    titles = [
        f"{source}{' (ALERT)' if batch in alerted else ''}"
        for source, batch in zip(pairs["source"], pairs["batch_id"], strict=True)
    ]
    fig, cols = subplots(titles, 4, 200)
    for i, (_, pair) in enumerate(pairs.iterrows()):
        r, c = i // cols + 1, i % cols + 1
        _add_histograms(fig, pair["detail"]["histogram"], i == 0, r, c)
        reference = references.get(pair["batch_id"])
        if reference and "histogram" in reference:
            _add_reference_line(fig, reference["histogram"], i == 0, r, c)
    tallest = max(
        max([*d["histogram"]["a"], *d["histogram"]["b"]]) for d in pairs["detail"]
    )  # one scale for every panel, so batches compare at a glance
    fig.update_layout(barmode="overlay")
    fig.update_yaxes(tickformat=".0%", range=[0, max(tallest, 0.55) * 1.05])
    fig.update_xaxes(title_text="score", title_font_size=11, title_standoff=4)
    return fig


def performance_figure(perf: pd.DataFrame, rotations: pd.DataFrame, time_label: str) -> go.Figure | None:
    """Realized figures per batch and model role, once labels have arrived."""
    if perf.empty:
        return None
    long = perf.melt(
        id_vars=["window", "at", "role", "model_version", "n"],
        value_vars=[k for k, _ in PERFORMANCE_PANELS],
        var_name="panel",
        value_name="value",
    ).dropna(subset=["value"])
    if long.empty:
        return None
    long["series"] = long["role"] + " " + long["model_version"]
    long["color"] = long["role"].map({"live": LIVE, "canary": CANARY}).fillna(SHADOW)
    long["source"] = long["window"] + " (" + long["n"].astype("str") + " labelled rows)"
    long["alert"] = False
    long["threshold"] = float("nan")
    present = [(k, t) for k, t in PERFORMANCE_PANELS if k in set(long["panel"])]
    return series_plot(
        long, present, rotations, time_label, cols=3, group_by="series", floating=frozenset(long["panel"])
    )
