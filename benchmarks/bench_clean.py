"""Benchmark of data cleaning: LPIPS features computed once + faiss shortlist + exact re-rank
(ours) against naive all-pairs LPIPS (one ``lpips.LPIPS`` forward per candidate-real pair).

    python benchmarks/bench_clean.py                  # 2,000 candidates x 2,000 reals, 128 px
    python benchmarks/bench_clean.py --compare-only   # only ours vs random vs Yu et al. (issue 12)
    python benchmarks/bench_clean.py --full-scale     # only 36,000 candidates x 25k/50k/100k reals
    python benchmarks/bench_clean.py --threads-only   # only the thread-oversubscription study

Images are made here: random crops (96-320 px, resized to 128) of scikit-image's bundled
photographs; candidates are fresh crops with generator-like artifacts (noise, checkerboard,
blotches), so a candidate's nearest real is a real of overlapping content, not a copy.

Printed: (a) our time end to end (features of every image once, shortlist, exact re-rank,
k-means, selection, statistics); (b) the naive method's time per pair, measured on every real
for a few candidates and EXTRAPOLATED linearly to all pairs (running 4M forwards here would
take hours); the speed ratio; the shortlist's recall of the true nearest real at k (the truth
from exact all-pairs feature distances, and spot-checked against the naive forwards); the same
for the PCA shortlist used at full scale; the mini preset's cleaning time over its 77 fake
cells; memory at full scale; timings of torch + faiss + BLAS thread settings in one process;
the comparison of our selection with random selection and Yu et al.'s N closest (quality:
nearest-real LPIPS mean and 90th percentile, share of the worst third, share of 'broken'
candidates; diversity: mean pairwise LPIPS, clusters covered) with the goals of issue 12; and
the full-cell scale study: `clean` on 36,000 candidates x 25,000 / 50,000 / 100,000 reals of
synthetic features (benchmarks/clean_scale.py), each in a fresh process: wall and CPU time,
peak RSS, rows read, recall of the exact nearest real.
Without local backbone weights (offline) the LPIPS backbone is untrained: said in the output.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))  # clean_scale, beside this file
from attribution88.builders import clean as cl  # noqa: E402
from attribution88.builders import shortlist as sl  # noqa: E402
from attribution88.builders.lpips_features import LpipsFeatures  # noqa: E402
from attribution88.ids import derive_seed  # noqa: E402
from attribution88.spec import SPEC  # noqa: E402

SIZE = 128
_PHOTOS = ["astronaut", "chelsea", "coffee", "hubble_deep_field", "immunohistochemistry", "retina",
           "rocket", "colorwheel", "cat", "brick", "camera", "grass", "gravel", "moon", "coins",
           "horse", "clock", "page", "text"]


# -- data ---------------------------------------------------------------------------------------
def photos() -> list[np.ndarray]:
    """scikit-image's bundled photographs as RGB uint8 (grey ones tinted)."""
    import skimage.data

    out = []
    for i, name in enumerate(_PHOTOS):
        im = np.asarray(getattr(skimage.data, name)())
        if im.dtype == bool:
            im = im.astype(np.uint8) * 255
        if im.ndim == 2:
            tint = np.array([[1.0, 0.9, 0.8], [0.8, 0.9, 1.0], [0.9, 1.0, 0.85]])[i % 3]
            im = np.clip(im[..., None] * tint, 0, 255).astype(np.uint8)
        out.append(np.ascontiguousarray(im[..., :3]))
    return out


def crops(rng: np.random.Generator, n: int, srcs: list[np.ndarray]) -> np.ndarray:
    from PIL import Image

    out = np.empty((n, SIZE, SIZE, 3), np.uint8)
    for k in range(n):
        im = srcs[int(rng.integers(len(srcs)))]
        h, w = im.shape[:2]
        s = int(rng.integers(96, min(h, w, 320) + 1))
        y, x = int(rng.integers(0, h - s + 1)), int(rng.integers(0, w - s + 1))
        a = np.asarray(Image.fromarray(im[y:y + s, x:x + s]).resize((SIZE, SIZE), Image.BILINEAR))
        out[k] = a[:, ::-1] if rng.random() < 0.5 else a
    return out


