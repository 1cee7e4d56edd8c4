"""Small files that cost a lot once read: the memory cases of the hostile corpus (issue 17).

Each ``bomb_*`` writes its file into a folder and returns (name, the reason's words): the batch
must be rejected for a reason naming the limit it breaks, without the memory it would take.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from corpus import clean

MiB = 1 << 20


def bomb_parquet_dictionary(folder: Path) -> tuple[str, str]:
    """3.9 KB on disk: one 4 MiB string, dictionary-encoded, in 400 rows (1.6 GiB decoded)."""
    frame = clean(400, 301).astype(str)
    frame["purpose"] = "A" * (4 * MiB)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(table, folder / "dictionary-bomb.parquet", compression="zstd", use_dictionary=True)
    return "dictionary-bomb.parquet", "max_cell_bytes"


def bomb_jsonl_one_line(folder: Path, megabytes: int = 200) -> tuple[str, str]:
    """One request whose id is ``megabytes`` MB long, on one line."""
    record = clean(1, 302).iloc[0].to_dict()
    head = json.dumps({**record, "request_id": ""})[:-1]
    with (folder / "one-line.jsonl").open("w") as out:
        out.write(head[: head.index('"request_id": ""') + len('"request_id": "')])
        block = "9" * MiB
        for _ in range(megabytes):
            out.write(block)
        out.write(head[head.index('"request_id": ""') + len('"request_id": "') :] + "}\n")
    return "one-line.jsonl", "max_row_bytes"


def bomb_csv_long_ids(folder: Path, rows: int = 50_000, id_bytes: int = 4096) -> tuple[str, str]:
    """``rows`` requests whose ids are each ``id_bytes`` long: every one too long to store."""
    frame = clean(rows, 303)
    frame["request_id"] = [f"{i:08d}".ljust(id_bytes, "x") for i in range(rows)]
    frame.to_csv(folder / "long-ids.csv", index=False)
    return "long-ids.csv", "max_invalid_share"


BOMBS = [bomb_parquet_dictionary, bomb_jsonl_one_line, bomb_csv_long_ids]
