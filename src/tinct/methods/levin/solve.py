"""Direct solve of Levin's system, functional API: :func:`solve_system`.

Two direct solvers share a geometric nested dissection of the pixel grid:

* ``multifrontal`` (default, :mod:`~tinct.methods.levin.multifrontal`): a batched multifrontal
  LU whose dense fronts are grouped by shape so that each tree depth is a handful of batched
  calls (a compiled kernel, or ``bmm``); float32 factors with GTH pivots, one solve;
  ``refine=True`` adds float64 iterative refinement (falling back to ``superlu`` if the
  refinement does not converge).
* ``superlu`` (:mod:`~tinct.methods.levin.superlu`): SciPy's SuperLU on the nested-dissection-
  permuted CSR matrix, float64, without pivoting.

Accuracy and speed of both, and of ``refine=True``: see the accuracy/speed table in
docs/methods/levin.md.

Why a direct solver: the matrix ``A = I - W`` is a non-symmetric M-matrix whose conditioning
is set by the image, not by its size. Where an edge cuts the affinities, a region hangs on
links of weight ~0.01, and far from any scribble the solution is fixed by those weak links.
Every iterative scheme we measured (``docs/results/levin_speed.md``: geometric multigrid with
bilinear or operator-dependent interpolation, pyamg Ruge-Stüben and (smoothed) aggregation,
with and without GMRES / BiCGSTAB) either diverged (Galerkin coarse operators with
``R = P^T`` lose the M-matrix property on this non-symmetric operator) or needed 30-100
cycles to agree with ``spsolve`` to 1e-5. A direct solve costs the same for every image.

:func:`solve_system` runs on :func:`~tinct.methods.levin.solver.default_solver`, which keeps its
memory between calls; an application that wants to own (and free) that memory makes its own
:class:`~tinct.methods.levin.solver.LevinSolver`.
"""

from __future__ import annotations

import numpy as np

from tinct.methods.levin.solver import METHODS, default_solver
from tinct.methods.levin.superlu import compact_csr, nested_dissection
from tinct.methods.levin.system import LevinSystem

__all__ = ["SOLVERS", "compact_csr", "nested_dissection", "solve_system"]

SOLVERS = METHODS
"""Names accepted by ``solve_system(..., solver=...)``."""


def solve_system(system: LevinSystem, values: np.ndarray, solver: str = "multifrontal",
                 refine: bool = False) -> np.ndarray:
    """Solve Levin's system for each channel of ``values`` with the default solver.

    Args:
        system: the :class:`LevinSystem` of an ``H x W`` image.
        values: float ``(H, W, C)``; the pinned chroma on scribbled pixels (ignored elsewhere).
        solver: ``"multifrontal"`` (default) or ``"superlu"`` (see the module doc).
        refine: multifrontal only: refine the float32 solve by float64 iterative refinement
            (see the accuracy/speed table in docs/methods/levin.md).

    Returns:
        float64 ``(H, W, C)``: the solution, equal to ``values`` on scribbled pixels (zeros if
        nothing is scribbled).
    """
    return default_solver().solve(system, values, method=solver, refine=refine)
