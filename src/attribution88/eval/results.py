"""The versioned results record of a scored submission (what `--json` writes and the
leaderboard reads), and of a comparison of two submissions.

Frozen dataclasses with ``to_dict`` / ``from_dict``. ``schema_version`` says which layout a
document has; `from_dict` reads every version up to `SCHEMA_VERSION`, fills what an older one
lacks with defaults, ignores keys it does not know and refuses a newer version with a clear
message. Undefined values (NaN: e.g. the recall of a source absent from a group) are JSON
``null``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from ..errors import ResultsFormatError
from ..versioned import read_version
from .metric_table import Estimate
from .metric_table import finite as _num
from .truth import TruthInfo

#: Layout version of the results document. Bump when a key changes meaning or moves.
#: 2: the optional ``adversarial`` section (`attribution88 attack`); version 1 documents read
#: as having none.
SCHEMA_VERSION = 2
#: Value of the ``kind`` key of each document.
SCORE_KIND = "attribution88.score"
COMPARE_KIND = "attribution88.compare"


def _metrics_to_dict(m: dict[str, Estimate]) -> dict:
    return {k: v.to_dict() for k, v in m.items()}


def _metrics_from_dict(d: dict | None) -> dict[str, Estimate]:
    return {str(k): Estimate.from_dict(v) for k, v in (d or {}).items()}


@dataclass(frozen=True)
class GroupResult:
    """Metrics of a group of images (or of the whole split)."""

    name: str
    n: int
    metrics: dict[str, Estimate]
    per_source: dict[str, dict[str, Estimate]] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"name": self.name, "n": self.n, "metrics": _metrics_to_dict(self.metrics),
                "per_source": {s: _metrics_to_dict(m) for s, m in self.per_source.items()}}

    @classmethod
    def from_dict(cls, d: dict) -> GroupResult:
        return cls(name=str(d.get("name", "")), n=int(d.get("n", 0)),
                   metrics=_metrics_from_dict(d.get("metrics")),
                   per_source={str(s): _metrics_from_dict(m)
                               for s, m in (d.get("per_source") or {}).items()})


@dataclass(frozen=True)
class Confusion:
    """Counts of (truth, prediction): ``counts[i][j]`` images of ``labels[i]`` predicted
    ``labels[j]``."""

    labels: tuple[str, ...]
    counts: tuple[tuple[int, ...], ...]

    def to_dict(self) -> dict:
        return {"labels": list(self.labels), "rows": "truth", "columns": "prediction",
                "counts": [list(r) for r in self.counts]}

    @classmethod
    def from_dict(cls, d: dict) -> Confusion:
        return cls(tuple(d.get("labels", ())), tuple(tuple(int(c) for c in r) for r in d.get("counts", ())))


@dataclass(frozen=True)
class SubmissionInfo:
    """What was scored: the file and how it was read."""

    name: str
    sha256: str | None
    bytes: int | None
    rows: int
    columns: tuple[str, ...] = ()
    predictions: str = "pred"  # "pred", "scores" (argmax) — what the hard metrics used
    score_kind: str | None = None
    score_kind_declared: bool = False
    fake_score: bool = False
    compression: str | None = None

    def to_dict(self) -> dict:
        return {"name": self.name, "sha256": self.sha256, "bytes": self.bytes, "rows": self.rows,
                "columns": list(self.columns), "predictions": self.predictions,
                "score_kind": self.score_kind, "score_kind_declared": self.score_kind_declared,
                "fake_score": self.fake_score, "compression": self.compression}

    @classmethod
    def from_dict(cls, d: dict) -> SubmissionInfo:
        return cls(name=str(d.get("name", "?")), sha256=d.get("sha256"), bytes=d.get("bytes"),
                   rows=int(d.get("rows", 0)), columns=tuple(d.get("columns", ())),
                   predictions=str(d.get("predictions", "pred")), score_kind=d.get("score_kind"),
                   score_kind_declared=bool(d.get("score_kind_declared", False)),
                   fake_score=bool(d.get("fake_score", False)), compression=d.get("compression"))


@dataclass(frozen=True)
class BootstrapInfo:
    resamples: int
    seed: int
    level: float
    method: str = ("bias-corrected percentile bootstrap over images; confusion-matrix metrics "
                   "by exact multinomial resampling of counts, AUC and log loss (overall) on "
                   "quantile-binned scores")

    def to_dict(self) -> dict:
        return {"resamples": self.resamples, "seed": self.seed, "level": self.level,
                "method": self.method}

    @classmethod
    def from_dict(cls, d: dict | None) -> BootstrapInfo:
        d = d or {}
        return cls(int(d.get("resamples", 0)), int(d.get("seed", 0)), float(d.get("level", 0.95)),
                   str(d.get("method", "")))


def _check_header(d: Any, kind: str) -> int:
    """The schema version of a results document of ``kind`` (version 1 had no schema_version)."""
    return read_version(d, where="results document", kind=kind, kind_required=False,
                        key="schema_version", default=1, supported=SCHEMA_VERSION,
                        error=ResultsFormatError)


@dataclass(frozen=True)
class EpsResult:
    """Errors at one budget (eps in units of 1/255)."""

    eps: float
    attribution_error: Estimate
    detection_error: Estimate

    def to_dict(self) -> dict:
        return {"eps": self.eps, "attribution_error": self.attribution_error.to_dict(),
                "detection_error": self.detection_error.to_dict()}

    @classmethod
    def from_dict(cls, d: dict) -> EpsResult:
        return cls(float(d["eps"]), Estimate.from_dict(d.get("attribution_error")),
                   Estimate.from_dict(d.get("detection_error")))


@dataclass(frozen=True)
class AdversarialReport:
    """The ``adversarial`` section of a results document (`attribution88.eval.attack`)."""

    attack: str  # "pgd-linf"
    steps: int
    step_rule: str  # how the step size was chosen
    seed: int
    n: int  # attacked images
    model: str  # what was attacked (run folder and model name)
    per_eps: tuple[EpsResult, ...]
    checks: dict = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"attack": self.attack, "steps": self.steps, "step_rule": self.step_rule,
                "seed": self.seed, "n": self.n, "model": self.model,
                "per_eps": [e.to_dict() for e in self.per_eps], "checks": dict(self.checks),
                "warnings": list(self.warnings)}

    @classmethod
    def from_dict(cls, d: dict) -> AdversarialReport:
        return cls(attack=str(d.get("attack", "pgd-linf")), steps=int(d.get("steps", 0)),
                   step_rule=str(d.get("step_rule", "")), seed=int(d.get("seed", 0)),
                   n=int(d.get("n", 0)), model=str(d.get("model", "")),
                   per_eps=tuple(EpsResult.from_dict(e) for e in d.get("per_eps", ())),
                   checks=dict(d.get("checks") or {}),
                   warnings=tuple(str(w) for w in d.get("warnings", ())))


@dataclass(frozen=True)
class ScoreResult:
    """Everything `attribution88 score` reports about one submission."""

    tool_version: str
    scored_at: str  # UTC, ISO 8601
    submission: SubmissionInfo
    truth: TruthInfo
    bootstrap: BootstrapInfo
    overall: GroupResult
    confusion: Confusion
    breakdowns: dict[str, tuple[GroupResult, ...]] = field(default_factory=dict)
    breakdown_titles: dict[str, str] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    schema_version: int = SCHEMA_VERSION
    adversarial: AdversarialReport | None = None

    @property
    def metrics(self) -> dict[str, Estimate]:
        return self.overall.metrics

    def to_dict(self) -> dict:
        return {
            "kind": SCORE_KIND,
            "schema_version": self.schema_version,
            "tool_version": self.tool_version,
            "scored_at": self.scored_at,
            "submission": self.submission.to_dict(),
            "truth": self.truth.to_dict(),
            "bootstrap": self.bootstrap.to_dict(),
            "n": self.overall.n,
            "metrics": _metrics_to_dict(self.overall.metrics),
            "per_source": {s: _metrics_to_dict(m) for s, m in self.overall.per_source.items()},
            "confusion_matrix": self.confusion.to_dict(),
            "breakdowns": {name: {"title": self.breakdown_titles.get(name, name),
                                  "groups": [g.to_dict() for g in groups]}
                           for name, groups in self.breakdowns.items()},
            "warnings": list(self.warnings),
            **({"adversarial": self.adversarial.to_dict()} if self.adversarial else {}),
        }

    @classmethod
    def from_dict(cls, d: dict) -> ScoreResult:
        version = _check_header(d, SCORE_KIND)
        try:
            overall = GroupResult(name="all", n=int(d.get("n", 0)),
                                  metrics=_metrics_from_dict(d.get("metrics")),
                                  per_source={str(s): _metrics_from_dict(m)
                                              for s, m in (d.get("per_source") or {}).items()})
            breakdowns, titles = {}, {}
            for name, b in (d.get("breakdowns") or {}).items():
                groups = b.get("groups", []) if isinstance(b, dict) else b
                breakdowns[str(name)] = tuple(GroupResult.from_dict(g) for g in groups)
                titles[str(name)] = str(b.get("title", name)) if isinstance(b, dict) else str(name)
            return cls(tool_version=str(d.get("tool_version", "?")),
                       scored_at=str(d.get("scored_at", "")),
                       submission=SubmissionInfo.from_dict(d.get("submission") or {}),
                       truth=TruthInfo.from_dict(d.get("truth") or {}),
                       bootstrap=BootstrapInfo.from_dict(d.get("bootstrap")),
                       overall=overall,
                       confusion=Confusion.from_dict(d.get("confusion_matrix") or {}),
                       breakdowns=breakdowns, breakdown_titles=titles,
                       warnings=tuple(str(w) for w in d.get("warnings", ())),
                       schema_version=version,
                       adversarial=(AdversarialReport.from_dict(d["adversarial"])
                                    if isinstance(d.get("adversarial"), dict) else None))
        except (AttributeError, TypeError, ValueError) as e:
            if isinstance(e, ResultsFormatError):
                raise
            raise ResultsFormatError(f"results document: malformed ({e})") from None


@dataclass(frozen=True)
class Difference:
    """A paired comparison of one metric: A, B, A - B with its interval, and a p-value."""

    a: float | None
    b: float | None
    difference: float | None
    low: float | None
    high: float | None
    p_value: float | None
    test: str
    mid_p_value: float | None = None

    def to_dict(self) -> dict:
        d = {"a": _num(self.a), "b": _num(self.b), "difference": _num(self.difference),
             "low": _num(self.low), "high": _num(self.high), "p_value": _num(self.p_value),
             "test": self.test}
        if self.mid_p_value is not None:
            d["mid_p_value"] = _num(self.mid_p_value)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> Difference:
        return cls(_num(d.get("a")), _num(d.get("b")), _num(d.get("difference")),
                   _num(d.get("low")), _num(d.get("high")), _num(d.get("p_value")),
                   str(d.get("test", "")), _num(d.get("mid_p_value")))


@dataclass(frozen=True)
class CompareResult:
    """`attribution88 compare`: two submissions on the same images."""

    tool_version: str
    compared_at: str
    a: SubmissionInfo
    b: SubmissionInfo
    truth: TruthInfo
    bootstrap: BootstrapInfo
    n: int
    differences: dict[str, Difference]
    contingency: dict[str, int] = field(default_factory=dict)  # attribution right/wrong pairs
    schema_version: int = SCHEMA_VERSION

    def to_dict(self) -> dict:
        return {"kind": COMPARE_KIND, "schema_version": self.schema_version,
                "tool_version": self.tool_version, "compared_at": self.compared_at,
                "a": self.a.to_dict(), "b": self.b.to_dict(), "truth": self.truth.to_dict(),
                "bootstrap": self.bootstrap.to_dict(), "n": self.n,
                "differences": {k: v.to_dict() for k, v in self.differences.items()},
                "attribution_contingency": dict(self.contingency)}

    @classmethod
    def from_dict(cls, d: dict) -> CompareResult:
        version = _check_header(d, COMPARE_KIND)
        try:
            return cls(tool_version=str(d.get("tool_version", "?")),
                       compared_at=str(d.get("compared_at", "")),
                       a=SubmissionInfo.from_dict(d.get("a") or {}),
                       b=SubmissionInfo.from_dict(d.get("b") or {}),
                       truth=TruthInfo.from_dict(d.get("truth") or {}),
                       bootstrap=BootstrapInfo.from_dict(d.get("bootstrap")),
                       n=int(d.get("n", 0)),
                       differences={str(k): Difference.from_dict(v)
                                    for k, v in (d.get("differences") or {}).items()},
                       contingency={str(k): int(v) for k, v in
                                    (d.get("attribution_contingency") or {}).items()},
                       schema_version=version)
        except (AttributeError, TypeError, ValueError) as e:
            raise ResultsFormatError(f"results document: malformed ({e})") from None


def write_results(path: str | os.PathLike, result: ScoreResult | CompareResult) -> None:
    """Write a results document as JSON, atomically (temporary file, then rename)."""
    from ..atomic import write_json

    write_json(path, result.to_dict())


def read_results(path: str | os.PathLike) -> ScoreResult | CompareResult:
    """Read a results document written by `write_results` (any schema version up to ours)."""
    import json

    try:
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
    except FileNotFoundError:
        raise ResultsFormatError(f"{path}: no such results file") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ResultsFormatError(f"{path}: not a JSON results document ({e})") from None
    if isinstance(d, dict) and d.get("kind") == COMPARE_KIND:
        return CompareResult.from_dict(d)
    return ScoreResult.from_dict(d)


#: Value of the ``kind`` key of an attack-only document (`attribution88 attack --json NEW`).
ATTACK_KIND = "attribution88.attack"


def check_attack_target(path: str | os.PathLike) -> None:
    """Refuse, before an attack runs, a ``--json`` target it could not write: a folder, a
    missing folder, or an existing file that is not a score results document."""
    from pathlib import Path

    from ..errors import UsageError

    p = Path(path)
    if p.is_dir():
        raise UsageError(f"--json {p}: is a folder; give a file")
    if not p.resolve().parent.is_dir():
        raise UsageError(f"--json {p}: folder {p.resolve().parent} does not exist")
    if p.exists():
        result = read_results(p)
        if not isinstance(result, ScoreResult):
            raise UsageError(f"--json {p}: a comparison document; give a `score --json` document or a new file")


def write_attack(path: str | os.PathLike, report: AdversarialReport, truth: TruthInfo) -> str:
    """Put ``report`` into the results document at ``path``, atomically: the ``adversarial``
    section of an existing `score --json` document of the same data (fingerprint, config,
    split), or a new attack document. Returns the path."""
    import datetime
    import json

    from .. import __version__
    from ..atomic import write_json
    from ..errors import UsageError

    check_attack_target(path)
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            d = json.load(f)
        scored = TruthInfo.from_dict(d.get("truth") or {})
        if (scored.fingerprint, scored.config, scored.split) != (truth.fingerprint, truth.config, truth.split):
            raise UsageError(f"--json {path}: scored on other data ({scored.config}/{scored.split}, "
                             f"fingerprint {str(scored.fingerprint)[:12]}) than attacked ({truth.config}/"
                             f"{truth.split}, fingerprint {str(truth.fingerprint)[:12]})")
        d["adversarial"] = report.to_dict()
        d["schema_version"] = max(int(d.get("schema_version", 1)), 2)
    else:
        d = {"kind": ATTACK_KIND, "schema_version": SCHEMA_VERSION, "tool_version": __version__,
             "attacked_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
             "truth": truth.to_dict(), "adversarial": report.to_dict()}
    write_json(path, d)
    return os.fspath(path)
