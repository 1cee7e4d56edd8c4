"""The report's plot grammar: grids of small panels over time, thresholds, alerts, rotations.

Every name that comes from data (batch, feature, model version, actor) goes into a figure through
``plain``: plotly reads labels as a subset of HTML, and a name must show as it is written.
"""

from __future__ import annotations

import html
import math
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from rendezvous.monitoring.report.rotations import roles_after

LIVE, CANARY, SHADOW, REFERENCE = "#1f77b4", "#ff7f0e", "#9467bd", "#7f7f7f"
ALERT = THRESHOLD = "#d62728"
ROTATION = "#2ca02c"
ROW_GAP_PX = 100  # between panel rows: the time axis' two lines of labels, the next title
TOP_PX, BOTTOM_PX = 50, 100


def plain(text: Any) -> str:
    """Plotly label text that shows ``text`` as written (plotly decodes the entities back)."""
    return html.escape(str(text), quote=False)


def grid(n: int, cols: int) -> tuple[int, int]:
    """Rows and columns of a grid of ``n`` panels at most ``cols`` wide."""
    return max(1, math.ceil(n / cols)), min(cols, max(n, 1))


def subplots(titles: list[str], cols: int, panel_height: int) -> tuple[go.Figure, int]:
    """A grid of panels with fixed pixel gaps (so titles never sit on the axis labels above)."""
    rows, ncols = grid(len(titles), cols)
    plot_height = panel_height * rows + ROW_GAP_PX * (rows - 1)
    fig = make_subplots(
        rows=rows,
        cols=ncols,
        subplot_titles=[plain(title) for title in titles],
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


def y_range(fig: go.Figure, values: list[float], from_zero: bool, row: int, col: int) -> None:
    """Room above and below the data and the thresholds; distances start at zero."""
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not finite:
        return
    low, high = min(finite), max(finite)
    span = max(high - low, 0.02 * max(abs(high), 1e-3))
    low = 0.0 if from_zero and low >= 0 else low - 0.2 * span
    fig.update_yaxes(range=[low, high + 0.2 * span], row=row, col=col)


def time_span(frame: pd.DataFrame) -> tuple[Any, Any] | None:
    """First and last time plotted, or None when nothing is."""
    times = frame["at"].dropna() if "at" in frame else pd.Series(dtype=object)
    return (times.min(), times.max()) if len(times) else None


def legend_line(fig: go.Figure, name: str, color: str, dash: str) -> None:
    """A legend entry for lines drawn as shapes (thresholds, rotations), which have none."""
    fig.add_trace(
        go.Scatter(x=[None], y=[None], mode="lines", line={"dash": dash, "color": color}, name=name)
    )


def mark_rotations(fig: go.Figure, rotations: pd.DataFrame, span: tuple[Any, Any] | None) -> None:
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
            text=plain(row["action"]),
            showarrow=False,
            xanchor="left",
            yanchor="top",
            font={"size": 10, "color": ROTATION},
            hovertext=plain(f"{row['action']} by {row['actor']}: {roles_after(row['after'])}"),
        )
    if len(shown):
        legend_line(fig, "model rotation", ROTATION, "dot")


def _add_series(
    fig: go.Figure, part: pd.DataFrame, group_by: str, seen: set[str], row: int, col: int
) -> None:
    for name, series in part.groupby(group_by, sort=False):
        label = plain(name)
        fig.add_trace(
            go.Scatter(
                x=series["at"],
                y=series["value"],
                mode="lines+markers",
                name=label,
                legendgroup=label,
                showlegend=label not in seen,
                line={"color": series["color"].iloc[0]},
                customdata=series[["source"]].map(plain).to_numpy(),
                hovertemplate="%{customdata[0]}<br>%{y:.4g}<extra>%{fullData.name}</extra>",
            ),
            row=row,
            col=col,
        )
        seen.add(label)


def _add_alerts(fig: go.Figure, part: pd.DataFrame, seen: set[str], row: int, col: int) -> None:
    alerts = part[part["alert"]]
    if alerts.empty:
        return
    fig.add_trace(
        go.Scatter(
            x=alerts["at"],
            y=alerts["value"],
            mode="markers",
            marker={"color": ALERT, "size": 11, "symbol": "x"},
            name="alert",
            legendgroup="alert",
            showlegend="alert" not in seen,
            customdata=alerts[["source"]].map(plain).to_numpy(),
            hovertemplate="ALERT %{customdata[0]}<br>%{y:.4g}<extra></extra>",
        ),
        row=row,
        col=col,
    )
    seen.add("alert")


def series_plot(
    frame: pd.DataFrame,
    panels: list[tuple[str, str]],
    rotations: pd.DataFrame,
    time_label: str,
    cols: int,
    group_by: str,
    panel_height: int = 220,
    floating: frozenset[str] = frozenset(),
) -> go.Figure:
    """Small multiples over time: one panel per (``panel`` value, title), alerts in red.

    ``frame`` has the columns panel, at, value, source, color, alert, threshold and ``group_by``
    (one line per value); ``at`` is the time the axes are titled with (``time_label``). Panels
    start at zero (distances, shares) unless named in ``floating``.
    """
    fig, ncols = subplots([title for _, title in panels], cols, panel_height)
    seen: set[str] = set()
    for i, (key, _) in enumerate(panels):
        r, c = i // ncols + 1, i % ncols + 1
        part = frame[frame["panel"] == key]
        _add_series(fig, part, group_by, seen, r, c)
        _add_alerts(fig, part, seen, r, c)
        thresholds = part["threshold"].dropna().unique()
        for threshold in thresholds[:2]:
            fig.add_hline(
                y=float(threshold), line_dash="dash", line_color=THRESHOLD, line_width=1, row=r, col=c
            )
        y_range(fig, [*part["value"].dropna(), *thresholds], key not in floating, r, c)
    if frame["threshold"].notna().any():
        legend_line(fig, "threshold", THRESHOLD, "dash")
    mark_rotations(fig, rotations, time_span(frame))
    fig.update_xaxes(title_text=plain(time_label), title_font_size=11, title_standoff=4)
    return fig
