"""`attribution88 import-release`: a release-layout tree made by the test is converted; broken
trees give one error listing every problem, and leave nothing behind."""

import csv

import datasets
import numpy as np
import pytest
from PIL import Image

from attribution88.cli import main
from attribution88.errors import ReleaseImportError
from attribution88.format.manifest import read_manifest
from attribution88.release import LabelMap, import_release
from attribution88.spec import SPEC
from attribution88.verify import verify

# (label, dlabel) -> images per split in the tree the tests make
CELLS = {(0, 0): {"train": 6, "val": 2, "test": 6},   # real / celeba (seen)
         (2, 1): {"train": 6, "val": 2, "test": 6},   # stylegan2 / bedroom (seen)
         (7, 9): {"test": 6}}                         # sngan / dog (unseen: test only)


def _image(rng, size=128):
    coarse = rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)
    return Image.fromarray(coarse).resize((size, size), Image.Resampling.BICUBIC)


def make_release(root, jpeg_every=5):
    """A tree in the official release's layout: split CSVs with path,label,dlabel."""
    rng = np.random.default_rng(0)
    rows = {"train.csv": [], "val.csv": [], "test.csv": []}
    n = 0
    for (label, dlabel), splits in CELLS.items():
        for split, count in splits.items():
            for _ in range(count):
                ext = "jpg" if n % jpeg_every == 0 else "png"
                rel = f"images/{label}_{dlabel}/{n:06d}.{ext}"
                (root / rel).parent.mkdir(parents=True, exist_ok=True)
                _image(rng).save(root / rel)
                rows[f"{split}.csv"].append({"path": rel, "label": label, "dlabel": dlabel})
                n += 1
    for name, items in rows.items():
        with open(root / name, "w", newline="") as f:
            w = csv.DictWriter(f, ["path", "label", "dlabel"])
            w.writeheader()
            w.writerows(items)
    return root


def test_release_tree_is_imported(tmp_path):
    release = make_release(tmp_path / "release")
    out = tmp_path / "attribution88"
    m = import_release(release, out, progress=False)
    counts = m.counts()
    assert counts["splits"] == {"test": 18, "train": 12, "validation": 4}
    assert set(m.cells) == {"real-celeba", "stylegan2-bedroom", "sngan-dog"}
    assert verify(out).ok
    ds = datasets.load_dataset(str(out))
    assert ds["train"].features["source"].names == SPEC.source_names
    ids = ds["test"]["id"]
    assert all("-r" in i for i in ids)
    test = ds["test"].select_columns(["perturbation", "origin", "semantic"]).to_list()
    assert {r["perturbation"] for r in test} - {"none"}, "test images are perturbed by the spec"
    assert all(r["origin"].startswith("release:images/") for r in test)


def test_clean_png_bytes_are_kept_and_jpegs_become_png(tmp_path):
    release = make_release(tmp_path / "release", jpeg_every=2)
    out = tmp_path / "out"
    import_release(release, out, progress=False)
    rows = datasets.load_dataset(str(out), split="train").cast_column(
        "image", datasets.Image(decode=False)).to_list()
    for r in rows:
        src = release / r["origin"].removeprefix("release:")
        png = r["image"]["bytes"]
        assert png.startswith(b"\x89PNG")
        if src.suffix == ".png":
            assert png == src.read_bytes()
        else:  # decoded pixels are kept exactly
            assert np.array_equal(np.asarray(Image.open(src).convert("RGB")),
                                  np.asarray(Image.open(__import__("io").BytesIO(png))))


def test_import_is_deterministic(tmp_path):
    release = make_release(tmp_path / "release")
    a = import_release(release, tmp_path / "a", progress=False)
    b = import_release(release, tmp_path / "b", progress=False)
    assert a.fingerprint == b.fingerprint


def _break(root, csv_name, row):
    with open(root / csv_name, "a", newline="") as f:
        csv.writer(f).writerow(row)


def test_every_problem_is_listed_and_nothing_is_left_behind(tmp_path):
    release = make_release(tmp_path / "release")
    _break(release, "train.csv", ["images/missing.png", 0, 0])
    _break(release, "train.csv", ["images/0_0/000000.png", 9, 0])       # unknown label (and dup path)
    _break(release, "val.csv", ["images/extra.png", 0, 12])               # unknown dlabel
    _break(release, "train.csv", ["images/7_9/000028.png", 7, 9])        # unseen semantic in train
    out = tmp_path / "out"
    with pytest.raises(ReleaseImportError) as e:
        import_release(release, out, progress=False)
    msg = str(e.value)
    assert "missing file images/missing.png" in msg
    assert "unknown label 9" in msg and "unknown dlabel 12" in msg
    assert "unseen semantic" in msg and "4 problem(s)" in msg
    assert not out.exists() and not list(tmp_path.glob(".out.importing-*"))


def test_unreadable_and_wrong_size_images_are_listed(tmp_path):
    release = make_release(tmp_path / "release")
    bad = release / "images/0_0/000001.png"
    bad.write_bytes(b"not an image at all")
    _image(np.random.default_rng(1), size=64).save(release / "images/2_1/000016.png")
    out = tmp_path / "out"
    with pytest.raises(ReleaseImportError) as e:
        import_release(release, out, progress=False)
    assert "000001.png: not a readable image" in str(e.value)
    assert "000016.png: 64x64, expected 128x128" in str(e.value)
    assert not out.exists() and not list(tmp_path.glob(".out.importing-*"))


def test_missing_split_files_and_columns(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ReleaseImportError, match="none of the split files"):
        import_release(tmp_path / "empty", tmp_path / "out", progress=False)
    release = make_release(tmp_path / "release")
    (release / "test.csv").write_text("file,label\nx.png,0\n")
    with pytest.raises(ReleaseImportError, match="missing column"):
        import_release(release, tmp_path / "out", progress=False)


def test_custom_label_map(tmp_path):
    bad = tmp_path / "map.toml"
    bad.write_text('[label]\n0 = "real"\n1 = "notagan"\n[dlabel]\n0 = "celeba"\n[splits]\n"train.csv" = "train"\n')
    with pytest.raises(ReleaseImportError, match="notagan"):
        LabelMap.load(bad)
    default = LabelMap.load()
    assert default.label[0] == "real" and default.splits["val.csv"] == "validation"
    assert sorted(default.label.values()) == sorted(SPEC.source_names)
    assert sorted(default.dlabel.values()) == sorted(SPEC.semantic_names)


def test_cli_refuses_a_non_empty_output_with_one_line(tmp_path, capsys):
    release = make_release(tmp_path / "release")
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("precious")
    assert main(["import-release", str(release), "--out", str(out), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not empty" in err
    assert (out / "keep.txt").read_text() == "precious"


def test_cli_imports(tmp_path, capsys):
    release = make_release(tmp_path / "release")
    out = tmp_path / "out"
    assert main(["import-release", str(release), "--out", str(out), "--no-progress"]) == 0
    assert "imported 34 images" in capsys.readouterr().out
    assert read_manifest(out).build["kind"] == "import-release"
