"""Fast direct solve of Levin's system: nested-dissection ordered LU, one factorization.

Two direct solvers share the geometric nested-dissection idea below:

* ``multifrontal`` (default, :mod:`~tinct.methods.levin.multifrontal`): a batched multifrontal
  LU whose dense fronts are grouped by shape so that each tree depth is a handful of batched
  ``bmm`` calls; float32 factors with GTH pivots, one solve (within ~1e-4 of the exact
  solution); ``refine=True`` adds float64 iterative refinement (~1e-6; falls back to
  ``superlu`` if the refinement does not converge). ~5x faster than ``superlu``.
* ``superlu``: SciPy's SuperLU on the nested-dissection-permuted CSR matrix, float64.

Why a direct solver: the matrix ``A = I - W`` is a non-symmetric M-matrix whose conditioning
is set by the image, not by its size. Where an edge cuts the affinities, a region hangs on
links of weight ~0.01, and far from any scribble the solution is fixed by those weak links.
Every iterative scheme we measured (``docs/results/levin_speed.md``: geometric multigrid with
bilinear or operator-dependent interpolation, pyamg Ruge-Stüben and (smoothed) aggregation,
with and without GMRES / BiCGSTAB) either diverged (Galerkin coarse operators with
``R = P^T`` lose the M-matrix property on this non-symmetric operator) or needed 30-100
cycles to agree with ``spsolve`` to 1e-5. A direct solve costs the same for every image.

What makes it fast compared with ``spsolve`` (SuperLU, COLAMD column ordering, partial
pivoting, one solve per channel):

* a geometric **nested-dissection** ordering of the pixel grid (a separator row/column, both
  halves recursively, the separator last), which is close to optimal fill for 2-D grids and
  about half the fill of COLAMD here;
* **no pivoting** (``diag_pivot_thresh=0``, symmetric mode): the matrix is row diagonally
  dominant, so the diagonal pivots are safe, and the ordering is kept as given;
* the matrix is assembled directly in CSR from the stencil (no COO sort), and U and V are
  solved with **one factorization** (two right-hand sides).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from tinct.methods.levin import multifrontal
from tinct.methods.levin.system import LevinSystem

ND_LEAF = 64
"""Blocks of at most this many pixels are ordered row by row (measured best of 16 / 64 / 256)."""


def nested_dissection(h: int, w: int, leaf: int = ND_LEAF) -> np.ndarray:
    """Nested-dissection ordering of an ``h x w`` pixel grid with a 9-point stencil.

    A full row (or column) separates the 3x3-connected grid, so each rectangle is split at its
    middle row or column (along its longer side), both halves are ordered recursively and the
    separator comes last.

    Returns:
        int64 ``(h*w,)``: ``order[new] = old`` flat pixel index.
    """
    idx = np.arange(h * w).reshape(h, w)
    parts: list[np.ndarray] = []
    stack: list[tuple[int, int, int, int, bool]] = [(0, h, 0, w, False)]
    # iterative post-order: (rectangle, separator-only) items; separators are emitted after halves
    while stack:
        y0, y1, x0, x1, is_sep = stack.pop()
        if is_sep or (y1 - y0) * (x1 - x0) <= leaf or (y1 - y0 < 3 and x1 - x0 < 3):
            parts.append(idx[y0:y1, x0:x1].ravel())
            continue
        if y1 - y0 >= x1 - x0:
            m = (y0 + y1) // 2
            stack += [(m, m + 1, x0, x1, True), (m + 1, y1, x0, x1, False), (y0, m, x0, x1, False)]
        else:
            m = (x0 + x1) // 2
            stack += [(y0, y1, m, m + 1, True), (y0, y1, m + 1, x1, False), (y0, y1, x0, m, False)]
    return np.concatenate(parts)


def compact_csr(system: LevinSystem) -> sp.csr_matrix:
    """``A = I - W`` as canonical CSR (sorted columns, no explicit zeros), built without sorting.

    The 9 stencil slots in (dy, dx) row-major order are already in ascending column order, so
    dropping the out-of-image slots of a dense ``(N, 9)`` table keeps CSR order.
    """
    h, w = system.shape
    n = h * w
    data = np.zeros((h, w, 9))
    cols = np.zeros((h, w, 9), dtype=np.int32)
    keep = np.zeros((h, w, 9), dtype=bool)
    idx = np.arange(n, dtype=np.int32).reshape(h, w)
    k = 0
    for s, (dy, dx) in enumerate((dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)):
        cols[..., s] = idx + (dy * w + dx)
        if dy == 0 and dx == 0:
            data[..., s] = 1.0
            keep[..., s] = True
            continue
        data[..., s] = -system.weights[k]
        keep[..., s] = system.weights[k] != 0.0
        k += 1
    keep = keep.reshape(n, 9)
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(keep.sum(axis=1), out=indptr[1:])
    return sp.csr_matrix((data.reshape(n, 9)[keep], cols.reshape(n, 9)[keep], indptr), shape=(n, n))


SOLVERS = ("multifrontal", "superlu")


def solve_system(system: LevinSystem, values: np.ndarray, solver: str = "multifrontal",
                 refine: bool = False) -> np.ndarray:
    """Solve Levin's system for each channel of ``values``.

    Args:
        system: the :class:`LevinSystem` (at least one scribble; otherwise A is singular).
        values: float ``(H, W, C)``; the pinned chroma on scribbled pixels (ignored elsewhere).
        solver: ``"multifrontal"`` (default) or ``"superlu"`` (see the module doc).
        refine: multifrontal only: refine the float32 solution (within ~1e-4 of the exact one)
            to ~1e-6 by float64 iterative refinement (about +20 % time).

    Returns:
        float64 ``(H, W, C)``: the solution, equal to ``values`` on scribbled pixels.
    """
    if solver not in SOLVERS:
        raise ValueError(f"unknown levin solver {solver!r}; choose one of {', '.join(SOLVERS)}")
    h, w = system.shape
    b = system.rhs(values)
    if not system.scribbled.any():
        return np.zeros((h, w, b.shape[1]))
    if solver == "multifrontal":
        x = multifrontal.solve(system, b, refine=refine)
        if x is not None:
            return x.reshape(h, w, -1)
    A = compact_csr(system)
    order = nested_dissection(h, w)
    # A[order][:, order]; its transpose is the CSC matrix SuperLU wants, so factor that and
    # solve the transposed system (structurally symmetric, so the ordering quality is the same).
    permuted = A[order][:, order]
    lu = spla.splu(permuted.T, permc_spec="NATURAL", diag_pivot_thresh=0.0,
                   options={"SymmetricMode": True})
    x = np.empty_like(b)
    x[order] = lu.solve(np.ascontiguousarray(b[order]), trans="T")
    return x.reshape(h, w, -1)
