"""What cleaning did to a cell, measured the same way for three selections of the same
candidates: ours (`attribution88.builders.clean.clean`), random selection (diversity, no
cleaning) and Yu et al.'s N closest (quality, no diversity). Stored in the build notes,
printed in the build log and rendered as the dataset card's tables.

Per selection (and for all candidates, as the reference):

- quality: mean and 90th percentile of the nearest-real LPIPS; the share of the selection
  among the worst third of the candidates (the floor(N/3) farthest from any real, ties to
  the higher index): random keeps ~33%;
- diversity: mean LPIPS over all pairs of the selection; how many of the candidates' k-means
  clusters (n_keep clusters of all candidates, the clustering `clean` uses) it touches;
- FID against the reals (torchmetrics, `attribution88.builders.fid`) when the build was given
  Inception weights; None otherwise (``fid_note`` says why).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import numpy as np

from attribution88.errors import UsageError
from attribution88.versioned import read_version

__all__ = ["CleaningStats", "SELECTIONS", "SelectionStats", "cleaning_table", "log_summary",
           "measure_selection", "worst_third"]

STATS_VERSION = 2
#: The selections compared, in table order, with their display names.
SELECTIONS = {"ours": "ours", "random": "random", "yu": "Yu et al. (N closest)"}


def _nan_to_none(d: dict[str, Any]) -> dict[str, Any]:
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in d.items()}


@dataclass(frozen=True)
class SelectionStats:
    """One selection of a cell's candidates. LPIPS values are squared feature distances."""

    n: int
    nearest_real_mean: float
    nearest_real_p90: float
    worst_third_share: float  # of the selection, among the floor(N/3) candidates farthest from a real
    diversity: float  # mean pairwise LPIPS; NaN for fewer than 2
    clusters_covered: int  # of the candidates' k-means clusters
    fid: float | None = None  # against the reals; None when not computed

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SelectionStats:
        names = {f.name for f in fields(cls)}
        return cls(**{k: (math.nan if v is None and k != "fid" else v)
                      for k, v in data.items() if k in names})


