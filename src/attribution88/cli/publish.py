"""attribution88 publish DIR --repo-id ORG/NAME: push a dataset folder to the Hugging Face Hub."""

from __future__ import annotations

import argparse

NAME = "publish"
HELP = "verify a dataset folder and push it to the Hugging Face Hub (resumable)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("dataset", help="the dataset folder to publish")
    p.add_argument("--repo-id", required=True, metavar="ORG/NAME", help="Hub dataset repository")
    p.add_argument("--private", action="store_true", help="create the repository as private")
    p.add_argument("--revision", help="branch to commit to (default: main)")
    p.add_argument("--message", help="commit message")
    p.add_argument("--dry-run", action="store_true",
                   help="print what would be uploaded (files and dataset card) and stop")
    p.add_argument("--skip-verify", action="store_true", help="do not re-hash the dataset first")


def run(args: argparse.Namespace) -> int:
    from ..errors import PublishError
    from ..publish import plan_publish, publish
    from ..verify import verify

    if not args.skip_verify:
        report = verify(args.dataset)
        if not report.ok:
            for line in report.lines(limit=5):
                print(line)
            raise PublishError(f"{args.dataset} does not verify ({report.summary()}); fix it before publishing")
    plan = plan_publish(args.dataset, args.repo_id, private=args.private, revision=args.revision)
    for line in plan.describe():
        print(line)
    if args.dry_run:
        print("--- dataset card (README.md) ---")
        print(plan.card, end="")
        print("dry run: nothing was uploaded")
        return 0
    url = publish(plan, commit_message=args.message)
    print(f"published: {url}")
    return 0
