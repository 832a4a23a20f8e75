"""Scored results into the store: `attribution88 score --json` output becomes a `scored`
record, checked against the store before anything is written."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any

from attribution88.errors import ResultsFormatError, SpecError, UsageError

from attribution88.eval.metric_table import Estimate

from .records import RECORD_METRICS, Record, load_records, write_record


def record_from_results(results: str | os.PathLike | Any, name: str, *, paper: str = "",
                        url: str = "", notes: str = "", configuration: str = "") -> Record:
    """A `scored` record from `attribution88 score --json` output (path or ScoreResult).

    Refuses results of another benchmark spec (major.minor) than this attribution88's, and
    results without the figures a record needs, with a one-line `ResultsFormatError`."""
    from attribution88.eval.results import ScoreResult, read_results
    from attribution88.eval.truth import check_spec_version

    where = os.fspath(results) if isinstance(results, (str, os.PathLike)) else "results"
    result = read_results(results) if isinstance(results, (str, os.PathLike)) else results
    adversarial = _adversarial(results, where) if isinstance(results, (str, os.PathLike)) else {}
    if not isinstance(result, ScoreResult):
        raise ResultsFormatError(f"{where}: not the results of `attribution88 score`")
    truth = result.truth
    if not truth.fingerprint:
        raise ResultsFormatError(f"{where}: no dataset fingerprint in the results (scored on data "
                                 "made in memory?); score against a built or published dataset")
    try:
        check_spec_version(truth.spec_version, where)
    except SpecError as e:
        raise ResultsFormatError(str(e)) from None
    metrics = {k: e for k, e in result.metrics.items() if k in RECORD_METRICS and e.value is not None}
    record = Record(
        name=" ".join(name.split()), kind="scored",
        date=result.scored_at[:10] or date.today().isoformat(), metrics=metrics,
        reference={k: v for k, v in (("paper", paper), ("url", url)) if v},
        data={"location": truth.location, "fingerprint": truth.fingerprint, "config": truth.config,
              "split": truth.split, "spec_version": truth.spec_version, "preset": truth.preset,
              "images": result.overall.n, "submission_sha256": result.submission.sha256},
        source=(f"attribution88 score {result.tool_version}, submission {result.submission.name} "
                f"(sha256 {str(result.submission.sha256)[:16]})"),
        notes=notes, configuration=configuration.strip().lower(), adversarial=adversarial,
        results=result.to_dict())
    record.validate(f"{where} as {name!r}")
    return record


def add_results(directory: str | os.PathLike, results: str | os.PathLike, name: str, *,
                replace: bool = False, **about: str) -> tuple[Record, Path]:
    """Add scored results to the store in ``directory``: the store is validated first, the new
    record is checked against it (same name on the same data needs ``replace``; the same
    submission file on the same data is refused), then written atomically. On any error
    nothing is written."""
    if not name or not name.strip():
        raise UsageError("leaderboard add needs a non-empty --name")
    existing = load_records(directory)  # the store is valid before anything is added
    record = record_from_results(results, name, **about)
    sha = record.data.get("submission_sha256")
    for r in existing:
        if r.data_key != record.data_key:
            continue
        if sha and r.data.get("submission_sha256") == sha and r.name.lower() != record.name.lower():
            raise UsageError(f"{results}: this submission (sha256 {sha[:16]}) is already on the board as "
                             f"{r.name!r}; remove that entry first to rename it")
        if r.name.lower() == record.name.lower() and not replace:
            raise UsageError(f"{results}: {r.name!r} is already on the board for this data; "
                             "pass --replace to overwrite this entry")
    return record, write_record(directory, record, replace=replace)


def _adversarial(path: str | os.PathLike, where: str) -> dict[str, Estimate]:
    """The attribution error per budget of a results document's ``adversarial`` section
    (`attribution88.eval.results.AdversarialReport`, written by `attribution88 attack`), keyed
    as a record's own ``adversarial`` (``"8/255"``); the budget 0 (the clean error) is left out."""
    import json

    from ..eval.results import AdversarialReport

    with open(path, encoding="utf-8") as f:
        section = json.load(f).get("adversarial")
    if not section:
        return {}
    try:
        report = AdversarialReport.from_dict(section)
        return {f"{e.eps:g}/255": e.attribution_error for e in report.per_eps if e.eps > 0}
    except (AttributeError, KeyError, TypeError, ValueError) as e:
        raise ResultsFormatError(f"{where}: malformed adversarial section ({type(e).__name__}: {e})") from None
