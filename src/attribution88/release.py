"""`attribution88 import-release ROOT`: convert the official Attribution88 release (split CSV
files with `path`, `label`, `dlabel`, and the images they point to) into the attribution88
format.

- Indices map to the spec's names through an explicit table (`release.toml`, or the user's).
- Image ids are ``SOURCE-SEMANTIC-rNNNNN``: NNNNN is the image's position among its cell's
  images sorted by release path, so ids are stable for a given release.
- Splits are the release's. Test images are imported clean and perturbed by the spec's
  id-derived assignment and protocol (``SPEC.protocol``), as in a build (their rank among the
  cell's test images, sorted by path, goes through a keyed permutation), so an imported test
  split has the same structure and subsets as a built one.
- The official *processed* test set (released separately, already perturbed by the RepMix
  code) is imported with ``processed_test=DIR``: its test images are read from DIR (same
  relative paths as the test CSV) and kept byte for byte, never perturbed again; their
  ``origin`` says so (`PROCESSED_ORIGIN`). Which perturbation each carries is recorded when the
  test CSV names it (optional columns `perturbation` — a name, ``none``, or the official
  corruption number 0-18 — and `severity` 1-5); otherwise it is recorded as
  ``unknown`` (`attribution88.spec.UNKNOWN_PERTURBATION`): such images are in the `default`
  config's test split, and in no test subset, since their condition is not known.
- Everything is checked before anything is published: the import writes into a staging folder
  beside the output and renames it into place only when every image converted; on any problem
  the staging folder is removed and the error lists the problems.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import logging
import os
import shutil
import tomllib
from collections import defaultdict
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from PIL import Image

from .errors import ImageError, ReleaseImportError
from .format.dataset import finalize, write_records
from .format.manifest import Manifest
from .format.schema import Record
from .ids import assign_test, image_id, release_test_rank
from .images import decode_image, encode_png
from .spec import NO_PERTURBATION, SPEC, UNKNOWN_PERTURBATION, Cell, Preset, Spec

log = logging.getLogger(__name__)

#: The preset name recorded for imported data (sizes are the release's, not a preset's).
RELEASE_PRESET = "release"
#: Prefix of the `origin` of a test image imported from the processed (already perturbed) test set.
PROCESSED_ORIGIN = "release-processed:"
#: Optional columns of a test CSV naming the perturbation a processed image carries.
PERTURBATION_COLUMNS = ("perturbation", "severity")
_SHOWN_PROBLEMS = 8


@dataclass(frozen=True)
class LabelMap:
    """Release indices -> spec names, and split file -> split."""

    label: dict[int, str]
    dlabel: dict[int, str]
    splits: dict[str, str]
    origin: str

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, spec: Spec = SPEC) -> LabelMap:
        """Read a mapping table; the packaged `release.toml` when no path is given."""
        try:
            if path is None:
                origin = "attribution88/release.toml"
                raw = tomllib.loads(resources.files("attribution88").joinpath("release.toml").read_text())
            else:
                origin = os.fspath(path)
                raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as e:
            raise ReleaseImportError(f"cannot read label map {path}: {e.strerror}") from None
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise ReleaseImportError(f"label map {path} is not valid TOML: {e}") from None
        try:
            label = {int(k): str(v) for k, v in raw["label"].items()}
            dlabel = {int(k): str(v) for k, v in raw["dlabel"].items()}
            splits = {str(k): str(v) for k, v in raw["splits"].items()}
        except (KeyError, ValueError, AttributeError) as e:
            raise ReleaseImportError(f"label map {origin} needs tables [label], [dlabel] and "
                                     f"[splits] with integer keys ({e})") from None
        bad = ([f"label {k} -> {v!r}" for k, v in label.items() if v not in spec.source_names]
               + [f"dlabel {k} -> {v!r}" for k, v in dlabel.items() if v not in spec.semantic_names]
               + [f"{k} -> {v!r}" for k, v in splits.items() if v not in ("train", "validation", "test")])
        if bad:
            raise ReleaseImportError(f"label map {origin} names what the spec does not know: {'; '.join(bad)}")
        for what, table in (("label", label), ("dlabel", dlabel)):
            if len(set(table.values())) != len(table):
                raise ReleaseImportError(f"label map {origin}: two {what} indices map to one name")
        return cls(label, dlabel, splits, origin)


@dataclass(frozen=True)
class ReleaseEntry:
    """One row of a release split file."""

    csv: str
    line: int
    path: str  # relative to the data root, as in the file
    source: int  # spec index
    semantic: int  # spec index
    split: str
    perturbation: str | None = None  # named by the CSV (processed test set), else None
    severity: int | None = None


class _Problems:
    """Problems found while reading a release, reported together."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, text: str) -> None:
        self.items.append(text)

    def raise_if_any(self, root: Path) -> None:
        if self.items:
            shown = "; ".join(self.items[:_SHOWN_PROBLEMS])
            more = f"; ... and {len(self.items) - _SHOWN_PROBLEMS} more" if len(self.items) > _SHOWN_PROBLEMS else ""
            raise ReleaseImportError(f"release at {root} cannot be imported, "
                                     f"{len(self.items)} problem(s): {shown}{more}")


