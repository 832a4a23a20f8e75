"""`attribution88 compare A.csv B.csv`: do two submissions differ significantly?"""

from __future__ import annotations

import argparse

NAME = "compare"
HELP = "paired comparison of two submissions on the same images (McNemar, paired bootstrap)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("a", help="first submission (A)")
    p.add_argument("b", help="second submission (B); differences are A - B")
    p.add_argument("--truth", metavar="DIR|ORG/NAME", default=None,
                   help="dataset folder or Hugging Face Hub repository (default: ./attribution88)")
    p.add_argument("--config", default="default", help="dataset config [default]")
    p.add_argument("--split", default="test", help="split of the config [test]")
    p.add_argument("--revision", default=None, help="Hub revision (branch, tag or commit)")
    p.add_argument("--scores", choices=["auto", "probs", "logits", "llr"], default="auto",
                   help="what the score columns of both files hold [auto]")
    p.add_argument("--json", metavar="OUT", default=None, help="write the comparison document here")
    p.add_argument("--resamples", type=int, default=1000, help="paired bootstrap resamples [1000]")
    p.add_argument("--seed", type=int, default=None, help="bootstrap seed [88]")
    p.add_argument("--level", type=float, default=0.95, help="interval level [0.95]")
    p.add_argument("--max-bytes", default=None, metavar="SIZE",
                   help="refuse larger submissions (decompressed) [512M]")


def run(args: argparse.Namespace) -> int:
    from ..eval.bootstrap import DEFAULT_SEED
    from ..eval.compare import compare_submissions
    from ..eval.report import render_compare
    from ..eval.results import write_results
    from ..eval.submission import read_submission
    from ..eval.truth import load_truth
    from .score import check_common

    check_common(args)
    a = read_submission(args.a, scores=args.scores, max_bytes=args.max_bytes)
    b = read_submission(args.b, scores=args.scores, max_bytes=args.max_bytes)
    truth = load_truth(args.truth, args.config, args.split, revision=args.revision)
    result = compare_submissions(a, b, truth, resamples=args.resamples,
                     seed=DEFAULT_SEED if args.seed is None else args.seed, level=args.level)
    print(render_compare(result), end="")
    if args.json:
        write_results(args.json, result)
        print(f"\nresults written to {args.json}")
    return 0
