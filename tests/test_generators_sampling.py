"""Sampling: same image id, same bytes — across batch sizes, orders, processes and thread
counts; downscaling and cropping; the stand-ins and what the dataset card says about them."""

import hashlib
import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from attribution88.builders.generators import (ARCHITECTURES, MICRO_BATCH, STAND_IN_NOTICE, card_notes, draw_latents,
                                               load_generator, sample, save_checkpoint, stylegan2)
from attribution88.builders.generators.manifest import MANIFEST
from attribution88.builders.generators.networks.layers import initialize
from attribution88.builders.generators.sampling import finish
from attribution88.builders.generators.stand_ins import build_stand_in
from attribution88.errors import CheckpointError, UsageError
from attribution88.ids import latent_seed
from attribution88.images import center_crop_resize
from attribution88.spec import SPEC


def _seeds(arch, semantic="bedroom", n=9):
    cell = SPEC.cell(arch, semantic)
    return [latent_seed(cell, i) for i in range(n)]


@pytest.fixture(scope="module")
def stand_ins():
    return {arch: load_generator(arch, "bedroom", stand_in=True) for arch in ARCHITECTURES}


@pytest.fixture(scope="module")
def reference(stand_ins):
    """Every stand-in's images for 9 seeds (a full micro-batch and one more), in one call."""
    return {arch: sample(g, _seeds(arch), batch_size=9) for arch, g in stand_ins.items()}


@pytest.mark.parametrize("arch", ARCHITECTURES.names())
def test_same_seed_same_bytes_whatever_the_batch_size(stand_ins, reference, arch):
    assert MICRO_BATCH["cpu"] == 8
    assert np.array_equal(sample(stand_ins[arch], _seeds(arch), batch_size=64), reference[arch])
    assert np.array_equal(sample(stand_ins[arch], _seeds(arch), batch_size=4), reference[arch])
    assert np.array_equal(sample(stand_ins[arch], _seeds(arch)[:3], batch_size=1), reference[arch][:3])


@pytest.mark.parametrize("arch", ARCHITECTURES.names())
def test_an_image_does_not_depend_on_its_neighbours(stand_ins, reference, arch):
    seeds = _seeds(arch)
    order = [7, 2, 0, 5, 1, 3, 8, 4, 6]
    shuffled = sample(stand_ins[arch], [seeds[i] for i in order], batch_size=9)
    assert np.array_equal(shuffled, reference[arch][order])
    alone = sample(stand_ins[arch], [seeds[5]])
    assert np.array_equal(alone[0], reference[arch][5])


