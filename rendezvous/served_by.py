"""Who answered a batch's rows, counted per role: the one rule for "the response fell back", read by
the flow's artifact, the report and the scoring commands (this module imports nothing heavy, so a
command handing its run to the warm scorer can say it without pandas)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def fell_back(served_by: Mapping[str, int], late: int, order: Sequence[str]) -> bool:
    """Whether a batch's response has a row answered by a model other than the most preferred,
    or one answered late (the preferred model past the deadline)."""
    return late > 0 or any(rows for role, rows in served_by.items() if role != order[0])
