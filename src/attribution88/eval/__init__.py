"""attribution88.eval: scoring submissions against the test split, and reference models.

The scorer's Python API (imported lazily, so that importing this package costs nothing)::

    from attribution88.eval import read_submission, load_truth, score
    result = score(read_submission("preds.csv"), load_truth("attribution88"))
    result.metrics["attribution_accuracy"]          # Estimate(value, low, high)

Modules: `submission` (reading and validating a file), `truth` (ground truth), `join` (ids),
`metrics` (every metric, computed), `metric_table` (their labels, direction and range, and
`Estimate`: a value with its interval), `bootstrap` (intervals, paired tests), `breakdown` (groups),
`scoring` (`score`) and `compare` (`compare_submissions`): the two commands' work, `results` (the versioned record),
`report` (terminal tables), `plots` (PNG charts). The submission format: the README, "Score".
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "read_submission": "submission", "Submission": "submission",
    "load_truth": "truth", "truth_from_table": "truth", "Truth": "truth", "TruthInfo": "truth",
    "score": "scoring", "compare_submissions": "compare",
    "ScoreResult": "results", "CompareResult": "results", "read_results": "results",
    "write_results": "results",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
