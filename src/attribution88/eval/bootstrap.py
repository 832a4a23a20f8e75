"""Confidence intervals by bootstrap over images, and paired tests.

Resampling n images with replacement makes the counts of any partition of the images
multinomial: (counts of each cell) ~ Multinomial(n, observed cell frequencies). So for every
metric that is a function of counts — all the confusion-matrix metrics, overall and per group
— the bootstrap draws those counts directly (`resample_counts`), which is *exactly* the
bootstrap over images in distribution, at a cost independent of n.

Score-based metrics depend on every image's score. For them the images are first summarised
into at most `AUC_BINS` / `MEAN_BINS` quantile bins of the score (ties share a bin), and the
bin counts are resampled the same way:

- AUC (`auc_replicates`): the replicate is the exact AUC plus the change of the binned AUC
  (pairs inside a bin count as ties). Exact when there are at most that many distinct scores;
  otherwise only the within-bin pairs (a 1/bins share) are approximated;
- means such as log loss (`mean_replicates`): each bin adds its resampled count times its
  mean, plus a normal term for the spread inside the bin (variance = count x the bin's
  variance); exact when the values inside each bin are equal.

Percentile intervals. Every random draw comes from a local generator seeded from the user's
seed and the purpose of the draw (`generator`), never from global state.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

from ..ids import derive_seed

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 88
DEFAULT_LEVEL = 0.95
#: Quantile bins summarising a score for the AUC bootstrap.
AUC_BINS = 256
#: Quantile bins summarising per-image values for the bootstrap of a mean.
MEAN_BINS = 256
_CHUNK = 100


def generator(seed: int, purpose: str) -> np.random.Generator:
    """A local generator for one purpose (e.g. ``"confusion/test_group"``) and user seed."""
    return np.random.default_rng(derive_seed("bootstrap", int(seed), purpose))


def resample_counts(counts: np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Bootstrap replicates of a table of counts: int64 ``(resamples, *counts.shape)``, each
    replicate the counts of n images drawn with replacement from the table's n images.

    Draws the multinomial directly, or, when there are fewer images than cells (cheaper),
    draws the images themselves: the two have the same distribution."""
    flat = np.asarray(counts, dtype=np.int64).ravel()
    out = np.zeros((resamples, flat.size), dtype=np.int64)
    n = int(flat.sum())
    nonzero = np.flatnonzero(flat)
    if n and resamples:
        if n < 2 * len(nonzero):
            cell_of_image = np.repeat(np.arange(len(nonzero)), flat[nonzero])
            for start in range(0, resamples, _CHUNK):
                stop = min(resamples, start + _CHUNK)
                drawn = cell_of_image[rng.integers(0, n, (stop - start, n))]
                drawn += np.arange(stop - start)[:, None] * len(nonzero)
                out[start:stop, nonzero] = np.bincount(
                    drawn.ravel(), minlength=(stop - start) * len(nonzero)).reshape(stop - start, -1)
        else:
            out[:, nonzero] = rng.multinomial(n, flat[nonzero] / n, size=resamples)
    return out.reshape((resamples, *np.shape(counts)))


def _normal_cdf(x: np.ndarray) -> np.ndarray:
    return np.array([0.5 * math.erfc(-v / math.sqrt(2)) for v in np.ravel(x)]).reshape(np.shape(x))


