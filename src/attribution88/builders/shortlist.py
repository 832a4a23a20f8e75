"""Nearest reals of every candidate under LPIPS, which `lpips_features` makes a squared
Euclidean distance between feature vectors.

- ``"exact"``: exhaustive L2 search on the full vectors with faiss (recall 1);
- ``"pca"``: a PCA (fitted on a seeded sample of candidates and reals) maps every vector to
  ``pca_dim`` values plus the norm of what the PCA leaves out (the residual); faiss L2 search
  on ``[pca(c), 0, |res(c)|]`` vs ``[pca(r), |res(r)|, 0]``, i.e.
  ``||pca(c) - pca(r)||^2 + |res(c)|^2 + |res(r)|^2``: the LPIPS distance with the residuals
  taken as orthogonal. Without the residual norms, reals with much unexplained energy would
  look close: on benchmarks/bench_clean.py's images, recall of the true nearest real at
  k = 10 was 0.89 without them and 0.989 with them (0.987 for candidates outside the PCA
  sample). Recall < 1: measured by the benchmark, not assumed;
- ``"auto"``: exact while candidates x reals x dim stays below `EXACT_BUDGET`, else pca;
- when candidates + reals fit in the PCA sample (every mini cell), the PCA is lossless and
  everything comes from one Gram matrix of the centred vectors (`joint_gram`).

Then the shortlist is re-ranked with exact LPIPS from the full vectors (differences, not dot
products, so no cancellation).

Memory: an alexnet vector at 128 px is 148,608 floats (594 KB), so a full-scale cell (36,000
candidates) is 21.4 GB of float32 features. Pass ``np.memmap`` arrays (float32, or float16 to
halve the disk: distances then carry float16 rounding, ~1e-3 relative): the PCA fit reads a
sample, projection and exact search read `CHUNK_BYTES` of rows at a time, the re-rank reads
the shortlisted rows; the search itself holds ~1.5 GB (PCA sample and components, reduced
vectors, chunks).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from attribution88.errors import UsageError

from .threads import DEFAULT_THREADS, thread_limit

__all__ = ["CHUNK_BYTES", "EXACT_BUDGET", "SHORTLIST_MODES", "exact_pair_distances",
           "mean_pairwise_distance", "shortlist"]

#: "auto" shortlists exactly while candidates x reals x dim <= this (multiply-adds; 2,000 x
#: 2,000 alexnet vectors at 128 px are 5.9e11; a full-scale cell, 36,000 x 36,000, would be
#: 1.9e14, over 300 times as many, so it takes the PCA shortlist).
EXACT_BUDGET = 1.0e12
#: Bytes of feature rows held in memory at once (per operand).
CHUNK_BYTES = 256 << 20
SHORTLIST_MODES = ("auto", "exact", "pca")


def shortlist(candidate_features: np.ndarray, real_features: np.ndarray, k: int = 10, *,
              mode: str = "auto", seed: int = 0, pca_dim: int = 256, pca_samples: int = 2048,
              threads: int | None = DEFAULT_THREADS) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` reals nearest each candidate, re-ranked by exact LPIPS.

    ``candidate_features`` (Nc, D), ``real_features`` (Nr, D): LPIPS feature vectors (float32
    or float16, arrays or memmaps). Returns ``ids`` int64 (Nc, k) and ``distances`` float64
    (Nc, k), each row sorted by (exact distance, real index): column 0 is the candidate's
    nearest real found. ``mode``: "auto", "exact" or "pca" (module docstring); ``seed``
    draws the PCA sample; ``threads`` as in `thread_limit`.
    """
    check_features(candidate_features, real_features)
    if k < 1:
        raise UsageError(f"shortlist size k must be >= 1, got {k}")
    c, r = candidate_features, real_features
    mode = resolve_mode(mode, len(c), len(r), c.shape[1])
    with thread_limit(threads):
        found = nearest_reals(c, r, min(k, len(r)), mode=mode, seed=seed, pca_dim=pca_dim,
                              pca_samples=pca_samples)
    return found.ids, found.distances


