"""Hub sync of the records: what push hands to huggingface_hub, and what pull does with a
repository's records, tested up to the network call (the calls are recorded or served from a
folder the test makes)."""

import json
import shutil

import pytest

from attribution88.cli import main
from attribution88.errors import ResultsFormatError, UsageError
from attribution88.leaderboard import hub, load_records


def test_push_uploads_the_records_folder_to_a_dataset_repository(records, fake_hub, hub_online):
    api = fake_hub()
    assert hub.push(records, "org/board", api=api) == len(list(records.glob("*.json")))
    (create, repo, ckw), (upload, repo2, ukw) = api.calls
    assert (create, repo, ckw["repo_type"], ckw["exist_ok"]) == ("create_repo", "org/board", "dataset", True)
    assert upload == "upload_folder" and repo2 == "org/board"
    assert ukw["folder_path"] == str(records) and ukw["path_in_repo"] == "records"
    assert ukw["repo_type"] == "dataset" and ukw["allow_patterns"] == ["*.json"]


def test_push_refuses_a_broken_store_and_says_offline_in_one_line(records, fake_hub, capsys):
    (records / "broken.json").write_text("{")
    api = fake_hub()
    with pytest.raises(ResultsFormatError):
        hub.push(records, "org/board", api=api)
    assert api.calls == []
    (records / "broken.json").unlink()
    # The tests run with HF_HUB_OFFLINE=1: the command says so and uploads nothing.
    assert main(["leaderboard", "push", "--records", str(records), "--repo", "org/board"]) == 1
    err = capsys.readouterr().err
    assert "offline" in err and err.count("\n") == 1
    assert main(["leaderboard", "push", "--records", str(records), "--repo", "board"]) == 2
    assert "ORG/NAME" in capsys.readouterr().err


def test_push_keeps_the_token_out_of_errors(records, fake_hub, hub_online):
    class Refusing(fake_hub):
        def upload_folder(self, **kw):
            raise RuntimeError(f"401 Unauthorized for token {kw['token']}")

    with pytest.raises(Exception) as e:
        hub.push(records, "org/board", api=Refusing())
    assert "401" in str(e.value) and hub_online not in str(e.value)


def _repository(tmp_path, records, change=None):
    """A downloaded snapshot: records/ holding ``records`` plus one record of a new entry."""
    snap = tmp_path / "snapshot"
    shutil.copytree(records, snap / "records")
    d = json.loads((records / "repmix-test-published.json").read_text())
    d["name"] = "RepMix (group copy)"
    (snap / "records" / "repmix-group-copy-test-published.json").write_text(json.dumps(d))
    if change:
        change(snap / "records")
    calls = []

    def download(repo_id, revision):
        calls.append((repo_id, revision))
        return snap
    return download, calls


def test_pull_adds_the_repositorys_new_records(records, tmp_path):
    download, calls = _repository(tmp_path, records)
    written, same = hub.pull(records, "org/board", download=download)
    assert calls == [("org/board", None)]
    assert written == ["repmix-group-copy-test-published.json"] and same == len(list(records.glob("*.json"))) - 1
    assert "RepMix (group copy)" in {r.name for r in load_records(records)}


def test_pull_refuses_conflicts_and_invalid_records_and_writes_nothing(records, tmp_path):
    before = {p.name: p.read_bytes() for p in records.iterdir()}

    def edit(folder):
        p = folder / "prnu-test-published.json"
        p.write_text(p.read_text().replace("0.1252", "0.9999"))

    download, _ = _repository(tmp_path / "a", records, edit)
    with pytest.raises(UsageError, match="differ from the local ones .*prnu-test-published.json.*--replace"):
        hub.pull(records, "org/board", download=download)
    assert {p.name: p.read_bytes() for p in records.iterdir()} == before
    written, _ = hub.pull(records, "org/board", download=download, replace=True)
    assert "prnu-test-published.json" in written
    assert next(r for r in load_records(records) if r.name == "PRNU" and r.data["set"] == "test"
                ).metrics["attribution_accuracy"].value == 0.9999

    def duplicate(folder):  # the same entry under another file name: the merged store is invalid
        shutil.copy(folder / "eigenface-test-published.json", folder / "zz-eigenface-again.json")

    before = {p.name: p.read_bytes() for p in records.iterdir()}
    download, _ = _repository(tmp_path / "b", records, duplicate)
    with pytest.raises(ResultsFormatError, match="already in"):
        hub.pull(records, "org/board", download=download)
    assert {p.name: p.read_bytes() for p in records.iterdir()} == before


def test_pull_from_the_hub_offline_is_one_line(records, capsys):
    assert main(["leaderboard", "pull", "--records", str(records), "--repo", "org/board"]) == 1
    err = capsys.readouterr().err
    assert "cannot reach the Hugging Face Hub" in err and err.count("\n") == 1
