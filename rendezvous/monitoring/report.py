"""The drift report: one self-contained HTML page (plotly.js inline, so it opens offline).

Sections: the models and their references; alerts; live vs canary score distributions per
batch; live vs canary (and shadows vs live) over time; feature drift over time per feature with
its threshold; the live model's scores against its reference; realized performance once labels
arrive; model rotations, also drawn as dotted lines on every time axis.
"""

from __future__ import annotations

import html
import itertools
import math
from datetime import UTC, datetime
from typing import Any

import fsspec
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots
from sqlalchemy import select

from rendezvous.monitoring.metrics_store import read_metrics
from rendezvous.monitoring.overview import profile_lines
from rendezvous.monitoring.performance import realized_performance
from rendezvous.monitoring.verdict import comparison_of, fmt_number, note_text, rule_text
from rendezvous.services import Services
from rendezvous.store import Store
from rendezvous.store.schema import role_changes

LIVE, CANARY, REFERENCE, ALERT, THRESHOLD = "#1f77b4", "#ff7f0e", "#7f7f7f", "#d62728", "#d62728"
ROTATION = "#2ca02c"
MAX_HISTOGRAMS = 8
PLOT_CONFIG = {"displaylogo": False, "responsive": True}
CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto;
       max-width: 1300px; padding: 16px 28px 48px; color: #222; }
