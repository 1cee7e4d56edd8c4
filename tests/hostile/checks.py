"""Checks shared by the hostile-input tests: accounting, verify, CSV outputs, where files land."""

from __future__ import annotations

import csv
import os
import sys
from pathlib import Path

from score_rows import score_rows
from sqlalchemy import select

from rendezvous.services import Services
from rendezvous.store.schema import batches, quarantine
from rendezvous.verify import verify

csv.field_size_limit(sys.maxsize)  # the corpus sends a 5 MB cell, and its rejects echo it
# A spreadsheet runs these as formulas after any leading white space, in ASCII or fullwidth form.
FORMULA_START = ("=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20")
# Rules whose lines name a file line instead of one column of a row.
LINE_RULES = {"batch_rejected", "csv_row_field_count", "jsonl_not_an_object", "jsonl_invalid_json"}


def breaches(services: Services) -> dict[str, list[str]]:
    """What `rendezvous verify` reports broken (empty when every invariant holds)."""
    return {r.name: r.breaches for r in verify(services) if not r.ok}


def snapshot(root: Path) -> set[str]:
    """Every file and folder under ``root`` (relative), walked without following links."""
    found = set()
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            found.add(os.path.relpath(os.path.join(folder, name), root))
    return found


def outside(new: set[str], allowed: list[str]) -> list[str]:
    """New paths that are not inside one of the ``allowed`` (relative) folders or files."""
    return sorted(p for p in new if not any(p == a or p.startswith(a.rstrip("/") + "/") for a in allowed))


def store_counts(services: Services, batch_id: str) -> tuple[int, int]:
    """(live scores, quarantined rows) the store holds for one batch, counted here in Python:
    lines naming the same row are one row, a line without a row number is a row of its own."""
    scored = score_rows(services.store, "batch_id = ? AND role = 'live'", [batch_id])
    with services.store.begin() as conn:
        held = conn.execute(select(quarantine.c.row).where(quarantine.c.batch_id == batch_id)).scalars().all()
    rows = [r for r in held if r is not None]
    return len(scored), len(set(rows)) + (len(held) - len(rows))


def quarantine_lines(services: Services, batch_id: str) -> list[dict]:
    with services.store.begin() as conn:
        rows = conn.execute(select(quarantine).where(quarantine.c.batch_id == batch_id)).mappings()
        return [dict(r) for r in rows]


def unreadable_lines(lines: list[dict]) -> list[dict]:
    """Quarantine lines that fail to say where (row or file line) and what (column, rule)."""
    bad = []
    for line in lines:
        if not line["rule"]:
            bad.append(line)
        elif line["rule"] in LINE_RULES:
            if line["row"] is None and not str(line["value"] or "").startswith("line "):
                bad.append(line)
        elif line["row"] is None or not line["column"]:
            bad.append(line)
    return bad


def cells_of(path: Path) -> set[str]:
    with path.open(newline="", encoding="utf-8") as handle:
        return {cell for row in csv.reader(handle) for cell in row}


def risky_cells(path: Path) -> list[str]:
    """Cells of a CSV output that a spreadsheet would run as a formula."""
    cells = cells_of(path)
    return sorted(c for c in cells if c.lstrip().startswith(FORMULA_START) or c.startswith(("\t", "\r")))


def csv_rejects(services: Services) -> list[Path]:
    """Every rejects CSV the outbox holds: people open those, so no cell may run as a formula
    (a response is written as computed: its readers are systems, and an id ``+1`` stays ``+1``)."""
    return sorted(Path(services.settings.outbox_url).rglob("rejects*.csv"))


def terminal_rows(services: Services) -> list:
    with services.store.begin() as conn:
        return conn.execute(select(batches)).all()
