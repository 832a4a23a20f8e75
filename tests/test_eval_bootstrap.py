"""Bootstrap intervals and paired tests: resampling exactness, coverage on simulated data,
seeding, McNemar and DeLong."""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np
import pytest

from attribution88.eval import bootstrap as B
from attribution88.eval import metrics as M
from attribution88.ids import derive_seed

K = 8


def _rng(*purpose):
    return np.random.default_rng(derive_seed("tests", *purpose))


@pytest.mark.parametrize("n", [40, 5000], ids=["images-drawn", "multinomial"])
def test_resampled_counts_have_the_moments_of_resampling_images(n):
    # both code paths (drawing images when few, the multinomial otherwise) must give counts
    # with mean n p and variance n p (1 - p), as drawing n images with replacement does
    p = np.array([0.5, 0.3, 0.15, 0.05])
    counts = np.round(p * n).astype(np.int64)
    counts[0] += n - counts.sum()
    p = counts / n
    reps = B.resample_counts(counts, 20000, _rng("moments", n))
    assert reps.shape == (20000, 4) and (reps.sum(1) == n).all()
    np.testing.assert_allclose(reps.mean(0), n * p, rtol=0.02, atol=0.05)
    np.testing.assert_allclose(reps.var(0), n * p * (1 - p), rtol=0.06)
    cov = np.cov(reps[:, 0], reps[:, 1])[0, 1]
    assert cov == pytest.approx(-n * p[0] * p[1], rel=0.1)


def test_resampled_counts_keep_the_table_shape_and_empty_cells():
    cm = np.zeros((3, K, K), dtype=np.int64)
    cm[0, 1, 1], cm[2, 3, 4] = 7, 5
    reps = B.resample_counts(cm, 50, _rng("shape"))
    assert reps.shape == (50, 3, K, K)
    assert (reps.sum((1, 2, 3)) == 12).all()
    assert (reps[:, 1] == 0).all() and reps[:, 2, 3, 4].sum() > 0


def _coverage_of_accuracy(sims: int, n: int, accuracy: float) -> float:
    rng = _rng("coverage-accuracy")
    hits = 0
    for i in range(sims):
        y = rng.integers(0, K, n)
        right = rng.random(n) < accuracy
        pred = np.where(right, y, (y + rng.integers(1, K, n)) % K)
        cm = M.confusion_matrix(y, pred, K)
        point = M.confusion_metrics(cm)["attribution_accuracy"]
        reps = M.confusion_metrics(B.resample_counts(cm, 1000, B.generator(i, "x")))["attribution_accuracy"]
        low, high = B.interval(reps, 0.95, point)
        hits += low <= accuracy <= high
    return hits / sims


def test_accuracy_intervals_cover_the_true_accuracy_95_percent_of_the_time():
    # 400 simulated test sets of 500 images with a true accuracy of 0.7: a correct 95%
    # interval covers it in ~95% of them (binomial sd 1.1%); a 90% or a 99% one would not
    coverage = _coverage_of_accuracy(400, 500, 0.7)
    assert 0.925 <= coverage <= 0.975, coverage


def test_auc_intervals_cover_the_true_auc():
    # binormal scores: AUC = Phi(d / sqrt(2)); 200 simulated sets of 600 images
    d = 1.0
    true_auc = NormalDist().cdf(d / math.sqrt(2))
    rng = _rng("coverage-auc")
    hits = 0
    for i in range(200):
        pos = rng.random(600) < 0.4
        s = rng.normal(size=600) + d * pos
        neg_s, pos_s = M.sorted_classes(s, pos)
        point = M.auc_sorted(neg_s, pos_s)
        reps = B.auc_replicates(neg_s, pos_s, point, 1000, B.generator(i, "auc"))
        low, high = B.interval(reps, 0.95, point)
        hits += low <= true_auc <= high
    assert 0.9 <= hits / 200 <= 0.99, hits / 200


def test_binned_auc_bootstrap_matches_the_bootstrap_over_images():
    rng = _rng("binned-auc")
    n = 8000
    pos = rng.random(n) < 0.3
    s = rng.normal(size=n) + 1.2 * pos
    point = M.auc(s, pos)
    exact = []
    for _ in range(600):
        i = rng.integers(0, n, n)
        exact.append(M.auc(s[i], pos[i]))
    neg_s, pos_s = M.sorted_classes(s, pos)
    binned = B.auc_replicates(neg_s, pos_s, point, 2000, B.generator(1, "auc"))
    assert np.std(binned) == pytest.approx(np.std(exact), rel=0.12)
    assert np.mean(binned) == pytest.approx(np.mean(exact), abs=0.002)


