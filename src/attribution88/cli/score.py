"""`attribution88 score PREDS.csv`: score a submission against the test split."""

from __future__ import annotations

import argparse

NAME = "score"
HELP = "score a submission (CSV of predictions) against the test split"

EPILOG = """\
The submission is a CSV file (UTF-8, optionally gzip-compressed) with an `id` column holding
every image id of the scored split once, and `pred` (source name or index 0-7) and/or one
score column per source named real, stylegan3, stylegan2, stylegan, progan, cramergan,
mmdgan, sngan (probabilities, logits or per-source log-likelihood ratios: --scores), and
optionally `fake_score` (higher = more likely fake) for the detection AUC.
Exit codes: 0 scored, 2 bad submission or arguments, 1 other errors."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.epilog = EPILOG
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("submission", help="CSV file of predictions (.csv or .csv.gz)")
    p.add_argument("--truth", metavar="DIR|ORG/NAME", default=None,
                   help="dataset folder or Hugging Face Hub repository (default: ./attribution88)")
    p.add_argument("--config", default="default",
                   help="dataset config: default, or a test subset such as test_unseen_both")
    p.add_argument("--split", default="test", help="split of the config (default: test)")
    p.add_argument("--revision", default=None, help="Hub revision (branch, tag or commit)")
    p.add_argument("--scores", choices=["auto", "probs", "logits", "llr"], default="auto",
                   help="what the score columns hold: probs, logits, llr (per-source one-vs-rest "
                        "log-likelihood ratios) or auto (probs when every row is a probability "
                        "vector, else logits) [auto]")
    p.add_argument("--json", metavar="OUT", default=None, help="write the results document here")
    p.add_argument("--plots", metavar="DIR", default=None,
                   help="write confusion.png and robustness.png here (needs matplotlib)")
    p.add_argument("--resamples", type=int, default=1000,
                   help="bootstrap resamples for the intervals; 0 for none [1000]")
    p.add_argument("--seed", type=int, default=None, help="bootstrap seed [88]")
    p.add_argument("--level", type=float, default=0.95, help="interval level [0.95]")
    p.add_argument("--max-bytes", default=None, metavar="SIZE",
                   help="refuse larger submissions (decompressed), e.g. 512M "
                        "[ATTRIBUTION88_MAX_SUBMISSION_BYTES or 512M]")
    p.add_argument("--all", action="store_true", help="print every breakdown")


def check_common(args: argparse.Namespace) -> None:
    """Argument checks shared by score and compare, done before any work."""
    from pathlib import Path

    from ..errors import UsageError

    if args.resamples < 0:
        raise UsageError(f"--resamples must be >= 0, got {args.resamples}")
    if not 0 < args.level < 1:
        raise UsageError(f"--level must be between 0 and 1, got {args.level}")
    if args.json:
        parent = Path(args.json).resolve().parent
        if not parent.is_dir():
            raise UsageError(f"--json {args.json}: folder {parent} does not exist")


def run(args: argparse.Namespace) -> int:
    from ..eval.bootstrap import DEFAULT_SEED
    from ..eval.report import DEFAULT_BREAKDOWNS, render
    from ..eval.results import write_results
    from ..eval.scoring import score
    from ..eval.submission import read_submission
    from ..eval.truth import load_truth

    check_common(args)
    if args.plots:
        from ..eval.plots import check_available

        check_available()
    submission = read_submission(args.submission, scores=args.scores, max_bytes=args.max_bytes)
    truth = load_truth(args.truth, args.config, args.split, revision=args.revision)
    result = score(submission, truth, resamples=args.resamples,
                   seed=DEFAULT_SEED if args.seed is None else args.seed, level=args.level)
    print(render(result, None if args.all else DEFAULT_BREAKDOWNS), end="")
    if args.json:
        write_results(args.json, result)
        print(f"\nresults written to {args.json}")
    if args.plots:
        from ..eval.plots import write_plots

        paths = write_plots(result, args.plots)
        print(f"plots written to {', '.join(str(p) for p in paths)}")
    return 0
