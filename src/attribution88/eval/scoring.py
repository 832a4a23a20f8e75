"""Scoring a submission against a truth: every metric, its interval, every breakdown.

`score` takes the parsed submission and the truth as arrays, so it runs the same on a file
read by `read_submission` and `load_truth` as on a million rows made in memory.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from .. import __version__
from ..spec import SPEC, Spec
from .bootstrap import (
    DEFAULT_LEVEL,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    auc_replicates,
    generator,
    interval,
    mean_replicates,
    resample_counts,
)
from .breakdown import BasePartition, Breakdown, breakdowns
from .join import align_truth
from .metrics import (
    SCALAR_METRICS,
    SOURCE_METRICS,
    RankedScores,
    ScoreViews,
    auc_sorted,
    confusion_matrix,
    confusion_metrics,
    grouped_auc,
    log_loss_terms,
    score_views,
    sorted_classes,
)
from .results import (
    BootstrapInfo,
    Confusion,
    Estimate,
    GroupResult,
    ScoreResult,
    SubmissionInfo,
)
from .submission import Submission
from .truth import Truth

#: Resamples per chunk when computing metrics of bootstrap replicates (bounds memory).
_CHUNK = 100


@dataclass(frozen=True)
class Prepared:
    """A submission with the truth aligned to it, and what the metrics need (all in the
    submission's row order).

    truth: the truth, rows in submission order; y: int8 (n,) true source; pred: int8 (n,)
    predicted source; views: score views or None; detection: float64 (n,) detection score
    (``fake_score``, else from the scores) or None; loss: float64 (n,) per-image log loss or
    None."""

    submission: Submission
    truth: Truth
    y: np.ndarray
    pred: np.ndarray
    views: ScoreViews | None
    detection: np.ndarray | None
    loss: np.ndarray | None


def prepare(submission: Submission, truth: Truth) -> Prepared:
    """Match the submission's ids to the truth (raising on any mismatch) and derive scores."""
    sub = submission
    truth = align_truth(sub.ids, truth, sub.label)
    y = truth.source
    views = score_views(sub.scores, sub.score_kind) if sub.scores is not None else None
    detection = sub.fake_score if sub.fake_score is not None else (views.fake if views else None)
    loss = log_loss_terms(views.true_probs(y)) if views is not None else None
    return Prepared(sub, truth, y, sub.predictions(), views, detection, loss)


def _estimates(point: np.ndarray, reps: np.ndarray | None, level: float) -> list[Estimate]:
    """Estimates for a vector of points (G,) and replicates (R, G) (or None)."""
    if reps is None:
        return [Estimate(float(v)) for v in point]
    low, high = interval(reps, level, point)
    return [Estimate(float(v), float(lo), float(hi)) for v, lo, hi in zip(point, low, high)]


def _confusion_estimates(cm: np.ndarray, reps: np.ndarray | None, level: float
                         ) -> dict[str, list[Estimate]]:
    """Metric estimates of confusion matrices (G, K, K) with replicates (R, G, K, K): per
    scalar metric one estimate per group; per source metric G x K, group-major."""
    point = confusion_metrics(cm)
    names = SCALAR_METRICS + SOURCE_METRICS
    rep_values: dict[str, list[np.ndarray]] = {m: [] for m in names}
    if reps is not None:
        for start in range(0, reps.shape[0], _CHUNK):
            chunk = confusion_metrics(reps[start:start + _CHUNK])
            for m in names:
                rep_values[m].append(chunk[m])
    out: dict[str, list[Estimate]] = {}
    for m in names:
        r = np.concatenate(rep_values[m]) if reps is not None else None
        if point[m].ndim == 1:  # scalar per group
            out[m] = _estimates(point[m], r, level)
        else:  # (G, K), flattened group-major
            g, k = point[m].shape
            out[m] = _estimates(point[m].ravel(),
                                None if r is None else r.reshape(r.shape[0], g * k), level)
    return out


class _Scorer:
    def __init__(self, prep: Prepared, truth: Truth, resamples: int, seed: int, level: float,
                 spec: Spec) -> None:
        self.prep, self.truth, self.spec = prep, truth, spec
        self.resamples, self.seed, self.level = resamples, seed, level
        self.k = len(spec.sources)
        self._auc_cache: dict[tuple[str, frozenset], float] = {}

    def rng(self, purpose: str) -> np.random.Generator:
        return generator(self.seed, purpose)

    def overall(self, cm: np.ndarray, cm_reps: np.ndarray | None) -> GroupResult:
        est = _confusion_estimates(cm[None], None if cm_reps is None else cm_reps[:, None], self.level)
        metrics = {m: est[m][0] for m in SCALAR_METRICS}
        p, r = self.prep, self.resamples
        if p.detection is not None:
            metrics["detection_auc"] = self._auc(p.detection, p.y > 0, "auc/detection")
        if p.loss is not None:
            value = float(p.loss.mean())
            if r:
                reps = mean_replicates(p.loss, r, self.rng("log_loss"))
                lo, hi = interval(reps[:, None], self.level, value)
                metrics["log_loss"] = Estimate(value, float(lo[0]), float(hi[0]))
            else:
                metrics["log_loss"] = Estimate(value)
        per_source = {}
        for s, source in enumerate(self.spec.sources):
            entry = {m: est[m][s] for m in SOURCE_METRICS}
            if p.views is not None:
                entry["auc"] = self._auc(p.views.ovr[:, s], p.y == s, f"auc/{source.name}")
            per_source[source.name] = entry
        return GroupResult("all", int(cm.sum()), metrics, per_source)

    def _auc(self, scores: np.ndarray, positive: np.ndarray, purpose: str) -> Estimate:
        neg, pos = sorted_classes(scores, positive)
        value = auc_sorted(neg, pos)
        if not self.resamples or math.isnan(value):
            return Estimate(value)
        reps = auc_replicates(neg, pos, value, self.resamples, self.rng(purpose))
        lo, hi = interval(reps[:, None], self.level, value)
        return Estimate(value, float(lo[0]), float(hi[0]))

    @functools.cached_property
    def ranked_detection(self) -> RankedScores:
        return RankedScores.of(self.prep.detection, self.prep.y > 0)

    def base_loss_sums(self, base: BasePartition) -> np.ndarray:
        """Sum of per-image log loss in each base group (pairwise sums, float64 (G,))."""
        order = np.argsort(base.codes.astype(np.int16), kind="stable")
        loss = self.prep.loss[order]
        bounds = np.r_[0, np.cumsum(base.counts())]
        return np.array([loss[bounds[i]:bounds[i + 1]].sum() for i in range(base.size)])

    def grouped_detection_auc(self, bd: Breakdown, base: BasePartition) -> np.ndarray:
        """Detection AUC of each group of ``bd``, float64 (G,): one pass per family of
        disjoint groups not computed before (most breakdowns are one family; overlapping
        subsets two; a subset equal to a test group is reused)."""
        out = np.full(len(bd.groups), np.nan)
        families: list[list[int]] = []
        taken: list[set[int]] = []
        for g, (_, members) in enumerate(bd.groups):
            cached = self._auc_cache.get((base.name, frozenset(members)))
            if cached is not None:
                out[g] = cached
                continue
            for family, used in zip(families, taken):
                if used.isdisjoint(members):
                    family.append(g)
                    used.update(members)
                    break
            else:
                families.append([g])
                taken.append(set(members))
        for family in families:
            lut = np.full(base.size, -1, dtype=np.int64)
            for local, g in enumerate(family):
                lut[list(bd.groups[g][1])] = local
            out[family] = grouped_auc(self.ranked_detection, lut[base.codes], len(family))
            for g in family:
                self._auc_cache[(base.name, frozenset(bd.groups[g][1]))] = float(out[g])
        return out

    def breakdown(self, bd: Breakdown, base: BasePartition, base_cm: np.ndarray,
                  base_reps: np.ndarray | None, loss_sums: np.ndarray | None
                  ) -> tuple[GroupResult, ...]:
        if all(len(members) == 1 for _, members in bd.groups):
            pick = [members[0] for _, members in bd.groups]
            cm = base_cm[pick]
            reps = None if base_reps is None else base_reps[:, pick]
        else:
            cm = np.stack([base_cm[list(members)].sum(0) for _, members in bd.groups])
            reps = None if base_reps is None else np.stack(
                [base_reps[:, list(members)].sum(1) for _, members in bd.groups], axis=1)
        est = _confusion_estimates(cm, reps, self.level)
        p = self.prep
        det_auc = self.grouped_detection_auc(bd, base) if p.detection is not None else None
        out = []
        for g, (name, members) in enumerate(bd.groups):
            n = int(cm[g].sum())
            metrics = {m: est[m][g] for m in SCALAR_METRICS}
            if det_auc is not None:
                metrics["detection_auc"] = Estimate(float(det_auc[g]))
            if loss_sums is not None:
                metrics["log_loss"] = Estimate(float(loss_sums[list(members)].sum()) / n)
            per_source = {s.name: {m: est[m][g * self.k + s.index] for m in SOURCE_METRICS}
                          for s in self.spec.sources}
            out.append(GroupResult(name, n, metrics, per_source))
        return tuple(out)


def submission_info(sub: Submission) -> SubmissionInfo:
    """What the results record says about a submission."""
    f = sub.file
    return SubmissionInfo(
        name=sub.label, sha256=f.sha256 if f else None, bytes=f.bytes if f else None,
        rows=sub.n, columns=sub.columns, predictions="pred" if sub.pred is not None else "scores",
        score_kind=sub.score_kind, score_kind_declared=sub.score_kind_declared,
        fake_score=sub.fake_score is not None, compression=f.compression if f else None)


def score(submission: Submission, truth: Truth, *, resamples: int = DEFAULT_RESAMPLES,
          seed: int = DEFAULT_SEED, level: float = DEFAULT_LEVEL, with_breakdowns: bool = True,
          spec: Spec = SPEC) -> ScoreResult:
    """Score ``submission`` against ``truth``: every metric with a ``level`` interval from
    ``resamples`` bootstrap resamples over images (0: no intervals), and every breakdown."""
    if resamples < 0:
        raise ValueError("resamples must be >= 0")
    if not 0 < level < 1:
        raise ValueError("level must be in (0, 1)")
    prep = prepare(submission, truth)
    truth = prep.truth
    scorer = _Scorer(prep, truth, resamples, seed, level, spec)
    k = len(spec.sources)
    bases, bds = breakdowns(truth, spec)
    base_cm = {b.name: confusion_matrix(prep.y, prep.pred, k, b.codes, b.size) for b in bases}
    base_reps = {b.name: (resample_counts(base_cm[b.name], resamples, scorer.rng(f"confusion/{b.name}"))
                          if resamples else None) for b in bases}
    first = bases[0].name
    cm = base_cm[first].sum(0)
    overall = scorer.overall(cm, None if base_reps[first] is None else base_reps[first].sum(1))

    results, titles = {}, {}
    if with_breakdowns:
        by_name = {b.name: b for b in bases}
        loss_sums = {b.name: scorer.base_loss_sums(b) for b in bases} if prep.loss is not None else {}
        for bd in bds:
            base = by_name[bd.base]
            results[bd.name] = scorer.breakdown(bd, base, base_cm[base.name], base_reps[base.name],
                                                loss_sums.get(base.name))
            titles[bd.name] = bd.title

    sub = prep.submission
    warnings = list(sub.warnings)
    if sub.scores is not None and not sub.score_kind_declared:
        warnings.append(f"scores read as {sub.score_kind} (auto-detected; declare with --scores)")
    info = submission_info(sub)
    confusion = Confusion(tuple(spec.source_names), tuple(tuple(int(c) for c in row) for row in cm))
    return ScoreResult(
        tool_version=__version__,
        scored_at=datetime.now(UTC).isoformat(timespec="seconds"),
        submission=info, truth=truth.info,
        bootstrap=BootstrapInfo(resamples=resamples, seed=seed, level=level),
        overall=overall, confusion=confusion, breakdowns=results, breakdown_titles=titles,
        warnings=tuple(warnings))
