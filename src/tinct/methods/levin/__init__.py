"""Levin, Lischinski & Weiss 2004, *Colorization using Optimization*: scribbles -> colour.

Neighbouring pixels with similar luma get similar chroma: U and V minimise
``sum_r (U(r) - sum_s w_rs U(s))^2`` with the scribbles as constraints, i.e. the sparse
system of :mod:`~tinct.methods.levin.system`, solved directly by a
:class:`~tinct.methods.levin.solver.LevinSolver` (a batched multifrontal LU on a nested
dissection of the grid whose fronts run in a compiled kernel, float32 with GTH pivots,
``refine=True`` adds float64 refinement; one factorization for U and V; accuracy and speed: see
the accuracy/speed table in docs/methods/levin.md). The solver keeps its memory between solves
until its ``release()``; :func:`levin_chroma` takes one (``solver=``) or uses the default one.
Colour space YUV as in the paper; the result's luma is the input gray exactly (chroma scaled
into the RGB cube where needed). No scribbles at all gives the gray image.

Large images: the exact solve's time and memory grow a little faster than the pixel count
(see the accuracy/speed table in docs/methods/levin.md), so above ``max_pixels`` (default
2.1 MP: full HD, 1920 x 1080, is solved exactly) the chroma is solved on a box-downsampled
grid (gray averaged, scribbles kept if any pixel of a block is scribbled, their chroma
averaged) and upsampled bilinearly; the luma stays full resolution. This is a deviation from
the paper, only for large inputs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tinct.color import compose_luma_chroma, rgb_to_uv
from tinct.methods.levin.solver import LevinSolver, default_solver
from tinct.methods.levin.system import build_system
from tinct.nn.tiling import strips
from tinct.options import OptionError, option
from tinct.registry import Colorizer, Inputs, register

MAX_PIXELS = 2_100_000
STRIP_ROWS = 256
"""Rows per strip of the downsampled path's block means and of its upsampling + composition."""


