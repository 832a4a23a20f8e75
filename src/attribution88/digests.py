"""sha256 of a file's bytes: the one helper every file hash in the package uses.

Read in 1 MiB blocks so a shard or a checkpoint of any size hashes in constant memory.
(A submission is hashed while it is parsed, in `eval.submission`, so its bytes are read once.)"""
from __future__ import annotations

import hashlib
import os

_BLOCK = 1 << 20


def file_sha256(path: str | os.PathLike) -> str:
    """The hex sha256 of the bytes of the file at ``path``."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(_BLOCK):
            h.update(block)
    return h.hexdigest()
