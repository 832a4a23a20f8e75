"""Thread pools when torch, faiss and numpy share a process.

Each brings its own pool: torch's OpenMP, faiss's OpenMP (its wheel bundles another libgomp
and an OpenMP OpenBLAS), numpy's and scipy's OpenBLAS. Each pool defaults to every core and
spins a while after its work, so when their work alternates (features, then cleaning, then
features...) they fight for the cores; on a machine shared with other processes, spinning
threads also wait on descheduled ones. benchmarks/bench_clean.py measures it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from attribution88.errors import UsageError

__all__ = ["DEFAULT_THREADS", "passive_omp_wait", "thread_limit"]

#: Threads `clean` gives BLAS (numpy, scipy, faiss) and faiss's OpenMP by default: 1, because
#: with torch in the same process the spinning pools of numpy's OpenBLAS, faiss's OpenMP and
#: torch's OpenMP fight for the cores (benchmarks/bench_clean.py compares 1, 2 and the pools
#: left alone). Raise it on a machine whose cores are not shared, or run several cells in
#: parallel processes instead. See also `passive_omp_wait`.
DEFAULT_THREADS: int | None = 1


@contextmanager
def thread_limit(threads: int | None) -> Iterator[None]:
    """Limit the BLAS and OpenMP thread pools of every loaded library (numpy's and scipy's
    OpenBLAS, faiss's OpenMP and OpenBLAS, torch's OpenMP) to ``threads`` inside the block;
    restored on exit. None: no change."""
    if threads is None:
        yield
        return
    if threads < 1:
        raise UsageError(f"threads must be >= 1 or None, got {threads}")
    import faiss  # noqa: F401  load every pool before limiting them
    import scipy.linalg  # noqa: F401
    import sklearn.cluster  # noqa: F401
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=threads):
        yield


def passive_omp_wait() -> bool:
    """Set ``OMP_WAIT_POLICY=PASSIVE`` unless the user set it, so idle OpenMP threads of
    torch and faiss sleep instead of spinning against each other and other processes. OpenMP
    reads it when the library loads: call it before torch or faiss is first imported (at the
    start of a build). Returns whether it can still take effect. With it, torch's LPIPS features
    at several threads no longer wait on spinning threads (benchmarks/bench_clean.py measures
    both policies)."""
    import os
    import sys

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    return "torch" not in sys.modules and "faiss" not in sys.modules
