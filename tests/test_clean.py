"""Cleaning: exact LPIPS re-rank of a faiss shortlist, one kept candidate per k-means cluster
(the one nearest a real), Yu et al.'s baseline, statistics, and determinism."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from attribution88.builders.clean import (
    CleaningStats,
    _select,
    clean,
    cleaning_table,
    exact_pair_distances,
    log_summary,
    mean_pairwise_distance,
    shortlist,
    yu_selection,
)
from attribution88.errors import UsageError


def _brute(c, r):
    """All-pairs squared distances, float64 (Nc, Nr)."""
    c, r = c.astype(np.float64), r.astype(np.float64)
    return np.maximum((c * c).sum(1)[:, None] + (r * r).sum(1)[None, :] - 2 * c @ r.T, 0)


def _structured(n_c, n_r, dim, seed, rank=20, noise=(0.3, 0.3)):
    """Vectors on a low-rank subspace plus isotropic noise of a per-vector level drawn in
    ``noise`` (like image features: content plus artifacts): float32 (n_c, dim), (n_r, dim)."""
    rng = np.random.default_rng(seed)
    basis = rng.standard_normal((rank, dim)) / math.sqrt(dim)

    def make(n):
        level = rng.uniform(*noise, (n, 1))
        return (rng.standard_normal((n, rank)) @ basis
                + level * rng.standard_normal((n, dim)) / math.sqrt(dim)).astype(np.float32)

    return make(n_c), make(n_r)


def test_exact_shortlist_is_the_true_nearest_with_exact_distances():
    c, r = _structured(60, 40, 300, 1)
    ids, d = shortlist(c, r, 5, mode="exact")
    brute = _brute(c, r)
    assert ids.shape == (60, 5) and (ids[:, 0] == brute.argmin(1)).all()
    np.testing.assert_allclose(d, np.take_along_axis(brute, ids, 1), rtol=1e-6)
    assert (np.diff(d, axis=1) >= 0).all()
    np.testing.assert_array_equal(np.sort(ids, 1), np.sort(np.argsort(brute, 1)[:, :5], 1))


def test_pca_shortlist_is_lossless_when_the_sample_holds_every_vector():
    c, r = _structured(50, 30, 400, 2)
    ids_pca, d_pca = shortlist(c, r, 4, mode="pca", pca_samples=80, pca_dim=200)
    ids_exact, d_exact = shortlist(c, r, 4, mode="exact")
    np.testing.assert_array_equal(ids_pca, ids_exact)
    np.testing.assert_allclose(d_pca, d_exact)


def test_pca_shortlist_recall_needs_the_residual_norms():
    # PCA fitted on 150 of 1,200 vectors, 32 dims: lossy. Vectors carry noise of unequal
    # levels, which the PCA leaves in the residual: ranking by PCA distance alone misses the
    # true nearest real often; with the residual norms it (almost) never does.
    from attribution88.builders.shortlist import Reducer, faiss_knn

    c, r = _structured(600, 600, 2000, 3, rank=20, noise=(2.0, 8.0))
    nearest = _brute(c, r).argmin(1)[:, None]
    ids, _ = shortlist(c, r, 10, mode="pca", pca_samples=150, pca_dim=32, seed=5)
    assert (ids == nearest).any(1).mean() >= 0.98
    reducer = Reducer.fit(c, r, 32, 150, 5)
    plain = faiss_knn(reducer.transform(c)[0], reducer.transform(r)[0], 10)
    assert (plain == nearest).any(1).mean() < 0.95


def test_exact_pair_distances_and_mean_pairwise_match_brute_force(tmp_path):
    c, r = _structured(30, 20, 100, 4)
    pairs = np.random.default_rng(0).integers(0, 20, (30, 3))
    np.testing.assert_allclose(exact_pair_distances(c, r, pairs),
                               np.take_along_axis(_brute(c, r), pairs, 1), rtol=1e-6)
    rows = np.array([3, 7, 1, 22, 9])
    brute = _brute(c[rows], c[rows])
    assert mean_pairwise_distance(c, rows) == pytest.approx(brute[np.triu_indices(5, 1)].mean(), rel=1e-9)
    assert math.isnan(mean_pairwise_distance(c, [4]))
    mm = np.lib.format.open_memmap(tmp_path / "c.npy", mode="w+", dtype=np.float16, shape=c.shape)
    mm[:] = c
    assert mean_pairwise_distance(mm) == pytest.approx(mean_pairwise_distance(c), rel=1e-2)


def _clusters_with_designated_members(seed, n_clusters=6, per=7, dim=64):
    """Well separated clusters of candidates; for each, one designated member has a real right
    next to it and every other real is far. Returns candidates, reals, designated indices."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_clusters, dim)) * 10
    cand = np.concatenate([ctr + rng.standard_normal((per, dim)) * 0.5 for ctr in centres])
    designated = np.array([i * per + int(rng.integers(per)) for i in range(n_clusters)])
    reals = cand[designated] + rng.standard_normal((n_clusters, dim)) * 0.05
    far = rng.standard_normal((10, dim)) * 10 + 100
    return cand.astype(np.float32), np.concatenate([reals, far]).astype(np.float32), designated


