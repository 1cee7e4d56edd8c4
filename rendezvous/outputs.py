"""What a batch leaves behind for people and systems: the response, the rejects, the dev copy.

Everything is written to a staging area first and published at commit, so an outbox or dev
reader never sees half a batch, and a re-run after a crash overwrites instead of duplicating.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from rendezvous.batchfiles import filesystem, join
from rendezvous.scorelog.files import MANIFEST_KEY, AttemptScores

EXTENSIONS = {"csv": "csv", "parquet": "parquet", "jsonl": "jsonl"}
# What a spreadsheet runs as a formula: these first, after any leading white space (a cell
# " =1+1" is a formula to Excel), in ASCII or fullwidth form; and a tab or CR first (OWASP).
_FORMULA_START = ("=", "+", "-", "@", "\uff1d", "\uff0b", "\uff0d", "\uff20")
_CONTROL_START = ("\t", "\r", "\n")
NAME_MAX = 255  # bytes in one file name on the common local file systems (ext4, xfs, apfs)


def defuse_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Text cells that a spreadsheet would run as formulas get a leading apostrophe (OWASP).

    For the rejects file only, which people open: a response is written as computed (an id
    ``-17`` stays ``-17``), since the systems that read it are not spreadsheets."""
    out = frame.copy()
    for name in out.columns:
        column = out[name]
        if pd.api.types.is_string_dtype(column) or column.dtype == object:
            text = column.astype("str")
            starts = text.str.lstrip().str.startswith(_FORMULA_START) | text.str.startswith(_CONTROL_START)
            risky = column.notna() & starts.fillna(False)
            if risky.any():
                out[name] = column.where(~risky, "'" + text)
    return out


def write_table(frame: pd.DataFrame, url: str, fmt: str) -> None:
    """Write one file atomically (temporary name, then rename)."""
    fs, path = filesystem(url)
    fs.makedirs(fs._parent(path), exist_ok=True)
    tmp = f"{path}.tmp"
    with fs.open(tmp, "wb") as handle:
        _write(frame, handle, fmt)
    fs.mv(tmp, path)


def _write(frame: pd.DataFrame, handle: object, fmt: str) -> None:
    if fmt == "parquet":
        pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), handle)
    elif fmt == "jsonl":
        handle.write(_json_lines(frame).encode("utf-8"))  # type: ignore[attr-defined]
    else:
        pacsv.write_csv(pa.Table.from_pandas(frame, preserve_index=False), handle)


def _json_lines(frame: pd.DataFrame) -> str:
    """One JSON object per row, floats exact (pandas' ``to_json`` keeps 15 digits at most, so a
    JSON Lines response would differ from the CSV and Parquet ones), missing values as null."""
    records = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return "".join(json.dumps(r, default=_json_value, ensure_ascii=False) + "\n" for r in records)


def _json_value(value: object) -> str:
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def concatenate(parts: list[str], target: str, fmt: str) -> None:
    """Join part files (same schema, written by ``write_table``) into one file, atomically."""
    fs, path = filesystem(target)
    fs.makedirs(fs._parent(path), exist_ok=True)
    tmp = f"{path}.tmp"
    with fs.open(tmp, "wb") as out:
        if fmt == "parquet":
            writer = None
            for part in parts:
                with fs.open(part, "rb") as handle:
                    table = pq.read_table(handle)
                writer = writer or pq.ParquetWriter(out, table.schema)
                writer.write_table(table)
            if writer:
                writer.close()
        else:
            for index, part in enumerate(parts):
                with fs.open(part, "rb") as handle:
                    if fmt == "csv" and index > 0:
                        handle.readline()
                    while block := handle.read(1 << 22):
                        out.write(block)
    fs.mv(tmp, path)


def response_url(outbox_url: str, batch_id: str, fmt: str) -> str:
    """Where a batch's response is published (in the format it arrived in; CSV if unknown)."""
    return join(outbox_url, batch_id, f"response.{EXTENSIONS.get(fmt, 'csv')}")


