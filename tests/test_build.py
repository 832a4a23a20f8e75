"""The build pipeline: cells built end to end, identical whatever the worker count, slicing or
executor, resumable after SIGKILL, and clear errors that leave completed shards intact."""

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import datasets
import pytest

from attribution88.cli import main
from attribution88.format.manifest import read_manifest
from attribution88.spec import SPEC
from attribution88.verify import verify

CELLS = ["--arch", "real", "--arch", "stylegan2", "--arch", "sngan", "--semantic", "celeba", "--semantic", "dog"]


def build(out, *extra):
    code = main(["build", "--out", str(out), "--no-progress", *CELLS, *extra])
    assert code == 0
    return read_manifest(out)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """Six mini cells built in this process, the reference for the other tests."""
    out = tmp_path_factory.mktemp("ref") / "attribution88"
    return out, build(out)


def test_cells_are_built_verified_and_loadable(reference):
    out, m = reference
    assert m.cells == sorted(f"{a}-{s}" for a in ("real", "stylegan2", "sngan") for s in ("celeba", "dog"))
    mini = SPEC.preset("mini")
    for cell, counts in m.counts()["cells"].items():
        assert counts == mini.split_sizes(SPEC.semantic(cell.split("-")[1]))
    report = verify(out)
    assert report.ok, report.lines()
    ds = datasets.load_dataset(str(out))
    assert ds["train"].features["source"].names == SPEC.source_names
    assert {r["perturbation"] for r in ds["train"]} == {"none"}


def test_card_says_stand_ins_and_untrained_lpips_and_reports_cleaning(reference):
    out, m = reference
    card = (out / "README.md").read_text()
    assert "STAND-IN" in card and "UNTRAINED" in card and "scikit-image" in card
    assert "Cleaning" in card
    fake = m.build["cells"]["stylegan2-dog"]
    assert fake["stand_in"] and fake["cleaning"]
    assert m.build["cells"]["real-celeba"]["reals"].startswith("crops of scikit-image")


def test_test_images_are_perturbed_and_others_clean(reference):
    out, _ = reference
    import numpy as np
    rows = datasets.load_dataset(str(out), "test_unseen_both", split="test")
    assert rows.num_rows > 0 and set(rows["perturbation"]) <= {"glass_blur", "motion_blur", "zoom_blur", "snow"}
    assert all(np.asarray(r["image"]).shape == (128, 128, 3) for r in rows)


def test_worker_processes_give_identical_content(reference, tmp_path):
    _, m = reference
    assert build(tmp_path / "w2", "--workers", "2").fingerprint == m.fingerprint


def test_slices_make_one_identical_dataset(reference, tmp_path):
    _, m = reference
    out = tmp_path / "sliced"
    main(["build", "--out", str(out), "--no-progress", *CELLS, "--shard", "1/2"])
    assert not (out / "manifest.json").exists()  # other slice still missing
    build(out, "--shard", "2/2")
    assert read_manifest(out).fingerprint == m.fingerprint
    assert (out / "README.md").read_bytes() == (reference[0] / "README.md").read_bytes()


def _stat(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()  # state, ppid, ... (the name may hold spaces)


def _children(pid: int) -> list[int]:
    pids = [int(d.name) for d in Path("/proc").iterdir() if d.name.isdigit()]
    return [c for c in pids if (st := _stat(c)) is not None and int(st[1]) == pid]


def _running(pid: int) -> bool:
    st = _stat(pid)
    return st is not None and st[0] not in ("Z", "X")  # a zombie has exited


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process states from /proc")
def test_a_build_killed_with_sigkill_resumes_to_the_same_manifest(reference, tmp_path):
    _, m = reference
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "attribution88", "build", "--out", str(out), "--no-progress", *CELLS]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if len(list(out.rglob("*.parquet"))) >= 4:  # some cells done, others not
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the build ended before it could be killed"
    workers = _children(proc.pid)
    assert workers, "the build runs its cells in worker processes by default"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 30  # the workers leave with their parent, never linger
    while time.time() < deadline and any(_running(pid) for pid in workers):
        time.sleep(0.1)
    assert not any(_running(pid) for pid in workers), "worker processes outlived the killed build"
    assert not (out / "manifest.json").exists()
    assert main(["build", "--out", str(out), "--no-progress", *CELLS]) == 0
    assert read_manifest(out).to_dict()["shards"] == m.to_dict()["shards"]
    assert read_manifest(out).fingerprint == m.fingerprint


@pytest.mark.slow
def test_ray_executor_gives_identical_content(reference, tmp_path):
    pytest.importorskip("ray")
    _, m = reference
    assert build(tmp_path / "ray", "--executor", "ray").fingerprint == m.fingerprint


def test_unknown_arch_and_semantic_suggest_names(tmp_path, capsys):
    assert main(["build", "--out", str(tmp_path / "x"), "--arch", "stylegan4"]) == 2
    assert "did you mean stylegan" in capsys.readouterr().err
    assert main(["build", "--out", str(tmp_path / "x"), "--semantic", "bedrooms"]) == 2
    assert "did you mean bedroom" in capsys.readouterr().err


