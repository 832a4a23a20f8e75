"""`attribution88 score` and `compare` end to end on a built mini dataset: the report, the
results document, plots, the truth's checks, the paired comparison, and startup imports."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest

from attribution88 import __version__, cli
from attribution88.eval.results import SCHEMA_VERSION, ScoreResult, read_results
from attribution88.eval.truth import load_truth
from attribution88.spec import SPEC

SOURCES = SPEC.source_names


@pytest.fixture
def run(tiny_dataset, capsys):

    def go(command: str, *argv, truth_dir=tiny_dataset):
        args = [command, *map(str, argv)]
        if truth_dir is not None:
            args += ["--truth", str(truth_dir)]
        code = cli.main(args)
        out, err = capsys.readouterr()
        return code, out, err

    return go


def simulate(truth, accuracy: float, seed: int, path, with_scores=True):
    """A submission file whose predictions are right with probability ``accuracy``."""
    rng = np.random.default_rng(seed)
    y = truth.source.astype(int)
    n = len(y)
    right = rng.random(n) < accuracy
    pred = np.where(right, y, (y + rng.integers(1, 8, n)) % 8)
    z = rng.normal(size=(n, 8))
    z[np.arange(n), pred] += 3
    p = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    ids = truth.ids.to_pylist()
    header = "id,pred" + ("," + ",".join(SOURCES) if with_scores else "")
    lines = [header]
    for i in rng.permutation(n):
        row = f"{ids[i]},{SOURCES[pred[i]]}"
        if with_scores:
            row += "," + ",".join(f"{v:.6f}" for v in p[i])
        lines.append(row)
    path.write_text("\n".join(lines) + "\n")
    return path, pred, p


def test_score_prints_the_report_and_writes_the_results_document(tmp_path, run, truth, tiny_dataset):
    path, pred, _ = simulate(truth, 0.7, 1, tmp_path / "preds.csv")
    code, out, err = run("score", path, "--json", tmp_path / "r.json", "--resamples", "200")
    assert code == 0, err
    for text in ("detection accuracy", "attribution accuracy", "NMI", "macro-F1", "detection AUC",
                 "log loss", "95% CI", "confusion matrix", "by test subset", "by perturbation",
                 "by severity", "results written to"):
        assert text in out, text
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["kind"] == "attribution88.score" and doc["schema_version"] == SCHEMA_VERSION
    assert doc["tool_version"] == __version__ and doc["scored_at"].endswith("+00:00")
    import hashlib
    assert doc["submission"]["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert doc["submission"]["name"] == "preds.csv" and doc["submission"]["rows"] == truth.n
    manifest = json.loads((tiny_dataset / "manifest.json").read_text())
    assert doc["truth"]["fingerprint"] == manifest["fingerprint"]
    assert doc["truth"]["spec_version"] == SPEC.version and doc["truth"]["config"] == "default"
    assert doc["truth"]["protocol"] == SPEC.protocol.to_dict()
    assert doc["bootstrap"] == {**doc["bootstrap"], "resamples": 200, "seed": 88, "level": 0.95}
    acc = doc["metrics"]["attribution_accuracy"]
    assert acc["value"] == pytest.approx(np.mean(pred == truth.source))
    assert acc["low"] < acc["value"] < acc["high"]
    assert set(doc["metrics"]) == {"detection_accuracy", "attribution_accuracy", "nmi",
                                   "macro_f1", "detection_auc", "log_loss"}
    assert set(doc["per_source"]) == set(SOURCES)
    assert set(doc["per_source"]["real"]) == {"recall", "precision", "f1", "auc"}
    assert doc["confusion_matrix"]["labels"] == SOURCES
    assert np.array(doc["confusion_matrix"]["counts"]).sum() == truth.n
    assert set(doc["breakdowns"]) == {"subset", "test_group", "perturbation", "severity",
                                      "perturbation_severity", "semantic"}
    subsets = {g["name"]: g for g in doc["breakdowns"]["subset"]["groups"]}
    assert set(subsets) == {s.name for s in SPEC.subsets}
    assert subsets["test_unseen_both"]["metrics"]["attribution_accuracy"]["low"] is not None
    assert not list(tmp_path.glob(".*tmp*"))


def test_results_document_reads_back(tmp_path, run, truth):
    path, _, _ = simulate(truth, 0.6, 2, tmp_path / "preds.csv")
    run("score", path, "--json", tmp_path / "r.json", "--resamples", "50")
    result = read_results(tmp_path / "r.json")
    assert isinstance(result, ScoreResult)
    assert result.to_dict() == json.loads((tmp_path / "r.json").read_text())


def test_breakdown_groups_partition_the_split(tmp_path, run, truth):
    path, _, _ = simulate(truth, 0.6, 3, tmp_path / "preds.csv")
    run("score", path, "--json", tmp_path / "r.json", "--resamples", "0")
    doc = json.loads((tmp_path / "r.json").read_text())
    for name in ("test_group", "perturbation", "severity", "perturbation_severity", "semantic"):
        assert sum(g["n"] for g in doc["breakdowns"][name]["groups"]) == truth.n, name
    subsets = {g["name"]: g["n"] for g in doc["breakdowns"]["subset"]["groups"]}
    assert sum(n for s, n in subsets.items() if s != "test_clean") == truth.n


def test_seed_makes_intervals_reproducible(tmp_path, run, truth):
    path, _, _ = simulate(truth, 0.6, 4, tmp_path / "preds.csv")
    docs = []
    for seed, name in ((7, "a"), (7, "b"), (8, "c")):
        run("score", path, "--json", tmp_path / f"{name}.json", "--resamples", "100", "--seed", seed)
        docs.append(json.loads((tmp_path / f"{name}.json").read_text())["metrics"])
    assert docs[0] == docs[1] and docs[0] != docs[2]


def test_all_prints_every_breakdown(tmp_path, run, truth):
    path, _, _ = simulate(truth, 0.6, 5, tmp_path / "preds.csv", with_scores=False)
    code, out, err = run("score", path, "--resamples", "0", "--all")
    assert code == 0, err
    assert "by perturbation x severity" in out and "by semantic" in out and "detection AUC" not in out


def test_plots_are_written_as_png(tmp_path, run, truth):
    path, _, _ = simulate(truth, 0.6, 6, tmp_path / "preds.csv")
    code, out, err = run("score", path, "--resamples", "20", "--plots", tmp_path / "plots")
    assert code == 0, err
    for name in ("confusion.png", "robustness.png"):
        assert (tmp_path / "plots" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plots_without_matplotlib_say_what_to_install(tmp_path, run, truth, monkeypatch):
    path, _, _ = simulate(truth, 0.6, 6, tmp_path / "preds.csv")
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "matplotlib" else real(name, *a))
    code, out, err = run("score", path, "--plots", tmp_path / "plots")
    assert code == 2 and "pip install 'attribution88[plots]'" in err and out == ""


def test_json_into_a_missing_folder_fails_before_scoring(tmp_path, run, truth):
    path, _, _ = simulate(truth, 0.6, 6, tmp_path / "preds.csv")
    code, out, err = run("score", path, "--json", tmp_path / "nope" / "r.json")
    assert code == 2 and "does not exist" in err and out == ""


def test_test_subset_config(tmp_path, run, truth, tiny_dataset):
    sub_truth = load_truth(tiny_dataset, "test_unseen_both")
    lines = ["id,pred"] + [f"{i},{SOURCES[y]}" for i, y in zip(sub_truth.ids.to_pylist(), sub_truth.source)]
    (tmp_path / "p.csv").write_text("\n".join(lines) + "\n")
    code, out, err = run("score", tmp_path / "p.csv", "--config", "test_unseen_both",
                         "--resamples", "0", "--json", tmp_path / "r.json")
    assert code == 0, err
    doc = json.loads((tmp_path / "r.json").read_text())
    assert doc["truth"]["config"] == "test_unseen_both" and doc["n"] == sub_truth.n < truth.n
    assert [g["name"] for g in doc["breakdowns"]["subset"]["groups"]] == ["test_unseen_both"]
    assert doc["metrics"]["attribution_accuracy"]["value"] == 1.0


@pytest.mark.parametrize("version", ["1.0.0", "2.1.0", "3.0.0"])
def test_truth_of_another_spec_version_is_refused(tmp_path, run, truth, tiny_dataset, version):
    # 1.0.0: a dataset perturbed with the imagecorruptions protocol, before spec 2.0
    other = tmp_path / "other"
    shutil.copytree(tiny_dataset, other)
    manifest = json.loads((other / "manifest.json").read_text())
    manifest["spec"]["version"] = version
    (other / "manifest.json").write_text(json.dumps(manifest))
    path, _, _ = simulate(truth, 0.6, 7, tmp_path / "preds.csv")
    code, out, err = run("score", path, truth_dir=other)
    assert code == 1 and f"built with benchmark spec {version}" in err and SPEC.version in err


def test_truth_of_another_patch_version_is_accepted(tmp_path, run, truth, tiny_dataset):
    other = tmp_path / "other"
    shutil.copytree(tiny_dataset, other)
    manifest = json.loads((other / "manifest.json").read_text())
    major, minor, _ = SPEC.version.split(".")
    manifest["spec"]["version"] = f"{major}.{minor}.99"
    (other / "manifest.json").write_text(json.dumps(manifest))
    path, _, _ = simulate(truth, 0.6, 7, tmp_path / "preds.csv")
    code, out, err = run("score", path, "--resamples", "0", truth_dir=other)
    assert code == 0, err


def test_missing_truth_folder(tmp_path, run, truth):
    path, _, _ = simulate(truth, 0.6, 8, tmp_path / "preds.csv")
    code, out, err = run("score", path, truth_dir=tmp_path / "nothing")
    assert code == 1 and "no such dataset folder" in err and len(err.strip().splitlines()) == 1


def test_default_truth_is_the_attribution88_folder(tmp_path, run, truth, tiny_dataset, monkeypatch):
    path, _, _ = simulate(truth, 0.6, 8, tmp_path / "preds.csv")
    monkeypatch.chdir(tiny_dataset.parent)  # tiny_dataset is .../attribution88
    code, out, err = run("score", path, "--resamples", "0", truth_dir=None)
    assert code == 0, err
    monkeypatch.chdir(tmp_path)
    code, out, err = run("score", path, truth_dir=None)
    assert code == 1 and "attribution88: no such dataset folder" in err


def test_offline_hub_truth_gives_a_clear_message(tmp_path, run, truth):
    path, _, _ = simulate(truth, 0.6, 9, tmp_path / "preds.csv")
    code, out, err = run("score", path, truth_dir="some-org/attribution88-missing")
    assert code == 1 and "Hugging Face Hub" in err and "Traceback" not in err


def test_compare_finds_a_better_submission(tmp_path, run, truth):
    a, _, _ = simulate(truth, 0.9, 10, tmp_path / "a.csv")
    b, _, _ = simulate(truth, 0.5, 11, tmp_path / "b.csv")
    code, out, err = run("compare", a, b, "--json", tmp_path / "c.json", "--resamples", "300")
    assert code == 0, err
    assert "McNemar exact" in out and "paired bootstrap" in out and "DeLong" in out
    doc = json.loads((tmp_path / "c.json").read_text())
    assert doc["kind"] == "attribution88.compare"
    d = doc["differences"]["attribution_accuracy"]
    assert d["difference"] == pytest.approx(d["a"] - d["b"]) and d["difference"] > 0.3
    assert d["p_value"] < 1e-10 and d["mid_p_value"] <= d["p_value"] and d["low"] > 0
    for m in ("detection_accuracy", "nmi", "macro_f1", "detection_auc", "log_loss"):
        assert doc["differences"][m]["p_value"] is not None, m
    c = doc["attribution_contingency"]
    assert sum(c.values()) == truth.n


def test_compare_of_a_submission_with_itself(tmp_path, run, truth):
    a, _, _ = simulate(truth, 0.7, 12, tmp_path / "a.csv")
    b = tmp_path / "b.csv"
    lines = a.read_text().splitlines()
    b.write_text("\n".join([lines[0]] + lines[1:][::-1]) + "\n")  # same rows, other order
    code, out, err = run("compare", a, b, "--json", tmp_path / "c.json", "--resamples", "200")
    assert code == 0, err
    doc = json.loads((tmp_path / "c.json").read_text())
    for m, d in doc["differences"].items():
        assert d["difference"] == 0, m
        assert d["p_value"] == 1.0, m


def test_compare_refuses_a_bad_second_file(tmp_path, run, truth):
    a, _, _ = simulate(truth, 0.7, 13, tmp_path / "a.csv")
    (tmp_path / "b.csv").write_text("id,pred\n")
    code, out, err = run("compare", a, tmp_path / "b.csv")
    assert code == 2 and "b.csv: no rows after the header" in err


#: What only the extras install (pyproject.toml): the core (`pip install attribution88`) lacks them.
EXTRAS_ONLY = ("torch", "torchvision", "cv2", "scipy", "sklearn", "faiss", "lpips", "skimage",
               "safetensors", "threadpoolctl", "imagecorruptions", "matplotlib", "ray",
               "torchmetrics", "torch_fidelity", "selenium", "wand", "pandas")


def _without(modules) -> str:
    """Python code that makes every import of ``modules`` (top-level names) fail, as if they
    were not installed."""
    return ("import sys, importlib.abc\n"
            f"BLOCKED = {tuple(modules)!r}\n"
            "class Block(importlib.abc.MetaPathFinder):\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] in BLOCKED:\n"
            "            raise ModuleNotFoundError(f'blocked: {name}', name=name)\n"
            "sys.meta_path.insert(0, Block())\n")


def test_the_core_install_scores_a_submission(tmp_path, truth, tiny_dataset):
    # As in a venv with `pip install attribution88` alone: every module of the extras refuses to
    # import, so a lazy import anywhere on the scoring path fails this test.
    path, _, _ = simulate(truth, 0.6, 14, tmp_path / "preds.csv")
    code = (
        _without(EXTRAS_ONLY) +
        "import attribution88.cli as c\n"
        f"rc = c.main(['score', {str(path)!r}, '--truth', {str(tiny_dataset)!r}, '--resamples', '10',"
        f" '--json', {str(tmp_path / 'r.json')!r}])\n"
        "heavy = [m for m in ('datasets', 'huggingface_hub', 'pyarrow.dataset') if m in sys.modules]\n"
        "print('HEAVY', rc, heavy)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert "HEAVY 0 []" in r.stdout, (r.stdout[-500:], r.stderr[-2000:])
    assert json.loads((tmp_path / "r.json").read_text())["metrics"]


def test_a_missing_extra_is_one_line_naming_it(tmp_path):
    code = (
        _without(("torch", "cv2")) +
        "import attribution88.cli as c\n"
        f"sys.exit(c.main(['perturb', 'x.png', {str(tmp_path / 'o.png')!r}, '--name', 'defocus_blur', '--severity', '1']))\n")
    from PIL import Image
    Image.new("RGB", (32, 32)).save(tmp_path / "x.png")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert r.returncode == 1 and r.stderr.count("\n") == 1, r.stderr
    assert "'perturb' extra (pip install 'attribution88[perturb]')" in r.stderr
