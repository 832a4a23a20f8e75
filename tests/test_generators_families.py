"""Each family keeps what leaves its fingerprint: shapes, value ranges and structure."""

import dataclasses
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from attribution88.builders.generators import ARCHITECTURES, architecture
from attribution88.builders.generators.networks import layers as L
from attribution88.builders.generators.stand_ins import build_stand_in



@pytest.fixture(autouse=True)
def no_grad():
    """These tests only run the generators forward (never a global switch: other test files
    need gradients)."""
    with torch.no_grad():
        yield


def _built(arch, config=None, seed=0):
    a = architecture(arch)
    g = a.module().Generator(config or a.stand_in_config())
    L.initialize(g, lambda name: seed * 100003 + sum(map(ord, name)))
    return g.eval()


def _inputs(g, n=2, seed=0):
    rng = np.random.default_rng(seed)
    z = torch.from_numpy(rng.standard_normal((n, g.z_dim), dtype=np.float32))
    noise = [torch.from_numpy(rng.standard_normal((n, 1, h, w), dtype=np.float32)) for h, w in g.noise_shapes()]
    return z, noise or None


@pytest.mark.parametrize("arch", ARCHITECTURES.names())
def test_stand_in_shape_and_range(arch):
    g = build_stand_in(arch, "cat")
    out = g(*_inputs(g, 3))
    assert out.shape == (3, 3, 128, 128) and torch.isfinite(out).all()
    lo, hi = architecture(arch).output_range
    inside = ((out >= lo) & (out <= hi)).float().mean()
    assert inside > 0.9  # calibrated to use the range, not to saturate
    assert out.std() > 0.1 * (hi - lo)


@pytest.mark.parametrize("arch,millions", [("stylegan3", 22.3), ("stylegan2", 30.4), ("stylegan", 26.2),
                                           ("progan", 23.1)])
def test_full_configs_have_the_published_parameter_counts(arch, millions):
    # Generator parameters at 1024 px as published: ProGAN 23.1M (ICLR 2018, Tab. 2), StyleGAN
    # 26.2M (CVPR 2019, Tab. 1), StyleGAN2 config-f ~30M and StyleGAN3-T 22.3M (NeurIPS 2021).
    a = architecture(arch)
    g = a.module().Generator(a.full_config(1024))
    n = sum(p.numel() for p in g.parameters()) / 1e6
    assert abs(n - millions) / millions < 0.015, n


def test_sngan_and_resnet5_outputs_are_squashed():
    for arch, (lo, hi) in (("sngan", (-1, 1)), ("mmdgan", (0, 1))):
        g = _built(arch)
        z, noise = _inputs(g, 1)
        g.rescale_output(torch.full((3,), 50.0), torch.zeros(3))  # push far into saturation
        out = g(z, noise)
        assert out.min() >= lo and out.max() <= hi


# -- StyleGAN2 ---------------------------------------------------------------------------------
def test_stylegan2_skip_output_sums_rgb_from_every_resolution():
    g = _built("stylegan2")
    z, noise = _inputs(g)
    full = g(z, noise)
    last = g.synthesis.b128.torgb
    last.weight.zero_()
    last.bias.zero_()
    without_last = g(z, noise)
    # What remains is the 64 px image upsampled with the [1,3,3,1] filter: no 128 px detail.
    g2 = _built("stylegan2", dataclasses.replace(g.config, resolution=64))
    g2.load_state_dict({k: v for k, v in g.state_dict().items() if not k.startswith("synthesis.b128.")})
    low = g2(z, noise[:-2])
    torch.testing.assert_close(without_last, L.upsample2d(low, L.fir_filter([1, 3, 3, 1])))
    assert not torch.allclose(full, without_last)


def test_stylegan2_has_one_noise_input_per_layer_with_a_learned_strength():
    g = _built("stylegan2")
    assert g.noise_shapes() == [(4, 4)] + [(r, r) for r in (8, 16, 32, 64, 128) for _ in range(2)]
    z, noise = _inputs(g)
    for m in g.modules():
        if hasattr(m, "noise_strength"):
            m.noise_strength.fill_(0.1)  # initialised to zero, learned in training
    base = g(z, noise)
    other = [n.flip(-1) for n in noise]
    assert not torch.equal(base, g(z, other))
    for m in g.modules():
        if hasattr(m, "noise_strength"):
            m.noise_strength.zero_()
    torch.testing.assert_close(g(z, noise), g(z, other))