def test_keeps_one_per_cluster_the_candidate_nearest_a_real():
    cand, reals, designated = _clusters_with_designated_members(7)
    res = clean(cand, reals, 6, seed=11, k=3)
    np.testing.assert_array_equal(res.kept, np.sort(designated))
    groups = np.arange(len(cand)) // 7
    assert len(np.unique(res.cluster)) == 6
    assert all(len(np.unique(res.cluster[groups == g])) == 1 for g in range(6))
    s = res.stats
    assert (s.clusters, s.clusters_covered_ours, s.empty_clusters, s.topped_up) == (6, 6, 0, 0)
    assert s.cluster_size_min == s.cluster_size_max == 7
    assert s.nearest_real_ours < s.nearest_real_all


def test_ours_keeps_diversity_where_yu_keeps_near_duplicates():
    rng = np.random.default_rng(3)
    dim = 32
    real = rng.standard_normal(dim) * 10
    dupes = real + rng.standard_normal((12, dim)) * 0.05  # 12 near-duplicates of one real
    others = np.concatenate([c + rng.standard_normal((6, dim)) * 0.5
                             for c in rng.standard_normal((5, dim)) * 10])
    cand = np.concatenate([dupes, others]).astype(np.float32)
    res = clean(cand, real[None].astype(np.float32), 6, seed=2)
    s = res.stats
    np.testing.assert_array_equal(res.yu, yu_selection(res.nearest_distance, 6))
    assert set(res.yu) <= set(range(12)) and s.clusters_covered_yu == 1
    assert s.clusters_covered_ours == 6
    assert s.diversity_ours > 50 * s.diversity_yu
    assert s.nearest_real_yu < s.nearest_real_ours


def test_kmeans_leaving_clusters_empty_is_topped_up_by_distance():
    labels = np.array([0, 0, 0, 2, 2, 2])  # cluster 1 empty
    nearest = np.array([0.5, 0.2, 0.9, 0.3, 0.1, 0.4])
    kept, topped = _select(labels, nearest, 3)
    assert topped == 1 and kept.tolist() == [1, 3, 4]  # 1 and 4 per cluster, then 3 (0.3)


def test_ties_go_to_the_lowest_index():
    assert yu_selection(np.array([0.1, 0.0, 0.1, 0.0]), 3).tolist() == [0, 1, 3]
    kept, _ = _select(np.zeros(4, np.int64), np.array([0.3, 0.1, 0.1, 0.2]), 1)
    assert kept.tolist() == [1]


_SCRIPT = """
import json, sys, numpy as np
sys.path.insert(0, {tests!r})
from test_clean import _structured
from attribution88.builders.clean import clean
c, r = _structured(300, 120, 500, 9)
res = clean(c, r, 100, seed=1234, k=10, shortlist_mode={mode!r}, pca_samples=200, pca_dim=24,
            threads={threads})
print(json.dumps([res.kept.tolist(), res.stats.to_dict()]))
"""


