"""The drift report with data the demo never produces: hostile names everywhere a name shows
(batch and feature; model versions are slugs, refused otherwise at registration), a schema of
its own (integer ids, a boolean feature, no timestamp column), and an empty store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from flows.score_batches import score_batches
from rendezvous.monitoring.reference import profile_for_model
from rendezvous.monitoring.report import build_report
from rendezvous.promotion.labels import add_labels
from rendezvous.services import forget_services, get_services
from rendezvous.settings import get_settings

HOSTILE = '<script>alert(1)</script>"{{ 7*7 }}'
# Plotly reads labels as a subset of HTML: its own <a href> and <b> must stay text too.
FEATURE = f'{HOSTILE} <a href="https://example.invalid/">income</a>'
LIVE = "live-1.0_a"
CANARY = "canary-1.0_b"
# A file name cannot hold the "/" of </script>. Parquet: a CSV's booleans stay text, which models refuse.
BATCH = '<img src=x onerror=alert(1)>"{{ 7*7 }}.parquet'
FEATURES = [FEATURE, "flag", "amount"]
# What the page itself is made of; an injected <img> or a second kind of markup would show here.
PAGE_TAGS = {"html", "head", "meta", "title", "style", "script", "body", "h1", "h2", "p", "span", "nav",
             "a", "div", "b", "i", "section", "table", "thead", "tbody", "tr", "th", "td"}  # fmt: skip


class _Page(HTMLParser):
    """The tags of a page and the text of its table cells, as a browser reads them."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: set[str] = set()
        self.cells: list[str] = []
        self._in_cell = False
        self.feed(page)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        if tag == "td":
            self._in_cell = True
            self.cells.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == "td":
            self._in_cell = False

    def handle_data(self, data: str) -> None:
        if self._in_cell:
            self.cells[-1] += data


def _requests(n: int, seed: int, shift: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "req": np.arange(1, n + 1),  # integer ids
            FEATURE: (rng.normal(50, 10, n) + shift).round(2),
            "flag": rng.random(n) < 0.3,  # a boolean feature
            "amount": rng.uniform(1, 100, n).round(1),
        }
    )


def _register_models(tmp_path: Path) -> None:
    """A live and a canary model of the hostile schema, each with its reference profile."""
    train = _requests(600, seed=1)
    target = (train[FEATURE] + 20 * train["flag"] > 55).astype(int)
    for role, version, c in (("live", LIVE, 1.0), ("canary", CANARY, 0.01)):
        model = LogisticRegression(C=c, max_iter=500).fit(train[FEATURES], target)
        profile = profile_for_model(train, FEATURES, model.predict_proba(train[FEATURES])[:, 1], "training")
        path = tmp_path / f"{role}.joblib"
        joblib.dump(model, path)
        get_services().registry.register(
            path, role, version=version, profile=profile.to_dict(), trust_pickle=True
        )


@pytest.fixture(scope="module")
def hostile_page(tmp_path_factory: pytest.TempPathFactory, prefect_api: None) -> Iterator[str]:
    """The report after one drifted, labelled batch of the hostile schema went through the flow."""
    root = tmp_path_factory.mktemp("hostile")
    suite = root / "suite.json"
    suite.write_text(
        json.dumps(
            {
                "name": "hostile",
                "expectations": [
                    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "req"}},
                    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": FEATURE}},
                ],
            }
        )
    )
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {
            "HOME": str(root / "home"),
            "MODELS_DIR": str(root / "models"),
            "SUITE_PATH": str(suite),
            "ID_COLUMN": "req",
            "PREPROCESS": "",
        }.items():
            patch.setenv(f"RENDEZVOUS_{name}", value)
        get_settings.cache_clear()
        forget_services()
        _register_models(root)
        inbox = root / "home" / "inbox"
        inbox.mkdir(parents=True)
        batch = _requests(800, seed=2, shift=30.0)  # the hostile feature drifts: named in the alerts
        batch.to_parquet(inbox / BATCH, index=False)
        (outcome,) = score_batches()
        assert outcome["state"] == "committed", outcome
        labels = pd.DataFrame({"request_id": batch["req"].astype(str), "outcome": "1"})
        labels.loc[::2, "outcome"] = "0"
        add_labels(get_services().store, labels, "labels.csv")
        yield build_report(get_services())
    get_settings.cache_clear()
    forget_services()


def test_hostile_names_are_text_in_the_tables(hostile_page: str) -> None:
    assert "<script>alert(1)</script>" not in hostile_page and "<img src=x" not in hostile_page
    parsed = _Page(hostile_page)
    assert parsed.tags <= PAGE_TAGS
    # Each name reads back exactly as written, {{ 7*7 }} included: text, never template code.
    assert {LIVE, CANARY, BATCH, FEATURE} <= set(parsed.cells)


def test_hostile_names_are_text_in_the_plots(hostile_page: str) -> None:
    """Plotly reads labels as a subset of HTML (<b>, <a href>...): names reach it escaped, and
    plotly shows the entities as the characters they stand for."""
    # Plotly's JSON writes "<" as \u003c: a name's "<" found there went to plotly as markup.
    as_markup = [tag for tag in ("\\u003cscript", "\\u003cimg", "\\u003ca href") if tag in hostile_page]
    assert as_markup == []
    assert "&lt;script&gt;alert(1)&lt;\\u002fscript&gt;" in hostile_page  # feature panels, series
    assert "&lt;img src=x onerror=alert(1)&gt;" in hostile_page  # the batch's histogram title


def test_report_of_an_empty_store(home: Path) -> None:
    parsed = _Page(page := build_report(get_services()))
    for anchor in ("models", "batches", "alerts", "distributions", "pair", "features", "reference",
                   "performance", "rotations"):  # fmt: skip
        assert f'id="{anchor}"' in page
    assert "No batch monitored in this period" in page and "No role changes recorded" in page
    assert parsed.cells == []  # no table rows made up