def interval(replicates: np.ndarray, level: float = DEFAULT_LEVEL,
             point: np.ndarray | float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap interval over axis 0 of ``replicates`` (R, ...): the percentile interval, or
    with ``point`` (the estimate on the data, shape ``replicates.shape[1:]``) the
    bias-corrected percentile interval (BC; Efron & Tibshirani 1993, section 14.3), which
    shifts the percentiles by how far the replicates' median sits from the estimate — this
    matters for NMI, whose plug-in estimate is biased upward on resampled data. NaN replicates
    (metric undefined in a resample) are left out; NaN where all are."""
    reps = np.asarray(replicates, dtype=np.float64)
    shape = reps.shape[1:]
    flat = reps.reshape(reps.shape[0], -1)
    valid = ~np.isnan(flat)
    m = valid.sum(0)
    alpha = (1 - level) / 2
    z = NormalDist().inv_cdf(alpha)
    lo_q = np.full(flat.shape[1], alpha)
    hi_q = np.full(flat.shape[1], 1 - alpha)
    if point is not None:
        pt = np.broadcast_to(np.asarray(point, dtype=np.float64), shape).reshape(-1)
        below = (flat < pt).sum(0) + 0.5 * (flat == pt).sum(0)
        with np.errstate(invalid="ignore", divide="ignore"):
            frac = np.clip(below / m, 0.5 / np.maximum(m, 1), 1 - 0.5 / np.maximum(m, 1))
        ok = (m > 0) & ~np.isnan(pt)
        z0 = np.zeros_like(frac)
        z0[ok] = [NormalDist().inv_cdf(f) for f in frac[ok]]
        lo_q, hi_q = _normal_cdf(2 * z0 + z), _normal_cdf(2 * z0 - z)
    s = np.sort(np.where(valid, flat, np.inf), axis=0)
    cols = np.arange(flat.shape[1])

    def pick(q: np.ndarray) -> np.ndarray:
        pos = q * np.maximum(m - 1, 0)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, np.maximum(m - 1, 0))
        frac = pos - lo
        with np.errstate(invalid="ignore"):
            v = s[lo, cols] * (1 - frac) + s[hi, cols] * frac
            v = np.where(frac == 0, s[lo, cols], v)
        return np.where(m > 0, v, np.nan)

    return pick(lo_q).reshape(shape), pick(hi_q).reshape(shape)


def _edges(sorted_parts: list[np.ndarray], bins: int) -> np.ndarray:
    """Bin edges (ascending, unique) for values given as sorted arrays: every distinct value
    when there are at most ``bins`` of them (the binning is then exact), else about ``bins``
    quantiles, split evenly between the parts (for an AUC: both classes are resolved)."""
    parts = [p for p in sorted_parts if len(p)]
    distinct = sum(1 + int(np.count_nonzero(p[1:] != p[:-1])) for p in parts)
    if distinct <= bins:
        return np.unique(np.concatenate(parts))[1:]
    per = max(2, bins // len(parts))
    picks = [p[(np.arange(1, per) * len(p)) // per] for p in parts]
    return np.unique(np.concatenate(picks))


def _histogram(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts of sorted values in the bins [edges[k-1], edges[k]) (first and last open)."""
    cut = np.searchsorted(sorted_values, edges, "left")
    return np.diff(np.r_[0, cut, len(sorted_values)])


def _hist_auc(hist: np.ndarray) -> np.ndarray:
    """AUC of histograms ``(..., 2, bins)`` (row 0 negatives, row 1 positives, bins in
    increasing score); ties inside a bin count one half."""
    neg = hist[..., 0, :].astype(np.float64)
    pos = hist[..., 1, :].astype(np.float64)
    below = np.cumsum(neg, axis=-1) - neg
    u = (pos * (below + 0.5 * neg)).sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return u / (pos.sum(-1) * neg.sum(-1))


def auc_replicates(neg_sorted: np.ndarray, pos_sorted: np.ndarray, point: float, resamples: int,
                   rng: np.random.Generator, bins: int = AUC_BINS) -> np.ndarray:
    """Bootstrap replicates (float64 (resamples,)) of an AUC whose exact value on the data is
    ``point``, from the sorted scores of the negatives and of the positives."""
    if math.isnan(point):
        return np.full(resamples, np.nan)
    edges = _edges([neg_sorted, pos_sorted], bins)
    hist = np.stack([_histogram(neg_sorted, edges), _histogram(pos_sorted, edges)])
    reps = resample_counts(hist, resamples, rng)
    return point + (_hist_auc(reps) - _hist_auc(hist))


def mean_replicates(values: np.ndarray, resamples: int, rng: np.random.Generator,
                    bins: int = MEAN_BINS) -> np.ndarray:
    """Bootstrap replicates (float64 (resamples,)) of the mean of ``values`` (n,)."""
    s = np.sort(np.asarray(values, dtype=np.float64))
    edges = _edges([s], bins)
    count = _histogram(s, edges)
    starts = np.r_[0, np.cumsum(count)[:-1]]
    nonempty = count > 0
    total = np.zeros(len(count))
    total[nonempty] = np.add.reduceat(s, starts[nonempty])
    mean = np.divide(total, count, out=np.zeros(len(count)), where=nonempty)
    square = np.zeros(len(count))
    square[nonempty] = np.add.reduceat((s - np.repeat(mean, count)) ** 2, starts[nonempty])
    sd = np.sqrt(np.divide(square, count, out=np.zeros(len(count)), where=nonempty))
    reps = resample_counts(count, resamples, rng).astype(np.float64)
    noise = rng.standard_normal(reps.shape) if (sd > 0).any() else 0.0
    return ((reps * mean).sum(-1) + (np.sqrt(reps) * sd * noise).sum(-1)) / len(s)


# -- paired tests ---------------------------------------------------------------------------------
def mcnemar(b: int, c: int) -> tuple[float, float]:
    """Exact two-sided McNemar test of b = #(A right, B wrong) against c = #(A wrong, B right):
    (p-value, mid-p-value), from Binomial(b + c, 1/2)."""
    n, k = b + c, min(b, c)
    if n == 0:
        return 1.0, 1.0
    log_pk = math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) - n * math.log(2)
    i = np.arange(k, 0, -1, dtype=np.float64)  # pmf(i-1) = pmf(i) * i / (n - i + 1)
    log_tail = np.concatenate([[log_pk], log_pk + np.cumsum(np.log(i / (n - i + 1)))])
    top = log_tail.max()
    cdf = math.exp(top) * float(np.exp(log_tail - top).sum())
    pk = math.exp(log_pk)
    return min(1.0, 2 * cdf), min(1.0, 2 * cdf - pk)


