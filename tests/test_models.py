"""RepMix's defining behaviour: mixing with supplied ratios only when they are given (training
and validation), ratios that sum to one and weight both images' losses, the gate of the
attribution logits by the detection probabilities, per-image inference, the parameter count of
the ResNet-50 configuration, a loss that decreases; configs, weights and checkpoints."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from attribution88.errors import CheckpointError, OfflineError, UnknownNameError, UsageError
from attribution88.models import MODELS, get_model, list_models
from attribution88.models.repmix import MixingLayer, RepMix, RepMixConfig


#: Tiny models run fastest on one thread (conftest.py).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny(**changes):
    """ResNet-50's layout at width 4 on 32 px inputs: the real code path, in milliseconds."""
    return RepMix.config_from_preset("cpu", width=4, resize=36, crop=32, test_size=32, **changes)


@pytest.fixture
def model():
    torch.manual_seed(0)
    return RepMix(tiny())


def images(n, size=32, seed=0):
    return torch.randn(n, 3, size, size, generator=torch.Generator().manual_seed(seed))


def test_registry_has_repmix_and_refuses_unknown_names():
    assert "repmix" in list_models() and get_model("repmix") is RepMix and RepMix.name == "repmix"
    with pytest.raises(UnknownNameError, match="did you mean repmix"):
        get_model("repmx")
    with pytest.raises(ValueError, match="already registered"):
        MODELS.add("repmix", RepMix)


def test_mixing_layer_sums_consecutive_pairs_with_their_ratios():
    x = torch.arange(4 * 3, dtype=torch.float32).view(4, 3)
    r = torch.tensor([[0.25, 0.75], [1.0, 0.0]])
    out = MixingLayer()(x, r)
    assert torch.allclose(out[0], 0.25 * x[0] + 0.75 * x[1]) and torch.equal(out[1], x[2])


@pytest.mark.parametrize("training", [True, False])
def test_mixing_happens_when_ratios_are_given_in_training_and_validation(model, training):
    model.train(training)
    x, r = images(8), torch.tensor([[0.3, 0.7], [0.5, 0.5], [0.9, 0.1], [0.2, 0.8]])
    out = model(x, r)
    assert out["attribution"].shape == (4, 8)
    # the same as mixing layer4's maps by hand, then the head
    feats = x
    for stage in model.stages[:5]:
        feats = stage(feats)
    mixed = (feats.view(4, 2, *feats.shape[1:]) * r.view(4, 2, 1, 1, 1)).sum(1)
    assert torch.allclose(out["embedding"], model.stages[5](mixed), atol=1e-5)


def test_inference_never_mixes(model):
    model.eval()
    calls = []
    model.mixing.register_forward_hook(lambda *a: calls.append(1))
    out = model(images(6))
    assert out["attribution"].shape == (6, 8) and not calls
    model.attribution_logits(torch.rand(2, 3, 32, 32))
    assert not calls


def test_mixing_position_is_configurable():
    first = RepMix(tiny(mixing_position=0))  # mixes the input images
    assert first.mixing_position == 0
    x, r = images(4), torch.tensor([[0.6, 0.4], [0.1, 0.9]])
    first.eval()
    mixed_input = (x.view(2, 2, 3, 32, 32) * r.view(2, 2, 1, 1, 1)).sum(1)
    assert torch.allclose(first(x, r)["attribution"], first(mixed_input)["attribution"], atol=1e-5)
    with pytest.raises(UsageError, match="mixing_position 7 is out of range"):
        RepMix(tiny(mixing_position=7))


def test_ratios_are_dirichlet_pairs_summing_to_one(model):
    r = model.draw_ratios(np.random.default_rng(1), 20000)
    assert r.shape == (20000, 2) and r.dtype == np.float32
    assert np.allclose(r.sum(1), 1, atol=1e-6) and (r >= 0).all()
    # Beta(0.4, 0.4): mean 1/2, variance ab / ((a + b)^2 (a + b + 1)) = 0.1389
    assert abs(r[:, 0].mean() - 0.5) < 0.01 and abs(r[:, 0].var() - 0.16 / (0.64 * 1.8)) < 0.005
    assert RepMix(tiny(mixing=False)).draw_ratios(np.random.default_rng(1), 3).tolist() == [[1.0]] * 3


def test_ratios_weight_both_images_losses(model):
    out = {"attribution": torch.randn(3, 8), "detection": torch.randn(3, 2)}
    sources = torch.tensor([[0, 5], [3, 3], [7, 0]])
    r = torch.tensor([[0.2, 0.8], [0.5, 0.5], [0.9, 0.1]])
    terms = model.loss(out, sources, r)
    attr = sum(F.cross_entropy(out["attribution"], sources[:, j], reduction="none") * r[:, j] for j in (0, 1))
    w = torch.tensor([1.0, 1 / 7])
    fake = (sources > 0).long()
    det = sum(F.cross_entropy(out["detection"], fake[:, j], reduction="none") * w[fake[:, j]] * r[:, j]
              for j in (0, 1))
    assert torch.allclose(terms["attribution"], attr.mean()) and torch.allclose(terms["detection"], det.mean())
    assert torch.allclose(terms["total"], attr.mean() + det.mean())
    # a ratio of 1 on the first image: the second image's label does not count
    one = torch.tensor([[1.0, 0.0]] * 3)
    other = sources.clone()
    other[:, 1] = (other[:, 1] + 3) % 8
    assert torch.allclose(model.loss(out, sources, one)["total"], model.loss(out, other, one)["total"])


