"""Reading and validating a submission file (untrusted input).

A submission is a CSV file (UTF-8, with or without BOM, LF or CRLF line ends, quoted fields;
optionally gzip-compressed) with a header line and these columns:

- ``id``: the image ids of the split being scored, each exactly once;
- ``pred``: the predicted source, by name (``stylegan2``; the display name ``StyleGAN2`` and any
  letter case work too) or by class index (0 = real ... 7), not mixed; and/or
- one score column per source, named after the sources (all 8): probabilities, logits or
  per-source log-likelihood ratios (see `SCORE_KINDS` and ``--scores``);
- optionally ``fake_score``: any real number, higher = more likely fake, for the
  threshold-free detection AUC.

Other columns are ignored with a warning. Nothing in the file is ever evaluated: a cell is a
string or a number, and ``=cmd()`` is just an unknown source name.

The file is streamed through pyarrow's CSV reader, with explicit column types, in bounded
blocks. Every byte passes once through a checker that hashes it (sha256), counts it against
the size limit (decompressed bytes for gzip) and validates UTF-8, so a file over the limit is
refused while reading, never read whole. Each problem raises `SubmissionError` with one line
naming the file, the problem and where it is.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import os
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .. import settings
from ..settings import MAX_SUBMISSION_BYTES_ENV
from ..errors import SubmissionError, UsageError
from ..spec import SPEC, Spec
from .arrow import to_numpy
from .metrics import SCORE_KINDS

if TYPE_CHECKING:
    import pyarrow as pa

#: Default size limit of a submission (decompressed), bytes.
DEFAULT_MAX_BYTES = 512 * 1024 * 1024
#: Environment variable overriding `DEFAULT_MAX_BYTES` (bytes, or with a K/M/G suffix).
MAX_BYTES_ENV = MAX_SUBMISSION_BYTES_ENV
#: Rows whose probabilities sum to 1 within this tolerance count as probabilities.
PROB_SUM_TOLERANCE = 1e-3
#: Name of the optional detection-score column.
FAKE_SCORE = "fake_score"
#: How many offending values an error message lists.
SHOW = 3

_BLOCK = 4 << 20  # bytes per CSV block
_BOM = b"\xef\xbb\xbf"
_IMAGE_ID = re.compile(r"^[a-z0-9]+-[a-z0-9]+-r?\d{5,}$")
_NUMBER = re.compile(r"^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$")
_INTEGER = re.compile(r"^[-+]?\d+$")


def parse_size(text: str | int) -> int:
    """Bytes from ``536870912``, ``512M``, ``1G``, ``64K`` (binary units)."""
    if isinstance(text, int):
        value = text
    else:
        m = re.fullmatch(r"\s*(\d+)\s*([kKmMgG]?)i?[bB]?\s*", str(text))
        if not m:
            raise UsageError(f"not a size: {text!r} (expected bytes, or a number with K, M or G)")
        value = int(m.group(1)) << {"": 0, "k": 10, "m": 20, "g": 30}[m.group(2).lower()]
    if value <= 0:
        raise UsageError(f"size limit must be positive, got {text!r}")
    return value


def default_max_bytes() -> int:
    """The size limit: `MAX_BYTES_ENV` if set, else `DEFAULT_MAX_BYTES`."""
    env = settings.max_submission_bytes()
    if env:
        try:
            return parse_size(env)
        except UsageError as e:
            raise UsageError(f"{MAX_BYTES_ENV}: {e}") from None
    return DEFAULT_MAX_BYTES


@dataclass(frozen=True)
class SubmissionFile:
    """Where a submission came from: name, sha256 of the bytes on disk, sizes."""

    path: str
    name: str
    sha256: str
    bytes: int
    decompressed_bytes: int
    compression: str | None  # "gzip" or None

    def to_dict(self) -> dict:
        return {"name": self.name, "sha256": self.sha256, "bytes": self.bytes,
                "decompressed_bytes": self.decompressed_bytes, "compression": self.compression}


@dataclass(frozen=True)
class Submission:
    """A parsed, validated submission (ids not yet checked against a truth: see `join`).

    ids: arrow string array (n,); pred: int8 (n,) class indices or None; scores: float64
    (n, K) (Fortran order: contiguous columns) or None, of kind ``score_kind``; fake_score:
    float64 (n,) or None. ``rows`` maps a row to its data-row number in the file (1-based).
    """

    ids: pa.Array
    pred: np.ndarray | None = None
    scores: np.ndarray | None = None
    score_kind: str | None = None
    score_kind_declared: bool = False
    fake_score: np.ndarray | None = None
    file: SubmissionFile | None = None
    columns: tuple[str, ...] = ()
    warnings: tuple[str, ...] = field(default_factory=tuple)

    @property
    def n(self) -> int:
        return len(self.ids)

    @property
    def label(self) -> str:
        return self.file.name if self.file else "submission"

    def predictions(self) -> np.ndarray:
        """The 8-way prediction, int8 (n,): ``pred``, else the argmax of the scores."""
        if self.pred is not None:
            return self.pred
        return np.argmax(self.scores, axis=1).astype(np.int8)


# -- the byte stream --------------------------------------------------------------------------
class _CheckedStream:
    """A read-only binary stream that hashes, counts and UTF-8-checks what passes through.

    Errors found while pyarrow reads are kept in ``error`` (pyarrow re-raises the exception,
    the caller re-raises ``error``)."""

    def __init__(self, path: Path, label: str, limit: int) -> None:
        self.label, self.limit = label, limit
        self.hash = hashlib.sha256()
        self.disk = _DiskCounter(open(path, "rb"), self.hash)
        head = self.disk.raw.read(4)
        self.disk.raw.seek(0)
        self.compression = "gzip" if head[:2] == b"\x1f\x8b" else None
        self.raw = gzip.GzipFile(fileobj=self.disk, mode="rb") if self.compression else self.disk
        self.pos = 0  # decompressed bytes so far
        self.lines = 0  # line ends so far
        self.error: SubmissionError | None = None
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._undecoded = False  # the decoder holds part of a multi-byte character
        self._prefix = b""
        self.closed = False

    # file protocol pyarrow needs
    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.disk.raw.close()

    def read(self, n: int = -1) -> bytes:
        if self._prefix:
            n = len(self._prefix) if n is None or n < 0 else n
            out, self._prefix = self._prefix[:n], self._prefix[n:]
            return out
        return self._pull(_BLOCK if n is None or n < 0 else n)

    def _fail(self, message: str) -> SubmissionError:
        self.error = SubmissionError(f"{self.label}: {message}")
        return self.error

    def _pull(self, n: int) -> bytes:
        if self.error:
            raise self.error
        try:
            chunk = self.raw.read(n)
        except (OSError, EOFError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
            raise self._fail(f"not a valid gzip file ({e})") from None
        if self.pos + len(chunk) > self.limit:
            raise self._fail(f"larger than the limit of {self.limit:,} bytes"
                             f"{' decompressed' if self.compression else ''} (raise it with "
                             f"--max-bytes or {MAX_BYTES_ENV})")
        self._check_utf8(chunk, final=not chunk)
        self.pos += len(chunk)
        self.lines += chunk.count(b"\n")
        return chunk

    def _check_utf8(self, chunk: bytes, final: bool) -> None:
        if not self._undecoded and chunk.isascii() and not final:
            return
        pending = len(self._decoder.getstate()[0])
        try:
            self._decoder.decode(chunk, final)
        except UnicodeDecodeError as e:
            offset = self.pos - pending + e.start
            line = self.lines + chunk[:max(0, e.start - pending)].count(b"\n") + 1
            raise self._fail(f"not UTF-8 text: invalid byte 0x{e.object[e.start]:02x} at byte "
                             f"offset {offset:,} (line {line}); save the file as UTF-8") from None
        self._undecoded = bool(self._decoder.getstate()[0])

    def peek_line(self) -> bytes:
        """The first line (without its line end); what was read is replayed by `read`."""
        buf = b""
        while b"\n" not in buf and len(buf) < (1 << 20):
            chunk = self._pull(1 << 16)
            if not chunk:
                break
            buf += chunk
        self._prefix = buf
        if len(buf) >= (1 << 20) and b"\n" not in buf:
            raise self._fail("no line end in the first MiB: not a CSV file with a header line")
        return buf.split(b"\n", 1)[0].rstrip(b"\r")

    def drain(self) -> None:
        """Read to the end (hashing and checking); called once the CSV reader is done."""
        self._prefix = b""
        while self._pull(_BLOCK):
            pass


class _DiskCounter:
    """Hashes and counts the bytes read from disk (compressed bytes for gzip)."""

    def __init__(self, raw, hash_) -> None:
        self.raw, self.hash, self.bytes = raw, hash_, 0

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.hash.update(data)
        self.bytes += len(data)
        return data

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False


# -- the header ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Layout:
    """Which field of the header is what."""

    names: tuple[str, ...]  # the header, as written
    id: int
    pred: int | None
    scores: tuple[int, ...] | None  # field of each source, in class order
    fake_score: int | None
    unknown: tuple[str, ...]


def _canonical(name: str) -> str:
    return name.strip().lower()


def _source_keys(spec: Spec) -> dict[str, int]:
    keys = {}
    for s in spec.sources:
        keys[s.name.lower()] = s.index
        keys[s.display.lower()] = s.index
    return keys


def _parse_header(line: bytes, label: str, spec: Spec) -> _Layout:
    if line.startswith(_BOM):
        line = line[len(_BOM):]
    text = line.decode("utf-8")  # the stream checked it already
    if not text.strip():
        raise SubmissionError(f"{label}: no header: the first line is empty (expected a line "
                              f"naming the columns, e.g. id,pred)")
    try:
        fields = next(csv.reader([text], strict=True))
    except csv.Error as e:
        raise SubmissionError(f"{label}: malformed header line ({e})") from None
    names = tuple(f.strip() for f in fields)
    canon = [_canonical(f) for f in names]
    if "id" not in canon:
        looks_like_data = bool(_IMAGE_ID.match(canon[0])) or all(
            _NUMBER.match(f) or not f for f in canon[1:]) and len(canon) > 1
        if looks_like_data:
            raise SubmissionError(f"{label}: no header: the first line looks like data "
                                  f"({text[:60]!r}); the first line must name the columns, e.g. "
                                  f"id,pred or id,{','.join(spec.source_names[:2])},...")
        hint = ""
        if len(names) == 1 and any(sep in text for sep in ";\t|"):
            hint = "; the file must be comma-separated"
        raise SubmissionError(f"{label}: no 'id' column (columns: {', '.join(names)[:200]}){hint}")
    sources = _source_keys(spec)
    seen: dict[str, int] = {}
    score_fields: dict[int, int] = {}
    pred = fake = None
    unknown = []
    for i, c in enumerate(canon):
        key = f"source:{sources[c]}" if c in sources else c
        if key in seen:
            raise SubmissionError(f"{label}: column {names[i]!r} appears twice in the header "
                                  f"(fields {seen[key] + 1} and {i + 1})")
        seen[key] = i
        if c in sources:
            score_fields[sources[c]] = i
        elif c == "pred":
            pred = i
        elif c == FAKE_SCORE:
            fake = i
        elif c != "id":
            unknown.append(names[i] or f"<unnamed field {i + 1}>")
    scores = None
    if score_fields:
        missing = [s.name for s in spec.sources if s.index not in score_fields]
        if missing:
            raise SubmissionError(f"{label}: score columns must cover all {len(spec.sources)} "
                                  f"sources; missing: {', '.join(missing)}")
        scores = tuple(score_fields[s.index] for s in spec.sources)
    if pred is None and scores is None:
        raise SubmissionError(f"{label}: no prediction columns: give a 'pred' column (source "
                              f"name or index) or one score column per source "
                              f"({', '.join(spec.source_names)})")
    return _Layout(names, seen["id"], pred, scores, fake, tuple(unknown))


# -- reading ------------------------------------------------------------------------------------
def read_submission(path: str | os.PathLike, *, scores: str = "auto", max_bytes: int | None = None,
                    spec: Spec = SPEC) -> Submission:
    """Read and validate a submission file (see the module docstring for the format).

    scores: how score columns are read: ``probs``, ``logits``, ``llr`` or ``auto``
    (probabilities iff every value is in [0, 1] and every row sums to 1 within
    `PROB_SUM_TOLERANCE`, else logits; LLR must be declared). max_bytes: size limit in bytes
    (decompressed), default `default_max_bytes()`.
    """
    if scores not in ("auto", *SCORE_KINDS):
        raise UsageError(f"--scores must be auto, {', '.join(SCORE_KINDS)}; got {scores!r}")
    limit = default_max_bytes() if max_bytes is None else parse_size(max_bytes)
    path = Path(path)
    label = path.name or str(path)
    if not path.exists():
        raise SubmissionError(f"{path}: no such file")
    if not path.is_file():
        raise SubmissionError(f"{path}: not a regular file")
    size = path.stat().st_size
    if size == 0:
        raise SubmissionError(f"{label}: empty file")
    if size > limit:
        raise SubmissionError(f"{label}: {size:,} bytes, larger than the limit of {limit:,} bytes "
                              f"(raise it with --max-bytes or {MAX_BYTES_ENV})")
    _refuse_other_formats(path, label)

    stream = _CheckedStream(path, label, limit)
    try:
        header = stream.peek_line()
        if not stream._prefix.replace(_BOM, b"", 1).strip():
            raise SubmissionError(f"{label}: empty file (no header, no rows)")
        layout = _parse_header(header, label, spec)
        table = _read_table(stream, layout, label)
        stream.drain()
    except SubmissionError:
        raise
    except Exception:
        if stream.error:
            raise stream.error from None
        raise
    finally:
        stream.close()

    info = SubmissionFile(path=str(path), name=label, sha256=stream.hash.hexdigest(),
                          bytes=stream.disk.bytes, decompressed_bytes=stream.pos,
                          compression=stream.compression)
    return _build(table, layout, info, scores, label, spec)


def _refuse_other_formats(path: Path, label: str) -> None:
    with open(path, "rb") as f:
        head = f.read(8)
    kinds = {b"PK\x03\x04": "a ZIP archive (an .xlsx workbook?)", b"BZh": "bzip2-compressed",
             b"\xfd7zXZ\x00": "xz-compressed", b"\x28\xb5\x2f\xfd": "zstd-compressed",
             b"\xd0\xcf\x11\xe0": "a legacy Office document", b"PAR1": "a parquet file"}
    for magic, what in kinds.items():
        if head.startswith(magic):
            raise SubmissionError(f"{label}: {what}, not a CSV file (plain or gzip-compressed)")


def _csv_options(layout: _Layout, threads: bool, handler=None):
    import pyarrow as pa
    import pyarrow.csv as pacsv

    names = [f"f{i}" for i in range(len(layout.names))]
    types = {f"f{layout.id}": pa.string()}
    if layout.pred is not None:
        types[f"f{layout.pred}"] = pa.string()
    for i in (layout.scores or ()):
        types[f"f{i}"] = pa.float64()
    if layout.fake_score is not None:
        types[f"f{layout.fake_score}"] = pa.float64()
    read = pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=_BLOCK, use_threads=threads)
    parse = pacsv.ParseOptions(invalid_row_handler=handler)
    convert = pacsv.ConvertOptions(column_types=types, include_columns=list(types),
                                   null_values=[""], strings_can_be_null=False,
                                   quoted_strings_can_be_null=False)
    return read, parse, convert


def _read_table(stream: _CheckedStream, layout: _Layout, label: str) -> pa.Table:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    read, parse, convert = _csv_options(layout, threads=True)
    try:
        return pacsv.read_csv(stream, read_options=read, parse_options=parse, convert_options=convert)
    except pa.ArrowInvalid as e:
        if stream.error:
            raise stream.error from None
        raise _explain(str(e), stream, layout, label) from None


def _explain(message: str, stream: _CheckedStream, layout: _Layout, label: str) -> SubmissionError:
    """One clear line for a pyarrow CSV error, locating the row where it can."""
    message = " ".join(message.split())
    if "Expected" in message and "columns, got" in message:
        return _locate_bad_row(stream, layout, label)
    m = re.search(r"CSV column #(\d+): CSV conversion error to (\w+): invalid value '(.*)'$", message)
    if m:
        column = layout.names[int(m.group(1))]
        value = m.group(3)
        return SubmissionError(f"{label}: column {column!r}: {value[:40]!r} is not a number"
                               f"{_find_value(stream, layout, int(m.group(1)), value)}")
    if "invalid UTF8" in message:
        return SubmissionError(f"{label}: not UTF-8 text ({message})")
    return SubmissionError(f"{label}: malformed CSV ({message})")


def _reopen(stream: _CheckedStream) -> _CheckedStream:
    fresh = _CheckedStream(Path(stream.disk.raw.name), stream.label, stream.limit)
    fresh.peek_line()
    return fresh


def _locate_bad_row(stream: _CheckedStream, layout: _Layout, label: str) -> SubmissionError:
    """Re-read single-threaded, where pyarrow reports line numbers, to name the bad line."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    found = []

    def handler(row):
        found.append(row)
        return "error"

    fresh = _reopen(stream)
    read, parse, convert = _csv_options(layout, threads=False, handler=handler)
    try:
        pacsv.read_csv(fresh, read_options=read, parse_options=parse, convert_options=convert)
    except (pa.ArrowInvalid, SubmissionError):
        pass
    finally:
        fresh.close()
    if not found:
        return SubmissionError(f"{label}: a row has the wrong number of fields")
    row = found[0]
    where = f"line {row.number}" if row.number is not None else "a row"
    return SubmissionError(f"{label}: {where} has {row.actual_columns} fields, the header "
                           f"{row.expected_columns} ({row.text[:60]!r})")


