"""Every metric of the scorer against scikit-learn, on random and adversarial inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn import metrics as skm

from attribution88.eval import metrics as M

K = 8
TOL = 1e-12


def _cases():
    """(name, y_true, y_pred) on random and adversarial inputs."""
    rng = np.random.default_rng(7)
    cases = []
    for i in range(20):
        n = int(rng.integers(1, 3000))
        cases.append((f"random{i}", rng.integers(0, K, n), rng.integers(0, K, n)))
    y = rng.integers(0, K, 500)
    noisy = np.where(rng.random(500) < 0.8, y, rng.integers(0, K, 500))
    cases += [
        ("all_one_class_true", np.full(300, 3), rng.integers(0, K, 300)),
        ("all_one_class_pred", y, np.full(500, 2)),
        ("both_one_class_same", np.full(50, 4), np.full(50, 4)),
        ("both_one_class_different", np.full(50, 4), np.full(50, 1)),
        ("class_never_predicted", y, np.where(noisy == 5, 6, noisy)),
        ("class_absent_from_truth", np.where(y == 2, 3, y), noisy),
        ("perfect", y, y.copy()),
        ("inverted", y, K - 1 - y),
        ("all_real_predicted_fake", y, np.where(y == 0, 1, y)),
        ("nearly_one_class", np.r_[np.zeros(9997, int), [1, 2, 3]], np.r_[np.zeros(9990, int), rng.integers(0, K, 10)]),
        ("single_image", np.array([3]), np.array([5])),
        ("two_classes_only", rng.integers(0, 2, 400) * 7, rng.integers(0, 2, 400) * 7),
    ]
    return cases


CASES = _cases()


@pytest.mark.parametrize("name,y,p", CASES, ids=[c[0] for c in CASES])
def test_confusion_metrics_equal_sklearn(name, y, p):
    m = M.confusion_metrics(M.confusion_matrix(y, p, K))
    assert m["attribution_accuracy"] == pytest.approx(skm.accuracy_score(y, p), abs=TOL)
    assert m["detection_accuracy"] == pytest.approx(skm.accuracy_score(y > 0, p > 0), abs=TOL)
    assert m["nmi"] == pytest.approx(skm.normalized_mutual_info_score(y, p), abs=TOL)
    assert m["macro_f1"] == pytest.approx(skm.f1_score(y, p, average="macro", zero_division=0), abs=TOL)
    for ours, ref in ((m["recall"], skm.recall_score), (m["precision"], skm.precision_score),
                      (m["f1"], skm.f1_score)):
        expected = ref(y, p, labels=range(K), average=None, zero_division=np.nan)
        np.testing.assert_allclose(ours, expected, atol=TOL, rtol=0, equal_nan=True)
    np.testing.assert_array_equal(M.confusion_matrix(y, p, K), skm.confusion_matrix(y, p, labels=range(K)))


def test_detection_accuracy_is_real_vs_any_generator():
    # a fake predicted as another generator is a correct detection, a wrong attribution
    y, p = np.array([1, 2, 0, 0]), np.array([3, 2, 0, 5])
    m = M.confusion_metrics(M.confusion_matrix(y, p, K))
    assert m["detection_accuracy"] == 0.75 and m["attribution_accuracy"] == 0.5


def test_confusion_metrics_vectorised_over_groups():
    rng = np.random.default_rng(1)
    y, p, g = rng.integers(0, K, 2000), rng.integers(0, K, 2000), rng.integers(0, 5, 2000)
    cms = M.confusion_matrix(y, p, K, g, 5)
    batched = M.confusion_metrics(cms)
    for i in range(5):
        one = M.confusion_metrics(cms[i])
        for key in M.SCALAR_METRICS:
            assert batched[key][i] == one[key]
        assert batched["nmi"][i] == pytest.approx(skm.normalized_mutual_info_score(y[g == i], p[g == i]), abs=TOL)


def test_empty_confusion_matrix_is_nan():
    m = M.confusion_metrics(np.zeros((K, K), dtype=np.int64))
    assert all(math.isnan(float(m[k])) for k in M.SCALAR_METRICS)


def _auc_cases():
    rng = np.random.default_rng(3)
    out = []
    for i in range(30):
        n = int(rng.integers(2, 3000))
        pos = rng.random(n) < rng.uniform(0.05, 0.95)
        if pos.all() or not pos.any():
            pos[0] = not pos[0]
        if i % 3 == 0:  # heavy ties
            s = rng.integers(0, int(rng.integers(1, 20)), n).astype(float)
        else:
            s = rng.normal(size=n) + pos * rng.uniform(0, 2)
        out.append((f"random{i}", s, pos))
    pos = rng.random(400) < 0.3
    out += [
        ("perfect", pos.astype(float), pos),
        ("inverted", -pos.astype(float), pos),
        ("all_tied", np.zeros(400), pos),
        ("infinities", np.where(pos, np.inf, rng.normal(size=400)), pos),
    ]
    return out


AUC_CASES = _auc_cases()


@pytest.mark.parametrize("name,s,pos", AUC_CASES, ids=[c[0] for c in AUC_CASES])
def test_auc_equals_sklearn(name, s, pos):
    finite = np.nan_to_num(s, posinf=1e308, neginf=-1e308)  # scikit-learn refuses inf; same ranks
    assert M.auc(s, pos) == pytest.approx(skm.roc_auc_score(pos, finite), abs=TOL)


def test_auc_of_one_class_is_nan():
    assert math.isnan(M.auc(np.arange(5.0), np.ones(5, bool)))


def test_grouped_auc_equals_sklearn_per_group():
    rng = np.random.default_rng(11)
    n = 5000
    s = np.where(rng.random(n) < 0.5, rng.integers(0, 30, n), rng.normal(size=n)).astype(float)
    pos = rng.random(n) < 0.6
    group = rng.integers(-1, 9, n)  # -1: left out
    group[group == 8] = 7  # group 8 empty
    out = M.grouped_auc(M.RankedScores.of(s, pos), group, 9)
    for g in range(9):
        m = group == g
        if m.sum() and 0 < pos[m].sum() < m.sum():
            assert out[g] == pytest.approx(skm.roc_auc_score(pos[m], s[m]), abs=TOL)
        else:
            assert math.isnan(out[g])


def _logits(rng, n):
    y = rng.integers(0, K, n)
    z = rng.normal(size=(n, K)) * 3
    z[np.arange(n), y] += 2
    return y, z


def test_log_loss_from_logits_equals_sklearn_on_softmax():
    rng = np.random.default_rng(5)
    y, z = _logits(rng, 3000)
    z[:5] *= 200  # near-certain rows: probabilities clipped as scikit-learn clips them
    v = M.score_views(np.asfortranarray(z), "logits")
    probs = np.exp(z - z.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    np.testing.assert_allclose(v.probs, probs, rtol=1e-13, atol=1e-300)
    ours = M.log_loss_terms(v.true_probs(y)).mean()
    assert ours == pytest.approx(skm.log_loss(y, v.probs, labels=range(K)), abs=TOL)


def test_log_loss_from_probabilities_renormalises():
    rng = np.random.default_rng(6)
    p = rng.dirichlet(np.ones(K), 500)
    p[0] = np.eye(K)[2]  # a zero probability of the true class is clipped, not infinite
    y = rng.integers(0, K, 500)
    y[0] = 0
    noisy = np.round(p, 4)  # rows sum to 1 within the tolerance
    v = M.score_views(noisy, "probs")
    ours = M.log_loss_terms(v.true_probs(y)).mean()
    ref = skm.log_loss(y, noisy / noisy.sum(1, keepdims=True), labels=range(K))
    assert ours == pytest.approx(ref, abs=TOL)


def test_ovr_scores_rank_like_the_log_likelihood_ratio():
    rng = np.random.default_rng(8)
    y, z = _logits(rng, 2000)
    v = M.score_views(np.asfortranarray(z), "logits")
    for s in range(K):
        others = np.delete(z, s, axis=1)
        llr = z[:, s] - np.log(np.exp(others).sum(1))
        assert M.auc(v.ovr[:, s], y == s) == pytest.approx(skm.roc_auc_score(y == s, llr), abs=1e-9)
        np.testing.assert_allclose(np.log(v.ovr[:, s]), llr, rtol=1e-9, atol=1e-9)
    fake = np.log(np.exp(z[:, 1:]).sum(1)) - z[:, 0]
    np.testing.assert_allclose(np.log(v.fake), fake, rtol=1e-9, atol=1e-9)


def test_ovr_odds_do_not_saturate_for_confident_logits():
    # softmax rounds both rows' p(stylegan2) to 1.0; the odds keep them apart
    z = np.zeros((2, K))
    z[0, 2], z[1, 2] = 60.0, 70.0
    v = M.score_views(z, "logits")
    assert v.probs[0, 2] == v.probs[1, 2] == 1.0
    assert v.ovr[1, 2] > v.ovr[0, 2]


def test_llr_scores_are_ranked_as_submitted_and_normalised_for_log_loss():
    rng = np.random.default_rng(9)
    llr = rng.normal(size=(100, K)) * 5
    v = M.score_views(llr, "llr")
    np.testing.assert_array_equal(v.ovr, llr)
    np.testing.assert_array_equal(v.fake, -llr[:, 0])
    sig = 1 / (1 + np.exp(-llr))
    np.testing.assert_allclose(v.probs, sig / sig.sum(1, keepdims=True), rtol=1e-12)


def test_probabilities_rank_as_submitted():
    p = np.array([[0.2, 0.8, 0, 0, 0, 0, 0, 0], [0.6, 0.4, 0, 0, 0, 0, 0, 0]])
    v = M.score_views(p, "probs")
    np.testing.assert_array_equal(v.ovr, p)
    np.testing.assert_array_equal(v.fake, -p[:, 0])
