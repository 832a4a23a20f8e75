"""`score` on truths made in memory: every metric, overall and in every breakdown group,
against scikit-learn; and the results record's versioning."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pyarrow as pa
import pytest
from sklearn import metrics as skm

from attribution88.errors import ResultsFormatError, SubmissionError
from attribution88.eval import metric_table as mt
from attribution88.eval.compare import compare_submissions
from attribution88.eval.report import render, render_compare
from attribution88.eval.results import (
    SCHEMA_VERSION,
    CompareResult,
    EpsResult,
    Estimate,
    ScoreResult,
    read_results,
    write_results,
)
from attribution88.eval.scoring import score
from attribution88.eval.submission import Submission, check_scores
from attribution88.eval.truth import TruthInfo, truth_from_table
from attribution88.spec import SPEC

K = 8
TOL = 1e-12


def make_truth(n: int, seed: int):
    rng = np.random.default_rng(seed)
    source = rng.integers(0, K, n)
    semantic = rng.integers(0, len(SPEC.semantics), n)
    names = np.array(["none"] + SPEC.perturbation_names, dtype=object)
    pert = rng.integers(0, len(names), n)
    severity = np.where(pert == 0, 0, rng.integers(1, 6, n))
    ids = [f"{SOURCES[s]}-{SPEC.semantics[m].name}-{i:05d}" for i, (s, m) in enumerate(zip(source, semantic))]
    table = pa.table({"id": ids, "source": source, "semantic": semantic,
                      "perturbation": names[pert].tolist(), "severity": severity.astype(np.int8)})
    return truth_from_table(table, TruthInfo("memory", "default", "test", SPEC.version, None))


SOURCES = SPEC.source_names


def submission(truth, pred=None, scores=None, kind=None, fake=None, shuffle_seed=0):
    order = np.random.default_rng(shuffle_seed).permutation(truth.n)
    ids = truth.ids.take(pa.array(order))
    return Submission(
        ids=ids, pred=None if pred is None else pred[order].astype(np.int8),
        scores=None if scores is None else np.asfortranarray(scores[order]),
        score_kind=kind, score_kind_declared=kind is not None,
        fake_score=None if fake is None else fake[order])


def groups_of(truth):
    """Breakdown groups as boolean masks, computed independently of the scorer."""
    seen_sem = np.array([s.seen for s in SPEC.semantics])[truth.semantic]
    pert = truth.perturbation.astype(int)
    unseen = np.array([not p.seen for p in SPEC.perturbations])
    cond = np.where(pert < 0, "clean", np.where(unseen[np.maximum(pert, 0)], "unseen_pert", "seen_pert"))
    group = np.where(seen_sem, "seen_sem-", "unseen_sem-") + cond
    names = np.array(["none"] + SPEC.perturbation_names)[pert + 1]
    out = {}
    for g in np.unique(group):
        out[("test_group", g)] = group == g
    for s in SPEC.subsets:
        m = np.isin(group, s.groups())
        if m.any():
            out[("subset", s.name)] = m
    for p in np.unique(names):
        out[("perturbation", p)] = names == p
    for v in np.unique(truth.severity):
        out[("severity", str(v))] = truth.severity == v
    ps = np.where(names == "none", "none", np.char.add(np.char.add(names.astype(str), "/"), truth.severity.astype(str)))
    for v in np.unique(ps):
        out[("perturbation_severity", v)] = ps == v
    for i, name in enumerate(SPEC.semantic_names):
        if (truth.semantic == i).any():
            out[("semantic", name)] = truth.semantic == i
    return out


def check_against_sklearn(result, truth, pred, probs=None, det=None, ovr=None):
    y = truth.source.astype(int)

    def expect(e: Estimate, value: float, what: str):
        v = math.nan if e.value is None else e.value
        assert (math.isnan(v) and math.isnan(value)) or abs(v - value) <= TOL, (what, v, value)

    def group_metrics(m, group: str):
        yt, yp = y[m], pred[m]
        got = result.overall if group == "all" else dict(
            ((b, g.name), g) for b, gs in result.breakdowns.items() for g in gs)[group]
        assert got.n == m.sum()
        expect(got.metrics["attribution_accuracy"], skm.accuracy_score(yt, yp), (group, "attr"))
        expect(got.metrics["detection_accuracy"], skm.accuracy_score(yt > 0, yp > 0), (group, "det"))
        expect(got.metrics["nmi"], skm.normalized_mutual_info_score(yt, yp), (group, "nmi"))
        expect(got.metrics["macro_f1"], skm.f1_score(yt, yp, average="macro", zero_division=0), (group, "f1"))
        recall = skm.recall_score(yt, yp, labels=range(K), average=None, zero_division=np.nan)
        for s in range(K):
            expect(got.per_source[SOURCES[s]]["recall"], recall[s], (group, "recall", s))
        if det is not None:
            ref = skm.roc_auc_score(yt > 0, det[m]) if 0 < (yt > 0).sum() < len(yt) else math.nan
            expect(got.metrics["detection_auc"], ref, (group, "det auc"))
        if probs is not None:
            expect(got.metrics["log_loss"], skm.log_loss(yt, probs[m], labels=range(K)), (group, "log loss"))

    everything = np.ones(truth.n, bool)
    group_metrics(everything, "all")
    if ovr is not None:
        for s in range(K):
            ref = skm.roc_auc_score(y == s, ovr[:, s]) if 0 < (y == s).sum() < len(y) else math.nan
            expect(result.overall.per_source[SOURCES[s]]["auc"], ref, ("auc", s))
    assert [list(r) for r in result.confusion.counts] == skm.confusion_matrix(y, pred, labels=range(K)).tolist()
    masks = groups_of(truth)
    reported = {(b, g.name) for b, gs in result.breakdowns.items() for g in gs}
    assert reported == set(masks)
    for key, m in masks.items():
        group_metrics(m, key)


def _pred_cases(truth, rng):
    y = truth.source.astype(int)
    noisy = np.where(rng.random(truth.n) < 0.6, y, rng.integers(0, K, truth.n))
    return {
        "random": rng.integers(0, K, truth.n),
        "noisy": noisy,
        "all_one_class": np.full(truth.n, 3),
        "class_never_predicted": np.where(noisy == 4, 5, noisy),
        "perfect": y.copy(),
        "inverted": K - 1 - y,
    }


@pytest.mark.parametrize("case", ["random", "noisy", "all_one_class", "class_never_predicted",
                                  "perfect", "inverted"])
def test_hard_predictions_every_group_equals_sklearn(case):
    truth = make_truth(4000, 1)
    pred = _pred_cases(truth, np.random.default_rng(2))[case]
    result = score(submission(truth, pred=pred), truth, resamples=0)
    check_against_sklearn(result, truth, pred)


@pytest.mark.parametrize("kind", ["logits", "probs", "llr"])
def test_scores_every_group_equals_sklearn(kind):
    truth = make_truth(3000, 3)
    rng = np.random.default_rng(4)
    y = truth.source.astype(int)
    z = rng.normal(size=(truth.n, K))
    z[np.arange(truth.n), y] += 1.5
    e = np.exp(z - z.max(1, keepdims=True))
    probs = e / e.sum(1, keepdims=True)
    if kind == "logits":
        raw, ovr, det = z, None, None
        others = np.array([np.delete(z, s, 1) for s in range(K)])
        ovr = np.stack([z[:, s] - np.log(np.exp(others[s]).sum(1)) for s in range(K)], 1)
        det = np.log(np.exp(z[:, 1:]).sum(1)) - z[:, 0]
    elif kind == "probs":
        raw = np.round(probs, 6)
        probs = raw / raw.sum(1, keepdims=True)
        ovr, det = raw, -raw[:, 0]
    else:
        raw = z
        q = 1 / (1 + np.exp(-z))
        probs = q / q.sum(1, keepdims=True)
        ovr, det = z, -z[:, 0]
    pred = np.argmax(raw, 1)
    assert check_scores(raw, kind) == kind
    result = score(submission(truth, scores=raw, kind=kind), truth, resamples=0)
    check_against_sklearn(result, truth, pred, probs=probs, det=det, ovr=ovr)


def test_fake_score_is_the_detection_score():
    truth = make_truth(2000, 5)
    rng = np.random.default_rng(6)
    pred = rng.integers(0, K, truth.n)
    fake = rng.normal(size=truth.n) + (truth.source > 0)
    result = score(submission(truth, pred=pred, fake=fake), truth, resamples=0)
    check_against_sklearn(result, truth, pred, det=fake)


def test_intervals_everywhere_for_counts_and_overall_for_scores():
    truth = make_truth(2000, 7)
    rng = np.random.default_rng(8)
    z = rng.normal(size=(truth.n, K))
    z[np.arange(truth.n), truth.source] += 1
    result = score(submission(truth, scores=z, kind="logits"), truth, resamples=200)
    for m, e in result.metrics.items():
        assert e.low is not None and e.low <= e.value <= e.high, m
    for s, ms in result.overall.per_source.items():
        for m, e in ms.items():
            assert e.low is not None, (s, m)
    for b, groups in result.breakdowns.items():
        for g in groups:
            assert g.metrics["attribution_accuracy"].low is not None, (b, g.name)
            assert g.metrics["detection_auc"].low is None  # breakdown score metrics: points


def test_mismatched_ids_are_refused():
    truth = make_truth(500, 9)
    sub = submission(truth, pred=np.zeros(truth.n, int))
    short = Submission(ids=sub.ids.slice(1), pred=sub.pred[1:])
    with pytest.raises(SubmissionError, match="1 of the 500 ids"):
        score(short, truth, resamples=0)


def test_hash_collisions_fall_back_to_the_exact_match(monkeypatch):
    from attribution88.eval import join

    truth = make_truth(800, 10)
    pred = np.random.default_rng(11).integers(0, K, truth.n)
    expected = score(submission(truth, pred=pred), truth, resamples=0)
    monkeypatch.setattr(join, "hash_strings", lambda arr: np.zeros(len(arr), np.uint64))
    collided = score(submission(truth, pred=pred), truth, resamples=0)
    assert collided.confusion == expected.confusion


# -- the results record ---------------------------------------------------------------------
def test_results_round_trip_and_nan_as_null(tmp_path):
    truth = make_truth(300, 12)
    pred = np.full(truth.n, 2)  # recall of absent predictions, precision undefined: NaN
    result = score(submission(truth, pred=pred), truth, resamples=20)
    write_results(tmp_path / "r.json", result)
    text = (tmp_path / "r.json").read_text()
    assert "NaN" not in text and "null" in text
    again = read_results(tmp_path / "r.json")
    assert again.to_dict() == json.loads(text)


def test_older_and_partial_documents_are_read():
    doc = {"metrics": {"attribution_accuracy": 0.8207, "nmi": {"value": 0.6679}},
           "submission": {"name": "repmix.csv"}, "unknown_key": 1}
    result = ScoreResult.from_dict(doc)
    assert result.schema_version == 1 and result.metrics["attribution_accuracy"].value == 0.8207
    assert result.metrics["nmi"].low is None and result.submission.name == "repmix.csv"


def test_newer_schema_is_refused_clearly():
    with pytest.raises(ResultsFormatError, match="newer than this attribution88 reads"):
        ScoreResult.from_dict({"kind": "attribution88.score", "schema_version": SCHEMA_VERSION + 1})


def test_wrong_document_kind_is_refused(tmp_path):
    with pytest.raises(ResultsFormatError, match="expected 'attribution88.compare'"):
        CompareResult.from_dict({"kind": "attribution88.score"})
    (tmp_path / "x.json").write_text("[1, 2]")
    with pytest.raises(ResultsFormatError):
        read_results(tmp_path / "x.json")


# -- the table of metrics: what the scorer writes, where the report and plots take labels ------
@pytest.fixture(scope="module")
def full_result():
    """A result with every metric the scorer writes: predictions, scores and fake_score."""
    truth = make_truth(600, seed=3)
    rng = np.random.default_rng(4)
    probs = rng.dirichlet(np.ones(K), truth.n)
    probs[np.arange(truth.n), truth.source] += 0.5
    probs /= probs.sum(1, keepdims=True)
    sub = submission(truth, pred=probs.argmax(1), scores=probs, kind="probs", fake=1 - probs[:, 0])
    return truth, sub, score(sub, truth, resamples=20)


def test_every_metric_the_scorer_writes_has_an_entry_of_its_scope(full_result):
    truth, sub, result = full_result
    group = {m.key for m in mt.of_scope("group")}
    written = set(result.metrics) | {k for gs in result.breakdowns.values() for g in gs for k in g.metrics}
    assert written == group
    assert {k for m in result.overall.per_source.values() for k in m} == {m.key for m in mt.of_scope("source")}
    adversarial = {f.name for f in dataclasses.fields(EpsResult)} - {"eps"}
    assert adversarial == {m.key for m in mt.of_scope("adversarial")}
    assert set(compare_submissions(sub, sub, truth, resamples=0).differences) == group
    for m in mt.METRICS.values():
        assert m.label and m.short and m.lo < m.hi and m.scope in mt.SCOPES
    for k, e in result.metrics.items():
        assert mt.METRICS[k].in_bounds(e.value), k


def test_the_report_takes_its_labels_from_the_table(full_result, relabel_metrics):
    truth, sub, result = full_result
    assert "Attr. acc" in render(result) and "attribution accuracy" in render(result)
    relabel_metrics("attribution_accuracy", "nmi", "recall", "auc")
    text = render(result)
    assert "lbl-attribution_accuracy" in text and "lbl-nmi" in text  # overall table: labels
    assert "Sh-attribution_accuracy" in text and "Sh-nmi" in text  # breakdown headers: short labels
    assert "Sh-recall" in text and "Sh-auc" in text  # per-source header
    assert "attribution accuracy" not in text and "Attr. acc" not in text
    compared = render_compare(compare_submissions(sub, sub, truth, resamples=0))
    assert "lbl-attribution_accuracy" in compared and "attribution accuracy" not in compared


def test_the_plots_take_labels_and_bounds_from_the_table(full_result, relabel_metrics):
    pytest.importorskip("matplotlib")
    from attribution88.eval.plots import confusion_figure, robustness_figure

    relabel_metrics("attribution_accuracy")
    relabel_metrics("detection_accuracy", lo=0.5)
    result = full_result[2]
    assert "lbl-attribution_accuracy" in confusion_figure(result).axes[0].get_title()
    heat = {ax.get_title().split("\n")[0]: ax for ax in robustness_figure(result).axes if ax.images}
    assert set(heat) == {"lbl-attribution_accuracy", "lbl-detection_accuracy"}
    assert heat["lbl-detection_accuracy"].images[0].get_clim() == (0.5, 1.0)
