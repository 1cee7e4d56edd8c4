"""The ids scored across batches (id scope "global"): immutable runs of their 64-bit hashes in
order, beside each id's text and batch, as Arrow files named by the store's ``id_runs`` table.

Why not a SQL table keyed by the id, as it was: with random ids (UUIDs) each batch's inserts touch
nearly every page of that index, so a commit grew with the history (1M UUIDs: 3.5 s into the
first batch's table, 11.8 s into the twentieth's, on SQLite). A run is written once, in hash
order, and never changed. A look-up sorts the batch's hashes once and binary-searches each run;
runs merge in tiers of ``FANOUT``, so a look-up visits few runs and an id is rewritten about
log_FANOUT(history) times. A run is a sequence of record batches over ascending hash ranges, so a
merge holds one range of its inputs at a time (``SLICE_ROWS``), never the whole history.

"Scored once" is the commit's rule: holding ``id_set_lock`` (one committer at a time, on SQLite
and PostgreSQL alike) it looks its ids up in every run and adds its own run only if none is
there. A hash matches only with the same text: two ids sharing a 64-bit hash stay two ids.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from fsspec.implementations.local import LocalFileSystem
from sqlalchemy import Connection, delete, insert, select

from rendezvous.batchfiles import filesystem, join
from rendezvous.scorelog import read as scorelog
from rendezvous.store import Store
from rendezvous.store.schema import id_runs, id_set_lock

T = TypeVar("T")
HASH_KEY = "rendezvous:ids:1"  # siphash's 16-byte key: another key is another set of runs
FANOUT = 8  # runs of one level merged into one of the next
RUN_FILE = "scored-ids.arrow"  # a batch's own run, in its attempt's score folder
SLICE_ROWS = 1_000_000  # ids per record batch of a merged run: what a merge holds at once
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


class MissingRun(FileNotFoundError):
    """A run the store names is gone: its ids could be scored again, so nothing is scored."""

    def __init__(self, cause: OSError) -> None:
        super().__init__(
            f"a run of the scored-id set is missing ({cause}): the ids it held could be scored again, "
            "so no batch is scored until it is restored; `rendezvous verify` names every missing run"
        )


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
    if conn.dialect.name == "postgresql":  # loaded only there: 40 ms of every command on SQLite
        from sqlalchemy.dialects.postgresql import insert as upsert
    else:
        from sqlalchemy.dialects.sqlite import insert as upsert
    statement = upsert(id_set_lock).values(id=1, turns=1)
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
        as of that transaction; without, as of now."""
        return self._find(_Keyed.of(pc.drop_null(ids)), conn)

    def _find(self, keyed: _Keyed, conn: Connection | None = None) -> Found:
        return self._over_runs(lambda urls: _find(urls, keyed), conn)

    def batches(self) -> set[str]:
        """The batches with ids in the set: the runs' dictionaries, not their rows."""
        return self._over_runs(lambda urls: {name for url in urls for name in _batch_names(url)})

    def batches_of(self, ids: pa.Array | pa.ChunkedArray) -> list[str] | None:
        """The batches that scored these ids, for a read to scan only their score files; None
        (scan them all) unless the set holds every committed batch, as it does not when some were
        scored under id scope "batch". With random ids no file's id range can be skipped: the
        scan of 20M live scores was 60% of a 14 s ``labels add``."""
        with self.store.begin() as conn:
            committed = set(scorelog.manifests(conn))
        if not committed <= self.batches():
            return None
        return self.find(pc.unique(ids)).batches()

    def _over_runs(self, read: Callable[[list[str]], T], conn: Connection | None = None) -> T:
        """``read`` over the runs named now; a run a merge removed meanwhile is read again in
        the runs that replaced it (under the lock, with ``conn``, none is removed)."""
        for attempt in range(3):
            try:
                return read(self.run_urls(conn))
            except FileNotFoundError as exc:
                if conn is not None or attempt == 2:
                    raise MissingRun(exc) from exc
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
        keyed = _Keyed.of(ids)  # hashed and sorted once, outside the lock
        lock(conn)
        found = self._find(keyed, conn)
        if len(found.request_ids):
            if not keep_earlier:
                raise ScoredBefore(found)
            earlier = pc.is_in(keyed.ids, value_set=found.request_ids)
            keyed = _Keyed.of(pc.filter(keyed.ids, pc.invert(earlier)))
        rows = len(keyed.ids)
        if not rows:
            return 0
        batch = pa.DictionaryArray.from_arrays(pa.array(np.zeros(rows, np.int32)), pa.array([batch_id]))
        url = join(folder, RUN_FILE)
        _write_run(url, [keyed.run(batch)])
        self.name_run(conn, url, 0, rows)
        return rows

    def write_merged(self, batches: Iterable[pa.RecordBatch]) -> str:
        """Record batches in ascending hash order as a run among the merged ones, not yet named."""
        url = join(self.merged_url, f"run-{uuid.uuid4().hex}.arrow")
        _write_run(url, batches)
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
            try:
                parts = [part for url in inputs for part in _open(url)]
            except FileNotFoundError:  # another process merged them meanwhile
                return rewritten
            url = self.write_merged(_merged(parts))
            rows = sum(part.num_rows for part in parts)
            with self.store.begin() as conn:
                lock(conn)
                named = set(self.run_urls(conn))
                if not named.issuperset(inputs):
                    remove([url])
                    return rewritten
                conn.execute(delete(id_runs).where(id_runs.c.url.in_(inputs)))
                self.name_run(conn, url, level + 1, rows)
                orphans = [u for u in self._merged_files() if u not in named and _older_than(u, _ORPHAN_AGE)]
            remove([*inputs, *orphans])
            rewritten += rows
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
                parts = _open(url)
            except FileNotFoundError:
                survey.problems.append(f"the run {url} is missing: its ids could be scored again")
                continue
            keys = np.concatenate([np.empty(0, np.uint64), *(p.column("hash").to_numpy() for p in parts)])
            if bool(np.any(keys[1:] < keys[:-1])):
                survey.problems.append(f"the run {url} is not in hash order: look-ups in it miss ids")
            for part in parts:
                batches = part.column("batch_id")
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