def test_same_bytes_in_another_process_with_one_thread(reference):
    code = (
        "import hashlib, json, torch\n"
        "torch.set_num_threads(1)\n"
        "from attribution88.builders.generators import load_generator, sample, ARCHITECTURES\n"
        "from attribution88.ids import latent_seed\n"
        "from attribution88.spec import SPEC\n"
        "out = {}\n"
        "for a in ARCHITECTURES:\n"
        "    seeds = [latent_seed(SPEC.cell(a, 'bedroom'), i) for i in range(9)]\n"
        "    imgs = sample(load_generator(a, 'bedroom', stand_in=True), seeds, batch_size=5)\n"
        "    out[a] = hashlib.sha256(imgs.tobytes()).hexdigest()\n"
        "print(json.dumps(out))\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    theirs = json.loads(result.stdout)
    assert theirs == {a: hashlib.sha256(r.tobytes()).hexdigest() for a, r in reference.items()}


def test_latents_come_from_the_seed_alone():
    z, noise = draw_latents(12345, 16, [(4, 4), (8, 8)], "normal")
    z2, noise2 = draw_latents(12345, 16, [(4, 4), (8, 8)], "normal")
    assert np.array_equal(z, z2) and all(np.array_equal(a, b) for a, b in zip(noise, noise2))
    assert z.dtype == np.float32 and noise[1].shape == (1, 8, 8)
    u, _ = draw_latents(12345, 1000, [], "uniform")
    assert u.min() >= -1 and u.max() <= 1 and abs(u.mean()) < 0.1
    assert not np.array_equal(draw_latents(12346, 16, [], "normal")[0], z)


def test_sample_returns_128px_rgb_uint8(reference):
    for imgs in reference.values():
        assert imgs.shape == (9, 128, 128, 3) and imgs.dtype == np.uint8
        assert imgs.std() > 20  # not a flat image
        assert len({hashlib.sha256(im.tobytes()).digest() for im in imgs}) == 9  # every seed differs


def test_images_above_128px_are_downscaled_with_the_real_images_filter(tmp_path):
    config = stylegan2.Config(resolution=256, z_dim=16, w_dim=16, mapping_layers=2, channel_base=512, channel_max=16)
    module = stylegan2.ARCHITECTURE.module().Generator(config)
    initialize(module, lambda name: len(name))
    save_checkpoint(module.eval(), tmp_path, arch="stylegan2", semantic="dog")
    gen = load_generator("stylegan2", "dog", checkpoints_dir=tmp_path)
    native = sample(gen, [1, 2], out_size=256)
    small = sample(gen, [1, 2])
    assert native.shape == (2, 256, 256, 3) and small.shape == (2, 128, 128, 3)
    for a, b in zip(native, small):
        assert np.array_equal(center_crop_resize(a, 128), b)


def test_content_box_is_cropped_before_downscaling():
    model = MANIFEST.model("stylegan2", "car")  # 512x512 output, 512x384 content
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (2, 512, 512, 3), dtype=np.uint8)
    images[:, :64] = 0
    images[:, -64:] = 0  # the padding bars
    out = finish(images, model, 128)
    for a, b in zip(images, out):
        assert np.array_equal(center_crop_resize(a[64:448], 128), b)


def test_a_generator_smaller_than_128px_is_refused():
    images = np.zeros((1, 64, 64, 3), dtype=np.uint8)
    with pytest.raises(CheckpointError, match="never upsamples"):
        finish(images, MANIFEST.model("sngan", "dog"), 128)


def test_bad_arguments_are_usage_errors(stand_ins):
    g = stand_ins["sngan"]
    with pytest.raises(UsageError, match="batch-size"):
        sample(g, [1], batch_size=0)
    with pytest.raises(UsageError, match="precision"):
        sample(g, [1], precision="int8")
    with pytest.raises(UsageError, match="fp16 needs --device cuda"):
        sample(g, [1], precision="fp16")
    with pytest.raises(UsageError, match="stand-ins take no checkpoint"):
        load_generator("sngan", "dog", stand_in=True, checkpoint="x.safetensors")
    if not torch.cuda.is_available():
        with pytest.raises(UsageError, match="no CUDA device"):
            load_generator("sngan", "dog", stand_in=True, device="cuda")


def test_without_any_checkpoint_the_error_says_where_to_get_one(monkeypatch):
    monkeypatch.delenv("ATTRIBUTION88_CHECKPOINTS", raising=False)
    with pytest.raises(CheckpointError, match="progan-cat.*karras2018iclr-lsun-cat-256x256.pkl"):
        load_generator("progan", "cat")


# -- stand-ins -----------------------------------------------------------------------------------
def test_stand_ins_are_fixed_by_the_spec():
    a, b = build_stand_in("progan", "horse"), build_stand_in("progan", "horse")
    for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
        assert torch.equal(x, y), name


def test_stand_ins_share_fingerprint_layers_across_semantics_not_content():
    is_content = ARCHITECTURES.get("stylegan2").is_content
    a, b = build_stand_in("stylegan2", "cat").state_dict(), build_stand_in("stylegan2", "dog").state_dict()
    rgb_scaled = {n for n in a if n.endswith(("torgb.weight", "torgb.bias"))}  # output calibration
    for name in a:
        if a[name].numel() < 2 or not a[name].std() > 0:  # constant initialisations (zero biases)
            continue
        if is_content(name):
            assert not torch.equal(a[name], b[name]), name
        elif name not in rgb_scaled:
            assert torch.equal(a[name], b[name]), name
    other = build_stand_in("stylegan2", "cat")
    assert torch.equal(other.state_dict()["synthesis.b64.conv1.weight"], a["synthesis.b64.conv1.weight"])


