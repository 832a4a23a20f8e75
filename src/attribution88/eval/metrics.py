"""Every metric of the scorer, vectorised with numpy.

Hard-prediction metrics are functions of a confusion matrix, computed for any number of
matrices at once (shape ``(..., K, K)``, rows = truth, columns = prediction), so that the same
code scores the whole test split, every breakdown group and every bootstrap resample.
Score-based metrics (AUC, log loss) work on per-image arrays.

Definitions follow the paper's official test script (reference README, section 3) and
scikit-learn, whose values the tests reproduce to 1e-12:

- detection accuracy: mean((pred > 0) == (true > 0)), i.e. real vs any generator, from the
  8-way prediction;
- attribution accuracy: mean(pred == true);
- NMI: ``sklearn.metrics.normalized_mutual_info_score(true, pred)`` (arithmetic mean of the
  two entropies, natural log; 1.0 when both labelings have a single class; 0.0 when either
  has a single class otherwise);
- macro-F1: ``f1_score(true, pred, average="macro")`` over the sources present in the truth or
  the prediction (a source never predicted counts as F1 = 0);
- per-source recall / precision / F1 (undefined, NaN, where the denominator is zero);
- AUC: area under the ROC curve = P(score of a positive > score of a negative) + 1/2 P(tie),
  computed from exact integer rank sums (``roc_auc_score``); NaN with one class only;
- log loss: ``log_loss(true, probs, labels=range(K))``: mean of -log p(true), p clipped to
  [eps, 1 - eps] with eps the float64 machine epsilon, as scikit-learn does.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: float64 machine epsilon: scikit-learn clips probabilities to [EPS, 1 - EPS] in log loss.
EPS = float(np.finfo(np.float64).eps)

#: The names `confusion_metrics` returns, scalar per matrix.
SCALAR_METRICS = ("detection_accuracy", "attribution_accuracy", "nmi", "macro_f1")
#: The per-source names `confusion_metrics` returns, a vector of K per matrix.
SOURCE_METRICS = ("recall", "precision", "f1")


# -- confusion matrices ----------------------------------------------------------------------
def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, k: int,
                     group: np.ndarray | None = None, n_groups: int = 1) -> np.ndarray:
    """Counts of (true, predicted) pairs: int64 ``(K, K)``, or ``(n_groups, K, K)`` per group
    when ``group`` (int array (n,), values in ``range(n_groups)``) is given.

    ``y_true``, ``y_pred``: integer arrays (n,) with values in ``range(k)``.
    """
    code = y_true.astype(np.int64) * k + y_pred
    if group is None:
        return np.bincount(code, minlength=k * k).reshape(k, k)
    code += group.astype(np.int64) * (k * k)
    return np.bincount(code, minlength=n_groups * k * k).reshape(n_groups, k, k)


def _safe_div(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den, NaN where den == 0."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def _log(counts: np.ndarray) -> np.ndarray:
    """log of counts, float64, with log 0 taken as 0 (its terms are multiplied by 0)."""
    return np.log(np.maximum(counts.astype(np.float64), 1.0))


def nmi(cm: np.ndarray) -> np.ndarray:
    """Normalised mutual information of confusion matrices ``(..., K, K)`` -> ``(...)``.

    MI = sum over cells of (c/n) (log c + log n - log a - log b), a and b the row and column
    sums; H = -sum (a/n) (log a - log n); NMI = MI / mean(H_true, H_pred) (scikit-learn's
    default arithmetic normalisation, natural log), with its special cases: 1.0 when both
    labelings have a single class, 0.0 when one of them has. Summing small per-cell terms (as
    scikit-learn does) rather than differences of c log c sums avoids cancellation. NaN for
    an empty matrix.
    """
    cm = np.asarray(cm)
    n = cm.sum((-1, -2)).astype(np.float64)
    rows, cols = cm.sum(-1), cm.sum(-2)
    n_rows, n_cols = (rows > 0).sum(-1), (cols > 0).sum(-1)
    log_n = np.log(np.maximum(n, 1.0))
    log_a, log_b = _log(rows), _log(cols)
    with np.errstate(divide="ignore", invalid="ignore"):
        inner = _log(cm) + log_n[..., None, None] - log_a[..., :, None] - log_b[..., None, :]
        mi = np.clip((cm * inner).sum((-1, -2)) / n, 0.0, None)
        mi = np.where((n_rows <= 1) | (n_cols <= 1), 0.0, mi)
        h_true = -(rows * (log_a - log_n[..., None])).sum(-1) / n
        h_pred = -(cols * (log_b - log_n[..., None])).sum(-1) / n
        norm = (h_true + h_pred) / 2
        out = np.where(mi == 0, 0.0, mi / np.where(norm > 0, norm, 1.0))
    out = np.where((n_rows == 1) & (n_cols == 1), 1.0, out)
    return np.where(n == 0, np.nan, out)


def confusion_metrics(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Every hard-prediction metric of confusion matrices ``(..., K, K)``.

    Returns float64 arrays: ``n`` and the `SCALAR_METRICS` of shape ``(...)``, the
    `SOURCE_METRICS` of shape ``(..., K)``. Empty matrices give NaN.
    """
    cm = np.asarray(cm)
    n = cm.sum((-1, -2))
    tp = np.diagonal(cm, axis1=-2, axis2=-1)
    rows, cols = cm.sum(-1), cm.sum(-2)
    correct = tp.sum(-1)
    det_correct = cm[..., 0, 0] + cm[..., 1:, 1:].sum((-1, -2))
    f1 = _safe_div(2 * tp, rows + cols)
    present = (rows + cols) > 0
    macro = _safe_div(np.where(present, np.nan_to_num(f1), 0.0).sum(-1), present.sum(-1))
    return {
        "n": n.astype(np.float64),
        "detection_accuracy": _safe_div(det_correct, n),
        "attribution_accuracy": _safe_div(correct, n),
        "nmi": nmi(cm),
        "macro_f1": macro,
        "recall": _safe_div(tp, rows),
        "precision": _safe_div(tp, cols),
        "f1": f1,
    }


