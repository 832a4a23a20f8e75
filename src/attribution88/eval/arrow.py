"""Arrow to numpy without pandas: pyarrow's ``to_numpy`` imports pandas when it is installed,
which `attribution88 score` avoids to start fast. Columns without nulls only."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pyarrow as pa

_DTYPES = {"double": np.float64, "float": np.float32, "int64": np.int64, "int32": np.int32,
           "int16": np.int16, "int8": np.int8, "uint64": np.uint64, "uint32": np.uint32,
           "uint16": np.uint16, "uint8": np.uint8}


def _array(arr: pa.Array) -> np.ndarray:
    if arr.null_count:
        raise ValueError("to_numpy: column has nulls")
    kind = str(arr.type)
    data = arr.buffers()[1]
    if kind == "bool":
        if data is None:
            return np.zeros(len(arr), dtype=bool)
        bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8), bitorder="little")
        return bits[arr.offset:arr.offset + len(arr)].astype(bool)
    if kind not in _DTYPES:
        raise TypeError(f"to_numpy: unsupported arrow type {kind}")
    if data is None:
        return np.zeros(len(arr), dtype=_DTYPES[kind])
    return np.frombuffer(data, dtype=_DTYPES[kind])[arr.offset:arr.offset + len(arr)]


def to_numpy(column: pa.ChunkedArray | pa.Array, out: np.ndarray | None = None) -> np.ndarray:
    """The values of a numeric or boolean arrow column without nulls as a numpy array (a
    read-only view when possible), or written into ``out`` (1-d, of the column's length)."""
    chunks = column.chunks if hasattr(column, "chunks") else [column]
    if out is None:
        if len(chunks) == 1:
            return _array(chunks[0])
        if not chunks:
            return np.array([])
        return np.concatenate([_array(c) for c in chunks])
    start = 0
    for c in chunks:
        out[start:start + len(c)] = _array(c)
        start += len(c)
    return out


def int64_array(values: np.ndarray) -> pa.Array:
    """An arrow int64 array over a numpy array's memory (``pa.array`` would import pandas)."""
    import pyarrow as pa

    values = np.ascontiguousarray(values, dtype=np.int64)
    return pa.Array.from_buffers(pa.int64(), len(values), [None, pa.py_buffer(values)])
