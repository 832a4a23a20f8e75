"""Data cleaning (RepMix supplement 1.2): of a cell's candidates, keep those that look most
like a real image, so that artifacts go, while clustering keeps the diversity.

Input: LPIPS feature vectors (`attribution88.builders.lpips_features`), for which the squared
Euclidean distance *is* the LPIPS distance. Steps, for one cell of Nc candidates:

1. Shortlist the ``k`` nearest reals of every candidate with faiss and re-rank them with exact
   LPIPS (`attribution88.builders.shortlist`: exact search, or PCA + residual norms at full
   scale). A candidate's nearest-real distance is the smallest exact distance found.
2. Cluster all candidates into ``n_keep`` clusters in PCA space: k-means++ seeding, then faiss
   k-means, both seeded.
3. Reject the ``reject_fraction`` of the candidates farthest from any real (default 1/3).
4. From each cluster keep its member nearest a real, unless that member is rejected: then no
   member of the cluster looks like a real image (an artifact mode) and the cluster is
   dropped. The places freed go to the remaining candidates nearest a real (never a rejected
   one).

The supplement's wording (cleaning exists "to remove images with artifacts without reducing
the level of diversity": keep the images perceptually closest, by LPIPS, to a real image, and
keep diversity through clustering) leaves open how closeness and clustering combine. Read literally as "one image per cluster, the closest", it
does the opposite of its purpose: with n_keep clusters for 3 n_keep candidates, k-means makes
many clusters of one, and those are the outliers, so every broken candidate far from the rest
is kept. We read it as: closeness to a real is the quality test, applied both within a
cluster (its representative) and across clusters (a cluster with no candidate near a real is
not a mode of the real images); clustering supplies the diversity. The reject threshold, the
farthest third, follows from the 3x oversampling: cleaning exists to discard two thirds.

Chosen from measurements (``python benchmarks/bench_clean.py --compare-only``: 2,000
candidates x 2,000 reals, 128 px, a fifth "broken" by blotches, untrained LPIPS backbone;
667 kept). Nearest-real LPIPS mean / 90th percentile / share of the worst third / share
broken / mean pairwise LPIPS / clusters covered of 667:

    random selection                 0.079 / 0.131 / 33.6% / 21.9% / 0.221 / 344
    Yu et al. (667 closest)          0.033 / 0.054 /  0.0% /  2.2% / 0.247 / 193
    one per cluster (literal, F = 0) 0.089 / 0.150 / 41.8% / 38.7% / 0.228 / 667
    cluster, reject F = 1/3 (ours)   0.042 / 0.084 /  0.0% /  5.2% / 0.239 / 388
    cluster, reject F = 1/2          0.036 / 0.065 /  0.0% /  2.4% / 0.245 / 301

Rejecting first and clustering the rest, the other reading (the previous code's
``reject_fraction``; same data, measured once with its own k-means seed): 0.063 / 0.093 /
0.0% / 13.8% / 0.230 / 384 of 666 -- worse on every figure, because the mid-distance outliers
left become clusters of one. F = 1/2 trades a third of the clusters for a little quality.

Ours covers more of the candidates' clusters than random selection (Yu's N
closest cover half as many) and keeps random selection's diversity. ``reject_fraction=0``
gives the literal reading. On the mini build (77 stand-in cells of 36-126 candidates, summary
table of its card): ours keeps 0.0% of the worst third (random 32.5%), mean pairwise LPIPS
0.146 against random's 0.157 (0.93x; Yu 0.133, 0.85x), 1,662 of 2,184 clusters covered
(random 1,318, Yu 1,010). Mean pairwise LPIPS counts artifacts as diversity: in 15 of the
77 cells, most of them StyleGAN3 stand-ins whose spread is a few far-off candidates, ours is
below 0.9x random's (lowest 0.27x). The comparison with random selection and Yu's
selection is computed for every cell (`attribution88.builders.clean_stats`) and shown in the
dataset card.

Everything is a pure function of the inputs and ``seed``: same kept indices in any process.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from attribution88.errors import UsageError

from .clean_stats import CleaningStats, cleaning_table, log_summary, measure_selection, worst_third
from .shortlist import (
    check_features,
    exact_pair_distances,
    mean_pairwise_distance,
    nearest_reals,
    resolve_mode,
    shortlist,
)
from .threads import DEFAULT_THREADS, thread_limit

__all__ = [
    "DEFAULT_REJECT_FRACTION", "METHOD", "CleaningResult", "CleaningStats", "clean",
    "cleaning_table", "exact_pair_distances", "log_summary", "mean_pairwise_distance",
    "random_selection", "shortlist", "yu_selection",
]

#: Share of the candidates, farthest from any real, that are never kept (module docstring).
DEFAULT_REJECT_FRACTION = 1 / 3

#: The method in a paragraph, for the dataset card.
METHOD = (
    "Each cell's candidates (3x oversampled) are clustered with k-means into as many clusters "
    "as images wanted, on LPIPS features. From each cluster the candidate nearest a real image "
    "(LPIPS) is kept, unless it is among the third of the candidates farthest from any real: "
    "then the cluster holds no image that looks real and is dropped, and its place goes to the "
    "next candidate nearest a real. We read the supplement's cleaning (keep the images closest "
    "to a real, keep diversity by clustering) this way because one image per cluster alone "
    "keeps every outlying candidate, each its own cluster. The tables compare the kept set "
    "with random selection (diversity, no cleaning) and Yu et al.'s N closest (quality, no "
    "diversity) on the same candidates. The worst third: the candidates farthest from any "
    "real (random selection keeps ~33% of them). Clusters: the k-means clusters of all "
    "candidates.")


@dataclass(frozen=True)
class CleaningResult:
    """``kept``: int64 indices into the candidates, ascending. Per candidate (length
    n_candidates): ``nearest_real`` (index into the reals), ``nearest_distance`` (its LPIPS,
    float64), ``cluster`` (k-means label). ``yu`` and ``random``: the baselines' selections of
    as many candidates, ascending."""

    kept: np.ndarray
    yu: np.ndarray
    random: np.ndarray
    nearest_real: np.ndarray
    nearest_distance: np.ndarray
    cluster: np.ndarray
    stats: CleaningStats

    def selections(self) -> dict[str, np.ndarray]:
        """Name (as in `attribution88.builders.clean_stats.SELECTIONS`) -> indices."""
        return {"ours": self.kept, "random": self.random, "yu": self.yu}


# -- the pipeline's entry point -------------------------------------------------------------
def clean(candidate_features: np.ndarray, real_features: np.ndarray, n_keep: int, *,
          seed: int, k: int = 10, shortlist_mode: str = "auto", pca_dim: int = 256,
          pca_samples: int = 2048, kmeans_iters: int = 20,
          reject_fraction: float = DEFAULT_REJECT_FRACTION,
          threads: int | None = DEFAULT_THREADS) -> CleaningResult:
    """Select ``n_keep`` of the candidates (module docstring), and measure the selection
    against random selection and Yu et al.'s on the same candidates (``stats``).

    ``candidate_features``: (Nc, D), ``real_features``: (Nr, D), LPIPS feature vectors
    (float32 or float16, arrays, memmaps or anything sliced like them). ``seed``: e.g.
    ``derive_seed("cleaning", cell.name)``. ``k``: shortlist size; ``shortlist_mode``: "auto",
    "exact" or "pca" (`attribution88.builders.shortlist`); ``pca_dim``, ``pca_samples``: the
    PCA for the shortlist at scale and for k-means; ``kmeans_iters``: Lloyd iterations.
    ``reject_fraction``: the share of candidates farthest from a real never kept (capped so
    that ``n_keep`` remain; 0: one per cluster, the literal reading). ``threads``: BLAS and
    OpenMP (faiss) threads during the call, restored after; None leaves the process's
    settings (see `DEFAULT_THREADS`).
    """
    check_features(candidate_features, real_features)
    nc, nr = len(candidate_features), len(real_features)
    if not isinstance(n_keep, (int, np.integer)) or not 1 <= n_keep <= nc:
        raise UsageError(f"cannot keep {n_keep} of {nc} candidates (need 1 <= n_keep <= {nc})")
    if k < 1:
        raise UsageError(f"shortlist size k must be >= 1, got {k}")
    if not 0.0 <= reject_fraction < 1.0:
        raise UsageError(f"reject_fraction must be in [0, 1), got {reject_fraction}")
    n_reject = min(int(math.floor(reject_fraction * nc)), nc - int(n_keep))
    k = min(k, nr)
    with thread_limit(threads):
        return _clean(candidate_features, real_features, int(n_keep), seed=seed, k=k,
                      mode=resolve_mode(shortlist_mode, nc, nr, candidate_features.shape[1]),
                      pca_dim=pca_dim, pca_samples=pca_samples, kmeans_iters=kmeans_iters,
                      n_reject=n_reject, reject_fraction=float(reject_fraction))


def _clean(c: np.ndarray, r: np.ndarray, n_keep: int, *, seed: int, k: int, mode: str,
           pca_dim: int, pca_samples: int, kmeans_iters: int, n_reject: int,
           reject_fraction: float) -> CleaningResult:
    found = nearest_reals(c, r, k, mode=mode, seed=seed, pca_dim=pca_dim, pca_samples=pca_samples)
    nearest_real, nearest = found.ids[:, 0], found.distances[:, 0]
    nc = len(c)
    rejected = np.zeros(nc, bool)
    rejected[np.lexsort((np.arange(nc), nearest))[nc - n_reject:]] = True
    labels = _kmeans(found.coords, n_keep, seed, kmeans_iters)
    kept, dropped, topped_up = _select(labels, nearest, rejected, n_keep)
    yu = yu_selection(nearest, n_keep)
    rand = random_selection(nc, n_keep, seed)
    stats = _stats(nc, len(r), k, found.method, found.diversity, nearest, labels,
                   {"ours": kept, "random": rand, "yu": yu}, reject_fraction, n_reject,
                   dropped, topped_up)
    return CleaningResult(kept, yu, rand, nearest_real, nearest, labels, stats)


def yu_selection(nearest_distance: np.ndarray, n_keep: int) -> np.ndarray:
    """Yu et al.'s cleaning: the ``n_keep`` candidates nearest a real (ties: lowest index),
    as ascending int64 indices. ``nearest_distance``: (Nc,) nearest-real LPIPS."""
    d = np.asarray(nearest_distance)
    if not 0 <= n_keep <= len(d):
        raise UsageError(f"cannot keep {n_keep} of {len(d)} candidates")
    order = np.lexsort((np.arange(len(d)), d))
    return np.sort(order[:n_keep]).astype(np.int64)


def random_selection(n_candidates: int, n_keep: int, seed: int) -> np.ndarray:
    """``n_keep`` of ``n_candidates`` uniformly at random (a local generator from ``seed``),
    ascending int64: the no-cleaning baseline."""
    if not 0 <= n_keep <= n_candidates:
        raise UsageError(f"cannot keep {n_keep} of {n_candidates} candidates")
    rng = np.random.default_rng([int(seed) % 2**63, 0x4A4D])
    return np.sort(rng.choice(n_candidates, n_keep, replace=False)).astype(np.int64)


def _kmeans(x: np.ndarray, n_clusters: int, seed: int, iters: int) -> np.ndarray:
    """k-means labels (Nc,) int64: k-means++ seeding (scikit-learn, local RandomState), then
    Lloyd iterations with faiss. Random seeding alone (faiss's default) often merges two
    well-separated groups and splits another; k-means++ spreads the seeds. Every point is its
    own cluster when n_clusters == Nc."""
    import faiss
    from sklearn.cluster import kmeans_plusplus

    n = len(x)
    if n_clusters >= n:
        return np.arange(n, dtype=np.int64)
    if n_clusters == 1:
        return np.zeros(n, np.int64)
    x = np.ascontiguousarray(x, np.float32)
    init, _ = kmeans_plusplus(x, n_clusters, random_state=int(seed % 2**32))
    km = faiss.Kmeans(x.shape[1], n_clusters, niter=iters, seed=int(seed % (2**31 - 1)),
                      min_points_per_centroid=1, max_points_per_centroid=1 << 30,
                      verbose=False)
    km.train(x, init_centroids=np.ascontiguousarray(init, np.float32))
    _, labels = km.index.search(x, 1)
    return labels[:, 0].astype(np.int64)


def _select(labels: np.ndarray, nearest: np.ndarray, rejected: np.ndarray,
            n_keep: int) -> tuple[np.ndarray, int, int]:
    """Each cluster's member nearest a real (ties: lowest index) unless it is rejected (the
    cluster is dropped), topped up with the remaining non-rejected candidates nearest a
    real. Returns (kept ascending, clusters dropped, topped-up count)."""
    idx = np.arange(len(labels))
    order = np.lexsort((idx, nearest, labels))
    first = np.ones(len(order), bool)
    first[1:] = labels[order][1:] != labels[order][:-1]
    best = order[first]
    chosen = best[~rejected[best]]
    dropped = len(best) - len(chosen)
    if len(chosen) > n_keep:  # cannot happen with n_keep clusters; keep the guarantee anyway
        chosen = chosen[np.lexsort((chosen, nearest[chosen]))[:n_keep]]
    topped = n_keep - len(chosen)
    if topped:
        rest = np.setdiff1d(idx[~rejected], chosen)
        rest = rest[np.lexsort((rest, nearest[rest]))[:topped]]
        chosen = np.concatenate([chosen, rest])
    return np.sort(chosen).astype(np.int64), int(dropped), int(topped)


def _stats(nc: int, nr: int, k: int, label: str, diversity, nearest: np.ndarray,
           labels: np.ndarray, selections: dict[str, np.ndarray], reject_fraction: float,
           rejected: int, dropped: int, topped_up: int) -> CleaningStats:
    n_keep = len(selections["ours"])
    n_clusters = int(min(n_keep, nc))
    sizes = np.bincount(labels, minlength=n_clusters)
    worst = worst_third(nearest)
    measure = lambda rows: measure_selection(rows, nearest, worst, labels, diversity)  # noqa: E731
    return CleaningStats(
        n_candidates=nc, n_reals=nr, n_kept=n_keep, k=k, shortlist=label,
        reject_fraction=reject_fraction, rejected=rejected,
        clusters=n_clusters, empty_clusters=int((sizes == 0).sum()),
        cluster_size_min=int(sizes.min()), cluster_size_median=float(np.median(sizes)),
        cluster_size_max=int(sizes.max()), singleton_clusters=int((sizes == 1).sum()),
        dropped_clusters=dropped, topped_up=topped_up,
        candidates=measure(None), **{name: measure(rows) for name, rows in selections.items()},
        overlap_ours_yu=int(len(np.intersect1d(selections["ours"], selections["yu"]))),
    )
