"""Data cleaning (RepMix supplement 1.2): keep the generated candidates that look most like a
real image, one per cluster, so that cleaning drops artifacts without losing diversity.

Input: LPIPS feature vectors (`attribution88.builders.lpips_features`), for which the squared
Euclidean distance *is* the LPIPS distance. Steps, for one cell:

1. Reduce: a PCA (fitted on a seeded sample of candidates and reals) maps
   every vector to ``pca_dim`` values, plus the norm of what the PCA leaves out (the residual).
2. Shortlist the ``k`` nearest reals of every candidate with faiss:
   - ``"exact"``: exhaustive L2 search on the full vectors (exact LPIPS order: recall 1);
   - ``"pca"``: L2 search on ``[pca(c), 0, |res(c)|]`` vs ``[pca(r), |res(r)|, 0]``, i.e.
     ``||pca(c) - pca(r)||^2 + |res(c)|^2 + |res(r)|^2``: the LPIPS distance with the residuals
     taken as orthogonal. Without the residual norms, reals with much unexplained energy would
     look close: on benchmarks/bench_clean.py's images, recall of the true nearest real at
     k = 10 was 0.89 without them and 0.989 with them (0.987 for candidates outside the PCA
     sample). Recall < 1: measured by the benchmark, not assumed.
   - ``"auto"`` (default): exact while candidates x reals x dim stays below `EXACT_BUDGET`
     (a few seconds of BLAS), else pca.
   When candidates + reals fit in the PCA sample (every mini cell), the PCA is lossless and
   all of steps 1-2 comes from one Gram matrix of the centred vectors: one pass over the
   data, exact shortlist, diversity from the same matrix.
3. Re-rank: the exact LPIPS distance from each candidate to its shortlist, from the full
   vectors (differences, not dot products, so no cancellation). A candidate's nearest-real
   distance is the smallest of them.
4. Cluster the candidates into ``n_keep`` clusters in PCA space: k-means++ seeding, then faiss
   k-means, both seeded.
5. Keep, from each cluster, the member closest to a real (ties: lowest index). Should k-means
   leave a cluster empty, the remaining places go to the closest remaining candidates.

Yu et al. (ICCV 2019) keep the ``n_keep`` candidates closest to a real (`yu_selection`): the
baseline whose loss of diversity the statistics show (mean pairwise LPIPS of the selection,
clusters it covers).

Everything is a pure function of the inputs and ``seed``: same kept indices in any process.

Memory: an alexnet vector at 128 px is 148,608 floats (594 KB), so a full-scale cell (36,000
candidates) is 21.4 GB of float32 features. Pass ``np.memmap`` arrays (float32, or float16 to
halve the disk: distances then carry float16 rounding, ~1e-3 relative): the PCA fit reads a
sample, projection and exact search read `CHUNK_BYTES` of rows at a time, the re-rank reads
the shortlisted rows; ``clean`` itself holds ~1.5 GB (PCA sample and components, reduced
vectors, chunks).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np

from attribution88.errors import UsageError

__all__ = [
    "CleaningResult", "CleaningStats", "clean", "cleaning_table", "exact_pair_distances",
    "log_summary", "mean_pairwise_distance", "passive_omp_wait", "shortlist", "thread_limit",
    "yu_selection",
    "DEFAULT_THREADS", "EXACT_BUDGET",
]

#: "auto" shortlists exactly while candidates x reals x dim <= this (multiply-adds; 2,000 x
#: 2,000 alexnet vectors at 128 px are 5.9e11, ~20 s of one core; a full-scale cell, 36,000 x
#: 36,000, would be 1.9e14: hours, so it takes the PCA shortlist).
EXACT_BUDGET = 1.0e12
#: Threads `clean` gives BLAS (numpy, scipy, faiss) and faiss's OpenMP by default. On the
#: shared 2-core machine, with torch in the same process, 1 was fastest by far: 3 cells of
#: features + clean took 7.4 s of cleaning with 1, 25.9 s with 2 and 40.5 s with the pools
#: left alone (benchmarks/bench_clean.py): the spinning pools of numpy's OpenBLAS, faiss's
#: OpenMP and torch's OpenMP fight for the cores. Raise it on a machine whose cores are not
#: shared, or run several cells in parallel processes instead. See also `passive_omp_wait`.
DEFAULT_THREADS: int | None = 1
#: Bytes of feature rows held in memory at once (per operand).
CHUNK_BYTES = 256 << 20
STATS_VERSION = 1
SHORTLIST_MODES = ("auto", "exact", "pca")


@dataclass(frozen=True)
class CleaningStats:
    """What cleaning did to one cell. Distances are LPIPS (squared feature distances).

    ``nearest_real_*``: mean over a set of candidates of their distance to the nearest real;
    ``diversity_*``: mean LPIPS over all pairs of the set (NaN for fewer than 2);
    ``all`` = every candidate, ``ours`` = kept by `clean`, ``yu`` = Yu et al.'s ``n_kept``
    closest. Clusters: k-means clusters of the candidates, their size spread, and how many
    of them each selection touches.
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
    float64), ``cluster`` (k-means label). ``yu``: Yu et al.'s selection, ascending."""

    kept: np.ndarray
    yu: np.ndarray
    nearest_real: np.ndarray
    nearest_distance: np.ndarray
    cluster: np.ndarray
    stats: CleaningStats


