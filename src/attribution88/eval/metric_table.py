"""The table of metrics: what each one is called, which way is better, what values it can take;
and `Estimate`, a value of one with its confidence interval.

Every consumer reads these facts from here: the scorer's records (`results`), the terminal
report, the plots, the comparison, and the leaderboard (records, Markdown page, site, charts,
templates). The keys are those of the results JSON. Light on purpose (standard library only), so
that `score --help` and the leaderboard import it for nothing.

Scopes: ``group`` metrics are computed for the whole split and for every breakdown group
(``metrics`` in the results JSON), ``source`` metrics per source (``per_source``),
``adversarial`` ones per attack budget (``adversarial.per_eps``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

SCOPES = ("group", "source", "adversarial")


@dataclass(frozen=True)
class MetricInfo:
    """Facts about one metric.

    label: its name in sentences and in tables of metrics (``attribution accuracy``);
    short: its column header where metrics are columns (``Attr. acc``);
    higher_is_better: the direction in which it improves;
    lo, hi: the range of its values (``hi`` may be ``inf``).
    """

    key: str
    label: str
    short: str
    scope: str
    higher_is_better: bool = True
    lo: float = 0.0
    hi: float = 1.0

    @property
    def bounds(self) -> tuple[float, float]:
        return (self.lo, self.hi)

    @property
    def capitalized(self) -> str:
        """The label starting a sentence (``Attribution accuracy``; ``NMI`` stays)."""
        return self.label[:1].upper() + self.label[1:]

    @property
    def direction(self) -> str:
        """``higher is better`` or ``lower is better``."""
        return f"{'higher' if self.higher_is_better else 'lower'} is better"

    def in_bounds(self, x: float) -> bool:
        return self.lo <= x <= self.hi

    def rank_key(self, x: float) -> float:
        """Sort key putting the best value first."""
        return -x if self.higher_is_better else x


#: Every metric, by results-JSON key; within a scope, in the order the report lists them.
METRICS: dict[str, MetricInfo] = {m.key: m for m in (
    MetricInfo("detection_accuracy", "detection accuracy", "Det. acc", "group"),
    MetricInfo("attribution_accuracy", "attribution accuracy", "Attr. acc", "group"),
    MetricInfo("nmi", "NMI", "Attr. NMI", "group"),
    MetricInfo("macro_f1", "macro-F1", "Macro-F1", "group"),
    MetricInfo("detection_auc", "detection AUC", "Det. AUC", "group"),
    MetricInfo("log_loss", "log loss", "Log loss", "group", higher_is_better=False, hi=math.inf),
    MetricInfo("recall", "recall", "recall", "source"),
    MetricInfo("precision", "precision", "precision", "source"),
    MetricInfo("f1", "F1", "F1", "source"),
    MetricInfo("auc", "AUC (one-vs-rest, of the LLR)", "AUC (LLR)", "source"),
    MetricInfo("attribution_error", "attribution error", "Attr. error", "adversarial",
               higher_is_better=False),
    MetricInfo("detection_error", "detection error", "Det. error", "adversarial",
               higher_is_better=False),
)}


def of_scope(scope: str) -> tuple[MetricInfo, ...]:
    """The metrics of one of the `SCOPES`, in table order."""
    if scope not in SCOPES:
        raise ValueError(f"unknown metric scope {scope!r} (known: {', '.join(SCOPES)})")
    return tuple(m for m in METRICS.values() if m.scope == scope)


def label(key: str) -> str:
    """The label of ``key``; the key itself for a metric this version does not know (a newer
    results document may carry one)."""
    m = METRICS.get(key)
    return m.label if m else key


def short(key: str) -> str:
    """The column header of ``key``; the key itself for an unknown metric."""
    m = METRICS.get(key)
    return m.short if m else key


def finite(x: Any) -> float | None:
    """``x`` as a float, None for None and NaN (undefined values are JSON ``null``)."""
    if x is None:
        return None
    x = float(x)
    return None if math.isnan(x) else x


@dataclass(frozen=True)
class Estimate:
    """A metric's value and its confidence interval (None where undefined or not computed).

    JSON: ``{"value": v, "low": l, "high": h}``; a bare number reads as a value without interval.
    """

    value: float | None
    low: float | None = None
    high: float | None = None

    def to_dict(self) -> dict:
        return {"value": finite(self.value), "low": finite(self.low), "high": finite(self.high)}

    @classmethod
    def from_dict(cls, d: Any) -> Estimate:
        if d is None or isinstance(d, (int, float)):
            return cls(finite(d))
        return cls(finite(d.get("value")), finite(d.get("low")), finite(d.get("high")))
