"""Robustness to a white-box adversarial attack: the paper's Table 2 as a scorer report.

PGD (projected gradient descent; Madry et al., ICLR 2018) under an L-infinity budget on a
model's *attribution* output: starting from a uniform random point of the budget ball, each
step moves the image by ``step`` in the sign of the gradient of the cross-entropy of the true
source, then projects back into the ball and into [0, 1]. Images are float (N, 3, H, W) in
[0, 1], before any normalisation (the model's own preprocessing is part of ``logits_fn``, so
the gradient flows through it); budgets are in pixel units of 1/255, as the paper gives them
(eps = 2, 4, 8, 16, 24, 32).

The attack is reproducible: the random start comes from a generator seeded from the user's
seed and the budget, never from global state. An image that the attack makes misclassified
at some step keeps that step's image (the attack never gives back a success).

Written here rather than taken from an attack library: torchattacks and the Adversarial
Robustness Toolbox draw their random start from torch's global generator (a run would depend on
what ran before) and ART brings a large dependency for one loop of a dozen lines.

Sanity checks, reported with the results (`AdversarialReport.checks`): the error at eps 0
equals the clean error; every adversarial image stays within its budget and in [0, 1]; the
error never decreases as eps grows on the same images (a decrease is a sign of gradient
masking, and is reported, not hidden).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from ..errors import UsageError
from ..ids import derive_seed
from .bootstrap import DEFAULT_LEVEL, DEFAULT_RESAMPLES, DEFAULT_SEED, generator, interval, resample_counts
from .results import AdversarialReport, EpsResult, Estimate

if TYPE_CHECKING:
    import torch

#: The paper's budgets (Table 2), in pixel units of 1/255.
PAPER_EPS: tuple[float, ...] = (2, 4, 8, 16, 24, 32)
DEFAULT_STEPS = 10
#: Slack allowed by the budget check, on the [0, 1] scale (float32 rounding of x + delta).
BUDGET_TOLERANCE = 1e-6


def parse_eps(text: str) -> tuple[float, ...]:
    """``"2,4,8"`` -> (2.0, 4.0, 8.0): budgets in units of 1/255, each in [0, 255]; UsageError
    naming the bad item otherwise."""
    out = []
    for item in str(text).split(","):
        item = item.strip()
        try:
            value = float(item)
        except ValueError:
            raise UsageError(f"--eps: {item!r} is not a number (budgets in units of 1/255, e.g. 2,4,8)") from None
        if not np.isfinite(value) or not 0 <= value <= 255:
            raise UsageError(f"--eps: {item!r} is outside 0..255 (units of 1/255)")
        out.append(value)
    if not out:
        raise UsageError("--eps: no budget given")
    return tuple(sorted(set(out)))


def pgd(logits_fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, y: torch.Tensor,
        eps: float, steps: int, step: float | None = None, seed: int = DEFAULT_SEED) -> torch.Tensor:
    """L-infinity PGD on ``logits_fn`` (images in [0, 1] -> attribution logits (N, 8)).

    ``x``: float (N, 3, H, W) in [0, 1]; ``y``: int64 (N,) true sources; ``eps`` and ``step``
    on the [0, 1] scale (``step`` defaults to 2.5 eps / steps, which lets the iterate cross the
    ball in the given steps). Returns the adversarial images, detached, within ``eps`` of
    ``x`` and in [0, 1]. ``eps == 0`` or ``steps == 0`` returns ``x`` itself (a copy).
    """
    import torch

    if eps < 0 or steps < 0:
        raise UsageError(f"PGD needs eps >= 0 and steps >= 0, not eps={eps}, steps={steps}")
    x = x.detach()
    if eps == 0 or steps == 0:
        return x.clone()
    step = 2.5 * eps / steps if step is None else float(step)
    gen = torch.Generator(device="cpu").manual_seed(derive_seed("pgd-start", int(seed), repr(float(eps))))
    start = (torch.rand(x.shape, generator=gen, dtype=torch.float32) * 2 - 1) * eps
    adv = (x + start.to(x.device, x.dtype)).clamp(0, 1)
    best = adv.clone()
    fooled = torch.zeros(len(x), dtype=torch.bool, device=x.device)
    for _ in range(steps):
        adv.requires_grad_(True)
        logits = logits_fn(adv)
        loss = torch.nn.functional.cross_entropy(logits, y, reduction="sum")
        (grad,) = torch.autograd.grad(loss, adv)
        with torch.no_grad():
            wrong = logits.argmax(1) != y
            newly = wrong & ~fooled
            best[newly] = adv[newly].detach()
            fooled |= wrong
            adv = adv.detach() + step * grad.sign()
            adv = torch.min(torch.max(adv, x - eps), x + eps).clamp(0, 1)
    with torch.no_grad():
        wrong = logits_fn(adv).argmax(1) != y
        newly = wrong & ~fooled
        best[newly] = adv[newly]
        fooled |= wrong
        best[~fooled] = adv[~fooled]
    return best.detach()


def _error_estimate(wrong: np.ndarray, resamples: int, seed: int, purpose: str,
                    level: float) -> Estimate:
    n = len(wrong)
    k = int(wrong.sum())
    value = k / n
    if not resamples:
        return Estimate(value)
    reps = resample_counts(np.array([n - k, k]), resamples, generator(seed, purpose))[:, 1] / n
    low, high = interval(reps, level, point=value)
    return Estimate(value, float(low), float(high))


def evaluate(logits_fn: Callable[[torch.Tensor], torch.Tensor], batches, eps: Sequence[float], *,
             steps: int = DEFAULT_STEPS, seed: int = DEFAULT_SEED, model: str = "",
             resamples: int = DEFAULT_RESAMPLES, level: float = DEFAULT_LEVEL,
             progress: bool = False) -> AdversarialReport:
    """Attack every batch at every budget and report the errors with bootstrap intervals.

    ``batches``: an iterable of (images float (B, 3, H, W) in [0, 1], sources int64 (B,)).
    ``eps`` in units of 1/255. The clean error (no attack) is measured on the same images, and
    the budget 0 is always included, so the sanity checks can compare them.
    """
    import torch
    from tqdm.auto import tqdm

    budgets = tuple(sorted({0.0, *(float(e) for e in eps)}))
    wrong = {e: [] for e in budgets}
    det_wrong = {e: [] for e in budgets}
    clean_wrong = []
    worst_excess = 0.0
    out_of_range = 0
    for images, sources in tqdm(batches, desc="attack", unit="batch", disable=not progress):
        images = images.float()
        sources = sources.long()
        with torch.no_grad():
            clean_wrong.append((logits_fn(images).argmax(1) != sources).cpu().numpy())
        for e in budgets:
            adv = pgd(logits_fn, images, sources, e / 255.0, steps, seed=seed)
            worst_excess = max(worst_excess, float((adv - images).abs().max()) - e / 255.0)
            out_of_range += int(((adv < 0) | (adv > 1)).flatten(1).any(1).sum())
            with torch.no_grad():
                pred = logits_fn(adv).argmax(1)
            wrong[e].append((pred != sources).cpu().numpy())
            det_wrong[e].append(((pred > 0) != (sources > 0)).cpu().numpy())
    if not clean_wrong:
        raise UsageError("no images to attack")
    clean = np.concatenate(clean_wrong)
    per_eps, errors = [], []
    for e in budgets:
        w = np.concatenate(wrong[e])
        errors.append(float(w.mean()))
        per_eps.append(EpsResult(e, _error_estimate(w, resamples, seed, f"attack/attr/{e}", level),
                                 _error_estimate(np.concatenate(det_wrong[e]), resamples, seed,
                                                 f"attack/det/{e}", level)))
    decreases = [f"error falls from {a:.4f} at eps {ea:g} to {b:.4f} at eps {eb:g}"
                 for (ea, a), (eb, b) in zip(zip(budgets, errors), zip(budgets[1:], errors[1:])) if b < a]
    checks = {
        "clean_error": float(clean.mean()),
        "eps0_equals_clean": bool(np.array_equal(np.concatenate(wrong[0.0]), clean)),
        "max_budget_excess": max(worst_excess, 0.0),
        "within_budget": worst_excess <= BUDGET_TOLERANCE,
        "images_out_of_range": out_of_range,
        "monotone": not decreases,
    }
    warnings = tuple(f"possible gradient masking: {d} on the same images" for d in decreases)
    if not checks["eps0_equals_clean"]:
        warnings += ("the error at eps 0 differs from the clean error: the model is not deterministic at inference",)
    return AdversarialReport(attack="pgd-linf", steps=steps, step_rule="2.5 * eps / steps, random start",
                             seed=seed, n=len(clean), model=model, per_eps=tuple(per_eps),
                             checks=checks, warnings=warnings)


def select_images(ids: Sequence[str], n: int | None, seed: int) -> list[int]:
    """Indices of the ``n`` images attacked: the ``n`` ids of smallest keyed hash (seeded),
    so the subset is spread over sources and semantics, the same whatever the order of the
    split, and the subset of a smaller ``n`` is inside that of a larger one. All when ``n`` is
    None or at least the split's size."""
    from ..ids import hash64

    if n is not None and n < 1:
        raise UsageError(f"--n must be at least 1, not {n}")
    order = sorted(range(len(ids)), key=lambda i: hash64("attack-subset", seed, ids[i]))
    return sorted(order if n is None else order[:n])