class BatchOutputs:
    """Staged outputs of one batch: response parts, dev-copy parts and this attempt's score
    files, published at commit (the score files by the ledger listing them)."""

    def __init__(self, outbox_url: str, dev_url: str, batch_id: str, fmt: str, scores: AttemptScores) -> None:
        self.batch_id = batch_id
        self.scores = scores
        self.fmt = fmt if fmt in EXTENSIONS else "csv"
        self.outbox_url = outbox_url
        self.dev_url = dev_url
        self.staging = join(outbox_url, ".staging", batch_id)
        self.dev_staging = join(dev_url, "_staging", batch_id)
        self.final_dir = join(outbox_url, batch_id)

    @property
    def response_url(self) -> str:
        return response_url(self.outbox_url, self.batch_id, self.fmt)

    @property
    def rejects_url(self) -> str:
        return join(self.final_dir, f"rejects.{EXTENSIONS[self.fmt]}")

    def reset(self) -> None:
        """Forget what an earlier attempt staged or published for this batch."""
        self.scores.reset()
        for url in (self.staging, self.dev_staging, self.final_dir):
            fs, path = filesystem(url)
            if fs.exists(path):
                fs.rm(path, recursive=True)
        fs, dev_root = filesystem(self.dev_url)
        if fs.exists(dev_root):
            for stale in fs.glob(f"{dev_root}/date=*/{self.batch_id}-*.parquet"):
                fs.rm(stale)

    def stage_response(self, chunk: int, frame: pd.DataFrame) -> None:
        write_table(frame, join(self.staging, f"response-{chunk:06d}.{self.fmt}"), self.fmt)

    def stage_dev_copy(self, chunk: int, frame: pd.DataFrame, dates: pd.Series) -> None:
        """Rows for the data scientists, partitioned by date (hive style: date=YYYY-MM-DD).

        One ``write_table`` per date present (usually one or two): 3x faster than pyarrow's
        generic ``write_dataset`` partitioner at 250k rows.
        """
        table = pa.Table.from_pandas(frame, preserve_index=False)
        day = pa.array(dates, pa.string(), from_pandas=True)
        fs, root = filesystem(self.dev_staging)
        for value in pc.unique(day).to_pylist():
            part = f"{root}/date={value}/{self.batch_id}-{chunk:06d}.parquet"
            fs.makedirs(fs._parent(part), exist_ok=True)
            with fs.open(part, "wb") as handle:
                pq.write_table(table.filter(pc.equal(day, value)), handle)

    def publish_response(self) -> str | None:
        """Join the staged response parts into the response file, then drop them (so that one
        published before the commit, at the deadline, is not written again); idempotent."""
        fs, staging = filesystem(self.staging)
        parts = sorted(fs.glob(f"{staging}/response-*")) if fs.exists(staging) else []
        if parts:
            concatenate(parts, self.response_url, self.fmt)
            for part in parts:
                fs.rm(part)
        response_fs, response = filesystem(self.response_url)
        return self.response_url if response_fs.exists(response) else None

    def publish(self, rejects: pd.DataFrame) -> dict[str, object]:
        """Move staged outputs into place; idempotent, so a crash here is repaired by a re-run."""
        fs, staging = filesystem(self.staging)
        outputs: dict[str, object] = {}
        if self.scores.names():
            outputs[MANIFEST_KEY] = self.scores.manifest()
        response = self.publish_response()
        if response:
            outputs["response"] = response
        if not rejects.empty:
            shown = defuse_formulas(rejects) if self.fmt == "csv" else rejects  # people open it
            write_table(shown, self.rejects_url, self.fmt)
            outputs["rejects"] = self.rejects_url
        dev_fs, dev_staging = filesystem(self.dev_staging)
        if dev_fs.exists(dev_staging):
            _, dev_root = filesystem(self.dev_url)
            for part in dev_fs.find(dev_staging):
                relative = part[len(dev_staging) :].lstrip("/")
                dev_fs.makedirs(dev_fs._parent(f"{dev_root}/{relative}"), exist_ok=True)
                dev_fs.mv(part, f"{dev_root}/{relative}")
            dev_fs.rm(dev_staging, recursive=True)
            outputs["dev"] = self.dev_url
        if fs.exists(staging):
            fs.rm(staging, recursive=True)
        return outputs


def move_source(source_url: str, target_dir: str, note: str | None = None) -> bool:
    """Move a processed source file out of the inbox, its note (why it was rejected, or whose
    duplicate it is) written first so that a crash in between leaves both redone by the next run.

    False when the file was no longer there: another run moved it, and its note is that run's.
    """
    fs, path = filesystem(source_url)
    if not fs.exists(path):
        return False
    name = path.rsplit("/", 1)[-1]
    tfs, tpath = filesystem(join(target_dir, name))
    tfs.makedirs(tfs._parent(tpath), exist_ok=True)
    if note:
        with tfs.open(join(target_dir, note_name(name)), "w", encoding="utf-8") as handle:
            handle.write(note.rstrip() + "\n")
    fs.mv(path, tpath)
    return True


def note_name(name: str) -> str:
    """``<name>.reason.txt``, shortened (with a hash of the name) where the file system's 255-byte
    name limit would refuse it: a long inbox name must not make its rejection unrecordable."""
    note = f"{name}.reason.txt"
    raw = name.encode("utf-8", "surrogateescape")  # names that are not UTF-8 arrive escaped
    if len(raw) + len(".reason.txt") <= NAME_MAX:
        return note
    keep = raw[: NAME_MAX - 40].decode("utf-8", "ignore")
    return f"{keep}~{hashlib.sha256(raw).hexdigest()[:12]}.reason.txt"


def collect(frames: Iterable[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    frames = [f for f in frames if not f.empty]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