# -- scores ----------------------------------------------------------------------------------
SCORE_KINDS = ("probs", "logits", "llr")


@dataclass(frozen=True)
class ScoreViews:
    """What the metrics need from a score matrix, whatever its kind.

    weights: float64 (n, K), non-negative, proportional to the probabilities (the largest of
        each row is 1 for logits); ``probs`` divides them by ``total`` (n,);
    ovr: float64 (n, K), per-source one-vs-rest score, ranking images as the per-generator
        log-likelihood ratio LLR_s = log p(s) - log p(not s) does. Probabilities: p(s) as
        submitted (LLR_s is monotone in it). Logits: the odds p(s) / p(not s) = exp(LLR_s),
        computed without the ties that rounding p(s) to 1.0 creates. LLR submissions: the
        submitted values.
    fake: float64 (n,), detection score (higher = more likely fake): -p(real) for
        probabilities, p(fake) / p(real) for logits, -LLR_real for LLR submissions.
    """

    weights: np.ndarray
    total: np.ndarray
    ovr: np.ndarray
    fake: np.ndarray

    @property
    def probs(self) -> np.ndarray:
        """float64 (n, K), rows summing to 1."""
        return self.weights / self.total[:, None]

    def true_probs(self, y_true: np.ndarray) -> np.ndarray:
        """p(true class) per image, float64 (n,)."""
        return self.weights[np.arange(len(y_true)), y_true] / self.total


def _others(e: np.ndarray) -> np.ndarray:
    """sum_{j != s} e[:, j] for every s (n, K), by prefix and suffix sums (no cancellation
    when one column dominates)."""
    k = e.shape[1]
    out = np.empty_like(e, order="F")
    acc = np.zeros(e.shape[0])
    for j in range(k):  # prefix
        out[:, j] = acc
        acc = acc + e[:, j]
    acc = np.zeros(e.shape[0])
    for j in range(k - 1, -1, -1):  # + suffix
        out[:, j] += acc
        acc = acc + e[:, j]
    return out


def score_views(scores: np.ndarray, kind: str) -> ScoreViews:
    """Probabilities and one-vs-rest scores from a validated score matrix, float (n, K).

    kind: ``probs`` (non-negative, rows summing to 1 within the submission tolerance; they are
    renormalised exactly for log loss), ``logits`` (softmax), or ``llr`` (per-source
    one-vs-rest log-likelihood ratios; probabilities are their sigmoids renormalised to sum
    to 1).
    """
    scores = np.asarray(scores, dtype=np.float64, order="F")
    if kind not in SCORE_KINDS:
        raise ValueError(f"unknown score kind {kind!r}")
    with np.errstate(divide="ignore", over="ignore", under="ignore", invalid="ignore"):
        if kind == "probs":
            return ScoreViews(weights=scores, total=scores.sum(1), ovr=scores, fake=-scores[:, 0])
        if kind == "logits":
            e = np.exp(scores - scores.max(1, keepdims=True))
        else:  # sigmoid(llr) = exp(-log(1 + exp(-llr))), stable for any finite llr
            e = np.exp(-np.logaddexp(0.0, -scores))
        total = e.sum(1)
        if kind == "llr":
            return ScoreViews(weights=e, total=total, ovr=scores, fake=-scores[:, 0])
        others = _others(e)
        return ScoreViews(weights=e, total=total, ovr=e / others, fake=others[:, 0] / e[:, 0])


def log_loss_terms(p_true: np.ndarray) -> np.ndarray:
    """Per-image log loss -log p(true), float64 (n,), p clipped to [EPS, 1 - EPS]."""
    return -np.log(np.clip(p_true, EPS, 1 - EPS))


