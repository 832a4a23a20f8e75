"""The perturbation engine's contract: the registry follows the spec, calls are deterministic
and independent of any global state, inputs are validated or converted as documented, and the
benchmark's protocol (resize to 224 and back, test assignments, training draws) holds."""

import hashlib
import random
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from PIL import Image

from attribution88 import perturb
from attribution88.errors import ImageError, UnknownNameError, UsageError
from attribution88.ids import assign, image_id
from attribution88.spec import NO_PERTURBATION, SPEC

NAMES = SPEC.perturbation_names
# Corruptions whose output does not depend on the random generator.
DETERMINISTIC = {"defocus_blur", "zoom_blur", "brightness", "contrast", "pixelate",
                 "jpeg_compression", "gaussian_blur", "saturate"}


def _image(h=64, w=80, seed=0):
    """A smooth colour image with some texture, made from a local generator."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    base = np.stack([128 + 90 * np.sin(xx / 9 + c) * np.cos(yy / 13 - c) for c in range(3)], -1)
    return np.clip(base + rng.normal(0, 12, (h, w, 3)), 0, 255).astype(np.uint8)


def test_registry_has_the_spec_names_in_the_spec_order():
    assert perturb.CORRUPTIONS.names() == NAMES
    assert len(perturb.CORRUPTIONS) == 19


@pytest.mark.parametrize("name", NAMES)
def test_apply_returns_uint8_rgb_of_the_input_size_and_leaves_the_input_alone(name):
    x = _image(48, 72)
    before = x.copy()
    y = perturb.apply(x, name, 3, 5)
    assert y.dtype == np.uint8 and y.shape == x.shape and y.flags.c_contiguous
    assert np.array_equal(x, before)
    assert y is not x


@pytest.mark.parametrize("name", NAMES)
def test_apply_changes_the_image(name):
    x = _image(96, 96)
    assert np.abs(perturb.apply(x, name, 5, 1).astype(int) - x).mean() > 1.0


@pytest.mark.parametrize("name", NAMES)
def test_same_arguments_give_the_same_bytes(name):
    x = _image()
    assert perturb.apply(x, name, 4, 123).tobytes() == perturb.apply(x, name, 4, 123).tobytes()


@pytest.mark.parametrize("name", sorted(set(NAMES) - DETERMINISTIC))
def test_another_seed_gives_another_draw(name):
    x = _image(96, 96)
    outputs = {perturb.apply(x, name, 3, seed).tobytes() for seed in range(4)}
    assert len(outputs) > 1


@pytest.mark.parametrize("name", sorted(DETERMINISTIC))
def test_deterministic_corruptions_ignore_the_seed(name):
    x = _image()
    assert np.array_equal(perturb.apply(x, name, 2, 0), perturb.apply(x, name, 2, 99))


def test_no_global_random_state_is_read_or_written():
    x = _image()
    np_state, py_state = np.random.get_state(), random.getstate()
    for name in NAMES:
        for s in SPEC.severities:
            perturb.apply(x, name, s, s)
    perturb.training_perturbation(x, 3)
    after = np.random.get_state()
    assert random.getstate() == py_state
    assert np_state[0] == after[0] and np.array_equal(np_state[1], after[1]) and np_state[2:] == after[2:]


def _digest(x):
    return hashlib.sha256(b"".join(perturb.apply(x, n, 3, 11).tobytes() for n in NAMES)).hexdigest()


def test_threads_in_any_order_give_the_same_bytes():
    x = _image(56, 64)
    cells = [(n, s) for n in NAMES for s in (1, 5)]
    expected = {c: perturb.apply(x, c[0], c[1], 7).tobytes() for c in cells}
    shuffled = cells[::-1][::2] + cells[::-1][1::2]
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda c: perturb.apply(x, c[0], c[1], 7).tobytes(), shuffled))
    assert all(expected[c] == g for c, g in zip(shuffled, got))


def test_another_process_gives_the_same_bytes_without_importing_imagecorruptions():
    # ... and with OpenCV on one thread, where this process runs it on all cores
    code = ("import sys, hashlib, numpy as np, cv2\n"
            "cv2.setNumThreads(1)\n"
            "from attribution88 import perturb\n"
            "x = np.frombuffer(sys.stdin.buffer.read(), np.uint8).reshape(50, 70, 3)\n"
            "names = perturb.CORRUPTIONS.names()\n"
            "print(hashlib.sha256(b''.join(perturb.apply(x, n, 3, 11).tobytes() for n in names)).hexdigest())\n"
            "print('imagecorruptions' in sys.modules)\n")
    x = _image(50, 70, seed=4)
    out = subprocess.run([sys.executable, "-c", code], input=x.tobytes(), capture_output=True,
                         check=True).stdout.decode().split()
    assert out == [_digest(x), "False"]


def test_unknown_name_suggests_the_closest():
    with pytest.raises(UnknownNameError, match="did you mean gaussian_noise"):
        perturb.apply(_image(), "gausian_noise", 1, 0)


@pytest.mark.parametrize("severity", [0, 6, -1, 2.5, "3", True, None])
def test_severity_outside_1_to_5_is_refused(severity):
    with pytest.raises(UsageError, match="severity must be an integer from 1 to 5"):
        perturb.apply(_image(), "fog", severity, 0)


@pytest.mark.parametrize("seed", [-1, 1.5, "7", None, False])
def test_seed_must_be_a_non_negative_integer(seed):
    with pytest.raises(UsageError, match="seed must be a non-negative integer"):
        perturb.apply(_image(), "fog", 1, seed)


def test_numpy_integers_are_accepted_for_severity_and_seed():
    x = _image()
    assert np.array_equal(perturb.apply(x, "snow", np.int64(2), np.uint32(9)), perturb.apply(x, "snow", 2, 9))


def test_grey_images_are_repeated_to_rgb():
    rgb = _image()
    grey = rgb[:, :, 1]
    as_rgb = np.repeat(grey[:, :, None], 3, axis=2)
    for image in (grey, grey[:, :, None], Image.fromarray(grey)):
        assert np.array_equal(perturb.apply(image, "spatter", 2, 3), perturb.apply(as_rgb, "spatter", 2, 3))


def test_rgba_images_lose_their_alpha():
    rgb = _image()
    rgba = np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 40, np.uint8)], axis=2)
    expected = perturb.apply(rgb, "frost", 3, 3)
    assert np.array_equal(perturb.apply(rgba, "frost", 3, 3), expected)
    assert np.array_equal(perturb.apply(Image.fromarray(rgba, "RGBA"), "frost", 3, 3), expected)


@pytest.mark.parametrize("shape", [(0, 10, 3), (10, 0), (0, 0, 3)])
def test_empty_images_are_refused(shape):
    with pytest.raises(ImageError, match="empty"):
        perturb.apply(np.zeros(shape, np.uint8), "fog", 1, 0)
    with pytest.raises(ImageError, match="empty"):
        perturb.apply_protocol(np.zeros(shape, np.uint8), "fog", 1, 0)


def test_images_smaller_than_32_pixels_need_the_protocol():
    tiny = np.full((1, 1, 3), 90, np.uint8)
    with pytest.raises(ImageError, match="at least 32x32"):
        perturb.apply(tiny, "gaussian_blur", 1, 0)
    for name in NAMES:
        y = perturb.apply_protocol(tiny, name, 5, 0)
        assert y.shape == (1, 1, 3) and y.dtype == np.uint8


@pytest.mark.parametrize("bad", [np.zeros((40, 40, 3), np.float32), np.zeros((40, 40, 2), np.uint8),
                                 np.zeros((4, 40, 40, 3), np.uint8), [[1, 2], [3, 4]]])
def test_unusable_arrays_are_refused(bad):
    with pytest.raises(ImageError):
        perturb.apply(bad, "contrast", 1, 0)


@pytest.mark.parametrize("name", NAMES)
def test_apply_works_on_small_and_non_square_images(name):
    for shape in ((32, 32, 3), (32, 300, 3), (257, 33, 3)):
        assert perturb.apply(_image(*shape[:2]), name, 5, 2).shape == shape


def test_protocol_resizes_to_224_corrupts_and_resizes_back():
    x = _image(128, 128)
    up = np.asarray(Image.fromarray(x).resize((224, 224), Image.Resampling.BILINEAR))
    expected = np.asarray(Image.fromarray(perturb.apply(up, "motion_blur", 4, 8))
                          .resize((128, 128), Image.Resampling.BILINEAR))
    assert np.array_equal(perturb.apply_protocol(x, "motion_blur", 4, 8), expected)


def test_protocol_at_224_is_apply():
    x = _image(224, 224)
    assert np.array_equal(perturb.apply_protocol(x, "glass_blur", 2, 1), perturb.apply(x, "glass_blur", 2, 1))


def test_protocol_keeps_non_square_sizes():
    assert perturb.apply_protocol(_image(100, 37), "zoom_blur", 3, 0).shape == (100, 37, 3)


def test_no_perturbation_returns_the_image():
    x = _image()
    for fn in (perturb.apply_protocol, perturb.apply):
        y = fn(x, NO_PERTURBATION, 1, 0)
        assert np.array_equal(y, x) and y is not x


def test_assignments_of_test_images_are_applied_as_the_spec_says():
    preset = SPEC.preset("mini")
    x = _image(128, 128)
    seen = set()
    for cell in SPEC.cells()[:6]:
        for i in range(preset.cell_size(cell.semantic)):
            a = assign(image_id(cell, i), preset)
            if a.split != "test":
                continue
            y = perturb.apply_assignment(x, a)
            seen.add(a.condition)
            if a.perturbation == NO_PERTURBATION:
                assert np.array_equal(y, x)
            else:
                assert np.array_equal(y, perturb.apply_protocol(x, a.perturbation, a.severity,
                                                                a.perturbation_seed))
    assert seen == {"clean", "seen_pert", "unseen_pert"}


def test_training_draws_follow_the_spec():
    x = _image(32, 32)
    draws = [perturb.training_perturbation(x, seed) for seed in range(300)]
    seen = {p.name for p in SPEC.seen_perturbations()}
    names = [n for _, n, _ in draws]
    assert 3 <= names.count(NO_PERTURBATION) <= 30  # p = 0.05 of 300: 15 expected
    assert {n for n in names if n != NO_PERTURBATION} <= seen
    assert len(set(names)) >= 12
    assert {s for _, n, s in draws if n != NO_PERTURBATION} == set(SPEC.severities)
    for y, n, s in draws:
        assert y.shape == x.shape and y.dtype == np.uint8
        assert (s == 0) == (n == NO_PERTURBATION)
        if n == NO_PERTURBATION:
            assert np.array_equal(y, x)


def test_training_draw_is_a_function_of_the_seed():
    x = _image(64, 64)
    a, b = perturb.training_perturbation(x, 42), perturb.training_perturbation(x, 42)
    assert a[1:] == b[1:] and np.array_equal(a[0], b[0])


def test_importing_the_engine_loads_no_heavy_module():
    code = ("import sys\n"
            "import attribution88.perturb, attribution88.cli.perturb\n"
            "print(sorted(m for m in ('cv2', 'scipy', 'skimage', 'torch', 'imagecorruptions') if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
