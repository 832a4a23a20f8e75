"""Benchmark of `attribution88 score`: a 1,000,000-row submission scored end to end against
a 1,000,000-row truth, next to a naive pandas + scikit-learn scorer computing the same
numbers, in the same run (the machine is shared: only the ratio is comparable across runs).

End to end = read and validate the CSV file, match its ids to the truth, compute every metric
(detection / attribution accuracy, NMI, macro-F1, per-source recall / precision / F1 / AUC,
confusion matrix, detection AUC, log loss) and every breakdown (test subsets, test groups,
semantic status, condition, perturbation, severity, perturbation x severity, semantic), without
confidence intervals. Then the extra time of 1,000 bootstrap resamples. Every value of ours
is asserted equal to the naive one within 1e-12.

    python benchmarks/bench_score.py                 # 1,000,000 rows
    python benchmarks/bench_score.py --rows 100000 --repeat 1

The truth is a table made in memory with the dataset's columns (writing a million images is
not what is measured); the submission is a real CSV file on disk: id, pred (source names) and
8 probability columns with 6 decimals, rows shuffled, ids quoted.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def make_truth_table(rows: int, rng: np.random.Generator):
    """A truth table with the dataset's columns: ids SOURCE-SEMANTIC-NNNNN over the 88 cells,
    test perturbations in equal thirds (clean / seen / unseen), random severities."""
    import pyarrow as pa

    from attribution88.spec import SPEC

    cells = SPEC.cells()
    per_cell = -(-rows // len(cells))
    cell = np.arange(rows) // per_cell
    index = np.arange(rows) % per_cell
    ids = [f"{cells[c].name}-{i:05d}" for c, i in zip(cell.tolist(), index.tolist())]
    source = np.array([c.source.index for c in cells])[cell]
    semantic = np.array([c.semantic.index for c in cells])[cell]
    condition = rng.integers(0, 3, rows)
    seen = [p.name for p in SPEC.seen_perturbations()]
    unseen = [p.name for p in SPEC.unseen_perturbations()]
    names = np.array(["none"] + seen + unseen, dtype=object)
    pick = np.where(condition == 0, 0,
                    np.where(condition == 1, 1 + rng.integers(0, len(seen), rows),
                             1 + len(seen) + rng.integers(0, len(unseen), rows)))
    severity = np.where(condition == 0, 0, rng.integers(1, 6, rows))
    return pa.table({
        "id": pa.array(ids, pa.string()),
        "source": pa.array(source, pa.int64()),
        "semantic": pa.array(semantic, pa.int64()),
        "perturbation": pa.array(names[pick].tolist(), pa.string()),
        "severity": pa.array(severity, pa.int8()),
    }), condition


def write_submission(path: Path, truth, condition: np.ndarray, rng: np.random.Generator) -> None:
    """id, pred, 8 probabilities (6 decimals), rows shuffled; harder under perturbations."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.csv as pacsv

    from attribution88.spec import SPEC

    n = truth.num_rows
    y = truth.column("source").to_numpy()
    z = rng.normal(size=(n, 8))
    z[np.arange(n), y] += np.array([3.0, 2.0, 1.0])[condition]
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    order = rng.permutation(n)
    names = np.array(SPEC.source_names, dtype=object)
    cols = {"id": truth.column("id").take(pa.array(order)),
            "pred": pa.array(names[np.argmax(p, 1)][order].tolist(), pa.string())}
    for j, name in enumerate(SPEC.source_names):
        cols[name] = pc.round(pa.array(p[order, j]), 6)
    pacsv.write_csv(pa.table(cols), path)


# -- ours ---------------------------------------------------------------------------------------
def ours(path: Path, table, resamples: int):
    from attribution88.eval.scoring import score
    from attribution88.eval.submission import read_submission
    from attribution88.eval.truth import TruthInfo, truth_from_table

    truth = truth_from_table(table, TruthInfo("memory", "default", "test", "1.0.0", None))
    return score(read_submission(path, scores="probs"), truth, resamples=resamples)


