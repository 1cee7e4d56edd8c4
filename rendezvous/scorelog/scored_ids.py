"""The ids scored across batches (id scope "global"): immutable runs of their 64-bit hashes in
order, beside each id's text and batch, as Arrow files named by the store's ``id_runs`` table.

Why not a SQL table keyed by the id, as it was: with random ids (UUIDs) each batch's inserts touch
nearly every page of that index, so a commit grew with the history (1M UUIDs: 3.5 s into the
first batch's table, 11.8 s into the twentieth's, on SQLite). A run is written once, in hash
order, and never changed. A look-up sorts the batch's hashes once and binary-searches each run;
runs merge in tiers of ``FANOUT``, so a look-up visits few runs and an id is rewritten about
log_FANOUT(history) times.

"Scored once" is the commit's rule: holding ``id_set_lock`` (one committer at a time, on SQLite
and PostgreSQL alike) it looks its ids up in every run and adds its own run only if none is
there. A hash matches only with the same text: two ids sharing a 64-bit hash stay two ids.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from fsspec.implementations.local import LocalFileSystem
from sqlalchemy import Connection, delete, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from rendezvous.batchfiles import filesystem, join
from rendezvous.store import Store
from rendezvous.store.schema import id_runs, id_set_lock

HASH_KEY = "rendezvous:ids:1"  # siphash's 16-byte key: another key is another set of runs
FANOUT = 8  # runs of one level merged into one of the next
RUN_FILE = "scored-ids.arrow"  # a batch's own run, in its attempt's score folder
_ORPHAN_AGE = timedelta(hours=1)  # an unnamed merged run this old is a crashed merge's
RUN_SCHEMA = pa.schema(
    [
        ("hash", pa.uint64()),
        ("request_id", pa.large_string()),  # a merged run may hold more than 2 GB of ids
        ("batch_id", pa.dictionary(pa.int32(), pa.string())),
    ]
)


class ScoredBefore(RuntimeError):
    """Some ids a commit would add are in the set already."""

    def __init__(self, found: Found) -> None:
        by = ", ".join(found.batches()[:5])
        super().__init__(f"{len(found.request_ids)} ids were scored already, by {by}")
        self.found = found


@dataclass(frozen=True)
class Found:
    """Ids found in the set, each with the batch that scored it."""

    request_ids: pa.Array
    batch_ids: pa.Array

    def batches(self) -> list[str]:
        return sorted(set(self.batch_ids.to_pylist()))


@dataclass(frozen=True)
class Survey:
    per_batch: dict[str, int]
    problems: list[str]


def id_hashes(ids: pa.Array) -> np.ndarray:
    """Each id's 64-bit siphash of its UTF-8 text (250k ids: 0.05 s)."""
    if not len(ids):
        return np.empty(0, np.uint64)
    texts = ids.to_numpy(zero_copy_only=False).astype(object)
    return pd.util.hash_array(texts, encoding="utf8", hash_key=HASH_KEY, categorize=False)