# -- the pipeline's entry point -------------------------------------------------------------
def clean(candidate_features: np.ndarray, real_features: np.ndarray, n_keep: int, *,
          seed: int, k: int = 10, shortlist_mode: str = "auto", pca_dim: int = 256,
          pca_samples: int = 2048, kmeans_iters: int = 20,
          threads: int | None = DEFAULT_THREADS) -> CleaningResult:
    """Select ``n_keep`` of the candidates: one per k-means cluster, the one nearest a real.

    ``candidate_features``: (Nc, D), ``real_features``: (Nr, D), LPIPS feature vectors
    (float32 or float16, arrays or memmaps). ``seed``: e.g. ``derive_seed("clean", cell.name)``.
    ``k``: shortlist size; ``shortlist_mode``: "auto", "exact" or "pca" (module docstring).
    ``threads``: BLAS and OpenMP (faiss) threads during the call, restored after; None leaves
    the process's settings (see `DEFAULT_THREADS`).
    """
    _check_features(candidate_features, real_features)
    nc, nr = len(candidate_features), len(real_features)
    if not isinstance(n_keep, (int, np.integer)) or not 1 <= n_keep <= nc:
        raise UsageError(f"cannot keep {n_keep} of {nc} candidates (need 1 <= n_keep <= {nc})")
    if k < 1:
        raise UsageError(f"shortlist size k must be >= 1, got {k}")
    k = min(k, nr)
    with thread_limit(threads):
        return _clean(candidate_features, real_features, int(n_keep), seed=seed, k=k,
                      mode=_resolve_mode(shortlist_mode, nc, nr, candidate_features.shape[1]),
                      pca_dim=pca_dim, pca_samples=pca_samples, kmeans_iters=kmeans_iters)


