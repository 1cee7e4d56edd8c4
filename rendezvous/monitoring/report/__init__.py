"""The drift report: one self-contained HTML page (plotly.js inline, so it opens offline).

Sections: the models and their references; one line per batch; alerts; live vs canary score
distributions per batch; live vs canary (and shadows vs live) over time; feature drift over time
per feature with its threshold; the live model's scores against its reference; realized
performance once labels arrive; model rotations, also drawn as dotted lines on every time axis.

``tables`` and ``figures`` prepare the data (``panels``: the plot grammar they share), ``page``
renders ``templates/drift_report.html`` with jinja2, autoescaped, and writes it.
"""

from rendezvous.monitoring.report.page import build_report, write_report
from rendezvous.monitoring.report.period import parse_since

__all__ = ["build_report", "parse_since", "write_report"]
