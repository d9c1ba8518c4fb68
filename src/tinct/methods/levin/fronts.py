"""Group execution of the multifrontal LU: what one task does to boxes ``lo:hi`` of one group.

A group (boxes of one depth sharing a front layout, :class:`~tinct.methods.levin.nd_plan.Group`)
runs either in the **compiled front kernel** (:func:`kernel_rows`: ``_fronts.c`` via
:mod:`~tinct.methods.levin.kernel`, box after box in cache, Gauss-Jordan with a GTH pivot at
every step; :func:`fused` says for which groups) or as **batched torch ops** (:func:`factor_rows`,
then :func:`gather_rows` / :func:`substitute_rows` for the forward substitution: one batched
``inv`` / ``bmm`` / extend-add per step; the fallback when the kernel is not built). Both write
the layout of :class:`~tinct.methods.levin.multifrontal.MultifrontalLU`: per box
``[F1 = [F11^-1 | -X | 0] (s rows) | F21 (r + 1 rows)]``, or only ``-X`` without ``keep``.
:func:`backward_rows` is the back substitution of either.
"""

from __future__ import annotations

import ctypes
from typing import TYPE_CHECKING

import torch

from tinct.methods.levin.kernel import GroupArgs, LinkArgs, pointer
from tinct.methods.levin.nd_plan import Group
from tinct.methods.levin.runtime import single_threaded

if TYPE_CHECKING:
    from tinct.methods.levin.multifrontal import MultifrontalLU

RUNS_MIN_RING = 24
"""Fronts with at least this many ring slots take their children's Schur complements as block
additions of contiguous runs (2x faster than a scatter there); smaller ones by ``index_add_``,
whose per-element scatter beats many tiny block additions."""

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


def kernel_rows(lu: MultifrontalLU, g: Group, lo: int, hi: int, weights: torch.Tensor, below: torch.Tensor,
                children: dict, mine: torch.Tensor, rhs: torch.Tensor, carries: dict,
                y: torch.Tensor | None, carry: torch.Tensor | None) -> None:
    """Boxes ``lo:hi`` of one group by the fused C kernel: factor + forward substitution."""
    assert g.tpl is not None and g.base is not None and lu.kernel is not None
    _, s, r = g.sizes
    at, block = lu.offsets[id(g)]
    args = GroupArgs(s=s, r=r, C=rhs.shape[1], block=block, n_entries=g.tpl.entry_pos.size,
                     n_links=len(g.links), gth=int(lu.gth), weights=pointer(weights),
                     base=pointer(g.base), entry_src=pointer(g.tpl.entry_src_t),
                     entry_pos=pointer(g.tpl.entry_pos_t), blocks=pointer(lu.arena, at),
                     compact=int(not lu.keep),
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
    if lu.kernel.tinct_factor_boxes(ctypes.byref(args), lo, hi) != 0:
        raise MemoryError("the front kernel could not allocate its scratch")


def factor_rows(lu: MultifrontalLU, g: Group, lo: int, hi: int, weights: torch.Tensor, below: torch.Tensor,
                children: dict, mine: torch.Tensor, scratch: torch.Tensor,
                leak: torch.Tensor | None = None) -> None:
    """Assemble and factor boxes ``lo:hi`` of one group; their Schur complements go to ``mine``."""
    _, s, r = g.sizes
    n = hi - lo
    assert g.tpl is not None and g.src_idx is not None      # made by entry_index() before the tasks
    blk = lu.block(g)[lo:hi]
    blk.zero_()
    entries = torch.index_select(weights, 0, g.src_idx[lo:hi].reshape(-1)).view(n, -1)
    blk.index_copy_(1, g.tpl.entry_pos_t, entries)
    f11, f12, f21 = lu.views(g, lo, hi)
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


def forward_rows(lu: MultifrontalLU, g: Group, lo: int, hi: int, rhs: torch.Tensor, carries: dict,
                 y: torch.Tensor | None, carry: torch.Tensor | None) -> None:
    """Forward substitution of boxes ``lo:hi``: ``y = F11^-1 acc_sep`` and the carry to the parent."""
    substitute_rows(lu, g, lo, hi, gather_rows(lu, g, lo, hi, rhs, carries), y, carry)


def gather_rows(lu: MultifrontalLU, g: Group, lo: int, hi: int, rhs: torch.Tensor,
                carries: dict) -> torch.Tensor:
    """Front right-hand sides ``acc (n, s + r + 1, C)``: ``rhs`` on the separator + children's carries."""
    assert g.sep_idx is not None
    _, s, r = g.sizes
    acc = torch.zeros(hi - lo, s + r + 1, rhs.shape[1], dtype=lu.dtype)
    acc[:, :s] = rhs[g.sep_idx[lo:hi]]
    for ln in g.links:
        acc.index_add_(1, ln.slots, carries[ln.key][ln.start + lo: ln.start + hi])
    return acc


def substitute_rows(lu: MultifrontalLU, g: Group, lo: int, hi: int, acc: torch.Tensor,
                    y: torch.Tensor | None, carry: torch.Tensor | None) -> None:
    """``y = F11^-1 acc_sep`` and the carry ``acc_ring - F21 y`` of boxes ``lo:hi`` (after factoring)."""
    assert y is not None
    s = g.sizes[1]
    ainv, _, f21 = lu.views(g, lo, hi)
    torch.bmm(ainv, acc[:, :s], out=y[lo:hi])
    if carry is not None:
        torch.baddbmm(acc[:, s:], f21, y[lo:hi], alpha=-1.0, out=carry[lo:hi])



def backward_rows(lu: MultifrontalLU, g: Group, lo: int, hi: int, y: torch.Tensor, x: torch.Tensor,
                  kernel: ctypes.CDLL | None) -> None:
    """Back substitution of boxes ``lo:hi``: ``x_sep = y - X x_ring`` into ``x (H*W + 1, C)``.

    ``y``: the group's ``(B, s, C')`` forward vectors (``C' >= C``: a GTH leak column is skipped);
    ``kernel``: the compiled library for fused groups (``None``: torch ops).
    """
    assert g.sep_idx is not None and g.ring_idx is not None
    c = x.shape[1]
    if kernel is not None and fused(g, lu.keep):
        _, s, r = g.sizes
        at, block = lu.offsets[id(g)]
        stride, first = (s + r + 1, s) if lu.keep else (r, 0)     # rows of -X
        if kernel.tinct_backward_boxes(s, r, y.shape[2], c, block, stride, first, pointer(lu.arena, at),
                                       pointer(y), pointer(g.sep_idx), pointer(g.ring_idx), pointer(x),
                                       lo, hi) != 0:
            raise MemoryError("the back-substitution kernel could not allocate its scratch")
        return
    part = y[lo:hi, :, :c]
    if g.sizes[2]:
        _, nx, _ = lu.views(g, lo, hi)
        part = torch.baddbmm(part, nx, x[g.ring_idx[lo:hi]])
    x[g.sep_idx[lo:hi]] = part


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
        # can return corrupt pivots (seen with torch 2.13 + oneMKL on this machine). Only this
        # thread's setting changes (pool workers are single-threaded already).
        with single_threaded():
            return torch.linalg.inv(a, out=out) if out is not None else torch.linalg.inv(a)
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
