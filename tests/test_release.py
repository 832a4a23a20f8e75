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


def make_processed(release, processed, *, name_perturbations, jpeg_every=4):
    """The processed test set beside a release: the test CSV's images, already perturbed (here:
    noise added by the test), at the same relative paths; optionally a test CSV naming each
    image's perturbation. Returns {relative path: (perturbation, severity)}."""
    from attribution88 import perturb

    rows = list(csv.DictReader(open(release / "test.csv", newline="")))
    named = {}
    names = SPEC.perturbation_names
    for k, row in enumerate(rows):
        src = Image.open(release / row["path"]).convert("RGB")
        pert, sev = ("none", 0) if k % 3 == 0 else (names[k % len(names)], 1 + k % 5)
        pixels = np.asarray(src) if pert == "none" else perturb.apply(np.asarray(src), "gaussian_noise", 2, k)
        dst = processed / row["path"]
        dst.parent.mkdir(parents=True, exist_ok=True)
        fmt = "JPEG" if k % jpeg_every == 1 else "PNG"
        Image.fromarray(pixels).save(dst, format=fmt)
        named[row["path"]] = (pert, sev)
        if name_perturbations:
            # both spellings the reader takes: the name, and the official corruption number
            row["perturbation"] = pert if k % 2 else str(SPEC.perturbation(pert).index) if pert != "none" else ""
            row["severity"] = str(sev) if pert != "none" else ""
    if name_perturbations:
        with open(processed / "test.csv", "w", newline="") as f:
            w = csv.DictWriter(f, ["path", "label", "dlabel", "perturbation", "severity"])
            w.writeheader()
            w.writerows(rows)
    return named


@pytest.mark.parametrize("name_perturbations", [False, True])
def test_processed_test_set_is_kept_byte_for_byte(tmp_path, name_perturbations):
    release = make_release(tmp_path / "release")
    processed = tmp_path / "processed"
    named = make_processed(release, processed, name_perturbations=name_perturbations)
    splits = None
    if name_perturbations:  # the processed set's own test.csv, the release's train/val
        splits = tmp_path / "splits"
        splits.mkdir()
        for f in ("train.csv", "val.csv"):
            (splits / f).write_bytes((release / f).read_bytes())
        (splits / "test.csv").write_bytes((processed / "test.csv").read_bytes())
    out = tmp_path / "out"
    m = import_release(release, out, processed_test=processed, splits_dir=splits, progress=False)
    assert m.build["processed_test"] == str(processed.resolve())
    assert m.spec["version"] == SPEC.version and m.spec["protocol"]["flavour"] == "repmix"
    test = datasets.load_dataset(str(out), split="test").cast_column(
        "image", datasets.Image(decode=False)).to_list()
    assert len(test) == len(named) == 18
    for r in test:
        rel = r["origin"].removeprefix("release-processed:")
        assert r["origin"].startswith("release-processed:")
        assert r["image"]["bytes"] == (processed / rel).read_bytes()  # never re-encoded or re-perturbed
        assert r["perturbation_seed"] is None
        if name_perturbations:
            assert (r["perturbation"], r["severity"]) == named[rel]
        else:
            assert (r["perturbation"], r["severity"]) == ("unknown", 0)
    report = verify(out)
    assert report.ok, report.spec_violations[:3]
    card = (out / "README.md").read_text()
    assert "processed test set" in card and "byte for byte" in card
    configs = {c["config_name"] for c in __import__("attribution88.format.card", fromlist=["x"]).card_metadata(m)["configs"]}
    if name_perturbations:
        assert {"test_seen", "test_unseen_perturbations", "test_clean"} <= configs
    else:  # the condition of an image is unknown: no subset can be built
        assert configs == {"default"}
        assert "cannot be built" in card


def test_processed_test_set_is_scored_with_unknown_perturbations(tmp_path):
    from attribution88.eval import load_truth
    from attribution88.eval.breakdown import breakdowns

    release = make_release(tmp_path / "release")
    make_processed(release, tmp_path / "processed", name_perturbations=False)
    import_release(release, tmp_path / "out", processed_test=tmp_path / "processed", progress=False)
    truth = load_truth(tmp_path / "out")
    assert truth.info.protocol["flavour"] == "repmix" and truth.info.protocol_name == "repmix/BGR"
    _, groups = breakdowns(truth)
    by_name = {b.name: [g for g, _ in b.groups] for b in groups}
    assert by_name["perturbation"] == ["unknown"] and "subset" not in by_name
    assert set(by_name["test_group"]) == {"seen_sem-unknown_pert", "unseen_sem-unknown_pert"}


def test_processed_test_set_problems_are_listed(tmp_path):
    release = make_release(tmp_path / "release")
    processed = tmp_path / "processed"
    make_processed(release, processed, name_perturbations=True)
    rows = (processed / "test.csv").read_text().splitlines()
    rows[2] = rows[2].rsplit(",", 2)[0] + ",fog,9"          # severity out of range
    rows[3] = rows[3].rsplit(",", 2)[0] + ",sunburn,2"      # unknown perturbation
    rows[4] = rows[4].rsplit(",", 2)[0] + ",23,2"           # corruption number out of range
    (processed / "test.csv").write_text("\n".join(rows) + "\n")
    first = csv.DictReader(open(processed / "test.csv")).__next__()["path"]
    (processed / first).unlink()
    with pytest.raises(ReleaseImportError) as e:
        import_release(release, tmp_path / "out", processed_test=processed, splits_dir=processed,
                       progress=False)
    msg = str(e.value)
    assert "severity '9' for fog" in msg and "unknown perturbation 'sunburn'" in msg
    assert "perturbation number 23" in msg and "in the processed test set" in msg
    assert not (tmp_path / "out").exists()
    with pytest.raises(ReleaseImportError, match="no such processed test set folder"):
        import_release(release, tmp_path / "out", processed_test=tmp_path / "nowhere", progress=False)


def test_cli_imports_a_processed_test_set(tmp_path, capsys):
    release = make_release(tmp_path / "release")
    make_processed(release, tmp_path / "processed", name_perturbations=False)
    out = tmp_path / "out"
    assert main(["import-release", str(release), "--out", str(out), "--processed-test",
                 str(tmp_path / "processed"), "--no-progress"]) == 0
    assert "imported 34 images" in capsys.readouterr().out
    assert read_manifest(out).build["protocol"]["channel_order"] == "BGR"
