"""Runtime support of the multifrontal solver: task threads and memory kept between solves.

Both belong to one :class:`~tinct.methods.levin.solver.LevinSolver` (nothing here is global):

* :class:`TaskPool`: the solver's own worker threads. Work of one tree depth is split into tasks
  (whole groups, or row ranges of groups with at least 2 boxes) that run on these threads, each
  with single-threaded torch ops (torch releases the GIL): most of this solver is memory traffic
  and small batched ops, which torch's own intra-op threading speeds up only ~1.3x on 2 cores.
  A depth with a single task runs on the calling thread with the caller's torch threads (the
  root's big matrix products).
* :class:`Workspace`: the big buffers (factor arena, Schur buffers, ...) kept between solves.

Thread counts are set per thread only (:func:`one_thread_here`, :func:`single_threaded`): the
OpenMP and MKL settings of the calling thread, never ``torch.set_num_threads`` (whose count is
process-wide: it is what every thread started later gets).
"""

from __future__ import annotations

import ctypes
import functools
import mmap
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import numpy as np
import torch

MAX_PARTS = 8
"""Default upper bound of a pool's thread count (the default is torch's intra-op thread count)."""

Task = Callable[[], None]


_Controls = tuple[Callable[[int], object], Callable[[], int], Callable[[int], int] | None]


@functools.cache
def _thread_controls() -> _Controls | None:
    """``(omp_set_num_threads, omp_get_max_threads, MKL_Set_Num_Threads_Local or None)`` of the
    OpenMP runtime torch runs on (both act on the calling thread only), or ``None`` if torch's
    parallel backend is not OpenMP or its runtime is not found (Linux only)."""
    if "parallel backend: OpenMP" not in torch.__config__.parallel_info():
        return None
    try:
        with open("/proc/self/maps") as maps:
            loaded = {line.split()[-1] for line in maps if "/" in line}
    except OSError:
        return None
    here = os.path.dirname(torch.__file__)                 # torch's own runtime first
    omp = sorted((not p.startswith(here), p) for p in loaded
                 if os.path.basename(p).startswith(("libgomp", "libiomp")))
    tcpu = sorted(p for p in loaded if os.path.basename(p) == "libtorch_cpu.so")
    try:
        lib = ctypes.CDLL(omp[0][1])
        set_threads, max_threads = lib.omp_set_num_threads, lib.omp_get_max_threads
        set_threads.argtypes, set_threads.restype = [ctypes.c_int], None
        max_threads.argtypes, max_threads.restype = [], ctypes.c_int
    except (IndexError, OSError, AttributeError):
        return None
    mkl_local = None
    try:
        mkl_local = ctypes.CDLL(tcpu[0]).MKL_Set_Num_Threads_Local    # C interface (by value)
        mkl_local.argtypes, mkl_local.restype = [ctypes.c_int], ctypes.c_int
    except (IndexError, OSError, AttributeError):
        mkl_local = None
    return set_threads, max_threads, mkl_local


def one_thread_here() -> None:
    """Make torch ops on the calling thread single-threaded, for good (pool workers' initializer).

    Only this thread's OpenMP / MKL settings change; a no-op where they cannot be reached.
    """
    controls = _thread_controls()
    if controls is None:
        return
    torch.get_num_threads()      # torch's per-thread lazy setup first, so it cannot undo the lines below
    set_threads, _, mkl_local = controls
    set_threads(1)
    if mkl_local is not None:
        mkl_local(1)


@contextmanager
def single_threaded() -> Iterator[None]:
    """Torch ops on the calling thread run single-threaded within the block (restored after it).

    Thread-local like :func:`one_thread_here`; a no-op where the settings cannot be reached.
    """
    controls = _thread_controls()
    if controls is None:
        yield
        return
    torch.get_num_threads()
    set_threads, max_threads, mkl_local = controls
    before = max_threads()
    set_threads(1)
    mkl_before = mkl_local(1) if mkl_local is not None else None
    try:
        yield
    finally:
        set_threads(before)
        if mkl_local is not None and mkl_before is not None:
            mkl_local(mkl_before)


