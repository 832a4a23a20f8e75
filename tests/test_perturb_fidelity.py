"""Fidelity of the ``imagecorruptions`` flavour to ImageNet-C as packaged by imagecorruptions 1.1.2
(the ``repmix`` flavour: tests/test_perturb_repmix.py).

1. The oracle (tests/data/oracle: statistics of imagecorruptions 1.1.2 on 24 real images, all
   95 corruption x severity cells, five independent random draws): on the same images every
   cell's mean PSNR lies within max(0.5 dB, 4 sd) of the draws' mean and its mean signed
   difference within max(1.5, 4 sd) grey levels (sd: the standard deviation of the five draws).
2. imagecorruptions itself, run on the current stack through the shims of
   `attribution88.perturb.reference`, fed the same random numbers as the engine: the images
   agree to within one grey level (float rounding) — the same operations, not only the same
   statistics.
3. The same reference with its own random draws on fresh images (other photographs,
   non-square): its statistics fall inside the spread of the engine's draws.
4. Glass blur's vectorised pixel shuffle equals the sequential loop it replaces.
"""

import json
from pathlib import Path

import numpy as np
import pytest

from attribution88 import perturb
from attribution88.perturb import _ops, reference, textures
from attribution88.perturb.blur import _glass_pass
from attribution88.spec import SPEC

ORACLE = Path(__file__).parent / "data" / "oracle"
NAMES = SPEC.perturbation_names
FLAVOUR = "imagecorruptions"


@pytest.fixture(scope="module")
def oracle():
    return json.loads((ORACLE / "public.json").read_text()), np.load(ORACLE / "public.npz")["images"]


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 99.0 if mse == 0 else 10 * np.log10(255.0 ** 2 / mse)


def stats(clean, corrupted):
    """(mean PSNR, mean signed difference) over a list of images, as the oracle computes them."""
    return (float(np.mean([psnr(x, y) for x, y in zip(clean, corrupted)])),
            float(np.mean([(y.astype(np.float64) - x).mean() for x, y in zip(clean, corrupted)])))


def test_oracle_covers_every_cell(oracle):
    cells, images = oracle
    assert images.shape == (24, 224, 224, 3) and images.dtype == np.uint8
    assert set(cells["cells"]) == {f"{n}/{s}" for n in NAMES for s in SPEC.severities}
    assert all(len(c["draws"]["psnr_mean"]) == 5 for c in cells["cells"].values())


@pytest.mark.parametrize("name", NAMES)
def test_statistics_match_the_oracle(oracle, name):
    cells, images = oracle
    failures = []
    for s in SPEC.severities:
        draws = cells["cells"][f"{name}/{s}"]["draws"]
        p_mean, p_sd = np.mean(draws["psnr_mean"]), np.std(draws["psnr_mean"])
        d_mean, d_sd = np.mean(draws["signed_mean"]), np.std(draws["signed_mean"])
        # seeds of our own, unrelated to the oracle's (which used numpy's legacy generator)
        out = [perturb.apply(x, name, s, 10_000 * s + i, FLAVOUR) for i, x in enumerate(images)]
        p, d = stats(images, out)
        p_tol, d_tol = max(0.5, 4 * p_sd), max(1.5, 4 * d_sd)
        if abs(p - p_mean) > p_tol:
            failures.append(f"{name}/{s}: PSNR {p:.2f} dB, oracle {p_mean:.2f} +- {p_tol:.2f}")
        if abs(d - d_mean) > d_tol:
            failures.append(f"{name}/{s}: signed difference {d:.2f}, oracle {d_mean:.2f} +- {d_tol:.2f}")
    assert not failures, failures


@pytest.fixture(scope="module")
def fresh():
    """Crops of scikit-image photographs the oracle does not use, non-square, from a local
    generator."""
    from skimage import data

    rng = np.random.default_rng(2024)
    photos = [data.rocket(), data.hubble_deep_field(), data.immunohistochemistry(), data.stereo_motorcycle()[0]]
    out = []
    for photo, (h, w) in zip(photos, [(160, 200), (200, 160), (176, 176), (144, 224)]):
        top = rng.integers(0, photo.shape[0] - h)
        left = rng.integers(0, photo.shape[1] - w)
        out.append(np.ascontiguousarray(photo[top:top + h, left:left + w, :3]))
    return out


