"""LPIPS features: squared distances of our vectors equal the lpips package's LPIPS, weights come
only from local files, and without them the untrained backbone is explicit and deterministic."""

from __future__ import annotations

import shutil
import warnings

import numpy as np
import pytest

from attribution88.builders.lpips_features import BACKBONES, LpipsFeatures
from attribution88.settings import LPIPS_BACKBONE_ENV
from attribution88.errors import CheckpointError, ImageError, OfflineError


@pytest.fixture(autouse=True)
def _no_backbone_weights(monkeypatch, tmp_path):
    """No weights anywhere: the env var is unset and torchvision's cache is an empty folder."""
    monkeypatch.delenv(LPIPS_BACKBONE_ENV, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch_home"))


def _images(n, size, seed):
    """Smooth random images plus noise: content at every scale, uint8 (n, size, size, 3)."""
    rng = np.random.default_rng(seed)
    low = rng.uniform(0, 255, (n, size // 8, size // 8, 3))
    smooth = np.repeat(np.repeat(low, 8, axis=1), 8, axis=2)
    return np.clip(smooth + rng.normal(0, 20, smooth.shape), 0, 255).astype(np.uint8)


def _reference_lpips(net, state, a, b):
    """lpips.LPIPS.forward (learned linear layers, random trunk replaced by ``state``)."""
    import lpips
    import torch

    with torch.random.fork_rng(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torchvision's `pretrained=` deprecation
        model = lpips.LPIPS(net=net, pretrained=True, pnet_rand=True, verbose=False)
    # lpips keeps torchvision's module indices inside its slices: sliceS.I.weight <- features.I.weight
    theirs = model.net.state_dict()
    model.net.load_state_dict({k: state["features." + k.split(".", 1)[1]] for k in theirs})
    to_t = lambda x: torch.from_numpy(x).permute(0, 3, 1, 2).float() / 127.5 - 1  # noqa: E731
    with torch.no_grad():
        return model(to_t(a), to_t(b)).flatten().double().numpy()


def _random_state(net, seed):
    """A torchvision-format state dict for ``net`` with random values (a stand-in for the
    ImageNet weights), plus a classifier tensor that loading must ignore."""
    import torch

    feats = LpipsFeatures.create(net, allow_untrained=True)
    g = torch.Generator().manual_seed(seed)
    state = {k: torch.randn(v.shape, generator=g) * 0.05 for k, v in feats.backbone_state_dict().items()}
    state["classifier.1.weight"] = torch.zeros(4, 4)
    return state


@pytest.mark.parametrize("net,size", [("alex", 128), ("alex", 64), ("squeeze", 64), ("vgg", 32)])
def test_squared_feature_distance_equals_lpips_forward(net, size):
    feats = LpipsFeatures.create(net, allow_untrained=True)
    a, b = _images(5, size, 1), _images(5, size, 2)
    b[0] = a[0]  # identical pair: distance 0
    b[1] = np.clip(a[1].astype(int) + 3, 0, 255)  # near pair
    fa, fb = feats.features(a, batch_size=2), feats.features(b, batch_size=3)
    ours = ((fa.astype(np.float64) - fb) ** 2).sum(axis=1)
    ref = _reference_lpips(net, feats.backbone_state_dict(), a, b)
    assert ours[0] == 0.0
    np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-7)
    assert ours[1] < ours[2:].min()


def test_feature_dimension_at_128_px():
    feats = LpipsFeatures.create("alex", allow_untrained=True)
    assert feats.layer_shapes(128, 128) == ((64, 31, 31), (192, 15, 15), (384, 7, 7), (256, 7, 7), (256, 7, 7))
    assert feats.dim(128, 128) == 148_608
    assert feats.features(_images(2, 128, 0)).shape == (2, 148_608)


def test_untrained_backbone_is_explicit_and_deterministic():
    a = LpipsFeatures.create("alex", allow_untrained=True)
    b = LpipsFeatures.create("alex", allow_untrained=True)
    assert not a.is_pretrained and "UNTRAINED" in a.description and LPIPS_BACKBONE_ENV in a.description
    x = _images(3, 64, 5)
    np.testing.assert_array_equal(a.features(x), b.features(x))


def test_untrained_backbone_leaves_global_rng_alone():
    import torch

    before = torch.get_rng_state()
    LpipsFeatures.create("alex", allow_untrained=True)
    assert torch.equal(before, torch.get_rng_state())


def test_without_weights_refuses_unless_untrained_is_allowed():
    with pytest.raises(OfflineError) as err:
        LpipsFeatures.create("alex")
    msg = str(err.value)
    assert LPIPS_BACKBONE_ENV in msg and BACKBONES.get("alex").weights_file in msg and "\n" not in msg


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_weights_from_a_local_file(tmp_path, suffix):
    import torch
    from safetensors.torch import save_file

    state = _random_state("alex", 3)
    path = tmp_path / f"alexnet{suffix}"
    if suffix == ".pth":
        torch.save(state, path)
    else:
        save_file(state, str(path))
    feats = LpipsFeatures.create("alex", weights=path)
    assert feats.is_pretrained and str(path.resolve()) in feats.description
    a, b = _images(3, 64, 7), _images(3, 64, 8)
    ours = ((feats.features(a).astype(np.float64) - feats.features(b)) ** 2).sum(axis=1)
    np.testing.assert_allclose(ours, _reference_lpips("alex", state, a, b), rtol=1e-5)


def test_weights_from_env_and_from_torchvision_cache(tmp_path, monkeypatch):
    import torch

    state = _random_state("alex", 4)
    x = _images(2, 64, 9)
    env_file = tmp_path / "mine.pth"
    torch.save(state, env_file)
    monkeypatch.setenv(LPIPS_BACKBONE_ENV, str(env_file))
    from_env = LpipsFeatures.create("alex")
    assert from_env.weights_path == env_file.resolve()

    monkeypatch.delenv(LPIPS_BACKBONE_ENV)
    cache = tmp_path / "torch_home" / "hub" / "checkpoints"
    cache.mkdir(parents=True)
    shutil.copyfile(env_file, cache / BACKBONES.get("alex").weights_file)
    from_cache = LpipsFeatures.create("alex")
    assert from_cache.is_pretrained
    np.testing.assert_array_equal(from_env.features(x), from_cache.features(x))
    assert from_env.weights_sha256 == from_cache.weights_sha256


def test_missing_or_wrong_weights_are_clear_errors(tmp_path, monkeypatch):
    import torch

    with pytest.raises(CheckpointError, match="not found"):
        LpipsFeatures.create("alex", weights=tmp_path / "nope.pth")
    monkeypatch.setenv(LPIPS_BACKBONE_ENV, str(tmp_path / "nope.pth"))
    with pytest.raises(CheckpointError, match=LPIPS_BACKBONE_ENV):
        LpipsFeatures.create("alex", allow_untrained=True)
    monkeypatch.delenv(LPIPS_BACKBONE_ENV)

    vgg = tmp_path / "vgg.pth"
    torch.save(_random_state("vgg", 1), vgg)
    with pytest.raises(CheckpointError, match="shape"):
        LpipsFeatures.create("alex", weights=vgg)
    partial = tmp_path / "partial.pth"
    torch.save({"features.0.weight": torch.zeros(64, 3, 11, 11)}, partial)
    with pytest.raises(CheckpointError, match="lack"):
        LpipsFeatures.create("alex", weights=partial)
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a tensor file")
    with pytest.raises(CheckpointError, match="cannot read"):
        LpipsFeatures.create("alex", weights=garbage)


class _NotWeights:  # an arbitrary object: weights_only loading must refuse to unpickle it
    pass


def test_pickles_that_are_not_plain_tensors_are_refused(tmp_path):
    import torch

    path = tmp_path / "evil.pth"
    torch.save({"features.0.weight": _NotWeights()}, path)
    with pytest.raises(CheckpointError, match="cannot read"):
        LpipsFeatures.create("alex", weights=path)


def test_unknown_backbone_is_named():
    with pytest.raises(KeyError, match="alex"):
        LpipsFeatures.create("alexx", allow_untrained=True)


def test_bad_images_are_refused():
    feats = LpipsFeatures.create("alex", allow_untrained=True)
    with pytest.raises(ImageError, match="uint8"):
        feats.features(np.zeros((2, 64, 64, 3), np.float32))
    with pytest.raises(ImageError, match="uint8"):
        feats.features(np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(ImageError, match="too small"):
        feats.features(np.zeros((1, 8, 8, 3), np.uint8))


def test_features_fill_a_float16_memmap(tmp_path):
    feats = LpipsFeatures.create("alex", allow_untrained=True)
    x = _images(5, 64, 11)
    out = np.lib.format.open_memmap(tmp_path / "f.npy", mode="w+", dtype=np.float16,
                                    shape=(5, feats.dim(64, 64)))
    assert feats.features(x, batch_size=2, out=out) is out
    np.testing.assert_allclose(out, feats.features(x), rtol=1e-3, atol=1e-6)
    assert feats.features(x[:0]).shape == (0, feats.dim(64, 64))
