"""The shared layers: resampling, filters, modulation, initialisation."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from attribution88.builders.generators.networks import layers as L


def _upfirdn_reference(x, f, up, down, pad):
    """The definition: insert zeros, pad (negative crops), convolve with outer(f, f), subsample."""
    n, c, h, w = x.shape
    z = np.zeros((n, c, h * up, w * up))
    z[:, :, ::up, ::up] = x
    px0, px1, py0, py1 = pad
    z = np.pad(z, ((0, 0), (0, 0), (max(py0, 0), max(py1, 0)), (max(px0, 0), max(px1, 0))))
    z = z[:, :, max(-py0, 0):z.shape[2] - max(-py1, 0), max(-px0, 0):z.shape[3] - max(-px1, 0)]
    k = len(f)
    f2 = np.outer(f, f)[::-1, ::-1]
    out = np.zeros((n, c, z.shape[2] - k + 1, z.shape[3] - k + 1))
    for i in range(k):
        for j in range(k):
            out += z[:, :, i:i + out.shape[2], j:j + out.shape[3]] * f2[i, j]
    return out[:, :, ::down, ::down]


@pytest.mark.parametrize("up,down,pad,k", [
    (2, 1, (2, 1, 2, 1), 4), (1, 2, (5, 5, 5, 5), 12), (2, 1, (6, 5, 6, 5), 12), (1, 1, (1, 1, 1, 1), 3),
    (1, 2, (-3, 4, 2, -1), 5), (4, 1, (3, -2, 3, -2), 7), (2, 1, (-4, -3, -4, -3), 6)])
def test_upfirdn2d_is_its_definition(up, down, pad, k):
    rng = np.random.default_rng(k)
    x, f = rng.standard_normal((2, 3, 9, 11)), rng.standard_normal(k)  # asymmetric f: flips matter
    got = L.upfirdn2d(torch.tensor(x), torch.tensor(f), up=up, down=down, padding=pad).numpy()
    np.testing.assert_allclose(got, _upfirdn_reference(x, f, up, down, pad), atol=1e-10)


def test_upsample2d_keeps_a_constant_image_constant_inside():
    x = torch.ones(1, 1, 8, 8)
    y = L.upsample2d(x, L.fir_filter([1, 3, 3, 1]))
    assert y.shape == (1, 1, 16, 16)
    torch.testing.assert_close(y[..., 2:-2, 2:-2], torch.ones(1, 1, 12, 12))


def test_lowpass_filter_passes_dc_and_stops_above_the_stopband():
    fs, cutoff, width = 256.0, 64.0, 2 * 14.79  # StyleGAN3's critically sampled 128 px layers
    f = L.lowpass_filter(12, cutoff, width, fs).double().numpy()
    assert abs(f.sum() - 1) < 1e-6 and np.allclose(f, f[::-1])
    freqs = np.linspace(0, fs / 2, 512)
    response = np.abs(np.exp(-2j * np.pi * np.outer(freqs / fs, np.arange(12))) @ f)
    assert response[freqs <= cutoff / 2].min() > 0.9
    assert response[freqs >= cutoff + width / 2 + 8].max() < 0.05


def test_modulated_conv_is_the_modulated_weight_convolution():
    rng = np.random.default_rng(0)
    x = torch.tensor(rng.standard_normal((3, 4, 8, 8)), dtype=torch.float64)
    w = torch.tensor(rng.standard_normal((5, 4, 3, 3)), dtype=torch.float64)
    s = torch.tensor(rng.standard_normal((3, 4)), dtype=torch.float64)
    got = L.modulated_conv2d(x, w, s, demodulate=True, padding=1)
    for i in range(3):  # per sample: weight * style, each output filter normalised to unit norm
        wi = w * s[i][None, :, None, None]
        wi = wi / wi.square().sum(dim=(1, 2, 3), keepdim=True).add(1e-8).sqrt()
        torch.testing.assert_close(got[i:i + 1], F.conv2d(x[i:i + 1], wi, padding=1))


def test_demodulation_makes_the_output_blind_to_the_style_scale():
    rng = np.random.default_rng(1)
    x = torch.tensor(rng.standard_normal((2, 4, 8, 8)), dtype=torch.float64)
    w = torch.tensor(rng.standard_normal((5, 4, 3, 3)), dtype=torch.float64)
    s = torch.tensor(rng.standard_normal((2, 4)), dtype=torch.float64)
    a = L.modulated_conv2d(x, w, s, padding=1)
    torch.testing.assert_close(a, L.modulated_conv2d(x, w, 7.0 * s, padding=1))
    assert not torch.allclose(a, L.modulated_conv2d(x, w, s, demodulate=False, padding=1))


def test_upsampling_modulated_conv_doubles_the_size():
    x = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    y = L.modulated_conv2d(x, torch.randn(5, 4, 3, 3), torch.ones(2, 4), up=2, padding=1,
                           resample_filter=L.fir_filter([1, 3, 3, 1]))
    assert y.shape == (2, 5, 16, 16)


def test_filtered_lrelu_equals_the_unfused_sequence():
    rng = np.random.default_rng(2)
    x = torch.tensor(rng.standard_normal((2, 3, 10, 10)) * 100, dtype=torch.float64)
    fu, fd = L.lowpass_filter(12, 8, 6, 32).double(), L.lowpass_filter(12, 8, 6, 32).double()
    got = L.filtered_lrelu(x.clone(), fu, fd, up=2, down=2, padding=(5, 5, 5, 5), gain=math.sqrt(2),
                           slope=0.2, clamp=256)
    y = L.upfirdn2d(x, fu, up=2, padding=(5, 5, 5, 5), gain=4)
    y = (F.leaky_relu(y, 0.2) * math.sqrt(2)).clamp(-256, 256)
    torch.testing.assert_close(got, L.upfirdn2d(y, fd, down=2))


def test_dense_and_pointwise_conv_match_their_batched_forms():
    rng = np.random.default_rng(3)
    x, w, b = (torch.tensor(rng.standard_normal(s), dtype=torch.float32) for s in ((5, 7), (3, 7), (3,)))
    torch.testing.assert_close(L.dense(x, w, b), F.linear(x, w, b))
    img = torch.tensor(rng.standard_normal((2, 7, 4, 5)), dtype=torch.float32)
    expected = F.conv2d(img, w[:, :, None, None], b)
    torch.testing.assert_close(L.conv1x1(img, w, b), expected)
    torch.testing.assert_close(L.conv1x1(L.channels_last(img), w, b), expected)


def test_initialize_draws_each_tensor_from_its_own_name():
    a = L.MappingNetwork(8, 8, 3)
    b = L.MappingNetwork(8, 8, 3)
    L.initialize(a, lambda name: len(name))
    L.initialize(b, lambda name: len(name))
    for (na, ta), (nb, tb) in zip(a.state_dict().items(), b.state_dict().items()):
        assert na == nb and torch.equal(ta, tb)
    c = L.MappingNetwork(8, 8, 3)
    L.initialize(c, lambda name: len(name) + (name == "fc2.weight"))
    changed = [n for n, t in c.state_dict().items() if not torch.equal(t, a.state_dict()[n])]
    assert changed == ["fc2.weight"]


def test_batch_norm_calibration_measures_the_batch():
    bn = L.BatchNorm(3)
    L.initialize(bn, lambda name: 0)
    x = torch.randn(4, 3, 5, 5, generator=torch.Generator().manual_seed(0)) * 3 + 2
    bn.calibrating = True
    y = bn(x)
    bn.calibrating = False
    assert torch.allclose(y.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(y.var(dim=(0, 2, 3), unbiased=False), torch.ones(3), atol=1e-3)
    torch.testing.assert_close(bn(x), y)
