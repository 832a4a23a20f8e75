"""Where cells run: in this process, in a pool of local processes, or as Ray tasks.

The default executor never imports Ray. Ray (the `ray` extra) runs each cell as a task on the
local machine or an existing cluster (`--ray-address`), asking for a GPU for the cells that
sample a generator when CUDA is present and the build's device is CUDA.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator

from attribution88.errors import BuildError, UsageError
from attribution88.spec import Cell

from .pipeline import BuildConfig, CellResult, build_cell

EXECUTORS = ("local", "ray")


def _pool_worker_init(threads: int) -> None:
    os.environ["OMP_NUM_THREADS"] = str(threads)
    _exit_with_the_parent()


def _exit_with_the_parent() -> None:
    """A pool worker outlives a build killed with SIGKILL (or by the out-of-memory killer): it
    waits on a task queue whose write end it holds itself. Watch the parent's sentinel and leave
    as soon as it dies; a half-written shard is a temporary file that the next build removes."""
    import threading
    from multiprocessing.connection import wait

    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        wait([parent.sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-the-parent", daemon=True).start()


def default_workers(config: BuildConfig, cells: int) -> int:
    """On the CPU, one single-threaded process per core beats one process with a thread per
    core (the OpenMP pools of torch and faiss fight; see benchmarks/bench_clean.py); a GPU
    build samples in one process."""
    if config.device.startswith("cuda"):
        return 1
    return max(1, min(os.cpu_count() or 1, cells))


def run_local(config: BuildConfig, cells: list[Cell], workers: int | None = None) -> Iterator[CellResult]:
    """Cells in this process (workers = 1), or in ``workers`` spawned processes, each with an
    equal share of the cores. Results arrive as cells finish."""
    workers = default_workers(config, len(cells)) if workers is None else workers
    if workers < 1:
        raise UsageError(f"--workers {workers}: must be >= 1")
    if workers == 1 or len(cells) <= 1:
        for cell in cells:
            yield build_cell(config, cell.name)
        return
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from dataclasses import replace

    threads = max(1, (os.cpu_count() or 1) // workers)
    config = replace(config, threads=config.threads or threads)
    ctx = multiprocessing.get_context("spawn")  # never fork a process that holds torch threads
    with ProcessPoolExecutor(workers, mp_context=ctx, initializer=_pool_worker_init,
                             initargs=(config.threads,)) as pool:
        futures = [pool.submit(build_cell, config, cell.name) for cell in cells]
        for future in as_completed(futures):
            yield future.result()


def run_ray(config: BuildConfig, cells: list[Cell], address: str | None = None,
            num_cpus: int | None = None) -> Iterator[CellResult]:
    """Cells as Ray tasks; a GPU is requested for generator cells when the device is CUDA."""
    try:
        import ray
    except ImportError:
        raise UsageError("--executor ray needs Ray: pip install 'attribution88[ray]'") from None
    started = not ray.is_initialized()
    if started:
        try:
            ray.init(address=address, num_cpus=num_cpus if address is None else None,
                     include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
        except ConnectionError as e:
            raise BuildError(f"cannot connect to the Ray cluster at {address}: {e}") from None
    try:
        cuda = config.device.startswith("cuda")
        task = ray.remote(build_cell)
        threads = config.threads or 1
        refs = []
        for cell in cells:
            gpu = 1 if (cuda and cell.source.is_fake) else 0
            refs.append(task.options(num_cpus=threads, num_gpus=gpu, max_retries=2)
                        .remote(config, cell.name))
        pending = list(refs)
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            try:
                yield ray.get(done[0])
            except ray.exceptions.RayTaskError as e:
                cause = e.as_instanceof_cause()
                raise cause if isinstance(cause, Exception) else BuildError(str(e)) from None
    finally:
        if started:
            ray.shutdown()


def executor(name: str, *, workers: int | None = None, ray_address: str | None = None,
             ray_cpus: int | None = None) -> Callable[[BuildConfig, list[Cell]], Iterator[CellResult]]:
    if name == "local":
        return lambda config, cells: run_local(config, cells, workers)
    if name == "ray":
        return lambda config, cells: run_ray(config, cells, ray_address, ray_cpus)
    from attribution88.errors import UnknownNameError
    raise UnknownNameError("executor", name, EXECUTORS)
