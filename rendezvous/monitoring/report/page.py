"""The page: the report's data gathered once, rendered by ``templates/drift_report.html``, written.

The template is autoescaped: every name from data (batch, feature, model version, actor) is text,
never markup and never template code. Only the plots and plotly.js, made here, go in as markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

import fsspec
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup
from plotly.offline import get_plotlyjs

from rendezvous.monitoring.metrics_store import read_metrics
from rendezvous.monitoring.performance import realized_performance
from rendezvous.monitoring.report import figures, tables
from rendezvous.monitoring.report.fallbacks import fallbacks_table
from rendezvous.monitoring.report.period import period_text
from rendezvous.monitoring.report.rotations import read_rotations
from rendezvous.monitoring.report.time_axis import place, time_axis
from rendezvous.services import Services

PLOT_CONFIG = {"displaylogo": False, "responsive": True}


@dataclass
class Summary:
    """The counts at the top of the page."""

    batches: int
    alert_batches: int
    labelled: int
    rotations: int


def summarize(m: pd.DataFrame, perf: pd.DataFrame, rotations: pd.DataFrame) -> Summary:
    return Summary(
        batches=m["batch_id"].nunique(),
        alert_batches=m.loc[m["alert"], "batch_id"].nunique(),
        labelled=int(perf.loc[perf["role"] == "live", "n"].sum()),
        rotations=len(rotations),
    )


def plot(fig: go.Figure | None) -> Markup | None:
    """A figure's div and script (plotly.js itself is on the page once); None for no figure."""
    if fig is None:
        return None
    return Markup(pio.to_html(fig, full_html=False, include_plotlyjs=False, config=PLOT_CONFIG))


@cache
def environment() -> Environment:
    env = Environment(
        loader=PackageLoader("rendezvous.monitoring.report"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.tests["numeric"] = tables.is_numeric_text
    env.filters["thousands"] = "{:,}".format
    return env


def build_report(services: Services, since: datetime | None = None) -> str:
    """The whole page as one HTML string."""
    store = services.store
    axis = time_axis(services.settings.timestamp_column)
    perf = realized_performance(store, since=since, by="batch", scored=services.scored_ids)
    m, perf = place(read_metrics(store, since=since), perf, store, axis)
    rotations = read_rotations(store)
    # role changes happen in scoring time: on a request-time axis they are listed, not drawn
    drawn = rotations.iloc[0:0] if axis.request_time else rotations
    return (
        environment()
        .get_template("drift_report.html")
        .render(
            plotly_js=Markup(get_plotlyjs()),
            generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            period=period_text(since),
            summary=summarize(m, perf, rotations),
            config=services.settings.monitoring,
            max_histograms=figures.MAX_HISTOGRAMS,
            time_axis=axis,
            models=tables.models_table(services),
            batches=tables.batches_table(m, axis.label),
            alerts=tables.alerts_table(m, axis.label),
            rotations=tables.rotations_table(rotations),
            fallbacks=fallbacks_table(store, services.settings.response_roles, since),
            performance=tables.performance_table(perf),
            plots={
                "distributions": plot(figures.distributions_figure(m)),
                "pair": plot(figures.pair_figure(m, drawn, axis.label)),
                "features": plot(figures.feature_drift_figure(m, drawn, axis.label)),
                "reference": plot(figures.reference_figure(m, drawn, axis.label)),
                "performance": plot(figures.performance_figure(perf, drawn, axis.label)),
            },
        )
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