def with_artifacts(rng: np.random.Generator, imgs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Noise of random strength; half with a checkerboard (upsampling artifact); a fifth
    'broken' with coloured blotches. Returns the images and the broken mask."""
    out = imgs.astype(np.float32)
    broken = np.zeros(len(imgs), bool)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    checker = (((yy + xx) % 2) * 2 - 1)[..., None]
    for k in range(len(out)):
        sev = rng.random()
        out[k] += rng.normal(0, 20 * sev, (SIZE, SIZE, 3))
        if rng.random() < 0.5:
            out[k] += checker * 25 * sev
        if rng.random() < 0.2:
            broken[k] = True
            for _ in range(3):
                cy, cx = rng.integers(0, SIZE, 2)
                mask = (yy - cy) ** 2 + (xx - cx) ** 2 < int(rng.integers(8, 40)) ** 2
                out[k][mask] = rng.integers(0, 256, 3)
    return np.clip(out, 0, 255).astype(np.uint8), broken


def make_data(n_cand: int, n_real: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Candidates uint8 (n_cand, 128, 128, 3), reals (n_real, ...), broken mask (n_cand,)."""
    rng = np.random.default_rng(derive_seed("bench-clean-data", n_cand, n_real))
    srcs = photos()
    reals = crops(rng, n_real, srcs)
    cand, broken = with_artifacts(rng, crops(rng, n_cand, srcs))
    return cand, reals, broken


# -- helpers ------------------------------------------------------------------------------------
def timed(fn, *args, **kw):
    t = time.perf_counter()
    out = fn(*args, **kw)
    return out, time.perf_counter() - t


def true_nearest(fc: np.ndarray, fr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exact nearest real of every candidate: float32 all-pairs Gram distances, top 5 per row
    re-ranked with exact differences (so float32 cancellation cannot pick the wrong one)."""
    nr = np.einsum("ij,ij->i", fr, fr, dtype=np.float64)
    top = np.empty((len(fc), 5), np.int64)
    for s in range(0, len(fc), 256):
        c = fc[s:s + 256]
        d = nr[None, :] - 2.0 * (c @ fr.T)
        top[s:s + 256] = np.argpartition(d, 5, axis=1)[:, :5]
    dist = cl.exact_pair_distances(fc, fr, top)
    best = np.lexsort((top, dist), axis=1)[:, 0]
    rows = np.arange(len(fc))
    return top[rows, best], dist[rows, best]


def naive_lpips(feats: LpipsFeatures):
    """The lpips package's LPIPS with the same backbone weights as ``feats``."""
    import lpips
    import torch

    with torch.random.fork_rng(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = lpips.LPIPS(net=feats.net, pretrained=True, pnet_rand=True, verbose=False)
    state = feats.backbone_state_dict()
    theirs = model.net.state_dict()
    model.net.load_state_dict({k: state["features." + k.split(".", 1)[1]] for k in theirs})
    return model.eval()


def naive_pairs(model, cand: np.ndarray, reals: np.ndarray, rows: np.ndarray, batch: int) -> np.ndarray:
    """LPIPS of candidates ``rows`` against every real, one full forward per pair, ``batch``
    pairs per call (as a naive all-pairs loop would batch them). (len(rows), Nr) float64."""
    import torch

    to_t = lambda x: torch.from_numpy(x).permute(0, 3, 1, 2).float() / 127.5 - 1  # noqa: E731
    out = np.empty((len(rows), len(reals)))
    with torch.inference_mode():
        for i, c in enumerate(rows):
            for s in range(0, len(reals), batch):
                r = reals[s:s + batch]
                a = to_t(np.repeat(cand[c:c + 1], len(r), axis=0))
                out[i, s:s + len(r)] = model(a, to_t(r)).flatten().double().numpy()
    return out


def recall_report(name: str, ids: np.ndarray, dists: np.ndarray, truth: np.ndarray,
                  truth_d: np.ndarray, subset: np.ndarray | None = None) -> dict:
    sel = np.arange(len(ids)) if subset is None else subset
    if len(sel) == 0:
        print(f"  {name:42s} (none: every candidate is in the PCA sample)")
        return {"n": 0}
    hit = (ids[sel] == truth[sel, None]).any(1)
    top1 = ids[sel, 0] == truth[sel]
    excess = dists[sel, 0] / np.maximum(truth_d[sel], 1e-12) - 1
    rep = {"recall": float(hit.mean()), "top1": float(top1.mean()),
           "mean_rel_excess": float(excess.mean()), "n": int(len(sel))}
    print(f"  {name:42s} recall@{ids.shape[1]} {rep['recall']:.4f}   top-1 {rep['top1']:.4f}   "
          f"mean excess of the nearest found {100 * rep['mean_rel_excess']:.3f}%  (n={rep['n']})")
    return rep


# -- thread study -------------------------------------------------------------------------------
THREAD_CONFIGS = {  # name: (torch threads or None = default, clean(threads=...), OMP_WAIT_POLICY)
    "torch default (2), clean threads=1 [defaults]": (None, 1, None),
    "torch default (2), clean threads=None (all 2)": (None, None, None),
    "torch default (2), clean threads=2": (None, 2, None),
    "torch 1, clean threads=1": (1, 1, None),
    "OMP_WAIT_POLICY=PASSIVE, clean threads=None": (None, None, "PASSIVE"),
    "OMP_WAIT_POLICY=PASSIVE, clean threads=1": (None, 1, "PASSIVE"),
}


def thread_worker(name: str, cells: int) -> None:
    """One process: ``cells`` times (features of 160 candidates + 60 reals, then `clean` on
    its three paths: small-set Gram, general exact, general pca), as the build pipeline
    interleaves them. Prints JSON timings."""
    torch_t, clean_t, _ = THREAD_CONFIGS[name]
    import torch

    if torch_t:
        torch.set_num_threads(torch_t)
    feats = LpipsFeatures.create(allow_untrained=True)
    cand, reals, _ = make_data(160, 60)
    feats.features(reals[:8])  # warm-up
    t_feat = t_clean = 0.0
    for cell in range(cells):
        t = time.perf_counter()
        fc, fr = feats.features(cand), feats.features(reals)
        t_feat += time.perf_counter() - t
        t = time.perf_counter()
        cl.clean(fc, fr, 53, seed=cell, threads=clean_t)
        cl.clean(fc, fr, 53, seed=cell, threads=clean_t, shortlist_mode="exact", pca_samples=150)
        cl.clean(fc, fr, 53, seed=cell, threads=clean_t, shortlist_mode="pca", pca_samples=150,
                 pca_dim=64)
        t_clean += time.perf_counter() - t
    print(json.dumps({"features": t_feat, "clean": t_clean}))


def thread_study(rounds: int, cells: int) -> dict:
    print(f"\nThreads: torch + faiss + BLAS in one process ({os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f} at start; each config a fresh process, {cells} cells of "
          f"features + clean, {rounds} interleaved rounds, median)")
    results: dict[str, list[dict]] = {n: [] for n in THREAD_CONFIGS}
    for _ in range(rounds):
        for name, (_, _, wait) in THREAD_CONFIGS.items():
            env = dict(os.environ)
            env.pop("OMP_WAIT_POLICY", None)
            if wait:
                env["OMP_WAIT_POLICY"] = wait
            out = subprocess.run([sys.executable, __file__, "--thread-worker", name, "--cells", str(cells)],
                                 env=env, capture_output=True, text=True, check=True).stdout
            results[name].append(json.loads(out.strip().splitlines()[-1]))
    summary = {}
    for name, runs in results.items():
        f = float(np.median([r["features"] for r in runs]))
        c = float(np.median([r["clean"] for r in runs]))
        summary[name] = {"features_s": f, "clean_s": c, "total_s": f + c}
        print(f"  {name:48s} features {f:6.2f} s   clean {c:6.2f} s   total {f + c:6.2f} s")
    print(f"  load average at end {os.getloadavg()[0]:.1f} (other work on the machine inflates all rows)")
    return summary


# -- main ---------------------------------------------------------------------------------------
def mini_cleaning(fc: np.ndarray, fr: np.ndarray, per_image_s: float) -> dict:
    """clean() over the mini preset's 77 fake cells, with candidate/real counts of the preset
    drawn from the benchmark's features."""
    preset = SPEC.preset("mini")
    rng = np.random.default_rng(derive_seed("bench-clean-mini"))
    n_images = 0
    t_clean = 0.0
    for sem in SPEC.semantics:
        n = preset.cell_size(sem)
        reals = fr[np.sort(rng.choice(len(fr), n, replace=False))]
        n_images += n
        for cell in SPEC.cells():
            if cell.semantic != sem or not cell.source.is_fake:
                continue
            n_cand = int(round(n * preset.oversample))
            cand = fc[np.sort(rng.choice(len(fc), n_cand, replace=False))]
            n_images += n_cand
            _, t = timed(cl.clean, cand, reals, n, seed=derive_seed("clean", cell.name))
            t_clean += t
    cells = sum(1 for c in SPEC.cells() if c.source.is_fake)
    print(f"\nMini preset: clean() over its {cells} fake cells took {t_clean:.1f} s in all; their "
          f"{n_images} images' features take ~{n_images * per_image_s:.0f} s at the rate measured "
          f"above ({1000 * per_image_s:.1f} ms/image)")
    return {"cells": cells, "clean_s": t_clean, "images": n_images,
            "features_s_estimate": n_images * per_image_s}


def memory_report(feats: LpipsFeatures) -> dict:
    d = feats.dim(SIZE, SIZE)
    full = SPEC.preset("full")
    n = int(round(full.cell_size(SPEC.semantics[0]) * full.oversample))
    per32 = 4 * d
    chunk_rows = sl.CHUNK_BYTES // (4 * d)
    print(f"\nMemory at full scale (alexnet at {SIZE} px: D = {d:,} values a vector, "
          f"{per32 / 1e3:.0f} KB in float32):")
    print(f"  {n:,} candidates: {n * per32 / 1e9:.1f} GB float32, {n * per32 / 2e9:.1f} GB float16 "
          f"-> keep them in a np.memmap (LpipsFeatures.features(out=...)); same for up to {n:,} reals")
    reduced = 2 * n * (256 + 2) * 4
    pca = d * 256 * 4 + 2048 * d * 4
    print(f"  clean() itself: PCA sample + components {pca / 1e9:.2f} GB, reduced vectors "
          f"{reduced / 1e6:.0f} MB, chunks of {chunk_rows} rows ({sl.CHUNK_BYTES >> 20} MB) per operand; "
          f"the memmaps are read in order (projection) and by shortlisted rows (re-rank)")
    return {"dim": d, "candidates_full": n, "gb_float32": n * per32 / 1e9,
            "clean_working_set_gb": (pca + reduced + 3 * sl.CHUNK_BYTES) / 1e9}


def scale_worker(n_cand: int, n_real: int, sample: int, k: int, dim: int) -> None:
    """One full-scale cell in this process (fresh, so its peak RSS is the cell's): `clean` on
    synthetic features of the real dimensionality (benchmarks/clean_scale.py). Prints JSON."""
    import clean_scale

    c, r = clean_scale.make(n_cand, n_real, dim)
    rows = np.sort(np.random.default_rng(derive_seed("bench-clean-scale")).choice(n_cand, sample, replace=False))
    r.watch(c[rows], 1)
    c.rows_read = 0
    load = os.getloadavg()[0]
    cpu = time.process_time()
    res, wall = timed(cl.clean, c, r, n_cand // 3, seed=derive_seed("bench-clean-scale", n_real), k=k)
    cpu = time.process_time() - cpu
    truth = r.watched()[:, 0]
    s = res.stats
    print(json.dumps({
        "candidates": n_cand, "reals": n_real, "dim": c.shape[1], "k": k, "wall_s": wall, "cpu_s": cpu,
        "load_start": load, "load_end": os.getloadavg()[0], "shortlist": s.shortlist,
        "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "rows_read": {"candidates": c.rows_read, "reals": r.rows_read},
        "recall_sample": sample, "recall_at_k": float((res.nearest_real[rows] == truth).mean()),
        "broken_share": {name: float(c.broken[sel].mean()) for name, sel in
                         (("all", slice(None)), *res.selections().items())},
        "stats": s.to_dict()}))


def scale_study(n_cand: int, reals: list[int], sample: int, k: int, parallel: bool = False,
                dim: int = 148_608) -> list[dict]:
    """`scale_worker` for each number of reals, one fresh process each, in turn (or all at
    once with ``parallel``: then compare CPU times, not wall times)."""
    print(f"\nFull-cell scale: {n_cand:,} candidates x {', '.join(f'{n:,}' for n in reals)} reals, "
          f"synthetic features of D = {dim:,} (alexnet LPIPS at 128 px: 148,608) made as they are read "
          f"(benchmarks/clean_scale.py); k = {k}; recall of the exact nearest real on {sample} "
          f"sampled candidates; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at start")
    out = []
    start = lambda n_real: subprocess.Popen(  # noqa: E731
        [sys.executable, __file__, "--scale-worker", str(n_cand), str(n_real), str(sample), str(k), str(dim)],
        stdout=subprocess.PIPE, text=True)
    procs = [start(n) for n in reals] if parallel else []
    for i, n_real in enumerate(reals):
        proc = procs[i] if parallel else start(n_real)
        stdout, _ = proc.communicate()
        if proc.returncode:
            raise SystemExit(f"scale worker for {n_real} reals failed (exit {proc.returncode})")
        rep = json.loads(stdout.strip().splitlines()[-1])
        out.append(rep)
        st = rep["stats"]
        gb = sum(rep["rows_read"].values()) * rep["dim"] * 2 / 1e9
        print(f"  {n_real:>7,} reals: clean {rep['wall_s']:7.1f} s wall, {rep['cpu_s']:7.1f} s CPU, peak RSS {rep['peak_rss_gib']:.2f} GiB "
              f"(goal < 8), shortlist {rep['shortlist']} recall@{k} {rep['recall_at_k']:.4f} (goal >= 0.95); "
              f"rows read {rep['rows_read']['candidates']:,} candidate + {rep['rows_read']['reals']:,} real "
              f"(= {gb:.0f} GB as float16 memmaps, not in the time); load {rep['load_start']:.1f} -> "
              f"{rep['load_end']:.1f}")
        print("           " + "; ".join(
            f"{name} worst-third {100 * st[name]['worst_third_share']:.1f}% div {st[name]['diversity']:.3f} "
            f"broken {100 * rep['broken_share'][name]:.1f}%" for name in ("ours", "random", "yu")))
    if len(out) > 1:
        base = out[0]
        print("  time growth: " + ", ".join(
            f"{r['reals'] / base['reals']:.1f}x reals -> {r['cpu_s'] / base['cpu_s']:.2f}x CPU time "
            f"({r['wall_s'] / base['wall_s']:.2f}x wall)" for r in out[1:]))
        print("  (clean runs on one thread: its CPU time is the time on an idle core; wall time "
              "depends on the machine's load)")
    return out


def comparison(res: cl.CleaningResult, broken: np.ndarray, extra: dict[str, np.ndarray],
               fc: np.ndarray) -> dict:
    """The comparison table of issue 12 on the benchmark's candidates, with the share of
    'broken' candidates each selection keeps; ``extra``: other selections (kept indices),
    measured like ours."""
    from attribution88.builders.clean_stats import measure_selection, worst_third

    worst = worst_third(res.nearest_distance)
    measure = lambda kept: measure_selection(kept, res.nearest_distance, worst, res.cluster,  # noqa: E731
                                             lambda rows: cl.mean_pairwise_distance(fc, rows))
    rows = {"ours (default)": (res.stats.ours, res.kept), "random": (res.stats.random, res.random),
            "Yu et al. (N closest)": (res.stats.yu, res.yu)}
    rows.update({name: (measure(kept), kept) for name, kept in extra.items()})
    print(f"  {'selection':34s} {'NR mean':>8s} {'NR p90':>8s} {'worst 3rd':>9s} {'broken':>7s} "
          f"{'diversity':>9s} {'clusters':>9s}")
    out = {}
    for name, (v, kept) in rows.items():
        b = float(broken[kept].mean())
        print(f"  {name:34s} {v.nearest_real_mean:8.4f} {v.nearest_real_p90:8.4f} "
              f"{100 * v.worst_third_share:8.1f}% {100 * b:6.1f}% {v.diversity:9.4f} "
              f"{v.clusters_covered:>5d}/{res.stats.clusters}")
        out[name] = {**v.__dict__, "broken_share": b}
    s = res.stats
    print(f"  all candidates: broken {100 * broken.mean():.1f}%; goals: ours' share of the worst third "
          f"{100 * s.ours.worst_third_share:.1f}% (<= 10%), diversity {s.ours.diversity / s.random.diversity:.3f}x "
          f"random's (>= 0.9)")
    return out


def features_of(feats: LpipsFeatures, cand: np.ndarray, reals: np.ndarray, cache: str | None):
    """LPIPS features of the candidates and reals, from ``cache`` when it holds them for
    this many images (saved there otherwise)."""
    paths = None
    if cache:
        os.makedirs(cache, exist_ok=True)
        paths = [os.path.join(cache, f"{name}-{len(cand)}x{len(reals)}.npy") for name in ("fc", "fr")]
        if all(os.path.exists(p) for p in paths):
            return tuple(np.load(p, mmap_mode="r") for p in paths)
    fc, fr = feats.features(cand), feats.features(reals)
    if paths:
        for p, f in zip(paths, (fc, fr)):
            np.save(p + ".tmp.npy", f)
            os.replace(p + ".tmp.npy", p)
    return fc, fr


def compare_only(n_cand: int, n_real: int, k: int, cache: str | None) -> dict:
    """The comparison of selections on the benchmark's images: `clean` with its defaults,
    then the other reject fractions applied to the same clustering and distances (what
    `clean` would select with them: the clustering does not depend on the fraction)."""
    cand, reals, broken = make_data(n_cand, n_real)
    feats = LpipsFeatures.create("alex", allow_untrained=True)
    print(f"bench_clean --compare-only: {n_cand:,} candidates x {n_real:,} reals, {SIZE} px, k = {k}; "
          f"load average {os.getloadavg()[0]:.1f}; LPIPS: {feats.description}")
    fc, fr = features_of(feats, cand, reals, cache)
    n_keep = int(round(n_cand / SPEC.preset("full").oversample))
    res, t = timed(cl.clean, fc, fr, n_keep, seed=derive_seed("bench-clean"), k=k)
    print(f"  clean() {t:.1f} s wall; {cl.log_summary('bench', res.stats)}")
    extra = {}
    for f in (0.0, 0.5):
        n_reject = min(int(f * n_cand), n_cand - n_keep)
        rejected = np.zeros(n_cand, bool)
        rejected[np.lexsort((np.arange(n_cand), res.nearest_distance))[n_cand - n_reject:]] = True
        kept, _, _ = cl._select(res.cluster, res.nearest_distance, rejected, n_keep)
        extra[f"ours, reject_fraction={f}"] = kept
    print("\nCleaning compared on the same candidates (NR: nearest-real LPIPS; worst 3rd: share of "
          "the kept set among the third of candidates farthest from any real; broken: share of "
          "candidates with blotches; diversity: mean pairwise LPIPS; clusters: k-means clusters "
          "of all candidates covered):")
    return comparison(res, broken, extra, fc)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candidates", type=int, default=2000)
    ap.add_argument("--reals", type=int, default=2000)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--naive-rows", type=int, default=2,
                    help="candidates whose LPIPS to every real is computed naively (timing sample)")
    ap.add_argument("--naive-batch", type=int, default=50)
    ap.add_argument("--thread-rounds", type=int, default=3)
    ap.add_argument("--thread-cells", type=int, default=3)
    ap.add_argument("--threads-only", action="store_true")
    ap.add_argument("--skip-threads", action="store_true")
    ap.add_argument("--json", help="write the figures to this file")
    ap.add_argument("--full-scale", action="store_true",
                    help="only the full-cell scale study (36,000 candidates x --scale-reals)")
    ap.add_argument("--scale-candidates", type=int, default=36_000)
    ap.add_argument("--scale-reals", default="25000,50000,100000",
                    help="numbers of reals, comma-separated (default 25000,50000,100000)")
    ap.add_argument("--scale-sample", type=int, default=64, help="candidates whose exact nearest real is found")
    ap.add_argument("--scale-parallel", action="store_true",
                    help="run the sizes at once (wall times then inflate each other; CPU times do not)")
    ap.add_argument("--skip-scale", action="store_true", help="no full-cell scale study (it takes the longest)")
    ap.add_argument("--compare-only", action="store_true",
                    help="only the comparison of selections (one clean(); the variants reuse its clustering)")
    ap.add_argument("--features-cache", metavar="DIR",
                    help="keep the LPIPS features of the benchmark's images in DIR (.npy) and reuse them")
    ap.add_argument("--scale-dim", type=int, default=148_608,
                    help="feature dimension (default 148,608, the real one; less to fit a loaded machine)")
    ap.add_argument("--scale-worker", nargs=5, type=int, help=argparse.SUPPRESS)
    ap.add_argument("--thread-worker", help=argparse.SUPPRESS)
    ap.add_argument("--cells", type=int, default=3, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.thread_worker:
        thread_worker(args.thread_worker, args.cells)
        return 0
    if args.scale_worker:
        scale_worker(*args.scale_worker)
        return 0
    report: dict = {}
    scale = lambda: scale_study(args.scale_candidates, [int(x) for x in args.scale_reals.split(",")],  # noqa: E731
                                args.scale_sample, args.k, args.scale_parallel, args.scale_dim)
    if args.full_scale:
        report["scale"] = scale()
        _write(args.json, report)
        return 0
    if args.compare_only:
        report["comparison"] = compare_only(args.candidates, args.reals, args.k, args.features_cache)
        _write(args.json, report)
        return 0
    if args.threads_only:
        report["threads"] = thread_study(args.thread_rounds, args.thread_cells)
        return 0
    import faiss
    import torch

    print(f"bench_clean: {args.candidates:,} candidates x {args.reals:,} reals, {SIZE} px, k = {args.k}; "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), faiss {faiss.__version__}")
    cand, reals, broken = make_data(args.candidates, args.reals)
    feats = LpipsFeatures.create("alex", allow_untrained=True)
    print(f"LPIPS: {feats.description}")
    if not feats.is_pretrained:
        print("  (offline, no ImageNet weights: the UNTRAINED backbone is used by both methods; "
              "timings do not depend on the weights)")

    # (a) ours, end to end
    fc, t_fc = timed(feats.features, cand)
    fr, t_fr = timed(feats.features, reals)  # timed: not from --features-cache
    n_keep = int(round(args.candidates / SPEC.preset("full").oversample))
    res, t_clean = timed(cl.clean, fc, fr, n_keep, seed=derive_seed("bench-clean"), k=args.k)
    ours = t_fc + t_fr + t_clean
    per_image = (t_fc + t_fr) / (len(cand) + len(reals))
    print(f"\n(a) ours: features {t_fc + t_fr:.1f} s ({1000 * per_image:.1f} ms/image, "
          f"{len(cand) + len(reals):,} images once) + clean {t_clean:.1f} s "
          f"(shortlist {res.stats.shortlist}) = {ours:.1f} s")
    print(f"  {cl.log_summary('bench', res.stats)}")
    extra = {f"ours, reject_fraction={f}": cl.clean(fc, fr, n_keep, seed=derive_seed("bench-clean"),
                                                       k=args.k, reject_fraction=f).kept
             for f in (0.0, 0.5)}
    print("\nCleaning compared on the same candidates (NR: nearest-real LPIPS; worst 3rd: share of "
          "the kept set among the third of candidates farthest from any real; broken: share of "
          "candidates with blotches; diversity: mean pairwise LPIPS; clusters: k-means clusters "
          "of all candidates covered):")
    compared = comparison(res, broken, extra, fc)

    # (b) naive all-pairs, sampled and extrapolated
    model = naive_lpips(feats)
    rows = np.sort(np.random.default_rng(derive_seed("bench-clean-naive")).choice(
        len(cand), args.naive_rows, replace=False))
    naive_d, t_naive = timed(naive_pairs, model, cand, reals, rows, args.naive_batch)
    n_pairs_done = naive_d.size
    per_pair = t_naive / n_pairs_done
    all_pairs = len(cand) * len(reals)
    naive_total = per_pair * all_pairs
    print(f"\n(b) naive: one lpips.LPIPS forward per pair, {args.naive_batch} pairs a call: "
          f"{n_pairs_done:,} pairs measured in {t_naive:.1f} s ({1000 * per_pair:.2f} ms/pair)")
    print(f"  EXTRAPOLATED (linear) to all {all_pairs:,} pairs: {naive_total:,.0f} s "
          f"({naive_total / 3600:.1f} h) -- not run")
    ratio = naive_total / ours
    print(f"\nSpeed-up, ours vs naive (extrapolated): {ratio:,.0f}x  (goal >= 50x)")

    # recall of the true nearest real
    (truth, truth_d), t_truth = timed(true_nearest, fc, fr)
    print(f"\nShortlist recall of the true nearest real (truth: exact all-pairs feature distances, "
          f"{t_truth:.0f} s, not part of either method):")
    ids_auto, d_auto = cl.shortlist(fc, fr, args.k, mode="auto")
    rep_auto = recall_report(f"ours as run (auto -> {res.stats.shortlist})", ids_auto, d_auto, truth, truth_d)
    assert (ids_auto[:, 0] == res.nearest_real).all()
    reducer, t_fit = timed(sl.Reducer.fit, fc, fr, 256, 2048, derive_seed("bench-clean"))
    (ids_pca, d_pca), t_pca = timed(lambda: sl.rerank(fc, fr, sl.shortlist_ids(fc, fr, args.k, "pca", reducer, None)))
    rep_pca = recall_report("pca-256 + residual norms (full-scale mode)", ids_pca, d_pca, truth, truth_d)
    outside = np.setdiff1d(np.arange(len(fc)), reducer.candidate_sample)
    rep_pca_oos = recall_report("  ... candidates outside the PCA sample", ids_pca, d_pca, truth, truth_d, outside)
    print(f"  pca mode: fit {t_fit:.1f} s + shortlist and re-rank {t_pca:.1f} s")
    res_pca, t_clean_pca = timed(cl.clean, fc, fr, n_keep, seed=derive_seed("bench-clean"), k=args.k,
                                 shortlist_mode="pca")
    print(f"  clean() in pca mode: {t_clean_pca:.1f} s; kept sets of exact and pca modes share "
          f"{len(np.intersect1d(res.kept, res_pca.kept))}/{n_keep}")

    # spot check against the naive forwards
    ours_d = cl.exact_pair_distances(fc[rows], fr, np.tile(np.arange(len(fr)), (len(rows), 1)))
    gap = np.abs(ours_d - naive_d)
    agree = (naive_d.argmin(1) == truth[rows]).mean()
    print(f"  spot check on the {n_pairs_done:,} naive pairs: |feature distance - LPIPS forward| max "
          f"{gap.max():.2e} (mean LPIPS {naive_d.mean():.3f}); naive nearest real == exact-feature "
          f"nearest for {agree:.0%} of those {len(rows)} candidates")

    report.update(
        lpips=feats.description, candidates=len(cand), reals=len(reals), k=args.k,
        ours_s=ours, ours_features_s=t_fc + t_fr, ours_clean_s=t_clean, ms_per_image=1000 * per_image,
        naive_ms_per_pair=1000 * per_pair, naive_pairs_measured=n_pairs_done,
        naive_extrapolated_s=naive_total, speedup=ratio, recall_auto=rep_auto, recall_pca=rep_pca,
        recall_pca_outside_sample=rep_pca_oos, clean_pca_s=t_clean_pca,
        spot_check_max_abs=float(gap.max()), stats=res.stats.to_dict(), stats_pca=res_pca.stats.to_dict(),
        comparison=compared)
    report["mini"] = mini_cleaning(fc, fr, per_image)
    report["memory"] = memory_report(feats)
    print(f"  peak RSS of this benchmark process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6:.1f} GB")
    if not args.skip_threads:
        report["threads"] = thread_study(args.thread_rounds, args.thread_cells)
    if not args.skip_scale:
        report["scale"] = scale()
    _write(args.json, report)
    return 0


def _write(path: str | None, report: dict) -> None:
    if path:
        tmp = path + ".tmp"
        with open(tmp, "w") as fh:
            json.dump(report, fh, indent=2)
        os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main())