def _midranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks with ties averaged, float64 (n,)."""
    order = np.argsort(x, kind="stable")
    s = x[order]
    starts = np.r_[0, np.flatnonzero(np.diff(s)) + 1]
    ends = np.r_[starts[1:], len(s)]
    ranks = np.empty(len(x))
    ranks[order] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
    return ranks


def delong(scores_a: np.ndarray, scores_b: np.ndarray, positive: np.ndarray,
           level: float = DEFAULT_LEVEL) -> dict[str, float]:
    """DeLong's paired test of two AUCs on the same images (DeLong, DeLong & Clarke-Pearson,
    Biometrics 1988): difference A - B, its normal interval and two-sided p-value."""
    m, n = int(positive.sum()), int((~positive).sum())
    if m == 0 or n == 0:
        return {"difference": math.nan, "low": math.nan, "high": math.nan, "p_value": math.nan}
    comps = []
    aucs = []
    for s in (scores_a, scores_b):
        r_all = _midranks(s)
        r_pos = _midranks(s[positive])
        r_neg = _midranks(s[~positive])
        v10 = (r_all[positive] - r_pos) / n  # per positive: share of negatives below
        v01 = 1 - (r_all[~positive] - r_neg) / m  # per negative: share of positives above
        aucs.append(float(v10.mean()))
        comps.append((v10, v01))
    s10 = np.cov(np.stack([comps[0][0], comps[1][0]])) if m > 1 else np.zeros((2, 2))
    s01 = np.cov(np.stack([comps[0][1], comps[1][1]])) if n > 1 else np.zeros((2, 2))
    var = (s10[0, 0] + s10[1, 1] - 2 * s10[0, 1]) / m + (s01[0, 0] + s01[1, 1] - 2 * s01[0, 1]) / n
    diff = aucs[0] - aucs[1]
    sd = math.sqrt(max(var, 0.0))
    z = NormalDist().inv_cdf(0.5 + level / 2)
    if sd == 0:
        p = 1.0 if diff == 0 else 0.0
    else:
        p = math.erfc(abs(diff) / sd / math.sqrt(2))
    return {"difference": diff, "low": diff - z * sd, "high": diff + z * sd, "p_value": p}


def bootstrap_p_value(replicates: np.ndarray, point: float) -> float:
    """Two-sided p-value of "no difference" from bootstrap replicates of a difference: the
    share of centred replicates at least as far from 0 as the observed difference (with the
    +1 correction, so never 0)."""
    reps = np.asarray(replicates, dtype=np.float64)
    reps = reps[~np.isnan(reps)]
    if math.isnan(point) or len(reps) == 0:
        return math.nan
    extreme = np.count_nonzero(np.abs(reps - point) >= abs(point) - 1e-15)
    return min(1.0, (extreme + 1) / (len(reps) + 1))
