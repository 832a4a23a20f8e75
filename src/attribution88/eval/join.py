"""Matching a submission's rows to the truth's images by id.

The submission must hold every id of the split exactly once and nothing else. Matching is a
sort-merge on 64-bit hashes of the ids (vectorised over the arrow string buffers), verified
by comparing the matched id strings exactly; when the hashes cannot decide (a collision of
their sorted prefixes, ~1% of million-row runs, or unusual id columns) an exact sort-merge on
the strings takes over. Files in the truth's own order take a shortcut.

When the ids do not match, the error names the first problem found, in this order: duplicate
ids, ids not in the split, ids missing.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

import numpy as np

from ..errors import DatasetFormatError, SubmissionError
from .arrow import int64_array, to_numpy
from .submission import SHOW

if TYPE_CHECKING:
    import pyarrow as pa

    from .truth import Truth

_MAX_HASHED_LENGTH = 256  # longer ids (never valid ones) go to the exact path
_MASKS = np.array([0] + [(1 << (8 * r)) - 1 for r in range(1, 8)] + [(1 << 64) - 1], dtype=np.uint64)
_K1 = np.uint64(0x9E3779B97F4A7C15)
_K2 = np.uint64(0xFF51AFD7ED558CCD)


def hash_strings(arr: pa.Array) -> np.ndarray | None:
    """A 64-bit hash of each string of an arrow string array (uint64 (n,)), read 8 bytes at a
    time straight from its buffers; None for arrays this does not handle (other types, nulls,
    very long strings). Not cryptographic: matches are always verified on the strings."""
    import pyarrow as pa

    if arr.null_count or len(arr) == 0:
        return None
    if arr.type == pa.string():
        offset_type = np.int32
    elif arr.type == pa.large_string():
        offset_type = np.int64
    else:
        return None
    buffers = arr.buffers()
    offsets = np.frombuffer(buffers[1], dtype=offset_type)[arr.offset:arr.offset + len(arr) + 1]
    offsets = offsets.astype(np.int64)
    lengths = np.diff(offsets)
    if lengths.max() > _MAX_HASHED_LENGTH:
        return None
    data = np.frombuffer(buffers[2], dtype=np.uint8) if buffers[2] is not None else np.zeros(0, np.uint8)
    end = int(offsets[-1])
    padded = np.zeros(end + 8, dtype=np.uint8)
    padded[:end] = data[:end]
    # words[i] = the 8 bytes starting at byte i (little-endian), an unaligned strided view
    words = np.ndarray(shape=(end + 1,), dtype="<u8", buffer=padded, strides=(1,))
    start = offsets[:-1]
    h = lengths.astype(np.uint64) * _K1
    for k in range(0, int(lengths.max()), 8):
        w = words[np.minimum(start + k, end)]
        w &= _MASKS[np.minimum(np.maximum(lengths - k, 0), 8)]  # only the string's own bytes
        h ^= w
        h *= _K2
        h ^= h >> np.uint64(33)
    return h


def _sorted_by_hash(h: np.ndarray, bits: int) -> np.ndarray:
    """Keys (hash prefix | row) sorted: one fast sort of uint64 instead of an argsort."""
    low = np.uint64((1 << bits) - 1)
    return np.sort((h & ~low) | np.arange(len(h), dtype=np.uint64))


def match_ids(sub_ids: pa.Array, truth_ids: pa.Array, label: str = "submission",
              where: str = "the split") -> np.ndarray | None:
    """For each submission row, the truth row with the same id: int64 (n,), or None when the
    submission lists the ids in the truth's order. Raises `SubmissionError` when the two sets
    of ids differ or the submission repeats an id."""
    import pyarrow.compute as pc

    n = len(truth_ids)
    if len(sub_ids) == n and pc.all(pc.equal(sub_ids, truth_ids)).as_py():
        return None
    if len(sub_ids) == n:
        hs, ht = hash_strings(sub_ids), hash_strings(truth_ids)
        if hs is not None and ht is not None:
            bits = max(1, (n - 1).bit_length())
            ks, kt = _sorted_by_hash(hs, bits), _sorted_by_hash(ht, bits)
            low = np.uint64((1 << bits) - 1)
            if np.array_equal(ks & ~low, kt & ~low):
                t_rows = np.empty(n, dtype=np.int64)
                t_rows[(ks & low).astype(np.int64)] = (kt & low).astype(np.int64)
                if pc.all(pc.equal(sub_ids, truth_ids.take(int64_array(t_rows)))).as_py():
                    return t_rows
            # different hash multisets: the ids differ (diagnosed below); same multisets but a
            # failed check: colliding prefixes, solved by the exact path
    return _exact(sub_ids, truth_ids, label, where)


def _exact(sub_ids, truth_ids, label: str, where: str) -> np.ndarray:
    import pyarrow.compute as pc

    t_order = pc.array_sort_indices(truth_ids)
    s_order = pc.array_sort_indices(sub_ids)
    t_sorted = truth_ids.take(t_order)
    s_sorted = sub_ids.take(s_order)
    if len(sub_ids) == len(truth_ids) and pc.all(pc.equal(s_sorted, t_sorted)).as_py():
        t_rows = np.empty(len(truth_ids), dtype=np.int64)
        t_rows[to_numpy(s_order)] = to_numpy(t_order)
        return t_rows
    _diagnose(sub_ids, truth_ids, s_sorted, s_order, t_sorted, label, where)
    raise AssertionError("unreachable: the id sets differ but no difference was found")


def _rows(positions: np.ndarray, ids: pa.Array) -> str:
    return ", ".join(f"{ids[int(p)].as_py()!r} (data row {int(p) + 1})" for p in positions[:SHOW])


def _diagnose(sub_ids, truth_ids, s_sorted, s_order, t_sorted, label: str, where: str) -> None:
    import pyarrow.compute as pc

    if len(t_sorted) > 1 and pc.any(pc.equal(t_sorted[:-1], t_sorted[1:])).as_py():
        raise DatasetFormatError(f"the truth of {where} lists an image id twice; run attribution88 verify")
    if len(s_sorted) > 1:
        same = to_numpy(pc.equal(s_sorted[:-1], s_sorted[1:]))
        if same.any():
            order = to_numpy(s_order)
            starts = np.flatnonzero(same & ~np.r_[False, same[:-1]])  # first of each run
            examples = []
            for st in starts[:SHOW]:
                end = st + 1
                while end < len(same) and same[end]:
                    end += 1
                rows = sorted(int(order[i]) + 1 for i in range(st, end + 1))
                examples.append(f"{s_sorted[int(st)].as_py()!r} (data rows "
                                f"{', '.join(map(str, rows[:SHOW]))})")
            raise SubmissionError(f"{label}: {len(starts):,} duplicate id(s): {'; '.join(examples)}")
    extra = np.flatnonzero(~to_numpy(pc.is_in(sub_ids, value_set=truth_ids)))
    if len(extra):
        raise SubmissionError(f"{label}: {len(extra):,} id(s) not in {where}: {_rows(extra, sub_ids)}")
    missing = np.flatnonzero(~to_numpy(pc.is_in(truth_ids, value_set=sub_ids)))
    if len(missing):
        shown = ", ".join(repr(truth_ids[int(p)].as_py()) for p in missing[:SHOW])
        raise SubmissionError(f"{label}: {len(missing):,} of the {len(truth_ids):,} ids of "
                              f"{where} are missing (first: {shown})")


def align_truth(sub_ids: pa.Array, truth: Truth, label: str = "submission") -> Truth:
    """The truth with its rows in the submission's order (the same object when they already
    are). Permuting the truth's small integer columns is cheaper than moving the scores."""
    where = f"config {truth.info.config!r} split {truth.info.split!r}"
    rows = match_ids(sub_ids, truth.ids, label, where)
    if rows is None:
        return truth
    return replace(truth, ids=sub_ids, source=truth.source[rows], semantic=truth.semantic[rows],
                   perturbation=truth.perturbation[rows], severity=truth.severity[rows])
