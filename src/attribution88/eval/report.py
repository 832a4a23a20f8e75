"""Plain-text tables of a results record, for the terminal (ASCII only)."""

from __future__ import annotations

import math

from . import metric_table as mt
from .results import CompareResult, Estimate, GroupResult, ScoreResult

#: Breakdowns printed by default (the others with ``--all``; every one is in ``--json``).
DEFAULT_BREAKDOWNS = ("subset", "perturbation", "severity")


def _num(x: float | None, digits: int = 4) -> str:
    return "-" if x is None or math.isnan(x) else f"{x:.{digits}f}"


def _ci(e: Estimate, digits: int = 4) -> str:
    if e.low is None or e.high is None:
        return ""
    return f"[{_num(e.low, digits)}, {_num(e.high, digits)}]"


def _table(header: list[str], rows: list[list[str]], align: str | None = None) -> list[str]:
    """Columns padded to their widest cell; ``align`` gives l/r per column."""
    align = align or "l" + "r" * (len(header) - 1)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def fmt(r: list[str]) -> str:
        cells = [c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(r, widths, align)]
        return "  " + "  ".join(cells).rstrip()

    return [fmt(header)] + [fmt(r) for r in rows]


def _short_hash(h: str | None) -> str:
    return f"{h[:12]}" if h else "-"


def render(result: ScoreResult, breakdowns: tuple[str, ...] | None = DEFAULT_BREAKDOWNS) -> str:
    """The terminal report of a scored submission. ``breakdowns``: which to print (None: all)."""
    sub, truth, boot = result.submission, result.truth, result.bootstrap
    used = "pred" if sub.predictions == "pred" else ""
    if sub.score_kind:
        kind = f"scores ({sub.score_kind}, {'declared' if sub.score_kind_declared else 'auto-detected'})"
        used = f"{used} + {kind}" if used else kind
    if sub.fake_score:
        used += " + fake_score"
    lines = [f"Attribution88 scores of {sub.name}", ""]
    lines += _table(["", ""], [
        ["submission", f"{sub.name}  sha256 {_short_hash(sub.sha256)}  {sub.rows:,} rows  {used}"],
        ["truth", f"{truth.location}  config {truth.config}, split {truth.split}  spec "
                  f"{truth.spec_version} ({truth.protocol_name})  fingerprint {_short_hash(truth.fingerprint)}"],
        ["intervals", f"{boot.level:.0%} bootstrap over images, {boot.resamples:,} resamples, seed {boot.seed}"
         if boot.resamples else "none (--resamples 0)"],
    ], "ll")[1:]
    lines.append("")

    level = f"{boot.level:.0%} CI" if boot.resamples else ""
    rows = [[mt.label(m), _num(e.value), _ci(e)] for m, e in result.metrics.items()]
    lines += _table(["metric", "value", level], rows, "lrl")
    lines.append("")

    per = result.overall.per_source
    has_auc = any("auc" in m for m in per.values())
    header = (["source", mt.short("recall"), level, mt.short("precision"), mt.short("f1")]
              + ([mt.short("auc")] if has_auc else []))
    rows = []
    for name, m in per.items():
        row = [name, _num(m["recall"].value), _ci(m["recall"]), _num(m["precision"].value),
               _num(m["f1"].value)]
        if has_auc:
            row.append(_num(m["auc"].value) if "auc" in m else "-")
        rows.append(row)
    lines += _table(header, rows, "lrlrr" + "r" * has_auc)
    lines.append("")

    conf = result.confusion
    lines.append("  confusion matrix (rows: truth, columns: prediction)")
    lines += _table([""] + list(conf.labels),
                    [[label] + [f"{c:,}" for c in row] for label, row in zip(conf.labels, conf.counts)])

    names = breakdowns if breakdowns is not None else tuple(result.breakdowns)
    for name in names:
        groups = result.breakdowns.get(name)
        if groups:
            lines.append("")
            lines += _breakdown(result.breakdown_titles.get(name, name), groups, bool(boot.resamples))
    hidden = [n for n in result.breakdowns if n not in names]
    if hidden:
        lines += ["", f"  more breakdowns ({', '.join(hidden)}): --all, or --json"]
    if result.warnings:
        lines.append("")
        lines += [f"  warning: {w}" for w in result.warnings]
    return "\n".join(lines) + "\n"


def _breakdown(title: str, groups: tuple[GroupResult, ...], with_ci: bool) -> list[str]:
    metrics = [m.key for m in mt.of_scope("group") if any(m.key in g.metrics for g in groups)]
    header = [f"by {title}", "n"]
    for m in metrics:
        header.append(mt.short(m))
        if with_ci and m == "attribution_accuracy":
            header.append("")
    rows = []
    for g in groups:
        row = [g.name, f"{g.n:,}"]
        for m in metrics:
            e = g.metrics.get(m, Estimate(None))
            row.append(_num(e.value))
            if with_ci and m == "attribution_accuracy":
                row.append(_ci(e))
        rows.append(row)
    align = "lr" + "".join("rl" if (with_ci and m == "attribution_accuracy") else "r" for m in metrics)
    return _table(header, rows, align)


def render_compare(result: CompareResult) -> str:
    """The terminal report of `attribution88 compare`."""
    boot = result.bootstrap
    lines = [f"Attribution88: {result.a.name} (A) vs {result.b.name} (B) on the same "
             f"{result.n:,} images", ""]
    lines += _table(["", ""], [
        ["A", f"{result.a.name}  sha256 {_short_hash(result.a.sha256)}"],
        ["B", f"{result.b.name}  sha256 {_short_hash(result.b.sha256)}"],
        ["truth", f"{result.truth.location}  config {result.truth.config}, split "
                  f"{result.truth.split}  spec {result.truth.spec_version}"],
        ["intervals", f"{boot.level:.0%}, paired bootstrap over images, {boot.resamples:,} "
                      f"resamples, seed {boot.seed}" if boot.resamples else "none (--resamples 0)"],
    ], "ll")[1:]
    lines.append("")
    rows = []
    for m, d in result.differences.items():
        ci = f"[{_num(d.low)}, {_num(d.high)}]" if d.low is not None else ""
        p = "-" if d.p_value is None else f"{d.p_value:.3g}"
        if d.mid_p_value is not None:
            p += f" (mid-p {d.mid_p_value:.3g})"
        rows.append([mt.label(m), _num(d.a), _num(d.b), f"{d.difference:+.4f}"
                     if d.difference is not None else "-", ci, p, d.test])
    lines += _table(["metric", "A", "B", "A - B", f"{boot.level:.0%} CI", "p-value", "test"],
                    rows, "lrrrlll")
    c = result.contingency
    if c:
        lines += ["", f"  attribution: both right {c['both_right']:,}, only A right "
                      f"{c['only_a_right']:,}, only B right {c['only_b_right']:,}, both wrong "
                      f"{c['both_wrong']:,}"]
    return "\n".join(lines) + "\n"
