"""Writing a dataset folder: from records to shards, then manifest and card.

Used by every producer of data (the build pipeline, `import-release`), so that there is one
way a dataset folder comes to be:

1. `prepare_output_dir` checks the folder is new, empty or an unfinished build of the same
   preset (and refuses a Python package folder: a build never writes into source code);
2. `write_records` groups records into shards, each written atomically;
3. `finalize` scans the shards, writes `manifest.json` and `README.md` (atomically too).
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

from ..errors import DatasetFormatError, UsageError
from ..ids import Assignment, assign, image_id
from ..spec import (NO_PERTURBATION, SPEC, UNKNOWN_CONDITION, UNKNOWN_PERTURBATION, Cell, Preset,
                    Spec, test_group)
from .card import render_card
from ..atomic import TMP_GLOB, write_json, write_text
from .manifest import AUX_FILES, MANIFEST, Manifest, read_manifest, scan_manifest
from .schema import Record
from .shards import DATA_DIR, ShardInfo, ShardKey, write_shard

#: The folder `attribution88 build` writes to, so that `load_dataset("attribution88")` works.
DEFAULT_OUTPUT = "attribution88"


def condition_of(perturbation: str, spec: Spec = SPEC) -> str:
    """clean / seen_pert / unseen_pert for a recorded perturbation name (unknown_pert for a
    release's already-perturbed image whose perturbation its files do not name)."""
    if perturbation == NO_PERTURBATION:
        return "clean"
    if perturbation == UNKNOWN_PERTURBATION:
        return UNKNOWN_CONDITION
    return "seen_pert" if spec.perturbation(perturbation).seen else "unseen_pert"


def shard_group(record: Record, spec: Spec = SPEC) -> str | None:
    """The test group of a record (None outside the test split)."""
    if record.split != "test":
        return None
    return test_group(spec.semantic(record.semantic).seen, condition_of(record.perturbation, spec))


def _is_python_package(path: Path) -> bool:
    return (path / "__init__.py").exists() or any(path.glob("*.py")) or (path / "pyproject.toml").exists()


def prepare_output_dir(root: str | os.PathLike, preset: str, spec: Spec = SPEC) -> Path:
    """Check that ``root`` may receive a build of ``preset`` and create it.

    Accepted: a missing or empty folder, an unfinished build (only shards and temporary files),
    or a finished build of the same preset and spec version (new cells are added to it).
    """
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise UsageError(f"{root} exists and is not a folder; choose another output with --out")
    if root.is_dir():
        if _is_python_package(root):
            raise UsageError(
                f"{root} is a Python source folder, not a dataset folder: run from another "
                f"directory or pass --out DIR")
        foreign = [p.name for p in root.iterdir()
                   if p.name not in AUX_FILES and p.name != DATA_DIR and not p.name.startswith(".")]
        if foreign:
            raise UsageError(f"{root} holds files that are not part of an attribution88 dataset "
                             f"({', '.join(sorted(foreign)[:3])}); choose an empty folder with --out")
        if (root / MANIFEST).exists():
            m = read_manifest(root)
            if m.preset != preset or m.spec.get("version") != spec.version:
                raise UsageError(
                    f"{root} holds a build of preset {m.preset!r} (spec {m.spec.get('version')}); "
                    f"this is preset {preset!r} (spec {spec.version}): choose another --out")
    root.mkdir(parents=True, exist_ok=True)
    return root


def write_records(root: str | os.PathLike, records: Iterable[Record], preset: Preset,
                  spec: Spec = SPEC, *, notes: dict | None = None,
                  skip_existing: bool = False) -> list[ShardInfo]:
    """Group records into shards (split, test group, cell; sorted by id; at most
    ``preset.rows_per_shard`` rows each) and write each atomically. ``notes`` (how the cells
    were made) go into every shard's footer; with ``skip_existing``, shards already complete
    on disk are kept as they are (a resumed build)."""
    groups: dict[tuple, list[Record]] = defaultdict(list)
    for r in records:
        cell = Cell(spec.source(r.source), spec.semantic(r.semantic)).name
        groups[(r.split, shard_group(r, spec), cell)].append(r)
    written = []
    for (split, group, cell), rows in sorted(groups.items(), key=lambda kv: (kv[0][0], kv[0][1] or "", kv[0][2])):
        rows.sort(key=lambda r: r.id)
        ids = [r.id for r in rows]
        if len(set(ids)) != len(ids):
            raise DatasetFormatError(f"duplicate image ids in {split}/{cell}")
        n = preset.rows_per_shard
        for part, start in enumerate(range(0, len(rows), n)):
            key = ShardKey(split, group, cell, part)
            if skip_existing and (Path(root) / key.path).is_file():
                continue
            written.append(write_shard(root, key, rows[start:start + n], preset=preset.name,
                                       notes=notes, spec=spec))
    return written


def plan_cell(cell: Cell, preset: Preset, spec: Spec = SPEC) -> dict[ShardKey, list[Assignment]]:
    """Every shard a built cell will have, with the assignments of the images it holds — known
    before any image is made, so a resumed build can tell which shards are still missing."""
    by_key: dict[tuple, list[Assignment]] = defaultdict(list)
    for index in range(preset.cell_size(cell.semantic)):
        a = assign(image_id(cell, index), preset, spec)
        group = test_group(cell.semantic.seen, a.condition) if a.condition else None
        by_key[(a.split, group)].append(a)
    plan = {}
    for (split, group), items in by_key.items():
        items.sort(key=lambda a: a.id)
        n = preset.rows_per_shard
        for part, start in enumerate(range(0, len(items), n)):
            plan[ShardKey(split, group, cell.name, part)] = items[start:start + n]
    return plan


def cell_notes(root: str | os.PathLike) -> dict[str, dict]:
    """The notes the shards of each cell carry (how it was made), read from the footers of the
    first shard of every cell; cells without notes are left out."""
    from .shards import list_shards, read_shard_metadata

    notes: dict[str, dict] = {}
    for rel in list_shards(root):
        cell = ShardKey.from_path(rel).cell
        if cell not in notes:
            notes[cell] = read_shard_metadata(Path(root) / rel).get("notes") or {}
    return {c: n for c, n in sorted(notes.items()) if n}


def finalize(root: str | os.PathLike, preset: str, build: dict, spec: Spec = SPEC) -> Manifest:
    """Scan the shards, then write `manifest.json` and the dataset card atomically. Leftover
    temporary files of killed writers are removed first."""
    root = Path(root)
    for tmp in (root / DATA_DIR).rglob(TMP_GLOB):
        tmp.unlink(missing_ok=True)
    manifest = scan_manifest(root, preset, build, spec)
    if not manifest.shards:
        raise DatasetFormatError(f"{root}: no shards were written")
    write_json(root / MANIFEST, manifest.to_dict())
    write_text(root / "README.md", render_card(manifest, spec))
    return manifest
