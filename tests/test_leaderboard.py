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
from attribution88.spec import SPEC

PAGE = Path(__file__).resolve().parents[1] / "leaderboard" / "LEADERBOARD.md"


def test_packaged_records_are_valid_and_rank_the_paper():
    records = load_records()
    published = [r for r in records if r.kind == "published"]
    assert {r.name for r in published} >= {"RepMix", "Yu et al.", "DCT-CNN", "PRNU"}
    # scored entries (the reference model on a mini build) carry the data they were scored on
    assert all(r.data.get("fingerprint") for r in records if r.kind == "scored")
    test_set = [r for r in published if r.data["set"] == "test"]
    top = max(test_set, key=lambda r: r.metrics["attribution_accuracy"].value)
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


def test_scored_results_become_a_separate_table(results, records, capsys):
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
    assert "beside scored runs" not in page  # no configuration given: nothing to set beside
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
    checkout = tmp_path / "src" / "attribution88" / "leaderboard" / "records"
    shutil.copytree(default_records_dir(), checkout)  # now it is one
    assert main(["leaderboard", "add", str(results), "--name", "Mine"]) == 0
    added = set(checkout.glob("mine-*.json"))
    assert len(added) == 1 and json.loads(added.pop().read_text())["name"] == "Mine"
    capsys.readouterr()
    assert main(["leaderboard", "list"]) == 0 and "Mine" in capsys.readouterr().out


def test_render_and_list_commands(tmp_path, capsys):
    out = tmp_path / "page.md"
    assert main(["leaderboard", "render", "--markdown", str(out)]) == 0
    assert out.read_text() == PAGE.read_text()
    assert main(["leaderboard", "render", "--out", str(tmp_path / "site"), "--markdown", str(out)]) == 0
    assert (tmp_path / "site" / "LEADERBOARD.md").read_text() == PAGE.read_text()
    assert (tmp_path / "site" / "index.html").is_file()
    assert main(["leaderboard", "list"]) == 0
    out = capsys.readouterr().out
    assert "0.8207  RepMix  [published/test]" in out and "0.9994  RepMix  [published/control]" in out


def _record(**change):
    d = json.loads((default_records_dir() / "repmix-test-published.json").read_text())
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
    ({"metrics": {"attribution_accuracy": {"value": 0.5, "low": 0.7, "high": 0.6}}}, "low end above"),
    ({"data": {"set": "somewhere"}}, "data.set"),
    ({"configuration": "RepMix w/o loss"}, "configuration"),
    ({"adversarial": {"attribution_error": {"0.03": 0.2}}}, "N/255"),
    ({"adversarial": {"attribution_error": {"8/255": 1.5}}}, "out of range"),
    ({"adversarial": "8/255"}, "malformed"),
])
def test_bad_records_are_refused_with_the_reason(change, message):
    with pytest.raises(ResultsFormatError, match=message):
        Record.from_dict(_record(**change))


def test_duplicate_entries_and_bad_json_are_refused(records, capsys):
    shutil.copy(records / "repmix-test-published.json", records / "copy.json")
    with pytest.raises(ResultsFormatError, match="already in"):
        load_records(records)
    (records / "copy.json").write_text("{not json")
    assert main(["leaderboard", "list", "--records", str(records)]) == 1
    err = capsys.readouterr().err
    assert "not valid JSON" in err and err.count("\n") == 1



def test_a_version_1_published_record_is_read_as_the_test_set():
    d = _record(schema_version=1, data={"name": "Attribution88 official test set"})
    d.pop("configuration"), d.pop("adversarial")
    r = Record.from_dict(d)
    assert r.data_key == "published/test" and r.slug == "repmix-test-published"
    assert r.schema_version == 2 and r.to_dict()["schema_version"] == 2


def _store(records):
    return {p.name: p.read_bytes() for p in records.iterdir()}


def test_a_scored_run_is_shown_beside_the_published_rows_of_its_configuration(results, records, capsys):
    assert main(["leaderboard", "add", str(results), "--records", str(records), "--name", "My RepMix",
                 "--configuration", "RepMix/No-Compound-Loss"]) == 0
    mine = next(r for r in load_records(records) if r.name == "My RepMix")
    assert mine.configuration == "repmix/no-compound-loss"
    page = render_markdown(load_records(records))
    beside = page.split("## Published figures beside scored runs of the same configuration")[1]
    assert beside.count("### ") == 1 and "### `repmix/no-compound-loss`" in beside
    rows = [line for line in beside.splitlines() if line.startswith("| ") and "method" not in line]
    assert rows[0].startswith("| RepMix w/o compound loss | Ablation study (published) | 0.7204")
    assert rows[1].startswith("| My RepMix | scored on ") and "0.7500 [" in rows[1]
    assert "| # |" not in beside  # side by side, never ranked


