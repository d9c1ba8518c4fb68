"""Runtime support of the multifrontal solver: memory kept between solves and task threads."""

from __future__ import annotations

import functools
import mmap
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

MAX_PARTS = 8
"""Work of one tree depth is split into tasks (whole groups, or row ranges of groups with at least
2 boxes) that run in as many Python threads as torch has intra-op threads (at most this many),
with single-threaded torch ops each (torch releases the GIL): most of this solver is memory
traffic and small batched ops, which torch's own intra-op threading speeds up only ~1.3x on 2
cores. A depth with a single task runs on the calling thread with torch's intra-op threads (the
root's big matrix products)."""
_POOL: ThreadPoolExecutor | None = None
_POOL_SIZE = 0

_Task = Callable[[], None]


def _single_threaded() -> None:
    torch.set_num_threads(1)


def thread_count() -> int:
    """How many task threads :func:`run` uses (torch's intra-op thread count, at most ``MAX_PARTS``)."""
    return max(1, min(MAX_PARTS, torch.get_num_threads()))


def row_tasks(b: int, fn: Callable[[int, int], None]) -> list[_Task]:
    """``fn(lo, hi)`` over boxes ``0:b`` as one task per thread (at most ``b``)."""
    parts = max(1, min(thread_count(), b))
    bounds = [b * k // parts for k in range(parts + 1)]
    return [functools.partial(fn, bounds[k], bounds[k + 1]) for k in range(parts)]


def run(tasks: list[_Task]) -> None:
    """Run independent tasks on the thread pool (or here, if there is one task or one thread)."""
    global _POOL, _POOL_SIZE
    parts = thread_count()
    if len(tasks) < 2 or parts < 2:
        for task in tasks:
            task()
        return
    if _POOL is None or _POOL_SIZE != parts:
        if _POOL is not None:
            _POOL.shutdown(wait=True)
        _POOL = ThreadPoolExecutor(parts, thread_name_prefix="tinct-levin", initializer=_single_threaded)
        _POOL_SIZE = parts
    for future in [_POOL.submit(task) for task in tasks]:
        future.result()


_WORKSPACE: dict[str, torch.Tensor] = {}
KEEP_WORKSPACE = True
"""Keep the factor arena and Schur buffers (~0.7 GB at 1 MP) between solves: fresh memory costs
a page fault per page, which made repeated 1 MP solves 0.3-0.8 s slower and erratic here.
:func:`release_workspace` frees them."""


_CLAIMS: dict[str, int] = {}


def claim(name: str) -> int:
    """Mark workspace ``name`` as now written by a new user; returns that user's token."""
    _CLAIMS[name] = _CLAIMS.get(name, 0) + 1
    return _CLAIMS[name]


def still_holds(name: str, token: int) -> bool:
    """Whether the user with ``token`` (from :func:`claim`) still owns workspace ``name``'s contents
    (always true when workspaces are not kept, i.e. not shared)."""
    return not KEEP_WORKSPACE or _CLAIMS.get(name) == token


def release_workspace() -> None:
    """Free the memory kept between solves (see :data:`KEEP_WORKSPACE`)."""
    _WORKSPACE.clear()


def workspace(name: str, n: int, dtype: type) -> torch.Tensor:
    """A 1-D tensor of ``n`` elements (contents undefined), reused across calls when
    :data:`KEEP_WORKSPACE` is set; big fresh ones come from 2 MB pages (:func:`_zeroed`)."""
    held = _WORKSPACE.get(name)
    if held is not None and held.numel() >= n and held.dtype == torch.from_numpy(np.empty(0, dtype)).dtype:
        return held[:n]
    _WORKSPACE.pop(name, None)
    out = _zeroed(n, dtype) if n * np.dtype(dtype).itemsize >= HUGE_BYTES else \
        torch.from_numpy(np.empty(n, dtype=dtype))
    if KEEP_WORKSPACE:
        _WORKSPACE[name] = out
    return out


HUGE_BYTES = 4 << 20
"""Fresh workspaces of at least this size come from :func:`_zeroed` (2 MB pages: first touch of the
~0.4 GB of factors and Schur buffers of a 1 MP solve costs ~0.1 s instead of ~0.5 s)."""


def _zeroed(n: int, dtype: type) -> torch.Tensor:
    """A zero-filled 1-D tensor from a fresh anonymous mapping advised to use huge pages.

    The pages arrive zeroed from the kernel on first touch (no separate zeroing pass over the
    ~0.5 GB arena), and 2 MB pages make that first touch ~6x cheaper than 4 KB pages here
    (page faults are expensive in a VM). Falls back to ``numpy.zeros`` (calloc).
    """
    nbytes = max(n, 1) * np.dtype(dtype).itemsize
    try:
        buf = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        if hasattr(mmap, "MADV_HUGEPAGE"):
            buf.madvise(mmap.MADV_HUGEPAGE)
        return torch.from_numpy(np.frombuffer(buf, dtype=dtype, count=n))
    except (OSError, ValueError, AttributeError):
        return torch.from_numpy(np.zeros(n, dtype=dtype))