class TaskPool:
    """A solver's worker threads (made on first use, ended by :meth:`shutdown`).

    Args:
        threads: number of task threads (at least 1; 1 runs every task on the calling thread).
    """

    def __init__(self, threads: int) -> None:
        if threads < 1:
            raise ValueError(f"a task pool needs at least 1 thread, got {threads}")
        self.threads = int(threads)
        self._executor: ThreadPoolExecutor | None = None
        self._guard = threading.Lock()

    def row_tasks(self, b: int, fn: Callable[[int, int], None]) -> list[Task]:
        """``fn(lo, hi)`` over boxes ``0:b`` as one task per thread (at most ``b``)."""
        parts = max(1, min(self.threads, b))
        bounds = [b * k // parts for k in range(parts + 1)]
        return [functools.partial(fn, bounds[k], bounds[k + 1]) for k in range(parts)]

    def run(self, tasks: list[Task]) -> None:
        """Run independent tasks on the worker threads (or here, if there is one task or one thread)."""
        if len(tasks) < 2 or self.threads < 2:
            for task in tasks:
                task()
            return
        with self._guard:               # submitted under the guard: a shutdown lets these finish
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix="tinct-levin",
                                                    initializer=one_thread_here)
            futures = [self._executor.submit(task) for task in tasks]
        for future in futures:
            future.result()

    @property
    def started(self) -> bool:
        """Whether the worker threads exist (they are made by the first :meth:`run` with 2+ tasks)."""
        return self._executor is not None

    def shutdown(self) -> None:
        """End the worker threads (waits for running tasks); a later :meth:`run` starts new ones."""
        with self._guard:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)


HUGE_BYTES = 4 << 20
"""Fresh workspaces of at least this size come from :func:`_zeroed` (2 MB pages: first touch of the
~0.4 GB of factors and Schur buffers of a 1 MP solve costs ~0.1 s instead of ~0.5 s)."""


class Workspace:
    """Named 1-D buffers, kept between solves when ``keep`` is set.

    Keeping the factor arena and Schur buffers (~0.7 GB at 1 MP) avoids fresh memory, which
    costs a page fault per page (made repeated 1 MP solves 0.3-0.8 s slower and erratic here).
    :meth:`clear` frees them. A *claim* marks who last wrote a buffer, so that an older user
    can tell its contents were overwritten (:meth:`still_holds`).

    Args:
        keep: keep buffers between calls (otherwise every :meth:`get` returns fresh memory).
    """

    def __init__(self, keep: bool = True) -> None:
        self.keep = keep
        self._held: dict[str, torch.Tensor] = {}
        self._claims: dict[str, int] = {}

    def get(self, name: str, n: int, dtype: type) -> torch.Tensor:
        """A 1-D tensor of ``n`` elements of numpy ``dtype`` (contents undefined), reused when kept;
        big fresh ones come from 2 MB pages (:func:`_zeroed`)."""
        held = self._held.get(name)
        wanted = torch.from_numpy(np.empty(0, dtype)).dtype
        if held is not None and held.numel() >= n and held.dtype == wanted:
            return held[:n]
        self._held.pop(name, None)
        out = _zeroed(n, dtype) if n * np.dtype(dtype).itemsize >= HUGE_BYTES else \
            torch.from_numpy(np.empty(n, dtype=dtype))
        if self.keep:
            self._held[name] = out
        return out

    def claim(self, name: str) -> int:
        """Mark buffer ``name`` as now written by a new user; returns that user's token."""
        self._claims[name] = self._claims.get(name, 0) + 1
        return self._claims[name]

    def still_holds(self, name: str, token: int) -> bool:
        """Whether the user with ``token`` (from :meth:`claim`) still owns buffer ``name``'s contents
        (always true when buffers are not kept, i.e. not shared)."""
        return not self.keep or self._claims.get(name) == token

    def clear(self) -> None:
        """Drop every kept buffer; its memory is freed once no factorization holds it any more (a
        factorization keeps its own factors alive, and they stay valid: the next one gets new memory)."""
        self._held.clear()

    @property
    def nbytes(self) -> int:
        """Bytes of the buffers kept now."""
        return sum(t.numel() * t.element_size() for t in self._held.values())


def trim_heap() -> None:
    """Hand free heap memory back to the OS (glibc ``malloc_trim``; a no-op elsewhere).

    Freed mid-size arrays (index maps, small buffers) stay in the C heap otherwise: ~40 MB after a
    0.25 MP solve. Nothing in use is touched.
    """
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _zeroed(n: int, dtype: type) -> torch.Tensor:
    """A zero-filled 1-D tensor from a fresh anonymous mapping advised to use huge pages.

    The pages arrive zeroed from the kernel on first touch (no separate zeroing pass over the
    ~0.5 GB arena), and 2 MB pages make that first touch ~6x cheaper than 4 KB pages here
    (page faults are expensive in a VM); the mapping is unmapped when the tensor is freed.
    Falls back to ``numpy.zeros`` (calloc).
    """
    nbytes = max(n, 1) * np.dtype(dtype).itemsize
    try:
        buf = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        if hasattr(mmap, "MADV_HUGEPAGE"):
            buf.madvise(mmap.MADV_HUGEPAGE)
        return torch.from_numpy(np.frombuffer(buf, dtype=dtype, count=n))
    except (OSError, ValueError, AttributeError):
        return torch.from_numpy(np.zeros(n, dtype=dtype))
