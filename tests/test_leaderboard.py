"""The leaderboard: records validated, scored results added as records, the page a view of the
records (the committed page equals its rendering), data never mixed in one table."""

import csv
import json
import shutil
from pathlib import Path

import pytest

from attribution88.cli import main
from attribution88.errors import ResultsFormatError
from attribution88.format.reader import read_table
from attribution88.leaderboard import load_records, render_markdown
from attribution88.leaderboard.records import Record, default_records_dir

PAGE = Path(__file__).resolve().parents[1] / "leaderboard" / "LEADERBOARD.md"


def test_packaged_records_are_valid_and_rank_the_paper():
    records = load_records()
    published = [r for r in records if r.kind == "published"]
    assert {r.name for r in published} >= {"RepMix", "Yu et al.", "DCT-CNN", "PRNU"}
    # scored entries (the reference model on a mini build) carry the data they were scored on
    assert all(r.data.get("fingerprint") for r in records if r.kind == "scored")
    top = max(published, key=lambda r: r.metrics["attribution_accuracy"].value)
    assert top.name == "RepMix" and top.metrics["attribution_accuracy"].value == 0.8207


def test_committed_page_is_the_rendering_of_the_records():
    assert PAGE.read_text() == render_markdown(load_records(default_records_dir()))


@pytest.fixture
def results(tiny_dataset, tmp_path):
    """`attribution88 score --json` of a submission that is right on 3 of 4 images."""
    t = read_table(tiny_dataset, "default", "test", ["id", "source"]).to_pydict()
    path = tmp_path / "preds.csv"
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "pred"])
        for i, (image_id, src) in enumerate(zip(t["id"], t["source"])):
            w.writerow([image_id, src if i % 4 else (src + 1) % 8])
    out = tmp_path / "results.json"
    assert main(["score", str(path), "--truth", str(tiny_dataset), "--json", str(out), "--resamples", "50"]) == 0
    return out


def test_scored_results_become_a_separate_table(results, tmp_path, capsys):
    records = tmp_path / "records"
    shutil.copytree(default_records_dir(), records)
    assert main(["leaderboard", "add", str(results), "--records", str(records), "--name", "My model",
                 "--paper", "Me et al.", "--notes", "a test"]) == 0
    assert "added 'My model' (attribution_accuracy 0.75" in capsys.readouterr().out
    loaded = load_records(records)
    mine = next(r for r in loaded if r.name == "My model")
    assert mine.kind == "scored" and mine.data["preset"] == "mini" and len(mine.data["fingerprint"]) == 64
    m = mine.metrics["attribution_accuracy"]
    assert m.low <= m.value <= m.high
    page = render_markdown(loaded)
    published, *scored_tables = page.split("## Scored on")
    scored = next(t for t in scored_tables if "My model" in t)
    assert "My model" not in published and "| 1 | My model |" in scored
    assert "not a benchmark result" in scored  # a mini build is flagged
    assert main(["leaderboard", "add", str(results), "--records", str(records), "--name", "My model"]) == 2
    assert "--replace" in capsys.readouterr().err


def test_add_writes_to_the_checkout_and_never_into_the_installed_package(results, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # not a checkout: add needs --records, the packaged copy is untouched
    before = sorted(p.name for p in default_records_dir().iterdir())
    assert main(["leaderboard", "add", str(results), "--name", "Mine"]) == 2
    err = capsys.readouterr().err
    assert "--records" in err and err.count("\n") == 1
    assert sorted(p.name for p in default_records_dir().iterdir()) == before
    shutil.copytree(default_records_dir(), tmp_path / "leaderboard" / "records")  # now it is one
    assert main(["leaderboard", "add", str(results), "--name", "Mine"]) == 0
    added = set((tmp_path / "leaderboard" / "records").glob("mine-*.json"))
    assert len(added) == 1 and json.loads(added.pop().read_text())["name"] == "Mine"
    capsys.readouterr()
    assert main(["leaderboard", "list"]) == 0 and "Mine" in capsys.readouterr().out


def test_render_and_list_commands(tmp_path, capsys):
    out = tmp_path / "page.md"
    assert main(["leaderboard", "render", "--out", str(out)]) == 0
    assert out.read_text() == PAGE.read_text()
    assert main(["leaderboard", "list"]) == 0
    assert "0.8207  RepMix" in capsys.readouterr().out


def _record(**change):
    d = json.loads((default_records_dir() / "repmix-published.json").read_text())
    d.update(change)
    return d


@pytest.mark.parametrize("change, message", [
    ({"metrics": {"attribution_accuracy": {"value": 1.2}}}, "out of range"),
    ({"metrics": {"nmi": {"value": 0.5}}}, "ranking metric"),
    ({"metrics": {"accuracy": {"value": 0.5}}}, "unknown metric"),
    ({"schema_version": 99}, "newer"),
    ({"kind": "rumour"}, "kind"),
    ({"date": "yesterday"}, "ISO date"),
    ({"kind": "scored"}, "fingerprint"),
    ({"metrics": {"attribution_accuracy": {"value": 0.5, "low": 0.6, "high": 0.7}}}, "outside its interval"),
])
def test_bad_records_are_refused_with_the_reason(change, message):
    with pytest.raises(ResultsFormatError, match=message):
        Record.from_dict(_record(**change))


def test_duplicate_entries_and_bad_json_are_refused(tmp_path, capsys):
    shutil.copytree(default_records_dir(), tmp_path / "r")
    shutil.copy(tmp_path / "r" / "repmix-published.json", tmp_path / "r" / "copy.json")
    with pytest.raises(ResultsFormatError, match="already in"):
        load_records(tmp_path / "r")
    (tmp_path / "r" / "copy.json").write_text("{not json")
    assert main(["leaderboard", "list", "--records", str(tmp_path / "r")]) == 1
    err = capsys.readouterr().err
    assert "not valid JSON" in err and err.count("\n") == 1

