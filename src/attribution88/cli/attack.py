"""`attribution88 attack --run RUN --data DIR`: white-box PGD (L-infinity) on a trained run, the
attribution error per budget with bootstrap intervals (the paper's Table 2)."""

from __future__ import annotations

import argparse

NAME = "attack"
HELP = "attack a trained run with PGD under L-infinity budgets; attribution error per eps (Table 2)"
#: The optional dependencies it needs (pyproject.toml): `pip install 'attribution88[train]'`.
EXTRA = "train"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", required=True, metavar="RUN", help="run folder written by `attribution88 train`")
    p.add_argument("--data", required=True, metavar="DIR|ORG/NAME", help="dataset folder or Hub repository")
    p.add_argument("--eps", default="2,4,8,16,24,32",
                   help="L-infinity budgets in pixel units of 1/255, comma-separated [2,4,8,16,24,32]")
    p.add_argument("--steps", type=int, default=10, help="PGD steps per budget [10]")
    p.add_argument("--n", type=int, default=64, metavar="IMAGES",
                   help="images attacked, a seeded subset of the split; 0 for all [64]")
    p.add_argument("--split", default="test", help="split [test]")
    p.add_argument("--config", default="default", help="dataset config [default]")
    p.add_argument("--seed", type=int, default=88, help="seed of the subset, the random starts and the bootstrap [88]")
    p.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples; 0 for no interval [1000]")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N [auto]")
    p.add_argument("--batch-size", type=int, default=16, help="images per batch [16]")
    p.add_argument("--checkpoint", choices=["final", "last"], default="final", help="weights to attack [final]")
    p.add_argument("--json", metavar="OUT", help="results document: a `score --json` document is given an "
                   "`adversarial` section (the leaderboard shows it); a new file gets an attack document")
    p.add_argument("--plots", metavar="DIR", help="write adversarial.png (error against eps) here (needs matplotlib)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from ..errors import UsageError
    from ..eval.attack import attack_run, parse_eps

    eps = parse_eps(args.eps)
    if args.resamples < 0:
        raise UsageError(f"--resamples must be >= 0, not {args.resamples}")
    if args.plots:
        from ..eval.plots import check_available

        check_available()
    if args.json:
        from ..eval.results import check_attack_target

        check_attack_target(args.json)  # before the work: an unusable target fails at once
    report, truth = attack_run(args.run, args.data, eps, n=args.n or None, steps=args.steps, split=args.split,
                               data_config=args.config, seed=args.seed, resamples=args.resamples,
                               device=args.device, batch_size=args.batch_size, checkpoint=args.checkpoint,
                               progress=not args.quiet)
    print(f"PGD (L-infinity, {report.steps} steps, random start) on {report.n} images of "
          f"{truth.location} ({truth.config}/{truth.split}); model {report.model}")
    from ..eval.metric_table import METRICS

    attr, det = METRICS["attribution_error"].label, METRICS["detection_error"].label
    wa, wd = max(len(attr), 6), max(len(det), 6)
    print(f"{'eps':>7}  {attr:>{wa}}  {'95% CI':>16}  {det:>{wd}}")
    for e in report.per_eps:
        a, d = e.attribution_error, e.detection_error
        ci = f"[{a.low:.4f}, {a.high:.4f}]" if a.low is not None else ""
        print(f"{e.eps:>4g}/255  {a.value:>{wa}.4f}  {ci:>16}  {d.value:>{wd}.4f}")
    checks = report.checks
    print(f"checks: eps 0 = clean error ({checks['clean_error']:.4f}): {checks['eps0_equals_clean']}; "
          f"within budget: {checks['within_budget']}; error never falls with eps: {checks['monotone']}")
    for w in report.warnings:
        print(f"warning: {w}")
    if args.json:
        from ..eval.results import write_attack

        print(f"results written to {write_attack(args.json, report, truth)}")
    if args.plots:
        from ..eval.plots import write_adversarial_plot

        print(f"plot written to {write_adversarial_plot(report, args.plots)}")
    return 0
