"""A multifrontal LU for 9-point stencils on a pixel grid (Levin's system, fast path).

Levin's matrix ``A = I - W`` couples each pixel to its 3x3 window. On such a grid a single row
(or column) of pixels separates a rectangle into two halves, so a **nested dissection** gives an
elimination tree of rectangles ("boxes"): a box is split at its middle row/column (the
*separator*), both halves are eliminated first, then the separator. When a box's separator is
eliminated, the only other unknowns it touches are the pixels of its **ring** (the one-pixel
frame around the box, clipped to the image), which all belong to ancestors' separators. So each
elimination step is a small dense problem, a *front*, of size ``s + r`` (separator + ring):

    F = [[F11, F12], [F21, F22]]  ->  F11^-1,  X = F11^-1 F12,  S = F22 - F21 X

and the Schur complement ``S`` is added into the parent's front ("extend-add"). Boxes at one
depth with the same shape and the same image-border pattern have identical front layouts, so
each such *group* (up to ~65k boxes) is handled by one call: about 17 depths x ~10 groups
instead of a million Python-level nodes. All index bookkeeping is precomputed from the box
geometry alone (:mod:`tinct.methods.levin.nd_plan`) and cached per grid size by the solver.

This module holds the factorization object, :class:`MultifrontalLU`: the factor layout in one
arena and the depth-by-depth drivers. What a task does to one group's boxes (compiled kernel or
batched torch ops) is in :mod:`tinct.methods.levin.fronts`; each depth's groups (or parts of
groups) run as tasks on the solver's threads (:mod:`tinct.methods.levin.runtime`).

No pivoting between fronts is needed: ``A`` is a row diagonally dominant M-matrix, whose Schur
complements stay M-matrices. Everything runs in float32 (half the memory traffic of float64,
~2x the matmul speed) with **GTH pivots** (see
:meth:`~tinct.methods.levin.solver.LevinSolver.solve_rhs`), which keep a single solve close to
the exact answer; the solver can add iterative refinement with the exact float64 residual. For
accuracy, speed and memory see the accuracy/speed table in docs/methods/levin.md.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING

import numpy as np
import torch

from tinct.methods.levin import fronts
from tinct.methods.levin.fronts import fused
from tinct.methods.levin.kernel import library
from tinct.methods.levin.nd_plan import Group, Plan
from tinct.methods.levin.residual import leaks
from tinct.methods.levin.runtime import Workspace
from tinct.methods.levin.system import LevinSystem

if TYPE_CHECKING:
    from tinct.methods.levin.solver import LevinSolver

__all__ = ["LEAF_PIXELS", "MultifrontalLU"]

LEAF_PIXELS = 16
"""Boxes of at most this many pixels are eliminated whole (measured best of 4 / 8 / 16 / 36: small
leaves keep the per-matrix LAPACK inverses of the ~130k leaf fronts cheap)."""


class MultifrontalLU:
    """Factorization of Levin's ``A = I - W`` on an ``H x W`` grid, reusable for many right-hand sides.

    Usually made by :meth:`LevinSolver.factor <tinct.methods.levin.solver.LevinSolver.factor>`.

    Args:
        system: the :class:`LevinSystem` (weights ``(8, H, W)``; scribbled rows are identity).
        solver: the :class:`~tinct.methods.levin.solver.LevinSolver` whose plan cache, kept
            memory and threads it uses (and whose lock it holds while factoring or solving).
        leaf: boxes of at most this many pixels are not split further.
        dtype: factor precision (float32 default; the solver refines to float64 accuracy).
        rhs: optional ``(H*W, C)``: its forward substitution runs during the factorization
            (while each group's factors are fresh), and :attr:`solution` holds ``A^-1 rhs``.
            The compiled kernel (float32 only) is used only with ``rhs``.
        gth: GTH pivots (needs ``rhs``: the leak is carried as an extra column).
        keep: keep the full factors for :meth:`solve_factored`; ``False`` lets the kernel store
            only ``-X`` (forced to ``True`` on the torch path).

    Attributes:
        solution: ``A^-1 rhs``, ``(H*W, C)`` in the factor dtype (``None`` without ``rhs``).
        arena: the factors, one 1-D buffer; per box ``[F11^-1 | -X | 0]`` and ``F21``, or only
            ``-X`` without ``keep`` (offsets per group in ``offsets``).

    All factors live in one arena of the solver's kept memory (one allocation, no per-front page
    faults): a later factorization by the same solver reuses it, after which this one refuses to
    re-solve.
    """

    def __init__(self, system: LevinSystem, solver: LevinSolver, *, leaf: int = LEAF_PIXELS,
                 dtype: torch.dtype = torch.float32, rhs: torch.Tensor | None = None, gth: bool = False,
                 keep: bool = True):
        self.h, self.w = system.shape
        self.dtype = dtype
        self.solver = solver
        self.np_dtype = np.float32 if dtype == torch.float32 else np.float64
        with solver.lock:
            self._setup(system, leaf, rhs, gth, keep)

    @property
    def memory(self) -> Workspace:
        """The solver's kept memory (factor arena, Schur buffers, vectors)."""
        return self.solver.memory

    def _setup(self, system: LevinSystem, leaf: int, rhs: torch.Tensor | None, gth: bool, keep: bool) -> None:
        pool, memory = self.solver.pool, self.memory
        self.plan: Plan = self.solver.plan(self.h, self.w, leaf)
        # the entries of A are -W; pixel-major (H, W, 8): a box's entries lie close together
        weights = memory.get("negated", self.h * self.w * 8, self.np_dtype)
        negated = weights.numpy().reshape(self.h, self.w, 8)
        pool.run(pool.row_tasks(self.h, lambda lo, hi: np.negative(
            system.weights[:, lo:hi].transpose(1, 2, 0), out=negated[lo:hi], casting="same_kind")))
        self.gth = gth and rhs is not None
        self.kernel = library() if self.dtype == torch.float32 and rhs is not None else None
        # without `keep`, the kernel's fronts store only -X (all the back substitution needs)
        self.keep = keep or self.kernel is None
        # GTH at every elimination step only where the kernel runs every front
        self.gth_everywhere = self.gth and self.kernel is not None and all(
            fused(g, self.keep) for level in self.plan.levels for g in level)
        self.offsets: dict[int, tuple[int, int]] = {}            # id(group) -> (arena offset, block)
        size = 0
        for level in self.plan.levels:
            for g in level:
                b, s, r = g.sizes
                assert g.tpl is not None
                block = g.tpl.block if self.keep or not fused(g, self.keep) else s * r
                self.offsets[id(g)] = (size, block)
                size += b * block
        self.arena = memory.get("arena", size, self.np_dtype)
        self._claim = memory.claim("arena")              # a later factorization reuses the arena
        if self.gth:
            assert rhs is not None
            full = memory.get("rhs", rhs.shape[0] * (rhs.shape[1] + 1), self.np_dtype).view(rhs.shape[0], -1)
            full[:, :-1] = rhs
            full[:, -1] = torch.from_numpy(leaks(system))
            rhs = full
        ys = self._factor(weights, None if rhs is None else rhs.to(self.dtype))
        columns = 0 if rhs is None else rhs.shape[1] - self.gth                # not the leak column
        # A^-1 rhs (H*W, C) in the factor dtype when made with `rhs`, else None
        self.solution: torch.Tensor | None = None if ys is None else self._backward(ys, columns)

    def block(self, g: Group) -> torch.Tensor:
        """The group's factor blocks ``(B, block)`` in the arena."""
        at, blk = self.offsets[id(g)]
        return self.arena[at: at + len(g.origins) * blk].view(-1, blk)

    def views(self, g: Group, lo: int = 0, hi: int | None = None) -> tuple[torch.Tensor, ...]:
        """``(F11 (n,s,s), F12 (n,s,r+1), F21 (n,r+1,s))`` views of boxes ``lo:hi`` of a group.

        After factoring they hold ``F11^-1``, ``-X = -F11^-1 F12`` and ``F21``.
        """
        _, s, r = g.sizes
        blk = self.block(g)[lo:hi]
        f1 = blk[:, : s * (s + r + 1)].view(-1, s, s + r + 1)
        return f1[:, :, :s], f1[:, :, s:], blk[:, s * (s + r + 1):].view(-1, r + 1, s)

    def _factor(self, weights: torch.Tensor, rhs: torch.Tensor | None) -> list[list[torch.Tensor]] | None:
        """Factor depth by depth from the leaves (and forward-substitute ``rhs``): per depth, the
        ``y`` of each group, or ``None`` without ``rhs``."""
        levels, pool, memory = self.plan.levels, self.solver.pool, self.memory
        buffers = [memory.get(f"update{i}", self.plan.update_size, self.np_dtype) for i in range(2)]
        parts = pool.threads
        scratch_size = max(-(-g.sizes[0] // parts) * g.sizes[1] * max(g.sizes[1], g.sizes[2] + 1)
                           for level in levels for g in level)   # per thread: its rows of one group
        vectors = None if rhs is None else _Vectors(self.plan, rhs.shape[1], self.np_dtype, memory)
        ys: list[list[torch.Tensor]] = [[] for _ in levels]
        carries: dict = {}
        for depth in range(len(levels) - 1, -1, -1):
            mine, below = buffers[depth % 2], buffers[(depth + 1) % 2]
            children = {g.key: g for g in levels[depth + 1]} if depth + 1 < len(levels) else {}
            next_carries: dict = {}
            tasks = []
            for g in levels[depth]:
                b, s, r = g.sizes
                if self.kernel is None or not fused(g, self.keep):
                    g.entry_index(self.h * self.w)
                y = carry = None
                if vectors is not None:
                    y, carry = vectors.take(g)
                    ys[depth].append(y)
                    next_carries[g.key] = carry

                def rows(lo: int, hi: int, g: Group = g, y: torch.Tensor | None = y,
                         carry: torch.Tensor | None = carry, mine: torch.Tensor = mine,
                         below: torch.Tensor = below, children: dict = children,
                         carries: dict = carries) -> None:
                    scratch = memory.get(f"scratch-{threading.get_ident()}", scratch_size, self.np_dtype)
                    if rhs is None:
                        fronts.factor_rows(self, g, lo, hi, weights, below, children, mine, scratch)
                        return
                    if self.kernel is not None and fused(g, self.keep):
                        fronts.kernel_rows(self, g, lo, hi, weights, below, children, mine, rhs, carries,
                                           y, carry)
                        return
                    acc = fronts.gather_rows(self, g, lo, hi, rhs, carries)
                    leak = acc[:, : g.sizes[1], -1] if self.gth else None
                    fronts.factor_rows(self, g, lo, hi, weights, below, children, mine, scratch, leak)
                    fronts.substitute_rows(self, g, lo, hi, acc, y, carry)

                tasks += pool.row_tasks(b, rows)
            pool.run(tasks)
            carries = next_carries
        return None if rhs is None else ys

    def _backward(self, ys: list[list[torch.Tensor]], c: int) -> torch.Tensor:
        """Back substitution from the root: ``x_sep = y - X x_ring``; returns ``(H*W, C)``."""
        pool = self.solver.pool
        x = torch.zeros(self.h * self.w + 1, c, dtype=self.dtype)         # last row: the trash pixel
        kernel = library() if self.dtype == torch.float32 else None
        for depth, level in enumerate(self.plan.levels):
            tasks = []
            for g, y in zip(level, ys[depth], strict=True):
                tasks += pool.row_tasks(len(g.origins), lambda lo, hi, g=g, y=y:
                                        fronts.backward_rows(self, g, lo, hi, y, x, kernel))
            pool.run(tasks)
        return x[:-1]

    def solve_factored(self, rhs: torch.Tensor) -> torch.Tensor:
        """``A^-1 rhs`` with the stored factors: ``(H*W, C)`` -> ``(H*W, C)`` in the factor dtype.

        Needs the full factors (``keep=True``, the default) not yet overwritten by a later
        factorization of the same solver.
        """
        if not self.keep:
            raise ValueError("this factorization kept only -X (keep=False); factor again with keep=True")
        with self.solver.lock:
            if not self.memory.still_holds("arena", self._claim):
                raise RuntimeError("these factors were overwritten by a later factorization (the factor "
                                   "memory is shared between the solves of a solver); factor again")
            rhs = rhs.to(self.dtype)
            levels, pool = self.plan.levels, self.solver.pool
            vectors = _Vectors(self.plan, rhs.shape[1], self.np_dtype, self.memory)
            ys: list[list[torch.Tensor]] = [[] for _ in levels]
            carries: dict = {}
            for depth in range(len(levels) - 1, -1, -1):
                next_carries: dict = {}
                tasks = []
                for g in levels[depth]:
                    y, carry = vectors.take(g)
                    ys[depth].append(y)
                    next_carries[g.key] = carry
                    tasks += pool.row_tasks(len(g.origins), lambda lo, hi, g=g, y=y, carry=carry, c=carries:
                                            fronts.forward_rows(self, g, lo, hi, rhs, c, y, carry))
                pool.run(tasks)
                carries = next_carries
            return self._backward(ys, rhs.shape[1])


class _Vectors:
    """The forward pass's per-group ``y (B, s, C)`` and carries ``(B, r + 1, C)``, carved from one
    kept buffer (fresh pages cost a fault each: ~50 MB per solve at 1 MP)."""

    def __init__(self, plan: Plan, columns: int, dtype: type, memory: Workspace):
        total = sum(len(g.origins) * (g.sizes[1] + g.sizes[2] + 1) for level in plan.levels for g in level)
        self.buf = memory.get("vectors", total * columns, dtype)
        self.columns, self.at = columns, 0

    def take(self, g: Group) -> tuple[torch.Tensor, torch.Tensor | None]:
        b, s, r = g.sizes
        y = self._next((b, s, self.columns))
        return y, self._next((b, r + 1, self.columns)) if r else None

    def _next(self, shape: tuple[int, int, int]) -> torch.Tensor:
        n = shape[0] * shape[1] * shape[2]
        out = self.buf[self.at: self.at + n].view(shape)
        self.at += n
        return out