@pytest.mark.parametrize("problem, edit, message", [
    ("broken", lambda d: "{not json", "not a JSON results document"),
    ("incomplete", lambda d: {k: v for k, v in d.items() if k != "metrics"}, "ranking metric"),
    ("no fingerprint", lambda d: {**d, "truth": {**d["truth"], "fingerprint": None}}, "fingerprint"),
    ("old spec", lambda d: {**d, "truth": {**d["truth"], "spec_version": "1.0.0"}}, "spec 1.0.0"),
    ("not score", lambda d: {**d, "kind": "attribution88.compare"}, "not the results of"),
    ("newer", lambda d: {**d, "schema_version": 99}, "newer"),
])
def test_adding_bad_results_fails_in_one_line_and_leaves_the_store_unchanged(results, records, tmp_path, capsys,
                                                                             problem, edit, message):
    before = _store(records)
    d = json.loads(results.read_text())
    assert d["truth"]["spec_version"] == SPEC.version
    bad = tmp_path / "bad.json"
    changed = edit(d)
    bad.write_text(changed if isinstance(changed, str) else json.dumps(changed))
    assert main(["leaderboard", "add", str(bad), "--records", str(records), "--name", "Bad"]) != 0
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err
    assert _store(records) == before


def test_the_same_submission_twice_is_refused_and_the_store_unchanged(results, records, capsys):
    assert main(["leaderboard", "add", str(results), "--records", str(records), "--name", "First"]) == 0
    before = _store(records)
    for name, message in (("Second", "already on the board as 'First'"), ("FIRST", "--replace")):
        capsys.readouterr()
        assert main(["leaderboard", "add", str(results), "--records", str(records), "--name", name]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
        assert _store(records) == before
    assert main(["leaderboard", "add", str(results), "--records", str(records), "--name", "First",
                 "--notes", "rescored", "--replace"]) == 0
    assert next(r for r in load_records(records) if r.name == "First").notes == "rescored"


def test_adding_to_a_broken_store_writes_nothing(results, records, capsys):
    (records / "zz-broken.json").write_text("[]")
    before = _store(records)
    assert main(["leaderboard", "add", str(results), "--records", str(records), "--name", "Mine"]) == 1
    assert "not a JSON object" in capsys.readouterr().err
    assert _store(records) == before


def test_file_names_stay_short_and_apart_for_long_and_non_latin_names():
    base = _record()
    names = ["نموذج", "نموذج آخر", "模型", "x" * 300, "x" * 299 + "y"]
    slugs = [Record.from_dict({**base, "name": n}).slug for n in names]
    assert len(set(slugs)) == len(slugs)
    assert all(len(s) < 100 and s.endswith("-test-published") and s[0] != "-" for s in slugs)
    assert Record.from_dict(base).slug == "repmix-test-published"


def test_adversarial_errors_of_a_results_document_reach_the_record_and_the_site(results, tmp_path):
    from attribution88.leaderboard import add_results
    from attribution88.leaderboard.site import render_site

    d = json.loads(results.read_text())
    # the section `attribution88 attack` writes (eval.results.AdversarialReport)
    d["adversarial"] = {"attack": "pgd-linf", "steps": 10, "n": 64, "per_eps": [
        {"eps": 0, "attribution_error": {"value": 0.2, "low": 0.15, "high": 0.25}},
        {"eps": 8, "attribution_error": {"value": 0.4, "low": 0.35, "high": 0.45}},
        {"eps": 2, "attribution_error": {"value": 0.3, "low": 0.25, "high": 0.35}}]}
    attacked = tmp_path / "attacked.json"
    attacked.write_text(json.dumps(d))
    records = tmp_path / "records"
    records.mkdir()
    record, _ = add_results(records, attacked, "Attacked")
    assert [(e, m.value) for e, m in record.adversarial_by_eps()] == [("2/255", 0.3), ("8/255", 0.4)]
    render_site(load_records(records), tmp_path / "site")
    index = (tmp_path / "site" / "index.html").read_text()
    assert ">Adversarial attack</button>" in index and 'col-adversarial" data-sort="0.4"' in index
    d["adversarial"] = {"per_eps": [{"eps": 8, "attribution_error": {"low": 0.1}}]}
    attacked.write_text(json.dumps(d))
    with pytest.raises(ResultsFormatError, match="adversarial"):
        add_results(records, attacked, "Attacked again")
