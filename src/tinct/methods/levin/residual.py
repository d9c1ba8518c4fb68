"""Float64 products with Levin's ``A = I - W`` straight from the stencil form (no matrix built).

Used to check and refine the float32 multifrontal solve
(:meth:`~tinct.methods.levin.solver.LevinSolver.solve_rhs`).
"""

from __future__ import annotations

import numpy as np
import torch

from tinct.methods.levin.runtime import TaskPool
from tinct.methods.levin.system import OFFSETS, LevinSystem

__all__ = ["apply_matrix", "leaks", "residual"]


def leaks(system: LevinSystem) -> np.ndarray:
    """Row sums of ``A = I - W`` (float64 ``(H*W,)``): 1 on scribbled and isolated pixels, else 0.

    Exact zeros for free rows (their weights sum to 1 up to rounding; the true leak is 0).
    """
    h, w = system.shape
    if h * w == 1:
        return np.ones(1)                     # the only pixel of a 1x1 image has no neighbours
    return system.scribbled.reshape(-1).astype(np.float64)   # free rows of W sum to 1


def apply_matrix(system: LevinSystem, x: np.ndarray, pool: TaskPool | None = None) -> np.ndarray:
    """``A x`` in float64 from the stencil form. ``x``: ``(H*W, C)`` -> ``(H*W, C)``."""
    return -residual(system, np.zeros_like(x), x, pool)


def residual(system: LevinSystem, b: np.ndarray, x: np.ndarray, pool: TaskPool | None = None) -> np.ndarray:
    """``b - A x`` in float64 from the stencil form, in row bands (one task per thread of ``pool``).

    The diagonal of a free row is taken as the sum of its float64 weights (1 up to rounding, as
    the paper normalises them), i.e. ``A`` has exact zero row sums off the scribbles, like the
    GTH factorization: on chains of very weak links (condition ~1e15) a rounding of 1e-16 in the
    diagonal moves the solution by O(1) (``test_kernel_is_accurate_where_float64_elimination_is_not``).

    Args:
        b, x: float64 ``(H*W, C)``.
        pool: the task threads (``None``: one band on the calling thread; same result).

    Returns:
        float64 ``(H*W, C)``.
    """
    h, w = system.shape
    xs = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64)).view(h, w, -1)
    pad = torch.nn.functional.pad(xs.permute(2, 0, 1), (1, 1, 1, 1)).permute(1, 2, 0)
    weights = torch.from_numpy(system.weights)
    leak = torch.from_numpy(leaks(system).reshape(h, w))
    out = torch.from_numpy(np.array(b, dtype=np.float64)).view(h, w, -1)

    def rows(lo: int, hi: int) -> None:
        band = out[lo:hi]
        diag = leak[lo:hi] + weights[:, lo:hi].sum(dim=0)
        band.addcmul_(diag[..., None], xs[lo:hi], value=-1.0)
        for k, (dy, dx) in enumerate(OFFSETS):
            band.addcmul_(weights[k, lo:hi, :, None], pad[1 + dy + lo: 1 + dy + hi, 1 + dx: 1 + dx + w])

    if pool is None:
        rows(0, h)
    else:
        pool.run(pool.row_tasks(h, rows))
    return out.view(h * w, -1).numpy()
