"""The `rendezvous` command line."""

from rendezvous.cli.app import app

__all__ = ["app"]
