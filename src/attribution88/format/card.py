"""The dataset card (`README.md`): YAML metadata that `datasets` and the Hub read — configs
with their data files, `dataset_info` with features (class names included) and split sizes,
license, citation — and a human-readable description rendered from the manifest.

Configs are derived from the spec and from the shards present: `default` (train / validation /
test), one config per test subset of the spec, and `reserve`. A config or split with no shard
(a single-cell build, a preset without reserve) is left out, since `load_dataset` refuses a
pattern that matches nothing.
"""

from __future__ import annotations

from ..spec import DEFAULT_SPLITS, SPEC, Spec
from .manifest import Manifest
from .schema import COLUMNS, features
from .shards import DATA_DIR

#: Name of the config holding the reserve split (unseen-semantic images outside the test).
RESERVE_CONFIG = "reserve"


def _split_patterns(split: str, groups: tuple[str, ...] | None) -> list[str]:
    if split != "test":
        return [f"{DATA_DIR}/{split}/*.parquet"]
    if groups is None:
        return [f"{DATA_DIR}/test/*/*.parquet"]
    return [f"{DATA_DIR}/test/{g}/*.parquet" for g in groups]


def config_table(manifest: Manifest, spec: Spec = SPEC) -> dict[str, dict[str, tuple[str, ...] | None]]:
    """Config name -> split name -> test groups (None: every group; only for `test`), for
    the configs and splits that have at least one shard."""
    present_groups = {s.group for s in manifest.shards if s.group}
    present_splits = {s.split for s in manifest.shards}
    table: dict[str, dict[str, tuple[str, ...] | None]] = {}
    default = {s: None for s in DEFAULT_SPLITS if s in present_splits}
    if default:
        table["default"] = default
    for subset in spec.subsets:
        groups = tuple(g for g in subset.groups() if g in present_groups)
        if groups:
            table[subset.name] = {"test": groups}
    if "reserve" in present_splits:
        table[RESERVE_CONFIG] = {"reserve": None}
    return table


def _rows(manifest: Manifest, split: str, groups: tuple[str, ...] | None) -> tuple[int, int]:
    shards = [s for s in manifest.shards if s.split == split and (groups is None or s.group in groups)]
    return sum(s.rows for s in shards), sum(s.bytes for s in shards)


def card_metadata(manifest: Manifest, spec: Spec = SPEC) -> dict:
    """The YAML header of the card, as a dict."""
    from datasets.info import DatasetInfo
    from datasets.splits import SplitDict, SplitInfo

    configs, infos = [], []
    for name, splits in config_table(manifest, spec).items():
        entry: dict = {"config_name": name, "data_files": [
            {"split": split, "path": _split_patterns(split, groups)} for split, groups in splits.items()]}
        if name == "default":
            entry["default"] = True
        configs.append(entry)
        split_dict = SplitDict()
        for split, groups in splits.items():
            n, nbytes = _rows(manifest, split, groups)
            split_dict.add(SplitInfo(name=split, num_bytes=nbytes, num_examples=n))
        info = DatasetInfo(features=features(spec), splits=split_dict,
                           download_size=sum(_rows(manifest, s, g)[1] for s, g in splits.items()))
        infos.append({"config_name": name, **info._to_yaml_dict()})
    n = manifest.rows()
    size = ("n<1K" if n < 1_000 else "1K<n<10K" if n < 10_000 else "10K<n<100K" if n < 100_000
            else "100K<n<1M" if n < 1_000_000 else "1M<n<10M")
    return {
        "license": spec.license,
        "pretty_name": spec.name,
        "task_categories": ["image-classification"],
        "tags": ["image-forensics", "gan", "synthetic-image-attribution", "deepfake-detection",
                 "imagenet-c", "attribution88"],
        "size_categories": [size],
        "configs": configs,
        "dataset_info": infos,
    }


