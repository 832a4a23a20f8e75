"""`attribution88 predict --run RUN --data DIR --out preds.csv`: a submission from a trained run."""

from __future__ import annotations

import argparse

NAME = "predict"
HELP = "write the predictions of a trained run as a submission file (CSV) for `attribution88 score`"
#: The optional dependencies it needs (pyproject.toml): `pip install 'attribution88[train]'`.
EXTRA = "train"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--run", required=True, metavar="RUN", help="run folder written by `attribution88 train`")
    p.add_argument("--data", required=True, metavar="DIR|ORG/NAME", help="dataset folder or Hub repository")
    p.add_argument("--out", required=True, metavar="CSV", help="submission file to write")
    p.add_argument("--split", default="test", help="split to predict [test]")
    p.add_argument("--config", default="default", help="dataset config, e.g. test_unseen_both [default]")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N [auto]")
    p.add_argument("--batch-size", type=int, default=64, help="images per batch [64]")
    p.add_argument("--workers", type=int, default=None, help="data loader processes [min(4, CPUs)]")
    p.add_argument("--checkpoint", choices=["final", "last"], default="final",
                   help="final weights, or the last epoch's checkpoint of an unfinished run [final]")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    from ..errors import UsageError
    from ..models import predict

    if args.workers is not None and args.workers < 0:
        raise UsageError(f"--workers must be >= 0, got {args.workers}")
    out = predict(args.run, args.data, args.out, split=args.split, data_config=args.config, device=args.device,
                  batch_size=args.batch_size, workers=args.workers, checkpoint=args.checkpoint,
                  progress=not args.quiet)
    from ..models import get_model
    from ..models.runs import read_run

    kind = get_model(read_run(args.run).model).SCORE_KIND
    declare = "" if kind == "probs" else f" --scores {kind}"
    print(f"predictions written to {out}; score with: attribution88 score {out} --truth {args.data}{declare}")
    return 0