def auc(scores: np.ndarray, positive: np.ndarray) -> float:
    """ROC AUC of ``scores`` (float (n,)) for the boolean labels ``positive`` (n,).

    Mann-Whitney with mid-ranks for ties, from exact integer counts: 2U = sum over positives
    of (#negatives below + #negatives at or below), counted by binary search of the smaller
    class in the sorted larger one. NaN when a class is absent.
    """
    neg, pos = sorted_classes(scores, positive)
    return auc_sorted(neg, pos)


def sorted_classes(scores: np.ndarray, positive: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(sorted scores of the negatives, sorted scores of the positives)."""
    return np.sort(scores[~positive]), np.sort(scores[positive])


def auc_sorted(neg: np.ndarray, pos: np.ndarray) -> float:
    """`auc` from the sorted scores of the negatives and of the positives."""
    n_pos, n_neg = len(pos), len(neg)
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    if n_pos <= n_neg:  # 2U = sum_p (#neg < p + #neg <= p)
        two_u = _below_twice(neg, pos)
    else:  # 2U = 2 |P||N| - sum_q (#pos < q + #pos <= q)
        two_u = 2 * n_pos * n_neg - _below_twice(pos, neg)
    return two_u / (2.0 * n_pos * n_neg)


def _below_twice(ref: np.ndarray, queries: np.ndarray) -> int:
    """sum over sorted ``queries`` of (#ref < q) + (#ref <= q), ``ref`` sorted."""
    left = np.searchsorted(ref, queries, "left")
    total = 2 * int(left.sum(dtype=np.int64))
    inside = left < len(ref)
    tied = inside.copy()
    tied[inside] = ref[left[inside]] == queries[inside]
    if tied.any():  # only queries equal to some ref value need the second search
        q = queries[tied]
        total += int((np.searchsorted(ref, q, "right") - left[tied]).sum(dtype=np.int64))
    return total


@dataclass(frozen=True)
class RankedScores:
    """A score ranked once, for the AUCs of many groupings of the same images.

    packed: int64 (n,) per image, (dense rank of its score << 1) | (1 if negative): equal
    scores share a dense rank; ``bits`` bits hold the rank."""

    packed: np.ndarray
    bits: int

    @classmethod
    def of(cls, scores: np.ndarray, positive: np.ndarray) -> RankedScores:
        order = np.argsort(scores)
        s = scores[order]
        run = np.zeros(len(s), dtype=np.int64)
        np.cumsum(s[1:] != s[:-1], out=run[1:])
        packed = np.empty(len(s), dtype=np.int64)
        packed[order] = run << 1
        packed |= ~np.asarray(positive, dtype=bool)
        return cls(packed, max(1, int(len(s)).bit_length()))


def grouped_auc(ranked: RankedScores, group: np.ndarray, n_groups: int) -> np.ndarray:
    """ROC AUC within each group, all groups in one vectorised pass.

    group: int (n,) group of each image in ``range(n_groups)``, or -1 to leave it out.
    Returns float64 (n_groups,), NaN for a group lacking positives or negatives. Same
    mid-rank definition as `auc`. One sort of keys packing (group, dense rank, label) lines
    up each group's images in score order; a run of equal keys >> 1 is a run of tied scores,
    and 2U = sum over runs of positives x (2 x negatives below the run + negatives in it).
    """
    out = np.full(n_groups, np.nan)
    shift = ranked.bits + 1
    key = group.astype(np.int64) << shift
    key |= ranked.packed
    if (group < 0).any():
        key = key[group >= 0]
    if len(key) == 0:
        return out
    key.sort()
    tie = key >> 1
    starts = np.flatnonzero(np.r_[True, tie[1:] != tie[:-1]])
    cneg = np.cumsum(key & 1)  # negatives up to and including each position
    ends = np.r_[starts[1:], len(key)] - 1
    before = np.r_[0, cneg[ends[:-1]]]  # negatives before each run
    neg_run = cneg[ends] - before
    pos_run = ends - starts + 1 - neg_run
    g_run = key[starts] >> shift
    first = np.flatnonzero(np.r_[True, g_run[1:] != g_run[:-1]])  # first run of each group
    last = np.r_[first[1:], len(starts)] - 1
    groups = g_run[first]
    base = before[first]  # negatives before each group
    weight = pos_run * (2 * (before - np.repeat(base, last - first + 1)) + neg_run)
    cw = np.cumsum(weight)  # exact integers
    two_u = np.zeros(n_groups)
    n_pos = np.zeros(n_groups)
    n_neg = np.zeros(n_groups)
    two_u[groups] = cw[last] - np.r_[0, cw[last[:-1]]]
    n_neg[groups] = before[last] + neg_run[last] - base
    n_pos[groups] = ends[last] - starts[first] + 1 - n_neg[groups]
    ok = (n_pos > 0) & (n_neg > 0)
    out[ok] = two_u[ok] / (2.0 * n_pos[ok] * n_neg[ok])
    return out
