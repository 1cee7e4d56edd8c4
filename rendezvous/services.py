"""The resources a run uses, built from the settings in one place (store, registry, ledger...)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from rendezvous.filemodes import protect
from rendezvous.ledger import Ledger
from rendezvous.registry import Registry
from rendezvous.settings import Settings, get_settings
from rendezvous.store import Store
from rendezvous.store.upgrade import legacy_tables

if TYPE_CHECKING:
    from rendezvous.enrichment import Preprocess, Reference
    from rendezvous.scorelog.scored_ids import ScoredIds
    from rendezvous.validation.contract import Contract


@dataclass
class Services:
    settings: Settings

    def __post_init__(self) -> None:
        protect(self.settings)

    @cached_property
    def store(self) -> Store:
        store = Store(self.settings.database_url)
        if legacy_tables(store.engine):  # a home an older version made: its scores become files
            from rendezvous.scorelog.migrate import migrate_legacy_tables

            migrate_legacy_tables(store, self.settings.archive_url, self.settings.id_scope != "batch")
        return store

    @cached_property
    def scored_ids(self) -> ScoredIds | None:
        """The ids scored across batches; None under id scope "batch", where an id names a
        request within its batch only and nothing is checked or kept across batches."""
        if self.settings.id_scope == "batch":
            return None
        from rendezvous.scorelog.scored_ids import ScoredIds

        return ScoredIds(self.store, self.settings.archive_url)

    @cached_property
    def registry(self) -> Registry:
        return Registry(self.store, self.settings.models_dir)

    @cached_property
    def ledger(self) -> Ledger:
        return Ledger(self.store, self.settings.lease_seconds, self.settings.max_attempts)

    def contract(self) -> Contract:
        from rendezvous.validation import load_contract

        return load_contract(Path(self.settings.required("suite_path", "the request contract")))

    def reference(self) -> Reference | None:
        from rendezvous.enrichment import load_reference

        s = self.settings
        if not s.reference_url:
            return None
        return load_reference(s.reference_url, s.required("reference_key", "the reference join"))

    def preprocess(self) -> Preprocess | None:
        from rendezvous.enrichment import load_preprocess

        return load_preprocess(self.settings.preprocess)


_services: dict[str, Services] = {}


def get_services(settings: Settings | None = None) -> Services:
    """Services for these settings, shared within a process (engines and caches are reused)."""
    settings = settings or get_settings()
    key = settings.model_dump_json()
    if key not in _services:
        _services[key] = Services(settings)
    return _services[key]


def forget_services() -> None:
    """Drop shared services (after wiping state, or when tests change settings)."""
    _services.clear()
