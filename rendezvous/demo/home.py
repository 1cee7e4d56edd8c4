"""The demo's own settings and the mark of a home the demo built.

The loan demo's schema (its suite, its reference table, its feature step and training recipe)
is not a default: `rendezvous demo` writes these settings into the home's own
``rendezvous.toml``, so every command run against that home reads them, and the environment
still overrides them. Kept free of heavy imports: test fixtures read it.
"""

from __future__ import annotations

import json
from pathlib import Path

from rendezvous.settings import HOME_CONFIG, PROJECT_ROOT

MARKER = ".rendezvous-demo"

DEMO_SETTINGS: dict[str, str] = {
    "suite_path": str(PROJECT_ROOT / "expectations" / "loan_requests.json"),
    "timestamp_column": "requested_at",
    "label_column": "defaulted",
    "reference_url": "reference/customers.parquet",  # relative: under the home
    "reference_key": "customer_id",
    "preprocess": "rendezvous.demo.features:add_features",
    "training_recipe": "rendezvous.demo.recipes:default_pipeline",
}


def demo_toml() -> str:
    """The demo's settings as TOML (JSON string escapes are TOML basic-string escapes)."""
    lines = ["# Written by `rendezvous demo`: the loan demo's schema. Environment variables override it."]
    lines += [f"{name} = {json.dumps(value)}" for name, value in DEMO_SETTINGS.items()]
    return "\n".join(lines) + "\n"


def write_demo_settings(home: Path) -> Path:
    """The home's rendezvous.toml, holding the demo's settings."""
    home.mkdir(parents=True, exist_ok=True)
    target = home / HOME_CONFIG
    target.write_text(demo_toml(), encoding="utf-8")
    return target


def mark_demo_home(home: Path, locations: list[str]) -> None:
    """Record that the demo built this home, and the locations it filled (what it may wipe)."""
    home.mkdir(parents=True, exist_ok=True)
    (home / MARKER).write_text(json.dumps({"locations": locations}, indent=1), encoding="utf-8")


def demo_locations(home: Path) -> list[str] | None:
    """The locations the demo filled when it built this home; None if it did not build it."""
    marker = home / MARKER
    if not marker.is_file():
        return None
    return list(json.loads(marker.read_text(encoding="utf-8")).get("locations", []))