@pytest.mark.parametrize("mode", ["exact", "pca"])
def test_same_selection_in_another_process_and_any_call_order(mode):
    from pathlib import Path

    c, r = _structured(300, 120, 500, 9)
    other_c, other_r = _structured(90, 50, 500, 10)
    clean(other_c, other_r, 30, seed=1, shortlist_mode=mode)  # an unrelated cell first
    here = clean(c, r, 100, seed=1234, k=10, shortlist_mode=mode, pca_samples=200, pca_dim=24)
    for hash_seed, threads in enumerate((1, 2, None)):  # None: pools as the environment sets them
        script = _SCRIPT.format(tests=str(Path(__file__).parent), mode=mode, threads=threads)
        env = {"OMP_NUM_THREADS": "2", "PYTHONHASHSEED": str(hash_seed), "PATH": "/usr/bin:/bin"}
        out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                             env=env, check=True).stdout
        kept, stats = json.loads(out)
        assert kept == here.kept.tolist()
        assert stats == json.loads(json.dumps(here.stats.to_dict()))


def test_seed_is_what_varies_kmeans():
    c, r = _structured(200, 60, 100, 12)
    a = clean(c, r, 50, seed=1)
    assert np.array_equal(a.kept, clean(c, r, 50, seed=1).kept)
    assert not np.array_equal(a.cluster, clean(c, r, 50, seed=2).cluster)


def test_keeping_everything_or_one():
    c, r = _structured(20, 5, 50, 13)
    every = clean(c, r, 20, seed=0)
    assert every.kept.tolist() == list(range(20)) and every.stats.clusters_covered_ours == 20
    one = clean(c, r, 1, seed=0)
    assert one.kept.tolist() == [int(np.argmin(one.nearest_distance))]
    assert math.isnan(one.stats.diversity_ours) and one.stats.to_dict()["diversity_ours"] is None


def test_float16_memmaps_are_accepted(tmp_path):
    c, r = _structured(80, 30, 200, 14)
    mc = np.lib.format.open_memmap(tmp_path / "c.npy", mode="w+", dtype=np.float16, shape=c.shape)
    mr = np.lib.format.open_memmap(tmp_path / "r.npy", mode="w+", dtype=np.float16, shape=r.shape)
    mc[:], mr[:] = c, r
    res = clean(mc, mr, 20, seed=3)
    assert len(res.kept) == 20 and res.stats.n_candidates == 80


@pytest.mark.parametrize("call,match", [
    (lambda c, r: clean(c, r, 0, seed=0), "cannot keep 0"),
    (lambda c, r: clean(c, r, 41, seed=0), "cannot keep 41 of 40"),
    (lambda c, r: clean(c, r[:, :10], 5, seed=0), "same LPIPS network"),
    (lambda c, r: clean(c, r[:0], 5, seed=0), "no real features"),
    (lambda c, r: clean(c.astype(np.int32), r, 5, seed=0), "float array"),
    (lambda c, r: clean(c, r, 5, seed=0, k=0), "k must be"),
    (lambda c, r: clean(c, r, 5, seed=0, shortlist_mode="ivf"), "unknown shortlist mode"),
])
def test_bad_arguments_are_one_line_usage_errors(call, match):
    c, r = _structured(40, 10, 20, 15)
    with pytest.raises(UsageError, match=match):
        call(c, r)


def test_stats_round_trip_table_and_log_line():
    c, r = _structured(60, 20, 40, 16)
    s = clean(c, r, 20, seed=4).stats
    assert CleaningStats.from_dict(json.loads(json.dumps(s.to_dict()))) == s
    with pytest.raises(UsageError, match="version"):
        CleaningStats.from_dict({**s.to_dict(), "version": 99})
    table = cleaning_table({"stylegan2-cat": s, "progan-bedroom": s.to_dict()})
    lines = table.strip().splitlines()
    assert len(lines) == 4 and lines[2].startswith("| progan-bedroom | 60 | 20 | 20 |")
    assert lines[2].endswith(f"| {s.singleton_clusters} |") and lines[0].count("|") == lines[1].count("|")
    assert f"{s.diversity_yu:.4f}" in lines[3]
    line = log_summary("progan-bedroom", s)
    assert "\n" not in line and "kept 20/60" in line and f"{s.nearest_real_ours:.4f}" in line


