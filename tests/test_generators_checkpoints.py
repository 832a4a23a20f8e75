"""Native checkpoints: the safetensors round trip, and one clear line for every bad file.
Loading never unpickles: a crafted pickle handed in as a checkpoint is refused unrun."""

import json
import pickle
import shutil

import pytest
import torch

from attribution88.builders.generators import from_state_dict, load_generator, sample, save_checkpoint
from attribution88.builders.generators import stylegan2
from attribution88.builders.generators.checkpoints import load_checkpoint
from attribution88.builders.generators.stand_ins import build_stand_in
from attribution88.errors import CheckpointError


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A StyleGAN2 stand-in saved as a native checkpoint."""
    root = tmp_path_factory.mktemp("ckpt")
    path = save_checkpoint(build_stand_in("stylegan2", "bedroom"), root, arch="stylegan2", semantic="bedroom",
                           source="tests")
    return path


def _copy(saved, tmp_path, name="stylegan2-bedroom"):
    dst = tmp_path / f"{name}.safetensors"
    shutil.copy(saved, dst)
    shutil.copy(saved.with_suffix(".json"), dst.with_suffix(".json"))
    return dst


def _one_line_error(fn, *parts):
    with pytest.raises(CheckpointError) as info:
        fn()
    message = str(info.value)
    assert "\n" not in message
    for p in parts:
        assert str(p) in message, (p, message)
    return message


def test_round_trip_gives_the_same_tensors_and_images(saved):
    original = build_stand_in("stylegan2", "bedroom")
    loaded, info = load_checkpoint(saved, "stylegan2", "bedroom")
    for (k, a), (k2, b) in zip(original.state_dict().items(), loaded.state_dict().items()):
        assert k == k2 and torch.equal(a, b)
    record = json.loads(saved.with_suffix(".json").read_text())
    assert record["arch"] == "stylegan2" and record["config"] == original.config.to_dict()
    assert info.origin.startswith("checkpoint:stylegan2-bedroom.safetensors#sha256:")
    gen = load_generator("stylegan2", "bedroom", checkpoint=saved)
    stand_in = load_generator("stylegan2", "bedroom", stand_in=True)
    assert (sample(gen, [3, 1, 4]) == sample(stand_in, [3, 1, 4])).all()
    assert gen.origin == info.origin + ";psi=0.5;noise=const" and not gen.is_stand_in and gen.native_resolution == 128


def test_checkpoints_are_found_in_the_folder_of_the_environment(saved, monkeypatch):
    monkeypatch.setenv("ATTRIBUTION88_CHECKPOINTS", str(saved.parent))
    assert load_generator("stylegan2", "bedroom").kind == "checkpoint"
    _one_line_error(lambda: load_generator("stylegan2", "dog"), "stylegan2-dog.safetensors", saved.parent)


def test_missing_file(tmp_path):
    path = tmp_path / "stylegan2-cat.safetensors"
    _one_line_error(lambda: load_generator("stylegan2", "cat", checkpoint=path), path, "stylegan2", "no such file")


def test_truncated_file(saved, tmp_path):
    path = _copy(saved, tmp_path)
    data = path.read_bytes()
    for cut in (len(data) - 1, len(data) // 2, 100, 5):
        path.write_bytes(data[:cut])
        _one_line_error(lambda: load_generator("stylegan2", "bedroom", checkpoint=path), path, "stylegan2")


def test_wrong_architecture_by_its_record(saved):
    _one_line_error(lambda: load_generator("stylegan", "bedroom", checkpoint=saved), saved,
                    "expected a stylegan generator", "wrong architecture")


def test_wrong_architecture_by_its_tensors(tmp_path):
    """A StyleGAN checkpoint without metadata, under a StyleGAN2 record."""
    from safetensors.torch import save_file

    path = tmp_path / "stylegan2-cat.safetensors"
    save_file(build_stand_in("stylegan", "cat").state_dict(), str(path))
    record = {"format": "attribution88.generator", "format_version": 1, "arch": "stylegan2", "semantic": "cat",
              "config": stylegan2.stand_in_config().to_dict()}
    path.with_suffix(".json").write_text(json.dumps(record))
    message = _one_line_error(lambda: load_generator("stylegan2", "cat", checkpoint=path), path, "stylegan2")
    assert "look like a stylegan generator's" in message


def test_shape_mismatch(saved, tmp_path):
    path = _copy(saved, tmp_path)
    record = json.loads(path.with_suffix(".json").read_text())
    record["config"]["channel_max"] = 16
    path.with_suffix(".json").write_text(json.dumps(record))
    _one_line_error(lambda: load_generator("stylegan2", "bedroom", checkpoint=path), path, "stylegan2",
                    "shape mismatch")


def test_missing_record(saved, tmp_path):
    path = _copy(saved, tmp_path)
    path.with_suffix(".json").unlink()
    _one_line_error(lambda: load_generator("stylegan2", "bedroom", checkpoint=path), path, "stylegan2-bedroom.json")


def test_record_with_an_unknown_config_field(saved, tmp_path):
    path = _copy(saved, tmp_path)
    record = json.loads(path.with_suffix(".json").read_text())
    record["config"]["depth"] = 3
    path.with_suffix(".json").write_text(json.dumps(record))
    _one_line_error(lambda: load_generator("stylegan2", "bedroom", checkpoint=path), "depth", "stylegan2")


class _Payload:
    """Unpickling this creates the file it names."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("name", ["stylegan2-bedroom.pkl", "stylegan2-bedroom.pt", "stylegan2-bedroom.safetensors",
                                  "network-snapshot"])
def test_a_crafted_pickle_is_refused_and_never_runs(tmp_path, monkeypatch, name):
    marker = tmp_path / "payload-ran"
    path = tmp_path / name
    path.write_bytes(pickle.dumps(_Payload(marker)))
    (tmp_path / "stylegan2-bedroom.json").write_text(json.dumps({
        "format": "attribution88.generator", "format_version": 1, "arch": "stylegan2", "semantic": "bedroom",
        "config": stylegan2.stand_in_config().to_dict()}))

    def forbidden(*a, **k):
        raise AssertionError("a checkpoint was unpickled")

    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(torch, "load", forbidden)
    message = _one_line_error(lambda: load_generator("stylegan2", "bedroom", checkpoint=path), path, "stylegan2")
    assert "never unpickles" in message or "not a valid safetensors" in message
    assert "--entry-point" in message or "safetensors" in message
    assert not marker.exists()


def test_a_torch_zip_archive_is_refused(tmp_path):
    path = tmp_path / "weights.safetensors"
    torch.save({"w": torch.zeros(2)}, path)
    _one_line_error(lambda: load_checkpoint(path, "sngan"), path, "sngan", "torch zip archive")


def test_from_state_dict_accepts_the_authors_tensor_names():
    source = build_stand_in("stylegan2", "cat")
    state = dict(source.state_dict())
    state["synthesis.b8.conv0.noise_const"] = torch.zeros(8, 8)  # buffers NVlabs' code also saves
    state["synthesis.b8.resample_filter"] = torch.ones(4, 4)
    module = from_state_dict("stylegan2", state, source.config)
    z = torch.zeros(1, 64)
    torch.testing.assert_close(module(z), source(z))
    del state["synthesis.b8.conv1.weight"]
    _one_line_error(lambda: from_state_dict("stylegan2", state, source.config), "missing", "stylegan2")
