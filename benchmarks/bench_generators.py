"""Throughput of the generator zoo, per family, on this machine's CPU (and on CUDA with --device).

For each architecture:
- the full-width model (the paper's config, random weights: speed does not depend on them) at
  its usual native resolution: images/s with one thread and with all threads;
- the stand-in of the mini preset (128 px): images/s through `sample` (micro-batches), and the
  reference measured in the same run: a naive loop calling the network once per image;
- forward FLOPs per image (torch's FLOP counter: convolutions and matrix products), the
  achieved GFLOP/s, and the GPU-hours the full benchmark would take (77 models x 12,000 images
  x 3 oversampling), estimated from the FLOPs and an assumed sustained GPU throughput.
Then the mini preset end to end (77 stand-ins built, every candidate image sampled), and bf16
autocast against fp32 (speed ratio and `precision.compare_precision`'s statistics).

Timings on a shared machine are noisy: every ratio is measured within one run.

    python benchmarks/bench_generators.py                # everything (~10-15 min on 2 cores)
    python benchmarks/bench_generators.py --quick        # fewer images, no mini, no bf16
    python benchmarks/bench_generators.py --device cuda  # on a GPU
"""

from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np
import torch

from attribution88.builders.generators import ARCHITECTURES, MANIFEST, MICRO_BATCH, load_generator, sample
from attribution88.builders.generators.latents import draw_latents
from attribution88.builders.generators.networks.layers import initialize
from attribution88.builders.generators.precision import compare_precision
from attribution88.builders.generators.sampling import Generator, quantize
from attribution88.ids import derive_seed, latent_seed
from attribution88.spec import SPEC

#: Native resolution benchmarked per architecture: the one most of its 11 models have.
NATIVE = {a: int(np.bincount([m.resolution for m in MANIFEST.select(a)]).argmax()) for a in ARCHITECTURES}
#: Candidate images of the full benchmark per model: 12,000 x 3 (oversampling).
FULL = SPEC.preset("full")
MODEL_IMAGES = {m.name: math.ceil(FULL.cell_size(SPEC.semantic(m.semantic)) * FULL.oversample) for m in MANIFEST.models}


def full_cost(arch: str, per_image: float) -> float:
    """Sum over the architecture's 11 models of images x ``per_image`` (a cost at the
    benchmarked resolution), each scaled by (its resolution / benchmarked)^2: these generators
    are convolutional, their cost grows with the pixel count."""
    return sum(MODEL_IMAGES[m.name] * per_image * (m.resolution / NATIVE[arch]) ** 2 for m in MANIFEST.select(arch))
#: Assumed GPUs for the estimate: fp32 peak (TFLOP/s, no TF32: sampling turns it off) and the
#: share of it sustained by large convolutions (an assumption, see the printed notes).
GPUS = {"A100-SXM fp32": 19.5, "H100-SXM fp32": 67.0}
SUSTAINED = 0.4


def timed(fn, repeat: int = 1) -> float:
    """Seconds of the fastest of ``repeat`` calls, after a warm-up call (oneDNN creates its
    primitives on the first one). The minimum is the least disturbed by other processes."""
    fn()
    best = math.inf
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def full_generator(arch: str, device: torch.device) -> Generator:
    a = ARCHITECTURES.get(arch)
    module = a.module().Generator(a.full_config(NATIVE[arch]))
    initialize(module, lambda name: derive_seed("bench", arch, name))
    model = MANIFEST.select(arch)[1]
    return Generator(model=model, origin="bench", native_resolution=NATIVE[arch], is_stand_in=False,
                     module=module.eval().to(device), device=str(device))


def flops_per_image(gen: Generator) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    z, noise = draw_latents(1, gen.z_dim, gen.noise_shapes(), gen.architecture.latent)
    dev = next(gen.module.parameters()).device
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        gen.module(torch.from_numpy(z[None]).to(dev), [torch.from_numpy(n[None]).to(dev) for n in noise] or None)
    return float(counter.get_total_flops())


