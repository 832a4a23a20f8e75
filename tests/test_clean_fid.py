"""FID in the cleaning report: torchmetrics' FID with Inception weights from a local file
(here a randomly initialised Inception saved in torch-fidelity's format by the test), checked
against the Frechet distance computed directly; bad weight files are one-line errors."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torchmetrics")
pytest.importorskip("torch_fidelity")

from attribution88.builders.fid import InceptionFid  # noqa: E402
from attribution88.errors import CheckpointError  # noqa: E402


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """torch-fidelity's Inception v3 with PyTorch's default random initialisation, saved as
    the plain state dict its weights file is (nothing is downloaded)."""
    import torch
    import torch_fidelity.feature_extractor_inceptionv3 as fe

    mp = pytest.MonkeyPatch()
    mp.setattr(fe, "load_state_dict_from_url", lambda *a, **k: {})
    mp.setattr(fe.FeatureExtractorInceptionV3, "load_state_dict", lambda self, state: None)
    try:
        torch.manual_seed(0)
        net = fe.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    finally:
        mp.undo()
    path = tmp_path_factory.mktemp("fid") / "weights-inception-test.pth"
    torch.save(net.state_dict(), path)
    return path


def _images(n, seed, noise):
    rng = np.random.default_rng(seed)
    low = rng.uniform(0, 255, (n, 8, 8, 3))
    base = np.repeat(np.repeat(low, 8, 1), 8, 2)
    return np.clip(base + rng.normal(0, noise, base.shape), 0, 255).astype(np.uint8)


def _frechet(a, b):
    """The Frechet distance of two Gaussians fitted to feature sets a (na, d) and b (nb, d),
    directly: tr sqrt(Sa Sb) is the nuclear norm of Ac Bc^T / sqrt((na-1)(nb-1)) (Ac, Bc the
    centred sets), exact at any rank."""
    ac, bc = a - a.mean(0), b - b.mean(0)
    sa, sb = ac.T @ ac / (len(a) - 1), bc.T @ bc / (len(b) - 1)
    cross = np.linalg.svd(ac @ bc.T / np.sqrt((len(a) - 1) * (len(b) - 1)), compute_uv=False).sum()
    return float(((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(sa) + np.trace(sb) - 2 * cross)


def test_fid_of_selections_matches_the_frechet_distance_of_their_features(weights):
    fid = InceptionFid(weights, dims=64, batch_size=4)
    reals = _images(8, 1, 5)
    cand = np.concatenate([_images(4, 2, 5), _images(4, 3, 120)])  # 4 clean, 4 heavily noisy
    fc, fr = fid.features(cand), fid.features(reals)
    assert fc.shape == (8, 64) and np.isfinite(fc).all()
    out = fid.compare_features(fc, fr, {"clean": np.arange(4), "noisy": np.arange(4, 8), "all": None})
    for name, rows in (("clean", slice(0, 4)), ("noisy", slice(4, 8)), ("all", slice(None))):
        assert out[name] == pytest.approx(_frechet(fc[rows], fr), rel=1e-4)
    assert out["clean"] < out["noisy"]
    assert fid.compare_features(fr, fr, {"same": None})["same"] == pytest.approx(0, abs=1e-4 * out["clean"])
    assert fid.compare(cand[:2], reals[:2], {"x": None})["x"] == pytest.approx(
        _frechet(fc[:2], fr[:2]), rel=1e-4)


def test_bad_weight_files_are_one_line_errors(tmp_path):
    import torch

    from attribution88.errors import UsageError

    with pytest.raises(UsageError, match="must be one of"):
        InceptionFid(tmp_path / "missing.pth", dims=100)
    with pytest.raises(CheckpointError, match="not found"):
        InceptionFid(tmp_path / "missing.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read"):
        InceptionFid(tmp_path / "junk.pth")
    torch.save({"fc.weight": torch.zeros(3, 3)}, tmp_path / "wrong.pth")
    with pytest.raises(CheckpointError, match="do not fit"):
        InceptionFid(tmp_path / "wrong.pth")

    class Evil:
        def __reduce__(self):
            return (print, ("executed",))

    torch.save({"x": Evil()}, tmp_path / "evil.pth")
    with pytest.raises(CheckpointError, match="cannot read"):
        InceptionFid(tmp_path / "evil.pth")


def test_the_build_adds_fid_of_every_selection_to_the_cleaning_stats(weights, monkeypatch):
    """The pipeline's FID step: the cell's reals against each selection of its candidates
    (64-d features here to keep it fast; the build uses 2048)."""
    from attribution88.builders import pipeline
    from attribution88.builders.clean import clean
    from attribution88.spec import SPEC, Cell

    monkeypatch.setattr(pipeline, "_fid", lambda path: InceptionFid(path, dims=64, batch_size=16))
    config = pipeline.BuildConfig(preset="mini", out="unused", real_sources={"*": "samples"},
                                  fid_weights=str(weights))
    cand = _images(9, 4, 30)
    flat = cand.reshape(9, -1).astype(np.float32)
    result = clean(flat, flat[:3] + 1, 3, seed=0)
    stats = pipeline._with_fid(config, Cell(SPEC.source("progan"), SPEC.semantic("cat")), cand, result)
    assert all(getattr(stats, n).fid > 0 for n in ("candidates", "ours", "random", "yu"))
    assert weights.name in stats.fid_note and stats.ours.nearest_real_mean == result.stats.ours.nearest_real_mean


def test_the_build_refuses_missing_fid_weights_in_one_line(tmp_path, capsys):
    from attribution88.cli import main

    code = main(["build", "--out", str(tmp_path / "x"), "--no-progress", "--arch", "progan",
                 "--semantic", "cat", "--fid-inception", str(tmp_path / "none.pth")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and "FID Inception weights not found" in err[0]
    assert not (tmp_path / "x" / "manifest.json").exists()

