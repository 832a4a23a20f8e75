"""Writing files so that a killed process never leaves a half-written file under its final
name: write to a temporary name in the same folder, fsync, rename (atomic on POSIX).

>>> with atomic_path("out.parquet") as tmp:     # doctest: +SKIP
...     pq.write_table(table, tmp)
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

#: Temporary files are named ``.NAME.tmp-PID``: hidden, and recognisable as leftovers.
TMP_GLOB = ".*.tmp-*"


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block succeeds, the file written there
    is fsynced and renamed to ``path``; when it fails, it is removed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def write_text(path: str | os.PathLike, text: str) -> None:
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike, obj: object) -> None:
    write_text(path, json.dumps(obj, indent=1) + "\n")