# -- naive --------------------------------------------------------------------------------------
def naive(path: Path, table) -> dict:
    """The straightforward scorer: pandas to read and join, scikit-learn for each metric."""
    import pandas as pd
    from sklearn import metrics as skm

    from attribution88.spec import SPEC

    k = len(SPEC.sources)
    names = SPEC.source_names
    df = pd.read_csv(path)
    truth = table.to_pandas()
    if not df["id"].is_unique:
        raise ValueError("duplicate ids")
    if set(df["id"]) != set(truth["id"]):
        raise ValueError("ids differ")
    if df[names].isna().any().any() or not np.isfinite(df[names].to_numpy()).all():
        raise ValueError("bad scores")
    m = truth.merge(df, on="id", how="left", validate="one_to_one")
    y = m["source"].to_numpy()
    pred = m["pred"].map({n: i for i, n in enumerate(names)}).to_numpy()
    raw = m[names].to_numpy()
    probs = raw / raw.sum(1, keepdims=True)

    def metrics(idx, per_source_auc=False) -> dict:
        yt, yp = y[idx], pred[idx]
        out = {
            "detection_accuracy": skm.accuracy_score(yt > 0, yp > 0),
            "attribution_accuracy": skm.accuracy_score(yt, yp),
            "nmi": skm.normalized_mutual_info_score(yt, yp),
            "macro_f1": skm.f1_score(yt, yp, average="macro", zero_division=0),
            "recall": skm.recall_score(yt, yp, labels=range(k), average=None, zero_division=np.nan),
            "precision": skm.precision_score(yt, yp, labels=range(k), average=None, zero_division=np.nan),
            "f1": skm.f1_score(yt, yp, labels=range(k), average=None, zero_division=np.nan),
            "detection_auc": skm.roc_auc_score(yt > 0, -raw[idx, 0]) if 0 < (yt > 0).mean() < 1 else math.nan,
            "log_loss": skm.log_loss(yt, probs[idx], labels=range(k)),
        }
        if per_source_auc:
            out["auc"] = np.array([skm.roc_auc_score(yt == s, raw[idx, s]) for s in range(k)])
            out["confusion"] = skm.confusion_matrix(yt, yp, labels=range(k))
        return out

    results = {"all": metrics(slice(None), per_source_auc=True)}
    seen_sem = np.array([s.seen for s in SPEC.semantics])[m["semantic"].to_numpy()]
    pert = m["perturbation"]
    unseen_perts = {p.name for p in SPEC.unseen_perturbations()}
    condition = np.where(pert == "none", "clean",
                         np.where(pert.isin(unseen_perts), "unseen_pert", "seen_pert"))
    group = np.where(seen_sem, "seen_sem-", "unseen_sem-") + condition
    sev = m["severity"].astype(str).to_numpy()
    keys = {
        "test_group": group,
        "perturbation": pert.to_numpy(),
        "severity": sev,
        "perturbation_severity": np.where(pert == "none", "none", pert + "/" + sev),
        "semantic": np.array(SPEC.semantic_names)[m["semantic"].to_numpy()],
    }
    for breakdown, key in keys.items():
        for name, idx in pd.Series(np.arange(len(m))).groupby(key).groups.items():
            results[(breakdown, str(name))] = metrics(np.asarray(idx))
    for subset in SPEC.subsets:
        idx = np.flatnonzero(np.isin(group, subset.groups()))
        if len(idx):
            results[("subset", subset.name)] = metrics(idx)
    return results


def check_equal(result, reference: dict, tol: float = 1e-12) -> int:
    """Assert every value of ours equals the naive one within ``tol``; return how many."""
    from attribution88.spec import SPEC

    checked = 0

    def same(a, b, what):
        nonlocal checked
        a = math.nan if a is None else float(a)
        b = float(b)
        assert (math.isnan(a) and math.isnan(b)) or abs(a - b) <= tol, f"{what}: {a!r} != {b!r}"
        checked += 1

    groups = [("all", result.overall)] + [((b, g.name), g) for b, gs in result.breakdowns.items() for g in gs]
    assert len(groups) == len(reference), f"{len(groups)} groups, naive has {len(reference)}"
    for key, group in groups:
        ref = reference[key]
        for name in ("detection_accuracy", "attribution_accuracy", "nmi", "macro_f1",
                     "detection_auc", "log_loss"):
            same(group.metrics[name].value, ref[name], f"{key} {name}")
        for s in SPEC.sources:
            for name in ("recall", "precision", "f1") + (("auc",) if key == "all" else ()):
                same(group.per_source[s.name][name].value, ref[name][s.index], f"{key} {s.name} {name}")
    assert [list(r) for r in result.confusion.counts] == reference["all"]["confusion"].tolist()
    return checked


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--resamples", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3, help="timed runs of each (the median is reported)")
    args = ap.parse_args(argv)

    rng = np.random.default_rng(20221023)
    table, condition = make_truth_table(args.rows, rng)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "preds.csv"
        write_submission(path, table, condition, rng)
        size = os.path.getsize(path)
        print(f"submission: {args.rows:,} rows, {size / 1e6:.1f} MB; truth: {table.num_rows:,} rows; "
              f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")

        def timed(fn):
            times, cpu, out = [], [], None
            for _ in range(args.repeat):
                t, c = time.perf_counter(), time.process_time()
                out = fn()
                times.append(time.perf_counter() - t)
                cpu.append(time.process_time() - c)
            return statistics.median(times), min(times), statistics.median(cpu), out

        t_ours, t_ours_min, c_ours, result = timed(lambda: ours(path, table, 0))
        t_naive, t_naive_min, c_naive, reference = timed(lambda: naive(path, table))
        checked = check_equal(result, reference)
        t_boot, t_boot_min, c_boot, boot = timed(lambda: ours(path, table, args.resamples))
        print(f"ours  (read, validate, join, all metrics and breakdowns, no CIs): "
              f"{t_ours:6.2f} s (best {t_ours_min:.2f}; CPU {c_ours:.2f} s)")
        print(f"naive (pandas + scikit-learn, same outputs):                     "
              f"{t_naive:6.2f} s (best {t_naive_min:.2f}; CPU {c_naive:.2f} s)")
        print(f"speed-up: {t_naive / t_ours:.1f}x (best-of: {t_naive_min / t_ours_min:.1f}x)")
        print(f"with {args.resamples} bootstrap resamples: {t_boot:.2f} s, i.e. "
              f"{t_boot - t_ours:.2f} s more for the intervals (CPU {c_boot - c_ours:.2f} s more)")
        print(f"load average after the runs: {os.getloadavg()[0]:.2f}")
        print(f"{checked} metric values equal to scikit-learn's within 1e-12")
        a = boot.metrics["attribution_accuracy"]
        print(f"example: attribution accuracy {a.value:.4f} [{a.low:.4f}, {a.high:.4f}]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
