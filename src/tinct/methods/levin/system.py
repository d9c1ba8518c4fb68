"""The linear system of Levin, Lischinski & Weiss 2004, built vectorized.

For every pixel r without a scribble the paper asks ``U(r) - sum_s w_rs U(s) = 0`` (eq. 1) over
the 8 neighbours s of its 3x3 window, with affinities from the gray image (eq. 2)

    w_rs ∝ exp(-(Y(r) - Y(s))^2 / (2 sigma_r^2)),   sum_s w_rs = 1,

and every scribbled pixel is pinned to its scribble's chroma. The constants follow the authors'
reference code (``getColorExact.m``): ``2 sigma_r^2 = 0.6 var_r`` with ``var_r`` the variance of
the (in-image part of the) 3x3 window, raised so that the closest neighbour keeps a weight of at
least ``0.01`` before normalisation, and never below ``2e-6``. U and V share the matrix.

The system is kept as 8 weight planes ``(8, H, W)`` (one per neighbour direction): the fast
solver works on this stencil form directly and :func:`to_csr` turns it into a CSR matrix with
9 slots per row without any sorting.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

if TYPE_CHECKING:
    from tinct.methods.levin.runtime import TaskPool

OFFSETS: tuple[tuple[int, int], ...] = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))
"""Neighbour directions (dy, dx) of the 3x3 window, in the order of the weight planes."""

_MIN_SIGMA = 2e-6          # floor of 2 sigma^2 in the reference code
_MIN_WEIGHT = 0.01         # the closest neighbour keeps at least this (unnormalised) weight
_VAR_SCALE = 0.6           # 2 sigma^2 = 0.6 * window variance


@dataclass(frozen=True)
class LevinSystem:
    """Levin's system ``A x = b`` in stencil form.

    Attributes:
        weights: float64 ``(8, H, W)``; ``weights[k, y, x]`` = w between (y, x) and its
            neighbour ``(y, x) + OFFSETS[k]``; rows sum to 1 for free pixels, 0 outside the
            image and on scribbled pixels.
        scribbled: bool ``(H, W)``; pinned pixels (identity rows).
        affinity_sum: float64 ``(H, W)``; the sum of the unnormalised affinities of each pixel
            (in (0.01, 8]); scaling row r by it gives a nearly symmetric matrix with the same
            solution, which the multigrid hierarchy uses.
    """

    weights: np.ndarray
    scribbled: np.ndarray
    affinity_sum: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return self.scribbled.shape  # type: ignore[return-value]

    def rhs(self, values: np.ndarray) -> np.ndarray:
        """Right-hand side: ``values`` (H, W, C) on scribbled pixels, 0 elsewhere -> (H*W, C)."""
        h, w = self.shape
        b = np.where(self.scribbled[..., None], values, 0.0)
        return b.reshape(h * w, -1).astype(np.float64)


def shifted(image: np.ndarray, dy: int, dx: int, fill: float = 0.0) -> np.ndarray:
    """``out[y, x] = image[y + dy, x + dx]`` (``fill`` outside the image), for the last 2 axes."""
    out = np.full_like(image, fill)
    h, w = image.shape[-2:]
    ys, yd = (slice(dy, h), slice(0, h - dy)) if dy >= 0 else (slice(0, h + dy), slice(-dy, h))
    xs, xd = (slice(dx, w), slice(0, w - dx)) if dx >= 0 else (slice(0, w + dx), slice(-dx, w))
    out[..., yd, xd] = image[..., ys, xs]
    return out


def neighbour_valid(shape: tuple[int, int]) -> np.ndarray:
    """bool ``(8, H, W)``: whether neighbour k of each pixel is inside the image."""
    ones = np.ones(shape, dtype=bool)
    return np.stack([shifted(ones, dy, dx, fill=False) for dy, dx in OFFSETS])


def _weights_masked(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eq. 2 for every pixel of a (small) image, with explicit in-image masks (borders)."""
    valid = neighbour_valid(g.shape)
    neigh = np.stack([shifted(g, dy, dx) for dy, dx in OFFSETS])          # (8, h, w), 0 outside
    count = valid.sum(axis=0) + 1.0
    mean = (neigh.sum(axis=0) + g) / count
    var = (np.where(valid, (neigh - mean) ** 2, 0.0).sum(axis=0) + (g - mean) ** 2) / count
    dist = (neigh - g) ** 2
    closest = np.where(valid, dist, np.inf).min(axis=0)
    csig = np.maximum(np.maximum(_VAR_SCALE * var, closest / -np.log(_MIN_WEIGHT)), _MIN_SIGMA)
    wts = np.exp(-dist / csig) * valid
    total = wts.sum(axis=0)
    # a pixel with no neighbour (a 1x1 image) has no weights at all
    return np.divide(wts, total, out=np.zeros_like(wts), where=total > 0), total


def _weights_interior(g: np.ndarray, pool: TaskPool) -> tuple[np.ndarray, np.ndarray]:
    """Eq. 2 assuming all 8 neighbours exist (correct away from the border), by row bands in threads."""
    h, w = g.shape
    gp = np.pad(g, 1, mode="edge")
    weights = np.empty((8, h, w))
    total = np.empty((h, w))
    pool.run(pool.row_tasks(h, lambda lo, hi: _weights_band(gp, lo, hi, weights[:, lo:hi], total[lo:hi])))
    return weights, total