def test_binned_auc_bootstrap_is_exact_with_few_distinct_scores():
    # with fewer distinct scores than bins every bin holds one score: the binned AUC of a
    # resample is its exact AUC, so the replicates never stray from the exact values' range
    rng = _rng("few-distinct")
    s = rng.integers(0, 5, 300).astype(float)
    pos = rng.random(300) < 0.5
    neg_s, pos_s = M.sorted_classes(s, pos)
    point = M.auc_sorted(neg_s, pos_s)
    edges = B._edges([neg_s, pos_s], B.AUC_BINS)
    hist = np.stack([B._histogram(neg_s, edges), B._histogram(pos_s, edges)])
    assert B._hist_auc(hist) == pytest.approx(point, abs=1e-12)


def test_mean_bootstrap_matches_the_bootstrap_over_images():
    rng = _rng("mean")
    values = -np.log(np.clip(rng.beta(0.6, 2.0, 6000), 1e-12, 1))  # heavy right tail
    exact = [values[rng.integers(0, 6000, 6000)].mean() for _ in range(800)]
    binned = B.mean_replicates(values, 2000, B.generator(2, "mean"))
    assert np.std(binned) == pytest.approx(np.std(exact), rel=0.12)
    assert np.mean(binned) == pytest.approx(values.mean(), abs=0.2 * np.std(exact))


def test_same_seed_same_intervals_other_seed_other_intervals():
    cm = M.confusion_matrix(np.arange(200) % K, (np.arange(200) * 3) % K, K)
    a = B.resample_counts(cm, 100, B.generator(88, "confusion/x"))
    b = B.resample_counts(cm, 100, B.generator(88, "confusion/x"))
    c = B.resample_counts(cm, 100, B.generator(89, "confusion/x"))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_bias_corrected_interval_follows_a_biased_bootstrap():
    # replicates centred above the estimate (as NMI's are): the BC interval moves down
    rng = _rng("bc")
    reps = rng.normal(0.55, 0.02, 5000)
    plain = B.interval(reps, 0.95)
    corrected = B.interval(reps, 0.95, 0.5)
    assert corrected[0] < plain[0] and corrected[1] < plain[1]
    centred = B.interval(reps, 0.95, 0.55)
    assert centred[0] == pytest.approx(plain[0], abs=0.003)


def test_interval_ignores_undefined_replicates():
    reps = np.array([[np.nan, 1.0], [np.nan, 2.0], [np.nan, 3.0]])
    low, high = B.interval(reps, 0.5)
    assert math.isnan(low[0]) and math.isnan(high[0])
    assert 1.0 <= low[1] <= high[1] <= 3.0


@pytest.mark.parametrize("b,c", [(0, 0), (5, 5), (3, 12), (40, 25), (0, 9), (1000, 1100), (20000, 20391)])
def test_mcnemar_equals_the_exact_binomial_test(b, c):
    from scipy.stats import binom, binomtest

    p, mid = B.mcnemar(b, c)
    n, k = b + c, min(b, c)
    expected = binomtest(k, n, 0.5).pvalue if n else 1.0
    assert p == pytest.approx(expected, rel=1e-9, abs=1e-300)
    if n:
        expected_mid = min(1.0, 2 * binom.cdf(k, n, 0.5) - binom.pmf(k, n, 0.5))
        assert mid == pytest.approx(expected_mid, rel=1e-9, abs=1e-300)
        assert mid <= p


def test_delong_detects_a_better_score_and_not_an_equal_one():
    rng = _rng("delong")
    n = 3000
    pos = rng.random(n) < 0.5
    signal = rng.normal(size=n) + pos
    good = signal + 0.3 * rng.normal(size=n)
    bad = signal + 1.5 * rng.normal(size=n)
    r = B.delong(good, bad, pos)
    assert r["difference"] == pytest.approx(M.auc(good, pos) - M.auc(bad, pos), abs=1e-12)
    assert r["p_value"] < 1e-6 and r["low"] > 0
    same = B.delong(good, good.copy(), pos)
    assert same["difference"] == 0 and same["p_value"] == 1.0


def test_delong_variance_agrees_with_a_paired_bootstrap():
    rng = _rng("delong-bootstrap")
    n = 2000
    pos = rng.random(n) < 0.4
    a = rng.normal(size=n) + 1.0 * pos
    b = a + rng.normal(size=n)
    r = B.delong(a, b, pos)
    diffs = []
    for _ in range(500):
        i = rng.integers(0, n, n)
        diffs.append(M.auc(a[i], pos[i]) - M.auc(b[i], pos[i]))
    z = NormalDist().inv_cdf(0.975)
    assert (r["high"] - r["low"]) / (2 * z) == pytest.approx(np.std(diffs), rel=0.15)


def test_bootstrap_p_value():
    rng = _rng("pvalue")
    assert B.bootstrap_p_value(rng.normal(0.0, 1.0, 1000), 0.0) == 1.0
    assert B.bootstrap_p_value(rng.normal(5.0, 1.0, 1000), 5.0) < 0.01