def test_attribution_logits_are_gated_by_detection_probabilities(model):
    model.eval()
    out = model(images(4))
    emb = out["embedding"]
    logits, p = model.attribution(emb), model.detection(emb).softmax(1)
    assert torch.allclose(out["attribution"][:, 0], logits[:, 0] * p[:, 0])
    assert torch.allclose(out["attribution"][:, 1:], logits[:, 1:] * p[:, 1:2])
    assert torch.allclose(model.fake_score(out), torch.log(p[:, 1] / p[:, 0]), atol=1e-5)


def test_without_compound_loss_there_is_no_gate_nor_detection_head():
    m = RepMix(tiny(compound_loss=False)).eval()
    out = m(images(2))
    assert m.detection is None and "detection" not in out
    assert torch.allclose(out["attribution"], m.attribution(out["embedding"]))
    assert set(m.loss(m(images(4), torch.full((2, 2), 0.5)), torch.tensor([[1, 2], [0, 3]]),
                      torch.full((2, 2), 0.5))) == {"attribution", "total"}


def test_batch_predictions_equal_one_by_one_at_inference(model):
    model.eval()
    x = images(5, seed=3)
    with torch.no_grad():
        batch = model(x)["attribution"]
        single = torch.cat([model(x[i:i + 1])["attribution"] for i in range(5)])
    assert torch.allclose(batch, single, atol=1e-5)


def test_resnet50_parameter_count_is_torchvision_with_the_256_fc_and_two_heads():
    import torchvision

    m = RepMix(RepMixConfig(pretrained=False))
    tv = sum(p.numel() for p in torchvision.models.resnet50().parameters())
    expected = tv - (2048 * 1000 + 1000) + (2048 * 256 + 256) + (256 * 8 + 8) + (256 * 2 + 2)
    assert sum(p.numel() for p in m.parameters()) == expected == 24_035_146
    assert [type(s).__name__ for s in m.stages] == ["Sequential", "Sequential", "Sequential", "Sequential",
                                                     "Sequential", "Sequential"] and m.mixing_position == 5


@pytest.mark.parametrize("backbone,position", [("resnet101", 5), ("densenet121", 5), ("vgg16", 5), ("alexnet", 3)])
def test_ablation_backbones_mix_their_last_feature_maps(backbone, position):
    import torchvision

    torch.manual_seed(0)
    m = RepMix(RepMixConfig(backbone=backbone, pretrained=False))
    assert m.mixing_position == position == len(m.stages) - 1
    tv = getattr(torchvision.models, backbone)()
    last = [mod for mod in tv.modules() if isinstance(mod, torch.nn.Linear)][-1]
    expected = (sum(p.numel() for p in tv.parameters()) - last.weight.numel() - last.bias.numel()
                + last.in_features * 256 + 256 + 256 * 8 + 8 + 256 * 2 + 2)
    assert sum(p.numel() for p in m.parameters()) == expected
    m.eval()
    with torch.no_grad():
        assert m(torch.randn(2, 3, 64, 64), torch.tensor([[0.5, 0.5]]))["attribution"].shape == (1, 8)


def test_training_loss_decreases_on_a_tiny_set(model):
    torch.manual_seed(0)
    x, sources = images(16, seed=5), torch.arange(16).remainder(8).view(8, 2)
    rng = np.random.default_rng(0)
    optimizer, _ = model.make_optimizer()
    model.train()
    losses = []
    for _ in range(40):
        r = torch.from_numpy(model.draw_ratios(rng, 8))
        loss = model.loss(model(x, r), sources, r)["total"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert np.mean(losses[-5:]) < 0.6 * np.mean(losses[:5])


def test_optimizer_is_adam_with_l2_decay_and_per_epoch_step_lr(model):
    optimizer, scheduler = get_model("repmix")(RepMixConfig(pretrained=False, width=8)).make_optimizer()
    group = optimizer.param_groups[0]
    assert type(optimizer) is torch.optim.Adam and group["lr"] == 1e-4 and group["betas"] == (0.9, 0.999)
    assert group["weight_decay"] == 5e-4
    optimizer.step()  # no gradients yet: nothing moves
    scheduler.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.85e-4)


