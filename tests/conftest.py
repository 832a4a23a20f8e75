"""Shared fixtures. Tests never touch the network nor the user's caches: the Hugging Face
caches point into a temporary folder and the Hub is marked offline."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest


# Set before any test module imports huggingface_hub or datasets, which read them at import.
_HF_HOME = tempfile.mkdtemp(prefix="a88-tests-hf-")
os.environ.update(HF_HOME=_HF_HOME, HF_DATASETS_CACHE=os.path.join(_HF_HOME, "datasets"),
                  HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", HF_HUB_DISABLE_TELEMETRY="1")
os.environ.pop("HF_TOKEN", None)


def pytest_unconfigure(config):
    shutil.rmtree(_HF_HOME, ignore_errors=True)


def build_tiny_dataset(root, preset_name="mini", cells=None, size=128):
    """A dataset folder written by the real format writer: every image of the preset's
    cells, with the spec's assignment. Images are smooth seeded random colour fields (cheap
    PNGs) and no corruption is applied (the perturbation columns say what the spec assigns):
    enough for format, loading, verifying and scoring tests."""
    import numpy as np
    from PIL import Image

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
            coarse = rng.integers(0, 256, (4, 4, 3), dtype=np.uint8)
            pixels = np.asarray(Image.fromarray(coarse).resize((size, size), Image.Resampling.BILINEAR))
            records.append(Record(
                a.id, encode_png(pixels), cell.source.index, cell.semantic.index, a.split,
                a.perturbation, a.severity, a.perturbation_seed,
                derive_seed("latent", a.id) if cell.source.is_fake else None, "tests"))
    prepare_output_dir(root, preset.name)
    write_records(root, records, preset)
    return finalize(root, preset.name, {"kind": "tests", "warnings": ["Noise images made by the tests."]})


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory):
    """A whole mini-preset dataset (88 cells, 2,496 images of 128x128); do not modify it."""
    root = tmp_path_factory.mktemp("tiny") / "attribution88"
    build_tiny_dataset(root)
    return root


@pytest.fixture
def make_tiny_dataset():
    """`build_tiny_dataset` as a fixture: ``make_tiny_dataset(root, cells=[...])``."""
    return build_tiny_dataset


@pytest.fixture
def one_torch_thread():
    """Torch on one thread for the test (restored after): tiny models run fastest so, and on a
    shared machine more threads only wait."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def relabel_metrics(monkeypatch):
    """``relabel_metrics(key, ..., **changes)``: replace entries of the metric table for the
    test (label ``lbl-KEY``, short label ``Sh-KEY``, then ``changes``), to see which output
    takes what from it. Returns the new entries."""
    import dataclasses

    from attribution88.eval import metric_table

    def relabel(*keys: str, **changes):
        out = {}
        for k in keys:
            out[k] = dataclasses.replace(metric_table.METRICS[k], label=f"lbl-{k}", short=f"Sh-{k}", **changes)
            monkeypatch.setitem(metric_table.METRICS, k, out[k])
        return out

    return relabel


@pytest.fixture
def dataset(tiny_dataset, tmp_path):
    """A copy of `tiny_dataset` the test may change."""
    root = tmp_path / "attribution88"
    shutil.copytree(tiny_dataset, root)
    return root


@pytest.fixture
def records(tmp_path):
    """A copy of the packaged leaderboard records the test may change."""
    from attribution88.leaderboard.records import default_records_dir

    out = tmp_path / "records"
    shutil.copytree(default_records_dir(), out)
    return out


@pytest.fixture(scope="module")
def truth(tiny_dataset):
    """The ground truth of `tiny_dataset` (`attribution88.eval.truth.load_truth`)."""
    from attribution88.eval.truth import load_truth

    return load_truth(tiny_dataset)


class FakeHub:
    """A stand-in for huggingface_hub's ``HfApi`` (1.x+) that records the calls made to it."""

    def __init__(self):
        self.calls = []

    def create_repo(self, repo_id, **kw):
        self.calls.append(("create_repo", repo_id, kw))

    def upload_folder(self, **kw):
        self.calls.append(("upload_folder", kw["repo_id"], kw))


@pytest.fixture
def fake_hub():
    """The `FakeHub` class: ``api = fake_hub()``, or a subclass whose call fails."""
    return FakeHub


#: The Hugging Face token `hub_online` sets (tests check it is never printed).
HUB_TOKEN = "hf_SECRETsecretSECRETsecret"


@pytest.fixture
def hub_online(monkeypatch):
    """The Hub marked online, with `HUB_TOKEN` in ``HF_TOKEN``, for this test; returns the
    token. Nothing reaches the network: the code under test is given a `FakeHub`."""
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_TOKEN", HUB_TOKEN)
    return HUB_TOKEN
