"""Training runs: epoch plans, determinism, resuming after a kill, the run folder, predictions,
and train -> predict -> score end to end through the command line."""

import csv
import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from attribution88.cli import main
from attribution88.errors import UsageError
from attribution88.models import predict, train
from attribution88.models.repmix import RepMix
from attribution88.models.training import epoch_plan, run_epoch
from attribution88.spec import SPEC

#: The CPU preset, smaller still: the tests' settings (32 px, width 4, 1 epoch).
TINY = ["--preset", "cpu", "--set", "width=4", "--set", "resize=36", "--set", "crop=32",
        "--set", "test_size=32", "--epochs", "1", "--workers", "0", "--quiet"]


#: Tiny models run fastest on one thread (conftest.py).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


def tiny_config(**changes):
    return RepMix.config_from_preset("cpu", **{"width": 4, "resize": 36, "crop": 32, "test_size": 32, "epochs": 2,
                                               **changes})


@pytest.fixture
def small(tmp_path, make_tiny_dataset):
    """One semantic per source (8 cells): 192 training, 48 validation, 96 test images."""
    root = tmp_path / "data" / "attribution88"
    make_tiny_dataset(root, cells=[SPEC.cell(source.name, "celeba") for source in SPEC.sources])
    return root


def weights(run):
    return load_file(str(run / "model.safetensors"))


def test_epoch_plan_pairs_each_image_with_a_partner_and_seeded_ratios():
    model = RepMix(tiny_config())
    plan = epoch_plan(model, 10, 4, seed=1, epoch=0, shuffle=True)
    assert [len(b) for b in plan.batches] == [8, 8, 4] and [r.shape for r in plan.ratios] == [(4, 2), (4, 2), (2, 2)]
    anchors = [b[i] for b in plan.batches for i in range(0, len(b), 2)]
    assert sorted(anchors) == list(range(10))  # every image once as the first of its pair
    again = epoch_plan(model, 10, 4, seed=1, epoch=0, shuffle=True)
    assert again.batches == plan.batches and all(np.array_equal(a, b) for a, b in zip(again.ratios, plan.ratios))
    assert epoch_plan(model, 10, 4, seed=1, epoch=1, shuffle=True).batches != plan.batches
    assert np.allclose(np.concatenate(plan.ratios).sum(1), 1)
    single = epoch_plan(RepMix(tiny_config(mixing=False)), 10, 4, seed=1, epoch=0, shuffle=False)
    assert single.batches[0] == [0, 1, 2, 3] and single.ratios[0].tolist() == [[1.0]] * 4


def test_validation_mixes_with_the_ratios_of_its_batches():
    torch.manual_seed(0)
    model = RepMix(tiny_config())
    x, y = torch.randn(8, 3, 32, 32), torch.tensor([0, 1, 2, 3, 4, 5, 6, 7])
    plan = epoch_plan(model, 8, 4, seed=0, epoch=-1, shuffle=False)
    calls = []
    model.mixing.register_forward_hook(lambda *a: calls.append(1))
    batches = [(x[b], y[b]) for b in plan.batches]
    a = run_epoch(model, batches, plan, torch.device("cpu"))
    assert len(calls) == len(plan) and not model.training
    plan.ratios[0][:] = [[1.0, 0.0]] * 4
    assert run_epoch(model, batches, plan, torch.device("cpu"))["total"] != a["total"]


