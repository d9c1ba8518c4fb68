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
geometry alone (:mod:`tinct.methods.levin.nd_plan`) and cached per grid size.

A group runs either in the **compiled front kernel** (``_fronts.c`` via
:mod:`tinct.methods.levin.kernel`: box after box in cache, Gauss-Jordan with a GTH pivot at
every step; see :func:`fused` for which groups) or as **batched torch ops** (one batched
``inv`` / ``bmm`` / extend-add per step; the fallback when the kernel is not built). Both use
the same factor layout per box, ``[F1 = [F11^-1 | -X | 0] (s rows) | F21 (r + 1 rows)]``, or
only ``-X`` when the full factors are not kept (``keep=False``). Each depth's groups (or parts
of groups) run as tasks on the task threads (:mod:`tinct.methods.levin.runtime`).

No pivoting between fronts is needed: ``A`` is a row diagonally dominant M-matrix, whose Schur
complements stay M-matrices. Everything runs in float32 (half the memory traffic of float64,
~2x the matmul speed) with **GTH pivots** (see :func:`solve`), which keep a single solve within
~2e-5 of the exact answer on real photos; :func:`solve` can add iterative refinement with the
exact float64 residual.

Storage at 1 MP: 0.5 GB of full factors, 0.22 GB of ``-X`` alone; 2 x 80 MB of Schur buffers.
"""

from __future__ import annotations

import ctypes
import gc
import threading

import numpy as np
import torch

from tinct.methods.levin.kernel import GroupArgs, LinkArgs, library, pointer
from tinct.methods.levin.nd_plan import Group, Plan, build_plan
from tinct.methods.levin.runtime import (
    claim,
    release_workspace,
    row_tasks,
    run,
    still_holds,
    thread_count,
    workspace,
)

__all__ = ["MultifrontalLU", "apply_matrix", "plan", "release_workspace", "residual", "solve"]
from tinct.methods.levin.system import OFFSETS, LevinSystem

LEAF_PIXELS = 16
"""Boxes of at most this many pixels are eliminated whole (measured best of 4 / 8 / 16 / 36: small
leaves keep the per-matrix LAPACK inverses of the ~130k leaf fronts cheap)."""

RUNS_MIN_RING = 24
"""Fronts with at least this many ring slots take their children's Schur complements as block
additions of contiguous runs (2x faster than a scatter there); smaller ones by ``index_add_``,
whose per-element scatter beats many tiny block additions."""

_PLANS: dict[tuple[int, int, int], Plan] = {}


def plan(h: int, w: int, leaf: int = LEAF_PIXELS) -> Plan:
    """The elimination tree of an ``h x w`` grid (cached for the last 2 grid sizes)."""
    key = (h, w, leaf)
    if key not in _PLANS:
        while len(_PLANS) >= 2:
            _PLANS.pop(next(iter(_PLANS)))
        _PLANS[key] = build_plan(h, w, leaf)
    return _PLANS[key]


class MultifrontalLU:
    """Factorization of Levin's ``A = I - W`` on an ``H x W`` grid, reusable for many right-hand sides.

    Args:
        system: the :class:`LevinSystem` (weights ``(8, H, W)``; scribbled rows are identity).
        leaf: boxes of at most this many pixels are not split further.
        dtype: factor precision (float32 default; :func:`solve` refines to float64 accuracy).
        rhs: optional ``(H*W, C)``: its forward substitution runs during the factorization
            (while each group's factors are fresh), and :attr:`solution` holds ``A^-1 rhs``.
            The compiled kernel (float32 only) is used only with ``rhs``.
        gth: GTH pivots (needs ``rhs``: the leak is carried as an extra column); see :func:`solve`.
        keep: keep the full factors for :meth:`solve_factored`; ``False`` lets the kernel store
            only ``-X`` (forced to ``True`` on the torch path).

    All factors live in one preallocated arena (one allocation, no per-front page faults).
    """

    def __init__(self, system: LevinSystem, leaf: int = LEAF_PIXELS, dtype: torch.dtype = torch.float32,
                 rhs: torch.Tensor | None = None, gth: bool = False, keep: bool = True):
        self.h, self.w = system.shape
        self.dtype = dtype
        self.plan = plan(self.h, self.w, leaf)
        self.np_dtype = np.float32 if dtype == torch.float32 else np.float64
        # the entries of A are -W; pixel-major (H, W, 8): a box's entries lie close together
        weights = workspace("negated", self.h * self.w * 8, self.np_dtype)
        negated = weights.numpy().reshape(self.h, self.w, 8)
        run(row_tasks(self.h, lambda lo, hi: np.negative(system.weights[:, lo:hi].transpose(1, 2, 0),
                                                          out=negated[lo:hi], casting="same_kind")))
        self.gth = gth and rhs is not None
        self.kernel = library() if dtype == torch.float32 and rhs is not None else None
        # without `keep`, the kernel's fronts store only -X (all the back substitution needs)
        self.keep = keep or self.kernel is None
        # GTH at every elimination step only where the kernel runs every front
        self.gth_everywhere = self.gth and self.kernel is not None and all(
            fused(g, self.keep) for level in self.plan.levels for g in level)
        self._at: dict[int, tuple[int, int]] = {}                  # id(group) -> (offset, block)
        size = 0
        for level in self.plan.levels:
            for g in level:
                b, s, r = g.sizes
                assert g.tpl is not None
                block = g.tpl.block if self.keep or not fused(g, self.keep) else s * r
                self._at[id(g)] = (size, block)
                size += b * block
        self.arena = workspace("arena", size, self.np_dtype)
        self._claim = claim("arena")                     # a later factorization reuses the arena
        if self.gth:
            assert rhs is not None
            full = workspace("rhs", rhs.shape[0] * (rhs.shape[1] + 1), self.np_dtype).view(rhs.shape[0], -1)
            full[:, :-1] = rhs
            full[:, -1] = torch.from_numpy(leaks(system))
            rhs = full
        ys = self._factor(weights, None if rhs is None else rhs.to(dtype))
        columns = 0 if rhs is None else rhs.shape[1] - self.gth                # not the leak column
        self.solution = None if ys is None else self._backward(ys, columns)

    def _block(self, g: Group) -> torch.Tensor:
        """The group's factor blocks ``(B, block)`` in the arena."""
        at, blk = self._at[id(g)]
        return self.arena[at: at + len(g.origins) * blk].view(-1, blk)

    def _views(self, g: Group, lo: int = 0, hi: int | None = None) -> tuple[torch.Tensor, ...]:
        """``(F11 (n,s,s), F12 (n,s,r+1), F21 (n,r+1,s))`` views of boxes ``lo:hi`` of a group.

        After factoring they hold ``F11^-1``, ``-X = -F11^-1 F12`` and ``F21``.
        """
        _, s, r = g.sizes
        blk = self._block(g)[lo:hi]
        f1 = blk[:, : s * (s + r + 1)].view(-1, s, s + r + 1)
        return f1[:, :, :s], f1[:, :, s:], blk[:, s * (s + r + 1):].view(-1, r + 1, s)

    def _factor(self, weights: torch.Tensor, rhs: torch.Tensor | None) -> list[list[torch.Tensor]] | None:
        levels = self.plan.levels
        buffers = [workspace(f"update{i}", self.plan.update_size, self.np_dtype) for i in range(2)]
        parts = thread_count()
        scratch_size = max(-(-g.sizes[0] // parts) * g.sizes[1] * max(g.sizes[1], g.sizes[2] + 1)
                           for level in levels for g in level)   # per thread: its rows of one group
        vectors = None if rhs is None else _Vectors(self.plan, rhs.shape[1], self.np_dtype)
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
                    scratch = workspace(f"scratch-{threading.get_ident()}", scratch_size,
                                         self.np_dtype)
                    if rhs is None:
                        self._factor_rows(g, lo, hi, weights, below, children, mine, scratch)
                        return
                    if self.kernel is not None and fused(g, self.keep):
                        self._kernel_rows(g, lo, hi, weights, below, children, mine, rhs, carries, y, carry)
                        return
                    acc = self._gather_rows(g, lo, hi, rhs, carries)
                    leak = acc[:, : g.sizes[1], -1] if self.gth else None
                    self._factor_rows(g, lo, hi, weights, below, children, mine, scratch, leak)
                    self._substitute_rows(g, lo, hi, acc, y, carry)

                tasks += row_tasks(b, rows)
            run(tasks)
            carries = next_carries
        return None if rhs is None else ys

    def _kernel_rows(self, g: Group, lo: int, hi: int, weights: torch.Tensor, below: torch.Tensor,
                     children: dict, mine: torch.Tensor, rhs: torch.Tensor, carries: dict,
                     y: torch.Tensor | None, carry: torch.Tensor | None) -> None:
        """Boxes ``lo:hi`` of one group by the fused C kernel: factor + forward substitution."""
        assert g.tpl is not None and g.base is not None and self.kernel is not None
        _, s, r = g.sizes
        at, block = self._at[id(g)]
        args = GroupArgs(s=s, r=r, C=rhs.shape[1], block=block, n_entries=g.tpl.entry_pos.size,
                         n_links=len(g.links), gth=int(self.gth), weights=pointer(weights),
                         base=pointer(g.base), entry_src=pointer(g.tpl.entry_src_t),
                         entry_pos=pointer(g.tpl.entry_pos_t), blocks=pointer(self.arena, at),
                         compact=int(not self.keep),
                         upd=pointer(mine, g.update_at) if r else None,
                         rhs=pointer(rhs), sep_idx=pointer(g.sep_idx), y=pointer(y), carry=pointer(carry))
        for k, ln in enumerate(g.links):
            child = children[ln.key]
            q = child.sizes[2] + 1
            slot_runs, ring_runs = ln.runs_t
            args.links[k] = LinkArgs(upd=pointer(below, child.update_at + ln.start * q * q),
                                     carry=pointer(carries[ln.key], ln.start * q * rhs.shape[1]),
                                     slots=pointer(ln.slots), ring=pointer(ln.ring_rows),
                                     slot_runs=pointer(slot_runs), ring_runs=pointer(ring_runs),
                                     n_slot_runs=len(slot_runs), n_ring_runs=len(ring_runs),
                                     q=q, a0=ln.a0, n=ln.n, p0=ln.p0)
        if self.kernel.tinct_factor_boxes(ctypes.byref(args), lo, hi) != 0:
            raise MemoryError("the front kernel could not allocate its scratch")

    def _factor_rows(self, g: Group, lo: int, hi: int, weights: torch.Tensor, below: torch.Tensor,
                     children: dict, mine: torch.Tensor, scratch: torch.Tensor,
                     leak: torch.Tensor | None = None) -> None:
        """Assemble and factor boxes ``lo:hi`` of one group; their Schur complements go to ``mine``."""
        _, s, r = g.sizes
        n = hi - lo
        assert g.tpl is not None and g.src_idx is not None      # made by entry_index() before the tasks
        blk = self._block(g)[lo:hi]
        blk.zero_()
        entries = torch.index_select(weights, 0, g.src_idx[lo:hi].reshape(-1)).view(n, -1)
        blk.index_copy_(1, g.tpl.entry_pos_t, entries)
        f11, f12, f21 = self._views(g, lo, hi)
        f1 = blk[:, : s * (s + r + 1)].view(n, s, s + r + 1)
        f11.diagonal(dim1=1, dim2=2).add_(1.0)
        child_s = []
        by_runs = r >= RUNS_MIN_RING
        for ln in g.links:
            child = children[ln.key]
            rc1 = child.sizes[2] + 1
            first = child.update_at + (ln.start + lo) * rc1 * rc1
            cs = below[first: first + n * rc1 * rc1].view(n, rc1, rc1)
            child_s.append((ln, cs))
            sep_rows, sep_cols = cs[:, ln.a0: ln.a0 + ln.n], cs[:, :, ln.a0: ln.a0 + ln.n]
            if by_runs:
                for c0, c1, q in ln.slot_runs:
                    f1[:, ln.p0: ln.p0 + ln.n, q: q + c1 - c0].add_(sep_rows[:, :, c0:c1])
                for c0, c1, q in ln.ring_runs:
                    f21[:, q: q + c1 - c0, ln.p0: ln.p0 + ln.n].add_(sep_cols[:, c0:c1])
            else:
                f1[:, ln.p0: ln.p0 + ln.n].index_add_(2, ln.slots, sep_rows)
                f21[:, :, ln.p0: ln.p0 + ln.n].index_add_(1, ln.ring_rows, sep_cols)
        if leak is not None:                # GTH: pivot = leak + |off-diagonal row sum|, no cancellation
            diag = f11.diagonal(dim1=1, dim2=2)
            diag.zero_()
            diag.copy_(leak - f1[:, :, : s + r].sum(dim=2))
        tmp = scratch[: n * s * s].view(n, s, s)
        tmp.copy_(f11)
        _inverse(tmp, out=f11)
        tmp = scratch[: n * s * (r + 1)].view(n, s, r + 1)
        torch.bmm(f11, f12, out=tmp)
        torch.neg(tmp, out=f12)                                     # -X = -F11^-1 F12
        f12[:, :, r] = 0.0                                          # clear the trash slots
        f21[:, r, :] = 0.0
        if r:
            first = g.update_at + lo * (r + 1) ** 2
            upd = mine[first: first + n * (r + 1) ** 2]
            torch.bmm(f21, f12, out=upd.view(n, r + 1, r + 1))     # -F21 X
            square = upd.view(n, r + 1, r + 1)
            for ln, cs in child_s:                                  # + F22
                if by_runs:
                    for a0, a1, pa in ln.ring_runs:
                        for b0, b1, pb in ln.ring_runs:
                            square[:, pa: pa + a1 - a0, pb: pb + b1 - b0].add_(cs[:, a0:a1, b0:b1])
                else:
                    flat = (ln.ring_rows[:, None] * (r + 1) + ln.ring_rows[None, :]).view(-1)
                    upd.view(n, -1).index_add_(1, flat, cs.reshape(n, -1))

    def _forward_rows(self, g: Group, lo: int, hi: int, rhs: torch.Tensor, carries: dict,
                      y: torch.Tensor | None, carry: torch.Tensor | None) -> None:
        """Forward substitution of boxes ``lo:hi``: ``y = F11^-1 acc_sep`` and the carry to the parent."""
        self._substitute_rows(g, lo, hi, self._gather_rows(g, lo, hi, rhs, carries), y, carry)

    def _gather_rows(self, g: Group, lo: int, hi: int, rhs: torch.Tensor, carries: dict) -> torch.Tensor:
        """Front right-hand sides ``acc (n, s + r + 1, C)``: ``rhs`` on the separator + children's carries."""
        assert g.sep_idx is not None
        _, s, r = g.sizes
        acc = torch.zeros(hi - lo, s + r + 1, rhs.shape[1], dtype=self.dtype)
        acc[:, :s] = rhs[g.sep_idx[lo:hi]]
        for ln in g.links:
            acc.index_add_(1, ln.slots, carries[ln.key][ln.start + lo: ln.start + hi])
        return acc

    def _substitute_rows(self, g: Group, lo: int, hi: int, acc: torch.Tensor, y: torch.Tensor | None,
                         carry: torch.Tensor | None) -> None:
        """``y = F11^-1 acc_sep`` and the carry ``acc_ring - F21 y`` of boxes ``lo:hi`` (after factoring)."""
        assert y is not None
        s = g.sizes[1]
        ainv, _, f21 = self._views(g, lo, hi)
        torch.bmm(ainv, acc[:, :s], out=y[lo:hi])
        if carry is not None:
            torch.baddbmm(acc[:, s:], f21, y[lo:hi], alpha=-1.0, out=carry[lo:hi])

    def _backward(self, ys: list[list[torch.Tensor]], c: int) -> torch.Tensor:
        """Back substitution from the root: ``x_sep = y - X x_ring``; returns ``(H*W, C)``."""
        x = torch.zeros(self.h * self.w + 1, c, dtype=self.dtype)         # last row: the trash pixel
        lib = library() if self.dtype == torch.float32 else None
        for depth, level in enumerate(self.plan.levels):
            tasks = []
            for g, y in zip(level, ys[depth], strict=True):

                def rows(lo: int, hi: int, g: Group = g, y: torch.Tensor = y) -> None:
                    assert g.sep_idx is not None and g.ring_idx is not None
                    if lib is not None and fused(g, self.keep):
                        _, s, r = g.sizes
                        at, block = self._at[id(g)]
                        stride, first = (s + r + 1, s) if self.keep else (r, 0)     # rows of -X
                        if lib.tinct_backward_boxes(s, r, y.shape[2], c, block, stride, first,
                                                    pointer(self.arena, at), pointer(y),
                                                    pointer(g.sep_idx), pointer(g.ring_idx), pointer(x),
                                                    lo, hi) != 0:
                            raise MemoryError("the back-substitution kernel could not allocate its scratch")
                        return
                    part = y[lo:hi, :, :c]
                    if g.sizes[2]:
                        _, nx, _ = self._views(g, lo, hi)
                        part = torch.baddbmm(part, nx, x[g.ring_idx[lo:hi]])
                    x[g.sep_idx[lo:hi]] = part

                tasks += row_tasks(len(g.origins), rows)
            run(tasks)
        return x[:-1]

    def solve_factored(self, rhs: torch.Tensor) -> torch.Tensor:
        """``A^-1 rhs`` with the stored factors: ``(H*W, C)`` -> ``(H*W, C)`` in the factor dtype.

        Needs the full factors (``keep=True``, the default).
        """
        if not self.keep:
            raise ValueError("this factorization kept only -X (keep=False); factor again with keep=True")
        if not still_holds("arena", self._claim):
            raise RuntimeError("these factors were overwritten by a later factorization (the factor memory "
                               "is shared between solves); factor again")
        rhs = rhs.to(self.dtype)
        levels = self.plan.levels
        vectors = _Vectors(self.plan, rhs.shape[1], self.np_dtype)
        ys: list[list[torch.Tensor]] = [[] for _ in levels]
        carries: dict = {}
        for depth in range(len(levels) - 1, -1, -1):
            next_carries: dict = {}
            tasks = []
            for g in levels[depth]:
                b = len(g.origins)
                y, carry = vectors.take(g)
                ys[depth].append(y)
                next_carries[g.key] = carry
                tasks += row_tasks(b, lambda lo, hi, g=g, y=y, carry=carry, carries=carries:
                                    self._forward_rows(g, lo, hi, rhs, carries, y, carry))
            run(tasks)
            carries = next_carries
        return self._backward(ys, rhs.shape[1])


class _Vectors:
    """The forward pass's per-group ``y (B, s, C)`` and carries ``(B, r + 1, C)``, carved from one
    kept workspace (fresh pages cost a fault each: ~50 MB per solve at 1 MP)."""

    def __init__(self, plan: Plan, columns: int, dtype: type):
        total = sum(len(g.origins) * (g.sizes[1] + g.sizes[2] + 1) for level in plan.levels for g in level)
        self.buf = workspace("vectors", total * columns, dtype)
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


FUSED_MAX_SEPARATOR = 511
"""Fronts with separators of at most this many pixels run in the fused C kernel when it is
available (:mod:`tinct.methods.levin.kernel`), except a big root: a lone front is one task, which
the kernel runs on one thread, while torch's BLAS uses all of them (measured at 1 MP: the kernel
is 1.3-2.5x faster than the batched torch ops at every depth below the root)."""

FUSED_MAX_ROOT = 127
"""A root front (no ring) runs in the kernel only up to this many separator pixels."""


def fused(g: Group, keep: bool = True) -> bool:
    """Whether the fused kernel factors this group (see :data:`FUSED_MAX_SEPARATOR`).

    Without ``keep`` (no inverse wanted) the kernel also takes any root: its elimination then
    costs about half of the torch path's explicit inverse, even on one thread.
    """
    _, s, r = g.sizes
    return s <= (FUSED_MAX_SEPARATOR if r else FUSED_MAX_ROOT) or (not r and not keep)


def leaks(system: LevinSystem) -> np.ndarray:
    """Row sums of ``A = I - W`` (float64 ``(H*W,)``): 1 on scribbled and isolated pixels, else 0.

    Exact zeros for free rows (their weights sum to 1 up to rounding; the true leak is 0).
    """
    h, w = system.shape
    if h * w == 1:
        return np.ones(1)                     # the only pixel of a 1x1 image has no neighbours
    return system.scribbled.reshape(-1).astype(np.float64)   # free rows of W sum to 1


def _inverse(a: torch.Tensor, base: int = 16, out: torch.Tensor | None = None) -> torch.Tensor:
    """Batched inverse ``(B, n, n)`` by 2x2 block recursion (all ``bmm``), no pivoting.

    Valid for our fronts: every leading block of a nonsingular M-matrix is a nonsingular
    M-matrix. Small blocks go to LAPACK (single-threaded); above ``base`` the recursion runs
    2-4x faster than ``torch.linalg.inv`` because batched LAPACK calls on mid-size matrices are
    slow.
    """
    n = a.shape[-1]
    if n <= base:
        # LAPACK on one thread: batched torch.linalg.inv with 2 threads is 5-25x slower here and
        # can return corrupt pivots (seen with torch 2.13 + oneMKL on this machine).
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            return torch.linalg.inv(a, out=out) if out is not None else torch.linalg.inv(a)
        finally:
            torch.set_num_threads(threads)
    h = n // 2
    a11, a12, a21, a22 = a[:, :h, :h], a[:, :h, h:], a[:, h:, :h], a[:, h:, h:]
    i11 = _inverse(a11, base)
    i11a12 = torch.bmm(i11, a12)
    schur_inv = _inverse(torch.baddbmm(a22, a21, i11a12, alpha=-1.0), base)
    a21i11 = torch.bmm(a21, i11)
    if out is None:
        out = torch.empty_like(a)
    out[:, h:, h:] = schur_inv
    out[:, :h, h:] = -torch.bmm(i11a12, schur_inv)
    out[:, h:, :h] = -torch.bmm(schur_inv, a21i11)
    out[:, :h, :h] = torch.baddbmm(i11, i11a12, torch.bmm(schur_inv, a21i11))
    return out


def apply_matrix(system: LevinSystem, x: np.ndarray) -> np.ndarray:
    """``A x`` in float64 from the stencil form. ``x``: ``(H*W, C)`` -> ``(H*W, C)``."""
    return -residual(system, np.zeros_like(x), x)


def residual(system: LevinSystem, b: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``b - A x`` in float64 from the stencil form, row bands in parallel threads.

    The diagonal of a free row is taken as the sum of its float64 weights (1 up to rounding, as
    the paper normalises them), i.e. ``A`` has exact zero row sums off the scribbles, like the
    GTH factorization: on chains of very weak links (condition ~1e15) a rounding of 1e-16 in the
    diagonal moves the solution by O(1) (``test_kernel_is_accurate_where_float64_elimination_is_not``).

    Args:
        b, x: float64 ``(H*W, C)``.

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

    run(row_tasks(h, rows))
    return out.view(h * w, -1).numpy()


_SOLVING = threading.Lock()
"""Serializes :func:`solve` across threads: the factor memory is shared (see
:func:`~tinct.methods.levin.runtime.workspace`). Direct users of :class:`MultifrontalLU` must not
factor in two threads at once."""

ROUNDOFF_RESIDUAL = 1e-14
"""A residual ``max |b - A x|`` at most this (times ``max(1, max |b|)``) is at float64 roundoff for
these matrices (row sums of 1, 9 entries): refinement cannot reduce it further."""

FAST_RESIDUAL_LIMIT = 1e-4
"""Without refinement, a first solve whose float64 residual ``max |b - A x|`` exceeds this (times
``max(1, max |b|)``; typically it is ~1e-6) or is not finite is refined anyway."""


def solve(system: LevinSystem, rhs: np.ndarray, *, refine: bool = True, tol: float = 1e-6,
          max_refine: int = 6, leaf: int = LEAF_PIXELS) -> np.ndarray | None:
    """Solve ``A x = rhs``: float32 multifrontal LU with GTH pivots, optionally refined to float64 accuracy.

    The factorization uses **GTH pivots** (Grassmann-Taksar-Heyman): a pivot is set to the row's
    leak (its row sum in the current Schur complement, carried through the elimination like a
    right-hand side, see :func:`leaks`) plus the magnitude of its off-diagonal sum, instead of
    the cancellation-prone ``1 - sum of updates``. The compiled kernel does this at every
    elimination step, the torch fallback once per front. This keeps the float32 solution within
    ~2e-5 (torch fallback: ~2e-4) of the exact one on real photos even where weak links (hard
    edges) make ``A`` ill-conditioned (``docs/results/levin_accuracy.md``), so by default one
    solve is the answer, made with ``keep=False`` (only ``-X`` stored).

    ``refine=True`` adds iterative refinement: each step computes the float64 residual
    ``r = b - A x`` and corrects ``x`` by one solve with the float32 factors. The contraction
    ``rho`` of a step is estimated from the residuals before and after it, and the refinement
    stops once the error estimate ``rho / (1 - rho) * |last correction|`` is at most ``tol``
    (typically after one step). If it does not contract, the matrix is too ill-conditioned for
    float64 residuals; when the kernel made every pivot a GTH pivot, the first solve is returned
    (componentwise accurate where ordinary float64 elimination is not), otherwise ``None``.

    Args:
        system: Levin's system on an ``H x W`` grid.
        rhs: float ``(H*W, C)``.
        refine: refine to ``tol``; otherwise only a first solve with a residual that is not
            small (:data:`FAST_RESIDUAL_LIMIT`) is refined.
        tol: target max abs error of the refined solution (estimated).

    Returns:
        float64 ``(H*W, C)``, or ``None`` if a needed refinement did not converge (a matrix too
        ill-conditioned for float32 factors); the caller then uses an exact float64 solver.
    """
    b = np.asarray(rhs, dtype=np.float64)
    if not b.size:
        return b.copy()
    with _SOLVING:                # the kept workspaces serve one solve at a time (it uses every core)
        collecting = gc.isenabled()
        gc.disable()         # thousands of short-lived objects per solve: no collector passes meanwhile
        try:
            return _solve(system, b, refine, tol, max_refine, leaf)
        finally:
            if collecting:
                gc.enable()


def _solve(system: LevinSystem, b: np.ndarray, refine: bool, tol: float, max_refine: int,
           leaf: int) -> np.ndarray | None:
    lu = MultifrontalLU(system, leaf=leaf, rhs=torch.from_numpy(b), gth=True, keep=refine)
    assert lu.solution is not None
    x = lu.solution.double().numpy()
    res = residual(system, b, x)
    if not refine:
        worst = float(np.abs(res).max())
        if np.isfinite(worst) and worst <= FAST_RESIDUAL_LIMIT * max(1.0, float(np.abs(b).max())):
            return x
        if not lu.keep:                                  # refinement needs the full factors
            lu = MultifrontalLU(system, leaf=leaf, rhs=torch.from_numpy(b), gth=True)
            assert lu.solution is not None
            x = lu.solution.double().numpy()
            res = residual(system, b, x)
    floor = ROUNDOFF_RESIDUAL * max(1.0, float(np.abs(b).max()))
    first = x.copy()
    for _ in range(max_refine):
        dx = lu.solve_factored(torch.from_numpy(res)).double().numpy()
        new_x = x + dx
        new_res = residual(system, b, new_x)
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
