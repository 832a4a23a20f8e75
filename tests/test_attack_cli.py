"""`attribution88 attack` on trained runs of the registry (the paper's Table 2 as a report):
RepMix and a baseline attacked end to end, the adversarial section in the results document
the leaderboard reads, and one-line refusals."""

import json

import pytest

from attribution88.cli import main
from attribution88.eval.attack import select_images

#: Tiny CPU runs: 32 px, 1 epoch, no perturbation (the loader's tests cover augmentation).
RUNS = {
    "repmix": {"width": 4, "resize": 36, "crop": 32, "test_size": 32},
    "yu": {"resize": 36, "crop": 32, "test_size": 32, "fmap_base": 64, "fmap_max": 16},
}


#: Tiny models run fastest on one thread (conftest.py).
pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def data(tiny_dataset):
    return tiny_dataset


def trained(name, data, tmp_path):
    run = tmp_path / name
    argv = ["train", "--model", name, "--preset", "cpu", "--data", str(data), "--out", str(run),
            "--epochs", "1", "--workers", "0", "--quiet", "--set", "perturbation=false"]
    for k, v in RUNS[name].items():
        argv += ["--set", f"{k}={json.dumps(v)}"]
    assert main(argv) == 0
    return run


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(RUNS))
def test_a_trained_run_is_attacked_and_the_section_joins_its_results(name, data, tmp_path, capsys):
    run = trained(name, data, tmp_path)
    preds, results = tmp_path / "preds.csv", tmp_path / "results.json"
    assert main(["predict", "--run", str(run), "--data", str(data), "--out", str(preds), "--quiet", "--workers", "0"]) == 0
    assert main(["score", str(preds), "--truth", str(data), "--json", str(results), "--resamples", "20"]) == 0
    capsys.readouterr()
    assert main(["attack", "--run", str(run), "--data", str(data), "--eps", "2,8,32", "--steps", "3", "--n", "12",
                 "--resamples", "50", "--json", str(results), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "PGD (L-infinity, 3 steps" in out and "32/255" in out
    doc = json.loads(results.read_text())
    assert doc["schema_version"] == 2 and doc["metrics"]  # the score document, extended
    section = doc["adversarial"]
    assert section["n"] == 12 and [e["eps"] for e in section["per_eps"]] == [0, 2, 8, 32]
    checks = section["checks"]
    assert checks["eps0_equals_clean"] and checks["within_budget"] and checks["images_out_of_range"] == 0
    assert section["per_eps"][0]["attribution_error"]["value"] == checks["clean_error"]
    errors = [e["attribution_error"]["value"] for e in section["per_eps"]]
    assert checks["monotone"] == all(b >= a for a, b in zip(errors, errors[1:]))
    assert errors[-1] >= errors[0]
    # the leaderboard takes the errors per budget from it
    from attribution88.leaderboard import add_results

    records = tmp_path / "records"
    records.mkdir()
    record, _ = add_results(records, results, f"tiny {name}")
    assert [k for k, _ in record.adversarial_by_eps()] == ["2/255", "8/255", "32/255"]


@pytest.mark.slow
def test_attack_refusals_are_one_line_and_write_nothing(data, tmp_path, capsys):
    run = trained("repmix", data, tmp_path)
    base = ["attack", "--run", str(run), "--data", str(data), "--steps", "1", "--n", "4", "--quiet"]
    for extra, message in ((["--eps", "2,x"], "'x' is not a number"),
                           (["--eps", "300"], "outside 0..255"),
                           (["--n", "-3"], "--n must be at least 1"),
                           (["--json", str(tmp_path / "nowhere" / "r.json")], "does not exist")):
        assert main(base + extra) == 2, extra
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"kind": "attribution88.score", "schema_version": 1, "n": 1, "metrics": {},
                                 "truth": {"fingerprint": "0" * 64, "config": "default", "split": "test"}}))
    before = other.read_text()
    assert main(base + ["--eps", "2", "--json", str(other)]) == 2
    assert "scored on other data" in capsys.readouterr().err and other.read_text() == before
    fresh = tmp_path / "attack.json"
    assert main(base + ["--eps", "2", "--json", str(fresh), "--resamples", "0"]) == 0
    doc = json.loads(fresh.read_text())
    assert doc["kind"] == "attribution88.attack" and doc["truth"]["fingerprint"]


def test_the_attacked_subset_is_seeded_nested_and_order_free():
    ids = [f"real-celeba-{i:05d}" for i in range(100)]
    small, large = select_images(ids, 10, 88), select_images(ids, 30, 88)
    assert len(small) == 10 and set(small) <= set(large)
    shuffled = ids[::-1]
    assert sorted(shuffled[i] for i in select_images(shuffled, 10, 88)) == sorted(ids[i] for i in small)
    assert select_images(ids, 10, 89) != small and select_images(ids, None, 88) == list(range(100))
