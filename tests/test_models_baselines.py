"""The paper's baselines in the model registry: each one's defining behaviour on data the tests
make, and train -> predict -> score end to end on a small built dataset."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from attribution88 import cli  # noqa: E402
from attribution88.errors import UsageError  # noqa: E402
from attribution88.models import get_model, list_models  # noqa: E402
from attribution88.spec import SPEC  # noqa: E402

BASELINES = ["yu", "dct-cnn", "eigenface", "prnu", "reverse-engineering"]

#: Tiny models run fastest on one thread (conftest.py).
pytestmark = pytest.mark.usefixtures("one_torch_thread")



def normalised(pixels: torch.Tensor) -> torch.Tensor:
    """0-255 pixels -> the models' input (mean = std = 0.5)."""
    return (pixels / 255.0 - 0.5) / 0.5


def smooth_images(n: int, size: int, seed: int) -> torch.Tensor:
    """(n, 3, size, size) 0-255 images: bilinear upsampling of random 4x4 colour fields."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(n, 3, 4, 4, generator=g) * 200 + 20
    return torch.nn.functional.interpolate(coarse, size=(size, size), mode="bilinear", align_corners=False)


def test_every_baseline_is_registered_with_a_cpu_preset():
    for name in [*BASELINES, "semantic-blind"]:
        assert name in list_models()
        cls = get_model(name)
        assert {"paper", "cpu"} <= set(cls.PRESETS)
        cls.config_from_preset("cpu")  # checks the preset's values


# -- PRNU ------------------------------------------------------------------------------------
def test_noise_residual_keeps_the_noise_and_drops_the_smooth_content():
    from attribution88.models.prnu import noise_residual

    smooth = smooth_images(2, 32, 0)
    noise = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(1)) * 4
    assert noise_residual(smooth).abs().mean() < 0.1 * noise.abs().mean()
    r = noise_residual(smooth + noise)
    corr = torch.nn.functional.cosine_similarity(r.flatten(1), noise.flatten(1)).min()
    assert corr > 0.5
    # zero-meaned rows and columns
    assert r.mean(-1).abs().max() < 1e-3 and r.mean(-2).abs().max() < 1e-3


def test_prnu_fingerprint_of_a_source_correlates_with_its_residuals_more_than_with_another():
    from attribution88.models.prnu import PRNU, normalised_correlation

    size, n = 32, 12
    g = torch.Generator().manual_seed(3)
    patterns = torch.randn(8, 3, size, size, generator=g) * 3  # each source's made-up fingerprint

    def images(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        sources = torch.arange(8).repeat_interleave(n)
        x = smooth_images(8 * n, size, seed) + patterns[sources] + torch.randn(8 * n, 3, size, size) * 2
        return normalised(x.clamp(0, 255)), sources

    model = PRNU(PRNU.Config.from_dict({"test_size": size, "resize": size, "crop": size}))
    model.train()
    x, sources = images(10)
    out = model(x)
    model.loss(out, sources.view(-1, 1), torch.ones(len(x), 1))  # training accumulates fingerprints
    assert model.residual_count.tolist() == [float(n)] * 8

    model.eval()
    x, sources = images(20)
    with torch.no_grad():
        out = model(x)
    rho = normalised_correlation(out["residual"], model.fingerprints())
    own = rho[torch.arange(len(x)), sources]
    other = rho[torch.arange(len(x)), (sources + 1) % 8]
    assert (own > other).all()
    assert (out["attribution"].argmax(1) == sources).float().mean() == 1.0
    # validation (eval mode) never changes the fingerprints
    before = model.residual_sum.clone()
    model.loss(out, sources.view(-1, 1), torch.ones(len(x), 1))
    assert torch.equal(before, model.residual_sum)


def test_prnu_trains_without_flips_or_crops():
    from PIL import Image

    from attribution88.models.prnu import PRNU

    model = PRNU(PRNU.Config.from_dict({"test_size": 32, "resize": 32, "crop": 32}))
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8))
    t = model.train_transform("train")
    t.p = 0.0  # no perturbation: the training sample is the test sample, pixel for pixel
    assert torch.equal(t(image, "real-cat-00001", 0), model.eval_transform()(image, "real-cat-00001", 0))


# -- DCT-CNN ---------------------------------------------------------------------------------
def test_dct_matrix_is_orthonormal_and_matches_scipy():
    from scipy.fft import dctn

    from attribution88.models.dct_cnn import dct2, dct_matrix

    d = dct_matrix(16, torch.float64)
    assert torch.allclose(d @ d.T, torch.eye(16, dtype=torch.float64), atol=1e-12)
    x = torch.rand(2, 3, 16, 8, dtype=torch.float64)
    assert np.allclose(dct2(x).numpy(), dctn(x.numpy(), type=2, norm="ortho", axes=(-2, -1)), atol=1e-10)


def test_dct_input_is_an_invertible_transform_of_the_image():
    from attribution88.models.dct_cnn import dct_features, idct2, signed_log_inverse

    pixels = torch.randint(0, 256, (2, 3, 24, 24)).double()
    features = dct_features(normalised(pixels))
    recovered = idct2(signed_log_inverse(features))
    assert torch.allclose(recovered, pixels, atol=1e-6)
    # log scale: the DC coefficient (large) and the AC ones end up within one order of magnitude
    assert features.abs().max() < 15


def test_dct_cnn_standardises_each_coefficient_with_training_statistics():
    from attribution88.models.dct_cnn import DCTCNN

    model = DCTCNN(DCTCNN.Config.from_dict({"width": 4, "resize": 32, "crop": 32, "test_size": 32}))
    assert model.standardise.running_mean.shape == (3 * 32 * 32,)
    model.train()
    model(normalised(smooth_images(8, 32, 0)))
    assert model.standardise.running_mean.abs().sum() > 0
    model.eval()
    a = model(normalised(smooth_images(3, 32, 1)))["attribution"]
    b = torch.cat([model(normalised(smooth_images(3, 32, 1)[i:i + 1]))["attribution"] for i in range(3)])
    assert torch.allclose(a, b, atol=1e-5)  # inference is per image


# -- EigenFace -------------------------------------------------------------------------------
def test_eigenface_pca_is_the_closed_form_pca_of_the_first_training_images():
    from attribution88.models.eigenface import EigenFace

    config = EigenFace.Config.from_dict({"pca_size": 4, "components": 5, "pca_fit_images": 40,
                                         "resize": 8, "crop": 8, "test_size": 8})
    model = EigenFace(config)
    model.train()
    x = normalised(torch.rand(40, 3, 8, 8) * 255)
    first = model(x[:30])["attribution"]
    assert not bool(model.fitted)
    assert torch.allclose(first, model.classifier.bias.expand_as(first))  # before the fit: bias only
    model(x[30:])
    assert bool(model.fitted)

    v = model.pixels(x).double().numpy()
    centred = v - v.mean(0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    assert np.allclose(model.mean.numpy(), v.mean(0), atol=1e-5)
    assert np.allclose(np.abs(model.basis.numpy() @ vt[:5].T), np.eye(5), atol=1e-4)
    assert np.allclose(model.eigenvalues.numpy(), s[:5] ** 2 / 39, rtol=1e-4)
    # whitened coefficients: unit variance on the fitting images
    coefficients = model.coefficients(model.pixels(x)).detach().numpy()
    assert np.allclose(coefficients.var(0, ddof=1), 1.0, atol=1e-3)
    # inference without a fitted PCA is refused in one line
    with pytest.raises(UsageError, match="PCA was never fitted"):
        EigenFace(config).eval()(x[:2])
    # the fitted PCA stays frozen
    basis = model.basis.clone()
    model(x)
    assert torch.equal(basis, model.basis)


# -- Yu et al. -------------------------------------------------------------------------------
def test_yu_network_is_progan_discriminator_shaped_with_the_extra_256_fc():
    from attribution88.models.yu import YuAttribution

    model = YuAttribution(YuAttribution.Config())  # the paper's 128 px configuration
    convs = [m for m in model.features if isinstance(m, torch.nn.Conv2d)]
    pools = [m for m in model.features if isinstance(m, torch.nn.AvgPool2d)]
    assert len(pools) == 5  # 128 -> 4
    assert len(convs) == 1 + 2 * 5 + 1
    assert [c.out_channels for c in convs[:3]] == [128, 128, 256]  # nf = min(8192 / 2^stage, 512)
    linears = [m for m in model.dense if isinstance(m, torch.nn.Linear)]
    assert [lin.out_features for lin in linears] == [512, 256]
    assert model.classifier.in_features == 256 and model.classifier.out_features == 8
    small = YuAttribution(YuAttribution.config_from_preset("cpu")).eval()
    assert small(torch.zeros(2, 3, 64, 64))["attribution"].shape == (2, 8)
    with pytest.raises(UsageError, match="takes 64 px"):
        small(torch.zeros(1, 3, 32, 32))
    with pytest.raises(UsageError, match="power of two"):
        YuAttribution.Config.from_dict({"crop": 96, "test_size": 96, "resize": 110})


# -- Reverse Engineering ---------------------------------------------------------------------
def test_fingerprint_constraints_favour_faint_repetitive_high_frequency_patterns():
    from attribution88.models.reverse_engineering import fingerprint_losses

    size = 32
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    checker = ((yy + xx) % 2 * 2 - 1).float().expand(1, 3, size, size)  # Nyquist-periodic
    noise = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(0))
    noise = noise / noise.pow(2).mean().sqrt()  # same energy as the checkerboard
    flat = torch.ones(1, 3, size, size)
    a, b, c = (fingerprint_losses(f, 0.25) for f in (checker, noise, flat))
    assert a["spectrum"] < 1e-10 < c["spectrum"]  # low frequencies: none in the checkerboard
    assert a["repetitive"] < b["repetitive"]  # one strong periodic peak beats spread-out noise
    assert torch.isclose(fingerprint_losses(0.5 * checker, 0.25)["magnitude"], a["magnitude"] / 4)


def test_reverse_engineering_classifies_the_estimated_fingerprint():
    from attribution88.models.reverse_engineering import ReverseEngineering

    cls = ReverseEngineering
    model = cls(cls.config_from_preset("cpu", crop=32, resize=32, test_size=32))
    x = normalised(smooth_images(4, 32, 0))
    out = model(x)
    assert out["fingerprint"].shape == x.shape
    terms = model.loss(out, torch.arange(4).view(-1, 1), torch.ones(4, 1))
    c = model.config
    expected = (terms["attribution"] + c.magnitude_weight * terms["magnitude"] + c.spectrum_weight * terms["spectrum"]
                + c.repetitive_weight * terms["repetitive"])
    assert torch.isclose(terms["total"], expected)
    terms["total"].backward()
    assert model.fen[0].weight.grad.abs().sum() > 0  # the FEN learns through the classifier
    # the classifier sees only the fingerprint: the image reaches it through the FEN alone
    model.eval()
    with torch.no_grad():
        fp = model.fen(x)
        assert torch.equal(model.classifier(fp), model(x)["attribution"])


# -- end to end --------------------------------------------------------------------------------
#: Tiny settings per model: 32 px, one epoch, no perturbation (the loader's own tests cover it).
TINY = {
    "yu": {"resize": 36, "crop": 32, "test_size": 32, "fmap_base": 64, "fmap_max": 16},
    "dct-cnn": {"width": 4, "resize": 32, "crop": 32, "test_size": 32},
    "eigenface": {"pca_size": 8, "components": 16, "pca_fit_images": 64, "resize": 32, "crop": 32, "test_size": 32},
    "prnu": {"resize": 32, "crop": 32, "test_size": 32},
    "reverse-engineering": {"fen_layers": 3, "fen_width": 8, "cls_blocks": 2, "cls_width": 8, "resize": 36,
                            "crop": 32, "test_size": 32},
}


def train_predict_score(name, data, tmp_path, capsys, extra=()):
    settings = {**TINY[name], "epochs": 1, "batch_size": 32, "perturbation": False}
    argv = ["train", "--model", name, "--preset", "cpu", "--data", str(data), "--out", str(tmp_path / "run"),
            "--workers", "0", "--quiet", *extra]
    for k, v in settings.items():
        argv += ["--set", f"{k}={json.dumps(v)}"]
    assert cli.main(argv) == 0
    assert cli.main(["predict", "--run", str(tmp_path / "run"), "--data", str(data), "--out",
                     str(tmp_path / "preds.csv"), "--workers", "0", "--quiet"]) == 0
    predicted = capsys.readouterr().out
    kind = get_model(name).SCORE_KIND
    assert cli.main(["score", str(tmp_path / "preds.csv"), "--truth", str(data), "--scores", kind,
                     "--resamples", "20", "--json", str(tmp_path / "results.json")]) == 0
    capsys.readouterr()
    with open(tmp_path / "preds.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    results = json.loads((tmp_path / "results.json").read_text())
    return rows, results, predicted


@pytest.mark.slow
@pytest.mark.parametrize("name", BASELINES)
def test_baseline_trains_predicts_and_is_scored_end_to_end(name, tiny_dataset, tmp_path, capsys):
    rows, results, _ = train_predict_score(name, tiny_dataset, tmp_path, capsys)
    assert len(rows) == 1056
    assert set(SPEC.source_names) <= set(rows[0])
    for row in rows[:20]:
        probs = [float(row[s]) for s in SPEC.source_names]
        assert math.isclose(sum(probs), 1.0, abs_tol=1e-4)
        assert row["pred"] == SPEC.source_names[int(np.argmax(probs))]
    assert results["submission"]["score_kind"] == "probs"
    for metric in ("detection_accuracy", "attribution_accuracy", "nmi"):
        value = results["metrics"][metric]
        assert 0 <= value["value"] <= 1 and 0 <= value["low"] <= value["high"] <= 1
