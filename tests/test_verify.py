"""`attribution88 verify`: a flipped byte, an altered image, a missing shard, an extra file and a
row that breaks the spec are each reported by name, with a non-zero exit."""

import hashlib
import json

import pyarrow as pa
import pyarrow.parquet as pq

from attribution88.cli import main
from attribution88.verify import verify


def _first_shard(root, split="train"):
    return sorted((root / "data" / split).rglob("*.parquet"))[0]


def _rewrite(shard, change):
    """Rewrite a shard with ``change(columns)`` applied, keeping its schema and metadata."""
    table = pq.read_table(shard)
    cols = table.to_pydict()
    change(cols)
    pq.write_table(pa.Table.from_pydict(cols, schema=table.schema), shard)


def _rehash_in_manifest(root, shard):
    m = json.loads((root / "manifest.json").read_text())
    rel = shard.relative_to(root).as_posix()
    for s in m["shards"]:
        if s["path"] == rel:
            s["sha256"] = hashlib.sha256(shard.read_bytes()).hexdigest()
            s["bytes"] = shard.stat().st_size
    (root / "manifest.json").write_text(json.dumps(m))


def test_an_intact_dataset_verifies(dataset, capsys):
    report = verify(dataset)
    assert report.ok, report.lines()
    assert report.checked_images == 2496 and report.checked_shards == 360
    assert main(["verify", str(dataset), "--no-progress"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("OK:")


def test_a_flipped_byte_is_caught(dataset, capsys):
    shard = _first_shard(dataset)
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0x01
    shard.write_bytes(bytes(data))
    report = verify(dataset)
    rel = shard.relative_to(dataset).as_posix()
    assert any(rel in x for x in report.altered_shards)
    assert main(["verify", str(dataset), "--no-progress"]) == 1
    assert "MISMATCH" in capsys.readouterr().out


def test_an_altered_image_is_named(dataset):
    shard = _first_shard(dataset, "validation")

    def change(cols):
        png = bytearray(cols["image"][3]["bytes"])
        png[-20] ^= 0xFF
        cols["image"][3] = {"bytes": bytes(png), "path": None}
        change.id = cols["id"][3]

    _rewrite(shard, change)
    report = verify(dataset)
    assert any(change.id in x for x in report.altered_images)
    assert len(report.altered_images) == 1


def test_a_missing_shard_is_reported(dataset):
    shard = _first_shard(dataset, "test")
    shard.unlink()
    report = verify(dataset)
    assert report.missing == [shard.relative_to(dataset).as_posix()]
    assert not report.ok


def test_an_extra_file_is_reported(dataset):
    (dataset / "data" / "train" / "stray.parquet").write_bytes(b"PAR1")
    (dataset / "notes.txt").write_text("x")
    report = verify(dataset)
    assert report.extra == ["data/train/stray.parquet", "notes.txt"]


def test_a_row_that_breaks_the_spec_is_reported(dataset):
    shard = _first_shard(dataset, "train")

    def change(cols):
        cols["perturbation"][0], cols["severity"][0] = "snow", 3
        change.id = cols["id"][0]

    _rewrite(shard, change)
    _rehash_in_manifest(dataset, shard)
    report = verify(dataset)
    assert not report.altered_shards and not report.altered_images
    assert any(change.id in v and "outside the test split" in v for v in report.spec_violations)


def test_an_edited_card_is_reported(dataset):
    card = dataset / "README.md"
    card.write_text(card.read_text().replace("'0': real", "'0': fake"))
    report = verify(dataset)
    assert any("dataset_info" in p for p in report.card_problems)


def test_verify_of_a_folder_that_is_not_a_dataset_is_one_line(tmp_path, capsys):
    assert main(["verify", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "manifest.json" in err
