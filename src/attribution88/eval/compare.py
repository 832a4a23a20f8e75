"""Do two submissions differ? A paired comparison on the same images.

Both submissions are validated against the same truth, then lined up image by image:

- attribution accuracy: exact McNemar test on the images where exactly one of the two is
  right (p-value and mid-p-value), with a paired-bootstrap interval of the difference;
- detection accuracy, NMI, macro-F1: paired bootstrap over images. The joint counts of
  (truth, prediction A, prediction B) are resampled (multinomial, exact as in `bootstrap`),
  both confusion matrices follow from each resample, and the interval of A - B is the
  bias-corrected percentile interval of the replicated differences; the p-value is the share
  of centred replicates at least as far from 0 as the observed difference;
- log loss (both with scores): paired bootstrap of the mean per-image difference;
- detection AUC (both with detection scores): DeLong's test for two correlated AUCs.
"""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from .. import __version__
from ..spec import SPEC, Spec
from .bootstrap import (
    DEFAULT_LEVEL,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    bootstrap_p_value,
    delong,
    generator,
    interval,
    mcnemar,
    mean_replicates,
    resample_counts,
)
from .join import match_ids
from .metrics import SCALAR_METRICS, auc, confusion_metrics
from .results import BootstrapInfo, CompareResult, Difference
from .scoring import prepare, submission_info
from .submission import Submission
from .truth import Truth


def compare_submissions(a: Submission, b: Submission, truth: Truth, *,
                        resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED,
                        level: float = DEFAULT_LEVEL, spec: Spec = SPEC) -> CompareResult:
    """Paired comparison of submissions ``a`` and ``b`` on ``truth`` (differences are A - B)."""
    pa_, pb = prepare(a, truth), prepare(b, truth)
    rows = match_ids(pb.submission.ids, pa_.submission.ids, b.label)  # b row -> a row

    def in_a_order(x: np.ndarray | None) -> np.ndarray | None:
        if x is None or rows is None:
            return x
        out = np.empty_like(x)
        out[rows] = x
        return out

    y = pa_.y
    pred_a, pred_b = pa_.pred.astype(np.int64), in_a_order(pb.pred).astype(np.int64)
    k = len(spec.sources)
    joint = np.bincount((y.astype(np.int64) * k + pred_a) * k + pred_b, minlength=k ** 3).reshape(k, k, k)
    point_a, point_b = confusion_metrics(joint.sum(2)), confusion_metrics(joint.sum(1))
    reps_a = reps_b = None
    if resamples:
        reps = resample_counts(joint, resamples, generator(seed, "compare/joint"))
        reps_a, reps_b = confusion_metrics(reps.sum(3)), confusion_metrics(reps.sum(2))

    differences: dict[str, Difference] = {}
    right_a, right_b = pred_a == y, pred_b == y
    only_a = int(np.count_nonzero(right_a & ~right_b))
    only_b = int(np.count_nonzero(~right_a & right_b))
    p_exact, p_mid = mcnemar(only_a, only_b)
    for m in SCALAR_METRICS:
        va, vb = float(point_a[m]), float(point_b[m])
        diff = va - vb
        low = high = p = None
        if reps_a is not None:
            d = reps_a[m] - reps_b[m]
            lo, hi = interval(d[:, None], level, diff)
            low, high = float(lo[0]), float(hi[0])
            p = bootstrap_p_value(d, diff)
        if m == "attribution_accuracy":
            differences[m] = Difference(va, vb, diff, low, high, p_exact, "McNemar exact", p_mid)
        else:
            differences[m] = Difference(va, vb, diff, low, high, p, "paired bootstrap")

    det_a, det_b = pa_.detection, in_a_order(pb.detection)
    if det_a is not None and det_b is not None:
        r = delong(det_a, det_b, y > 0, level)
        differences["detection_auc"] = Difference(
            auc(det_a, y > 0), auc(det_b, y > 0), r["difference"], r["low"], r["high"],
            r["p_value"], "DeLong")
    loss_a, loss_b = pa_.loss, in_a_order(pb.loss)
    if loss_a is not None and loss_b is not None:
        d = loss_a - loss_b
        diff = float(d.mean())
        low = high = p = None
        if resamples:
            reps = mean_replicates(d, resamples, generator(seed, "compare/log_loss"))
            lo, hi = interval(reps[:, None], level, diff)
            low, high, p = float(lo[0]), float(hi[0]), bootstrap_p_value(reps, diff)
        differences["log_loss"] = Difference(float(loss_a.mean()), float(loss_b.mean()), diff,
                                             low, high, p, "paired bootstrap")

    return CompareResult(
        tool_version=__version__,
        compared_at=datetime.now(UTC).isoformat(timespec="seconds"),
        a=submission_info(a), b=submission_info(b), truth=truth.info,
        bootstrap=BootstrapInfo(resamples=resamples, seed=seed, level=level),
        n=len(y), differences=differences,
        contingency={"both_right": int(np.count_nonzero(right_a & right_b)),
                     "only_a_right": only_a, "only_b_right": only_b,
                     "both_wrong": int(np.count_nonzero(~right_a & ~right_b))})
