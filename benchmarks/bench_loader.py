"""Loader throughput: attribution88.loader (arrow rows -> PNG decode in DataLoader workers)
against plain PNG decoding of the same bytes, per core; and the RepMix training transform with
its perturbation (resize 256, flip, crop 224, a seen perturbation of the spec's protocol with
p = 0.95, normalise) in the same loader.

Goals: decode only, at least 80% of the raw decode rate per core (issue 3); training transform
with perturbation, at least 300 images/s on 2 cores at 128 px input (issue 10).

    python benchmarks/bench_loader.py [--images 4000] [--workers 1 2] [--rounds 3] [--train-only]

Images: 128x128 crops of scikit-image's sample photographs with seeded jitter (realistic PNG
sizes, unlike noise), written through the real format writer into a temporary dataset.
"""

from __future__ import annotations

import argparse
import io
import os
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402


def make_images(n: int) -> list[np.ndarray]:
    from skimage import data

    photos = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket()]
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        src = photos[i % len(photos)]
        h, w = src.shape[:2]
        side = int(rng.integers(128, min(h, w)))
        y, x = int(rng.integers(0, h - side + 1)), int(rng.integers(0, w - side + 1))
        crop = Image.fromarray(src[y:y + side, x:x + side]).resize((128, 128), Image.Resampling.LANCZOS)
        arr = np.asarray(crop).astype(np.int16) + rng.integers(-3, 4, (128, 128, 3))
        out.append(np.clip(arr, 0, 255).astype(np.uint8))
    return out


def write_dataset(root: str, images: list[np.ndarray]) -> None:
    from attribution88.format.dataset import finalize, prepare_output_dir, write_records
    from attribution88.format.schema import Record
    from attribution88.ids import assign, image_id
    from attribution88.images import encode_png
    from attribution88.spec import SPEC

    preset = SPEC.preset("full")
    cell = SPEC.cell("real", "celeba")
    records = []
    index = 0
    while len(records) < len(images):
        a = assign(image_id(cell, index), preset)
        index += 1
        if a.split != "train":
            continue
        records.append(Record(a.id, encode_png(images[len(records)]), 0, 0, "train", "none", 0, None, None, "bench"))
    prepare_output_dir(root, preset.name)
    write_records(root, records, preset)
    finalize(root, preset.name, {"kind": "benchmark"})


def raw_decode_rate(pngs: list[bytes], repeat: int = 1) -> float:
    best = 0.0
    for _ in range(repeat):
        t = time.perf_counter()
        for b in pngs:
            im = Image.open(io.BytesIO(b)).convert("RGB")
            np.asarray(im)
        best = max(best, len(pngs) / (time.perf_counter() - t))
    return best


def loader_rate(root: str, workers: int, batch: int, transform) -> float:
    import torch

    from attribution88.loader import make_loader

    loader = make_loader(root, "train", batch_size=batch, num_workers=workers, shuffle=False,
                         transform=transform, worker_init_fn=lambda _: torch.set_num_threads(1))
    it = iter(loader)
    next(it)  # workers started, first batch in
    n, t = 0, time.perf_counter()
    for x, _ in it:
        n += len(x)
    return n / (time.perf_counter() - t)


def train_cpu_rate(pngs: list[bytes], rounds: int) -> float:
    """Images per CPU second of one process decoding and applying the RepMix training
    transform (``time.process_time``: what a loaded machine inflates least). Workers share
    nothing, so n dedicated cores give about n times this."""
    from attribution88.loader import RepMixTrain, decode_png

    transform = RepMixTrain()
    best = 0.0
    for r in range(rounds):
        t = time.process_time()
        for i, b in enumerate(pngs):
            transform(decode_png(b), f"img{i}", r)
        best = max(best, len(pngs) / (time.process_time() - t))
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=4000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds; the best of each side counts")
    ap.add_argument("--train-only", action="store_true", help="only the training transform with perturbation")
    args = ap.parse_args()

    import torch
    torch.set_num_threads(1)
    from attribution88.format.reader import read_table
    from attribution88.loader import Decode, RepMixEval, RepMixTrain
    from attribution88.spec import SPEC

    with tempfile.TemporaryDirectory() as tmp:
        root = os.path.join(tmp, "attribution88")
        write_dataset(root, make_images(args.images))
        workers = args.workers[-1]
        pngs = [r["bytes"] for r in read_table(root, "default", "train", ["image"]).column("image").to_pylist()]
        cpu = train_cpu_rate(pngs[:1000], args.rounds)
        print(f"RepMix training transform with perturbation, one process: {cpu:6.0f} img per CPU second "
              f"-> {2 * cpu:6.0f} img/s on 2 dedicated cores (goal >= 300: {'met' if 2 * cpu >= 300 else 'NOT MET'})",
              flush=True)
        train = max(loader_rate(root, workers, args.batch, RepMixTrain()) for _ in range(args.rounds))
        print(f"loader, RepMix training transform with perturbation ({SPEC.protocol.describe()}, "
              f"p = {SPEC.protocol.train_probability}, the {len(SPEC.seen_perturbations())} seen), 128 px input, "
              f"{workers} worker(s): {train:6.0f} img/s (goal >= 300 on 2 cores: "
              f"{'met' if train >= 300 else 'NOT MET'}; best of {args.rounds})", flush=True)
        if args.train_only:
            return
        print(f"{len(pngs)} PNGs of 128x128, mean {np.mean([len(b) for b in pngs]) / 1024:.1f} KiB")
        # Best of --rounds for each, interleaved, so that both sides see the same machine.
        raw, rates = 0.0, dict.fromkeys(args.workers, 0.0)
        for _ in range(args.rounds):
            raw = max(raw, raw_decode_rate(pngs, repeat=1))
            for workers in args.workers:
                rates[workers] = max(rates[workers], loader_rate(root, workers, args.batch, Decode()))
        print(f"raw PNG decode (PIL, 1 core):                {raw:8.0f} img/s")
        for workers, rate in rates.items():
            per_core = rate / workers
            print(f"loader, decode only, {workers} worker(s):          {rate:8.0f} img/s = {per_core:6.0f} per core "
                  f"-> {per_core / raw:5.1%} of raw per core (goal >= 80%)")
        rate = loader_rate(root, args.workers[-1], args.batch, RepMixEval())
        print(f"loader, RepMix test transform (224 px), {args.workers[-1]} worker(s): {rate:6.0f} img/s (for reference)")


if __name__ == "__main__":
    main()