def test_training_is_deterministic_and_resumes_after_a_kill(small, tmp_path):
    before = torch.get_rng_state()
    whole = train("repmix", small, tmp_path / "whole", config=tiny_config(), seed=3, workers=0, progress=False)
    assert torch.equal(torch.get_rng_state(), before)  # the caller's random state is untouched

    def kill_after_first_epoch(epoch, metrics):
        if epoch == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train("repmix", small, tmp_path / "resumed", config=tiny_config(), seed=3, workers=0, progress=False,
              on_epoch_end=kill_after_first_epoch)
    assert not (tmp_path / "resumed" / "model.safetensors").exists()
    assert (tmp_path / "resumed" / "checkpoints" / "last.safetensors").exists()
    resumed = train("repmix", small, tmp_path / "resumed", config=tiny_config(), seed=3, workers=0, progress=False)
    a, b = weights(whole), weights(resumed)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    log = [json.loads(line) for line in (resumed / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in log] == [1, 2] and log[1]["lr"] == pytest.approx(0.85e-3)
    assert {"train_total", "train_attribution", "train_detection", "train_accuracy", "val_total"} <= log[0].keys()
    other = train("repmix", small, tmp_path / "seed4", config=tiny_config(epochs=1), seed=4, workers=0, progress=False)
    assert not torch.equal(weights(other)["model.attribution.weight"], a["model.attribution.weight"])


def test_run_folders_are_never_mixed_up(small, tmp_path):
    run = train("repmix", small, tmp_path / "run", config=tiny_config(epochs=1), workers=0, progress=False)
    config = json.loads((run / "config.json").read_text())
    assert config["model"] == "repmix" and config["config"]["width"] == 4 and config["data"]["fingerprint"]
    with pytest.raises(UsageError, match="training already finished"):
        train("repmix", small, run, config=tiny_config(epochs=1), workers=0, progress=False)
    (run / "model.safetensors").unlink()
    with pytest.raises(UsageError, match="holds a run with another lr"):
        train("repmix", small, run, config=tiny_config(epochs=1, lr=0.5), workers=0, progress=False)
    with pytest.raises(UsageError, match="training has not finished .*--checkpoint last"):
        predict(run, small, tmp_path / "p.csv", workers=0, progress=False)
    predict(run, small, tmp_path / "p.csv", workers=0, progress=False, checkpoint="last")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    with pytest.raises(UsageError, match="other files in it"):
        train("repmix", small, tmp_path / "busy", config=tiny_config(), workers=0, progress=False)


def test_predictions_are_a_submission_without_mixing(small, tmp_path):
    from attribution88.eval.submission import read_submission

    run = train("repmix", small, tmp_path / "run", config=tiny_config(epochs=1), workers=0, progress=False)
    out = predict(run, small, tmp_path / "preds.csv", workers=0, batch_size=7, progress=False)
    rows = list(csv.DictReader(out.open()))
    assert list(rows[0]) == ["id", "pred", *SPEC.source_names, "fake_score"] and len(rows) == 96
    probs = np.array([[float(r[s]) for s in SPEC.source_names] for r in rows])
    assert np.allclose(probs.sum(1), 1, atol=1e-4)
    assert all(r["pred"] == SPEC.source_names[int(p.argmax())] for r, p in zip(rows, probs))
    submission = read_submission(out)
    assert submission.score_kind == "probs" and submission.fake_score is not None and not submission.warnings
    # the same predictions one image at a time
    again = predict(run, small, tmp_path / "one.csv", workers=0, batch_size=1, progress=False)
    single = np.array([[float(r[s]) for s in SPEC.source_names] for r in csv.DictReader(again.open())])
    assert np.allclose(probs, single, atol=1e-5)


@pytest.mark.slow
def test_train_predict_score_end_to_end_on_the_mini_benchmark(tiny_dataset, tmp_path, capsys):
    run, preds, results = tmp_path / "run", tmp_path / "preds.csv", tmp_path / "results.json"
    assert main(["train", "--model", "repmix", "--data", str(tiny_dataset), "--out", str(run), *TINY]) == 0
    assert main(["predict", "--run", str(run), "--data", str(tiny_dataset), "--out", str(preds), "--quiet",
                 "--workers", "0"]) == 0
    assert main(["score", str(preds), "--truth", str(tiny_dataset), "--json", str(results),
                 "--resamples", "50"]) == 0
    report = capsys.readouterr().out
    assert "attribution accuracy" in report and "1,056 rows" in report
    doc = json.loads(results.read_text())
    assert 0 <= doc["metrics"]["attribution_accuracy"]["value"] <= 1


def test_command_line_errors_are_one_line(small, tmp_path, capsys):
    assert main(["train", "--data", str(small), "--out", str(tmp_path / "r"), "--model", "repmx"]) == 2
    assert "unknown model 'repmx'; did you mean repmix?" in capsys.readouterr().err
    assert main(["train", "--data", str(small), "--out", str(tmp_path / "r"), "--set", "mixing"]) == 2
    assert "expected KEY=VALUE" in capsys.readouterr().err
    assert main(["predict", "--run", str(tmp_path / "none"), "--data", str(small), "--out", "x.csv"]) == 2
    assert "not a training run" in capsys.readouterr().err
    if not torch.cuda.is_available():
        assert main(["train", "--data", str(small), "--out", str(tmp_path / "r"), "--device", "cuda"]) == 2
        assert "no CUDA device here" in capsys.readouterr().err
    assert main(["train", "--list"]) == 0
    assert "preset cpu" in capsys.readouterr().out