@dataclass(frozen=True)
class _Keyed:
    """Distinct ids with their hashes and the order that sorts them."""

    ids: pa.Array
    hashes: np.ndarray
    order: np.ndarray

    @classmethod
    def of(cls, ids: pa.Array | pa.ChunkedArray) -> _Keyed:
        ids = ids.cast(pa.large_string())
        ids = ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids
        hashes = id_hashes(ids)
        return cls(ids, hashes, np.argsort(hashes, kind="stable"))

    def refuse_repeats(self) -> None:
        """An id given twice would be two entries of one id: a caller's bug, named here. Only ids
        whose hash is shared are compared as text (none, but for a repeat or a collision)."""
        ordered = self.hashes[self.order]
        shared = np.flatnonzero(ordered[1:] == ordered[:-1])
        if not len(shared):
            return
        candidates = self.ids.take(pa.array(self.order[np.union1d(shared, shared + 1)]))
        counts = pc.value_counts(candidates)
        repeated = pc.filter(counts.field("values"), pc.greater(counts.field("counts"), 1))
        if len(repeated):
            raise ValueError(f"request id {repeated[0].as_py()!r} is given twice to the scored-id set")

    def run(self, batch_ids: pa.DictionaryArray) -> pa.RecordBatch:
        """The ids (with their batches, in the ids' order) as a run's rows, in hash order."""
        self.refuse_repeats()
        order = pa.array(self.order)
        columns = [pa.array(self.hashes[self.order]), self.ids.take(order), batch_ids.take(order)]
        return pa.RecordBatch.from_arrays(columns, schema=RUN_SCHEMA)


def _find(urls: Iterable[str], keyed: _Keyed) -> Found:
    needles = keyed.hashes[keyed.order]  # in order: each run's pages are then read once, front to back
    request_ids: list[pa.Array] = []
    batch_ids: list[pa.Array] = []
    for part in (part for url in urls for part in _open(url)):
        keys = part.column("hash").to_numpy()
        if not len(keys):
            continue
        first, last = np.searchsorted(needles, keys[0], "left"), np.searchsorted(needles, keys[-1], "right")
        window = needles[first:last]  # the needles within the part's hash range
        hit = _shared(window, keys)
        if not len(hit):
            continue
        # every stored id sharing a needle's hash (one, but for a collision)
        left = np.searchsorted(keys, window[hit], "left")
        width = np.searchsorted(keys, window[hit], "right") - left
        needle = first + np.repeat(hit, width)
        position = pa.array(_spans(left, width))
        wanted = keyed.ids.take(pa.array(keyed.order[needle]))
        same = pc.equal(part.column("request_id").take(position), wanted)
        request_ids.append(pc.filter(wanted, same).cast(pa.string()))
        batch_ids.append(pc.filter(part.column("batch_id").take(position), same).cast(pa.string()))
    return Found(
        pa.chunked_array(request_ids, pa.string()).combine_chunks(),
        pa.chunked_array(batch_ids, pa.string()).combine_chunks(),
    )


