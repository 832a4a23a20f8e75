"""PNG charts of a results record: the confusion matrix and robustness to perturbations.

matplotlib is optional (the ``plots`` extra) and imported only here, through its
object-oriented API (no pyplot global state).
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np

from ..errors import UsageError
from ..spec import NO_PERTURBATION, SPEC, Spec
from .metric_table import METRICS
from .results import ScoreResult

INSTALL_HINT = "pip install 'attribution88[plots]'"


def check_available() -> None:
    """Raise a clear `UsageError` when matplotlib is not installed (checked before scoring)."""
    if importlib.util.find_spec("matplotlib") is None:
        raise UsageError(f"--plots needs matplotlib, which is not installed: {INSTALL_HINT}")


def _save(fig, path: Path) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    from ..atomic import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")


def confusion_figure(result: ScoreResult):
    """Row-normalised confusion matrix, counts written in each cell."""
    from matplotlib.figure import Figure

    labels = list(result.confusion.labels)
    counts = np.array(result.confusion.counts, dtype=np.float64)
    rows = counts.sum(1, keepdims=True)
    share = np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
    fig = Figure(figsize=(7, 6))
    ax = fig.add_subplot()
    im = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("prediction")
    ax.set_ylabel("truth")
    for i in range(len(labels)):
        for j in range(len(labels)):
            ax.text(j, i, f"{int(counts[i, j]):,}", ha="center", va="center", fontsize=7,
                    color="white" if share[i, j] > 0.5 else "black")
    acc = result.metrics.get("attribution_accuracy")
    ax.set_title(f"{result.submission.name}: {METRICS['attribution_accuracy'].label} "
                 f"{acc.value:.4f}" if acc and acc.value is not None else result.submission.name)
    fig.colorbar(im, ax=ax, label="share of the true source's images")
    return fig


def _grid(result: ScoreResult, metric: str, spec: Spec) -> tuple[np.ndarray, np.ndarray]:
    """(values, counts) per perturbation x severity, float64 (P, S); NaN where no images."""
    groups = {g.name: g for g in result.breakdowns.get("perturbation_severity", ())}
    values = np.full((len(spec.perturbations), len(spec.severities)), np.nan)
    counts = np.zeros_like(values)
    for i, p in enumerate(spec.perturbations):
        for j, s in enumerate(spec.severities):
            g = groups.get(f"{p.name}/{s}")
            if g is not None and g.metrics[metric].value is not None:
                values[i, j] = g.metrics[metric].value
                counts[i, j] = g.n
    return values, counts


def robustness_figure(result: ScoreResult, spec: Spec = SPEC):
    """Attribution and detection accuracy per perturbation (rows; unseen ones starred) and
    severity (columns), and the accuracy per severity averaged over the seen and over the
    unseen perturbations (weighted by images), against the clean images' accuracy."""
    from matplotlib.figure import Figure

    groups = {g.name: g for g in result.breakdowns.get("perturbation_severity", ())}
    clean = groups.get(NO_PERTURBATION)
    names = [p.name + ("" if p.seen else " *") for p in spec.perturbations]
    unseen = np.array([not p.seen for p in spec.perturbations])
    fig = Figure(figsize=(15, 7))
    grid = fig.add_gridspec(1, 3, width_ratios=[1, 1, 1.1], wspace=0.45)
    curve = fig.add_subplot(grid[0, 2])
    for k, metric in enumerate(("attribution_accuracy", "detection_accuracy")):
        title, (lo, hi) = METRICS[metric].label, METRICS[metric].bounds
        values, counts = _grid(result, metric, spec)
        ax = fig.add_subplot(grid[0, k])
        ax.imshow(np.ma.masked_invalid(values), cmap="RdYlGn", vmin=lo, vmax=hi, aspect="auto")
        ax.set_xticks(range(len(spec.severities)), [str(s) for s in spec.severities])
        ax.set_yticks(range(len(names)), names, fontsize=8)
        ax.set_xlabel("severity")
        ref = clean.metrics[metric].value if clean else None
        ax.set_title(f"{title}\n(clean: {ref:.3f})" if ref is not None else title, fontsize=10)
        for i in range(values.shape[0]):
            for j in range(values.shape[1]):
                if not np.isnan(values[i, j]):
                    ax.text(j, i, f"{values[i, j]:.2f}", ha="center", va="center", fontsize=7)
        color = f"C{k}"
        for mask, style, label in ((~unseen, "-", "seen perturbations"),
                                   (unseen, ":", "unseen perturbations")):
            n = counts[mask].sum(0)
            mean = np.divide(np.nansum(values[mask] * counts[mask], 0), n,
                             out=np.full(len(n), np.nan), where=n > 0)
            curve.plot(spec.severities, mean, style, color=color, marker="o",
                       label=f"{title}, {label}")
        if ref is not None:
            curve.axhline(ref, color=color, linestyle="--", linewidth=0.8, label=f"{title}, clean")
    curve.set_xticks(spec.severities)
    curve.set_xlabel("severity")
    curve.set_ylim(0, 1.02)
    curve.grid(alpha=0.3)
    curve.set_title("mean over perturbations", fontsize=10)
    curve.legend(fontsize=7, loc="lower left")
    fig.suptitle(f"{result.submission.name}: robustness to perturbations (* unseen in training)")
    return fig


def write_plots(result: ScoreResult, out_dir: str | os.PathLike, spec: Spec = SPEC) -> list[Path]:
    """Write ``confusion.png`` and ``robustness.png`` into ``out_dir`` (created if needed)."""
    check_available()
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--plots {out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    paths = [out / "confusion.png", out / "robustness.png"]
    _save(confusion_figure(result), paths[0])
    _save(robustness_figure(result, spec), paths[1])
    return paths


def adversarial_figure(report):
    """Attribution and detection error against the budget eps, with the bootstrap intervals."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 4))
    ax = fig.add_subplot()
    eps = [e.eps for e in report.per_eps]
    for key, style in (("attribution_error", "o-"), ("detection_error", "s--")):
        values = [getattr(e, key).value for e in report.per_eps]
        ax.plot(eps, values, style, label=METRICS[key].label)
        low = [getattr(e, key).low for e in report.per_eps]
        high = [getattr(e, key).high for e in report.per_eps]
        if all(v is not None for v in low + high):
            ax.fill_between(eps, low, high, alpha=0.2)
    ax.set_xlabel("L-infinity budget eps (x 1/255)")
    ax.set_ylabel("error")
    ax.set_ylim(*METRICS["attribution_error"].bounds)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title(f"PGD, {report.steps} steps, {report.n} images: {report.model}", fontsize=9)
    return fig


def write_adversarial_plot(report, out_dir: str | os.PathLike) -> Path:
    """Write ``adversarial.png`` into ``out_dir`` (created if needed)."""
    check_available()
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--plots {out}: exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    _save(adversarial_figure(report), out / "adversarial.png")
    return out / "adversarial.png"