def naive_loop(gen: Generator, seeds) -> None:
    """The reference: one network call per image, then the same quantisation."""
    dev = next(gen.module.parameters()).device
    with torch.no_grad():
        for s in seeds:
            z, noise = draw_latents(s, gen.z_dim, gen.noise_shapes(), gen.architecture.latent)
            nz = [torch.from_numpy(n[None]).to(dev) for n in noise] or None
            out = gen.module(torch.from_numpy(z[None]).to(dev), nz)
            quantize(out, gen.architecture.output_range).cpu().numpy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--arch", nargs="*", default=ARCHITECTURES.names())
    ap.add_argument("--full-images", type=int, default=0,
                    help="images per full-width timing (default: one micro-batch)")
    ap.add_argument("--stand-in-images", type=int, default=64)
    ap.add_argument("--quick", action="store_true", help="fewer images; skip the mini preset and bf16")
    ap.add_argument("--no-mini", action="store_true")
    ap.add_argument("--no-bf16", action="store_true")
    args = ap.parse_args()
    dev = torch.device(args.device)
    all_threads = torch.get_num_threads()
    thread_counts = [1, all_threads] if dev.type == "cpu" and all_threads > 1 else [all_threads]
    n_full = args.full_images or MICRO_BATCH[dev.type]
    n_small = 16 if args.quick else args.stand_in_images
    print(f"torch {torch.__version__}, device {dev}, threads {thread_counts}, micro-batch {MICRO_BATCH[dev.type]}, "
          f"load {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else "")

    rows = []
    for arch in args.arch:
        full = full_generator(arch, dev)
        flops = flops_per_image(full)
        seeds = [latent_seed(SPEC.cell(arch, "bedroom"), i) for i in range(max(n_small, n_full))]
        res = {"arch": arch, "px": NATIVE[arch], "gflop": flops / 1e9,
               "params": sum(p.numel() for p in full.module.parameters()) / 1e6}
        for threads in thread_counts:
            torch.set_num_threads(threads)
            t = timed(lambda: sample(full, seeds[:n_full], out_size=NATIVE[arch]))
            res[f"full_{threads}"] = n_full / t
        torch.set_num_threads(all_threads)
        res["full_best"] = max(res[f"full_{t}"] for t in thread_counts)
        full = None  # free its memory before the next one
        stand_in = load_generator(arch, "bedroom", stand_in=True, device=str(dev))
        res["stand_in_gflop"] = flops_per_image(stand_in) / 1e9
        for threads in thread_counts:  # batched and naive interleaved, best of 3 each
            torch.set_num_threads(threads)
            res[f"small_{threads}"] = n_small / timed(lambda: sample(stand_in, seeds[:n_small], batch_size=n_small), 3)
            res[f"naive_{threads}"] = n_small / timed(lambda: naive_loop(stand_in, seeds[:n_small]), 3)
        torch.set_num_threads(all_threads)
        rows.append(res)
        print(f"  {arch}: full {res['px']} px {res['full_best']:.2f} img/s, "
              f"stand-in {res[f'small_{thread_counts[0]}']:.0f} img/s (naive {res[f'naive_{thread_counts[0]}']:.0f}), "
              f"{thread_counts[0]} thread", flush=True)

    t1, tn = thread_counts[0], thread_counts[-1]
    print(f"\nImages/s at native resolution ({dev}; full = the paper's widths, random weights)")
    print(f"{'':25}{'full model':>29}   {'stand-in (128 px)':>40}")
    print(f"{'arch':10} {'px':>4} {'params':>7} {'GFLOP':>7} {f'{t1}t img/s':>10} {f'{tn}t img/s':>10} "
          f"{'GFLOP/s':>8}  {f'{t1}t img/s':>10} {'naive':>6} {'x':>5} {f'{tn}t img/s':>10} {'naive':>6} {'x':>5}")
    for r in rows:
        print(f"{r['arch']:10} {r['px']:>4} {r['params']:>6.1f}M {r['gflop']:>7.1f} {r[f'full_{t1}']:>10.2f} "
              f"{r[f'full_{tn}']:>10.2f} {r['gflop'] * r['full_best']:>8.1f}  {r[f'small_{t1}']:>10.0f} "
              f"{r[f'naive_{t1}']:>6.0f} {r[f'small_{t1}'] / r[f'naive_{t1}']:>4.1f}x {r[f'small_{tn}']:>10.0f} "
              f"{r[f'naive_{tn}']:>6.0f} {r[f'small_{tn}'] / r[f'naive_{tn}']:>4.1f}x")
    print("(GFLOP: forward, per image; GFLOP/s: achieved by the full model with the better thread count; "
          "naive: the reference, one network call per image; x: `sample`'s micro-batches against it, "
          "same thread count, best of 3 interleaved)")

    n_images = sum(MODEL_IMAGES[m.name] for r in rows for m in MANIFEST.select(r["arch"]))
    print(f"\nFull benchmark: {n_images:,} candidate images (12,000 x 3 per model, each at its native "
          f"resolution: costs scaled by pixel count from the benchmarked one)")
    cpu_hours = sum(full_cost(r["arch"], 1 / r["full_best"]) for r in rows) / 3600
    print(f"  this {dev}, measured (better thread count): {cpu_hours:,.0f} hours")
    best = max(r["gflop"] * r["full_best"] for r in rows)
    for gpu, peak in GPUS.items():
        rate = peak * 1e12 * SUSTAINED
        flop_h = sum(full_cost(r["arch"], r["gflop"] * 1e9) for r in rows) / rate / 3600
        adj_h = sum(full_cost(r["arch"], r["gflop"] * 1e9) / (r["gflop"] * r["full_best"] / best)
                    for r in rows) / rate / 3600
        print(f"  {gpu} (estimate): {flop_h:.1f} GPU-hours at {SUSTAINED:.0%} of {peak} TFLOP/s on the counted "
              f"FLOPs; {adj_h:.1f} GPU-hours if each family keeps its CPU efficiency relative to the best one")
    print("  Estimates, not measurements: forward FLOPs (convolutions, matrix products) from torch's counter, "
          "divided by an assumed sustained rate; fp32 with TF32 off, as `sample` runs on CUDA. The second "
          "figure charges each family for work the counter does not see (StyleGAN3's filtered non-linearity "
          "is memory-bound) by its achieved GFLOP/s on this CPU relative to the best family's.")

    if not (args.quick or args.no_mini):
        preset = SPEC.preset("mini")
        print()
        for threads in thread_counts:
            torch.set_num_threads(threads)
            total, t0, t_build = 0, time.perf_counter(), 0.0
            for cell in SPEC.cells():
                if not cell.source.is_fake:
                    continue
                n = math.ceil(preset.cell_size(cell.semantic) * preset.oversample)
                tb = time.perf_counter()
                gen = load_generator(cell.source.name, cell.semantic.name, stand_in=True, device=str(dev))
                t_build += time.perf_counter() - tb
                sample(gen, [latent_seed(cell, i) for i in range(n)], batch_size=64)
                total += n
            dt = time.perf_counter() - t0
            print(f"Mini preset, {threads} thread(s): {total:,} candidate images from 77 stand-ins in {dt:.1f} s "
                  f"({total / dt:.0f} img/s, {t_build:.1f} s of it building the stand-ins); "
                  f"{dt / 60:.2f} of the 60 s target", flush=True)
        torch.set_num_threads(all_threads)

    if not (args.quick or args.no_bf16) and dev.type == "cpu":
        print("\nbf16 autocast vs fp32 on the stand-ins (32 images each): speed and image statistics")
        for arch in args.arch:
            gen = load_generator(arch, "bedroom", stand_in=True)
            seeds = [latent_seed(SPEC.cell(arch, "bedroom"), i) for i in range(32)]
            t32 = timed(lambda: sample(gen, seeds[:8]))
            t16 = timed(lambda: sample(gen, seeds[:8], precision="bf16"))
            report = compare_precision(gen, seeds, "bf16")
            print(f"  {arch:10} bf16 takes {t16 / t32:.2f}x the fp32 time; {report.summary()}")


if __name__ == "__main__":
    main()