@dataclass(frozen=True)
class NearestReals:
    """What the search found, for `attribution88.builders.clean`: ``ids`` and ``distances``
    as returned by `shortlist`; ``coords`` float32 (Nc, d), the candidates' PCA coordinates;
    ``method``, "exact" or "pca-<d>"; ``diversity(rows)``, the mean pairwise LPIPS of
    candidates ``rows`` (all when None; NaN for fewer than 2)."""

    ids: np.ndarray
    distances: np.ndarray
    coords: np.ndarray
    method: str
    diversity: Callable[[np.ndarray | None], float]


def nearest_reals(c: np.ndarray, r: np.ndarray, k: int, *, mode: str, seed: int, pca_dim: int,
                  pca_samples: int) -> NearestReals:
    """Shortlist, exact re-rank and PCA coordinates in one go (arguments already checked;
    ``mode`` resolved, "exact" or "pca")."""
    if len(c) + len(r) <= pca_samples:
        # Every vector fits the PCA sample (a mini cell): the PCA is lossless and the
        # shortlist exact; all of it comes from one centred Gram matrix.
        coords, approx, cand_gram = joint_gram(c, r, pca_dim)
        ids = np.argsort(approx, axis=1, kind="stable")[:, :k]
        method = "exact"
        diversity = lambda rows: gram_diversity(cand_gram, rows)  # noqa: E731
    else:
        reducer = Reducer.fit(c, r, pca_dim, pca_samples, seed)
        coords, res = reducer.transform(c)
        ids = shortlist_ids(c, r, k, mode, reducer, (coords, res))
        method = "exact" if mode == "exact" else f"pca-{reducer.dim}"
        diversity = lambda rows: mean_pairwise_distance(c, rows)  # noqa: E731
    order = None
    if len(c) > max(1, CHUNK_BYTES // (4 * c.shape[1])):  # more than one block of candidates
        order = locality_order(coords, seed)
    ids, dists = rerank(c, r, ids, order)
    return NearestReals(ids, dists, coords, method, diversity)


def shortlist_ids(c: np.ndarray, r: np.ndarray, k: int, mode: str, reducer: Reducer | None,
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
    return faiss_knn(query, base, k)


def rerank(c: np.ndarray, r: np.ndarray, ids: np.ndarray,
           order: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Exact distances to the shortlisted reals, each row sorted by (distance, real id);
    ``order``: the order to read candidates in (`exact_pair_distances`)."""
    ids = np.asarray(ids, np.int64)
    dists = exact_pair_distances(c, r, ids, order)
    order = np.lexsort((ids, dists), axis=1)
    return np.take_along_axis(ids, order, 1), np.take_along_axis(dists, order, 1)


def exact_pair_distances(a: np.ndarray, b: np.ndarray, pairs: np.ndarray,
                         order: np.ndarray | None = None) -> np.ndarray:
    """LPIPS between row ``i`` of ``a`` and rows ``pairs[i, j]`` of ``b``: float64, shaped
    like ``pairs`` (Na, m). Each from the difference of the two vectors (float32, summed
    pairwise by numpy: ~1e-7 relative), one pair at a time so the difference stays in cache.
    Rows are read in blocks of `CHUNK_BYTES`: a block of ``a``'s rows (consecutive, or the
    next ones of ``order``, a permutation of ``a``'s rows), then the rows of ``b`` they pair
    with, each once and in ascending order (sequential reads of a memmap). An ``order`` that
    puts similar rows together makes their blocks share rows of ``b``: fewer reads."""
    pairs = np.asarray(pairs, dtype=np.int64)
    out = np.empty(pairs.shape, np.float64)
    if pairs.size == 0:
        return out
    step = max(1, CHUNK_BYTES // (4 * a.shape[1]))
    buf = np.empty(a.shape[1], np.float32)
    for s in range(0, len(pairs), step):
        if order is None:
            rows = np.arange(s, min(s + step, len(pairs)))
            rows_a = np.asarray(a[s:s + step], np.float32)
        else:
            rows = np.sort(np.asarray(order[s:s + step], np.int64))
            rows_a = np.asarray(a[rows], np.float32)
        block = pairs[rows]
        needed, where = np.unique(block, return_inverse=True)
        where = where.reshape(block.shape)
        for t in range(0, len(needed), step):
            rows_b = np.asarray(b[needed[t:t + step]], np.float32)
            for i, j in zip(*np.nonzero((where >= t) & (where < t + step))):
                np.subtract(rows_b[where[i, j] - t], rows_a[i], out=buf)
                np.square(buf, out=buf)
                out[rows[i], j] = buf.sum()
    return out


def locality_order(coords: np.ndarray, seed: int, group: int = 256) -> np.ndarray:
    """A permutation of the rows that puts similar ones together: sorted by a coarse k-means
    (about ``group`` rows a cluster, 10 faiss iterations, seeded) of their PCA ``coords``,
    then by index. Used to re-rank: neighbouring candidates shortlist the same reals."""
    import faiss

    n = len(coords)
    n_groups = n // group
    if n_groups < 2:
        return np.arange(n, dtype=np.int64)
    x = np.ascontiguousarray(coords, np.float32)
    km = faiss.Kmeans(x.shape[1], n_groups, niter=10, seed=int(seed % (2**31 - 1)), verbose=False)
    km.train(x)
    _, labels = km.index.search(x, 1)
    return np.lexsort((np.arange(n), labels[:, 0])).astype(np.int64)


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


def check_features(c: np.ndarray, r: np.ndarray) -> None:
    """One-line `UsageError` unless both are non-empty float (N, D) arrays of the same D."""
    for name, f in (("candidate", c), ("real", r)):
        if not hasattr(f, "shape") or len(f.shape) != 2 or not np.issubdtype(f.dtype, np.floating):
            raise UsageError(f"{name} features must be a float array shaped (N, D); got "
                             f"{getattr(f, 'dtype', type(f).__name__)} {getattr(f, 'shape', '')}")
        if len(f) == 0:
            raise UsageError(f"no {name} features: cleaning needs at least one {name} image")
    if c.shape[1] != r.shape[1]:
        raise UsageError(f"candidate features have {c.shape[1]} values and real features "
                         f"{r.shape[1]}: compute both with the same LPIPS network and image size")


def resolve_mode(mode: str, nc: int, nr: int, dim: int) -> str:
    """"exact" or "pca" for a requested mode and problem size."""
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
            d, i = faiss_knn(q, base, min(k, len(base)), return_distances=True)
            best_d = np.hstack([best_d, d])
            best_i = np.hstack([best_i, i + t])
            if best_d.shape[1] > k:
                keep = np.lexsort((best_i, best_d), axis=1)[:, :k]
                best_d = np.take_along_axis(best_d, keep, 1)
                best_i = np.take_along_axis(best_i, keep, 1)
        out[s:s + len(q)] = best_i
    return out


def faiss_knn(query: np.ndarray, base: np.ndarray, k: int, *, return_distances: bool = False):
    import faiss

    d, i = faiss.knn(np.ascontiguousarray(query, np.float32),
                     np.ascontiguousarray(base, np.float32), k)
    i = i.astype(np.int64)
    return (d, i) if return_distances else i


@dataclass(frozen=True)
class Reducer:
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
    def fit(cls, c: np.ndarray, r: np.ndarray, dim: int, samples: int, seed: int) -> Reducer:
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


def joint_gram(c: np.ndarray, r: np.ndarray, dim: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For a set small enough to fit the PCA sample whole: centre all Nc + Nr vectors, take
    their Gram matrix G (float32 products, float64 after), and return the candidates' PCA
    coordinates (kernel PCA: eigenvectors x sqrt(eigenvalues), the numbers `Reducer` gives
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


def gram_diversity(gram: np.ndarray, rows: np.ndarray | None) -> float:
    """Mean pairwise squared distance of ``rows`` from their (centred) Gram matrix."""
    idx = np.arange(len(gram)) if rows is None else np.asarray(rows, np.int64)
    n = len(idx)
    if n < 2:
        return math.nan
    sub = gram[np.ix_(idx, idx)]
    return float((n * np.trace(sub) - sub.sum()) / (n * (n - 1) / 2))
