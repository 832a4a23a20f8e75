"""The dataset format: shards, manifest, card, and the round trip through `load_dataset` for
every config, locally and streaming, with class names intact."""

import json

import datasets
import numpy as np
import pyarrow.parquet as pq
import pytest

from attribution88.errors import DatasetFormatError, DatasetNotFoundError, UsageError
from attribution88.format.card import config_table
from attribution88.format.dataset import prepare_output_dir
from attribution88.format.manifest import read_manifest
from attribution88.format.reader import read_table, resolve
from attribution88.format.shards import ShardKey
from attribution88.spec import SPEC


def _load(root, *args, **kw):
    return datasets.load_dataset(str(root), *args, **kw)


def test_manifest_counts_match_the_preset(tiny_dataset):
    m = read_manifest(tiny_dataset)
    mini = SPEC.preset("mini")
    assert len(m.cells) == 88
    for cell in SPEC.cells():
        assert m.counts()["cells"][cell.name] == mini.split_sizes(cell.semantic)
    assert m.counts()["total"] == sum(mini.cell_size(c.semantic) for c in SPEC.cells())
    assert m.spec["version"] == SPEC.version and len(m.fingerprint) == 64


def test_every_shard_is_hashed_in_the_manifest(tiny_dataset):
    import hashlib
    for s in read_manifest(tiny_dataset).shards:
        assert hashlib.sha256((tiny_dataset / s.path).read_bytes()).hexdigest() == s.sha256
        assert ShardKey.from_path(s.path).cell == s.cell


def test_class_names_are_in_the_shard_schema(tiny_dataset):
    shard = next((tiny_dataset / "data" / "train").glob("*.parquet"))
    meta = json.loads(pq.read_schema(shard).metadata[b"huggingface"])
    assert meta["info"]["features"]["source"]["names"] == SPEC.source_names
    assert meta["info"]["features"]["semantic"]["names"] == SPEC.semantic_names


def test_card_declares_configs_license_and_citation(tiny_dataset):
    card = (tiny_dataset / "README.md").read_text()
    header = card.split("---")[1]
    assert "license: cc-by-4.0" in header
    for name in ["default", "test_seen", "test_unseen_semantics", "test_unseen_perturbations",
                 "test_unseen_both", "test_clean"]:
        assert f"config_name: {name}" in header
    assert "'0': real" in header and "bui2022repmix" in card


def test_load_default_config_decodes_images_with_class_names(tiny_dataset):
    ds = _load(tiny_dataset)
    assert set(ds) == {"train", "validation", "test"}
    assert ds["train"].features["source"].names == SPEC.source_names
    assert ds["test"].features["semantic"].names == SPEC.semantic_names
    row = ds["test"][0]
    assert row["image"].mode == "RGB" and row["image"].size == (128, 128)
    assert ds["test"].num_rows == read_manifest(tiny_dataset).rows("test")


@pytest.mark.parametrize("subset", [s.name for s in SPEC.subsets])
def test_every_test_subset_config_loads_what_the_spec_says(tiny_dataset, subset):
    ds = _load(tiny_dataset, subset, split="test")
    spec_subset = SPEC.subset(subset)
    seen_unseen = {p.name: p.seen for p in SPEC.perturbations}
    assert ds.num_rows > 0
    for row in ds.select_columns(["semantic", "perturbation"]):
        sem = SPEC.semantic(row["semantic"])
        if spec_subset.semantics != "all":
            assert sem.seen == (spec_subset.semantics == "seen")
        cond = "clean" if row["perturbation"] == "none" else ("seen_pert" if seen_unseen[row["perturbation"]] else "unseen_pert")
        assert cond in spec_subset.conditions


def test_unseen_perturbations_and_semantics_stay_out_of_training(tiny_dataset):
    unseen_p = {p.name for p in SPEC.unseen_perturbations()}
    unseen_s = {s.index for s in SPEC.semantics if not s.seen}
    for split in ("train", "validation"):
        t = read_table(tiny_dataset, "default", split, columns=["perturbation", "semantic"]).to_pydict()
        assert set(t["perturbation"]) == {"none"}
        assert not unseen_s & set(t["semantic"])
    test = read_table(tiny_dataset, "default", "test", columns=["perturbation"]).to_pydict()
    assert unseen_p <= set(test["perturbation"])


def test_streaming_decodes_with_class_names(tiny_dataset):
    ds = _load(tiny_dataset, "test_unseen_perturbations", streaming=True)
    assert ds["test"].features["source"].names == SPEC.source_names
    rows = list(ds["test"].take(3))
    assert len(rows) == 3 and all(r["image"].mode == "RGB" for r in rows)
    assert all(r["perturbation"] in {"glass_blur", "motion_blur", "zoom_blur", "snow"} for r in rows)


def test_load_dataset_by_the_default_name_from_the_working_directory(tiny_dataset, monkeypatch):
    monkeypatch.chdir(tiny_dataset.parent)
    ds = datasets.load_dataset("attribution88", split="validation")
    assert ds.num_rows == read_manifest(tiny_dataset).rows("validation")


def test_the_source_package_folder_is_not_taken_for_a_dataset(tmp_path):
    pkg = tmp_path / "attribution88"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    with pytest.raises(UsageError, match="Python source folder"):
        prepare_output_dir(pkg, "mini")
    with pytest.raises(UsageError, match="package folder"):
        resolve(pkg)


def test_output_folder_of_another_preset_is_refused(tiny_dataset):
    with pytest.raises(UsageError, match="preset 'mini'"):
        prepare_output_dir(tiny_dataset, "full")


def test_folder_with_foreign_files_is_refused(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="notes.txt"):
        prepare_output_dir(tmp_path, "mini")
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_resolve_errors(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="no such dataset"):
        resolve(tmp_path / "nothing-here")
    with pytest.raises(DatasetNotFoundError, match="manifest"):
        resolve(tmp_path)


def test_configs_only_list_present_shards(tmp_path, make_tiny_dataset):
    root = tmp_path / "one-cell"
    m = make_tiny_dataset(root, cells=[SPEC.cell("stylegan2", "dog")])
    table = config_table(m)
    assert set(table) == {"default", "test_unseen_semantics", "test_unseen_both", "test_clean"}
    assert list(table["default"]) == ["test"]  # an unseen semantic has no train/validation
    ds = datasets.load_dataset(str(root), "test_unseen_both", split="test")
    assert ds.num_rows == 4


def test_shard_path_parsing_rejects_foreign_names():
    with pytest.raises(DatasetFormatError):
        ShardKey.from_path("data/train/whatever.parquet")
    with pytest.raises(DatasetFormatError):
        ShardKey.from_path("data/test/real-celeba-00000.parquet")  # test shards live in a group
    key = ShardKey.from_path("data/test/unseen_sem-clean/real-dog-00003.parquet")
    assert (key.split, key.group, key.cell, key.part) == ("test", "unseen_sem-clean", "real-dog", 3)


def test_writes_are_deterministic(tmp_path, make_tiny_dataset):
    cells = [SPEC.cell("real", "cat"), SPEC.cell("sngan", "boat")]
    a = make_tiny_dataset(tmp_path / "a", cells=cells)
    b = make_tiny_dataset(tmp_path / "b", cells=list(reversed(cells)))
    assert a.fingerprint == b.fingerprint
    assert np.array_equal(np.frombuffer((tmp_path / "a" / "README.md").read_bytes(), np.uint8),
                          np.frombuffer((tmp_path / "b" / "README.md").read_bytes(), np.uint8))
