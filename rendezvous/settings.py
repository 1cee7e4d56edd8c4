"""One settings object, chosen in one place.

Environment variables prefixed ``RENDEZVOUS_`` override the home's own ``rendezvous.toml``
(``$RENDEZVOUS_HOME/rendezvous.toml``: what ``rendezvous demo`` writes), which overrides an
optional TOML file (``RENDEZVOUS_CONFIG``, default ``rendezvous.toml`` in the working
directory), which overrides the neutral single-machine defaults: everything lives under
``RENDEZVOUS_HOME``, and nothing of the demo's schema is assumed.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from rendezvous.monitoring.config import MonitoringConfig

PROJECT_ROOT = Path(__file__).resolve().parent.parent


HOME_CONFIG = "rendezvous.toml"
LOCATIONS = (
    "inbox_url",
    "outbox_url",
    "archive_url",
    "dev_url",
    "done_url",
    "failed_url",
    "labels_url",
    "models_dir",
    "reference_url",
)


class MissingSetting(ValueError):
    """A step needs a setting that has no neutral default (the schema's suite, a recipe)."""


def config_file() -> Path:
    """The working directory's settings file (or the one RENDEZVOUS_CONFIG names)."""
    return Path(os.environ.get("RENDEZVOUS_CONFIG", HOME_CONFIG))


def _under_home(home: Path, location: str) -> str:
    """A relative local path is a place under the home (so a home's own file can name its
    reference table); URLs and absolute paths are kept as given."""
    if not location or "://" in location or Path(location).is_absolute():
        return location
    return str(home / location)


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
    models_dir: str = Field(default="", description="Model store; home/models if empty.")

    id_column: str = "request_id"
    id_scope: Literal["global", "batch"] = Field(
        default="global",
        description="Where a request id is unique: across all batches (a repeat is set aside), "
        "or within its batch only (a repeat in another file is scored again; labels are refused).",
    )
    timestamp_column: str | None = Field(
        default=None, description="Request time: partitions the dev copy, groups performance."
    )
    suite_path: Path | None = Field(default=None, description="The request contract (GX suite JSON).")
    reference_url: str = Field(
        default="", description="Reference table joined by key; none if empty."
    )
    reference_key: str = ""
    on_missing_reference: Literal["quarantine", "keep"] = "quarantine"
    preprocess: str | None = Field(
        default=None,
        description="Import path 'module:function' of a DataFrame -> DataFrame step after the join.",
    )
    training_recipe: str | None = Field(
        default=None,
        description="Import path of a factory returning an unfitted scikit-learn estimator.",
    )
    label_column: str = "outcome"
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
    response_order: str = Field(
        default="live,canary",
        pattern=r"^(live|canary)(,(live|canary))?$",
        description="Which models may answer a request, most preferred first (shadows never do).",
    )
    response_deadline_seconds: float | None = Field(
        default=None,
        gt=0,
        description="Seconds after a batch starts scoring when its response is published from the "
        "models that have answered; none: wait for every preferred model.",
    )
    max_model_slices: int = Field(
        default=64,
        ge=1,
        description="Calls a model gets on smaller and smaller slices of a chunk it raised on, to "
        "isolate the rows it cannot score.",
    )
    api_token: SecretStr | None = Field(
        default=None, description="Bearer token of the request API; none: loopback clients only."
    )
    api_max_body_bytes: int = Field(default=64 << 20, gt=0, description="A request body sent to the API.")
    api_max_wait_seconds: float = Field(
        default=60.0, gt=0, description="The longest a response call is held (?wait=)."
    )
    lease_seconds: int = Field(default=900, gt=0)
    max_attempts: int = Field(default=3, gt=0)
    task_runner: str = Field(
        default="threads",
        pattern=r"^(threads|dask|([a-z]+://)?[^\s:/]+:[0-9]+)$",
        description="'threads', 'dask' (local cluster) or a Dask scheduler address (host:port).",
    )
    prefect_api: Literal["local-server", "ephemeral"] = Field(
        default="local-server",
        description="Without PREFECT_API_URL: commands that run flows share a local Prefect server "
        "(API + UI) started on first use, or each starts a temporary in-process API (no UI).",
    )
    prefect_port: int = Field(
        default=4200, gt=0, lt=65_536, description="The local server's port; another if taken."
    )
    warm_scorer: bool = Field(
        default=True,
        description="With the local server: `score` hands its run to a process kept warm beside it.",
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
            "labels_url": str(home / "labels"),
            "approvers_file": str(home / "approvers.toml"),
            "models_dir": str(home / "models"),
        }
        for name, value in defaults.items():
            if not getattr(self, name):
                setattr(self, name, value)
        for name in LOCATIONS:
            setattr(self, name, _under_home(home, getattr(self, name)))
        return self

    @property
    def response_roles(self) -> tuple[str, ...]:
        """The roles that may answer, most preferred first, each once."""
        return tuple(dict.fromkeys(self.response_order.split(",")))

    def required(self, name: str, purpose: str) -> str:
        """The value of a setting without a neutral default, or an error naming what to set."""
        value = getattr(self, name)
        if value in (None, ""):
            raise MissingSetting(f"{purpose} needs a setting: set RENDEZVOUS_{name.upper()} (see the README)")
        return str(value)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        working = TomlConfigSettingsSource(settings_cls, toml_file=config_file())
        home = (
            getattr(init_settings, "init_kwargs", {}).get("home")
            or os.environ.get("RENDEZVOUS_HOME")
            or working.toml_data.get("home")
            or settings_cls.model_fields["home"].default
        )
        own = TomlConfigSettingsSource(settings_cls, toml_file=Path(home) / HOME_CONFIG)
        return (init_settings, env_settings, own, working)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings; tests call ``get_settings.cache_clear()`` after changing env."""
    return Settings()
