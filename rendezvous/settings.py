"""One settings object, chosen in one place.

Environment variables prefixed ``RENDEZVOUS_`` override an optional TOML file
(``RENDEZVOUS_CONFIG``, default ``rendezvous.toml`` in the working directory), which
overrides the embedded single-machine defaults: everything lives under ``RENDEZVOUS_HOME``.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from rendezvous.monitoring.config import MonitoringConfig

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _config_file() -> Path:
    return Path(os.environ.get("RENDEZVOUS_CONFIG", "rendezvous.toml"))


class Settings(BaseSettings):
    """Where state lives, what the request contract is, and how batches are processed."""

    model_config = SettingsConfigDict(env_prefix="RENDEZVOUS_", extra="forbid")

    home: Path = Field(default=PROJECT_ROOT / "var", description="Root of all runtime state.")
    database_url: str = Field(default="", description="SQLAlchemy URL; SQLite under home if empty.")
    inbox_url: str = ""
    outbox_url: str = ""
    archive_url: str = ""
    dev_url: str = Field(default="", description="Dev storage: Parquet partitioned by date.")
    done_url: str = ""
    failed_url: str = ""
    models_dir: str = Field(default=str(PROJECT_ROOT / "models"), description="Model store.")

    id_column: str = "request_id"
    timestamp_column: str | None = Field(
        default="requested_at", description="Partitions the dev copy by date; arrival date if None."
    )
    suite_path: Path = PROJECT_ROOT / "expectations" / "loan_requests.json"
    reference_url: str = Field(
        default="", description="Reference table joined by key; none if empty."
    )
    reference_key: str = "customer_id"
    on_missing_reference: Literal["quarantine", "keep"] = "quarantine"
    preprocess: str | None = Field(
        default="rendezvous.demo.features:add_features",
        description="Import path 'module:function' of a DataFrame -> DataFrame step after the join.",
    )
    training_recipe: str = Field(
        default="rendezvous.demo.recipes:default_pipeline",
        description="Import path of a factory returning an unfitted scikit-learn estimator.",
    )
    label_column: str = "defaulted"
    labels_url: str = Field(
        default="", description="Ground-truth label files; rejected labels go to rejects/ in it."
    )
    holdout_fraction: float = Field(
        default=0.25, gt=0.0, lt=1.0, description="Newest share of labelled rows held out."
    )
    min_training_rows: int = Field(default=100, gt=0)
    min_verdict_rows: int = Field(
        default=200,
        gt=0,
        description="Labelled rows a comparison needs before the promotion verdict counts it.",
    )
    approval_timeout_seconds: int = Field(
        default=86_400, gt=0, description="A promotion left undecided this long changes nothing."
    )
    approval_poll_seconds: int = Field(default=5, gt=0)
    approvals: Literal["signed", "named"] = Field(
        default="named",
        description="signed: decisions are Ed25519 signatures by keys in the approvers file; "
        "named: a readable name is enough (one machine).",
    )
    approvers_file: str = Field(default="", description="approvers.toml: names and public keys.")
    required_approvals: int = Field(
        default=1, ge=1, description="Different approvers needed before a promotion rotates."
    )

    max_invalid_share: float = Field(default=0.2, ge=0.0, le=1.0)
    # Memory bounded by bytes, not rows: a batch that breaks one of these is rejected, the limit named.
    max_file_bytes: int = Field(
        default=4 << 30, gt=0, description="A batch file's size (a compressed one's, decompressed too)."
    )
    max_cell_bytes: int = Field(default=1 << 20, gt=0, description="One value, as text.")
    max_row_bytes: int = Field(default=4 << 20, gt=0, description="One row (a CSV or JSON Lines line).")
    max_parquet_decoded_bytes: int = Field(
        default=2 << 30,
        gt=0,
        description="A Parquet file's values once decoded, judged from its metadata before decoding.",
    )
    file_mode: Literal["private", "group"] = Field(
        default="private",
        description="State files 0600 and folders 0700 (private), or 0660 and 0770 (group).",
    )
    chunk_rows: int = Field(default=250_000, gt=0)
    chunk_bytes: int = Field(
        default=32 << 20, gt=0, description="A chunk ends at chunk_rows rows or this many bytes of values."
    )
    dev_copy: Literal["raw", "enriched"] = "enriched"
    lease_seconds: int = Field(default=900, gt=0)
    max_attempts: int = Field(default=3, gt=0)
    task_runner: str = Field(
        default="threads",
        description="'threads', 'dask' (local cluster) or a Dask scheduler address.",
    )
    prefect_api: Literal["local-server", "ephemeral"] = Field(
        default="local-server",
        description="Without PREFECT_API_URL: commands that run flows share a local Prefect server "
        "(API + UI) started on first use, or each starts a temporary in-process API (no UI).",
    )
    prefect_port: int = Field(
        default=4200, gt=0, lt=65_536, description="The local server's port; another if taken."
    )
    monitoring: MonitoringConfig = Field(
        default_factory=MonitoringConfig,
        description="Drift and model monitoring: methods, thresholds, alert rules (see README).",
    )

    @model_validator(mode="after")
    def _derive_locations(self) -> Settings:
        home = self.home.resolve()
        self.home = home
        defaults = {
            "database_url": f"sqlite:///{home / 'rendezvous.db'}",
            "inbox_url": str(home / "inbox"),
            "outbox_url": str(home / "outbox"),
            "archive_url": str(home / "archive"),
            "dev_url": str(home / "dev"),
            "done_url": str(home / "done"),
            "failed_url": str(home / "failed"),
            "reference_url": str(home / "reference" / "customers.parquet"),
            "labels_url": str(home / "labels"),
            "approvers_file": str(home / "approvers.toml"),
        }
        for name, value in defaults.items():
            if not getattr(self, name):
                setattr(self, name, value)
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml = TomlConfigSettingsSource(settings_cls, toml_file=_config_file())
        return (init_settings, env_settings, toml)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests call ``get_settings.cache_clear()`` after changing env."""
    return Settings()