def test_paper_defaults_are_the_official_settings():
    c = RepMixConfig()
    assert (c.backbone, c.embed_dim, c.mixing_beta, c.epochs, c.batch_size, c.resize, c.crop, c.test_size,
            c.perturbation_p) == ("resnet50", 256, 0.4, 30, 32, 256, 224, 224, 0.95)
    t = RepMix(tiny(perturbation_p=0.95)).train_transform("train")
    assert (t.resize, t.crop, t.p, t.perturb) == (36, 32, 0.95, True)
    assert RepMix(tiny()).train_transform("validation").p == 1.0
    assert RepMix(tiny(perturbation=False)).train_transform("train").perturb is False


def test_configs_refuse_unknown_or_bad_settings():
    from attribution88.models.config import parse_setting

    with pytest.raises(UsageError, match="unknown setting 'mixng'"):
        RepMix.config_from_preset("paper", mixng=False)
    with pytest.raises(UsageError, match="mixing=.*not a valid bool"):
        RepMix.config_from_preset("paper", mixing="no")
    with pytest.raises(UsageError, match="crop 300 must not exceed resize"):
        RepMix.config_from_preset("paper", crop=300)
    with pytest.raises(UnknownNameError, match="preset"):
        RepMix.config_from_preset("laptop")
    with pytest.raises(UnknownNameError, match="backbone"):
        RepMix.config_from_preset("paper", backbone="resnet19")
    assert parse_setting("mixing=false") == ("mixing", False)
    assert parse_setting("betas=[0.5, 0.9]") == ("betas", [0.5, 0.9])
    assert RepMix.config_from_preset("paper", betas=[0.5, 0.9]).betas == (0.5, 0.9)
    c = tiny()
    assert RepMixConfig.from_dict(c.to_dict()) == c


def test_missing_imagenet_weights_ask_for_a_file_or_no_pretrained(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    with pytest.raises(OfflineError, match="--no-pretrained") as e:
        RepMix(RepMixConfig())
    assert "resnet50-0676ba61.pth" in str(e.value)
    with pytest.raises(UsageError, match="no ImageNet weights for resnet50 at width 16"):
        RepMix(RepMixConfig(width=16))


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_imagenet_weights_load_from_a_file_or_the_torchvision_cache(tmp_path, monkeypatch, suffix):
    import torchvision
    from safetensors.torch import save_file

    torch.manual_seed(1)
    state = torchvision.models.resnet50().state_dict()
    path = tmp_path / f"resnet50{suffix}"
    if suffix == ".safetensors":
        save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    else:
        torch.save(state, path)
    m = RepMix(RepMixConfig(), weights_path=str(path))
    assert torch.equal(m.stages[4][2].conv3.weight, state["layer4.2.conv3.weight"])
    assert torch.equal(m.stages[0][0].weight, state["conv1.weight"])
    assert m.stages[5][2].out_features == 256  # the classifier is replaced after loading
    if suffix == ".pth":  # torchvision's cache file name is found without --pretrained
        monkeypatch.setenv("TORCH_HOME", str(tmp_path))
        (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
        path.rename(tmp_path / "hub" / "checkpoints" / "resnet50-0676ba61.pth")
        assert torch.equal(RepMix(RepMixConfig()).stages[1][0].conv1.weight, state["layer1.0.conv1.weight"])


def test_foreign_weight_files_are_refused_in_one_line(tmp_path):
    from safetensors.torch import save_file

    bad = tmp_path / "other.safetensors"
    save_file({"conv1.weight": torch.zeros(3, 3)}, str(bad))
    with pytest.raises(CheckpointError, match="not ImageNet weights of resnet50"):
        RepMix(RepMixConfig(), weights_path=str(bad))
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="cannot read weights"):
        RepMix(RepMixConfig(), weights_path=str(junk))


def test_checkpoints_restore_weights_and_optimizer_exactly(tmp_path, model):
    from attribution88.models.runs import RunInfo, load_checkpoint, save_checkpoint

    optimizer, scheduler = model.make_optimizer()
    r = torch.full((2, 2), 0.5)
    model.loss(model(images(4), r), torch.tensor([[1, 2], [3, 0]]), r)["total"].backward()
    optimizer.step()
    scheduler.step()
    info = RunInfo("repmix", model.config, 0, {})
    save_checkpoint(tmp_path / "c.safetensors", model, optimizer, scheduler, {"epoch": 1}, info)
    other = RepMix(tiny())
    opt2, sched2 = other.make_optimizer()
    assert load_checkpoint(tmp_path / "c.safetensors", other, opt2, sched2) == {"epoch": 1}
    for a, b in zip(model.state_dict().values(), other.state_dict().values()):
        assert torch.equal(a, b)
    s1, s2 = optimizer.state_dict(), opt2.state_dict()
    assert all(torch.equal(s1["state"][i]["exp_avg_sq"], s2["state"][i]["exp_avg_sq"]) for i in s1["state"])
    assert sched2.get_last_lr() == scheduler.get_last_lr()
    assert (tmp_path / "c.safetensors").read_bytes()[:8] != b"PK\x03\x04"  # not a pickle archive
