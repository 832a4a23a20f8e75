"""The groups every metric is broken down by.

Three disjoint *base partitions* of the test images, from the truth's labels:

- ``condition``: semantic seen/unseen x perturbation condition (clean / seen / unseen
  perturbation) — the spec's test groups;
- ``perturbation_severity``: (perturbation, severity), ``none`` for clean images;
- ``semantic``: the 11 semantics.

Each *breakdown* reports groups that are unions of one base partition's groups: the spec's
test subsets (``test_seen`` = seen semantics x {clean, seen perturbations}, ...; together they
answer seen vs unseen semantics and clean vs seen vs unseen perturbations), the test groups,
perturbation, severity, (perturbation, severity) and semantic. A group's confusion matrix is the sum of its base groups' matrices, which is how the
bootstrap, resampling each base partition's counts, gets every group's interval at once.
Groups without images (e.g. other subsets when the truth is one subset's config) are omitted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..spec import NO_PERTURBATION, SPEC, UNKNOWN_CONDITION, UNKNOWN_PERTURBATION, Spec, test_group
from .truth import Truth


@dataclass(frozen=True)
class BasePartition:
    """Disjoint groups of the images: ``codes`` int64 (n,) in ``range(len(labels))``."""

    name: str
    labels: tuple[str, ...]
    codes: np.ndarray

    @property
    def size(self) -> int:
        return len(self.labels)

    def counts(self) -> np.ndarray:
        return np.bincount(self.codes, minlength=self.size)


@dataclass(frozen=True)
class Breakdown:
    """Named groups, each a union of groups of the base partition ``base``."""

    name: str
    title: str
    base: str
    groups: tuple[tuple[str, tuple[int, ...]], ...]


def _groups(pairs, present: np.ndarray) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """(name, base groups) pairs, keeping only base groups with images, and groups with any."""
    out = []
    for name, members in pairs:
        kept = tuple(i for i in members if present[i])
        if kept:
            out.append((name, kept))
    return tuple(out)


def _condition_index(perturbation: np.ndarray, spec: Spec) -> np.ndarray:
    """Positions in `_CONDITIONS`: 0 clean, 1 seen_pert, 2 unseen_pert, 3 unknown_pert."""
    lut = np.array([2 if not p.seen else 1 for p in spec.perturbations] + [3, 0], dtype=np.int64)
    return lut[perturbation.astype(np.int64)]  # index -1 (none) takes the last entry


_CONDITIONS = ("clean", "seen_pert", "unseen_pert", UNKNOWN_CONDITION)


def breakdowns(truth: Truth, spec: Spec = SPEC) -> tuple[list[BasePartition], list[Breakdown]]:
    """The base partitions of ``truth`` and the breakdowns reported over them."""
    seen_lut = np.array([s.seen for s in spec.semantics])
    sem_seen = seen_lut[truth.semantic.astype(np.int64)]
    cond = _condition_index(truth.perturbation, spec)

    # condition: status (0 seen, 1 unseen) x condition
    labels = tuple(test_group(status == 0, c) for status in (0, 1) for c in _CONDITIONS)
    codes = (~sem_seen).astype(np.int64) * len(_CONDITIONS) + cond
    condition = BasePartition("condition", labels, codes)
    present = condition.counts() > 0
    index = {label: i for i, label in enumerate(labels)}
    out = [
        Breakdown("test_group", "test group (semantics x perturbation condition)", "condition",
                  _groups(((label, (i,)) for i, label in enumerate(labels)), present)),
        Breakdown("subset", "test subset", "condition", _groups(
            ((s.name, tuple(index[g] for g in s.groups())) for s in spec.subsets), present)),
    ]

    # perturbation x severity: code (perturbation + 1) * S + severity
    n_sev = max(spec.severities) + 1
    pert_names = (NO_PERTURBATION, *spec.perturbation_names, UNKNOWN_PERTURBATION)
    no_severity = (NO_PERTURBATION, UNKNOWN_PERTURBATION)
    ps_labels = tuple(f"{p}/{s}" if p not in no_severity else p for p in pert_names for s in range(n_sev))
    ps_codes = (truth.perturbation.astype(np.int64) + 1) * n_sev + truth.severity.astype(np.int64)
    pert_sev = BasePartition("perturbation_severity", ps_labels, ps_codes)
    present = pert_sev.counts() > 0
    out += [
        Breakdown("perturbation", "perturbation", "perturbation_severity", _groups(
            ((p, tuple(i * n_sev + s for s in range(n_sev))) for i, p in enumerate(pert_names)),
            present)),
        Breakdown("severity", "severity (0 = clean)", "perturbation_severity", _groups(
            ((str(s), tuple(i * n_sev + s for i in range(len(pert_names)))) for s in range(n_sev)),
            present)),
        Breakdown("perturbation_severity", "perturbation x severity", "perturbation_severity",
                  _groups(((label, (i,)) for i, label in enumerate(ps_labels)), present)),
    ]

    semantic = BasePartition("semantic", tuple(spec.semantic_names), truth.semantic.astype(np.int64))
    out.append(Breakdown("semantic", "semantic", "semantic", _groups(
        ((name, (i,)) for i, name in enumerate(spec.semantic_names)), semantic.counts() > 0)))
    out = [b for b in out if b.groups]
    return [condition, pert_sev, semantic], out
