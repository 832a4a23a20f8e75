"""The semantic-blind multi-head model: gradient reversal, LLR scores, the semantic labels the
training loop feeds it, and train -> predict -> score with `--scores llr`."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from attribution88 import cli  # noqa: E402
from attribution88.models import get_model  # noqa: E402
from attribution88.models.semantic_blind import SemanticBlind, llr_from_logits, reverse_gradient  # noqa: E402
from attribution88.spec import SPEC  # noqa: E402

#: Tiny models run fastest on one thread (conftest.py).
pytestmark = pytest.mark.usefixtures("one_torch_thread")



def tiny_model(**changes) -> SemanticBlind:
    return SemanticBlind(SemanticBlind.config_from_preset("cpu", width=4, resize=36, crop=32, test_size=32, **changes))


def test_gradient_reversal_flips_and_scales_the_gradient():
    x = torch.randn(5, 3, requires_grad=True)
    w = torch.randn(5, 3)
    (reverse_gradient(x, 0.7) * w).sum().backward()
    assert torch.allclose(x.grad, -0.7 * w)
    y = reverse_gradient(x, 0.7)
    assert torch.equal(y, x)  # identity forward


def test_semantic_loss_pushes_the_backbone_against_the_semantic_head():
    torch.manual_seed(0)
    model = tiny_model(adversarial_weight=1.0)
    x = torch.randn(4, 3, 32, 32)
    semantic = torch.tensor([[0], [1], [2], [3]])
    emb = model.backbone(x)
    emb.retain_grad()
    out = {"embedding": emb, "attribution": model.generator_head(emb),
           "semantic": model.semantic_head(reverse_gradient(emb, 1.0))}
    model.loss(out, torch.zeros(4, 1, dtype=torch.long), torch.ones(4, 1), semantic=semantic)["semantic"].backward()
    reversed_grad = emb.grad.clone()
    head_grad = model.semantic_head[0].weight.grad.clone()

    model.zero_grad()
    emb = model.backbone(x)
    emb.retain_grad()
    plain = model.semantic_head(emb)  # the same loss without the reversal
    torch.nn.functional.cross_entropy(plain, semantic[:, 0]).backward()
    assert torch.allclose(reversed_grad, -emb.grad, atol=1e-6)  # the backbone sees the flipped gradient
    assert torch.allclose(head_grad, model.semantic_head[0].weight.grad, atol=1e-6)  # the head descends as usual


def test_without_the_adversarial_term_the_semantic_head_is_only_a_probe():
    model = tiny_model(adversarial_weight=0.0)
    out = model(torch.randn(4, 3, 32, 32))
    terms = model.loss(out, torch.zeros(4, 1, dtype=torch.long), torch.ones(4, 1),
                       semantic=torch.tensor([[0], [1], [2], [3]]))
    terms["semantic"].backward()
    assert all(p.grad is None or p.grad.abs().sum() == 0 for p in model.backbone.parameters())
    assert model.semantic_head[0].weight.grad.abs().sum() > 0


def test_llr_scores_are_log_posterior_odds_against_the_balanced_prior():
    logits = torch.randn(6, 8, dtype=torch.float64) * 3
    p = logits.softmax(1)
    expected = torch.log(p) - torch.log1p(-p) + math.log(7)
    assert torch.allclose(llr_from_logits(logits), expected, atol=1e-10)
    assert torch.equal(llr_from_logits(logits).argmax(1), logits.argmax(1))
    extreme = torch.tensor([[1000.0, 0, 0, 0, 0, 0, 0, -1000.0]])
    assert torch.isfinite(llr_from_logits(extreme)).all()


def test_model_declares_llr_scores_and_semantic_targets():
    assert SemanticBlind.SCORE_KIND == "llr"
    assert SemanticBlind.EXTRA_TARGETS == ("semantic",)
    model = tiny_model().eval()
    out = model(torch.randn(3, 3, 32, 32))
    assert torch.allclose(model.submission_scores(out), llr_from_logits(out["attribution"]))
    assert torch.allclose(model.fake_score(out), -model.submission_scores(out)[:, 0])


@pytest.mark.slow
def test_semantic_blind_trains_on_semantic_labels_predicts_llr_and_is_scored(tiny_dataset, tmp_path, capsys):
    data = tiny_dataset
    run = tmp_path / "run"
    settings = {"width": 4, "resize": 36, "crop": 32, "test_size": 32, "epochs": 1, "perturbation": False}
    argv = ["train", "--model", "semantic-blind", "--preset", "cpu", "--data", str(data), "--out", str(run),
            "--workers", "0", "--quiet"]
    for k, v in settings.items():
        argv += ["--set", f"{k}={json.dumps(v)}"]
    assert cli.main(argv) == 0
    metrics = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert 0 <= metrics[0]["train_semantic_accuracy"] <= 1 and "val_semantic_accuracy" in metrics[0]
    assert metrics[0]["train_semantic"] > 0

    assert cli.main(["predict", "--run", str(run), "--data", str(data), "--out", str(tmp_path / "preds.csv"),
                     "--workers", "0", "--quiet"]) == 0
    assert "--scores llr" in capsys.readouterr().out
    with open(tmp_path / "preds.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    scores = np.array([[float(r[s]) for s in SPEC.source_names] for r in rows])
    assert (scores < 0).any() and not np.allclose(scores.sum(1), 1.0)  # LLRs, not probabilities
    assert all(r["pred"] == SPEC.source_names[int(np.argmax(s))] for r, s in zip(rows, scores))

    assert cli.main(["score", str(tmp_path / "preds.csv"), "--truth", str(data), "--scores", "llr",
                     "--resamples", "20", "--json", str(tmp_path / "results.json")]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["submission"]["score_kind"] == "llr"
    assert 0 <= results["metrics"]["attribution_accuracy"]["value"] <= 1
    assert get_model("semantic-blind").SCORE_KIND == "llr"

    from attribution88.models.semantic_blind import semantic_accuracy

    seen = semantic_accuracy(str(run), str(data), split="test", data_config="test_seen", device="cpu")
    assert seen["images"] == 384
    assert 0 <= seen["accuracy"] <= 1 and 0 <= seen["probe_accuracy"] <= 1
    assert math.isclose(seen["chance"], 1 / 6)  # 6 seen semantics, equally many images each
