"""attribution88 generators: the 77 models and which checkpoints are present."""

import pytest

from attribution88.builders.generators import save_checkpoint
from attribution88.builders.generators.stand_ins import build_stand_in
from attribution88.cli import main


@pytest.fixture(autouse=True)
def _no_env_folder(monkeypatch):
    monkeypatch.delenv("ATTRIBUTION88_CHECKPOINTS", raising=False)


def test_lists_all_77_models(capsys):
    assert main(["generators"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:3] == ["model", "px", "z"]
    rows = [line for line in out[1:-1]]
    assert len(rows) == 77
    assert any(r.startswith("progan-bedroom") and "karras2018iclr-lsun-bedroom-256x256.pkl" in r for r in rows)
    # truncation and noise: the official networks' defaults (psi/cutoff, stored noise maps)
    assert [r.split()[3:5] for r in rows if r.startswith(("stylegan-cat", "stylegan2-cat", "stylegan3-cat"))] == \
        [["1", "-"], ["0.5", "const"], ["0.7/8", "const"]]
    assert out[-1].startswith("0 of 77 checkpoints present")


def test_filters_by_architecture_and_semantic(capsys):
    assert main(["generators", "--arch", "mmdgan", "--semantic", "cat"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 3 and out[1].startswith("mmdgan-cat") and "dof_dim 16" in out[1]


def test_unknown_architecture_is_one_line_with_suggestions(capsys):
    assert main(["generators", "--arch", "stylegan4"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "did you mean" in err and "stylegan3" in err


def test_missing_checkpoints_folder(capsys, tmp_path):
    assert main(["generators", "--checkpoints", str(tmp_path / "nope")]) == 2
    assert "no such folder" in capsys.readouterr().err


def test_shows_present_checkpoints_and_verifies_them(capsys, tmp_path, monkeypatch):
    save_checkpoint(build_stand_in("sngan", "dog"), tmp_path, arch="sngan", semantic="dog")
    save_checkpoint(build_stand_in("sngan", "cat"), tmp_path, arch="sngan", semantic="cat")
    data = (tmp_path / "sngan-cat.safetensors").read_bytes()
    (tmp_path / "sngan-cat.safetensors").write_bytes(data[:-10])  # truncated
    monkeypatch.setenv("ATTRIBUTION88_CHECKPOINTS", str(tmp_path))
    assert main(["generators", "--arch", "sngan"]) == 0
    out = capsys.readouterr().out
    assert "2 of 11 checkpoints present" in out
    listed = [line.split()[6] for line in out.splitlines() if line.startswith(("sngan-dog", "sngan-cat"))]
    assert listed == ["present"] * 2
    assert main(["generators", "--arch", "sngan", "--verify"]) == 1
    out = capsys.readouterr().out
    assert f"ok      {tmp_path / 'sngan-dog.safetensors'}" in out
    assert "FAILED" in out and "sngan-cat.safetensors: not a valid safetensors file (truncated" in out
    assert "1 of 2 present checkpoints load" in out
