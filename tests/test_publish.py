"""`attribution88 publish`: everything up to the network call — the exact files and card, what a
missing token or an offline machine prints — and the calls made against a stand-in Hub API."""


import pytest

from attribution88.cli import main
from attribution88.errors import OfflineError, PublishError, UsageError
from attribution88.format.manifest import read_manifest
from attribution88.publish import plan_publish, publish


def test_dry_run_lists_every_file_and_prints_the_card(dataset, capsys):
    assert main(["publish", str(dataset), "--repo-id", "org/attribution88", "--dry-run"]) == 0
    out = capsys.readouterr().out
    for s in read_manifest(dataset).shards:
        assert f"  {s.path}  {s.bytes:,} bytes" in out
    assert "  README.md  " in out and "  manifest.json  " in out
    assert "config_name: test_unseen_perturbations" in out and "dry run: nothing was uploaded" in out


def test_plan_uploads_exactly_the_manifest_files(dataset, fake_hub):
    class FakeOldHub(fake_hub):
        def upload_large_folder(self, **kw):
            self.calls.append(("upload_large_folder", kw["repo_id"], kw))

    (dataset / "data" / "train" / ".junk.tmp-1").write_bytes(b"x")
    plan = plan_publish(dataset, "org/a88", api=fake_hub())
    paths = [p for p, _ in plan.files]
    assert paths[:2] == ["README.md", "manifest.json"]
    assert sorted(paths[2:]) == sorted(s.path for s in read_manifest(dataset).shards)
    assert plan.strategy == "upload_folder"
    assert plan_publish(dataset, "org/a88", api=FakeOldHub()).strategy == "upload_large_folder"


@pytest.mark.parametrize("bad", ["noslash", "a/b/c", "/abs/path", "org/"])
def test_bad_repo_ids_are_refused(dataset, fake_hub, bad):
    with pytest.raises(UsageError, match="repo-id"):
        plan_publish(dataset, bad, api=fake_hub())


def test_missing_token_stops_before_any_call(dataset, fake_hub, hub_online, monkeypatch):
    monkeypatch.delenv("HF_TOKEN")
    hub = fake_hub()
    plan = plan_publish(dataset, "org/a88", api=hub)
    with pytest.raises(PublishError, match="no Hugging Face token"):
        publish(plan, api=hub)
    assert hub.calls == []


def test_offline_machine_stops_with_one_line(dataset, capsys):
    # the test session runs with HF_HUB_OFFLINE=1
    code = main(["publish", str(dataset), "--repo-id", "org/a88", "--skip-verify"])
    err = capsys.readouterr().err.strip()
    assert code != 0 and err.count("\n") == 0 and "offline" in err


def test_upload_calls_and_the_token_is_never_printed(dataset, fake_hub, hub_online, capsys):
    secret = hub_online
    hub = fake_hub()
    plan = plan_publish(dataset, "org/a88", private=True, api=hub)
    url = publish(plan, api=hub)
    assert url == "https://huggingface.co/datasets/org/a88"
    (name, repo, kw), (name2, repo2, kw2) = hub.calls
    assert (name, repo, kw["repo_type"], kw["private"], kw["exist_ok"]) == ("create_repo", "org/a88", "dataset", True, True)
    assert name2 == "upload_folder" and kw2["repo_type"] == "dataset"
    assert sorted(kw2["allow_patterns"]) == sorted(p for p, _ in plan.files)
    out = capsys.readouterr()
    assert secret not in out.out + out.err


def test_hub_errors_are_one_line_without_the_token(dataset, fake_hub, hub_online):
    secret = hub_online

    class Refusing(fake_hub):
        def upload_folder(self, **kw):
            raise RuntimeError(f"403 Forbidden for token {secret}\nmore")

    with pytest.raises(PublishError) as e:
        publish(plan_publish(dataset, "org/a88", api=Refusing()), api=Refusing())
    assert secret not in str(e.value) and "\n" not in str(e.value) and "resume" in str(e.value)

    class Unreachable(fake_hub):
        def create_repo(self, repo_id, **kw):
            raise ConnectionError("no route to host")

    with pytest.raises(OfflineError, match="cannot reach"):
        publish(plan_publish(dataset, "org/a88", api=Unreachable()), api=Unreachable())


def test_publish_refuses_a_dataset_that_does_not_verify(dataset, capsys):
    next((dataset / "data" / "train").glob("*.parquet")).unlink()
    assert main(["publish", str(dataset), "--repo-id", "org/a88", "--dry-run"]) == 1
    assert "does not verify" in capsys.readouterr().err
