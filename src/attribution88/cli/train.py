"""`attribution88 train --model repmix --data DIR --out RUN`: train a reference model."""

from __future__ import annotations

import argparse

NAME = "train"
HELP = "train a reference model (RepMix, ...) on the train split of a dataset"
#: The optional dependencies it needs (pyproject.toml): `pip install 'attribution88[train]'`.
EXTRA = "train"

EPILOG = """\
The run folder holds config.json, metrics.jsonl (one line per epoch),
checkpoints/last.safetensors (after every epoch) and, when training ends, model.safetensors.
Run the same command again after a kill: it resumes from the last finished epoch.
Presets: `paper` (the official settings: ResNet-50, ImageNet weights, 224 px, 30 epochs) and
`cpu` (a small configuration for a laptop CPU; see --list). Change any setting with
--set KEY=VALUE, e.g. --set mixing=false (the paper's "w/o RepMix" ablation),
--set compound_loss=false, --set perturbation=false, --set mixing_position=3,
--set backbone=densenet121."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.epilog = EPILOG
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("--model", default="repmix", help="registered model name [repmix]")
    p.add_argument("--data", metavar="DIR|ORG/NAME", help="dataset folder or Hugging Face Hub repository")
    p.add_argument("--out", metavar="RUN", help="run folder (created; resumed when it holds an unfinished run)")
    p.add_argument("--preset", default="paper", help="settings preset: paper or cpu [paper]")
    p.add_argument("--set", dest="settings", action="append", default=[], metavar="KEY=VALUE",
                   help="change one setting of the preset (repeatable)")
    p.add_argument("--epochs", type=int, default=None, help="number of epochs (shorthand for --set epochs=N)")
    p.add_argument("--batch-size", type=int, default=None, help="samples per batch (shorthand for --set batch_size=N)")
    p.add_argument("--seed", type=int, default=0, help="seed of every random choice of the run [0]")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N [auto]")
    p.add_argument("--workers", type=int, default=None, help="data loader processes [min(4, CPUs)]")
    weights = p.add_mutually_exclusive_group()
    weights.add_argument("--pretrained", metavar="FILE", default=None,
                         help="ImageNet weights of the backbone (torchvision .pth or safetensors); default: "
                              "the torchvision cache")
    weights.add_argument("--no-pretrained", action="store_true", help="train the backbone from scratch")
    p.add_argument("--config", default="default", help="dataset config [default]")
    p.add_argument("--quiet", action="store_true", help="no progress bar nor per-epoch lines")
    p.add_argument("--list", action="store_true", help="list the models, their presets and settings, and exit")


def run(args: argparse.Namespace) -> int:
    from ..errors import UsageError
    from ..models import get_model, list_models, train
    from ..models.config import field_table, parse_setting

    if args.list:
        for name in list_models():
            cls = get_model(name)
            print(f"{name}: {cls.SUMMARY}")
            for preset, changes in cls.PRESETS.items():
                shown = ", ".join(f"{k}={v}" for k, v in changes.items()) or "the defaults below"
                print(f"  preset {preset}: {shown}")
            print("  settings: " + ", ".join(f"{k}={v}" for k, v in field_table(cls.Config)))
        return 0
    if not args.data or not args.out:
        raise UsageError("train needs --data DIR and --out RUN (or --list)")
    if args.workers is not None and args.workers < 0:
        raise UsageError(f"--workers must be >= 0, got {args.workers}")
    cls = get_model(args.model)
    overrides = dict(parse_setting(s) for s in args.settings)
    if args.epochs is not None:
        overrides["epochs"] = args.epochs
    if args.batch_size is not None:
        overrides["batch_size"] = args.batch_size
    if args.no_pretrained:
        overrides["pretrained"] = False
    config = cls.config_from_preset(args.preset, **overrides)
    if args.pretrained and not getattr(config, "pretrained", False):
        raise UsageError("--pretrained FILE given, but this configuration trains without ImageNet weights")
    out = train(args.model, args.data, args.out, config=config, seed=args.seed, device=args.device,
                workers=args.workers, weights_path=args.pretrained, data_config=args.config,
                progress=not args.quiet)
    print(f"trained {args.model} into {out}; predict with: attribution88 predict --run {out} --data {args.data} "
          f"--out preds.csv")
    return 0