h1 { margin-bottom: 4px; } h2 { margin-top: 36px; border-bottom: 1px solid #ddd; }
p.lead { color: #555; margin-top: 0; } p.how { color: #555; max-width: 900px; }
table { border-collapse: collapse; font-size: 14px; margin: 8px 0; }
th, td { border-bottom: 1px solid #e5e5e5; padding: 4px 10px; text-align: left; }
th { background: #f6f6f6; } td:nth-child(-n+2) { white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr.alert td { background: #fdecea; }
.badge { display: inline-block; padding: 2px 10px; border-radius: 10px; font-weight: 600; }
.bad { background: #fdecea; color: #a61b1b; } .good { background: #e8f5e9; color: #1b5e20; }
.summary { display: flex; gap: 28px; flex-wrap: wrap; margin: 12px 0; }
.summary div { background: #f6f6f6; border-radius: 6px; padding: 8px 14px; }
.summary b { display: block; font-size: 22px; }
nav a { margin-right: 14px; }
"""


def parse_since(text: str | None, now: datetime | None = None) -> datetime | None:
    """``7d``, ``12h``, ``30m``, or an ISO date/time (UTC if no zone); None for everything."""
    if not text:
        return None
    now = now or datetime.now(UTC)
    units = {"d": "days", "h": "hours", "m": "minutes", "w": "weeks"}
    if text[-1] in units and text[:-1].isdigit():
        return now - pd.Timedelta(**{units[text[-1]]: int(text[:-1])}).to_pytimedelta()
    stamp = pd.Timestamp(text)
    stamp = stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)
    return stamp.to_pydatetime()


def read_rotations(store: Store) -> pd.DataFrame:
    with store.begin() as conn:
        rows = conn.execute(select(role_changes).order_by(role_changes.c.at)).all()
    frame = pd.DataFrame([dict(r._mapping) for r in rows])
    if not frame.empty:
        frame["at"] = pd.to_datetime(frame["at"], utc=True)
    return frame


def _roles_after(row: pd.Series) -> str:
    after = row["after"] or {}
    return ", ".join(f"{role} {version}" for role, version in after.items() if version)


def _mark_rotations(fig: go.Figure, rotations: pd.DataFrame, span: tuple[Any, Any] | None) -> None:
    """Dotted vertical lines at each role change within the plotted time span."""
    if rotations.empty or span is None:
        return
    low, high = span
    pad = (high - low) * 0.05 if high > low else pd.Timedelta(minutes=1)
    shown = rotations[(rotations["at"] >= low - pad) & (rotations["at"] <= high + pad)]
    for i, (_, row) in enumerate(shown.iterrows()):
        at = row["at"].to_pydatetime()
        fig.add_vline(x=at, line_dash="dot", line_color=ROTATION, line_width=1.5)
        fig.add_annotation(  # named once, at the top of the first panel
            x=at,
            xref="x",
            y=1.0 - 0.12 * (i % 3),  # staggered: close rotations (a quick rollback) do not overprint
            yref="y domain",
            text=str(row["action"]),
            showarrow=False,
            xanchor="left",
            yanchor="top",
            font={"size": 10, "color": ROTATION},
            hovertext=f"{row['action']} by {row['actor']}: {_roles_after(row)}",
        )
    if len(shown):
        fig.add_trace(
            go.Scatter(
                x=[None],
                y=[None],
                mode="lines",
                line={"dash": "dot", "color": ROTATION},
                name="model rotation",
            )
        )


def _span(*frames: pd.DataFrame) -> tuple[Any, Any] | None:
    times = pd.concat([f["at"] for f in frames if not f.empty and "at" in f])
    return (times.min(), times.max()) if len(times) else None


def _figure_html(fig: go.Figure) -> str:
    return pio.to_html(fig, full_html=False, include_plotlyjs=False, config=PLOT_CONFIG)


def _grid(n: int, cols: int) -> tuple[int, int]:
    return max(1, math.ceil(n / cols)), min(cols, max(n, 1))


def _threshold_line(fig: go.Figure, y: float | None, row: int, col: int) -> None:
    if y is not None and not math.isnan(y):
        fig.add_hline(y=y, line_dash="dash", line_color=THRESHOLD, line_width=1, row=row, col=col)


def _series_plot(
    frame: pd.DataFrame,
    panels: list[tuple[str, str]],
    rotations: pd.DataFrame,
    cols: int,
    group_by: str,
    panel_height: int = 220,
    floating: frozenset[str] = frozenset(),
) -> go.Figure:
    """Small multiples over time: one panel per (column value, title), alerts in red.

    Panels start at zero (distances, shares) unless named in ``floating`` (agreement, AUC...).
    """
    fig, ncols = _subplots([title for _, title in panels], cols, panel_height)
    seen: set[str] = set()
    for i, (key, _) in enumerate(panels):
        r, c = i // ncols + 1, i % ncols + 1
        part = frame[frame["panel"] == key]
        for name, series in part.groupby(group_by, sort=False):
            color = series["color"].iloc[0]
            fig.add_trace(
                go.Scatter(
                    x=series["at"],
                    y=series["value"],
                    mode="lines+markers",
                    name=str(name),
                    legendgroup=str(name),
                    showlegend=str(name) not in seen,
                    line={"color": color},
                    customdata=series[["source"]].to_numpy(),
                    hovertemplate="%{customdata[0]}<br>%{y:.4g}<extra>" + str(name) + "</extra>",
                ),
                row=r,
                col=c,
            )
            seen.add(str(name))
        alerts = part[part["alert"]]
        if len(alerts):
            fig.add_trace(
                go.Scatter(
                    x=alerts["at"],
                    y=alerts["value"],
                    mode="markers",
                    marker={"color": ALERT, "size": 11, "symbol": "x"},
                    name="alert",
                    legendgroup="alert",
                    showlegend="alert" not in seen,
                    customdata=alerts[["source"]].to_numpy(),
                    hovertemplate="ALERT %{customdata[0]}<br>%{y:.4g}<extra></extra>",
                ),
                row=r,
                col=c,
            )
            seen.add("alert")
        thresholds = part["threshold"].dropna().unique()
        for threshold in thresholds[:2]:
            _threshold_line(fig, float(threshold), r, c)
        _y_range(fig, [*part["value"].dropna(), *thresholds], key not in floating, r, c)
    if frame["threshold"].notna().any():
        fig.add_trace(
            go.Scatter(
                x=[None], y=[None], mode="lines", line={"dash": "dash", "color": THRESHOLD}, name="threshold"
            )
        )
    _mark_rotations(fig, rotations, _span(frame))
    return fig


ROW_GAP_PX = 100  # between panel rows: the time axis' two lines of labels, the next title
TOP_PX, BOTTOM_PX = 50, 100


def _subplots(titles: list[str], cols: int, panel_height: int) -> tuple[go.Figure, int]:
    """A grid of panels with fixed pixel gaps (so titles never sit on the axis labels above)."""
    rows, ncols = _grid(len(titles), cols)
    plot_height = panel_height * rows + ROW_GAP_PX * (rows - 1)
    fig = make_subplots(
        rows=rows,
        cols=ncols,
        subplot_titles=titles,
        vertical_spacing=ROW_GAP_PX / plot_height if rows > 1 else 0.0,
        horizontal_spacing=0.06,
    )
    fig.update_layout(
        height=plot_height + TOP_PX + BOTTOM_PX,
        margin={"l": 55, "r": 20, "t": TOP_PX, "b": BOTTOM_PX},
        legend={"orientation": "h", "y": -70 / plot_height, "yanchor": "top", "x": 0},
        template="plotly_white",
    )
    fig.update_annotations(font_size=13)
    return fig, ncols


def _y_range(fig: go.Figure, values: list[float], from_zero: bool, row: int, col: int) -> None:
    """Room above and below the data and the thresholds; distances start at zero."""
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not finite:
        return
    low, high = min(finite), max(finite)
    span = max(high - low, 0.02 * max(abs(high), 1e-3))
    low = 0.0 if from_zero and low >= 0 else low - 0.2 * span
    fig.update_yaxes(range=[low, high + 0.2 * span], row=row, col=col)


def feature_drift_figure(m: pd.DataFrame, rotations: pd.DataFrame) -> go.Figure | None:
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
    return _series_plot(rows, panels, rotations, cols=3, group_by="series", panel_height=190)


PAIR_PANELS = [
    ("agreement", "decision agreement (alert below)"),
    ("quantile_shift", "largest decile shift"),
    ("ks", "KS statistic"),
    ("psi", "PSI"),
    ("mean_abs_diff", "mean |score difference|"),
]


def pair_figure(m: pd.DataFrame, rotations: pd.DataFrame) -> go.Figure | None:
    rows = m[m["feature"].isna() & m["role"].isin(["canary", "shadow"])].copy()
    rows = rows[rows["metric"].isin([k for k, _ in PAIR_PANELS])]
    if rows.empty:
        return None
    rows["panel"] = rows["metric"]
    rows["series"] = rows["detail"].map(lambda d: (d or {}).get("comparison", ""))
    rows["color"] = rows["role"].map({"canary": CANARY}).fillna("#9467bd")
    return _series_plot(
        rows, PAIR_PANELS, rotations, cols=3, group_by="series", floating=frozenset({"agreement"})
    )


REFERENCE_PANELS = [
    ("psi", "PSI vs reference scores"),
    ("ks", "KS statistic vs reference scores"),
    ("quantile_shift", "largest decile shift vs reference"),
]


def reference_figure(m: pd.DataFrame, rotations: pd.DataFrame) -> go.Figure | None:
    rows = m[m["feature"].isna() & (m["role"] == "live")].copy()
    rows = rows[rows["metric"].isin([k for k, _ in REFERENCE_PANELS])]
    if rows.empty:
        return None
    rows["panel"] = rows["metric"]
    rows["series"] = "live " + rows["model_version"].astype("str")
    rows["color"] = LIVE
    return _series_plot(rows, REFERENCE_PANELS, rotations, cols=3, group_by="series")


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
    fig, cols = _subplots(titles, 4, 200)
    for i, (_, pair) in enumerate(pairs.iterrows()):
        r, c = i // cols + 1, i % cols + 1
        hist = pair["detail"]["histogram"]
        edges = hist["edges"]
        centers = [(a + b) / 2 for a, b in itertools.pairwise(edges)]
        width = edges[1] - edges[0]
        first = i == 0
        fig.add_trace(
            go.Bar(x=centers, y=hist["a"], width=width, name="live", marker_color=LIVE, opacity=0.55,
                   showlegend=first, legendgroup="live"),
            row=r, col=c,
        )  # fmt: skip
        fig.add_trace(
            go.Bar(x=centers, y=hist["b"], width=width, name="canary", marker_color=CANARY,
                   opacity=0.55, showlegend=first, legendgroup="canary"),
            row=r, col=c,
        )  # fmt: skip
        ref = references.get(pair["batch_id"])
        if ref and "histogram" in ref:
            ref_hist = ref["histogram"]
            ref_edges = ref_hist["edges"]
            fig.add_trace(
                go.Scatter(
                    x=[(a + b) / 2 for a, b in itertools.pairwise(ref_edges)],
                    y=ref_hist["b"],
                    mode="lines",
                    line={"color": REFERENCE, "dash": "dot"},
                    name="live on its reference data",
                    showlegend=first,
                    legendgroup="reference",
                ),
                row=r,
                col=c,
            )
    tallest = max(
        max([*d["histogram"]["a"], *d["histogram"]["b"]]) for d in pairs["detail"]
    )  # one scale for every panel, so batches compare at a glance
    fig.update_layout(barmode="overlay")
    fig.update_yaxes(tickformat=".0%", range=[0, max(tallest, 0.55) * 1.05])
    fig.update_xaxes(title_text="score", title_font_size=11, title_standoff=4)
    return fig


PERFORMANCE_PANELS = [
    ("roc_auc", "ROC AUC"),
    ("log_loss", "log loss (lower is better)"),
    ("accuracy", "accuracy"),
    ("rmse", "RMSE"),
    ("mae", "MAE"),
    ("r2", "R²"),
]


def performance_figure(perf: pd.DataFrame, rotations: pd.DataFrame) -> go.Figure | None:
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
    palette = {"live": LIVE, "canary": CANARY}
    long["color"] = long["role"].map(palette).fillna("#9467bd")
    long["source"] = long["window"] + " (" + long["n"].astype("str") + " labelled rows)"
    long["alert"] = False
    long["threshold"] = float("nan")
    present = [(k, t) for k, t in PERFORMANCE_PANELS if k in set(long["panel"])]
    return _series_plot(
        long, present, rotations, cols=3, group_by="series", floating=frozenset(long["panel"])
    )


def _table(headers: list[str], rows: list[list[str]], classes: list[str] | None = None) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = []
    for i, values in enumerate(rows):
        row = ["" if v is None else str(v) for v in values]
        cls = f' class="{classes[i]}"' if classes and classes[i] else ""
        cells = "".join(
            f'<td class="num">{html.escape(v)}</td>' if _numeric_text(v) else f"<td>{html.escape(v)}</td>"
            for v in row
        )
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _numeric_text(value: str) -> bool:
    try:
        float(value.replace(",", ""))
    except ValueError:
        return False
    return True


def _when(value: Any) -> str:
    return pd.Timestamp(value).tz_convert(UTC).strftime("%Y-%m-%d %H:%M:%S") if pd.notna(value) else ""


def alerts_table(m: pd.DataFrame) -> str:
    alerts = m[m["alert"]]
    if alerts.empty:
        return '<p><span class="badge good">No alerts</span> in this period.</p>'
    rows = []
    for _, a in alerts.iterrows():
        row = a.to_dict()
        rows.append(
            [
                _when(a["at"]),
                str(a["source"]),
                comparison_of(row),
                a["feature"] or "",
                a["metric"],
                fmt_number(a["value"]),
                rule_text(row),
                note_text(row),
            ]
        )
    return _table(["time (UTC)", "batch", "comparison", "feature", "metric", "value", "rule", "note"], rows)


def _grouped_alerts(rows: list[dict[str, Any]]) -> str:
    by_comparison: dict[str, list[str]] = {}
    for row in rows:
        by_comparison.setdefault(comparison_of(row), []).append(row["metric"])
    return "; ".join(f"{name}: {', '.join(metrics)}" for name, metrics in by_comparison.items())


def batches_table(m: pd.DataFrame) -> str:
    out, classes = [], []
    for _batch_id, part in m.groupby("batch_id", sort=False):
        features = part[part["feature"].notna()]
        drifted = sorted(set(features.loc[features["alert"], "feature"]))
        score_alerts = part[part["feature"].isna() & part["alert"] & (part["metric"] != "drift_share")]
        pair = part[(part["role"] == "canary")].set_index("metric")["value"]
        errors = part[part["metric"] == "monitor_error"]
        verdict = "monitoring failed" if len(errors) else ("ALERT" if part["alert"].any() else "ok")
        out.append(
            [
                _when(part["at"].iloc[0]),
                str(part["source"].iloc[0]),
                fmt_number(part.loc[part["metric"] == "n_rows", "value"].max()),
                verdict,
                ", ".join(drifted) or ("-" if len(features) else "no reference yet"),
                _grouped_alerts(score_alerts.to_dict("records")) or "-",
                fmt_number(pair.get("agreement")),
            ]
        )
        classes.append("alert" if verdict != "ok" else "")
    return _table(
        [
            "time (UTC)",
            "batch",
            "rows",
            "verdict",
            "drifted features",
            "score alerts",
            "live/canary agreement",
        ],
        out,
        classes,
    )


def models_table(services: Services) -> str:
    """Models in service (live, canary, candidates) and where their reference comes from."""
    rows = [
        [line["version"], line["role"], line["profile"]]
        for line in profile_lines(services.store, services.registry)
    ]
    return _table(["model", "role", "reference profile"], rows)


def rotations_table(rotations: pd.DataFrame) -> str:
    if rotations.empty:
        return "<p>No role changes recorded.</p>"
    rows = [
        [_when(r["at"]), r["action"], r["actor"], _roles_after(r), r.get("comment") or ""]
        for _, r in rotations.iterrows()
    ]
    return _table(["time (UTC)", "action", "by", "roles after", "comment"], rows)


def _section(anchor: str, title: str, how: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{html.escape(title)}</h2><p class="how">{how}</p>{body}</section>'


def _plot_or(fig: go.Figure | None, empty: str) -> str:
    return _figure_html(fig) if fig is not None else f"<p><i>{html.escape(empty)}</i></p>"


def build_report(services: Services, since: datetime | None = None) -> str:
    """The whole page as one HTML string."""
    store = services.store
    m = read_metrics(store, since=since)
    perf = realized_performance(store, since=since, by="batch")
    rotations = read_rotations(store)
    config = services.settings.monitoring
    n_batches = m["batch_id"].nunique() if not m.empty else 0
    n_alert_batches = m.loc[m["alert"], "batch_id"].nunique() if not m.empty else 0
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    period = f"since {since:%Y-%m-%d %H:%M} UTC" if since else "all batches"
    badge = (
        f'<span class="badge bad">{n_alert_batches} batch(es) with alerts</span>'
        if n_alert_batches
        else '<span class="badge good">no alerts</span>'
    )
    labelled = int(perf.loc[perf["role"] == "live", "n"].sum()) if not perf.empty else 0
    summary = (
        '<div class="summary">'
        f"<div><b>{n_batches}</b>batches monitored</div>"
        f"<div><b>{n_alert_batches}</b>with alerts</div>"
        f"<div><b>{labelled:,}</b>live scores with labels</div>"
        f"<div><b>{len(rotations)}</b>role changes</div>"
        "</div>"
    )
    sections = [
        _section(
            "models",
            "Models and their references",
            "Feature drift compares each batch with the <b>live</b> model's reference profile "
            "(summaries and a sample of its reference data, stored at registration); a model "
            "registered without one gets a profile from the first "
            f"{config.first_batches_rows:,} rows it scores.",
            models_table(services),
        ),
        _section(
            "batches",
            "Batches",
            "One line per monitored batch: its verdict, the features that drifted, the score "
            "comparisons that broke a rule.",
            batches_table(m) if not m.empty else "<p><i>No batch monitored in this period.</i></p>",
        ),
        _section("alerts", "Alerts", "Every statistic that broke its rule.", alerts_table(m)),
        _section(
            "distributions",
            "Live vs canary score distributions",
            "Shares of each batch's rows per score bin: the live model (blue) and the canary "
            "(orange) on the same rows; the dotted line is the live model on its reference data. "
            f"The latest {MAX_HISTOGRAMS} batches.",
            _plot_or(distributions_figure(m), "No live vs canary comparison yet."),
        ),
        _section(
            "pair",
            "Live vs canary over time",
            "Agreement is the share of rows where both models make the same decision (score at "
            f"or above {config.decision_threshold}); the others compare the two score "
            "distributions. Red dashes: the alert thresholds. Red crosses: alerts. Green "
            "dotted lines: model rotations.",
            _plot_or(pair_figure(m, rotations), "No live vs canary comparison yet."),
        ),
        _section(
            "features",
            "Feature drift over time",
            "Each feature of each batch against the live model's reference: distances "
            "(Wasserstein in reference standard deviations, Jensen-Shannon) alert above the "
            "threshold; on small batches p-values (KS, chi-squared) alert below it.",
            _plot_or(feature_drift_figure(m, rotations), "No feature drift measured yet."),
        ),
        _section(
            "reference",
            "Live scores vs the live model's reference scores",
            "The live model's scores on each batch against its own scores on its reference "
            "data: the output moves when the inputs that matter move.",
            _plot_or(reference_figure(m, rotations), "No reference scores to compare with."),
        ),
        _section(
            "performance",
            "Realized performance",
            "Once labels arrive: per batch and model role, on the labelled rows only (hover "
            "for the row counts).",
            _plot_or(performance_figure(perf, rotations), "No labels have arrived for these batches yet.")
            + (
                _table(
                    ["batch", "role", "model", "labelled rows", "ROC AUC", "log loss", "accuracy"],
                    [
                        [
                            str(r["window"]),
                            r["role"],
                            r["model_version"],
                            f"{int(r['n']):,}",
                            fmt_number(r["roc_auc"]),
                            fmt_number(r["log_loss"]),
                            fmt_number(r["accuracy"]),
                        ]
                        for _, r in perf.iterrows()
                    ],
                )
                if not perf.empty
                else ""
            ),
        ),
        _section(
            "rotations",
            "Model rotations",
            "Registrations, promotions and rollbacks (role_changes), drawn as green dotted "
            "lines on the time axes above.",
            rotations_table(rotations),
        ),
    ]
    nav = " ".join(
        f'<a href="#{a}">{t}</a>'
        for a, t in [
            ("models", "Models"),
            ("batches", "Batches"),
            ("alerts", "Alerts"),
            ("distributions", "Score distributions"),
            ("pair", "Live vs canary"),
            ("features", "Feature drift"),
            ("reference", "Live vs reference"),
            ("performance", "Performance"),
            ("rotations", "Rotations"),
        ]
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<title>rendezvous drift report</title>"
        f"<style>{CSS}</style><script>{get_plotlyjs()}</script></head><body>"
        f"<h1>rendezvous drift report</h1><p class='lead'>Generated {generated}; {period}. {badge}</p>"
        f"<nav>{nav}</nav>{summary}{''.join(sections)}</body></html>"
    )


def write_report(services: Services, since: datetime | None = None, output: str | None = None) -> str:
    """Write the page to ``output`` (any fsspec URL; default reports/ under home); return it."""
    if output is None:
        stamp = datetime.now(UTC).strftime("%Y-%m-%d")
        output = str(services.settings.home / "reports" / f"drift-report-{stamp}.html")
    page = build_report(services, since)
    fs, path = fsspec.core.url_to_fs(output)
    parent = fs._parent(path)
    if parent:
        fs.makedirs(parent, exist_ok=True)
    with fs.open(path, "w", encoding="utf-8") as handle:
        handle.write(page)
    return output