def _weights_band(gp: np.ndarray, lo: int, hi: int, dist: np.ndarray, total: np.ndarray) -> None:
    """Rows ``lo:hi`` of :func:`_weights_interior` from the edge-padded image ``gp``, in place."""
    w = gp.shape[1] - 2
    g = gp[1 + lo: 1 + hi, 1: 1 + w]
    views = [gp[1 + dy + lo: 1 + dy + hi, 1 + dx: 1 + dx + w] for dy, dx in OFFSETS]
    acc = g.copy()
    sq = g * g
    for v in views:
        acc += v
        sq += v * v
    mean = acc / 9.0
    var = np.maximum(sq / 9.0 - mean * mean, 0.0)
    for k, v in enumerate(views):
        np.subtract(v, g, out=dist[k])
    np.square(dist, out=dist)
    csig = np.maximum(np.maximum(_VAR_SCALE * var, dist.min(axis=0) / -np.log(_MIN_WEIGHT)), _MIN_SIGMA)
    np.divide(dist, -csig, out=dist)
    np.exp(dist, out=dist)
    dist.sum(axis=0, out=total)
    dist /= total


def build_system(gray: np.ndarray, scribbled: np.ndarray, pool: TaskPool | None = None) -> LevinSystem:
    """Affinity weights of eq. 2 for every pixel, vectorized.

    The interior is computed from shifted views of an edge-padded copy; the one-pixel border
    (where windows are cut by the image edge) is recomputed exactly on thin strips.

    Args:
        gray: float ``(H, W)`` luma in [0, 1] (any float dtype; computed in float64).
        scribbled: bool ``(H, W)``; pixels whose chroma is given.
        pool: the threads for the row bands (a solver's ``pool``; ``None``: the default solver's).

    Returns:
        :class:`LevinSystem`.
    """
    g = np.asarray(gray, dtype=np.float64)
    scribbled = np.asarray(scribbled, dtype=bool)
    h, w = g.shape
    if h < 3 or w < 3:
        wts, total = _weights_masked(g)
    else:
        if pool is None:
            from tinct.methods.levin.solver import default_solver  # the solver module imports this one

            pool = default_solver().pool
        wts, total = _weights_interior(g, pool)
        # border strips: a 2-pixel-thick strip gives its outer pixels' windows exactly
        for (y0, y1), (x0, x1), (ty, tx) in (
            ((0, 2), (0, w), (0, None)), ((h - 2, h), (0, w), (1, None)),
            ((0, h), (0, 2), (None, 0)), ((0, h), (w - 2, w), (None, 1)),
        ):
            bw, bt = _weights_masked(g[y0:y1, x0:x1])
            ys = slice(None) if ty is None else slice(y0 + ty, y0 + ty + 1)
            xs = slice(None) if tx is None else slice(x0 + tx, x0 + tx + 1)
            bys = slice(None) if ty is None else slice(ty, ty + 1)
            bxs = slice(None) if tx is None else slice(tx, tx + 1)
            wts[:, ys, xs] = bw[:, bys, bxs]
            total[ys, xs] = bt[bys, bxs]
    wts[:, scribbled] = 0.0
    return LevinSystem(weights=wts, scribbled=scribbled, affinity_sum=total)


def stencil_columns(h: int, w: int) -> np.ndarray:
    """int32 ``(H*W, 9)`` column indices of the 3x3 stencil, row-major (dy, dx) from (-1, -1).

    A neighbour outside the image points at the mirrored neighbour instead (its value will be an
    explicit 0), never at the pixel itself: Gauss-Seidel kernels take the last entry whose column
    is the row as the diagonal, so a zero there would stall the sweep. Needs ``h, w >= 2``.
    """
    y, x = np.mgrid[0:h, 0:w]
    cols = np.empty((h * w, 9), dtype=np.int32)
    for s, (dy, dx) in enumerate((dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1)):
        ny = np.where((y + dy >= 0) & (y + dy < h), y + dy, y - dy)
        nx = np.where((x + dx >= 0) & (x + dx < w), x + dx, x - dx)
        cols[:, s] = (ny * w + nx).ravel()
    return cols


def stencil_csr(data: np.ndarray, h: int, w: int) -> sp.csr_matrix:
    """CSR matrix from 9-point stencil values ``data`` ``(H*W, 9)`` (0 for outside neighbours)."""
    n = h * w
    indptr = np.arange(0, 9 * n + 1, 9, dtype=np.int32)
    return sp.csr_matrix((data.ravel(), stencil_columns(h, w).ravel(), indptr), shape=(n, n))


def to_csr(system: LevinSystem) -> sp.csr_matrix:
    """``A = I - W`` as CSR with exactly 9 slots per row (explicit zeros at the border), no sorting."""
    h, w = system.shape
    data = np.empty((h * w, 9), dtype=np.float64)
    slot = [0, 1, 2, 3, 5, 6, 7, 8]                                     # centre is slot 4
    for k in range(8):
        data[:, slot[k]] = -system.weights[k].ravel()
    data[:, 4] = 1.0
    return stencil_csr(data, h, w)


def build_csr_reference(gray: np.ndarray, scribbled: np.ndarray) -> sp.csr_matrix:
    """The straightforward build of the same matrix: COO triplets of in-image entries, then CSR.

    Used as the baseline in ``benchmarks/levin_speed.py`` and by the tests as an oracle.
    """
    system = build_system(gray, scribbled)
    h, w = system.shape
    n = h * w
    idx = np.arange(n).reshape(h, w)
    valid = neighbour_valid((h, w))
    rows, cols, vals = [idx.ravel()], [idx.ravel()], [np.ones(n)]
    for k, (dy, dx) in enumerate(OFFSETS):
        keep = valid[k] & ~system.scribbled
        rows.append(idx[keep])
        cols.append(idx[keep] + dy * w + dx)
        vals.append(-system.weights[k][keep])
    return sp.coo_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                         shape=(n, n)).tocsr()
