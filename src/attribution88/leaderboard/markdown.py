"""The leaderboard as one Markdown page (`leaderboard/LEADERBOARD.md`), rendered from the
records."""

from __future__ import annotations

from .board import same_configuration, tables
from .records import METRICS, Metric, Record

INTRO = ("Ranked by attribution accuracy (8-way: real + 7 GAN architectures). Tables never mix "
         "data: figures published in the RepMix paper (on the official release's test set, its "
         "\"1 Sem., Clean\" control set and its ablation study's set), and figures scored by "
         "`attribution88 score` on a dataset identified by its fingerprint, are ranked "
         "separately. This page is rendered from `leaderboard/records/*.json` by "
         "`attribution88 leaderboard render`; do not edit it by hand. Intervals: 95% bootstrap "
         "over images, where the scorer computed them.")


def _cell(m: Metric | None) -> str:
    if m is None:
        return "-"
    if m.low is None or m.high is None:
        return f"{m.value:.4f}"
    return f"{m.value:.4f} [{m.low:.3f}, {m.high:.3f}]"


def _text(s: str) -> str:
    """A string from a record as Markdown table text: one line, no pipes, no markup."""
    s = " ".join(str(s).split())
    for ch in "\\|*_`[]<>":
        s = s.replace(ch, "\\" + ch)
    return s


def _reference(r: Record) -> str:
    paper = _text(r.reference.get("paper", ""))
    url = r.reference.get("url", "")
    if url.startswith(("https://", "http://")) and not any(c in url for c in " ()<>"):
        return f"[{paper or 'link'}]({url})"
    return paper


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def render_markdown(records: list[Record]) -> str:
    """The leaderboard page: one table per evaluation data, ranked by attribution accuracy; the
    adversarial errors where published; published rows beside the scored runs of the same
    configuration."""
    parts = ["# Attribution88 leaderboard", INTRO]
    for t in tables(records):
        body = _table(["#", "method", *[METRICS[k] for k in t.metrics], "reference", "date"],
                      [[str(i), _text(r.name), *[_cell(r.metrics.get(k)) for k in t.metrics],
                        _reference(r), r.date] for i, r in enumerate(t.rows, 1)])
        section = [f"## {_text(t.title)}", _text(t.about) + ".", body]
        if t.adversarial_budgets:
            rows = [r for r in t.rows if r.adversarial]
            section += ["Attribution error under adversarial attack (L-infinity budget eps; lower is better):",
                        _table(["method", *[f"eps {e}" for e in t.adversarial_budgets]],
                               [[_text(r.name), *[_cell(r.adversarial.get(e)) for e in t.adversarial_budgets]]
                                for r in rows])]
        section.append("\n".join(f"- {_text(r.name)}: {_text(r.notes)} (source: {_text(r.source)})"
                                 if r.notes else f"- {_text(r.name)}: {_text(r.source)}" for r in t.rows))
        parts.append("\n\n".join(section))
    pairs = same_configuration(records)
    if pairs:
        section = ["## Published figures beside scored runs of the same configuration",
                   "Same model configuration, different data: shown side by side, not ranked."]
        for config, rows in pairs:
            used = [k for k in METRICS if any(k in r.metrics for r in rows)]
            section += [f"### `{config}`",
                        _table(["method", "evaluated on", *[METRICS[k] for k in used]],
                               [[_text(r.name), _text(r.published_set.title if r.published_set else
                                                      f"scored on {str(r.data.get('fingerprint'))[:12]} "
                                                      f"({r.data.get('config')}/{r.data.get('split')})"),
                                 *[_cell(r.metrics.get(k)) for k in used]] for r in rows])]
        parts.append("\n\n".join(section))
    return "\n\n".join(parts) + "\n"