def _find_value(stream: _CheckedStream, layout: _Layout, field_index: int, value: str) -> str:
    """' (data row N, id X)' for the first row holding ``value`` in a field, or ''."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    fresh = _reopen(stream)
    read, parse, convert = _csv_options(layout, threads=True)
    types = {f"f{layout.id}": pa.string(), f"f{field_index}": pa.string()}
    convert = pacsv.ConvertOptions(column_types=types, include_columns=list(types),
                                   strings_can_be_null=False)
    try:
        table = pacsv.read_csv(fresh, read_options=read, parse_options=parse, convert_options=convert)
    except (pa.ArrowInvalid, SubmissionError):
        return ""
    finally:
        fresh.close()
    row = pc.index(table.column(f"f{field_index}"), value).as_py()
    if row is None or row < 0:
        return ""
    return f" (data row {row + 1}, id {table.column(f'f{layout.id}')[row].as_py()!r})"


# -- columns to arrays --------------------------------------------------------------------------
def _where(ids: pa.Array, row: int) -> str:
    return f"data row {row + 1}, id {ids[row].as_py()!r}"


def _build(table: pa.Table, layout: _Layout, info: SubmissionFile, scores_kind: str, label: str,
           spec: Spec) -> Submission:
    ids = table.column(f"f{layout.id}").combine_chunks()
    warnings = []
    if layout.unknown:
        warnings.append(f"ignored unknown column(s): {', '.join(layout.unknown)[:200]}")
    if len(ids) == 0:
        raise SubmissionError(f"{label}: no rows after the header")
    pred = None
    if layout.pred is not None:
        pred = parse_pred(table.column(f"f{layout.pred}").combine_chunks(), ids, label, spec)
    scores = None
    kind = None
    if layout.scores is not None:
        columns = [table.column(f"f{i}") for i in layout.scores]
        names = [layout.names[i] for i in layout.scores]
        scores = np.empty((len(ids), len(columns)), dtype=np.float64, order="F")
        for j, (col, name) in enumerate(zip(columns, names)):
            _float_column(col, name, ids, label, out=scores[:, j])
        kind = check_scores(scores, scores_kind, ids, label, names)
    fake = None
    if layout.fake_score is not None:
        fake = _float_column(table.column(f"f{layout.fake_score}"), FAKE_SCORE, ids, label)
    if pred is not None and scores is not None:
        top = scores[np.arange(len(pred)), pred.astype(np.int64)]
        disagree = int(np.count_nonzero(top < scores.max(axis=1)))
        if disagree:
            warnings.append(f"pred is not an argmax of the scores on {disagree:,} rows; "
                            f"accuracies, NMI and F1 use pred, AUC and log loss the scores")
    return Submission(ids=ids, pred=pred, scores=scores, score_kind=kind,
                      score_kind_declared=scores_kind != "auto", fake_score=fake, file=info,
                      columns=layout.names, warnings=tuple(warnings))


def _float_column(col, name: str, ids: pa.Array, label: str,
                  out: np.ndarray | None = None) -> np.ndarray:
    import pyarrow.compute as pc

    if col.null_count:
        row = int(np.argmax(to_numpy(pc.is_null(col))))
        raise SubmissionError(f"{label}: column {name!r} is empty in {_where(ids, row)}")
    values = to_numpy(col, out)
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.argmax(bad))
        raise SubmissionError(f"{label}: column {name!r} holds {values[row]} in {_where(ids, row)}; "
                              f"scores must be finite numbers")
    return values


def parse_pred(column: pa.Array, ids: pa.Array, label: str = "submission",
               spec: Spec = SPEC) -> np.ndarray:
    """Class indices, int8 (n,), from a string column of source names or indices."""
    import pyarrow.compute as pc

    encoded = pc.dictionary_encode(column)
    values = [v if v is not None else "" for v in encoded.dictionary.to_pylist()]
    codes = to_numpy(encoded.indices)
    keys = _source_keys(spec)
    k = len(spec.sources)
    stripped = [v.strip() for v in values]
    is_int = [bool(_INTEGER.match(v)) for v in stripped]
    if all(is_int):
        lut = np.array([int(v) for v in stripped], dtype=np.int64)
        bad = (lut < 0) | (lut >= k)
        if bad.any():
            first = _first_row(codes, np.flatnonzero(bad))
            raise SubmissionError(f"{label}: pred index {values[codes[first]]!r} out of range "
                                  f"0-{k - 1} ({_where(ids, first)})")
    elif any(is_int):
        first_int = _first_row(codes, np.flatnonzero(is_int))
        first_name = _first_row(codes, np.flatnonzero(~np.array(is_int)))
        raise SubmissionError(f"{label}: pred mixes class indices ({_where(ids, first_int)}) and "
                              f"source names ({_where(ids, first_name)}); use one or the other")
    else:
        lut = np.array([keys.get(v.lower(), -1) for v in stripped], dtype=np.int64)
        unknown = np.flatnonzero(lut < 0)
        if len(unknown):
            rows = sorted(_first_row(codes, np.array([u])) for u in unknown)
            shown = ", ".join(f"{values[codes[r]][:30]!r} ({_where(ids, r)})" for r in rows[:SHOW])
            raise SubmissionError(f"{label}: {len(unknown)} unknown source name(s) in pred: "
                                  f"{shown}; valid: {', '.join(spec.source_names)}")
    return lut[codes].astype(np.int8)


def _first_row(codes: np.ndarray, dictionary_positions: np.ndarray) -> int:
    return int(np.argmax(np.isin(codes, dictionary_positions)))


def check_scores(scores: np.ndarray, kind: str, ids: pa.Array | None = None,
                 label: str = "submission", names: list[str] | None = None) -> str:
    """Validate a finite score matrix (n, K) as ``kind`` and return the kind it is read as
    (``auto`` resolved). Probabilities must lie in [0, 1] and rows sum to 1 within
    `PROB_SUM_TOLERANCE`."""
    names = names or [f"column {j}" for j in range(scores.shape[1])]

    def where(row: int) -> str:
        return _where(ids, row) if ids is not None else f"row {row + 1}"

    low, high = scores.min(axis=0), scores.max(axis=0)
    in_unit = bool((low >= 0).all() and (high <= 1).all())
    sums = scores.sum(axis=1) if in_unit or kind == "probs" else None
    off = None if sums is None else np.abs(sums - 1.0) > PROB_SUM_TOLERANCE
    if kind == "auto":
        return "probs" if in_unit and not off.any() else "logits"
    if kind == "probs":
        if (low < 0).any():
            j = int(np.argmin(low))
            row = int(np.argmin(scores[:, j]))
            raise SubmissionError(f"{label}: negative probability {scores[row, j]} in column "
                                  f"{names[j]!r} ({where(row)}); for logits pass --scores logits")
        if (high > 1).any():
            j = int(np.argmax(high))
            row = int(np.argmax(scores[:, j]))
            raise SubmissionError(f"{label}: probability {scores[row, j]} above 1 in column "
                                  f"{names[j]!r} ({where(row)}); for logits pass --scores logits")
        if off.any():
            row = int(np.argmax(off))
            raise SubmissionError(f"{label}: probabilities sum to {sums[row]:.6g}, not 1 "
                                  f"({where(row)}); normalise them or pass --scores logits")
    return kind