def attack_run(run, data, eps: Sequence[float] = PAPER_EPS, *, n: int | None = 64,
               steps: int = DEFAULT_STEPS, split: str = "test", data_config: str = "default",
               seed: int = DEFAULT_SEED, resamples: int = DEFAULT_RESAMPLES, level: float = DEFAULT_LEVEL,
               device: str = "auto", batch_size: int = 16, checkpoint: str = "final",
               progress: bool = True):
    """Attack a trained run of the model registry on ``n`` images of ``data``'s split.

    The images are those the model predicts on (its evaluation transform), taken back to
    [0, 1]; the model's ``attribution_logits`` takes them from there, so the gradient flows
    through its normalisation. Returns (`AdversarialReport`, `TruthInfo` of the data).
    """
    import torch

    from ..loader import MEAN, STD, Attribution88Dataset, open_split
    from ..models.runs import load_model
    from ..devices import resolve_device
    from .truth import load_truth

    if steps < 1:
        raise UsageError(f"--steps must be at least 1, not {steps}")
    if batch_size < 1:
        raise UsageError(f"--batch-size must be at least 1, not {batch_size}")
    truth_info = load_truth(data, data_config, split).info  # checks the spec version too
    dev = resolve_device(device)
    model, info = load_model(run, checkpoint, dev)
    for p in model.parameters():
        p.requires_grad_(False)
    split_ds = open_split(data, split, data_config)
    chosen = select_images(split_ds["id"], n, seed)
    dataset = Attribution88Dataset(split_ds.select(chosen), split, transform=model.eval_transform(),
                                   returns=("source",))
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=0)
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)

    def batches():
        checked = False
        for x, y in loader:
            images = (x * std + mean).clamp(0, 1).to(dev)
            if not checked:  # the model must see in attribution_logits what it sees in predict
                with torch.no_grad():
                    direct = model(x.to(dev))["attribution"]
                    via = model.attribution_logits(images)
                if not torch.allclose(direct, via, atol=1e-3, rtol=1e-3):
                    raise UsageError(f"model {info.model!r}: attribution_logits on [0, 1] images does not "
                                     f"reproduce its predictions; it cannot be attacked through them")
                checked = True
            yield images, y.to(dev)

    report = evaluate(model.attribution_logits, batches(), eps, steps=steps, seed=seed,
                      model=f"{info.model} ({run})", resamples=resamples, level=level, progress=progress)
    return report, truth_info
