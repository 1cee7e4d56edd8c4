"""Compressed batch files (``x.csv.gz``, ``x.jsonl.zst``, ``x.csv.bz2``), read as their inner format.

Decompression is streamed (Arrow's codecs), never a whole file in memory, and counted: the
decompressed bytes are held to the same limit as a plain file's, so a few kilobytes that expand
to gigabytes (a "zip bomb") are refused with the limit named. Parquet compresses its pages
itself; a compressed Parquet file is not accepted.
"""

from __future__ import annotations

import io
from typing import Any

import fsspec
import pyarrow as pa

CODECS = {".gz": "gzip", ".zst": "zstd", ".bz2": "bz2"}


class TooLarge(ValueError):
    """More decompressed bytes than the limit allows."""


def split_suffix(name: str) -> tuple[str, str | None]:
    """(the name without its compression suffix, Arrow's codec name or None)."""
    lowered = name.lower()
    for suffix, codec in CODECS.items():
        if lowered.endswith(suffix):
            return name[: -len(suffix)], codec
    return name, None


class Decompressing(io.RawIOBase):
    """A compressed file as a stream of its decompressed bytes, refused past ``limit`` of them.

    Readers look at the start of a file and then read it again: ``seek(0)`` starts over."""

    def __init__(
        self, fs: fsspec.AbstractFileSystem, path: str, codec: str, limit: int | None, setting: str
    ) -> None:
        super().__init__()
        self._fs, self._path, self._codec = fs, path, codec
        self._limit, self._setting = limit, setting
        self._raw: Any = None
        self._open()

    def _open(self) -> None:
        if self._raw is not None:
            self._stream.close()
            self._raw.close()
        self._raw = self._fs.open(self._path, "rb")
        self._stream = pa.CompressedInputStream(pa.PythonFile(self._raw, mode="r"), self._codec)
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        try:
            data = self._stream.read(len(view))
        except OSError as exc:  # Arrow's codec errors: truncated or not this codec at all
            raise ValueError(f"not valid {self._codec} data: {exc}") from exc
        self._position += len(data)
        if self._limit is not None and self._position > self._limit:
            raise TooLarge(
                f"decompressed to more than {self._limit:,} bytes, above {self._setting} "
                f"({self._limit:,}; RENDEZVOUS_{self._setting.upper()})"
            )
        view[: len(data)] = data
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_CUR and offset == 0:
            return self._position
        if whence != io.SEEK_SET or offset != 0:
            raise io.UnsupportedOperation("a compressed stream can only start over")
        self._open()
        return 0

    def tell(self) -> int:
        return self._position

    def close(self) -> None:
        if self._raw is not None and not self.closed:
            self._stream.close()
            self._raw.close()
        super().close()