def lock(conn: Connection) -> None:
    """Hold the set's one lock until ``conn``'s transaction ends: a row written, so SQLite's one
    writer and PostgreSQL's row lock both make the next committer wait."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(id_set_lock).values(id=1, turns=1)
    conn.execute(
        statement.on_conflict_do_update(index_elements=["id"], set_={"turns": id_set_lock.c.turns + 1})
    )


class ScoredIds:
    """The set, over one store (the runs' names) and one archive (merged runs live there)."""

    def __init__(self, store: Store, archive_url: str) -> None:
        self.store = store
        self.merged_url = join(archive_url, "scored-ids")

    def find(self, ids: pa.Array, conn: Connection | None = None) -> Found:
        """Which of these distinct ids a committed batch scored. With ``conn`` (holding the lock),
        as of that transaction; without, as of now: a run a merge removed meanwhile is looked
        for again in the runs that replaced it."""
        ids = pc.drop_null(ids)
        for attempt in range(3):
            urls = self.run_urls(conn)
            try:
                return _find(urls, ids)
            except FileNotFoundError:
                if conn is not None or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def run_urls(self, conn: Connection | None = None) -> list[str]:
        if conn is None:
            with self.store.begin() as own:
                return self.run_urls(own)
        return list(conn.execute(select(id_runs.c.url).order_by(id_runs.c.url)).scalars())

    def add(
        self, conn: Connection, batch_id: str, ids: pa.Array, folder: str, keep_earlier: bool = False
    ) -> int:
        """A committing batch's ids as its run in ``folder``, named in ``conn``'s transaction (the
        commit's): raises ScoredBefore if a committed batch holds some of them, unless
        ``keep_earlier``, when those stay the earlier batch's (a migrated home's old race)."""
        ids = pc.unique(ids.cast(pa.string()))
        lock(conn)
        found = self.find(ids, conn)
        if len(found.request_ids):
            if not keep_earlier:
                raise ScoredBefore(found)
            ids = pc.filter(ids, pc.invert(pc.is_in(ids, value_set=found.request_ids)))
        if not len(ids):
            return 0
        batch = pa.DictionaryArray.from_arrays(pa.array(np.zeros(len(ids), np.int32)), pa.array([batch_id]))
        url = join(folder, RUN_FILE)
        _write_run(url, as_run(ids, batch))
        self.name_run(conn, url, 0, len(ids))
        return len(ids)

    def write_merged(self, run: pa.Table) -> str:
        """A run among the merged ones, not yet named; its url."""
        url = join(self.merged_url, f"run-{uuid.uuid4().hex}.arrow")
        _write_run(url, run)
        return url

    @staticmethod
    def name_run(conn: Connection, url: str, level: int, rows: int) -> None:
        """Make a written run part of the set, in ``conn``'s transaction (which holds the lock)."""
        conn.execute(insert(id_runs).values(url=url, level=level, rows=rows, created_at=datetime.now(UTC)))

    def merge(self) -> int:
        """Merge each level that holds FANOUT runs into one run of the next; the ids rewritten.
        Done after a commit, outside its lock but for the swap: a merge that finds its runs
        merged by another meanwhile drops its own."""
        rewritten = 0
        while (due := self._due()) is not None:
            level, inputs = due
            merged = pa.Table.from_batches([_open(url) for url in inputs])
            url = self.write_merged(merged.unify_dictionaries().combine_chunks())
            with self.store.begin() as conn:
                lock(conn)
                named = set(self.run_urls(conn))
                if not named.issuperset(inputs):
                    remove([url])
                    return rewritten
                conn.execute(delete(id_runs).where(id_runs.c.url.in_(inputs)))
                self.name_run(conn, url, level + 1, len(merged))
                orphans = [u for u in self._merged_files() if u not in named and _older_than(u, _ORPHAN_AGE)]
            remove([*inputs, *orphans])
            rewritten += len(merged)
        return rewritten

    def _due(self) -> tuple[int, list[str]] | None:
        """The lowest level holding FANOUT runs, and those runs."""
        with self.store.begin() as conn:
            rows = conn.execute(select(id_runs.c.url, id_runs.c.level)).all()
        levels: dict[int, list[str]] = {}
        for url, level in rows:
            levels.setdefault(level, []).append(url)
        due = sorted(level for level, urls in levels.items() if len(urls) >= FANOUT)
        return (due[0], sorted(levels[due[0]])) if due else None

    def survey(self) -> Survey:
        """Ids per batch over every run, and what would make a look-up miss (``verify``)."""
        survey = Survey({}, [])
        for url in self.run_urls():
            try:
                run = _open(url)
            except FileNotFoundError:
                survey.problems.append(f"the run {url} is missing: its ids could be scored again")
                continue
            keys = run.column("hash").to_numpy()
            if not bool(np.all(keys[1:] >= keys[:-1])):
                survey.problems.append(f"the run {url} is not in hash order: look-ups in it miss ids")
            batches = run.column("batch_id")
            for pair in pc.value_counts(batches.indices).to_pylist():
                name = batches.dictionary[pair["values"]].as_py()
                survey.per_batch[name] = survey.per_batch.get(name, 0) + pair["counts"]
        return survey

    def _merged_files(self) -> list[str]:
        fs, path = filesystem(self.merged_url)
        if not fs.exists(path):
            return []
        names = (p.rsplit("/", 1)[-1] for p in fs.ls(path, detail=False))
        return [join(self.merged_url, name) for name in names if name.endswith(".arrow")]


def _find(urls: Iterable[str], ids: pa.Array) -> Found:
    ids = ids.cast(pa.large_string())
    hashes = id_hashes(ids)
    order = np.argsort(hashes, kind="stable")
    needles = hashes[order]  # in order: each run's pages are then read once, front to back
    request_ids: list[pa.Array] = []
    batch_ids: list[pa.Array] = []
    for url in urls:
        run = _open(url)
        keys = run.column("hash").to_numpy()
        left = np.searchsorted(keys, needles, "left")
        width = np.searchsorted(keys, needles, "right") - left
        hit = np.flatnonzero(width)
        if not len(hit):
            continue
        # every stored id sharing a needle's hash (one, but for a collision)
        width = width[hit]
        needle = np.repeat(hit, width)
        offset = np.arange(width.sum()) - np.repeat(np.cumsum(width) - width, width)
        position = np.repeat(left[hit], width) + offset
        wanted = ids.take(pa.array(order[needle]))
        same = pc.equal(run.column("request_id").take(pa.array(position)), wanted)
        request_ids.append(pc.filter(wanted, same).cast(pa.string()))
        batch_ids.append(pc.filter(run.column("batch_id").take(pa.array(position)), same).cast(pa.string()))
    return Found(
        pa.chunked_array(request_ids, pa.string()).combine_chunks(),
        pa.chunked_array(batch_ids, pa.string()).combine_chunks(),
    )


def as_run(request_ids: pa.Array | pa.ChunkedArray, batch_ids: pa.Array | pa.ChunkedArray) -> pa.Table:
    """Distinct ids with their batches (dictionary encoded) as a run: hashed, in hash order."""
    request_ids = request_ids.cast(pa.large_string())
    if isinstance(request_ids, pa.ChunkedArray):
        request_ids = request_ids.combine_chunks()
    if not pa.types.is_dictionary(batch_ids.type):
        batch_ids = pc.dictionary_encode(batch_ids)
    return pa.table([id_hashes(request_ids), request_ids, batch_ids], schema=RUN_SCHEMA)


def _in_hash_order(run: pa.Table) -> pa.Table:
    """Sorted stably: the concatenated runs of a merge are each in order already, which the sort
    takes advantage of."""
    return run.take(pa.array(np.argsort(run.column("hash").to_numpy(), kind="stable")))


def _write_run(url: str, run: pa.Table) -> None:
    """A run in hash order as one record batch, uncompressed, written under a temporary name then
    renamed: a local run is read by mapping it, not by copying it."""
    run = _in_hash_order(run.combine_chunks())
    fs, path = filesystem(url)
    fs.makedirs(fs._parent(path), exist_ok=True)
    with fs.open(f"{path}.tmp", "wb") as handle, pa.ipc.new_file(handle, RUN_SCHEMA) as writer:
        writer.write_table(run, max_chunksize=max(len(run), 1))
    fs.mv(f"{path}.tmp", path)


def _open(url: str) -> pa.RecordBatch:
    """A run's one record batch: mapped from a local file (its pages read as searched), read
    whole from any other location."""
    fs, path = filesystem(url)
    if isinstance(fs, LocalFileSystem):
        source = pa.memory_map(path)
    else:
        with fs.open(path, "rb") as handle:
            source = pa.py_buffer(handle.read())
    reader = pa.ipc.open_file(source)
    return reader.get_batch(0) if reader.num_record_batches else pa.RecordBatch.from_pylist([], RUN_SCHEMA)


def _older_than(url: str, age: timedelta) -> bool:
    fs, path = filesystem(url)
    modified = fs.modified(path)
    modified = modified if modified.tzinfo else modified.replace(tzinfo=UTC)
    return datetime.now(UTC) - modified > age


def remove(urls: Iterable[str]) -> None:
    for url in urls:
        fs, path = filesystem(url)
        if fs.exists(path):
            fs.rm(path)