def test_empty_or_unreadable_real_folder(tmp_path, capsys):
    empty = tmp_path / "reals"
    empty.mkdir()
    args = ["build", "--out", str(tmp_path / "o"), "--no-progress", "--arch", "real", "--semantic", "cat"]
    assert main(args + ["--reals", f"cat={empty}"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no image files" in err
    for i in range(60):
        (empty / f"{i}.png").write_bytes(b"garbage")
    assert main(args + ["--reals", f"cat={empty}"]) == 1
    assert "unreadable" in capsys.readouterr().err
    assert main(args + ["--reals", f"cat={tmp_path / 'nowhere'}"]) == 1
    assert "not a folder" in capsys.readouterr().err


def test_full_preset_needs_checkpoints_and_lpips_weights(tmp_path, capsys):
    reals = tmp_path / "reals"
    args = ["build", "--preset", "full", "--out", str(tmp_path / "o"), "--no-progress",
            "--arch", "stylegan2", "--semantic", "bedroom", "--reals", f"bedroom={reals}",
            "--checkpoints", str(tmp_path / "ckpt")]
    reals.mkdir()
    assert main(args) != 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and ("checkpoint" in err or "real images" in err)


def test_full_disk_keeps_completed_shards(tmp_path, monkeypatch, capsys):
    from attribution88.format import shards

    out = tmp_path / "disk"
    real_write = shards.write_shard
    calls = {"n": 0}

    def failing(*a, **kw):
        calls["n"] += 1
        if calls["n"] > 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(*a, **kw)

    monkeypatch.setattr("attribution88.format.dataset.write_shard", failing)
    # in-process (--workers 1), so the patched writer is the one the build calls
    code = main(["build", "--out", str(out), "--no-progress", "--workers", "1", *CELLS])
    err = capsys.readouterr().err
    assert code == 1 and "disk full" in err and err.count("\n") == 1
    done = sorted(out.rglob("*.parquet"))
    assert len(done) == 3 and not list(out.rglob(".*.tmp-*"))
    sizes = {p: p.stat().st_size for p in done}
    monkeypatch.setattr("attribution88.format.dataset.write_shard", real_write)
    assert main(["build", "--out", str(out), "--no-progress", *CELLS]) == 0
    assert all(p.stat().st_size == s for p, s in sizes.items())
    assert verify(out).ok


def test_the_source_folder_is_never_written(tmp_path, monkeypatch, capsys):
    pkg = tmp_path / "attribution88"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("# source\n")
    monkeypatch.chdir(tmp_path)
    assert main(["build", "--no-progress", "--arch", "real", "--semantic", "cat"]) == 2
    assert "Python source folder" in capsys.readouterr().err
    assert sorted(p.name for p in pkg.iterdir()) == ["__init__.py"]


@pytest.mark.slow
def test_the_whole_mini_benchmark(tmp_path, monkeypatch):
    """The README's main job: every cell of the mini preset, then load_dataset('attribution88')."""
    monkeypatch.chdir(tmp_path)
    assert main(["build", "--no-progress"]) == 0
    m = read_manifest(tmp_path / "attribution88")
    assert len(m.cells) == 88 and verify(tmp_path / "attribution88").ok
    # The mini benchmark's identity, pinned (see tests/test_golden.py): a change means a new
    # spec version, and the README's scored examples and the leaderboard's mini entries with it.
    assert (SPEC.version, m.fingerprint) == (
        "2.0.0", "009f2a10353f23284e756a04d14b4cc40a24fabd91a90da59570fdb80ddcbc8b")
    ds = datasets.load_dataset("attribution88")
    mini = SPEC.preset("mini")
    assert ds["test"].num_rows == sum(mini.split_sizes(c.semantic)["test"] for c in SPEC.cells())
    unseen = {p.name for p in SPEC.unseen_perturbations()}
    for split in ("train", "validation"):
        assert not unseen & set(ds[split]["perturbation"])
    for subset in SPEC.subsets:
        assert datasets.load_dataset("attribution88", subset.name, split="test").num_rows > 0
    json.dumps(m.to_dict())
    # The example submissions score as their leaderboard entries say, to the last digit.
    from attribution88.leaderboard.records import default_records_dir

    examples = Path(__file__).resolve().parents[1] / "eval" / "examples"
    for example, record in (("repmix-cpu-mini.csv", "repmix-cpu-preset-009f2a10353f-default-test.json"),
                            ("yu-cpu-mini.csv", "yu-et-al-re-implemented-cpu-preset-009f2a10353f-default-test.json")):
        assert main(["score", str(examples / example), "--json", str(tmp_path / "r.json")]) == 0
        scored = json.loads((tmp_path / "r.json").read_text())
        expected = json.loads((default_records_dir() / record).read_text())["results"]
        assert scored["metrics"] == expected["metrics"], example
        assert scored["submission"]["sha256"] == expected["submission"]["sha256"]