def _table(header: list[str], rows: list[list[object]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def render_card(manifest: Manifest, spec: Spec = SPEC) -> str:
    """The whole `README.md` of a dataset folder."""
    from huggingface_hub import DatasetCardData

    header = DatasetCardData(**card_metadata(manifest, spec)).to_yaml()
    counts = manifest.counts()
    build = manifest.build
    parts = [f"---\n{header}\n---", f"# {spec.name}"]
    for warning in build.get("warnings", []):
        parts.append(f"> **Note.** {warning}")
    parts.append(
        f"Attribution88 is the benchmark of synthetic-image attribution introduced with RepMix "
        f"(Bui, Yu and Collomosse, ECCV 2022): tell whether a {spec.image_size}x{spec.image_size} "
        f"image is real and, if not, which of 7 GAN architectures made it, across "
        f"{len(spec.semantics)} semantics and under the ImageNet-C perturbations images suffer "
        f"when re-shared. This folder was made by the `attribution88` toolkit "
        f"(version {manifest.tool_version}).")
    parts.append(_table(["", ""], [
        ["spec version", spec.version], ["perturbation protocol", spec.protocol.describe()],
        ["preset", manifest.preset],
        ["made by", build.get("kind", "?")], ["images", f"{counts['total']:,}"],
        ["cells", f"{len(manifest.cells)} of {len(spec.cells())}"],
        ["fingerprint", f"`{manifest.fingerprint}`"]]))

    parts.append("## Loading\n\n```python\nfrom datasets import load_dataset\n"
                  "ds = load_dataset(PATH_OR_REPO)                # train / validation / test\n"
                  "unseen = load_dataset(PATH_OR_REPO, \"test_unseen_perturbations\", split=\"test\")\n"
                  "ds[\"train\"].features[\"source\"].int2str(0)   # 'real'\n```")

    sources = spec.source_names
    rows = []
    for split, n in counts["splits"].items():
        per_source = [sum(v.get(split, 0) for c, v in counts["cells"].items()
                          if c.startswith(f"{src}-")) for src in sources]
        rows.append([split, f"{n:,}"] + [f"{x:,}" for x in per_source])
    parts.append("## Splits\n\n" + _table(["split", "images"] + sources, rows))

    subset_rows = [[name, ", ".join(splits), f"{sum(_rows(manifest, s, g)[0] for s, g in splits.items()):,}",
                    next((t.description for t in spec.subsets if t.name == name),
                         "train / validation / test" if name == "default"
                         else "unseen-semantic images outside the test split")]
                   for name, splits in config_table(manifest, spec).items()]
    parts.append("## Configs\n\n" + _table(["config", "splits", "images", "what"], subset_rows))

    seen = [s.name for s in spec.semantics if s.seen]
    unseen = [s.name for s in spec.semantics if not s.seen]
    parts.append(
        "## Protocol\n\n"
        f"- Sources (class index): {', '.join(f'{i} {n}' for i, n in enumerate(sources))}.\n"
        f"- Seen semantics (train, validation, test): {', '.join(seen)}.\n"
        f"- Unseen semantics (test only): {', '.join(unseen)}.\n"
        f"- Seen perturbations (training augmentation with p = {spec.protocol.train_probability}): "
        f"{', '.join(f'{p.index} {p.name}' for p in spec.seen_perturbations())}.\n"
        f"- Unseen perturbations (test only): "
        f"{', '.join(f'{p.index} {p.name}' for p in spec.unseen_perturbations())}.\n"
        f"- Test images are clean, or carry one seen or one unseen perturbation (equal shares), "
        f"severity 1-5; the choice and its seed derive from the image id, so the test split is "
        f"the same on every machine.\n"
        f"- Perturbation protocol `{spec.protocol.flavour}`, as the official RepMix code applies "
        f"ImageNet-C: the image is resized ({spec.protocol.resize}) to {spec.protocol.work_size} px, "
        f"put in {spec.protocol.channel_order} channel order, corrupted with the "
        f"{'original ImageNet-C (imagenet_c)' if spec.protocol.flavour == 'repmix' else spec.protocol.flavour} "
        f"definitions, returned to RGB and resized back.\n"
        f"- Images are stored as lossless PNG: JPEG would destroy the fingerprints studied.")
    parts.append("## Columns\n\n" + _table(["column", "meaning"], [[f"`{k}`", v] for k, v in COLUMNS.items()]))
    for section in build.get("sections", []):
        parts.append(f"## {section['title']}\n\n{section['markdown']}")
    parts.append(f"## License and citation\n\nLicense: {spec.license.upper()}, as the official "
                 f"release of Attribution88.\n\n```bibtex\n{spec.citation}\n```")
    return "\n\n".join(parts) + "\n"