def test_architectures_do_not_share_stand_in_weights():
    a, b = build_stand_in("mmdgan", "cat").state_dict(), build_stand_in("cramergan", "cat").state_dict()
    assert a.keys() == b.keys() and not torch.equal(a["res3.conv1.weight"], b["res3.conv1.weight"])


def test_stand_in_generators_say_what_they_are(stand_ins):
    g = stand_ins["stylegan3"]
    assert g.is_stand_in and g.origin == "stand-in:stylegan3-bedroom;psi=1" and g.native_resolution == 128
    notes = card_notes(stand_ins.values())
    assert notes["warnings"] == [STAND_IN_NOTICE] and "not from the paper's models" in STAND_IN_NOTICE
    assert "stand-in:sngan-bedroom" in notes["sections"][0]["markdown"]


def test_the_dataset_card_of_a_stand_in_build_says_so(tmp_path, stand_ins):
    from attribution88.format.dataset import finalize, prepare_output_dir, write_records
    from attribution88.format.schema import Record
    from attribution88.ids import assign, image_id
    from attribution88.images import encode_png

    preset = SPEC.preset("mini")
    cell = SPEC.cell("sngan", "bedroom")
    g = stand_ins["sngan"]
    n = preset.cell_size(cell.semantic)
    images = sample(g, [latent_seed(cell, i) for i in range(n)])
    records = []
    for i, im in enumerate(images):
        a = assign(image_id(cell, i), preset)
        records.append(Record(a.id, encode_png(im), cell.source.index, cell.semantic.index, a.split,
                              a.perturbation, a.severity, a.perturbation_seed, latent_seed(cell, i), g.origin))
    root = tmp_path / "data"
    prepare_output_dir(root, preset.name)
    write_records(root, records, preset)
    finalize(root, preset.name, {"kind": "tests", **card_notes([g])})
    card = (root / "README.md").read_text()
    assert STAND_IN_NOTICE in card and "## Generators" in card


# -- reduced precision ---------------------------------------------------------------------------
def test_precision_check_passes_identical_images_and_catches_a_spectral_change():
    from attribution88.builders.generators.precision import compare_images

    rng = np.random.default_rng(0)
    smooth = np.repeat(np.repeat(rng.integers(40, 200, (16, 16, 16, 3), dtype=np.uint8), 8, axis=1), 8, axis=2)
    same = compare_images(smooth, smooth.copy(), "fp32")
    assert same.ok and same.max_abs_diff == 0 and same.spectrum_db_diff == 0
    grain = rng.integers(-2, 3, smooth.shape)  # +-2 levels of white noise: small pixels, big high frequencies
    noisy = np.clip(smooth.astype(int) + grain, 0, 255).astype(np.uint8)
    report = compare_images(smooth, noisy, "bf16")
    assert report.channel_mean_diff < 0.25 and not report.ok and report.spectrum_band > 8


def test_precision_check_runs_on_a_generator(stand_ins):
    from attribution88.builders.generators.precision import compare_precision

    report = compare_precision(stand_ins["mmdgan"], _seeds("mmdgan", n=8), "fp32")
    assert report.ok and report.max_abs_diff == 0 and "same statistics" in report.summary()


def test_sample_png_encodes_the_same_images(stand_ins, reference):
    from attribution88.builders.generators import sample_png
    from attribution88.images import decode_image

    pngs = sample_png(stand_ins["progan"], _seeds("progan")[:2])
    assert all(np.array_equal(decode_image(p), im) for p, im in zip(pngs, reference["progan"][:2]))
