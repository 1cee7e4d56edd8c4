"""The hostile corpus, all in one inbox, one flow run: every file ends with a recorded, readable
reason, none stops the others, no row is lost or duplicated, nothing lands outside the folders."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from checks import (
    breaches,
    cells_of,
    csv_outputs,
    outside,
    quarantine_lines,
    risky_cells,
    snapshot,
    store_counts,
    unreadable_lines,
)
from corpus import FORMULA_IDS, build
from sqlalchemy import select

from flows.score_batches import score_batches
from rendezvous.batchfiles import utf8_name
from rendezvous.outputs import note_name
from rendezvous.services import get_services
from rendezvous.store.schema import batches

pytestmark = pytest.mark.usefixtures("prefect_api")

MAX_REASON = 2000  # a reason is for people: bounded, whatever the input


def _drop(inbox: Path, cases: list) -> None:
    """Write the corpus with increasing mtimes, so the flow takes the files in corpus order."""
    start = time.time() - len(cases) - 10
    for i, (name, data, _) in enumerate(cases):
        path = inbox / name
        path.write_bytes(data)
        os.utime(path, (start + i, start + i))


@pytest.mark.parametrize(
    "hostile_root", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_hostile_corpus(hostile_root: Path) -> None:
    services = get_services()
    settings = services.settings
    home = settings.home
    cases = build()
    assert len(cases) >= 30
    assert len({name for name, _, _ in cases}) == len(cases)
    inbox = Path(settings.inbox_url)
    _drop(inbox, cases)
    # Not regular files: a link to a file outside the inbox, a dangling link, a FIFO (opening
    # one blocks). None may be read, echoed into a rejects file, or block the run.
    secret = hostile_root / "secret.txt"
    secret.write_text("request_id\ntop-secret-value\n")
    (inbox / "link-to-secret.csv").symlink_to(secret)
    (inbox / "dangling.csv").symlink_to(hostile_root / "nowhere.csv")
    os.mkfifo(inbox / "pipe.csv")
    specials = {"link-to-secret.csv", "dangling.csv", "pipe.csv"}
    before = snapshot(hostile_root)

    outcomes = {o["source"]: o for o in score_batches()}  # raises if any batch errored

    # a name that is not UTF-8 is taken in under its percent-escaped form
    waiting = {name: data for name, data, expect in cases if expect.state == "waiting"}
    assert set(outcomes) == {utf8_name(name) for name, _, _ in cases} - set(waiting)
    left = {p.name: p for p in inbox.iterdir()}
    assert set(left) == set(waiting) | specials  # every other file left the inbox
    assert {name: left[name].read_bytes() for name in waiting} == waiting
    with services.store.begin() as conn:
        sources = set(conn.execute(select(batches.c.source)).scalars())
    assert not sources & set(waiting)
    for sent, _, expect in cases:
        name = utf8_name(sent)
        if expect.state == "waiting":
            continue
        o = outcomes[name]
        assert o["state"] == expect.state, (name, o)
        if expect.reason is not None:
            assert expect.reason.lower() in (o["reason"] or "").lower(), (name, o["reason"])
        if o["reason"] is not None:
            assert len(o["reason"]) <= MAX_REASON and "\x00" not in o["reason"], name
        if expect.state == "duplicate":
            assert (home / "done" / note_name(name)).exists(), name
            continue
        assert o["rows_in"] == o["rows_scored"] + o["rows_quarantined"], (name, o)
        assert store_counts(services, o["batch_id"]) == (o["rows_scored"], o["rows_quarantined"]), name
        if expect.rows_in is not None:
            assert o["rows_in"] == expect.rows_in, (name, o)
        if expect.scored is not None:
            assert o["rows_scored"] == expect.scored, (name, o)
        if expect.quarantined is not None:
            assert o["rows_quarantined"] == expect.quarantined, (name, o)
        lines = quarantine_lines(services, o["batch_id"])
        assert unreadable_lines(lines) == [], name
        assert set(expect.rules) <= {line["rule"] for line in lines}, (name, {line["rule"] for line in lines})
        folder = home / ("done" if o["state"] == "committed" else "failed")
        assert (folder / name).exists(), name
        if o["state"] == "rejected":
            note = (folder / note_name(name)).read_text(encoding="utf-8")
            assert note.strip() == o["reason"].strip(), name

    assert breaches(services) == {}
    taken = [o for o in outcomes.values() if o["state"] in ("committed", "rejected")]
    totals = {k: sum(o[k] for o in taken) for k in ("rows_in", "rows_scored", "rows_quarantined")}
    print(f"\nhostile corpus: {len(cases)} files + {len(specials)} special, {len(taken)} batches, {totals}")

    # formula injection: defused in every CSV the outbox holds, and the ids still recognisable
    written = csv_outputs(services)
    assert written
    for path in written:
        assert risky_cells(path) == [], path
    formula = outcomes["formula.csv"]["outputs"]
    cells = cells_of(Path(formula["response"])) | cells_of(Path(formula["rejects"]))
    assert {f"'{formula_id}" for formula_id in FORMULA_IDS} <= cells

    # nothing written outside the configured folders (the models folder and the store included)
    allowed = [
        os.path.relpath(p, hostile_root)
        for p in (
            settings.outbox_url,
            settings.archive_url,
            settings.dev_url,
            settings.done_url,
            settings.failed_url,
            settings.inbox_url,
            home / "rendezvous.db",
            home / "rendezvous.db-wal",
            home / "rendezvous.db-shm",
            home / "rendezvous.db-journal",
        )
    ]
    assert outside(snapshot(hostile_root) - before, allowed) == []
    written_files = [p for p in home.rglob("*") if p.is_file() and not p.is_symlink()]
    assert not any(b"top-secret-value" in p.read_bytes() for p in written_files)
