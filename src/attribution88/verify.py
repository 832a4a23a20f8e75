"""`attribution88 verify DIR_OR_REPO`: re-hash every shard and every image against the manifest,
and check every row against the spec.

What is reported, each problem naming its file or image id:
- shards listed in the manifest but missing, files present but not listed (extra), shards whose
  bytes changed (sha256), rows whose PNG bytes no longer match their `sha256` column;
- rows that break the spec: id and class columns disagree, a split or perturbation other than
  the one the id assigns, unseen perturbations outside the test split, unseen semantics in
  train or validation, images that are not 128x128 RGB PNGs, cells whose split sizes differ from
  the preset;
- a dataset card whose configs or class names disagree with the manifest.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from .digests import file_sha256
from .errors import Attribution88Error, SpecError, UsageError
from .format.card import card_metadata
from .format.dataset import condition_of
from .format.manifest import AUX_FILES, CARD, Manifest, read_manifest
from .format.reader import resolve
from .format.shards import ShardKey, read_shard
from .ids import assign, assign_test, parse_id, release_test_rank
from .release import PROCESSED_ORIGIN, RELEASE_PRESET
from .spec import SPEC, Spec, test_group

#: Folders a dataset folder may hold that are not part of the dataset (VCS, Hub download cache).
_IGNORED_DIRS = (".git", ".cache", ".huggingface")


@dataclass
class VerifyReport:
    root: str
    checked_shards: int = 0
    checked_images: int = 0
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    altered_shards: list[str] = field(default_factory=list)
    altered_images: list[str] = field(default_factory=list)
    spec_violations: list[str] = field(default_factory=list)
    card_problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.missing or self.extra or self.altered_shards or self.altered_images
                    or self.spec_violations or self.card_problems)

    def lines(self, limit: int = 20) -> list[str]:
        out = []
        for title, items in (("missing", self.missing), ("extra", self.extra),
                             ("altered shard", self.altered_shards), ("altered image", self.altered_images),
                             ("spec violation", self.spec_violations), ("card", self.card_problems)):
            out += [f"{title}: {x}" for x in items[:limit]]
            if len(items) > limit:
                out.append(f"{title}: ... and {len(items) - limit} more")
        out += [f"note: {n}" for n in self.notes]
        return out

    def summary(self) -> str:
        counts = (f"{len(self.missing)} missing, {len(self.extra)} extra, "
                  f"{len(self.altered_shards)} altered shard(s), {len(self.altered_images)} altered image(s), "
                  f"{len(self.spec_violations)} spec violation(s), {len(self.card_problems)} card problem(s)")
        verdict = "OK" if self.ok else "MISMATCH"
        return (f"{verdict}: {self.root}: {self.checked_shards} shards, {self.checked_images:,} images "
                f"checked; {counts}")


def _files(root: Path) -> set[str]:
    out = set()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in _IGNORED_DIRS]
        for name in filenames:
            out.add((Path(dirpath) / name).relative_to(root).as_posix())
    return out


def verify(path_or_repo: str | os.PathLike, *, progress: bool = False, spec: Spec = SPEC) -> VerifyReport:
    """Check a dataset folder (or Hub repository, downloaded first) completely."""
    from tqdm.auto import tqdm

    root = resolve(path_or_repo)
    report = VerifyReport(str(path_or_repo))
    manifest = read_manifest(root)
    if manifest.spec.get("version") != spec.version:
        raise SpecError(f"{root} was built with spec {manifest.spec.get('version')}, this attribution88 "
                        f"has spec {spec.version}: verify it with a matching attribution88 version")
    preset = None
    if manifest.preset != RELEASE_PRESET:
        try:
            preset = spec.preset(manifest.preset)
        except Attribution88Error:
            raise UsageError(f"{root}: manifest names an unknown preset {manifest.preset!r}") from None

    listed = {s.path: s for s in manifest.shards}
    present = _files(root)
    report.missing = sorted(p for p in listed if p not in present)
    report.extra = sorted(p for p in present if p not in listed and p not in AUX_FILES)
    if CARD not in present:
        report.card_problems.append(f"{CARD} (the dataset card) is missing")

    rows_by_cell: dict[str, list[tuple[str, str, str, int, int | None]]] = defaultdict(list)
    for rel in tqdm(sorted(p for p in listed if p in present), desc="verify", unit="shard", disable=not progress):
        info = listed[rel]
        report.checked_shards += 1
        if file_sha256(root / rel) != info.sha256:
            report.altered_shards.append(f"{rel} (sha256 differs from the manifest)")
        try:
            table = read_shard(root / rel)
        except Attribution88Error as e:
            report.altered_shards.append(f"{rel} (unreadable: {e})")
            continue
        if table.num_rows != info.rows:
            report.altered_shards.append(f"{rel} ({table.num_rows} rows, manifest says {info.rows})")
        _check_rows(table, ShardKey.from_path(rel), preset, report, rows_by_cell, spec)

    if manifest.preset == RELEASE_PRESET:
        _check_release_test_assignment(rows_by_cell, report, spec)
    if preset is not None and not report.missing:
        _check_cell_sizes(rows_by_cell, preset, report, spec)
    missing_cells = len(spec.cells()) - len(manifest.cells)
    if missing_cells:
        report.notes.append(f"partial dataset: {len(manifest.cells)} of {len(spec.cells())} cells")
    if CARD in present:
        _check_card(root, manifest, report, spec)
    return report


def _check_rows(table, key: ShardKey, preset, report: VerifyReport, rows_by_cell, spec: Spec) -> None:
    cols = table.to_pydict()
    for i, text in enumerate(cols["id"]):
        report.checked_images += 1
        where = f"{text} in {key.path}"
        image = cols["image"][i] or {}
        png = image.get("bytes") or b""
        if hashlib.sha256(png).hexdigest() != cols["sha256"][i]:
            report.altered_images.append(f"{where} (PNG bytes do not match its sha256)")
        else:
            # the processed test set's images are the release's files, byte for byte
            as_released = str(cols["origin"][i] or "").startswith(PROCESSED_ORIGIN)
            try:
                with Image.open(io.BytesIO(png)) as im:
                    if (im.format != "PNG" and not as_released) or im.mode != "RGB" \
                            or im.size != (spec.image_size, spec.image_size):
                        report.spec_violations.append(f"{where}: {im.format} {im.mode} {im.size[0]}x{im.size[1]}, "
                                                      f"expected a {spec.image_size}x{spec.image_size} RGB PNG")
            except Exception as e:  # noqa: BLE001 - any decoder failure is a finding
                report.spec_violations.append(f"{where}: not a readable PNG ({type(e).__name__})")
        try:
            iid = parse_id(text, spec)
        except Attribution88Error as e:
            report.spec_violations.append(f"{where}: {e}")
            continue
        source, semantic = cols["source"][i], cols["semantic"][i]
        split, pert, sev, pseed = cols["split"][i], cols["perturbation"][i], cols["severity"][i], cols["perturbation_seed"][i]
        problems = []
        if (iid.cell.source.index, iid.cell.semantic.index) != (source, semantic) or iid.cell.name != key.cell:
            problems.append(f"id says {iid.cell.name}, columns say source={source} semantic={semantic}, shard {key.cell}")
        if cols["is_fake"][i] != (source != 0):
            problems.append(f"is_fake={cols['is_fake'][i]} for source {source}")
        if split != key.split:
            problems.append(f"split column {split!r} in a {key.split} shard")
        if split in ("train", "validation") and not iid.cell.semantic.seen:
            problems.append(f"unseen semantic {iid.cell.semantic.name} in {split}")
        try:
            condition = condition_of(pert, spec)
        except Attribution88Error:
            problems.append(f"unknown perturbation {pert!r}")
            condition = None
        if condition and condition != "clean" and split != "test":
            problems.append(f"perturbation {pert} outside the test split")
        if condition and split == "test" and test_group(iid.cell.semantic.seen, condition) != key.group:
            problems.append(f"{condition} image in test group {key.group}")
        if preset is not None and not iid.imported:
            try:
                a = assign(text, preset, spec)
            except Attribution88Error as e:
                problems.append(str(e))
            else:
                if (a.split, a.perturbation, a.severity, a.perturbation_seed) != (split, pert, sev, pseed):
                    problems.append(f"recorded {split}/{pert}/{sev}/seed {pseed}, the spec assigns "
                                    f"{a.split}/{a.perturbation}/{a.severity}/seed {a.perturbation_seed}")
        report.spec_violations += [f"{where}: {p}" for p in problems]
        if not str(cols["origin"][i] or "").startswith(PROCESSED_ORIGIN):  # perturbed by the release
            rows_by_cell[iid.cell.name].append((text, split, pert, sev, pseed))


def _check_release_test_assignment(rows_by_cell, report: VerifyReport, spec: Spec) -> None:
    """Imported test images: the perturbation follows from their rank among the cell's test
    images (sorted by id, which is sorted by release path)."""
    for cell_name, rows in rows_by_cell.items():
        tests = sorted(r for r in rows if r[1] == "test")
        if not tests:
            continue
        cell = parse_id(tests[0][0], spec).cell
        for j, (text, _, pert, sev, pseed) in enumerate(tests):
            a = assign_test(text, release_test_rank(j, len(tests), cell, spec), spec)
            if (a.perturbation, a.severity, a.perturbation_seed) != (pert, sev, pseed):
                report.spec_violations.append(
                    f"{text}: recorded {pert}/{sev}/seed {pseed}, the spec assigns "
                    f"{a.perturbation}/{a.severity}/seed {a.perturbation_seed}")


def _check_cell_sizes(rows_by_cell, preset, report: VerifyReport, spec: Spec) -> None:
    for cell_name, rows in sorted(rows_by_cell.items()):
        cell = parse_id(rows[0][0], spec).cell
        got: dict[str, int] = defaultdict(int)
        for r in rows:
            got[r[1]] += 1
        want = preset.split_sizes(cell.semantic)
        if dict(got) != want:
            report.spec_violations.append(f"cell {cell_name}: split sizes {dict(sorted(got.items()))}, "
                                          f"preset {preset.name} says {want}")


def _check_card(root: Path, manifest: Manifest, report: VerifyReport, spec: Spec) -> None:
    import yaml

    text = (root / CARD).read_text(encoding="utf-8", errors="replace")
    if not text.startswith("---"):
        report.card_problems.append(f"{CARD} has no YAML header")
        return
    try:
        header = yaml.safe_load(text.split("---", 2)[1]) or {}
    except yaml.YAMLError as e:
        report.card_problems.append(f"{CARD} YAML header does not parse ({type(e).__name__})")
        return
    from huggingface_hub import DatasetCardData

    want = yaml.safe_load(DatasetCardData(**card_metadata(manifest, spec)).to_yaml())
    if header.get("configs") != want["configs"]:
        report.card_problems.append(f"{CARD} configs differ from those the manifest's shards make")
    if header.get("dataset_info") != want["dataset_info"]:
        report.card_problems.append(f"{CARD} dataset_info (features, class names or split sizes) "
                                    f"differs from the manifest")
