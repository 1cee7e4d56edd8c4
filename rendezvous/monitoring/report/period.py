"""The period a report covers: ``--since`` as people write it, and as the page states it."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd

UNITS = {"d": "days", "h": "hours", "m": "minutes", "w": "weeks"}


def parse_since(text: str | None, now: datetime | None = None) -> datetime | None:
    """``7d``, ``12h``, ``30m``, or an ISO date/time (UTC if no zone); None for everything."""
    if not text:
        return None
    now = now or datetime.now(UTC)
    if text[-1] in UNITS and text[:-1].isdigit():
        return now - pd.Timedelta(**{UNITS[text[-1]]: int(text[:-1])}).to_pytimedelta()
    stamp = pd.Timestamp(text)
    stamp = stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)
    return stamp.to_pydatetime()


def period_text(since: datetime | None) -> str:
    return f"since {since:%Y-%m-%d %H:%M} UTC" if since else "all batches"


def utc_text(value: object) -> str:
    """A time as the report's tables show it (UTC, to the second); empty when unknown."""
    return pd.Timestamp(value).tz_convert(UTC).strftime("%Y-%m-%d %H:%M:%S") if pd.notna(value) else ""