def worst_third(nearest_distance: np.ndarray) -> np.ndarray:
    """Bool mask (Nc,): the floor(Nc/3) candidates farthest from any real (ties: higher index
    counts as farther)."""
    d = np.asarray(nearest_distance)
    order = np.lexsort((np.arange(len(d)), d))
    mask = np.zeros(len(d), bool)
    mask[order[len(d) - len(d) // 3:]] = True
    return mask


def measure_selection(rows: np.ndarray | None, nearest: np.ndarray, worst: np.ndarray,
                      labels: np.ndarray, diversity: Callable[[np.ndarray | None], float]
                      ) -> SelectionStats:
    """`SelectionStats` of candidates ``rows`` (None: all). ``nearest``: nearest-real LPIPS
    per candidate; ``worst``: `worst_third` mask; ``labels``: k-means cluster per candidate;
    ``diversity(rows)``: mean pairwise LPIPS."""
    idx = np.arange(len(nearest)) if rows is None else np.asarray(rows, np.int64)
    d = nearest[idx]
    return SelectionStats(
        n=int(len(idx)),
        nearest_real_mean=float(d.mean()) if len(d) else math.nan,
        nearest_real_p90=float(np.quantile(d, 0.9)) if len(d) else math.nan,
        worst_third_share=float(worst[idx].mean()) if len(idx) else math.nan,
        diversity=float(diversity(rows)),
        clusters_covered=int(len(np.unique(labels[idx]))))


@dataclass(frozen=True)
class CleaningStats:
    """What cleaning did to one cell.

    ``candidates``: all candidates; ``ours``, ``random``, ``yu``: the three selections of
    ``n_kept``. Clusters: the ``clusters`` k-means clusters of all candidates (sizes,
    clusters of one), ``dropped_clusters`` (whose member nearest a real is among the
    ``rejected`` candidates farthest from a real, so none of it is kept), ``topped_up``
    (places those freed, given to the next candidates nearest a real).
    """

    n_candidates: int
    n_reals: int
    n_kept: int
    k: int
    shortlist: str  # "exact" or "pca-<dim>"
    reject_fraction: float
    rejected: int
    clusters: int
    empty_clusters: int
    cluster_size_min: int
    cluster_size_median: float
    cluster_size_max: int
    singleton_clusters: int
    dropped_clusters: int
    topped_up: int
    candidates: SelectionStats
    ours: SelectionStats
    random: SelectionStats
    yu: SelectionStats
    overlap_ours_yu: int
    fid_note: str = "not computed: no Inception weights given"
    version: int = STATS_VERSION

    def selections(self) -> dict[str, SelectionStats]:
        return {name: getattr(self, name) for name in SELECTIONS}

    def with_fid(self, fids: Mapping[str, float], note: str) -> CleaningStats:
        """A copy with FID of each selection (keys of `SELECTIONS`, plus ``candidates``)."""
        return replace(self, fid_note=note, **{
            name: replace(getattr(self, name), fid=float(v)) for name, v in fids.items()})

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: NaN becomes None."""
        out = _nan_to_none(asdict(self))
        for name in ("candidates", *SELECTIONS):
            out[name] = _nan_to_none(out[name])
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "cleaning stats") -> CleaningStats:
        read_version(data, where=where, supported=STATS_VERSION, error=UsageError, exact=True,
                     remedy="rebuild the dataset card")
        names = {f.name for f in fields(cls)}
        kw = {k: (math.nan if v is None else v) for k, v in data.items() if k in names}
        for name in ("candidates", *SELECTIONS):
            kw[name] = SelectionStats.from_dict(data[name])
        return cls(**kw)


# -- reporting --------------------------------------------------------------------------------
def _f(x: float | None, digits: int = 4) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def _pct(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{100 * x:.1f}%"


def log_summary(cell: str, s: CleaningStats | Mapping[str, Any]) -> str:
    """One line for the build log: every selection's quality and diversity (``s``: the stats
    or their `CleaningStats.to_dict` form)."""
    s = s if isinstance(s, CleaningStats) else CleaningStats.from_dict(s)
    parts = []
    for name, label in (("candidates", "all"), *((n, n) for n in SELECTIONS)):
        v: SelectionStats = getattr(s, name)
        parts.append(f"{label} {_f(v.nearest_real_mean)}/{_f(v.nearest_real_p90)}/"
                     f"{_pct(v.worst_third_share)}/{_f(v.diversity)}/{v.clusters_covered}"
                     + (f"/FID {v.fid:.2f}" if v.fid is not None else ""))
    return (f"{cell}: kept {s.n_kept}/{s.n_candidates} (reals {s.n_reals}, shortlist {s.shortlist}, "
            f"k={s.k}, rejected {s.rejected}, clusters dropped {s.dropped_clusters}); "
            f"nearest-real LPIPS mean/p90/worst-third share/diversity/clusters covered of "
            f"{s.clusters}: " + "; ".join(parts))


_HEAD = ["selection", "images", "nearest-real LPIPS: mean", "90th pct", "share of worst third",
         "diversity (mean pairwise LPIPS)", "clusters covered", "FID"]


def _row(label: str, v: SelectionStats, clusters: int) -> str:
    cells = [label, str(v.n), _f(v.nearest_real_mean), _f(v.nearest_real_p90),
             _pct(v.worst_third_share), _f(v.diversity), f"{v.clusters_covered}/{clusters}",
             _f(v.fid, 2)]
    return "| " + " | ".join(cells) + " |"


def _table(rows: list[str]) -> list[str]:
    return ["| " + " | ".join(_HEAD) + " |", "|" + "---|" * len(_HEAD), *rows]


def cleaning_table(stats_by_cell: Mapping[str, CleaningStats | dict[str, Any]],
                   method: str = "") -> str:
    """Markdown for the dataset card: ``method`` (a paragraph), a summary over cells (means of
    each figure, clusters summed), then one table per cell (sorted by name) comparing every
    selection. Values are `CleaningStats` or their `CleaningStats.to_dict` form."""
    stats = {cell: s if isinstance(s, CleaningStats) else CleaningStats.from_dict(s)
             for cell, s in stats_by_cell.items()}
    out = [method.strip()] if method.strip() else []
    if not stats:
        return "\n\n".join(out) + "\n"
    total_clusters = sum(s.clusters for s in stats.values())
    summary = []
    for name, label in (("candidates", "all candidates"), *SELECTIONS.items()):
        vals = [getattr(s, name) for s in stats.values()]
        mean = lambda attr: float(np.nanmean([getattr(v, attr) for v in vals]))  # noqa: E731
        fids = [v.fid for v in vals if v.fid is not None]
        summary.append(_row(label, SelectionStats(
            n=sum(v.n for v in vals), nearest_real_mean=mean("nearest_real_mean"),
            nearest_real_p90=mean("nearest_real_p90"), worst_third_share=mean("worst_third_share"),
            diversity=mean("diversity"), clusters_covered=sum(v.clusters_covered for v in vals),
            fid=float(np.mean(fids)) if len(fids) == len(vals) else None), total_clusters))
    notes = sorted({s.fid_note for s in stats.values()})
    out.append(f"**All {len(stats)} cells** (means over cells; images and clusters summed). "
               f"FID: {'; '.join(notes)}.\n\n" + "\n".join(_table(summary)))
    for cell in sorted(stats):
        s = stats[cell]
        rows = [_row("all candidates", s.candidates, s.clusters)]
        rows += [_row(label, getattr(s, name), s.clusters) for name, label in SELECTIONS.items()]
        out.append(
            f"### {cell}\n\n{s.n_candidates} candidates, {s.n_reals} reals, shortlist {s.shortlist} "
            f"(k = {s.k}); {s.clusters} clusters of {s.cluster_size_min}-{s.cluster_size_max} "
            f"candidates (median {s.cluster_size_median:g}, {s.singleton_clusters} of one); "
            f"{s.rejected} rejected as farthest from a real, {s.dropped_clusters} clusters "
            f"dropped, {s.topped_up} places topped up.\n\n" + "\n".join(_table(rows)))
    return "\n\n".join(out) + "\n"