def _shared(window: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """The positions in ``window`` whose hash ``keys`` holds too (both in order). The shorter is
    searched for in the longer, once, and only the hashes found are searched for again: two
    searches of 1M needles in each run had been most of a commit's look-up (1.0 of 1.5 s
    over eleven runs)."""
    if len(keys) >= len(window):
        at = np.minimum(np.searchsorted(keys, window, "left"), len(keys) - 1)
        return np.flatnonzero(keys[at] == window)
    at = np.searchsorted(window, keys, "left")
    inside = at < len(window)
    both = np.unique(keys[inside][window[at[inside]] == keys[inside]])
    # every needle of such a hash: a needle given twice is two ids that share it
    start = np.searchsorted(window, both, "left")
    return _spans(start, np.searchsorted(window, both, "right") - start)


def _spans(starts: np.ndarray, widths: np.ndarray) -> np.ndarray:
    """The positions start, start + 1, ... start + width - 1 of each span, one after the other."""
    offsets = np.arange(widths.sum()) - np.repeat(np.cumsum(widths) - widths, widths)
    return np.repeat(starts, widths) + offsets


def as_run(request_ids: pa.Array | pa.ChunkedArray, batch_ids: pa.Array | pa.ChunkedArray) -> pa.RecordBatch:
    """Distinct ids with their batches as a run's rows, in hash order."""
    batch_ids = batch_ids.combine_chunks() if isinstance(batch_ids, pa.ChunkedArray) else batch_ids
    return _Keyed.of(request_ids).run(pc.dictionary_encode(batch_ids))


def _in_hash_order(rows: pa.RecordBatch) -> pa.RecordBatch:
    """Sorted stably: a merge's pieces are each in order already, which the sort takes advantage of."""
    return rows.take(pa.array(np.argsort(rows.column("hash").to_numpy(), kind="stable")))


def _merged(parts: list[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """The runs' record batches merged into ascending hash ranges of about SLICE_ROWS ids each:
    one range of every input at a time, with the batches' names in one dictionary."""
    names = pc.unique(pa.chunked_array([p.column("batch_id").dictionary for p in parts], pa.string()))
    remaps = [pc.index_in(p.column("batch_id").dictionary, value_set=names).cast(pa.int32()) for p in parts]
    slices = max(1, -(-sum(p.num_rows for p in parts) // SLICE_ROWS))
    bounds = [(k << 64) // slices for k in range(slices)]
    for k, low in enumerate(bounds):
        pieces = []
        for part, remap in zip(parts, remaps, strict=True):
            keys = part.column("hash").to_numpy()
            start = int(np.searchsorted(keys, np.uint64(low)))
            stop = len(keys) if k == slices - 1 else int(np.searchsorted(keys, np.uint64(bounds[k + 1])))
            piece = part.slice(start, stop - start)
            batch = pa.DictionaryArray.from_arrays(remap.take(piece.column("batch_id").indices), names)
            pieces.append(pa.RecordBatch.from_arrays([*piece.columns[:2], batch], schema=RUN_SCHEMA))
        yield _in_hash_order(pa.concat_batches(pieces))


def _write_run(url: str, batches: Iterable[pa.RecordBatch]) -> None:
    """Record batches in ascending hash order, uncompressed, written under a temporary name then
    renamed: a local run is read by mapping it, not by copying it."""
    fs, path = filesystem(url)
    fs.makedirs(fs._parent(path), exist_ok=True)
    with fs.open(f"{path}.tmp", "wb") as handle, pa.ipc.new_file(handle, RUN_SCHEMA) as writer:
        for batch in batches:
            writer.write_batch(batch)
    fs.mv(f"{path}.tmp", path)


def _open(url: str) -> list[pa.RecordBatch]:
    """A run's record batches: mapped from a local file (its pages read as searched), read whole
    from any other location."""
    fs, path = filesystem(url)
    if isinstance(fs, LocalFileSystem):
        source = pa.memory_map(path)
    else:
        with fs.open(path, "rb") as handle:
            source = pa.py_buffer(handle.read())
    reader = pa.ipc.open_file(source)
    return [reader.get_batch(i) for i in range(reader.num_record_batches)]


def _batch_names(url: str) -> set[str]:
    return {name for part in _open(url) for name in part.column("batch_id").dictionary.to_pylist()}


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
