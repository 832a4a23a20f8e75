"""Charts of an entry as plain geometry (boxes, lines, labels, in SVG user units), drawn as
inline SVG by the site's templates: no script, no image request, no plotting library.

Colours: accuracies on a white-to-blue ramp (0 white, 1 dark blue), so the darkest cell is the
best; the text on a cell turns white where the fill is dark.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from attribution88.eval.metric_table import MetricInfo
from attribution88.spec import NO_PERTURBATION, SPEC, Spec

_LIGHT, _DARK = (247, 251, 255), (8, 48, 107)


def ramp(share: float) -> str:
    """The fill of a cell holding ``share`` in [0, 1] (``#rrggbb``)."""
    t = min(max(share, 0.0), 1.0)
    return "#" + "".join(f"{round(a + (b - a) * t):02x}" for a, b in zip(_LIGHT, _DARK))


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    w: float
    h: float
    fill: str
    text: str = ""
    dark: bool = False
    title: str = ""  # the tooltip (an SVG <title>)


@dataclass(frozen=True)
class Label:
    x: float
    y: float
    text: str
    anchor: str = "middle"  # SVG text-anchor
    rotate: float = 0.0


@dataclass(frozen=True)
class Line:
    points: str  # SVG polyline points, "x,y x,y ..."
    css: str  # a class of site.css: the line's colour and dash
    label: str
    markers: tuple[tuple[float, float, str], ...] = ()  # (x, y, tooltip)


@dataclass
class Chart:
    width: float
    height: float
    title: str
    boxes: list[Box] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    axes: list[tuple[float, float, float, float]] = field(default_factory=list)  # x1 y1 x2 y2
    legend: list[tuple[str, str]] = field(default_factory=list)  # (css class, text)


def confusion_chart(labels: list[str], counts: list[list[int]]) -> Chart:
    """Rows truth, columns prediction; each cell's fill is its share of the true source's
    images, its text the count."""
    cell, left, top = 44, 96, 88
    k = len(labels)
    chart = Chart(left + cell * k + 8, top + cell * k + 8,
                  "Confusion matrix: rows are the true source, columns the prediction; shade = "
                  "share of the true source's images")
    for i, row in enumerate(counts):
        total = sum(row)
        chart.labels.append(Label(left - 6, top + cell * i + cell / 2 + 4, labels[i], "end"))
        for j, c in enumerate(row):
            share = c / total if total else 0.0
            chart.boxes.append(Box(left + cell * j, top + cell * i, cell, cell, ramp(share), f"{c:,}",
                                   share > 0.5, f"truth {labels[i]}, predicted {labels[j]}: {c:,} "
                                   f"({share:.1%} of {labels[i]})"))
    for j, name in enumerate(labels):
        chart.labels.append(Label(left + cell * j + cell / 2 + 4, top - 8, name, "start", -45))
    chart.labels.append(Label(left + cell * k / 2, 12, "prediction"))
    chart.labels.append(Label(12, top + cell * k / 2, "truth", "middle", -90))
    return chart


def _share(metric: MetricInfo, v: float) -> float:
    """Where ``v`` lies in the metric's range (its bounds 0 and 1)."""
    return (v - metric.lo) / (metric.hi - metric.lo)


def _ticks(metric: MetricInfo) -> list[tuple[float, str]]:
    """(share, text) of the y axis ticks: the range in quarters."""
    return [(t, f"{metric.lo + t * (metric.hi - metric.lo):.2f}") for t in (0, 0.25, 0.5, 0.75, 1.0)]


def robustness_charts(groups: dict[str, tuple[int, float | None]], metric: MetricInfo,
                      spec: Spec = SPEC) -> list[Chart]:
    """From ``{"perturbation/severity" or "none": (images, value of metric)}`` (a metric with
    finite bounds): a heat map per perturbation (rows; unseen ones starred) and severity
    (columns), and the metric per severity averaged over the seen and over the unseen
    perturbations (weighted by images), against the clean images' value. Empty when the results
    have no such breakdown."""
    if not any("/" in g for g in groups):
        return []
    sev = list(spec.severities)
    cell_w, cell_h, left, top = 52, 20, 150, 40
    heat = Chart(left + cell_w * len(sev) + 8, top + cell_h * len(spec.perturbations) + 8,
                 f"{metric.capitalized} per perturbation and severity (* unseen in training)")
    heat.labels.append(Label(left + cell_w * len(sev) / 2, 12, "severity"))
    for j, s in enumerate(sev):
        heat.labels.append(Label(left + cell_w * j + cell_w / 2, top - 8, str(s)))
    for i, p in enumerate(spec.perturbations):
        y = top + cell_h * i
        heat.labels.append(Label(left - 6, y + cell_h / 2 + 4, p.name + ("" if p.seen else " *"), "end"))
        for j, s in enumerate(sev):
            n, acc = groups.get(f"{p.name}/{s}", (0, None))
            if acc is None:
                heat.boxes.append(Box(left + cell_w * j, y, cell_w, cell_h, "#eeeeee", "",
                                      False, f"{p.name}, severity {s}: no images"))
            else:
                heat.boxes.append(Box(left + cell_w * j, y, cell_w, cell_h, ramp(_share(metric, acc)), f"{acc:.2f}",
                                      _share(metric, acc) > 0.5, f"{p.name}, severity {s}: {acc:.4f} on {n:,} images"))

    w, h, left, top, bottom = 420, 260, 48, 16, 40
    plot_w, plot_h = w - left - 16, h - top - bottom
    curve = Chart(w, h, f"{metric.capitalized} per severity, mean over the seen and over the unseen "
                        "perturbations (weighted by images); dotted: clean images")

    def xy(s: float, v: float) -> tuple[float, float]:
        return (left + plot_w * (s - sev[0]) / max(sev[-1] - sev[0], 1), top + plot_h * (1 - _share(metric, v)))

    curve.axes += [(left, top, left, top + plot_h), (left, top + plot_h, left + plot_w, top + plot_h)]
    for t, text in _ticks(metric):
        curve.labels.append(Label(left - 6, top + plot_h * (1 - t) + 4, text, "end"))
    for s in sev:
        curve.labels.append(Label(xy(s, 0)[0], top + plot_h + 16, str(s)))
    curve.labels.append(Label(left + plot_w / 2, h - 6, "severity"))
    for seen, css, label in ((True, "seen", "seen perturbations"), (False, "unseen", "unseen perturbations")):
        points, markers = [], []
        for s in sev:
            pairs = [groups.get(f"{p.name}/{s}", (0, None)) for p in spec.perturbations if p.seen == seen]
            pairs = [(n, a) for n, a in pairs if a is not None and n]
            total = sum(n for n, _ in pairs)
            if total:
                mean = sum(n * a for n, a in pairs) / total
                x, y = xy(s, mean)
                points.append(f"{x:.1f},{y:.1f}")
                markers.append((round(x, 1), round(y, 1), f"{label}, severity {s}: {mean:.4f} on {total:,} images"))
        if points:
            curve.lines.append(Line(" ".join(points), css, label, tuple(markers)))
            curve.legend.append((css, label))
    n, acc = groups.get(NO_PERTURBATION, (0, None))
    if acc is not None:
        (x0, y), (x1, _) = xy(sev[0], acc), xy(sev[-1], acc)
        curve.lines.append(Line(f"{x0:.1f},{y:.1f} {x1:.1f},{y:.1f}", "clean", "clean images",
                                ((round(x0, 1), round(y, 1), f"clean images: {acc:.4f} on {n:,} images"),)))
        curve.legend.append(("clean", f"clean images ({acc:.3f})"))
    return [heat, curve]


def adversarial_chart(errors: list[tuple[str, float]], metric: MetricInfo) -> Chart:
    """``metric`` (finite bounds) against the L-infinity budget (eps in 1/255, x linear), from
    (budget, value) pairs."""
    from .records import eps_value

    w, h, left, top, bottom = 420, 240, 48, 16, 40
    plot_w, plot_h = w - left - 16, h - top - bottom
    eps = [eps_value(e) * 255 for e, _ in errors]
    hi = max(eps) if eps else 1.0
    chart = Chart(w, h, f"{metric.capitalized} under adversarial attack against the budget eps ({metric.direction})")

    def xy(e: float, v: float) -> tuple[float, float]:
        return left + plot_w * e / hi, top + plot_h * (1 - _share(metric, v))

    chart.axes += [(left, top, left, top + plot_h), (left, top + plot_h, left + plot_w, top + plot_h)]
    for t, text in _ticks(metric):
        chart.labels.append(Label(left - 6, top + plot_h * (1 - t) + 4, text, "end"))
    for (label, _), e in zip(errors, eps):
        chart.labels.append(Label(xy(e, 0)[0], top + plot_h + 16, f"{e:g}"))
    chart.labels.append(Label(left + plot_w / 2, h - 6, "eps (1/255)"))
    pts = [xy(e, v) for e, (_, v) in zip(eps, errors)]
    chart.lines.append(Line(" ".join(f"{x:.1f},{y:.1f}" for x, y in pts), "seen", metric.label,
                            tuple((round(x, 1), round(y, 1), f"eps {label}: {v:.4f}")
                                  for (x, y), (label, v) in zip(pts, errors))))
    return chart