def _clean(c: np.ndarray, r: np.ndarray, n_keep: int, *, seed: int, k: int, mode: str,
           pca_dim: int, pca_samples: int, kmeans_iters: int) -> CleaningResult:
    nc, nr = len(c), len(r)
    if nc + nr <= pca_samples:
        # A small cell (the mini preset): every vector is in the PCA sample, so the PCA is
        # lossless and the shortlist exact; all of it comes from one centred Gram matrix.
        cand_low, approx, cand_gram = _joint_gram(c, r, pca_dim)
        ids = np.argsort(approx, axis=1, kind="stable")[:, :k]
        label = "exact"
        diversity = lambda rows: _gram_diversity(cand_gram, rows)  # noqa: E731
    else:
        reducer = _Reducer.fit(c, r, pca_dim, pca_samples, seed)
        cand_low, cand_res = reducer.transform(c)
        ids = _shortlist_ids(c, r, k, mode, reducer, (cand_low, cand_res))
        label = "exact" if mode == "exact" else f"pca-{reducer.dim}"
        diversity = lambda rows: mean_pairwise_distance(c, rows)  # noqa: E731
    ids, dists = _rerank(c, r, ids)
    nearest_real, nearest = ids[:, 0], dists[:, 0]
    labels = _kmeans(cand_low, n_keep, seed, kmeans_iters)
    kept, topped_up = _select(labels, nearest, n_keep)
    yu = yu_selection(nearest, n_keep)
    stats = _stats(nc, nr, k, label, diversity, nearest, labels, kept, yu, n_keep, topped_up)
    return CleaningResult(kept, yu, nearest_real, nearest, labels, stats)


def yu_selection(nearest_distance: np.ndarray, n_keep: int) -> np.ndarray:
    """Yu et al.'s cleaning: the ``n_keep`` candidates nearest a real (ties: lowest index),
    as ascending int64 indices. ``nearest_distance``: (Nc,) nearest-real LPIPS."""
    d = np.asarray(nearest_distance)
    if not 0 <= n_keep <= len(d):
        raise UsageError(f"cannot keep {n_keep} of {len(d)} candidates")
    order = np.lexsort((np.arange(len(d)), d))
    return np.sort(order[:n_keep]).astype(np.int64)