@pytest.mark.parametrize("name", NAMES)
def test_same_draws_give_the_same_image_as_imagecorruptions(fresh, name):
    fn = perturb.FLAVOURS.get(FLAVOUR).corruptions.get(name)
    images = fresh[:1] if name == "glass_blur" else fresh[:2]  # its reference takes ~1 s a call
    for s in SPEC.severities:
        for i, x in enumerate(images):
            seed = 100 * s + i
            expected = reference.corrupt(x, name, s, seed)
            if name == "impulse_noise":  # imagecorruptions draws it from default_rng(seed)
                got = perturb.apply(x, name, s, seed, FLAVOUR)
            else:
                y = fn(x, s, reference.LegacyDraws(seed))
                got = y if y.dtype == np.uint8 else _ops.to_uint8(y)
            d = np.abs(got.astype(int) - expected)
            assert d.mean() < 0.15 and np.mean(d > 1) < 1e-3, (
                f"{name}/{s} image {i}: mean |diff| {d.mean():.4f}, {np.mean(d > 1):.2%} over one level")


@pytest.mark.slow
def test_imagecorruptions_draws_fall_inside_the_engines_spread(fresh):
    failures = []
    for name in NAMES:
        images = fresh[:2] if name == "glass_blur" else fresh  # its reference takes ~1 s a call
        for s in SPEC.severities:
            ref = stats(images, [reference.corrupt(x, name, s, 7_000 + 10 * s + i) for i, x in enumerate(images)])
            ours = np.array([stats(images, [perturb.apply(x, name, s, 1_000 * r + 10 * s + i, FLAVOUR)
                                            for i, x in enumerate(images)]) for r in range(12)])
            # one reference draw against the spread of 12 engine draws (sample sd)
            mean, sd = ours.mean(axis=0), ours.std(axis=0, ddof=1)
            for k, (what, floor) in enumerate((("PSNR", 0.5), ("signed difference", 1.5))):
                tol = max(floor, 4 * sd[k])
                if abs(ref[k] - mean[k]) > tol:
                    failures.append(f"{name}/{s} {what}: imagecorruptions {ref[k]:.2f}, engine {mean[k]:.2f} +- {tol:.2f}")
    assert not failures, failures


def _glass_loop(img, delta, draws):
    """ImageNet-C's pass as written: visit pixels bottom-right to top-left, "swap" with a
    random neighbour — on numpy arrays a copy from the neighbour, in visiting order."""
    x = img.copy()
    h, w = x.shape[:2]
    k = 0
    for r in range(h - delta, delta, -1):
        for c in range(w - delta, delta, -1):
            dx, dy = draws[k]
            k += 1
            x[r, c], x[r + dy, c + dx] = x[r + dy, c + dx], x[r, c]
    return x


@pytest.mark.parametrize("delta", [1, 2, 3, 4])
def test_vectorised_glass_pass_equals_the_sequential_loop(delta):
    rng = np.random.default_rng(delta)
    img = rng.integers(0, 256, (23, 31, 3), dtype=np.uint8)
    n = (23 - 2 * delta) * (31 - 2 * delta)
    draws = np.random.default_rng(50 + delta).integers(-delta, delta, size=(n, 2))

    class Fixed:
        def integers(self, low, high, size, dtype=np.int64):
            assert (low, high) == (-delta, delta)
            return draws.reshape(size).astype(dtype)

    assert np.array_equal(_glass_pass(img, delta, Fixed()), _glass_loop(img, delta, draws))


def test_frost_reads_the_textures_without_importing_imagecorruptions():
    import sys

    textures.frost_texture.cache_clear()
    textures.frost_rescaled.cache_clear()
    had = "imagecorruptions" in sys.modules
    for i in range(len(textures.FROST_FILES)):
        t = textures.frost_texture(i)
        assert t.ndim == 3 and t.shape[2] == 3 and min(t.shape[:2]) >= 300 and not t.flags.writeable
    assert ("imagecorruptions" in sys.modules) == had


def test_missing_frost_textures_give_a_clear_error(monkeypatch):
    import importlib.metadata
    import importlib.util

    from attribution88.errors import MissingDependencyError

    def no_distribution(name):
        raise importlib.metadata.PackageNotFoundError(name)

    monkeypatch.setattr(textures.importlib.metadata, "distribution", no_distribution)
    monkeypatch.setattr(textures.importlib.util, "find_spec", lambda name: None)
    textures.frost_texture.cache_clear()
    textures.frost_rescaled.cache_clear()
    try:
        with pytest.raises(MissingDependencyError, match="pip install imagecorruptions"):
            perturb.apply(np.zeros((64, 64, 3), np.uint8), "frost", 1, 0, FLAVOUR)
    finally:
        textures.frost_texture.cache_clear()
        textures.frost_rescaled.cache_clear()


def test_plasma_fractal_is_imagecorruptions_given_the_same_draws():
    _, module = reference._load()
    for size, decay in ((256, 2.0), (64, 1.4)):
        module.np.random = np.random.RandomState(size)
        try:
            expected = module.plasma_fractal(mapsize=size, wibbledecay=decay)
        finally:
            module.np.random = None
        got = _ops.plasma_fractal(size, decay, np.random.RandomState(size))
        assert np.allclose(got, expected, atol=1e-9)