def test_images_end_to_end_with_the_untrained_backbone(monkeypatch, tmp_path):
    """Real LPIPS features of small images: a candidate identical to a real is kept and has
    distance 0; noisy copies are farther than clean ones."""
    from attribution88.builders.lpips_features import LpipsFeatures
    from attribution88.constants import LPIPS_BACKBONE_ENV

    monkeypatch.delenv(LPIPS_BACKBONE_ENV, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    rng = np.random.default_rng(0)
    low = rng.uniform(0, 255, (8, 8, 8, 3))
    reals = np.repeat(np.repeat(low, 8, 1), 8, 2).astype(np.uint8)  # 8 blocky 64 px images
    noisy = np.clip(reals.astype(int) + rng.normal(0, 40, reals.shape), 0, 255).astype(np.uint8)
    cand = np.concatenate([reals[:4], noisy])  # 4 exact copies, 8 noisy copies
    feats = LpipsFeatures.create("alex", allow_untrained=True)
    res = clean(feats.features(cand), feats.features(reals), 4, seed=7)
    assert (res.nearest_distance[:4] == 0).all() and res.nearest_real[:4].tolist() == [0, 1, 2, 3]
    assert res.nearest_distance[4:].min() > 0
    assert res.stats.nearest_real_yu == 0.0


def test_thread_limit_applies_inside_and_restores_after():
    import faiss
    from threadpoolctl import threadpool_info

    from attribution88.builders.threads import thread_limit

    before = faiss.omp_get_max_threads()
    with thread_limit(1):
        assert faiss.omp_get_max_threads() == 1
        assert all(p["num_threads"] == 1 for p in threadpool_info())
    assert faiss.omp_get_max_threads() == before
    with pytest.raises(UsageError, match="threads"):
        with thread_limit(0):
            pass


def test_passive_omp_wait_respects_the_user_and_says_if_too_late(monkeypatch):
    from attribution88.builders.threads import passive_omp_wait

    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    passive_omp_wait()
    assert os.environ["OMP_WAIT_POLICY"] == "ACTIVE"
    monkeypatch.delenv("OMP_WAIT_POLICY")
    import faiss  # noqa: F401  already loaded: too late for this process

    assert passive_omp_wait() is False and os.environ["OMP_WAIT_POLICY"] == "PASSIVE"
    out = subprocess.run([sys.executable, "-c", "from attribution88.builders.threads import "
                          "passive_omp_wait as p; import os; print(p(), os.environ['OMP_WAIT_POLICY'])"],
                         capture_output=True, text=True, check=True,
                         env={"PATH": "/usr/bin:/bin"}).stdout.split()
    assert out == ["True", "PASSIVE"]


def test_reject_fraction_drops_the_farthest_before_clustering():
    # Two well-separated groups; in group B every candidate is far from the only real. With
    # no rejection each group gets clusters (B's members are kept); rejecting the farthest
    # third removes B before clustering.
    rng = np.random.default_rng(8)
    dim = 16
    real = rng.standard_normal(dim)
    near = real + rng.standard_normal((20, dim)) * 0.3
    far = real + 50 + rng.standard_normal((10, dim)) * 0.3
    cand = np.concatenate([near, far]).astype(np.float32)
    plain = clean(cand, real[None].astype(np.float32), 10, seed=1)
    assert (plain.kept >= 20).any() and plain.stats.rejected == 0
    res = clean(cand, real[None].astype(np.float32), 10, seed=1, reject_fraction=1 / 3)
    assert (res.kept < 20).all() and len(res.kept) == 10
    assert res.stats.rejected == 10 and (res.cluster[20:] == -1).all()
    assert res.stats.clusters == 10 and res.stats.clusters_covered_ours == 10
    assert res.stats.nearest_real_ours < plain.stats.nearest_real_ours
    assert "10 rejected" in log_summary("x", res.stats)
    with pytest.raises(UsageError, match="after rejecting"):
        clean(cand, real[None].astype(np.float32), 25, seed=1, reject_fraction=0.5)
    with pytest.raises(UsageError, match="reject_fraction"):
        clean(cand, real[None].astype(np.float32), 5, seed=1, reject_fraction=1.0)