def _block_mean(img: np.ndarray, k: int) -> np.ndarray:
    """Mean over k x k blocks (the last partial blocks included), (H, W, ...) -> (ceil(H/k), ...)."""
    h, w = img.shape[:2]
    hp, wp = math.ceil(h / k) * k, math.ceil(w / k) * k
    pad = [(0, hp - h), (0, wp - w)] + [(0, 0)] * (img.ndim - 2)
    ones = np.pad(np.ones((h, w)), pad[:2])
    s = np.pad(img.astype(np.float64), pad).reshape(hp // k, k, wp // k, k, *img.shape[2:]).sum(axis=(1, 3))
    n = ones.reshape(hp // k, k, wp // k, k).sum(axis=(1, 3))
    return s / n.reshape(n.shape + (1,) * (img.ndim - 2))


def coarse_solve(gray: np.ndarray, mask: np.ndarray, uv_rows: Callable[[slice], np.ndarray], k: int, *,
                 refine: bool = False, solver: LevinSolver | None = None) -> np.ndarray:
    """The chroma solved on the ``k x k`` block grid (see the module docstring): gray averaged,
    a block scribbled if any of its pixels is, its chroma the mean of its scribbled pixels'. Built
    in strips of whole block rows, so no full-size array is made.

    Args:
        gray: float ``(H, W)`` luma; mask: bool ``(H, W)`` scribbled pixels.
        uv_rows: ``uv_rows(rows)`` -> float ``(len(rows), W, 2)`` YUV chroma of those rows (used where
            ``mask``).
        k: block side (>= 1).

    Returns:
        float64 ``(ceil(H / k), ceil(W / k), 2)`` chroma on the block grid.
    """
    solver = solver if solver is not None else default_solver()
    h, w = gray.shape
    hs, ws = math.ceil(h / k), math.ceil(w / k)
    small_gray, hits, mean_uv = np.empty((hs, ws)), np.empty((hs, ws)), np.empty((hs, ws, 2))
    for s in strips(hs, max(1, STRIP_ROWS // k)):
        rows = slice(s.top * k, min(h, s.bottom * k))
        m = mask[rows]
        small_gray[s.rows] = _block_mean(gray[rows], k)
        hits[s.rows] = _block_mean(m.astype(np.float64), k)
        mean_uv[s.rows] = _block_mean(np.where(m[..., None], uv_rows(rows), 0.0), k)
    mean_uv /= np.maximum(hits, 1e-12)[..., None]
    return solver.solve(build_system(small_gray, hits > 0, solver.pool), mean_uv, refine=refine)


def upsample_rows(small: np.ndarray, size: tuple[int, int], rows: slice) -> np.ndarray:
    """Rows ``rows`` of ``small`` ``(h, w, C)`` resized bilinearly to ``size`` = (H, W) (pixel centres
    aligned, edges replicated: ``cv2.resize``'s INTER_LINEAR), computed from the source rows they
    need only: float32 ``(len(rows), W, C)``."""
    (h, w), (big_h, big_w) = small.shape[:2], size

    def taps(n_out: int, n_in: int, index: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = np.clip((index + 0.5) * (n_in / n_out) - 0.5, 0, n_in - 1)
        lo = np.floor(pos).astype(np.intp)
        return lo, np.minimum(lo + 1, n_in - 1), (pos - lo).astype(np.float32)

    y0, y1, wy = taps(big_h, h, np.arange(rows.start, rows.stop))
    x0, x1, wx = taps(big_w, w, np.arange(big_w))
    src = small.astype(np.float32, copy=False)
    wx = wx[None, :, None]

    def row_mix(y: np.ndarray) -> np.ndarray:
        return src[y][:, x0] * (1 - wx) + src[y][:, x1] * wx

    wy = wy[:, None, None]
    return row_mix(y0) * (1 - wy) + row_mix(y1) * wy


def levin_chroma(gray: np.ndarray, mask: np.ndarray, uv: np.ndarray, *,
                 max_pixels: int = MAX_PIXELS, refine: bool = False,
                 solver: LevinSolver | None = None) -> np.ndarray:
    """Propagate scribble chroma over the image.

    Args:
        gray: float ``(H, W)`` luma in [0, 1].
        mask: bool ``(H, W)``; scribbled pixels.
        uv: float ``(H, W, 2)`` YUV chroma, used where ``mask``.
        max_pixels: above this, solve on a downsampled grid (see the module docstring).
        refine: refine the float32 solve in float64 (see the accuracy/speed table in
            docs/methods/levin.md).
        solver: the :class:`~tinct.methods.levin.solver.LevinSolver` to solve with (it keeps
            its memory until its ``release()``); ``None``: the module's default solver.

    Returns:
        float64 ``(H, W, 2)`` chroma; equals ``uv`` on scribbled pixels when solved at full size.
    """
    solver = solver if solver is not None else default_solver()
    h, w = gray.shape
    if h * w <= max_pixels:
        return solver.solve(build_system(gray, mask, solver.pool), uv, refine=refine)
    small = coarse_solve(gray, mask, lambda rows: uv[rows], block_size(h, w, max_pixels), refine=refine,
                         solver=solver)
    return upsample_rows(small, (h, w), slice(0, h)).astype(np.float64)


def block_size(h: int, w: int, max_pixels: int) -> int:
    """The block side ``k`` of the downsampled grid of an ``h x w`` image (1: solved at full size)."""
    return max(1, math.ceil(math.sqrt(h * w / max_pixels)))


@dataclass(frozen=True)
class LevinOptions:
    """Options of :class:`LevinColorizer`."""

    max_pixels: int = option(MAX_PIXELS, "largest image solved at full resolution; larger ones are solved "
                             "on a downsampled grid (see docs/methods/levin.md)")
    refine: bool = option(False, "refine the float32 solve in float64 (accuracy table in "
                                 "docs/methods/levin.md)")

    def __post_init__(self) -> None:
        if self.max_pixels < 64:
            raise OptionError(f"levin: max_pixels must be at least 64, got {self.max_pixels}")


@register(summary="scribble colorization by optimization, fast direct sparse solve (Levin et al. 2004)",
          paper="Levin, Lischinski & Weiss, Colorization using Optimization, SIGGRAPH 2004",
          options=LevinOptions)
class LevinColorizer(Colorizer):
    """Gray + colour scribbles (:class:`~tinct.hints.Hints`) -> RGB; keeps the luma exactly."""

    name = "levin"
    needs = frozenset({"hints"})

    def __init__(self, options: LevinOptions | None = None, /, **values: object) -> None:
        super().__init__(options, **values)
        self.solver = LevinSolver()  # its own plan cache, kept memory and threads (none until a solve)

    def release(self) -> None:
        """Free the solver's kept memory, plans and threads (the next solve rebuilds them)."""
        self.solver.release()

    def _colorize(self, image: np.ndarray, inputs: Inputs) -> np.ndarray:
        hints = inputs.hints
        assert hints is not None
        mask = np.asarray(hints.mask, dtype=bool)
        if not mask.any():
            return compose_luma_chroma(image, np.broadcast_to(np.zeros(2), (*image.shape, 2)))
        h, w = image.shape
        o = self.options
        k = block_size(h, w, o.max_pixels)
        if k == 1:
            uv = rgb_to_uv(np.asarray(hints.color, dtype=np.float64))
            chroma = levin_chroma(image, mask, uv, max_pixels=o.max_pixels, refine=o.refine,
                                  solver=self.solver)
            return compose_luma_chroma(image, chroma)
        # large: the coarse solve and the upsampling + composition in row strips (bounded memory)
        def uv_rows(rows: slice) -> np.ndarray:
            return rgb_to_uv(np.asarray(hints.color[rows], np.float64))

        small = coarse_solve(image, mask, uv_rows, k, refine=o.refine, solver=self.solver)
        out = np.empty((h, w, 3), np.float32)
        for s in strips(h, STRIP_ROWS):
            out[s.rows] = compose_luma_chroma(image[s.rows], upsample_rows(small, (h, w), s.rows))
        return out