# -- shortlist --------------------------------------------------------------------------------
def shortlist(candidate_features: np.ndarray, real_features: np.ndarray, k: int = 10, *,
              mode: str = "auto", seed: int = 0, pca_dim: int = 256, pca_samples: int = 2048,
              threads: int | None = DEFAULT_THREADS) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` reals nearest each candidate, re-ranked by exact LPIPS.

    Returns ``ids`` int64 (Nc, k) and ``distances`` float64 (Nc, k), each row sorted by
    (exact distance, real index): column 0 is the candidate's nearest real found. ``mode``
    and the PCA settings as in `clean` (the PCA is fitted only for mode "pca").
    """
    _check_features(candidate_features, real_features)
    c, r = candidate_features, real_features
    mode = _resolve_mode(mode, len(c), len(r), c.shape[1])
    with thread_limit(threads):
        reducer = _Reducer.fit(c, r, pca_dim, pca_samples, seed) if mode == "pca" else None
        ids = _shortlist_ids(c, r, min(k, len(r)), mode, reducer, None)
        return _rerank(c, r, ids)


def _shortlist_ids(c: np.ndarray, r: np.ndarray, k: int, mode: str, reducer: _Reducer | None,
                   candidate_reduced: tuple[np.ndarray, np.ndarray] | None) -> np.ndarray:
    """(Nc, k) int64 ids of the shortlisted reals, in no particular order."""
    if mode == "exact":
        return _exact_knn(c, r, k)
    assert reducer is not None
    low, res = candidate_reduced or reducer.transform(c)
    rlow, rres = reducer.transform(r)
    zc, zr = np.zeros((len(c), 1), np.float32), np.zeros((len(r), 1), np.float32)
    query = np.hstack([low, zc, res[:, None].astype(np.float32)])
    base = np.hstack([rlow, rres[:, None].astype(np.float32), zr])
    return _faiss_knn(query, base, k)


def _rerank(c: np.ndarray, r: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact distances to the shortlisted reals, each row sorted by (distance, real id)."""
    ids = np.asarray(ids, np.int64)
    dists = exact_pair_distances(c, r, ids)
    order = np.lexsort((ids, dists), axis=1)
    return np.take_along_axis(ids, order, 1), np.take_along_axis(dists, order, 1)


def exact_pair_distances(a: np.ndarray, b: np.ndarray, pairs: np.ndarray) -> np.ndarray:
    """LPIPS between row ``i`` of ``a`` and rows ``pairs[i, j]`` of ``b``: float64, shaped
    like ``pairs`` (Na, m). Each from the difference of the two vectors (float32, summed
    pairwise by numpy: ~1e-7 relative), one pair at a time so the difference stays in cache;
    rows are read in place (arrays or memmaps, float32 or float16)."""
    pairs = np.asarray(pairs, dtype=np.int64)
    out = np.empty(pairs.shape, np.float64)
    buf = np.empty(a.shape[1], np.float32)
    for i in range(len(pairs)):
        row = a[i]
        for j, p in enumerate(pairs[i]):
            np.subtract(b[p], row, out=buf, dtype=np.float32)
            np.square(buf, out=buf)
            out[i, j] = buf.sum()
    return out


def mean_pairwise_distance(features: np.ndarray, rows: np.ndarray | None = None) -> float:
    """Mean LPIPS over all unordered pairs of ``features[rows]`` (all rows by default), exact,
    in O(n D): for squared Euclidean distances, sum_{i<j} |x_i - x_j|^2 =
    n sum_i |x_i|^2 - |sum_i x_i|^2. NaN for fewer than 2 rows."""
    idx = np.arange(len(features)) if rows is None else np.sort(np.asarray(rows, np.int64))
    n = len(idx)
    if n < 2:
        return math.nan
    total = np.zeros(features.shape[1], np.float64)
    sq = 0.0
    step = max(1, CHUNK_BYTES // (4 * features.shape[1]))
    for s in range(0, n, step):
        block = np.asarray(features[idx[s:s + step]], dtype=np.float64)
        total += block.sum(axis=0)
        sq += float(np.einsum("ij,ij->", block, block))
    return float((n * sq - total @ total) / (n * (n - 1) / 2))


@contextmanager
def thread_limit(threads: int | None) -> Iterator[None]:
    """Limit the BLAS and OpenMP thread pools of every loaded library (numpy's and scipy's
    OpenBLAS, faiss's OpenMP and OpenBLAS, torch's OpenMP) to ``threads`` inside the block;
    restored on exit. None: no change."""
    if threads is None:
        yield
        return
    if threads < 1:
        raise UsageError(f"threads must be >= 1 or None, got {threads}")
    import faiss  # noqa: F401  load every pool before limiting them
    import scipy.linalg  # noqa: F401
    import sklearn.cluster  # noqa: F401
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads):
        yield


def passive_omp_wait() -> bool:
    """Set ``OMP_WAIT_POLICY=PASSIVE`` unless the user set it, so idle OpenMP threads of
    torch and faiss sleep instead of spinning against each other and other processes. OpenMP
    reads it when the library loads: call it before torch or faiss is first imported (at the
    start of a build). Returns whether it can still take effect. Measured on the shared 2-core
    machine (benchmarks/bench_clean.py): LPIPS features 3.3x faster with torch at 2 threads."""
    import os
    import sys

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return "torch" not in sys.modules and "faiss" not in sys.modules


# -- internals --------------------------------------------------------------------------------
def _check_features(c: np.ndarray, r: np.ndarray) -> None:
    for name, f in (("candidate", c), ("real", r)):
        if not hasattr(f, "shape") or len(f.shape) != 2 or not np.issubdtype(f.dtype, np.floating):
            raise UsageError(f"{name} features must be a float array shaped (N, D); got "
                             f"{getattr(f, 'dtype', type(f).__name__)} {getattr(f, 'shape', '')}")
        if len(f) == 0:
            raise UsageError(f"no {name} features: cleaning needs at least one {name} image")
    if c.shape[1] != r.shape[1]:
        raise UsageError(f"candidate features have {c.shape[1]} values and real features "
                         f"{r.shape[1]}: compute both with the same LPIPS network and image size")


def _resolve_mode(mode: str, nc: int, nr: int, dim: int) -> str:
    if mode not in SHORTLIST_MODES:
        raise UsageError(f"unknown shortlist mode {mode!r}; valid: {', '.join(SHORTLIST_MODES)}")
    if mode == "auto":
        return "exact" if float(nc) * nr * dim <= EXACT_BUDGET else "pca"
    return mode


def _exact_knn(c: np.ndarray, r: np.ndarray, k: int) -> np.ndarray:
    """Exhaustive k-NN on the full vectors, by blocks of both (faiss.knn per block pair)."""
    dim = c.shape[1]
    step = max(1, CHUNK_BYTES // (4 * dim))
    out = np.empty((len(c), k), np.int64)
    for s in range(0, len(c), step):
        q = np.ascontiguousarray(c[s:s + step], dtype=np.float32)
        best_d = np.full((len(q), 0), np.inf, np.float32)
        best_i = np.empty((len(q), 0), np.int64)
        for t in range(0, len(r), step):
            base = np.ascontiguousarray(r[t:t + step], dtype=np.float32)
            d, i = _faiss_knn(q, base, min(k, len(base)), return_distances=True)
            best_d = np.hstack([best_d, d])
            best_i = np.hstack([best_i, i + t])
            if best_d.shape[1] > k:
                keep = np.lexsort((best_i, best_d), axis=1)[:, :k]
                best_d = np.take_along_axis(best_d, keep, 1)
                best_i = np.take_along_axis(best_i, keep, 1)
        out[s:s + len(q)] = best_i
    return out


def _faiss_knn(query: np.ndarray, base: np.ndarray, k: int, *, return_distances: bool = False):
    import faiss

    d, i = faiss.knn(np.ascontiguousarray(query, np.float32),
                     np.ascontiguousarray(base, np.float32), k)
    i = i.astype(np.int64)
    return (d, i) if return_distances else i


@dataclass(frozen=True)
class _Reducer:
    """PCA to at most ``dim`` values, plus the norm of the residual.

    Fitted on a seeded sample of candidates and reals through the Gram matrix of the sample
    (n x n, n = samples << D), keeping only components with a non-negligible eigenvalue, so
    that the components are orthonormal even when the sample is rank-deficient (duplicate
    images). faiss.PCAMatrix returns non-orthonormal components in that case, which would
    corrupt the residual norms. A set no larger than the sample maps without loss."""

    mean: np.ndarray  # (D,) float32
    components: np.ndarray  # (D, dim) float32, orthonormal columns
    candidate_sample: np.ndarray  # rows of the candidates the PCA was fitted on (int64)

    @property
    def dim(self) -> int:
        return int(self.components.shape[1])

    @classmethod
    def fit(cls, c: np.ndarray, r: np.ndarray, dim: int, samples: int, seed: int) -> _Reducer:
        if dim < 1 or samples < 2:
            raise UsageError(f"pca_dim must be >= 1 and pca_samples >= 2 (got {dim}, {samples})")
        rng = np.random.default_rng([seed, 0x5CA])
        n_c = min(len(c), max(samples - len(r), samples // 2))
        n_r = min(len(r), samples - n_c)
        pick_c = np.sort(rng.choice(len(c), n_c, replace=False))
        pick_r = np.sort(rng.choice(len(r), n_r, replace=False))
        x = np.concatenate([np.asarray(c[pick_c], np.float32), np.asarray(r[pick_r], np.float32)])
        mean = x.mean(axis=0, dtype=np.float64).astype(np.float32)
        x -= mean
        gram = (x @ x.T).astype(np.float64)
        from scipy.linalg import eigh

        top = min(dim, len(gram))  # only the top eigenpairs: much faster than all of them
        vals, vecs = eigh(gram, subset_by_index=[len(gram) - top, len(gram) - 1])
        vals, vecs = vals[::-1], vecs[:, ::-1]
        keep = vals > max(vals[0], 0.0) * 1e-6 if vals[0] > 0 else np.zeros(len(vals), bool)
        n_keep = int(min(dim, keep.sum()))
        if n_keep == 0:  # every sampled vector is the same: one (zero) coordinate
            return cls(mean, np.zeros((x.shape[1], 1), np.float32), pick_c)
        comps = x.T @ (vecs[:, :n_keep] / np.sqrt(vals[:n_keep])).astype(np.float32)
        return cls(mean, np.ascontiguousarray(comps, np.float32), pick_c)

    def transform(self, f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, dim) float32 projections and (N,) float64 residual norms."""
        low = np.empty((len(f), self.dim), np.float32)
        res = np.empty(len(f), np.float64)
        step = max(1, CHUNK_BYTES // (4 * f.shape[1]))
        for s in range(0, len(f), step):
            block = np.asarray(f[s:s + step], np.float32) - self.mean
            p = block @ self.components
            low[s:s + len(block)] = p
            total = np.square(block).sum(axis=1, dtype=np.float64)
            res[s:s + len(block)] = np.sqrt(np.maximum(
                total - np.square(p, dtype=np.float64).sum(axis=1), 0.0))
        return low, res


def _joint_gram(c: np.ndarray, r: np.ndarray, dim: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For a set small enough to fit the PCA sample whole: centre all Nc + Nr vectors, take
    their Gram matrix G (float32 products, float64 after), and return the candidates' PCA
    coordinates (kernel PCA: eigenvectors x sqrt(eigenvalues), the numbers `_Reducer` gives
    when its sample is the whole set), the candidate-real squared distances
    ``G_ii + G_jj - 2 G_ij`` (float32 rounding, ~1e-5 relative: used to shortlist, then
    re-ranked exactly), and the candidates' block of G."""
    from scipy.linalg import eigh

    nc = len(c)
    z = np.concatenate([np.asarray(c, np.float32), np.asarray(r, np.float32)])
    z -= z.mean(axis=0, dtype=np.float64).astype(np.float32)
    gram = (z @ z.T).astype(np.float64)
    del z
    top = min(dim, len(gram))
    vals, vecs = eigh(gram, subset_by_index=[len(gram) - top, len(gram) - 1])
    vals, vecs = vals[::-1], vecs[:, ::-1]
    m = int((vals > max(vals[0], 0.0) * 1e-6).sum()) if vals[0] > 0 else 0
    low = (vecs[:nc, :m] * np.sqrt(vals[:m])) if m else np.zeros((nc, 1))
    sq = np.diag(gram)
    approx = sq[:nc, None] + sq[None, nc:] - 2.0 * gram[:nc, nc:]
    return np.ascontiguousarray(low, np.float32), approx, gram[:nc, :nc]


def _gram_diversity(gram: np.ndarray, rows: np.ndarray | None) -> float:
    """Mean pairwise squared distance of ``rows`` from their (centred) Gram matrix."""
    idx = np.arange(len(gram)) if rows is None else np.asarray(rows, np.int64)
    n = len(idx)
    if n < 2:
        return math.nan
    sub = gram[np.ix_(idx, idx)]
    return float((n * np.trace(sub) - sub.sum()) / (n * (n - 1) / 2))


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
           topped_up: int) -> CleaningStats:
    n_clusters = int(min(n_keep, nc))
    sizes = np.bincount(labels, minlength=n_clusters)
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
        clusters_covered_ours=int(len(np.unique(labels[kept]))),
        clusters_covered_yu=int(len(np.unique(labels[yu]))),
        topped_up=topped_up, overlap_ours_yu=int(len(np.intersect1d(kept, yu))),
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
            f"{s.clusters_covered_yu}/{s.clusters}; {s.singleton_clusters} clusters of one")


def cleaning_table(stats_by_cell: dict[str, CleaningStats]) -> str:
    """A markdown table (one row per cell, sorted by name) for the dataset card."""
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
