"""Persistent state: the batch ledger, row-level records, lineage and the model registry."""

from rendezvous.store.engine import Store

__all__ = ["Store"]
