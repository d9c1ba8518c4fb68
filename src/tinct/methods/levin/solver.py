"""The Levin solver object: it owns its plan cache, its kept memory and its threads.

A :class:`LevinSolver` solves Levin's system (:mod:`~tinct.methods.levin.system`) by the float32
multifrontal LU (:mod:`~tinct.methods.levin.multifrontal`), optionally refined in float64, with
the float64 SuperLU solve (:mod:`~tinct.methods.levin.superlu`) as fallback. For accuracy and
speed see the accuracy/speed table in docs/methods/levin.md.

Between solves it keeps the elimination trees of the last grid sizes and the big buffers (factor
arena, Schur buffers: most of the solve's memory), because fresh memory costs a page fault per
page; :meth:`LevinSolver.release` frees all of it and ends its threads (a server calls it when
idle). Solves on one solver run one at a time (its lock); separate solvers share nothing. It
changes no process-wide state: not the garbage collector, not torch's thread count (its worker
threads set their own OpenMP/MKL count to 1, see :mod:`~tinct.methods.levin.runtime`).

The functional API (:func:`~tinct.methods.levin.solve.solve_system`) uses :func:`default_solver`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from types import TracebackType

import numpy as np
import torch

from tinct.methods.levin.multifrontal import LEAF_PIXELS, MultifrontalLU
from tinct.methods.levin.nd_plan import Plan, build_plan
from tinct.methods.levin.residual import residual
from tinct.methods.levin.runtime import MAX_PARTS, TaskPool, Workspace, trim_heap
from tinct.methods.levin.superlu import superlu_solve
from tinct.methods.levin.system import LevinSystem

__all__ = ["FAST_RESIDUAL_LIMIT", "METHODS", "ROUNDOFF_RESIDUAL", "LevinSolver", "default_solver"]

METHODS = ("multifrontal", "superlu")
"""Solve methods: the float32 multifrontal LU (default) or float64 SuperLU (exact, slower)."""

ROUNDOFF_RESIDUAL = 1e-14
"""A residual ``max |b - A x|`` at most this (times ``max(1, max |b|)``) is at float64 roundoff for
these matrices (row sums of 1, 9 entries): refinement cannot reduce it further."""

FAST_RESIDUAL_LIMIT = 1e-4
"""Without refinement, a first solve whose float64 residual ``max |b - A x|`` exceeds this (times
``max(1, max |b|)``) or is not finite is refined anyway."""


class LevinSolver:
    """Solves Levin's system; owns its plan cache, kept memory and worker threads.

    Args:
        threads: worker threads for the parts of a solve that run in parallel (1: everything on
            the calling thread). Default: torch's intra-op thread count at construction (at most
            :data:`~tinct.methods.levin.runtime.MAX_PARTS`). Torch's own setting is not changed.
        keep_memory: keep the big buffers between solves (faster repeated solves; ~0.7 GB after a
            1 MP solve) until :meth:`release`; ``False`` allocates them afresh for every solve.
        plans: how many grid sizes' elimination trees to cache.

    Thread safety: solves (and factorizations made by :meth:`factor`) on one solver are
    serialized by its lock; use several solvers to solve in parallel (each with its own memory).
    Also a context manager: ``with LevinSolver() as s: ...`` releases on exit.
    """

    def __init__(self, threads: int | None = None, *, keep_memory: bool = True, plans: int = 2) -> None:
        if threads is None:
            threads = max(1, min(MAX_PARTS, torch.get_num_threads()))
        if threads < 1:
            raise ValueError(f"threads must be at least 1, got {threads}")
        if plans < 1:
            raise ValueError(f"plans must be at least 1, got {plans}")
        self.pool = TaskPool(threads)
        self.memory = Workspace(keep=keep_memory)
        self.lock = threading.RLock()
        """Held during every factorization and solve (reentrant: refinement re-solves inside one)."""
        self._plans: OrderedDict[tuple[int, int, int], Plan] = OrderedDict()
        self._max_plans = plans

    def __repr__(self) -> str:
        return (f"LevinSolver(threads={self.threads}, keep_memory={self.memory.keep}, "
                f"kept_bytes={self.kept_bytes})")

    @property
    def threads(self) -> int:
        """Number of worker threads."""
        return self.pool.threads

    @property
    def kept_bytes(self) -> int:
        """Bytes of memory kept between solves now (0 after :meth:`release`; plan caches not counted)."""
        return self.memory.nbytes

    def plan(self, h: int, w: int, leaf: int = LEAF_PIXELS) -> Plan:
        """The elimination tree of an ``h x w`` grid (cached for the last ``plans`` grid sizes)."""
        key = (h, w, leaf)
        with self.lock:
            if key in self._plans:
                self._plans.move_to_end(key)
            else:
                while len(self._plans) >= self._max_plans:
                    self._plans.popitem(last=False)
                self._plans[key] = build_plan(h, w, leaf)
            return self._plans[key]

    def release(self) -> None:
        """Free the kept memory and cached plans, end the worker threads and return free heap
        memory to the OS (:func:`~tinct.methods.levin.runtime.trim_heap`).

        Waits for a solve in progress. The solver stays usable: the next solve allocates again
        (and pays the first-solve cost). Factorizations made before keep their own factors alive
        until they are dropped.
        """
        with self.lock:
            self.memory.clear()
            self._plans.clear()
            self.pool.shutdown()
        trim_heap()

    def __enter__(self) -> LevinSolver:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.release()

    def factor(self, system: LevinSystem, *, rhs: torch.Tensor | None = None, gth: bool = False,
               keep: bool = True, leaf: int = LEAF_PIXELS,
               dtype: torch.dtype = torch.float32) -> MultifrontalLU:
        """Factor ``A`` of ``system`` (see :class:`~tinct.methods.levin.multifrontal.MultifrontalLU`
        for the arguments); its factors live in this solver's memory until the next factorization."""
        return MultifrontalLU(system, self, leaf=leaf, dtype=dtype, rhs=rhs, gth=gth, keep=keep)

    def residual(self, system: LevinSystem, b: np.ndarray, x: np.ndarray) -> np.ndarray:
        """``b - A x`` in float64 on this solver's threads; ``b``, ``x``, result: ``(H*W, C)``."""
        return residual(system, b, x, self.pool)

    def solve(self, system: LevinSystem, values: np.ndarray, *, method: str = "multifrontal",
              refine: bool = False) -> np.ndarray:
        """Solve Levin's system for each channel of ``values``.

        Args:
            system: the :class:`LevinSystem` of an ``H x W`` image.
            values: float ``(H, W, C)``; the pinned values (chroma) on scribbled pixels, ignored
                elsewhere.
            method: ``"multifrontal"`` (default) or ``"superlu"`` (:data:`METHODS`).
            refine: multifrontal only: refine the float32 solve by float64 iterative refinement
                (accuracy and time: see the accuracy/speed table in docs/methods/levin.md).

        Returns:
            float64 ``(H, W, C)``: the solution, equal to ``values`` on scribbled pixels (all
            zeros if nothing is scribbled: ``A`` would be singular).
        """
        if method not in METHODS:
            raise ValueError(f"unknown levin solver {method!r}; choose one of {', '.join(METHODS)}")
        h, w = system.shape
        b = system.rhs(values)
        if not system.scribbled.any():
            return np.zeros((h, w, b.shape[1]))
        if method == "multifrontal":
            x = self.solve_rhs(system, b, refine=refine)
            if x is not None:
                return x.reshape(h, w, -1)
        return superlu_solve(system, b).reshape(h, w, -1)

    def solve_rhs(self, system: LevinSystem, rhs: np.ndarray, *, refine: bool = False, tol: float = 1e-6,
                  max_refine: int = 6, leaf: int = LEAF_PIXELS) -> np.ndarray | None:
        """Solve ``A x = rhs``: float32 multifrontal LU with GTH pivots, optionally refined in float64.

        The factorization uses **GTH pivots** (Grassmann-Taksar-Heyman): a pivot is set to the
        row's leak (its row sum in the current Schur complement, see
        :func:`~tinct.methods.levin.residual.leaks`, carried through the elimination like a
        right-hand side) plus the magnitude of its off-diagonal sum, instead of the
        cancellation-prone ``1 - sum of updates``. The compiled kernel does this at every
        elimination step, the torch fallback once per front. This keeps the float32 solution
        close to the exact one even where weak links (hard edges) make ``A`` ill-conditioned, so
        by default one solve is the answer, made with ``keep=False`` (only ``-X`` stored); a
        float64 residual check follows (:data:`FAST_RESIDUAL_LIMIT`).

        ``refine=True`` adds iterative refinement: each step computes the float64 residual
        ``r = b - A x`` and corrects ``x`` by one solve with the float32 factors. The contraction
        ``rho`` of a step is estimated from the residuals before and after it, and the
        refinement stops once the error estimate ``rho / (1 - rho) * |last correction|`` is at
        most ``tol`` (typically after one step). If it does not contract, the matrix is too
        ill-conditioned for float64 residuals; when the kernel made every pivot a GTH pivot, the
        first solve is returned (componentwise accurate where ordinary float64 elimination is
        not), otherwise ``None``. Accuracy and time of both: see the accuracy/speed table in
        docs/methods/levin.md.

        Args:
            system: Levin's system on an ``H x W`` grid.
            rhs: float ``(H*W, C)``.
            refine: refine to ``tol``; otherwise only a first solve with a residual that is not
                small (:data:`FAST_RESIDUAL_LIMIT`) is refined.
            tol: target max abs error of the refined solution (estimated).
            max_refine: most refinement steps.
            leaf: boxes of at most this many pixels are eliminated whole.

        Returns:
            float64 ``(H*W, C)``, or ``None`` if a needed refinement did not converge (a matrix too
            ill-conditioned for float32 factors); the caller then uses an exact float64 solver.
        """
        b = np.asarray(rhs, dtype=np.float64)
        if not b.size:
            return b.copy()
        with self.lock:               # the kept memory serves one solve at a time (it uses every thread)
            return self._solve_rhs(system, b, refine, tol, max_refine, leaf)

    def _solve_rhs(self, system: LevinSystem, b: np.ndarray, refine: bool, tol: float, max_refine: int,
                   leaf: int) -> np.ndarray | None:
        lu = self.factor(system, leaf=leaf, rhs=torch.from_numpy(b), gth=True, keep=refine)
        assert lu.solution is not None
        x = lu.solution.double().numpy()
        res = self.residual(system, b, x)
        if not refine:
            worst = float(np.abs(res).max())
            if np.isfinite(worst) and worst <= FAST_RESIDUAL_LIMIT * max(1.0, float(np.abs(b).max())):
                return x
            if not lu.keep:                                  # refinement needs the full factors
                lu = self.factor(system, leaf=leaf, rhs=torch.from_numpy(b), gth=True)
                assert lu.solution is not None
                x = lu.solution.double().numpy()
                res = self.residual(system, b, x)
        floor = ROUNDOFF_RESIDUAL * max(1.0, float(np.abs(b).max()))
        first = x.copy()
        for _ in range(max_refine):
            dx = lu.solve_factored(torch.from_numpy(res)).double().numpy()
            new_x = x + dx
            new_res = self.residual(system, b, new_x)
            worst, new_worst = float(np.abs(res).max()), float(np.abs(new_res).max())
            rho = new_worst / max(worst, 1e-300)
            if not np.isfinite(rho) or rho >= 1.0:
                # Not contracting. Fine if the residual is already at float64 roundoff. Otherwise the
                # matrix is too ill-conditioned for float64 residuals (chains of links ~1e-4: condition
                # far beyond 1e16): ordinary float64 elimination fails there too, while the kernel's
                # first solve, GTH at every pivot, stays componentwise accurate, so it is the answer.
                # With any front on the torch path (GTH per front only) the exact float64 solver
                # takes over instead.
                if worst <= floor:
                    return x
                return first if lu.gth_everywhere else None
            x = new_x
            if rho / (1.0 - rho) * float(np.abs(dx).max()) <= tol:
                return x
            res = new_res
        return None


_DEFAULT: LevinSolver | None = None
_DEFAULT_GUARD = threading.Lock()


def default_solver() -> LevinSolver:
    """The solver of the functional API (made on first use with the default arguments).

    ``default_solver().release()`` frees what it keeps.
    """
    global _DEFAULT
    with _DEFAULT_GUARD:
        if _DEFAULT is None:
            _DEFAULT = LevinSolver()
        return _DEFAULT
