"""TensorFlow checkpoints (``tf.train.Saver``, the "V2" tensor bundle) read without TensorFlow.

A checkpoint ``PREFIX`` is two files: ``PREFIX.index``, a LevelDB-format table (SSTable) whose
keys are the variable names and whose values are ``BundleEntryProto`` messages (dtype, shape,
shard, offset, size, crc32c), the empty key holding a ``BundleHeaderProto`` (number of shards,
endianness); and ``PREFIX.data-SSSSS-of-NNNNN``, the raw little-endian tensor bytes. The
layouts are those of tensorflow/core/util/tensor_bundle (tensor_bundle.proto) and LevelDB's
table format (doc/table_format.md): a 48-byte footer (two block handles, padding, the magic
number 0xdb4775248b80fb57), blocks of prefix-compressed entries followed by their restart
array, each block with a 5-byte trailer (compression type, crc). TensorFlow writes the bundle
index uncompressed; a compressed (snappy) block is refused.

Why by hand: TensorFlow is a 500 MB dependency that no longer installs TF1-era checkpoints'
matching versions on current Pythons, and no small maintained package on PyPI reads the bundle
format without it; the format is two small, documented structures (about 150 lines here).
Nothing in the files is executed: they hold data only, and every length and offset is checked
against the file sizes before it is used.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path

import numpy as np

from attribution88.errors import CheckpointError

_MAGIC = 0xDB4775248B80FB57
#: tensorflow DataType enum -> NumPy dtype (little endian), the numeric types a generator holds.
_DTYPES = {1: "<f4", 2: "<f8", 3: "<i4", 4: "u1", 5: "<i2", 6: "i1", 9: "<i8", 10: "?", 19: "<f2"}
MAX_TENSOR_BYTES = 4 << 30


class _Bad(Exception):
    pass


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf) or shift > 63:
            raise _Bad("a varint runs past its block")
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7


def _fields(buf: bytes) -> list[tuple[int, int, object]]:
    """A protobuf message as (field number, wire type, value: int or bytes)."""
    out, pos = [], 0
    while pos < len(buf):
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            if pos + 8 > len(buf):
                raise _Bad("a fixed64 field runs past its message")
            value, pos = int.from_bytes(buf[pos:pos + 8], "little"), pos + 8
        elif wire == 2:
            n, pos = _varint(buf, pos)
            if pos + n > len(buf):
                raise _Bad("a length-delimited field runs past its message")
            value, pos = buf[pos:pos + n], pos + n
        elif wire == 5:
            if pos + 4 > len(buf):
                raise _Bad("a fixed32 field runs past its message")
            value, pos = int.from_bytes(buf[pos:pos + 4], "little"), pos + 4
        else:
            raise _Bad(f"protobuf wire type {wire}")
        out.append((number, wire, value))
    return out


def _block(data: bytes, handle: bytes, what: str) -> list[tuple[bytes, bytes]]:
    """The (key, value) entries of the block a handle points to."""
    offset, pos = _varint(handle, 0)
    size, _ = _varint(handle, pos)
    if offset + size + 5 > len(data):
        raise _Bad(f"its {what} block lies past the end of the file (truncated)")
    if data[offset + size] != 0:
        raise _Bad(f"its {what} block is compressed (type {data[offset + size]}); TensorFlow writes them plain")
    block = data[offset:offset + size]
    if len(block) < 4:
        raise _Bad(f"its {what} block is too short")
    (restarts,) = struct.unpack("<I", block[-4:])
    end = len(block) - 4 - 4 * restarts
    if end < 0:
        raise _Bad(f"its {what} block has an invalid restart array")
    entries, pos, key = [], 0, b""
    while pos < end:
        shared, pos = _varint(block, pos)
        unshared, pos = _varint(block, pos)
        vlen, pos = _varint(block, pos)
        if shared > len(key) or pos + unshared + vlen > end:
            raise _Bad(f"its {what} block has an entry past its end")
        key = key[:shared] + block[pos:pos + unshared]
        pos += unshared
        entries.append((key, block[pos:pos + vlen]))
        pos += vlen
    return entries


def _entries(index: bytes) -> dict[str, bytes]:
    if len(index) < 48:
        raise _Bad("shorter than an SSTable footer (truncated)")
    footer = index[-48:]
    if struct.unpack("<Q", footer[40:])[0] != _MAGIC:
        raise _Bad("not a TensorFlow checkpoint index (no table magic number)")
    _, pos = _varint(footer, 0)  # metaindex handle: offset, size
    _, pos = _varint(footer, pos)
    out = {}
    for _, handle in _block(index, footer[pos:], "index"):
        for key, value in _block(index, handle, "data"):
            out[key.decode("utf-8", "replace")] = value
    return out


def checkpoint_prefix(path: Path) -> Path | None:
    """The ``PREFIX`` of a checkpoint given as its folder (its ``checkpoint`` file, else its
    only ``.index``), its ``.index`` or ``.data-*`` file, or the prefix itself; None when
    ``path`` is none of these."""
    if path.is_dir():
        state = path / "checkpoint"
        if state.is_file():
            m = re.search(r'^model_checkpoint_path:\s*"([^"]+)"', state.read_text(errors="replace"), re.M)
            if m:
                prefix = Path(m.group(1))
                return prefix if prefix.is_absolute() else path / prefix.name
        indexes = sorted(path.glob("*.index"))
        return indexes[0].with_suffix("") if len(indexes) == 1 else None
    if path.suffix == ".index":
        return path.with_suffix("")
    m = re.match(r"^(.*)\.data-\d{5}-of-\d{5}$", path.name)
    if m:
        return path.with_name(m.group(1))
    if not path.exists() and path.with_name(path.name + ".index").is_file():
        return path
    return None


def _index(prefix: Path, what: str) -> tuple[Path, int, list[tuple[str, str, list[int], int, int, int]]]:
    """The index of checkpoint ``prefix``: its path, its number of data shards and, per numeric
    tensor, (name, dtype, shape, shard, offset, size). Raises `_Bad` for a malformed index."""
    index_path = prefix.with_name(prefix.name + ".index")
    if not index_path.is_file():
        raise CheckpointError(f"{index_path}: no such file (the index of TensorFlow checkpoint {prefix}); "
                              f"expected {what}")
    entries = _entries(index_path.read_bytes())
    header = dict((n, v) for n, _, v in _fields(entries.pop("", b"")))
    shards = int(header.get(1, 1))
    if header.get(2, 0) != 0:
        raise _Bad("big-endian tensors")
    tensors = []
    for name, value in entries.items():
        fields = _fields(value)
        get = {n: v for n, _, v in fields}
        if any(n == 7 for n, _, _ in fields):
            raise _Bad(f"tensor {name!r} is stored in slices (partitioned variables)")
        dtype = _DTYPES.get(int(get.get(1, 0)))
        if dtype is None:
            continue  # strings, resources: not a generator weight
        shape = [int(dict((n, v) for n, _, v in _fields(d)).get(1, 0))
                 for n, _, d in _fields(get.get(2, b"")) if n == 2]
        tensors.append((name, dtype, shape, int(get.get(3, 0)), int(get.get(4, 0)), int(get.get(5, 0))))
    return index_path, shards, tensors


def _unreadable(prefix: Path, what: str, e: _Bad) -> CheckpointError:
    index_path = prefix.with_name(prefix.name + ".index")
    return CheckpointError(f"{index_path}: not a readable TensorFlow checkpoint: {e}; expected {what}")


def list_checkpoint(prefix: Path, what: str) -> dict[str, tuple[int, ...]]:
    """The shape of every numeric tensor of the checkpoint ``prefix`` by name, read from its
    index alone. `CheckpointError` (one line) for a missing or malformed index."""
    try:
        return {name: tuple(shape) for name, _, shape, _, _, _ in _index(prefix, what)[2]}
    except _Bad as e:
        raise _unreadable(prefix, what, e) from None


def read_checkpoint(prefix: Path, what: str) -> dict[str, np.ndarray]:
    """Every tensor of the checkpoint ``prefix`` by name. `CheckpointError` (one line) for a
    missing, truncated or malformed file."""
    try:
        _, shards, entries = _index(prefix, what)
        data_files = [prefix.with_name(f"{prefix.name}.data-{i:05d}-of-{shards:05d}") for i in range(shards)]
        for f in data_files:
            if not f.is_file():
                raise CheckpointError(f"{f}: no such file (a data shard of TensorFlow checkpoint {prefix}); "
                                      f"expected {what}")
        sizes = [f.stat().st_size for f in data_files]
        tensors = {}
        for name, dtype, shape, shard, offset, size in entries:
            count = int(np.prod(shape, dtype=np.int64)) if shape else 1
            if shard >= shards or size != count * np.dtype(dtype).itemsize or size > MAX_TENSOR_BYTES \
                    or offset + size > sizes[shard]:
                raise _Bad(f"tensor {name!r} ({list(shape)}, {size} bytes at {offset}) does not fit its data "
                           f"shard of {sizes[shard] if shard < shards else 0} bytes (truncated?)")
            with open(data_files[shard], "rb") as f:
                f.seek(offset)
                raw = f.read(size)
            tensors[name] = np.frombuffer(raw, dtype).reshape(shape).astype(np.dtype(dtype).newbyteorder("="))
        return tensors
    except _Bad as e:
        raise _unreadable(prefix, what, e) from None
