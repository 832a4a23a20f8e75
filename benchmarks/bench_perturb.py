"""Speed of the perturbation engine against the code each flavour reproduces, measured in the
same run: the ``repmix`` flavour against imagenet_c 0.0.3 itself, the ``imagecorruptions``
flavour against imagecorruptions 1.1.2.

    python benchmarks/bench_perturb.py [--flavour repmix|imagecorruptions|both] [--images N]
                                       [--glass-images N] [--quick]

On one core (OMP/OpenBLAS/MKL threads = 1, OpenCV threads = 1): for each of the 19
corruptions, the median time per image of the reference (run on the current stack through the
shims of `attribution88.perturb.reference_imagenet_c` / `attribution88.perturb.reference`) and
of `attribution88.perturb.apply`, at severities 1, 3 and 5, on the oracle images (224 px; for
imagecorruptions also the same images resized to 128 px: imagenet_c is defined at 224 px only);
the per-corruption ratio; the mean over the 19 (ratio of the mean times); the goals
(glass_blur >= 100x, zoom_blur >= 5x, mean >= 10x); and the throughput of the full protocol
(`apply_protocol`: resize to 224, corrupt, resize back) on 128 px images, in images per second
on one core. The repmix reference is imagenet_c's ``corrupt`` on the image in BGR order (the
official wrapper's flip included, as the engine's is).

Times are CPU time of this process (`time.process_time`), so that other work on a shared
machine inflates them less than wall time; both sides are measured alternately, image by
image, so that load changes hit both alike.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

GOALS = {"glass_blur": 100.0, "zoom_blur": 5.0}
MEAN_GOAL = 10.0
SEVERITIES = (1, 3, 5)
ORACLE = Path(__file__).resolve().parents[1] / "tests" / "data" / "oracle" / "public.npz"


def _time(fn, *args) -> float:
    start = time.process_time()
    fn(*args)
    return time.process_time() - start


def measure(images: list[np.ndarray], name: str, ref_corrupt, apply) -> tuple[float, float]:
    """Median CPU seconds per image of the reference and of the engine, alternating."""
    ref, ours = [], []
    for i, x in enumerate(images):
        for s in SEVERITIES:
            seed = 1000 * s + i
            ref.append(_time(ref_corrupt, x, name, s, seed))
            ours.append(_time(apply, x, name, s, seed))
    return statistics.median(ref), statistics.median(ours)


def table(title: str, images: list[np.ndarray], glass_images: int, names, ref_corrupt, apply,
          ref_name: str) -> dict:
    print(f"\n== {title}: median ms per image over severities {SEVERITIES} ==")
    print(f"{'corruption':20s}{ref_name:>17s}{'attribution88':>15s}{'ratio':>9s}")
    rows = {}
    for name in names:
        subset = images[:glass_images] if name == "glass_blur" else images
        r, o = measure(subset, name, ref_corrupt, apply)
        rows[name] = (r, o)
        print(f"{name:20s}{r * 1e3:17.2f}{o * 1e3:15.3f}{r / o:8.1f}x", flush=True)
    ref_mean = statistics.fmean(r for r, _ in rows.values())
    our_mean = statistics.fmean(o for _, o in rows.values())
    ratios = [r / o for r, o in rows.values()]
    print(f"{'mean of the 19':20s}{ref_mean * 1e3:17.2f}{our_mean * 1e3:15.3f}{ref_mean / our_mean:8.1f}x")
    print(f"per-corruption ratios: arithmetic mean {statistics.fmean(ratios):.1f}x, "
          f"geometric mean {statistics.geometric_mean(ratios):.1f}x, min {min(ratios):.2f}x "
          f"({names[int(np.argmin(ratios))]})")
    return {"rows": rows, "mean_ratio": ref_mean / our_mean}


def protocol_throughput(images: list[np.ndarray], names, apply_protocol, seconds: float) -> float:
    """Images per CPU second of `apply_protocol` on 128 px images, cycling through all
    19 x 5 (corruption, severity) cells."""
    cells = [(n, s) for n in names for s in range(1, 6)]
    done, spent, k = 0, 0.0, 0
    while spent < seconds or done < len(cells):
        name, s = cells[k % len(cells)]
        x = images[k % len(images)]
        spent += _time(apply_protocol, x, name, s, k)
        done += 1
        k += 1
    return done / spent


def references(flavours: list[str]) -> dict:
    """(title, reference's name, reference corrupt(x, name, severity, seed), flavour, sizes) per
    table, for the flavours asked whose reference is installed."""
    from attribution88.perturb import reference, reference_imagenet_c

    out = []
    for flavour in flavours:
        if flavour == "repmix":
            if not reference_imagenet_c.available():
                print("imagenet_c or Wand/ImageMagick missing: pip install Wand; pip install --no-deps "
                      "imagenet-c==0.0.3; apt-get install libmagickwand-dev", file=sys.stderr)
                continue

            def imagenet_c(x, name, severity, seed):
                return reference_imagenet_c.corrupt(x[:, :, ::-1], name, severity, seed)[:, :, ::-1]

            out.append(("repmix", "imagenet_c", imagenet_c, (224,)))
        else:
            if not reference.available():
                print("imagecorruptions is not installed: pip install imagecorruptions==1.1.2", file=sys.stderr)
                continue
            out.append(("imagecorruptions", "imagecorruptions", reference.corrupt, (224, 128)))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--flavour", choices=["repmix", "imagecorruptions", "both"], default="both")
    parser.add_argument("--images", type=int, default=6, help="images per corruption (default 6)")
    parser.add_argument("--glass-images", type=int, default=2,
                        help="images for glass_blur, ~1 s each in the references (default 2)")
    parser.add_argument("--protocol-seconds", type=float, default=20.0,
                        help="CPU seconds spent measuring protocol throughput, per flavour (default 20)")
    parser.add_argument("--quick", action="store_true", help="2 images, 1 for glass, 5 s of protocol")
    args = parser.parse_args(argv)
    if args.quick:
        args.images, args.glass_images, args.protocol_seconds = 2, 1, 5.0

    import cv2

    cv2.setNumThreads(1)
    from attribution88.perturb import CORRUPTIONS, apply, apply_protocol

    flavours = ["repmix", "imagecorruptions"] if args.flavour == "both" else [args.flavour]
    tables = references(flavours)
    if len(tables) < len(flavours):
        return 2
    names = CORRUPTIONS.names()
    big = list(np.load(ORACLE)["images"][: args.images])
    small = [np.asarray(Image.fromarray(x).resize((128, 128), Image.Resampling.BILINEAR)) for x in big]
    print(f"numpy {np.__version__}, OpenCV {cv2.__version__}; one core; {len(big)} images "
          f"({args.glass_images} for glass_blur)")
    ok = True
    for flavour, ref_name, ref_corrupt, sizes in tables:
        # warm-up: imports, and the five frost textures decoded and resized for both sizes
        for n in names:
            if n != "glass_blur":
                ref_corrupt(big[0], n, 1, 0)
            for seed in range(12 if n == "frost" else 1):
                apply(big[0], n, 1, seed, flavour)
                apply(small[0], n, 1, seed, flavour)

        def ours(x, name, severity, seed, flavour=flavour):
            return apply(x, name, severity, seed, flavour)

        results = {size: table(f"{flavour} flavour vs {ref_name}, {size} px", imgs, args.glass_images, names,
                               ref_corrupt, ours, ref_name)
                   for size, imgs in ((224, big), (128, small)) if size in sizes}
        print(f"\n== goals, {flavour} flavour (one core) ==")
        for size, res in results.items():
            for name, goal in GOALS.items():
                r, o = res["rows"][name]
                met = r / o >= goal
                ok &= met
                print(f"{size} px {name:11s} {r / o:8.1f}x  (goal >= {goal:.0f}x)  {'met' if met else 'NOT MET'}")
            met = res["mean_ratio"] >= MEAN_GOAL
            ok &= met
            print(f"{size} px mean of 19  {res['mean_ratio']:8.1f}x  (goal >= {MEAN_GOAL:.0f}x)  {'met' if met else 'NOT MET'}")

        def protocol(x, name, severity, seed, flavour=flavour):
            return apply_protocol(x, name, severity, seed, flavour)

        rate = protocol_throughput(small, names, protocol, args.protocol_seconds)
        print(f"\n== {flavour}: full protocol on 128 px images (resize to 224, corrupt, resize back), all 95 cells ==")
        print(f"{rate:.0f} images/s per core ({1e3 / rate:.2f} ms per image)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
