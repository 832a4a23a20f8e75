"""Predictions of a trained run, as a submission file `attribution88 score` reads.

Columns: ``id``, ``pred`` (the source name of the highest score), the 8 source scores — the
model's `submission_scores`, of kind ``SCORE_KIND``: by default the softmax of the attribution
logits (RepMix: the gated logits its loss is taken on), so rows are probabilities; per-source
log-likelihood ratios for models with ``SCORE_KIND = "llr"`` (score with ``--scores llr``) — and ``fake_score`` when the model has a detection output (RepMix:
the detection head's log-odds log p(fake) - log p(real)). Inference never mixes.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import torch

from ..atomic import atomic_path
from ..spec import SPEC
from ..devices import resolve_device


def predict(run: str | os.PathLike, data: str | os.PathLike, out: str | os.PathLike, *, split: str = "test",
            data_config: str = "default", device: str = "auto", batch_size: int = 64, workers: int | None = None,
            checkpoint: str = "final", progress: bool = True) -> Path:
    """Write the submission of run ``run`` on ``data``'s ``data_config``/``split`` to ``out``
    (atomically). Returns ``out``."""
    from tqdm.auto import tqdm

    from ..errors import UsageError
    from ..loader import Attribution88Dataset
    from .runs import load_model

    if batch_size < 1:
        raise UsageError(f"--batch-size must be >= 1, got {batch_size}")
    out = Path(out)
    if not out.resolve().parent.is_dir():
        raise UsageError(f"--out {out}: folder {out.resolve().parent} does not exist")
    dev = resolve_device(device)
    model, _ = load_model(run, checkpoint, dev)
    dataset = Attribution88Dataset(data, split, config=data_config, transform=model.eval_transform(),
                                   returns=("id",))
    workers = min(4, os.cpu_count() or 1) if workers is None else workers
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False, num_workers=workers)
    names = SPEC.source_names
    with atomic_path(out) as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        header = ["id", "pred", *names]
        rows = 0
        with torch.no_grad():
            for images, ids in tqdm(loader, desc="predict", unit="batch", leave=False, disable=not progress):
                o = model(images.to(dev))
                probs = model.submission_scores(o).float().cpu()
                fake = model.fake_score(o)
                if rows == 0 and fake is not None:
                    header.append("fake_score")
                if rows == 0:
                    writer.writerow(header)
                pred = probs.argmax(1).tolist()
                fake_list = fake.float().cpu().tolist() if fake is not None else None
                for i, image_id in enumerate(ids):
                    row = [image_id, names[pred[i]], *(f"{p:.6f}" for p in probs[i].tolist())]
                    if fake_list is not None:
                        row.append(f"{fake_list[i]:.6f}")
                    writer.writerow(row)
                rows += len(ids)
        if rows == 0:
            raise UsageError(f"{data}: split {split!r} of config {data_config!r} is empty")
    return out