def _perturbation_of(row: dict, spec: Spec) -> tuple[str, int]:
    """(perturbation name, severity) named by a processed test CSV's optional columns;
    ValueError with the reason when they are malformed."""
    raw = (row.get("perturbation") or "").strip()
    sev_raw = (row.get("severity") or "").strip()
    if raw.lower() in ("", "none", "clean"):
        if sev_raw not in ("", "0"):
            raise ValueError(f"severity {sev_raw!r} for a clean image")
        return NO_PERTURBATION, 0
    if raw.isdigit():  # the official corruption number (imagenet_c's corruption_tuple order)
        if int(raw) >= len(spec.perturbations):
            raise ValueError(f"perturbation number {raw} (0-{len(spec.perturbations) - 1})")
        name = spec.perturbations[int(raw)].name
    elif raw in spec.perturbation_names:
        name = raw
    else:
        raise ValueError(f"unknown perturbation {raw!r}")
    if not sev_raw.isdigit() or int(sev_raw) not in spec.severities:
        raise ValueError(f"severity {sev_raw!r} for {name} (1-{max(spec.severities)})")
    return name, int(sev_raw)


def read_release(root: str | os.PathLike, label_map: LabelMap, *, splits_dir: str | os.PathLike | None = None,
                 data_root: str | os.PathLike | None = None, processed_test: str | os.PathLike | None = None,
                 spec: Spec = SPEC) -> list[ReleaseEntry]:
    """Read and check the split files (not the images): every row must name an existing
    file under the data root (test rows: under ``processed_test`` when given), with known
    labels; unseen semantics only in the test split. With ``processed_test``, a test CSV's
    optional `perturbation` / `severity` columns are read too."""
    root = Path(root)
    if not root.is_dir():
        raise ReleaseImportError(f"{root}: no such release folder")
    if processed_test is not None and not Path(processed_test).is_dir():
        raise ReleaseImportError(f"{processed_test}: no such processed test set folder")
    data_root = Path(data_root) if data_root else root
    folders = [Path(splits_dir)] if splits_dir else [root, root / "splits"]
    found = {name: next((f / name for f in folders if (f / name).is_file()), None) for name in label_map.splits}
    if not any(found.values()):
        raise ReleaseImportError(f"{root}: none of the split files {', '.join(label_map.splits)} found "
                                 f"in {' or '.join(str(f) for f in folders)} (use --splits DIR)")
    problems = _Problems()
    entries: list[ReleaseEntry] = []
    seen_paths: dict[str, str] = {}
    for name, csv_path in found.items():
        if csv_path is None:
            log.warning("%s not found: split %s is not imported", name, label_map.splits[name])
            continue
        split = label_map.splits[name]
        try:
            text = csv_path.read_bytes().decode("utf-8-sig")
        except UnicodeDecodeError as e:
            problems.add(f"{name}: not UTF-8 (byte {e.start})")
            continue
        reader = csv.DictReader(io.StringIO(text, newline=""))
        missing = {"path", "label", "dlabel"} - set(reader.fieldnames or [])
        if missing:
            problems.add(f"{name}: missing column(s) {', '.join(sorted(missing))} (has {reader.fieldnames})")
            continue
        processed = split == "test" and processed_test is not None
        names_perturbation = processed and "perturbation" in (reader.fieldnames or [])
        if processed and "severity" in (reader.fieldnames or []) and not names_perturbation:
            problems.add(f"{name}: a severity column without a perturbation column")
            continue
        image_root = Path(processed_test) if processed else data_root
        for row in reader:
            line = reader.line_num
            rel = (row["path"] or "").strip().replace("\\", "/")
            try:
                label, dlabel = int(row["label"]), int(row["dlabel"])
            except (TypeError, ValueError):
                problems.add(f"{name} line {line}: label/dlabel not integers ({row['label']!r}, {row['dlabel']!r})")
                continue
            if label not in label_map.label:
                problems.add(f"{name} line {line}: unknown label {label}")
                continue
            if dlabel not in label_map.dlabel:
                problems.add(f"{name} line {line}: unknown dlabel {dlabel}")
                continue
            semantic = spec.semantic(label_map.dlabel[dlabel])
            if split != "test" and not semantic.seen:
                problems.add(f"{name} line {line}: dlabel {dlabel} maps to {semantic.name}, an unseen "
                             f"semantic, but this is the {split} split (wrong label map? see --label-map)")
                continue
            if not rel or rel.startswith("/") or ".." in Path(rel).parts:
                problems.add(f"{name} line {line}: path {rel!r} is not relative to the data root")
                continue
            if rel in seen_paths:
                problems.add(f"{name} line {line}: {rel} is listed twice (also in {seen_paths[rel]})")
                continue
            seen_paths[rel] = name
            if not (image_root / rel).is_file():
                problems.add(f"{name} line {line}: missing file {rel}"
                             + (f" in the processed test set {processed_test}" if processed else ""))
                continue
            perturbation = severity = None
            if processed:
                perturbation, severity = UNKNOWN_PERTURBATION, 0
                if names_perturbation:
                    try:
                        perturbation, severity = _perturbation_of(row, spec)
                    except ValueError as e:
                        problems.add(f"{name} line {line}: {e}")
                        continue
            entries.append(ReleaseEntry(name, line, rel, spec.source(label_map.label[label]).index,
                                        semantic.index, split, perturbation, severity))
    problems.raise_if_any(root)
    if not entries:
        raise ReleaseImportError(f"{root}: the split files list no images")
    return entries