def test_stylegan2_layers_are_demodulated():
    g = _built("stylegan2")
    z, noise = _inputs(g)
    base = g(z, noise)
    layer = g.synthesis.b32.conv1
    layer.affine.weight.mul_(5.0)
    layer.affine.bias.mul_(5.0)  # styles x5: demodulation cancels it
    torch.testing.assert_close(g(z, noise), base, rtol=1e-4, atol=1e-4)
    g.synthesis.b32.torgb.affine.weight.mul_(5.0)
    g.synthesis.b32.torgb.affine.bias.mul_(5.0)  # ToRGB is not demodulated
    assert not torch.allclose(g(z, noise), base, atol=1e-3)


def test_stylegan_mapping_network_depths():
    assert _built("stylegan2").mapping.num_layers == 8 == _built("stylegan").mapping.num_layers
    assert _built("stylegan3").mapping.num_layers == 2


def test_truncation_pulls_towards_the_average_w():
    g = build_stand_in("stylegan2", "horse")
    z, noise = _inputs(g, 2)
    w_avg = g.mapping.w_avg
    ws = g.mapping(z, g.config.num_ws, truncation_psi=0.5)
    free = g.mapping(z, g.config.num_ws)
    torch.testing.assert_close(ws, w_avg + 0.5 * (free - w_avg))
    assert not torch.equal(g(z, noise, truncation_psi=0.5), g(z, noise))


# -- StyleGAN ----------------------------------------------------------------------------------
def test_stylegan_adain_normalises_away_the_convolution_scale():
    g = _built("stylegan")
    for m in g.modules():  # zero noise weights and biases: the epilogue is then scale-free
        if isinstance(m, architecture("stylegan").module().Epilogue):
            m.noise_weight.zero_()
            m.bias.zero_()
    z, noise = _inputs(g)
    base = g(z, noise)
    g.synthesis.b16.conv1.weight.mul_(9.0)
    torch.testing.assert_close(g(z, noise), base, rtol=1e-4, atol=1e-4)


def test_stylegan_has_per_channel_noise_and_rgb_only_at_the_end():
    g = _built("stylegan")
    assert len(g.noise_shapes()) == 2 * 6
    assert g.synthesis.b64.epi0.noise_weight.shape == (g.config.channels(64),)
    assert not any("torgb" in n for n in g.state_dict() if n.startswith("synthesis.b"))
    z, noise = _inputs(g)
    g.synthesis.b8.epi1.noise_weight.fill_(1.0)
    assert not torch.equal(g(z, noise), g(z, [n.flip(-1) for n in noise]))


def test_stylegan_fused_upsampling_is_nearest_upsampling_then_conv():
    up = architecture("stylegan").module().UpConv(4, 5, fused=True)
    L.initialize(up, lambda name: 3)
    x = torch.randn(2, 4, 8, 8, generator=torch.Generator().manual_seed(0))
    plain = F.conv2d(L.upsample_nearest(x), up.weight * up.weight_gain, padding=1)
    torch.testing.assert_close(up(x), plain, rtol=1e-5, atol=1e-5)
    assert _built("stylegan").synthesis.b128.conv0_up.fused and not _built("stylegan").synthesis.b64.conv0_up.fused


# -- StyleGAN3 ---------------------------------------------------------------------------------
def test_stylegan3_schedule_of_the_full_model():
    s = architecture("stylegan3").full_config(256).schedule()
    assert s["cutoffs"][0] == 2 and s["cutoffs"][-1] == 128
    assert np.allclose(np.diff(np.log(s["cutoffs"][:13])), np.log(64) / 12)  # geometric
    assert list(s["sizes"][-2:]) == [256, 256]
    assert all(s["sizes"][:-2] == s["rates"][:-2] + 20)  # 10 px margin on each side
    assert list(s["channels"][:5]) == [512] * 5 and s["channels"][-1] == 3


def test_stylegan3_has_no_noise_and_alias_free_layers():
    g = _built("stylegan3")
    assert g.noise_shapes() == []
    layers = g.synthesis.layers()
    assert all(lay.up >= 2 and lay.down == 2 for lay in layers[:-1])  # every nonlinearity upsampled
    assert layers[-1].up == layers[-1].down == 1 and layers[-1].kernel == 1  # ToRGB
    for lay in layers[:-1]:
        assert abs(float(lay.up_filter.sum()) - 1) < 1e-5 and abs(float(lay.down_filter.sum()) - 1) < 1e-5
    assert [lay.critically_sampled for lay in layers[:-1]][-2:] == [True, True]


def test_stylegan3_is_equivariant_to_translation():
    g = build_stand_in("stylegan3", "bedroom")
    z, _ = _inputs(g, 2)
    ref = g(z)
    k, m, r = 3, 16, g.resolution
    transform = torch.eye(3)
    transform[0, 2] = k / r  # move the Fourier features by k output pixels
    g.synthesis.input.transform.copy_(transform)
    moved = g(z)
    inner = (slice(None), slice(None), slice(m, -m))
    err = (moved[inner][..., m:-m - k] - ref[inner][..., m + k:-m]).square().mean().sqrt() / ref.std()
    unmoved = (moved[inner][..., m:-m] - ref[inner][..., m:-m]).square().mean().sqrt() / ref.std()
    assert err < 0.01 < unmoved  # the image moves with its input, and it does move


