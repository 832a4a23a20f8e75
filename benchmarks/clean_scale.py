"""Full-cell scale of cleaning (issue 12), on synthetic LPIPS-like features of the real
dimensionality, for benchmarks/bench_clean.py ``--full-scale``.

A full-preset cell has 36,000 candidates (3 x 12,000) against its semantic's reals. An
alexnet LPIPS vector at 128 px has 148,608 values: 36,000 candidates and 100,000 reals are
21 GB and 59 GB in float32, more than this machine holds, so `clean` reads them from
memmaps in the real pipeline. Here `SyntheticFeatures` serves the same rows as an array-like
that makes each row when it is read (deterministic in the row index), so the benchmark
needs neither 40 GB of disk nor the time to write it. What it leaves out, disk reads, is
counted instead: every row `clean` reads is tallied (``rows_read``) and printed as the
float16 volume a memmap would have served.

Rows: a content part on 2,000 modes of a rank-32 subspace (shared by candidates and reals),
2 "texture" components of 384 (sparse, so together they span more than the 256-d PCA of the
shortlist holds), and isotropic noise (a window of a fixed random pool at a random offset:
independent for any two rows) of a per-row level: candidates carry more noise than reals, a
fifth of them much more ("broken").

Measured (``--full-scale``, this 2-core machine, `clean` on one thread, D = 148,608, recall on
64 sampled candidates): 36,000 candidates x 100,000 reals 629 s wall / 610 s CPU (load 3.1),
peak RSS 2.58 GiB, recall@10 1.000; x 25,000 reals 446 s CPU, x 50,000 511 s CPU (those two
run side by side, load 1.7-2.1), both 2.57 GiB: 4x the reals cost 1.37x the CPU time. The run
read 145,024 candidate rows and 201,965 real rows, 103 GB as float16 memmaps, which these
figures leave out.
"""

from __future__ import annotations

import numpy as np

DIM = 148_608  # alexnet LPIPS vector at 128 px (attribution88.builders.lpips_features)
_RANK, _MODES, _TEXTURES, _PER_ROW, _POOL = 32, 2_000, 384, 2, (1 << 23) + 1


class _Shared:
    """What candidates and reals share: subspace, modes, textures, noise pool."""

    def __init__(self, dim: int, seed: int) -> None:
        rng = np.random.default_rng([seed, 0])
        self.dim = dim
        self.basis = (rng.standard_normal((_RANK, dim), np.float32) / np.sqrt(dim)).astype(np.float32)
        self.modes = rng.standard_normal((_MODES, _RANK)).astype(np.float32)
        self.texture_offset = rng.integers(0, _POOL, _TEXTURES)  # a texture: a window of the pool
        self.pool = rng.standard_normal(_POOL + dim, np.float32) / np.float32(np.sqrt(dim))


class SyntheticFeatures:
    """(n, dim) float32 rows made on read; indexable like an array or a memmap (an int, a
    slice, an integer array). ``kind``: "candidates" or "reals"."""

    def __init__(self, shared: _Shared, n: int, kind: str, seed: int) -> None:
        rng = np.random.default_rng([seed, 1 if kind == "candidates" else 2])
        self._s = shared
        self.shape = (n, shared.dim)
        self.dtype = np.dtype(np.float32)
        self.ndim = 2
        self.z = (shared.modes[rng.integers(0, _MODES, n)]
                  + 0.3 * rng.standard_normal((n, _RANK))).astype(np.float32)
        self.tex = rng.integers(0, _TEXTURES, (n, _PER_ROW))
        self.tex_w = (0.7 * rng.standard_normal((n, _PER_ROW))).astype(np.float32)
        if kind == "candidates":
            level = rng.uniform(1.0, 3.0, n)
            self.broken = rng.random(n) < 0.2
            level[self.broken] = rng.uniform(3.0, 6.0, self.broken.sum())
        else:
            level = rng.uniform(1.0, 2.0, n)
            self.broken = np.zeros(n, bool)
        self.level = level.astype(np.float32)
        self.offset = rng.integers(0, _POOL, n)
        self.rows_read = 0
        self._watch: dict | None = None

    def watch(self, queries: np.ndarray, k: int) -> None:
        """Find the exact ``k`` nearest rows of ``queries`` (m, dim) among this array's rows
        as they are read by slices (`clean` reads every real once by slices, in the PCA
        projection): the truth for the shortlist's recall without another pass over the
        reals. Results: `watched`."""
        q = np.ascontiguousarray(queries, np.float32)
        self._watch = {"q": q, "qn": np.einsum("ij,ij->i", q, q, dtype=np.float64), "k": k,
                       "d": np.full((len(q), 0), np.inf), "i": np.empty((len(q), 0), np.int64),
                       "seen": np.zeros(len(self), bool)}

    def watched(self) -> np.ndarray:
        """(m, k) ids of the exact nearest rows of the watched queries, nearest first; every
        row must have been read by a slice since `watch`."""
        w = self._watch
        assert w is not None and w["seen"].all(), "not every row was read by a slice"
        return w["i"]

    def _observe(self, idx: np.ndarray, block: np.ndarray) -> None:
        w = self._watch
        d = (w["qn"][:, None] + np.einsum("ij,ij->i", block, block, dtype=np.float64)[None]
             - 2.0 * (w["q"] @ block.T))
        d = np.hstack([w["d"], d])
        i = np.hstack([w["i"], np.broadcast_to(idx, (len(d), len(idx)))])
        keep = np.argsort(d, axis=1, kind="stable")[:, :w["k"]]
        w["d"], w["i"] = np.take_along_axis(d, keep, 1), np.take_along_axis(i, keep, 1)
        w["seen"][idx] = True

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, key):
        if isinstance(key, (int, np.integer)):
            return self._rows(np.array([key]))[0]
        if isinstance(key, slice):
            idx = np.arange(*key.indices(len(self)))
            rows = self._rows(idx)
            if self._watch is not None:
                self._observe(idx, rows)
            return rows
        return self._rows(np.asarray(key, np.int64))

    def _rows(self, idx: np.ndarray) -> np.ndarray:
        s = self._s
        self.rows_read += len(idx)
        out = self.z[idx] @ s.basis
        for j, i in enumerate(idx):
            row = out[j]
            o = self.offset[i]
            row += s.pool[o:o + s.dim] * self.level[i]
            for t, w in zip(self.tex[i], self.tex_w[i]):
                o = s.texture_offset[t]
                row += w * s.pool[o:o + s.dim]
        return out


def make(n_candidates: int, n_reals: int, dim: int = DIM, seed: int = 0
         ) -> tuple[SyntheticFeatures, SyntheticFeatures]:
    shared = _Shared(dim, seed)
    return (SyntheticFeatures(shared, n_candidates, "candidates", seed),
            SyntheticFeatures(shared, n_reals, "reals", seed))


