"""Shared fixtures. Tests never touch the network nor the user's caches: the Hugging Face
caches point into a temporary folder and the Hub is marked offline."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _isolated_caches(tmp_path_factory):
    home = tmp_path_factory.mktemp("hf_home")
    old = {k: os.environ.get(k) for k in ("HF_HOME", "HF_DATASETS_CACHE", "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "HF_TOKEN")}
    os.environ.update(HF_HOME=str(home), HF_DATASETS_CACHE=str(home / "datasets"),
                      HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    os.environ.pop("HF_TOKEN", None)
    yield
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def build_tiny_dataset(root, preset_name="mini", cells=None, size=16):
    """A dataset folder written by the real format writer: every image of the preset's
    cells, with the spec's assignment. Images are seeded noise and no corruption is applied
    (the perturbation columns say what the spec assigns): enough for format, loading and
    scoring tests."""
    import numpy as np

    from attribution88.format.dataset import finalize, prepare_output_dir, write_records
    from attribution88.format.schema import Record
    from attribution88.ids import assign, derive_seed, image_id
    from attribution88.images import encode_png
    from attribution88.spec import SPEC

    preset = SPEC.preset(preset_name)
    records = []
    for cell in cells or SPEC.cells():
        for i in range(preset.cell_size(cell.semantic)):
            a = assign(image_id(cell, i), preset)
            rng = np.random.default_rng(derive_seed("test-image", a.id))
            pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
            records.append(Record(
                a.id, encode_png(pixels), cell.source.index, cell.semantic.index, a.split,
                a.perturbation, a.severity, a.perturbation_seed,
                derive_seed("latent", a.id) if cell.source.is_fake else None, "tests"))
    prepare_output_dir(root, preset.name)
    write_records(root, records, preset)
    return finalize(root, preset.name, {"kind": "tests", "warnings": ["Noise images made by the tests."]})


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    """A whole mini-preset dataset (88 cells) of 16x16 noise images; do not modify it."""
    root = tmp_path_factory.mktemp("tiny") / "attribution88"
    build_tiny_dataset(root)
    return root


@pytest.fixture
def make_tiny_dataset():
    """`build_tiny_dataset` as a fixture: ``make_tiny_dataset(root, cells=[...])``."""
    return build_tiny_dataset