# -- ProGAN ------------------------------------------------------------------------------------
def test_progan_normalises_every_pixel_feature_vector():
    g = _built("progan")
    seen = []
    for res in g.resolutions:
        getattr(g, f"b{res}").register_forward_hook(lambda m, i, o: seen.append(o))
    g(*_inputs(g))
    for out in seen:
        rms = out.square().mean(dim=1).sqrt()
        torch.testing.assert_close(rms, torch.ones_like(rms), rtol=1e-4, atol=1e-4)


def test_progan_upsamples_by_nearest_neighbour():
    g = _built("progan")
    seen = []
    g.b64.conv0.register_forward_hook(lambda m, i, o: seen.append(i[0]))
    g(*_inputs(g))
    x = seen[0]
    assert x.shape[-1] == 64
    torch.testing.assert_close(x, L.upsample_nearest(x[..., ::2, ::2]))


# -- SNGAN and g-resnet5 -----------------------------------------------------------------------
def test_sngan_resnet_generator_structure():
    g = _built("sngan", architecture("sngan").full_config(128))
    assert g.num_blocks == 5 and g.l1.weight.shape == (4 * 4 * 1024, 128)
    assert g.block2.c_sc.weight.shape[-2:] == (1, 1) and g.block6.c2.weight.shape[:2] == (64, 64)
    assert g.l7.weight.shape == (3, 64, 3, 3)


def test_batch_norm_statistics_are_calibrated_for_stand_ins():
    for arch in ("sngan", "cramergan"):
        g = build_stand_in(arch, "boat")
        norms = [m for m in g.modules() if isinstance(m, L.BatchNorm)]
        assert norms and all(not torch.equal(m.running_var, torch.ones_like(m.running_var)) for m in norms)


def test_g_resnet5_structure_and_tf_same_alignment():
    g = _built("mmdgan", architecture("mmdgan").full_config(128))
    assert g.num_blocks == 4 and g.config.base_size == 4
    assert g.lin.weight.shape == (1024 * 16, 100) and g.out_weight.shape == (64, 3, 5, 5)
    # TF 'SAME' stride-2 transposed conv: input pixel i reaches outputs 2i-1 .. 2i+3.
    h = torch.zeros(1, 64, 64, 64)
    h[0, 0, 10, 10] = 1.0
    g.out_weight.zero_()
    g.out_weight[0, 0] = 1.0
    g.out_bias.zero_()
    out = g.output_layer(h)
    assert out.shape == (1, 3, 128, 128)
    rows = torch.nonzero(out[0, 0].abs().sum(dim=1)).flatten()
    assert rows.tolist() == list(range(19, 24))


def test_is_content_splits_coarse_from_fine_layers():
    for arch in ARCHITECTURES.names():
        a = architecture(arch)
        names = list(a.module().Generator(a.stand_in_config()).state_dict())
        content = [n for n in names if a.is_content(n)]
        assert 0 < len(content) < len(names), arch
    assert architecture("stylegan2").is_content("synthesis.b16.conv1.weight")
    assert not architecture("stylegan2").is_content("synthesis.b128.torgb.weight")


def test_calibrated_output_scale_is_folded_into_the_weights():
    for arch in ARCHITECTURES.names():
        g = _built(arch)
        z, noise = _inputs(g, 1)
        raw = g(z, noise, raw=True)
        g.rescale_output(torch.tensor([2.0, 1.0, 0.5]), torch.tensor([0.1, 0.0, -0.1]))
        new = g(z, noise, raw=True)
        scale, shift = torch.tensor([2.0, 1.0, 0.5]).view(1, 3, 1, 1), torch.tensor([0.1, 0.0, -0.1]).view(1, 3, 1, 1)
        expected = raw * scale + shift
        torch.testing.assert_close(new, expected, rtol=1e-4, atol=1e-4 * math.sqrt(raw.abs().max().item()))


def test_stylegan3_input_magnitude_is_not_cancelled_by_demodulation():
    g = _built("stylegan3")
    z, _ = _inputs(g)
    ws = g.mapping(z, g.config.num_ws)
    x = g.synthesis.input(ws[:, 0])
    layer = g.synthesis.layers()[1]
    layer.bias.zero_()
    base = layer(x, ws[:, 2])
    layer.magnitude_ema.fill_(4.0)  # input gain 1/2; leaky ReLU and filters are linear in scale
    torch.testing.assert_close(layer(x, ws[:, 2]), base / 2, rtol=1e-5, atol=1e-6)