def _png_of(path: Path, size: int, name: str, *, as_is: bool = False) -> tuple[bytes, object]:
    """The image's bytes as RGB PNG (the file's own bytes when it already is one, or always
    with ``as_is``) and its pixels."""
    data = path.read_bytes()
    pixels = decode_image(data, name=name)
    if pixels.shape[:2] != (size, size):
        raise ImageError(f"{name}: {pixels.shape[1]}x{pixels.shape[0]}, expected {size}x{size}")
    if as_is:
        return data, pixels
    with Image.open(io.BytesIO(data)) as im:
        keep = im.format == "PNG" and im.mode == "RGB"
    return (data if keep else encode_png(pixels)), pixels


def import_release(root: str | os.PathLike, out: str | os.PathLike, *, label_map: LabelMap | None = None,
                   splits_dir: str | os.PathLike | None = None, data_root: str | os.PathLike | None = None,
                   processed_test: str | os.PathLike | None = None,
                   progress: bool = True, spec: Spec = SPEC) -> Manifest:
    """Convert a release tree into a dataset folder at ``out`` (which must not exist or be
    empty). ``processed_test``: the folder of the official processed test set, whose test
    images are kept byte for byte instead of being perturbed here. Returns the manifest."""
    from tqdm.auto import tqdm

    root, out = Path(root), Path(out)
    label_map = label_map or LabelMap.load(spec=spec)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ReleaseImportError(f"{out} exists and is not empty; import into a new folder (--out)")
    entries = read_release(root, label_map, splits_dir=splits_dir, data_root=data_root,
                           processed_test=processed_test, spec=spec)
    data_root = Path(data_root) if data_root else root
    preset: Preset = dataclasses.replace(spec.preset("full"), name=RELEASE_PRESET,
                                         description="imported from the official release")
    by_cell: dict[Cell, list[ReleaseEntry]] = defaultdict(list)
    for e in entries:
        by_cell[spec.cell(e.source, e.semantic)].append(e)

    staging = out.parent / f".{out.name}.importing-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    problems = _Problems()
    try:
        from .perturb import apply_assignment

        bar = tqdm(total=len(entries), desc="import-release", unit="img", disable=not progress)
        for cell in sorted(by_cell, key=lambda c: c.name):
            cell_entries = sorted(by_cell[cell], key=lambda e: e.path)
            test_paths = [e.path for e in cell_entries if e.split == "test"]
            test_rank = {p: release_test_rank(j, len(test_paths), cell, spec) for j, p in enumerate(test_paths)}
            records = []
            for index, e in enumerate(cell_entries):
                bar.update(1)
                text = image_id(cell, index, imported=True)
                processed = e.split == "test" and processed_test is not None
                try:
                    png, pixels = _png_of((Path(processed_test) if processed else data_root) / e.path,
                                          spec.image_size, f"{e.csv} line {e.line}: {e.path}", as_is=processed)
                except (ImageError, OSError) as err:
                    problems.add(str(err))
                    continue
                if processed:
                    records.append(Record(text, png, e.source, e.semantic, "test", e.perturbation,
                                          e.severity, None, None, f"{PROCESSED_ORIGIN}{e.path}"))
                elif e.split == "test":
                    a = assign_test(text, test_rank[e.path], spec)
                    if a.severity:
                        png = encode_png(apply_assignment(pixels, a))
                    records.append(Record(text, png, e.source, e.semantic, "test", a.perturbation,
                                          a.severity, a.perturbation_seed, None, f"release:{e.path}"))
                else:
                    records.append(Record(text, png, e.source, e.semantic, e.split, "none", 0, None,
                                          None, f"release:{e.path}"))
            if not problems.items:
                write_records(staging, records, preset, spec)
        bar.close()
        problems.raise_if_any(root)
        build = {"kind": "import-release", "release_root": str(root.resolve()),
                 "label_map": label_map.origin, "protocol": spec.protocol.to_dict(),
                 "sections": [{"title": "Provenance", "markdown": _provenance(
                     label_map, entries, processed_test, spec)}]}
        if processed_test is not None:
            build["processed_test"] = str(Path(processed_test).resolve())
        manifest = finalize(staging, RELEASE_PRESET, build, spec)
        if out.exists():
            out.rmdir()
        os.replace(staging, out)
        return manifest
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _provenance(label_map: LabelMap, entries: list[ReleaseEntry], processed_test, spec: Spec) -> str:
    """The card's provenance section of an import."""
    text = (f"Imported from the official Attribution88 release with `attribution88 import-release`; "
            f"indices mapped with `{label_map.origin}`. Splits are the release's. ")
    if processed_test is None:
        return text + (f"Test images were perturbed here by the spec's id-derived assignment, with "
                       f"the benchmark's protocol: {spec.protocol.describe()}.")
    tests = [e for e in entries if e.split == "test"]
    unknown = sum(e.perturbation == UNKNOWN_PERTURBATION for e in tests)
    text += (f"Test images come from the official processed test set, already perturbed by the "
             f"release (the RepMix code's ImageNet-C protocol), and are kept byte for byte "
             f"(`origin` starts with `{PROCESSED_ORIGIN}`). ")
    if unknown == len(tests):
        return text + ("The release's files do not say which perturbation each image carries: "
                       "they are recorded as `unknown`, so only the `default` config holds them "
                       "and the test subsets by perturbation condition cannot be built.")
    if unknown:
        return text + (f"The test CSV names the perturbation of {len(tests) - unknown:,} of them; "
                       f"{unknown:,} are recorded as `unknown` (in the `default` config only).")
    return text + "The test CSV names each image's perturbation and severity; every test subset is built."
