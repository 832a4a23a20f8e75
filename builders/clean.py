"""Data cleaning (RepMix supplement 1.2): keep the generated candidates that look most like a
real image, one per cluster, so that cleaning drops artifacts without losing diversity.

Input: LPIPS feature vectors (`attribution88.builders.lpips_features`), for which the squared
Euclidean distance *is* the LPIPS distance. Steps, for one cell:

1. Shortlist the ``k`` nearest reals of every candidate with faiss and re-rank them with exact
   LPIPS (`attribution88.builders.shortlist`: exact search, or PCA + residual norms at full
   scale). A candidate's nearest-real distance is the smallest exact distance found.
2. Cluster the candidates into ``n_keep`` clusters in PCA space: k-means++ seeding, then faiss
   k-means, both seeded.
3. Keep, from each cluster, the member closest to a real (ties: lowest index). Should k-means
   leave a cluster empty, the remaining places go to the closest remaining candidates. A
   cluster of one candidate keeps it whatever its distance (the stats count such clusters).

With ``n_keep`` clusters for ``3 n_keep`` candidates in hundreds of dimensions, k-means makes
many clusters of one, and those are the outliers: on benchmarks/bench_clean.py's images (a
fifth of the candidates "broken" by blotches), 354 of 667 clusters held one candidate and
the kept set was 39% broken against 21% among all candidates (Yu et al.: 2%). The option
``reject_fraction`` (default 0: the paper's method) first drops that fraction of the
candidates farthest from any real, then clusters the rest; the benchmark prints its effect.

Yu et al. (ICCV 2019) keep the ``n_keep`` candidates closest to a real (`yu_selection`): the
baseline whose loss of diversity the statistics show (mean pairwise LPIPS of the selection,
clusters it covers).

Everything is a pure function of the inputs and ``seed``: same kept indices in any process.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from attribution88.errors import UsageError

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
    "CleaningResult", "CleaningStats", "clean", "cleaning_table", "exact_pair_distances",
    "log_summary", "mean_pairwise_distance", "shortlist", "yu_selection",
]

STATS_VERSION = 1


@dataclass(frozen=True)
class CleaningStats:
    """What cleaning did to one cell. Distances are LPIPS (squared feature distances).

    ``nearest_real_*``: mean over a set of candidates of their distance to the nearest real;
    ``diversity_*``: mean LPIPS over all pairs of the set (NaN for fewer than 2);
    ``all`` = every candidate, ``ours`` = kept by `clean`, ``yu`` = Yu et al.'s ``n_kept``
    closest. Clusters: k-means clusters of the candidates (not rejected), their size spread,
    and how many of them each selection touches.
    """

    n_candidates: int
    n_reals: int
    n_kept: int
    k: int
    shortlist: str  # "exact" or "pca-<dim>"
    nearest_real_all: float
    nearest_real_ours: float
    nearest_real_yu: float
    diversity_all: float
    diversity_ours: float
    diversity_yu: float
    clusters: int
    empty_clusters: int
    cluster_size_min: int
    cluster_size_median: float
    cluster_size_max: int
    singleton_clusters: int  # clusters of one candidate: kept whatever their distance to a real
    clusters_covered_ours: int
    clusters_covered_yu: int
    topped_up: int  # kept outside the one-per-cluster rule (empty clusters)
    rejected: int  # dropped before clustering (reject_fraction), farthest from a real
    overlap_ours_yu: int
    version: int = STATS_VERSION

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: NaN becomes None."""
        return {k: (None if isinstance(v, float) and math.isnan(v) else v)
                for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CleaningStats:
        if data.get("version") != STATS_VERSION:
            raise UsageError(f"cleaning stats version {data.get('version')!r} is not "
                             f"{STATS_VERSION}; rebuild the dataset card")
        names = {f.name for f in fields(cls)}
        return cls(**{k: (math.nan if v is None else v) for k, v in data.items() if k in names})


@dataclass(frozen=True)
class CleaningResult:
    """``kept``: int64 indices into the candidates, ascending. Per candidate (length
    n_candidates): ``nearest_real`` (index into the reals), ``nearest_distance`` (its LPIPS,
    float64), ``cluster`` (k-means label; -1 if rejected). ``yu``: Yu et al.'s selection,
    ascending."""

    kept: np.ndarray
    yu: np.ndarray
    nearest_real: np.ndarray
    nearest_distance: np.ndarray
    cluster: np.ndarray
    stats: CleaningStats


# -- the pipeline's entry point -------------------------------------------------------------
def clean(candidate_features: np.ndarray, real_features: np.ndarray, n_keep: int, *,
          seed: int, k: int = 10, shortlist_mode: str = "auto", pca_dim: int = 256,
          pca_samples: int = 2048, kmeans_iters: int = 20, reject_fraction: float = 0.0,
          threads: int | None = DEFAULT_THREADS) -> CleaningResult:
    """Select ``n_keep`` of the candidates: one per k-means cluster, the one nearest a real.

    ``candidate_features``: (Nc, D), ``real_features``: (Nr, D), LPIPS feature vectors
    (float32 or float16, arrays or memmaps). ``seed``: e.g. ``derive_seed("clean", cell.name)``.
    ``k``: shortlist size; ``shortlist_mode``: "auto", "exact" or "pca"
    (`attribution88.builders.shortlist`); ``pca_dim``, ``pca_samples``: the PCA for the
    shortlist at scale and for k-means; ``kmeans_iters``: Lloyd iterations.
    ``reject_fraction``: drop this fraction of the candidates, those farthest from a real,
    before clustering (0, the default, is the paper's method; see the module docstring).
    ``threads``: BLAS and OpenMP (faiss) threads during the call, restored after; None leaves
    the process's settings (see `DEFAULT_THREADS`).
    """
    check_features(candidate_features, real_features)
    nc, nr = len(candidate_features), len(real_features)
    if not isinstance(n_keep, (int, np.integer)) or not 1 <= n_keep <= nc:
        raise UsageError(f"cannot keep {n_keep} of {nc} candidates (need 1 <= n_keep <= {nc})")
    if k < 1:
        raise UsageError(f"shortlist size k must be >= 1, got {k}")
    if not 0.0 <= reject_fraction < 1.0:
        raise UsageError(f"reject_fraction must be in [0, 1), got {reject_fraction}")
    n_reject = int(math.floor(reject_fraction * nc))
    if nc - n_reject < n_keep:
        raise UsageError(f"cannot keep {n_keep} of {nc} candidates after rejecting {n_reject} "
                         f"(reject_fraction {reject_fraction})")
    k = min(k, nr)
    with thread_limit(threads):
        return _clean(candidate_features, real_features, int(n_keep), seed=seed, k=k,
                      mode=resolve_mode(shortlist_mode, nc, nr, candidate_features.shape[1]),
                      pca_dim=pca_dim, pca_samples=pca_samples, kmeans_iters=kmeans_iters,
                      n_reject=n_reject)


def _clean(c: np.ndarray, r: np.ndarray, n_keep: int, *, seed: int, k: int, mode: str,
           pca_dim: int, pca_samples: int, kmeans_iters: int, n_reject: int) -> CleaningResult:
    found = nearest_reals(c, r, k, mode=mode, seed=seed, pca_dim=pca_dim, pca_samples=pca_samples)
    nearest_real, nearest = found.ids[:, 0], found.distances[:, 0]
    nc = len(c)
    pool = np.sort(np.lexsort((np.arange(nc), nearest))[:nc - n_reject])  # all when n_reject = 0
    labels = np.full(nc, -1, np.int64)
    labels[pool] = _kmeans(found.coords[pool], n_keep, seed, kmeans_iters)
    kept, topped_up = _select(labels[pool], nearest[pool], n_keep)
    kept = pool[kept]
    yu = yu_selection(nearest, n_keep)
    stats = _stats(nc, len(r), k, found.method, found.diversity, nearest, labels, kept, yu,
                   n_keep, topped_up, n_reject)
    return CleaningResult(kept, yu, nearest_real, nearest, labels, stats)


def yu_selection(nearest_distance: np.ndarray, n_keep: int) -> np.ndarray:
    """Yu et al.'s cleaning: the ``n_keep`` candidates nearest a real (ties: lowest index),
    as ascending int64 indices. ``nearest_distance``: (Nc,) nearest-real LPIPS."""
    d = np.asarray(nearest_distance)
    if not 0 <= n_keep <= len(d):
        raise UsageError(f"cannot keep {n_keep} of {len(d)} candidates")
    order = np.lexsort((np.arange(len(d)), d))
    return np.sort(order[:n_keep]).astype(np.int64)


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


def _select(labels: np.ndarray, nearest: np.ndarray, n_keep: int) -> tuple[np.ndarray, int]:
    """One per cluster (the nearest a real; ties: lowest index), topped up from the
    remaining candidates by nearest-real distance. Returns (kept ascending, topped-up count)."""
    idx = np.arange(len(labels))
    order = np.lexsort((idx, nearest, labels))
    first = np.ones(len(order), bool)
    first[1:] = labels[order][1:] != labels[order][:-1]
    chosen = order[first]
    if len(chosen) > n_keep:  # cannot happen with n_keep clusters; keep the guarantee anyway
        chosen = chosen[np.lexsort((chosen, nearest[chosen]))[:n_keep]]
    topped = n_keep - len(chosen)
    if topped:
        rest = np.setdiff1d(idx, chosen)
        rest = rest[np.lexsort((rest, nearest[rest]))[:topped]]
        chosen = np.concatenate([chosen, rest])
    return np.sort(chosen).astype(np.int64), int(topped)


def _stats(nc: int, nr: int, k: int, label: str, diversity, nearest: np.ndarray,
           labels: np.ndarray, kept: np.ndarray, yu: np.ndarray, n_keep: int,
           topped_up: int, rejected: int) -> CleaningStats:
    n_clusters = int(min(n_keep, nc - rejected))
    sizes = np.bincount(labels[labels >= 0], minlength=n_clusters)
    covered = lambda rows: int(len(np.setdiff1d(labels[rows], [-1])))  # noqa: E731
    return CleaningStats(
        n_candidates=nc, n_reals=nr, n_kept=len(kept), k=k, shortlist=label,
        nearest_real_all=float(nearest.mean()),
        nearest_real_ours=float(nearest[kept].mean()),
        nearest_real_yu=float(nearest[yu].mean()),
        diversity_all=diversity(None),
        diversity_ours=diversity(kept),
        diversity_yu=diversity(yu),
        clusters=n_clusters, empty_clusters=int((sizes == 0).sum()),
        cluster_size_min=int(sizes.min()), cluster_size_median=float(np.median(sizes)),
        cluster_size_max=int(sizes.max()), singleton_clusters=int((sizes == 1).sum()),
        clusters_covered_ours=covered(kept), clusters_covered_yu=covered(yu),
        topped_up=topped_up, rejected=rejected, overlap_ours_yu=int(len(np.intersect1d(kept, yu))),
    )


# -- reporting --------------------------------------------------------------------------------
def _f(x: float, digits: int = 4) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def log_summary(cell: str, s: CleaningStats) -> str:
    """One line for the build log."""
    return (f"{cell}: kept {s.n_kept}/{s.n_candidates} (reals {s.n_reals}, shortlist {s.shortlist}, "
            f"k={s.k}); nearest-real LPIPS all {_f(s.nearest_real_all)} -> ours "
            f"{_f(s.nearest_real_ours)} (Yu {_f(s.nearest_real_yu)}); diversity all "
            f"{_f(s.diversity_all)}, ours {_f(s.diversity_ours)}, Yu {_f(s.diversity_yu)}; "
            f"clusters covered ours {s.clusters_covered_ours}/{s.clusters}, Yu "
            f"{s.clusters_covered_yu}/{s.clusters}; {s.singleton_clusters} clusters of one"
            + (f"; {s.rejected} rejected before clustering" if s.rejected else ""))


def cleaning_table(stats_by_cell: Mapping[str, CleaningStats | dict[str, Any]]) -> str:
    """A markdown table (one row per cell, sorted by name) for the dataset card. Values are
    `CleaningStats` or their `CleaningStats.to_dict` form (as stored in build notes)."""
    stats_by_cell = {cell: s if isinstance(s, CleaningStats) else CleaningStats.from_dict(s)
                     for cell, s in stats_by_cell.items()}
    head = ("| cell | candidates | kept | reals | nearest-real LPIPS: all | ours | Yu et al. "
            "| diversity (mean pairwise LPIPS): all | ours | Yu et al. "
            "| clusters covered: ours | Yu et al. | cluster size min / median / max "
            "| clusters of one |")
    lines = [head, "|" + "---|" * 14]
    for cell in sorted(stats_by_cell):
        s = stats_by_cell[cell]
        lines.append(
            f"| {cell} | {s.n_candidates} | {s.n_kept} | {s.n_reals} | {_f(s.nearest_real_all)} "
            f"| {_f(s.nearest_real_ours)} | {_f(s.nearest_real_yu)} | {_f(s.diversity_all)} "
            f"| {_f(s.diversity_ours)} | {_f(s.diversity_yu)} | {s.clusters_covered_ours}/{s.clusters} "
            f"| {s.clusters_covered_yu}/{s.clusters} | {s.cluster_size_min} / "
            f"{s.cluster_size_median:g} / {s.cluster_size_max} | {s.singleton_clusters} |")
    return "\n".join(lines) + "\n"
